package org.shm4j.core;

import java.io.Serial;

/**
 * A heap has no room left: its catalog has no free entry, or its data area cannot fit the block.
 */
public class ShmFullException extends ShmException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the region or block
     */
    public ShmFullException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, naming the region, block or structure
     * @param cause   the refusal this one explains (the heap's own, for a structure that could not grow)
     */
    public ShmFullException(String message, Throwable cause) {
        super(message, cause);
    }
}
