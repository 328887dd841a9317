package org.shm4j.core.internal;

/**
 * Undoing what a failed open made (a mapping, a descriptor, an attach slot) without hiding why it failed: every
 * failure counts, an {@link Error} such as {@link StackOverflowError} or {@link OutOfMemoryError} thrown midway too,
 * and a failure of the undo itself is added to the original, which the caller rethrows.
 */
public final class Undo {
    private Undo() {
    }

    /**
     * Runs {@code undo} after {@code failure}; whatever {@code undo} throws is added to {@code failure} as suppressed.
     *
     * @return {@code failure}, for the caller to rethrow
     */
    public static <T extends Throwable> T after(T failure, Runnable undo) {
        try {
            undo.run();
        } catch (Throwable undoFailed) {
            failure.addSuppressed(undoFailed);
        }
        return failure;
    }
}
