package org.shm4j.core;

import java.io.Serial;

/**
 * A region or heap block of that name does not exist.
 */
public class ShmNotFoundException extends ShmException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the region or block
     */
    public ShmNotFoundException(String message) {
        super(message);
    }
}
