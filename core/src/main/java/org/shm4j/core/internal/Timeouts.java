package org.shm4j.core.internal;

import java.time.Duration;
import java.util.Objects;

/** Timeouts given as {@link Duration}s, turned into the nanoseconds a deadline is computed from. */
public final class Timeouts {
    private Timeouts() {
    }

    /**
     * @return {@code timeout} in nanoseconds, saturated to {@link Long#MAX_VALUE} instead of overflowing (a caller's
     *         "for ever", e.g. {@code ChronoUnit.FOREVER.getDuration()}), and 0 for a negative one (no wait, as in
     *         {@code BlockingQueue}: a deadline computed from {@link Long#MIN_VALUE} would wrap round to about 292
     *         years). Deadlines are then compared by difference ({@code deadline - System.nanoTime() > 0}), which
     *         stays right when {@code now + nanos} wraps.
     */
    public static long nanos(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        try {
            return Math.max(0, timeout.toNanos());
        } catch (ArithmeticException tooLong) {
            return timeout.isNegative() ? 0 : Long.MAX_VALUE;
        }
    }
}
