package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The interruptible, timed wait of the coordination types on their futex word: until a condition on the word holds,
 * spinning, yielding, then announcing the waiter (a waiters bit in the word) and blocking in futex, never longer than
 * {@link RobustMutex#LIVENESS_NANOS} at a time, so that the deadline, the interrupt status and (through
 * {@link #await(MemorySegment, long, int, long, IntPredicate, Runnable)}'s check) the liveness of other processes are
 * looked at again.
 */
public final class WordWait {
    /** The longest one blocking step lasts. */
    public static final long SLICE_NANOS = RobustMutex.LIVENESS_NANOS;

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private WordWait() {
    }

    /**
     * Waits until {@code done} holds for the word.
     *
     * @param timeoutNanos how long to wait, or a negative value for ever
     * @return true once {@code done} held; false if the timeout passed first
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public static boolean await(MemorySegment segment, long offset, int waitersBit, long timeoutNanos,
                                IntPredicate done) throws InterruptedException {
        return await(segment, offset, waitersBit, timeoutNanos, done, null);
    }

    /**
     * Waits until {@code done} holds for the word, running {@code everySlice} (if not null) about every
     * {@link #SLICE_NANOS} while waiting.
     *
     * @param timeoutNanos how long to wait, or a negative value for ever
     * @return true once {@code done} held; false if the timeout passed first
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public static boolean await(MemorySegment segment, long offset, int waitersBit, long timeoutNanos,
                                IntPredicate done, Runnable everySlice) throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        long start = System.nanoTime();
        long nextCheck = start + SLICE_NANOS;
        int step = 0;
        while (true) {
            int w = (int) INT.getVolatile(segment, offset);
            if (done.test(w)) {
                return true;
            }
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            long now = System.nanoTime();
            long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
            if (left <= 0) {
                return false;
            }
            if (now - nextCheck >= 0) {
                nextCheck = now + SLICE_NANOS;
                if (everySlice != null) {
                    everySlice.run();
                    continue; // it may have changed the word
                }
            }
            step = Waits.idleAnnounced(step, segment, offset, w, waitersBit, Math.min(left, nextCheck - now));
        }
    }

    /** @return {@code timeout} of {@code unit} in nanoseconds, at least 0 and saturated instead of overflowing */
    public static long nanos(long timeout, TimeUnit unit) {
        return Math.max(0, Objects.requireNonNull(unit, "unit").toNanos(timeout));
    }

    /**
     * Waits while the int at {@code offset} equals {@code expected}, at most {@code timeoutNanos} (negative: for
     * ever), blocking at most {@link #SLICE_NANOS} at a time. No waiters bit is set: the waker counts its waiters
     * itself.
     *
     * @param interruptible return at once when the thread is interrupted; otherwise note it and keep waiting
     * @return true if the thread was interrupted while waiting (its interrupt status is then cleared)
     */
    public static boolean awaitChange(MemorySegment segment, long offset, int expected, long timeoutNanos,
                                      boolean interruptible) {
        long start = System.nanoTime();
        boolean interrupted = false;
        int step = 0;
        while ((int) INT.getVolatile(segment, offset) == expected) {
            if (Thread.interrupted()) {
                interrupted = true;
                if (interruptible) {
                    break;
                }
            }
            long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (System.nanoTime() - start);
            if (left <= 0) {
                break;
            }
            step = Waits.idle(step, segment, offset, expected, Math.min(left, SLICE_NANOS));
        }
        return interrupted;
    }
}
