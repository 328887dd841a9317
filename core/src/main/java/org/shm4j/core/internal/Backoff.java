package org.shm4j.core.internal;

import java.util.concurrent.locks.LockSupport;

/**
 * The idle step of a wait on shared memory without a kernel wait: spin with {@link Thread#onSpinWait()}, then
 * {@link Thread#yield()}, then park with a pause that doubles from 1 µs to 1 ms, so that a long wait costs little CPU.
 * Stateless and allocation-free: the caller keeps the step count. {@code org.shm4j.sync} blocks in futex instead of
 * parking from {@link #PARK_FROM} on, where it can.
 */
public final class Backoff {
    /** Steps spent spinning before yielding. */
    public static final int SPIN_STEPS = 64;
    /** Steps spent yielding before parking. */
    public static final int YIELD_STEPS = 16;
    /** The first step that parks (or blocks). */
    public static final int PARK_FROM = SPIN_STEPS + YIELD_STEPS;
    private static final long MAX_PARK_NANOS = 1_000_000;

    private Backoff() {
    }

    /**
     * Waits one step: spin, yield, or park for 1 µs doubling to 1 ms, at most {@code maxParkNanos}.
     *
     * @param step how many steps this wait has taken so far
     * @return {@code step + 1}
     */
    public static int idle(int step, long maxParkNanos) {
        if (step < SPIN_STEPS) {
            Thread.onSpinWait();
        } else if (step < PARK_FROM) {
            Thread.yield();
        } else {
            int doublings = Math.min(step - PARK_FROM, 10);
            LockSupport.parkNanos(Math.max(1, Math.min(Math.min(1_000L << doublings, MAX_PARK_NANOS), maxParkNanos)));
        }
        return step + 1;
    }

    /**
     * Takes the current thread's pending interrupt, at each turn of a wait loop that idles here: an interruptible
     * wait throws it; one that is not keeps it until it ends and then sets it again ({@link #restoreInterrupt}), as
     * {@code ReentrantLock.lock()} does. While an interrupt is pending, a park returns at once: the wait would spin
     * a core (a virtual thread keeping its carrier) until it ends. Setting it again after each park would not help:
     * {@code Thread.interrupt()} also gives the thread a park permit.
     *
     * @return true if the thread was interrupted and the wait is not interruptible
     * @throws InterruptedException if the thread was interrupted and the wait is interruptible
     */
    public static boolean takeInterrupt(boolean interruptible) throws InterruptedException {
        if (!Thread.interrupted()) {
            return false;
        }
        if (interruptible) {
            throw new InterruptedException();
        }
        return true;
    }

    /**
     * {@link #takeInterrupt(boolean)} for a wait that is never interruptible.
     *
     * @return true if the thread was interrupted: the caller sets it again as its wait ends
     */
    public static boolean takeInterrupt() {
        return Thread.interrupted();
    }

    /** Sets again, as a wait ends, the interrupt that {@link #takeInterrupt} took ({@code interrupted} true). */
    public static void restoreInterrupt(boolean interrupted) {
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
