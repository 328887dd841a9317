package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_SLEEPERS_MASK;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WAKES;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WAKES_MASK;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WAKE_SEQ_ONE;

/**
 * The wake word of a {@link RobustMutex} (its bytes 20..23, {@link SyncLayout#MUTEX_WAKES}): the futex word its
 * blocked waiters sleep on, so that a holder that releases and re-takes the lock word does not end their wait with
 * {@code EAGAIN}. Bits 0..14 count the waiters in (or about to enter) futex wait, bits 15..30 are a wake sequence,
 * bit 31 is clear. Every method takes the mutex's segment and the offset of its 40 bytes.
 *
 * <p>Protocol. A waiter reads the wake word before the lock word; once it has set the waiters bit on the hold it saw,
 * it counts itself with a CAS that expects the wake word it read, and sleeps while the word holds the counted value.
 * The releaser of a hold with the waiters bit frees the lock word, then adds 1 to the sequence, then calls futex wake
 * only if the count it replaced was not 0. No wake is lost: if the waiter was counted first, it is woken or its wait
 * sees the new sequence; if not, its counting CAS fails on the new sequence and it looks at the lock word again.
 * A release wakes one sleeper (or all); a waiter that then leaves without the mutex (timed out, interrupted, a
 * deadlock's victim) passes the wake on ({@link #passOn}), so that the next sleeper does not sleep out its liveness
 * period behind a barger whose hold has no waiters bit. A waiter killed while counted leaves the count one too high,
 * which costs the release of each hold taken after blocking a wake call nobody needs; one killed after its wake,
 * before it took the mutex, leaves the next sleeper to its liveness period (at most 50 ms).
 *
 * <p>Naps. A woken waiter that finds the mutex taken again first naps unannounced (no waiters bit, no count) on this
 * word, so that the holder's releases stay on their fast path; announcing itself at once, it could hardly ever fall
 * asleep: a holder that takes and releases in a loop releases within the microsecond a futex call needs to enter its
 * wait, so each announcement cost the holder a wake call and the waiter an {@code EAGAIN}. A nap ends when it times
 * out, or early when a release for counted sleepers wakes the word.
 */
final class WakeWord {
    /**
     * The longest first futex sleep of a counted waiter where releases are stores: a late wake in the one window
     * left (see {@link #sleep}) costs at most this.
     */
    static final long FIRST_SLEEP_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    /**
     * The longest a counted waiter sleeps, after its first sleep, before it calls {@link Membarrier#barrier()}: the
     * barrier interrupts every CPU running a registered process (about 50 µs of the caller's CPU on the bench VM
     * when those CPUs are busy), so waits shorter than this, the common ones, make none.
     */
    static final long UNFENCED_SLEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private WakeWord() {
    }

    /** @return the wake word, read (volatile) before the lock word by a waiter that may block */
    static int read(MemorySegment s, long base) {
        return (int) INT.getVolatile(s, base + MUTEX_WAKES);
    }

    /** @return true if the wake word {@code wakes} counts sleepers: a waiter that acquires must keep the waiters bit */
    static boolean countsSleepers(int wakes) {
        return (wakes & MUTEX_SLEEPERS_MASK) != 0;
    }

    /**
     * @throws org.shm4j.core.ShmFormatException if the wake word has bit 31 set (any count and sequence are valid)
     */
    static void check(MemorySegment s, long base, String what) {
        int wakes = read(s, base);
        if ((wakes & ~MUTEX_WAKES_MASK) != 0) {
            throw Blocks.corrupt(what, "wake word", wakes, "0.." + MUTEX_WAKES_MASK);
        }
    }

    /**
     * Idles one step unannounced while the wake word holds {@code wakes}: the spin steps before a waiter announces
     * itself, and a nap of a waiter that found the mutex taken again.
     *
     * @return the next step
     */
    static int idle(MemorySegment s, long base, int step, int wakes, long maxBlockNanos) {
        return Waits.idle(step, s, base + MUTEX_WAKES, wakes, maxBlockNanos);
    }

    /**
     * For a waiter that announced itself with the waiters bit on the lock word {@code announced}: counts it in the
     * wake word (unless the count is full: it then sleeps uncounted, and releasers wake anyway), blocks while the word
     * is unchanged, and takes the count back.
     *
     * <p>Where releasers free the lock word with a store ({@link RobustMutex#ASYMMETRIC}), the waiter looks at the
     * lock word again once counted (a release that overwrote its bit before that is seen), and its first futex sleep
     * lasts at most {@link #FIRST_SLEEP_NANOS}: a releaser's read of the wake word may have passed its own store in
     * the CPU and missed the count just made, a window of nanoseconds, after which the store is visible to the look
     * that follows the sleep. The CPU promises no such time, though: so a waiter that would sleep past
     * {@link #UNFENCED_SLEEP_NANOS} more first calls {@link Membarrier#barrier()}, after which every release that
     * came before is visible: if the lock word still shows a hold (its bit put back if a later holder's word lacks
     * it), that hold's release comes after the barrier and reads the count, so the rest of the sleep is safe. A late
     * wake is thus at most 100 µs late on any real CPU and 10 ms in the memory model's worst case. A sleep that a
     * release ends costs no look and no barrier, so waiters taking turns with a running holder, woken within
     * microseconds, never make one.
     *
     * @param wakes     the wake word, read before the lock word
     * @param announced the lock word with the waiters bit, as this waiter saw or set it
     * @return {@code step + 1}, or {@code step} if the wake word or the lock word changed before the waiter was
     *         counted (look again)
     */
    static int sleep(MemorySegment s, long base, int step, int wakes, long announced, long maxBlockNanos) {
        if ((wakes & MUTEX_SLEEPERS_MASK) == MUTEX_SLEEPERS_MASK) {
            return idle(s, base, step, wakes, maxBlockNanos);
        }
        // volatile: the count must be visible before the releaser, which frees the lock word first, reads it
        if (!INT.compareAndSet(s, base + MUTEX_WAKES, wakes, wakes + 1)) {
            return step;
        }
        int counted = wakes + 1;
        try {
            if (!RobustMutex.ASYMMETRIC) {
                return idle(s, base, step, counted, maxBlockNanos);
            }
            if (!RobustMutex.isWord(s, base, announced)) {
                return step; // released (its store overwrote the bit) or taken again meanwhile: look again
            }
            if (!Waits.blocksInFutex(step) || maxBlockNanos <= FIRST_SLEEP_NANOS) {
                return idle(s, base, step, counted, maxBlockNanos); // short, or a park whose poll bounds a late wake
            }
            long start = System.nanoTime();
            int next = idle(s, base, step, counted, FIRST_SLEEP_NANOS);
            if (read(s, base) != counted || !RobustMutex.isHeldAnnounced(s, base)) {
                return next; // woken, another waiter counted, or the mutex freed meanwhile: the caller looks again
            }
            long left = maxBlockNanos - (System.nanoTime() - start);
            if (left > UNFENCED_SLEEP_NANOS) {
                idle(s, base, step, counted, UNFENCED_SLEEP_NANOS);
                if (read(s, base) != counted) {
                    return next;
                }
                Membarrier.barrier(); // every release before this point is now visible here
                if (!RobustMutex.isHeldAnnounced(s, base)) {
                    return next;
                }
                left = maxBlockNanos - (System.nanoTime() - start);
            }
            return left <= 0 ? next : idle(s, base, step, counted, left);
        } finally {
            uncount(s, base, counted);
        }
    }

    /**
     * Takes a sleeper's count back when it stops sleeping, unless a waker took it already: a waker that moves the
     * sequence on takes one count down (all, to wake all) for the sleepers it wakes, so that the next release of a
     * hold without the waiters bit does not wake the same sleepers again while they are still on their way out of
     * the kernel. A sleeper that finds the sequence moved on since it counted itself leaves the count alone.
     *
     * @param counted the wake word as the sleeper's counting CAS left it
     */
    static void uncount(MemorySegment s, long base, int counted) {
        int sequence = counted & ~MUTEX_SLEEPERS_MASK;
        while (true) {
            int now = read(s, base);
            if ((now & ~MUTEX_SLEEPERS_MASK) != sequence || (now & MUTEX_SLEEPERS_MASK) == 0) {
                return; // a waker took this count (or another's: a count too high costs one spare wake, no more)
            }
            if (INT.compareAndSet(s, base + MUTEX_WAKES, now, now - 1)) { // volatile: as the counting CAS
                return;
            }
        }
    }

    /**
     * @return the wake word, read by a releaser right after it freed the lock word with a store (see
     *         {@link RobustMutex#ASYMMETRIC})
     */
    static int readAfterRelease(MemorySegment s, long base) {
        // opaque: a racy read of a word others change; the releaser's fence keeps it after its store in the JIT
        return (int) INT.getOpaque(s, base + MUTEX_WAKES);
    }

    /**
     * For a waiter that leaves without the mutex (timed out, interrupted, chosen as a deadlock's victim) after it
     * slept: a release wakes one sleeper, and the one it woke may be this waiter, so the wake goes on to the next
     * counted sleeper (if any), who would otherwise sleep out its liveness period while the mutex may be free, or
     * held by a barger whose release, without the waiters bit, wakes nobody.
     */
    static void passOn(MemorySegment s, long base) {
        if (countsSleepers(read(s, base))) {
            wakeAfterRelease(s, base, false);
        }
    }

    /**
     * For the releaser of a hold that had the waiters bit, after it freed the lock word: moves the sequence on and
     * wakes one sleeper (or all) if any is counted. Nappers are not counted: their naps end by themselves.
     */
    static void wakeAfterRelease(MemorySegment s, long base, boolean wakeAll) {
        int wakes;
        int next;
        do { // volatile, after the lock word is free: a waiter that read the old wake word before that sees it change
            wakes = read(s, base);
            int sleepers = wakes & MUTEX_SLEEPERS_MASK;
            int left = wakeAll ? 0 : Math.max(0, sleepers - 1); // the sleepers woken leave the count now (uncount)
            next = (wakes & ~MUTEX_SLEEPERS_MASK) + MUTEX_WAKE_SEQ_ONE & MUTEX_WAKES_MASK | left;
        } while (!INT.compareAndSet(s, base + MUTEX_WAKES, wakes, next));
        if (countsSleepers(wakes)) {
            Waits.wake(s, base + MUTEX_WAKES, wakeAll ? Integer.MAX_VALUE : 1);
        }
    }
}
