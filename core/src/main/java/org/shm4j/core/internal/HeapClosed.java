package org.shm4j.core.internal;

/**
 * The one wording of a use of a heap once closed, {@code "heap <region> is closed"}: thrown by the heap's own methods
 * and by the sync structures' factories that a close of the heap cuts short, so that both read alike.
 */
public final class HeapClosed {
    private HeapClosed() {
    }

    /**
     * @param heap  the heap, as its {@code toString} names it ({@code heap <region>})
     * @param cause the failure the close caused (the JDK's "Already closed"), or null
     * @return the exception for a use of {@code heap} once closed
     */
    public static IllegalStateException exception(Object heap, Throwable cause) {
        return new IllegalStateException(message(heap), cause);
    }

    /** @return true if {@code failure} is already the exception {@link #exception} makes for {@code heap} */
    public static boolean is(Throwable failure, Object heap) {
        return failure instanceof IllegalStateException && message(heap).equals(failure.getMessage());
    }

    private static String message(Object heap) {
        return heap + " is closed";
    }
}
