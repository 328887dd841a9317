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
}
