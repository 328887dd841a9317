package org.shm4j.sync.internal;

/**
 * Rethrowing a caller's throwable as it was thrown, checked or not, from a method that does not declare it: a
 * handler's or codec's checked exception thrown sneakily (as Kotlin code may) passes through the sync structures as
 * their own code found it, not wrapped, and not taken for one of theirs (an {@link InterruptedException} is not an
 * interrupt of their wait).
 */
public final class Rethrow {
    private Rethrow() {
    }

    /**
     * Throws {@code thrown}, unwrapped.
     *
     * @return never: a caller writes {@code throw Rethrow.asThrown(e)}, so that the compiler sees the path end
     */
    public static RuntimeException asThrown(Throwable thrown) {
        throw Rethrow.<RuntimeException>sneaky(thrown);
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> E sneaky(Throwable thrown) throws E {
        throw (E) thrown;
    }
}
