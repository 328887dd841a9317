package org.shm4j.sync;

import org.shm4j.sync.internal.Futex;

/**
 * How the blocking waits of every shm4j structure (locks, rings under {@code WaitStrategy.BLOCKING}, queues, pipes)
 * sleep in this JVM: in Linux {@code futex}, woken at once by the releasing side in any process, or, where futex
 * cannot be called, by spinning and parking for up to 1 ms at a time (the same results, slower wake-ups).
 *
 * <p>Futex is called through {@code java.lang.foreign.Linker}, which needs native access:
 * {@code --enable-native-access=ALL-UNNAMED} on the class path, {@code --enable-native-access=org.shm4j.sync} on the
 * module path (name {@code org.shm4j.core} too, for owners that {@code /proc} hides: see {@code org.shm4j.core}).
 * Without it the fallback is taken and logged once, at {@code WARNING} on the {@link System.Logger} named
 * {@code "org.shm4j.sync"}; {@code -Dshm4j.futex=false} chooses the fallback without a log line. The choice is
 * made once per JVM, when a wait first needs it.
 *
 * <pre>{@code
 * if (!BlockingWaits.usesFutex()) {
 *     System.err.println(BlockingWaits.describe()); // e.g. "spinning and parking: native access is not enabled ..."
 * }
 * }</pre>
 */
public final class BlockingWaits {
    private BlockingWaits() {
    }

    /** @return true if blocking waits sleep in futex, false if they spin and park */
    public static boolean usesFutex() {
        return Futex.isAvailable();
    }

    /**
     * @return one line for logs and diagnostics: {@code "futex"}, or {@code "spinning and parking: "} and the reason
     *         futex is not used (not Linux x86-64/aarch64, {@code -Dshm4j.futex=false}, or native access not enabled,
     *         with the flag that enables it)
     */
    public static String describe() {
        return Futex.fallbackReason().map(reason -> "spinning and parking: " + reason).orElse("futex");
    }
}
