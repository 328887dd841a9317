package org.shm4j.sync.internal;

import org.shm4j.core.internal.Backoff;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

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
 * it counts itself with a CAS that expects the wake word it read, looks at the lock word again (a release that freed
 * it before the count was made is seen), and sleeps while the word holds the counted value. The releaser of a hold
 * with the waiters bit (or, where releases are stores, of any hold while sleepers are counted) frees the lock word,
 * then adds 1 to the sequence, then calls futex wake if the count was not 0. No wake is lost: if the waiter was
 * counted first, it is woken or its wait sees the new sequence; if not, its counting CAS fails on the new sequence
 * or its second look sees the lock free.
 *
 * <p>Counts are exact: only counted waiters ever wait in futex on this word (a napper, and a waiter that finds the
 * count full, park instead), so each waiter that {@code FUTEX_WAKE} reports woken is a counted one whose wait
 * returned 0; the waker takes those off the count, and every other sleeper (timed out, {@code EAGAIN},
 * interrupted by a signal, or never in futex) takes its own count off; a sleeper that finds between two futex calls
 * that the sequence moved (a wake went to another) takes its count off and looks at the lock word again rather
 * than sleep on. A wake-one that
 * ends the sleep of a waiter that then leaves without the mutex (timed out, interrupted, a deadlock's victim) is
 * passed on ({@link #passOn}). A waiter killed while counted, and the sleepers a waker killed between its wake and
 * taking their counts had woken, leave the count too high for good: releases then call futex wake for nobody, which
 * {@link FruitlessWakes} cuts to one call per 50 µs in each process.
 *
 * <p>Naps. A woken waiter that finds the mutex taken again first naps unannounced (no waiters bit, no count; a park,
 * not a futex wait, so that no wake meant for a counted sleeper is spent on it), so that the holder's releases stay on
 * their fast path; announcing itself at once, it could hardly ever fall asleep: a holder that takes and releases in a
 * loop releases within the microsecond a futex call needs to enter its wait, so each announcement cost the holder a
 * wake call and the waiter an {@code EAGAIN}.
 */
final class WakeWord {
    /**
     * The longest first futex sleep of a counted waiter: where releases are stores (in any process sharing the
     * mutex), a late wake in the one window left (see {@link #sleep}) costs at most this.
     */
    static final long FIRST_SLEEP_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    /**
     * The longest a counted waiter sleeps, after its first sleep, before it calls {@link Membarrier#barrier()}: the
     * barrier interrupts every CPU running a registered process (about 50 µs of the caller's CPU on the bench VM
     * when those CPUs are busy), so waits shorter than this, the common ones, make none.
     */
    static final long UNFENCED_SLEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    /** {@link #sleepUntil}: a {@code FUTEX_WAKE} ended the sleep (no wake word is negative). */
    private static final int WOKEN = -1;
    /** {@link #sleepUntil}: the wake sequence moved on. */
    private static final int MOVED = -2;

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
     * Idles one step unannounced and uncounted: a park of at most {@code nanos}, never a futex wait on this word,
     * so that every futex waiter here is counted (see the class doc). For a woken waiter that found the mutex taken
     * again, and for one that finds the count full.
     *
     * @return {@code step + 1}
     */
    static int nap(int step, long nanos) {
        LockSupport.parkNanos(Math.max(1, nanos));
        return step + 1;
    }

    /**
     * For a waiter that announced itself with the waiters bit on the lock word {@code announced}: counts it in the
     * wake word (unless the count is full: it then naps up to {@link #FIRST_SLEEP_NANOS} uncounted), looks at the
     * lock word again, blocks while the word holds its count, and takes the count back unless a waker did.
     *
     * <p>The first futex sleep lasts at most {@link #FIRST_SLEEP_NANOS} and is followed by another look, with the
     * waiters bit put back on a hold that lacks it: where releasers free the lock word with a store ({@link
     * RobustMutex#ASYMMETRIC}, in this process or another), a releaser's read of the wake word may have passed its own
     * store in the CPU and missed the count just made, a window of nanoseconds, after which the store is visible to
     * that look. The CPU promises no such time, though: so a waiter in a process registered for {@link Membarrier} that
     * would sleep past {@link #UNFENCED_SLEEP_NANOS} more first calls {@link Membarrier#barrier()}, after which every
     * release that came before is visible (in another process, every one the kernel reaches: see {@link Membarrier}):
     * if the lock word still shows a hold (its bit put back if a later holder's word lacks it), that hold's release
     * comes after the barrier and reads the count, so the rest of the sleep is safe. A late wake is thus at most 100 µs
     * late on any real CPU; in the memory model's worst case 10 ms where this process has membarrier (also when the
     * barrier fails: the waiter then looks again; 50 ms behind a release in another process on a CPU the kernel's
     * global barrier skips), its liveness period (50 ms) where it has not. A sleep that a release ends costs no look
     * and no barrier, so waiters taking turns with a running holder, woken within microseconds, never make one. A
     * virtual thread, or any thread where futex is not available, parks one step instead and takes its count back.
     *
     * @param wakes     the wake word, read before the lock word
     * @param announced the lock word with the waiters bit, as this waiter saw or set it
     * @return {@code step + 1}, or {@code step} if the wake word or the lock word changed before the waiter was
     *         counted (look again)
     */
    static int sleep(MemorySegment s, long base, int step, int wakes, long announced, long maxBlockNanos) {
        if ((wakes & MUTEX_SLEEPERS_MASK) == MUTEX_SLEEPERS_MASK) {
            return nap(step, Math.min(maxBlockNanos, FIRST_SLEEP_NANOS));
        }
        // volatile: the count must be visible before the releaser, which frees the lock word first, reads it
        if (!INT.compareAndSet(s, base + MUTEX_WAKES, wakes, wakes + 1)) {
            return step;
        }
        int counted = wakes + 1;
        try {
            if (!RobustMutex.isWord(s, base, announced)) {
                return step; // released (a store may overwrite the bit) or taken again meanwhile: look again
            }
            if (!Waits.blocksInFutex(step)) {
                return Backoff.idle(step, maxBlockNanos);
            }
            long start = System.nanoTime();
            long end = start + maxBlockNanos;
            counted = sleepUntil(s, base, counted, start + Math.min(maxBlockNanos, FIRST_SLEEP_NANOS));
            if (counted == WOKEN || counted == MOVED || end - System.nanoTime() <= 0
                    || !RobustMutex.isHeldAnnounced(s, base)) {
                return step + 1; // woken, a wake came for others, the time is up, or the mutex was freed: look again
            }
            long now = System.nanoTime();
            if (RobustMutex.ASYMMETRIC && end - now > UNFENCED_SLEEP_NANOS) {
                counted = sleepUntil(s, base, counted, now + UNFENCED_SLEEP_NANOS);
                // the barrier makes every release before this point visible here; after a failed one, look again
                if (counted == WOKEN || counted == MOVED || !Membarrier.barrier()
                        || !RobustMutex.isHeldAnnounced(s, base)) {
                    return step + 1;
                }
            }
            counted = sleepUntil(s, base, counted, end);
            return step + 1;
        } finally {
            if (counted != WOKEN) { // the waker took the count of those it woke; everyone else takes their own
                uncount(s, base);
            }
        }
    }

    /**
     * Sleeps in futex while the wake word holds this waiter's count and the same sequence, until {@code deadline}
     * ({@link System#nanoTime()}) or a wake: a wait that the word's change ends ({@code EAGAIN}: another waiter
     * counted or took its count back) goes on with the new word.
     *
     * @param counted the wake word with this waiter counted
     * @return {@link #WOKEN} if a {@code FUTEX_WAKE} ended the wait (its waker takes the count off),
     *         {@link #MOVED} if the sequence moved on (a wake that went to others, or passed before this waiter
     *         slept), else the wake word at the deadline, still counting this waiter
     */
    private static int sleepUntil(MemorySegment s, long base, int counted, long deadline) {
        long address = s.address() + base + MUTEX_WAKES;
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return counted;
            }
            if (Futex.await(address, counted, left)) {
                return WOKEN;
            }
            int now = read(s, base);
            if ((now & ~MUTEX_SLEEPERS_MASK) != (counted & ~MUTEX_SLEEPERS_MASK)) {
                return MOVED;
            }
            counted = now;
        }
    }

    /**
     * Takes a sleeper's count back when it stops sleeping without a wake ({@code FUTEX_WAKE} reports the woken to
     * their waker, who takes their counts).
     */
    static void uncount(MemorySegment s, long base) {
        while (true) {
            int now = read(s, base);
            if ((now & MUTEX_SLEEPERS_MASK) == 0) {
                return; // cannot happen while counts are exact; never borrow from the sequence
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
     * For a releaser that freed the lock word with a store and then read {@code wakes}, which counts sleepers: wakes
     * as {@link #wakeAfterRelease} does, unless this process's last wake through this mutex woke nobody and left
     * this very word (a count left by a killed sleeper: see {@link FruitlessWakes}).
     */
    static void wakeAfterStore(MemorySegment s, long base, int wakes, boolean wakeAll) {
        if (!FruitlessWakes.isKnown(s.address() + base, wakes)) {
            wakeAfterRelease(s, base, wakeAll);
        }
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
     * For the releaser of a hold that had the waiters bit (or counted sleepers), after it freed the lock word: moves
     * the sequence on, wakes one sleeper (or all) if any is counted, and takes the count of those the kernel reports
     * woken, so that the holder's next releases do not wake them again while they are on their way out of the kernel
     * (measured: contended lock + unlock 33 ops/µs with the count left to the sleepers, 80-90 with the waker taking
     * it). A wake that woke nobody is remembered ({@link FruitlessWakes}).
     */
    static void wakeAfterRelease(MemorySegment s, long base, boolean wakeAll) {
        int wakes;
        int next;
        long movedAt;
        do { // volatile, after the lock word is free: a waiter that read the old wake word before that sees it change
            wakes = read(s, base);
            next = wakes + MUTEX_WAKE_SEQ_ONE & MUTEX_WAKES_MASK; // the count stays: sleepers are not woken yet
            movedAt = countsSleepers(wakes) ? System.nanoTime() : 0; // before the move: see FruitlessWakes
        } while (!INT.compareAndSet(s, base + MUTEX_WAKES, wakes, next));
        if (countsSleepers(wakes)) {
            int woken = Waits.wake(s, base + MUTEX_WAKES, wakeAll ? Integer.MAX_VALUE : 1);
            if (woken > 0) {
                INT.getAndAdd(s, base + MUTEX_WAKES, -woken); // volatile: each one woken is counted, so no borrow
            } else {
                FruitlessWakes.remember(s.address() + base, next, movedAt);
            }
        }
    }
}
