package org.shm4j.core;

import java.io.Serial;

/**
 * A region or heap block could not be created because one of that name already exists.
 */
public class ShmAlreadyExistsException extends ShmException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the region or block
     */
    public ShmAlreadyExistsException(String message) {
        super(message);
    }
}
