package org.shm4j.core.internal;

import java.util.concurrent.locks.LockSupport;

/**
 * Idle strategy for waits on shared memory without a kernel wait: spin with {@link Thread#onSpinWait()}, then
 * {@link Thread#yield()}, then park with a pause that doubles up to 1 ms, so that a long wait costs little CPU.
 * Not thread-safe: one instance per waiting thread and wait.
 */
public final class Backoff {
    private static final int SPINS = 100;
    private static final int YIELDS = 20;
    private static final long MIN_PARK_NANOS = 1_000;
    private static final long MAX_PARK_NANOS = 1_000_000;

    private int step;
    private long parkNanos = MIN_PARK_NANOS;

    /** Waits a little, longer at each call. */
    public void idle() {
        if (step < SPINS) {
            Thread.onSpinWait();
        } else if (step < SPINS + YIELDS) {
            Thread.yield();
        } else {
            LockSupport.parkNanos(parkNanos);
            parkNanos = Math.min(parkNanos * 2, MAX_PARK_NANOS);
        }
        step++;
    }

    /** @return true once spinning and yielding are over and each call parks */
    public boolean isParking() {
        return step >= SPINS + YIELDS;
    }
}
