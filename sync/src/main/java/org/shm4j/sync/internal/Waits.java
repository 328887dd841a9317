package org.shm4j.sync.internal;

import org.shm4j.core.internal.Backoff;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.function.IntUnaryOperator;
import java.util.function.LongUnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The idle step of a wait on a 32-bit word in shared memory: the steps of {@link Backoff}, except that from
 * {@link Backoff#PARK_FROM} on it blocks in a {@link Futex} wait on the word (woken by the releaser) where futex is
 * available and the thread is a platform thread. A virtual thread parks instead, as without futex: a native call
 * pins its carrier thread while it blocks, so that waiters as many as the carriers would keep the holder of what
 * they wait for (unmounted, say in a sleep inside the lock) from ever running again to release it. Stateless and
 * allocation-free: the caller keeps the step count.
 */
public final class Waits {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private Waits() {
    }

    /**
     * Links the native calls that blocking waits make ({@link Futex}, {@link Membarrier}; over 100 ms the first time
     * in a JVM on a busy machine): a structure that may block calls this when it is made or opened, so that its first
     * timed wait does not spend its timeout there.
     */
    public static void prepare() {
        Futex.isAvailable();
        Membarrier.isAvailable();
    }

    /**
     * Waits one step while the int at {@code offset} of {@code segment} still equals {@code expected}.
     *
     * @param step         how many steps this wait has taken so far
     * @param maxBlockNanos the longest this step may block (so that the caller can re-check deadlines and liveness)
     * @return {@code step + 1}
     */
    public static int idle(int step, MemorySegment segment, long offset, int expected, long maxBlockNanos) {
        if (blocksInFutex(step)) {
            Futex.await(segment.address() + offset, expected, Math.max(1, maxBlockNanos));
            return step + 1;
        }
        return Backoff.idle(step, maxBlockNanos);
    }

    /** @return true if {@link #idle} at {@code step} blocks in a futex wait (else it spins, yields or parks) */
    static boolean blocksInFutex(int step) {
        return step >= Backoff.PARK_FROM && Futex.isAvailable() && !Thread.currentThread().isVirtual();
    }

    /**
     * Announces a waiter about to block on a futex word in the waiters flag (an int, 0 or 1) at {@code flagOffset}:
     * sets it unless it is set already (volatile load, then volatile store; a set flag's cache line stays shared).
     * The caller must have read the value it will wait on from the futex word before this: a waker that erases the
     * flag ({@link #takeAnnouncement}) changes the word afterwards, so that the wait returns at once and the waiter
     * announces itself again. Never undone: a waiter that stops waiting, or dies, leaves the flag set, and the next
     * waker clears it at the cost of one spare wake-up.
     */
    public static void announce(MemorySegment segment, long flagOffset) {
        if ((int) INT.getVolatile(segment, flagOffset) == 0) {
            INT.setVolatile(segment, flagOffset, 1);
        }
    }

    /**
     * Takes the waiters' announcement from the flag at {@code flagOffset}, clearing it; the caller must then change
     * the futex word they wait on, and then wake them all. One volatile load while the flag is clear.
     *
     * @return true if the flag was set; of concurrent callers, only one (the atomic swap's) gets true
     */
    public static boolean takeAnnouncement(MemorySegment segment, long flagOffset) {
        return (int) INT.getVolatile(segment, flagOffset) != 0 && (int) INT.getAndSet(segment, flagOffset, 0) != 0;
    }

    /**
     * Wakes up to {@code count} waiters blocked on the int at {@code offset}; a no-op without futex.
     *
     * @return how many were blocked in futex and woken (0 without futex, where waiters poll instead)
     */
    public static int wake(MemorySegment segment, long offset, int count) {
        return Futex.isAvailable() ? Futex.wake(segment.address() + offset, count) : 0;
    }

    /**
     * Waits one step while the int at {@code offset} still equals {@code observed}, as {@link #idle} does, but first
     * announces the waiter once blocking is due: it sets {@code waitersBit} in the word by CAS, so that whoever
     * changes the word and clears the bit knows to {@link #wakeAllIfAnnounced wake} the blocked waiters.
     *
     * @return {@code step + 1}, or {@code step} if the word changed before the bit was set (look again at once)
     */
    public static int idleAnnounced(int step, MemorySegment segment, long offset, int observed, int waitersBit,
                                    long maxBlockNanos) {
        if (step < Backoff.PARK_FROM || (observed & waitersBit) != 0) {
            return idle(step, segment, offset, observed, maxBlockNanos);
        }
        if (!INT.compareAndSet(segment, offset, observed, observed | waitersBit)) {
            return step;
        }
        return idle(step, segment, offset, observed | waitersBit, maxBlockNanos);
    }

    /** Wakes every waiter blocked on the int at {@code offset} if {@code previous}, the word replaced, had any. */
    public static void wakeAllIfAnnounced(MemorySegment segment, long offset, int previous, int waitersBit) {
        if ((previous & waitersBit) != 0) {
            wake(segment, offset, Integer.MAX_VALUE);
        }
    }

    /**
     * Replaces the int at {@code offset} with {@code update} of it by CAS (volatile), and wakes every blocked waiter
     * if the new word clears the waiters bit the old one had.
     *
     * @param update the new word for the current one; returning its argument leaves the word alone
     * @return the word replaced (or left alone)
     */
    public static int updateAndWakeAll(MemorySegment segment, long offset, int waitersBit, IntUnaryOperator update) {
        while (true) {
            int w = (int) INT.getVolatile(segment, offset);
            int next = update.applyAsInt(w);
            if (next == w) {
                return w;
            }
            if (INT.compareAndSet(segment, offset, w, next)) {
                if ((next & waitersBit) == 0) {
                    wakeAllIfAnnounced(segment, offset, w, waitersBit);
                }
                return w;
            }
        }
    }

    /**
     * {@link #updateAndWakeAll} for a long at {@code offset} (8-aligned) whose low half, in native byte order, is the
     * futex word, at {@code offset} on little-endian: replaces it with {@code update} of it by one 8-byte CAS
     * (volatile), and wakes every waiter blocked on that word if the new low half clears the waiters bit the old one
     * had.
     *
     * @param update the new long for the current one; returning its argument leaves the long alone
     * @return the long replaced (or left alone)
     */
    public static long updateLongAndWakeAll(MemorySegment segment, long offset, int waitersBit,
                                            LongUnaryOperator update) {
        while (true) {
            long s = (long) LONG.getVolatile(segment, offset);
            long next = update.applyAsLong(s);
            if (next == s) {
                return s;
            }
            if (LONG.compareAndSet(segment, offset, s, next)) {
                if (((int) next & waitersBit) == 0) {
                    wakeAllIfAnnounced(segment, offset, (int) s, waitersBit);
                }
                return s;
            }
        }
    }
}
