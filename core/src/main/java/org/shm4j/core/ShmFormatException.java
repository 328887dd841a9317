package org.shm4j.core;

import java.io.Serial;

/**
 * The bytes of a region are not a valid shm4j structure: wrong magic, unknown layout version,
 * bad checksum, size or offset out of range, truncated or corrupted header or catalog.
 */
public class ShmFormatException extends ShmException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the region or block
     */
    public ShmFormatException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, naming the region or block
     * @param cause   what found it, e.g. a codec's own exception
     */
    public ShmFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
