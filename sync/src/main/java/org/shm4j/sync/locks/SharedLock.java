package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;

import java.lang.foreign.MemorySegment;

/**
 * A mutual-exclusion lock in shared memory for the threads of every process that maps it, that survives the death
 * of its owner: Python's {@code multiprocessing.Lock}, without the lock that stays held forever when its holder is
 * killed. Not reentrant ({@link SharedReentrantLock} is: Python's {@code RLock}); implements
 * {@link java.util.concurrent.locks.Lock}, with cross-process {@linkplain #newCondition() conditions}.
 *
 * <h2>Layout (heap block type {@code 0x53480021} v3, 64 bytes, 64-aligned, native byte order)</h2>
 * <table class="striped">
 * <caption>SharedLock block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>word</td><td>0 = free; else bits 0..29 = owner pid, bit 30 = a waiter may be
 *     blocked (the releaser must move the wake sequence and wake one), bits 32..63 = low 32 bits of the owner
 *     process's start stamp (on Linux its start time in clock ticks since boot; all ones if the OS does not tell, or
 *     if those bits are 0: never 0, so a held word with 0 there is refused when the lock is opened, and taken over as
 *     a dead owner's if met later); with the pid it tells a dead owner from a recycled pid</td><td>64-bit CAS to
 *     acquire (acquire semantics). Release: an opaque read that finds the word as this process wrote it, then a
 *     release store of 0, in a process registered for {@code membarrier} (Linux 4.16+, native access; see
 *     "Waiting"); else, after the same read, a CAS to 0 (release semantics); getAndSet 0 if bit 30 was set</td></tr>
 * <tr><td>8</td><td>8</td><td>ownerThread</td><td>owner's thread key, 0 when free (and, after a take-over, the dead
 *     owner's until the new owner writes its own): its Java thread id XOR (its pid &lt;&lt; 33), so that threads of
 *     different processes, whose ids repeat, have different keys; builds before 2026-12-04 wrote the bare id (below
 *     2^33, which no key is)</td><td>opaque, written by the owner after its CAS and cleared before its
 *     release</td></tr>
 * <tr><td>16</td><td>4</td><td>flags</td><td>bit 0 = the previous owner died holding the lock; the protected data is
 *     inconsistent until {@link #markConsistent()}</td><td>volatile</td></tr>
 * <tr><td>20</td><td>4</td><td>wakes</td><td>the futex word blocked waiters sleep on: bits 0..14 = how many
 *     waiters are counted in (or about to enter) futex wait: exactly the live ones, plus one for each waiter killed
 *     while counted, which stays (at 0x7FFF a waiter parks uncounted instead); bits 15..30 = wake sequence, bit 31 =
 *     0. A releaser that saw bit 30, or (releasing with a store) a count that is not 0, adds 1 to the sequence
 *     (modulo 2^16) after it frees the word, then, if the count was not 0, wakes one waiter (all, to wake all) and
 *     takes off the count of as many as the kernel reports woken; a waiter whose futex wait ended otherwise (time,
 *     {@code EAGAIN}, a signal) takes its own count off. Only counted waiters wait in futex on this word. A release
 *     with a store skips the wake when its process's last wake through this lock woke nobody, left the word as it
 *     still is, and moved the sequence less than 50 µs ago</td><td>CAS
 *     (volatile): a waiter counts itself after it read the sequence and saw bit 30 set on the word; the releaser
 *     moves the sequence after it freed the word, and takes the woken off with an atomic add. A releaser with a
 *     store reads it opaque right after its store (no fence between: a sleeper's {@code membarrier} stands in for
 *     one)</td></tr>
 * <tr><td>24</td><td>8</td><td>heldSinceMillis</td><td>epoch ms at which a blocked waiter first saw the current
 *     owner holding the lock; 0 if none. Set only after the waiter set bit 30; cleared by a releaser that saw bit
 *     30</td><td>opaque, set by CAS</td></tr>
 * <tr><td>32</td><td>8</td><td>recoveries</td><td>times the lock was taken over from a dead owner</td>
 *     <td>atomic add</td></tr>
 * <tr><td>40</td><td>24</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 * Version 1 (earlier 0.1.0-SNAPSHOT builds) had a 32-bit word and the start time in its own field; version 2 had
 * zero at 20..23 and blocked waiters sleeping on the word's low half. Older blocks are refused.
 *
 * <h2>Waiting</h2>
 * A contended {@code lock} reads the word a few times (none while others are blocked; longer for a
 * {@linkplain #newCondition() condition}'s waiter re-taking the lock from its signaller), then blocks: with futex on
 * Linux when native access is enabled ({@code --enable-native-access}), so an idle waiter uses no CPU and is woken by
 * the release; otherwise it parks for up to 1 ms at a time. Where the process can also register for Linux
 * {@code membarrier} (expedited global, Linux 4.16+; {@code -Dshm4j.membarrier=false} turns it off), {@code unlock}
 * frees the word with a plain store instead of an atomic instruction (an uncontended lock + unlock about a quarter
 * cheaper on the bench machine); a blocked waiter looks at the word again after its first 100 µs of sleep, and calls
 * {@code membarrier} (which makes the CPUs running registered processes drain their stores: 2-50 µs) only before it
 * sleeps past 10 ms more. The one race this leaves (a release whose store the CPU had not yet made visible while the
 * waiter counted itself) delays that waiter's wake by at most those 100 µs on real CPUs (10 ms in the memory model's
 * worst case); a waiter in a process without {@code membarrier} makes the same first sleep and second look, but no
 * barrier, so in the memory model's worst case it wakes up to 50 ms late. A blocked waiter wakes at least every
 * 50 ms to check that the owner still lives, its deadline, and (for {@link #lockInterruptibly()}) its interrupt
 * status. Not fair: a running thread may take the lock again before the waiter it woke, as with
 * {@code ReentrantLock}; that waiter then waits up to 50 µs before it blocks again, so that a thread taking the lock
 * in a loop is not slowed by a wake call on each release.
 *
 * <h2>Owner death</h2>
 * When the owner process dies holding the lock (its pid no longer runs, or runs with another start time), the next
 * waiter takes the lock over within about 50 ms, as a POSIX robust mutex returns {@code EOWNERDEAD}; so does a
 * caller whose tries are all shorter than that ({@code tryLock(10, MILLISECONDS)} or {@code tryLock()} in a loop):
 * a try that gives up checks the owner, at most once per 50 ms per lock object (the check costs a system call).
 * The data the lock protects may then be half-updated, so the lock is marked inconsistent: after acquiring, check
 * {@link #isConsistent()}; if it is false, repair the data and call {@link #markConsistent()} before unlocking.
 * The mark stays (and every later owner sees it) until someone calls {@code markConsistent}. Only the death of a
 * whole process is detected, not of a thread of a live process; but an owner process that closed its last view of
 * the heap (a named or file heap, see {@link SharedHeap#close()}) counts as dead: it can no longer reach the lock.
 *
 * <h2>Deadlock detection</h2>
 * A waiter blocked past 100 ms publishes its wait in the heap's wait table; a cycle of waits across threads and
 * processes is broken by a {@link DeadlockException} thrown to one member (see the package documentation and
 * {@link WaitForGraph}). The uncontended path is unchanged. A lock {@linkplain #wrap wrapped} over raw memory takes
 * no part.
 *
 * <p>Memory consistency effects: as for {@link java.util.concurrent.locks.ReentrantLock}, actions before
 * {@link #unlock()} in one thread, in any process, happen-before actions after a later successful lock.
 */
public final class SharedLock extends SharedMutex {
    private static final String KIND = "lock";

    private SharedLock(MemorySegment segment, String description, SharedHeap heap, String name) {
        super(segment, KIND, description, heap, name);
        Blocks.requireZero(segment, SyncLayout.MUTEX_SIZE, SIZE, description);
    }

    /**
     * Creates a free lock named {@code name} in {@code heap}.
     *
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedLock create(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedLock(Blocks.create(heap, name, SyncLayout.LOCK, SIZE, s -> { }),
                named(name), heap, name));
    }

    /**
     * Opens the lock named {@code name}. A lock has no magic (all-zero bytes are a free lock), so opening checks for
     * states no lock has: a block of another size, a held word without a pid or with bit 31 set, flags other than
     * bit 0, a wake word with bit 31 set, a negative thread id, heldSince or recoveries, or non-zero bytes at
     * 40..63. Any other word is a possible owner; if its process is not running, the next waiter takes the lock over
     * as from a dead owner.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a lock
     * @throws org.shm4j.core.ShmFormatException       if the block holds a state no lock has
     */
    public static SharedLock open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedLock(Blocks.open(heap, name, SyncLayout.LOCK, SIZE, KIND),
                named(name), heap, name));
    }

    /** Opens the lock named {@code name}, or creates it free. */
    public static SharedLock openOrCreate(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedLock(Blocks.openOrCreate(heap, name, SyncLayout.LOCK, SIZE,
                s -> { }), named(name), heap, name));
    }

    /**
     * Views the 64 bytes at {@code offset} of a native segment as a lock; all-zero bytes are a free lock.
     *
     * @throws IllegalArgumentException          if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException         if the 64 bytes are not inside the segment
     * @throws org.shm4j.core.ShmFormatException if the bytes hold a state no lock has (see {@link #open})
     */
    public static SharedLock wrap(MemorySegment segment, long offset) {
        MemorySegment slice = Blocks.wrapped(Blocks.wrap(segment, offset, SIZE, Long.BYTES, KIND),
                SyncLayout.LOCK);
        return new SharedLock(slice, Blocks.describe(KIND, slice.address()), null, null);
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }

    /**
     * Takes the lock if it is free, or takes it over if its owner died (that is checked at most once per 50 ms per
     * lock object, since it costs a system call), without waiting.
     *
     * <p>Does not wait, but for one case: when another thread of this process closes the heap view this lock lives
     * in during the call, the call throws {@link IllegalStateException}, and if the close met the CAS that takes the
     * lock (the JDK may report it after the CAS took effect) while this process keeps another view of the heap open,
     * the call first watches the lock through that view for up to 100 ms, parked (an interrupt does not end the watch,
     * and stays set): another thread of this process whose CAS took the lock names itself within that bound and keeps
     * it, else the lock this call's CAS may have taken is given back. The watch ends at once if the lock is free,
     * another process's, or held by a named thread.
     *
     * @throws IllegalMonitorStateException if the current thread holds the lock (not reentrant), as {@link #lock()}
     */
    @Override
    public boolean tryLock() {
        try {
            return RobustMutex.tryAcquire(segment, 0) || tookOverOrRefused();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    private boolean tookOverOrRefused() {
        mutex.refuseHolder();
        return mutex.takeOverOnGiveUp();
    }

    @Override
    boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        return RobustMutex.tryAcquire(segment, 0) || mutex.acquireContended(timeoutNanos, interruptible);
    }

    @Override
    void release() {
        RobustMutex.release(segment, 0, false, description());
    }

    @Override
    void unlockInWithLock(int outer) { // not reentrant: no outer hold
        unlockInCall();
    }

    /**
     * Unlocks a hold that a structure's call took and gives up before it returns (a value's or this lock's {@code
     * withLock}): as {@link #unlock()}, but when another thread closed the heap view this lock lives in under the
     * hold, the lock is first given back through another open view of the heap, if this process has one (see {@code
     * ClosedViewRelease}). That call throws, so its caller holds nothing and would never unlock; a user's own hold
     * whose unlock meets the close stays held, for its holder to unlock through another view.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     * @throws IllegalStateException        if the heap or segment the lock lives in is closed
     */
    public void unlockInCall() {
        try {
            unlock();
        } catch (IllegalStateException closed) {
            if (!segment.scope().isAlive()) { // not a damaged word's failure in an open view: that one is thrown
                mutex.releaseAfter(closed, false, description()); // a failure of its own is added to closed
            }
            throw closed;
        }
    }
}
