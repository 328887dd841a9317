package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

/**
 * The idle step of a wait on a 32-bit word in shared memory: spin with {@link Thread#onSpinWait()}, then yield, then
 * block. Blocking is a {@link Futex} wait on the word (woken by the releaser) where futex is available, else a park
 * that doubles from 1 µs to 1 ms. Stateless and allocation-free: the caller keeps the step count.
 */
public final class Waits {
    /** Steps spent spinning before yielding. */
    public static final int SPIN_STEPS = 64;
    /** Steps spent yielding before blocking. */
    public static final int YIELD_STEPS = 16;
    private static final int BLOCK_FROM = SPIN_STEPS + YIELD_STEPS;
    private static final long MAX_PARK_NANOS = 1_000_000;

    private Waits() {
    }

    /**
     * Waits one step while the int at {@code offset} of {@code segment} still equals {@code expected}.
     *
     * @param step         how many steps this wait has taken so far
     * @param maxBlockNanos the longest this step may block (so that the caller can re-check deadlines and liveness)
     * @return {@code step + 1}
     */
    public static int idle(int step, MemorySegment segment, long offset, int expected, long maxBlockNanos) {
        if (step >= BLOCK_FROM && Futex.isAvailable()) {
            Futex.await(segment.address() + offset, expected, Math.max(1, maxBlockNanos));
            return step + 1;
        }
        return backoff(step, maxBlockNanos);
    }

    /**
     * Waits one step without futex: spin, yield, then park from 1 µs doubling to 1 ms (at most {@code maxParkNanos}).
     *
     * @return {@code step + 1}
     */
    public static int backoff(int step, long maxParkNanos) {
        if (step < SPIN_STEPS) {
            Thread.onSpinWait();
        } else if (step < BLOCK_FROM) {
            Thread.yield();
        } else {
            int doublings = Math.min(step - BLOCK_FROM, 10);
            LockSupport.parkNanos(Math.max(1, Math.min(Math.min(1_000L << doublings, MAX_PARK_NANOS), maxParkNanos)));
        }
        return step + 1;
    }

    /** @return {@code timeout} in nanoseconds, saturated to {@link Long#MAX_VALUE} instead of overflowing */
    public static long nanos(java.time.Duration timeout) {
        try {
            return timeout.toNanos();
        } catch (ArithmeticException tooLong) {
            return timeout.isNegative() ? 0 : Long.MAX_VALUE;
        }
    }

    /** Wakes up to {@code count} waiters blocked on the int at {@code offset}; a no-op without futex. */
    public static void wake(MemorySegment segment, long offset, int count) {
        if (Futex.isAvailable()) {
            Futex.wake(segment.address() + offset, count);
        }
    }
}
