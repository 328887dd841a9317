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

    /**
     * @param what      the structure the timeout is for, as the refusal names it (e.g. {@code "ring 'r'"})
     * @param parameter the timeout's name in the refusal (e.g. {@code "stallTimeout"})
     * @return {@code timeout} in nanoseconds, saturated as {@link #nanos(Duration)} does
     * @throws IllegalArgumentException if {@code timeout} is zero or negative, naming {@code what} and the parameter
     */
    public static long positiveNanos(String what, String parameter, Duration timeout) {
        if (Objects.requireNonNull(timeout, parameter).isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException(what + ": " + parameter + "=" + timeout + " (expected: > 0)");
        }
        return nanos(timeout);
    }
}
