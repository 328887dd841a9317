package org.shm4j.core;

import java.io.Serial;

/**
 * Base class of the unchecked exceptions shm4j throws for shared-memory problems: a region or block that does not
 * exist or already exists, a full heap, a type mismatch, malformed bytes, or an I/O error while mapping.
 *
 * <p>Bad arguments (sizes, names, alignments) are reported with {@link IllegalArgumentException}, access to a closed
 * region with {@link IllegalStateException} and bad indices with {@link IndexOutOfBoundsException}, as in
 * {@code java.lang.foreign}.
 */
public class ShmException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the region or block
     */
    public ShmException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, naming the region or block
     * @param cause   the underlying error, usually an {@link java.io.IOException}
     */
    public ShmException(String message, Throwable cause) {
        super(message, cause);
    }
}
