package org.shm4j.core.internal;

import org.shm4j.core.ShmException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A spin lock on a 64-bit word in shared memory that holds the {@linkplain ProcessIdentity owner token} of the process
 * holding it, or 0 when free. A waiter that finds the owner process dead takes the lock over with a CAS from the dead
 * token. Meant for short, rare critical sections (heap allocation), not for hot paths: waiting backs off to 1 ms
 * parks. One object per view of the memory: its {@link #shut} lets the view's close wait for this process's holder.
 *
 * <p>Mutual exclusion. The word is taken only by a CAS from 0, or from the token of a process that is dead, and a dead
 * process's token never comes back (its pid and start stamp name no later process). A token of a live process is
 * never taken over, even once that process has closed the heap: the close of a view waits for the thread of this
 * process that holds the word through it ({@link #shut}), so no process leaves the word holding its token when it
 * detaches. (Taking the word over from a live process that had detached, as before, broke mutual exclusion: process B
 * read A's token, judged A detached, and was descheduled before its CAS; A opened the heap again and took the word
 * anew with the same token; B's CAS from that token then succeeded, and both allocated at once. And a close that cut
 * A's allocation short left A's token in the word, so once A opened the heap again every allocation in every process
 * timed out while A kept it open.)
 *
 * <p>The gate. Every CAS that may take the word through this object is made between a count of it ({@link #inside}, up
 * by one) and a look at {@link #shutters}; {@link #shut} counts itself there, then reads the count. Both are volatile,
 * so in the synchronization order one of the two sees the other: either the taker sees the close and makes no CAS,
 * or the closer sees the count and waits until the taker has failed its CAS or released the word. A taker counts
 * itself only around its CAS, never while it waits for a holder, so a close never waits for a wait. Closes are
 * counted, not flagged: a heap's close and a close of its memory may run at once, and the one that fails and
 * {@linkplain #reopen reopens} must not open the gate under the other.
 *
 * <p>Memory ordering: acquiring is a volatile CAS (acquire semantics for the protected data); releasing is a CAS back
 * to 0 (release semantics), so data written while holding the lock is visible to the next holder.
 */
public final class OwnerLock {
    // VarHandle mechanics
    private static final VarHandle WORD = JAVA_LONG.varHandle();

    private static final long LIVENESS_CHECK_NANOS = 1_000_000;

    private final MemorySegment segment;
    private final long offset;
    /** Threads of this process in a CAS that may take the word through this object, or holding it through it. */
    private final AtomicInteger inside = new AtomicInteger();
    /** Closes between their {@link #shut} and a {@link #reopen}: no CAS takes the word through this object unless 0. */
    private final AtomicInteger shutters = new AtomicInteger();
    /** The thread holding the word through this object, or null: written by that thread only. */
    private volatile Thread holder;

    /**
     * @param segment memory holding the lock word
     * @param offset  offset of the 8-byte aligned lock word
     */
    public OwnerLock(MemorySegment segment, long offset) {
        this.segment = segment;
        this.offset = Checks.aligned("lock offset", offset, Long.BYTES);
    }

    /**
     * Takes the lock, taking it over from a dead owner if need be. While {@link #shut} (this view closing), waits
     * without taking it, and without timing out: for the close's end, once the memory is closed, this throws.
     *
     * @param timeout how long to wait for a live owner
     * @param what    what the lock guards, for the exception message
     * @throws ShmException          if a live owner holds it longer than {@code timeout}
     * @throws IllegalStateException if the memory is closed
     */
    public void lock(Duration timeout, String what) {
        long me = ProcessIdentity.currentToken();
        long start = System.nanoTime();
        long nextLivenessCheck = start + LIVENESS_CHECK_NANOS;
        int step = 0;
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                long owner = (long) WORD.getVolatile(segment, offset); // throws once the memory is closed
                if (owner == 0) {
                    if (tryTake(0L, me)) {
                        return;
                    }
                    if (shutters.get() == 0) {
                        continue; // another thread or process took it first
                    }
                }
                long now = System.nanoTime();
                if (owner != 0 && now - nextLivenessCheck >= 0) {
                    nextLivenessCheck = now + LIVENESS_CHECK_NANOS;
                    if (!ProcessIdentity.isAlive(owner) && tryTake(owner, me)) {
                        // from a dead owner: its half-done work was never published
                        return;
                    }
                    // not while shut: a dead owner's word is not taken then, and the close's end decides
                    if (now - start > Timeouts.nanos(timeout) && shutters.get() == 0) {
                        throw new ShmException("timed out after " + timeout.toMillis() + " ms waiting for the lock of "
                                + what + ", held by live " + ProcessIdentity.describe(owner));
                    }
                }
                interrupted |= Backoff.takeInterrupt(); // not interruptible: else each park would return at once
                step = Backoff.idle(step, Long.MAX_VALUE);
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * One CAS of the word from {@code expected} to {@code me}, unless {@link #shut}: counted in {@link #inside} before
     * {@link #shutters} is read (see the class comment), and for as long as the word is held.
     *
     * @return true if the caller holds the word now
     */
    private boolean tryTake(long expected, long me) {
        inside.incrementAndGet(); // volatile, before the closes' read: a closer that missed it sees this count
        boolean taken = false;
        try {
            // Successful CAS is the linearization point of the take
            taken = shutters.get() == 0 && WORD.compareAndSet(segment, offset, expected, me);
        } finally {
            if (taken) {
                holder = Thread.currentThread();
            } else {
                inside.decrementAndGet();
            }
        }
        return taken;
    }

    /**
     * Releases the lock, held by the current thread.
     *
     * @throws IllegalMonitorStateException if this process does not hold it
     */
    public void unlock() {
        try {
            long me = ProcessIdentity.currentToken();
            if (!WORD.compareAndSet(segment, offset, me, 0L)) {
                throw new IllegalMonitorStateException("lock at offset " + offset + " is not held by this process");
            }
        } finally {
            holder = null;
            inside.decrementAndGet(); // after the release: a close waiting for it may unmap the memory now
        }
    }

    /**
     * Stops this object taking the word and waits for the thread of this process that holds it through this object
     * (or is in the instant of a CAS) to release it: called before the memory is closed, so that a close never cuts a
     * hold short. Returns at once if none does; a wait for another process's holder is not waited for. The critical
     * section runs a caller's code (a heap block's initializer), so the wait is bounded.
     *
     * @param waitNanos how long to wait for the holder
     * @param what      what is being closed, for the exception message
     * @throws IllegalStateException if called by the thread that holds the word, or if it still holds it after
     *                               {@code waitNanos}: this shut is then undone ({@link #reopen()})
     */
    public void shut(long waitNanos, String what) {
        if (holder == Thread.currentThread()) {
            throw new IllegalStateException(what + " cannot be closed by the thread that holds its allocation lock "
                    + "(from a block's initializer): close it once the allocation has returned");
        }
        shutters.incrementAndGet(); // volatile, before the count's read: a taker that missed it is counted
        long start = System.nanoTime();
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (inside.get() != 0) {
                if (System.nanoTime() - start > waitNanos) {
                    reopen();
                    Thread stuck = holder;
                    throw new IllegalStateException(what + " cannot be closed: an allocation of this process ("
                            + (stuck != null ? stuck : "a thread") + ") still holds its allocation lock after "
                            + waitNanos / 1_000_000 + " ms; it stays open: close it again once that allocation ends");
                }
                interrupted |= Backoff.takeInterrupt(); // close is not interruptible: else the park returns at once
                LockSupport.parkNanos(100_000);
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /** Undoes one {@link #shut} that returned, whose close failed: the word is taken again once no close is left. */
    public void reopen() {
        shutters.decrementAndGet();
    }
}
