package org.shm4j.core;

import java.io.Serial;

/**
 * A heap block exists under the name asked for, but with another type tag, layout version or size.
 */
public class ShmTypeMismatchException extends ShmException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the region or block
     */
    public ShmTypeMismatchException(String message) {
        super(message);
    }
}
