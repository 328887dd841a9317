package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.REENTRANT_HOLDS_OFFSET;

/**
 * A reentrant mutual-exclusion lock in shared memory, for the threads of every process that maps it, that survives
 * the death of its owner: Python's {@code multiprocessing.RLock}, {@code ReentrantLock}'s semantics. The thread that
 * holds it may take it again (each {@code lock} or successful {@code tryLock} adds a hold, each {@code unlock} takes
 * one off, and the last frees it); everything else is {@link SharedLock}'s: futex waits, owner-death take-over,
 * deadlock detection, conditions. A {@linkplain #newCondition() condition}'s {@code await} releases every hold and
 * restores them when it returns, as {@code ReentrantLock}'s conditions and Python's {@code Condition(RLock())} do.
 *
 * <h2>Layout (heap block type {@code 0x53480024} v1, 64 bytes, 64-aligned, native byte order)</h2>
 * <table class="striped">
 * <caption>SharedReentrantLock block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>40</td><td>mutex</td><td>{@link SharedLock}'s word, owner thread, flags, wakes, heldSince and
 *     recoveries, at the same offsets and with the same meaning</td><td>as in {@link SharedLock}</td></tr>
 * <tr><td>40</td><td>4</td><td>holds</td><td>how many times the owner holds the lock: 1 after a first acquisition
 *     or a take-over from a dead owner (whose count is dropped), one more for each nested acquisition, 0 once
 *     released; never negative</td><td>opaque: written by the owner thread only, while it holds the word (a new
 *     owner writes it after its CAS, a releaser before its release store), read by the owner and by diagnostics</td>
 *     </tr>
 * <tr><td>44</td><td>20</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 * The tag differs from {@link SharedLock}'s, so a lock is opened as the kind it was made: a process that took a
 * reentrant lock as a plain one would refuse its own nested acquisitions, and one that took a plain lock as
 * reentrant would let them through where other processes count on exclusion.
 *
 * <h2>Owner death</h2>
 * As {@link SharedLock}: when the owner process dies holding the lock, however many holds it had, the next waiter
 * takes it over within about 50 ms with one hold, and finds it marked inconsistent until {@link #markConsistent()}.
 * Only the death of a whole process is detected, not of a thread of a live process (a thread that ends holding the
 * lock keeps it held, as with {@code ReentrantLock}).
 *
 * <p>Memory consistency effects: as for {@link java.util.concurrent.locks.ReentrantLock}, actions before the
 * {@link #unlock()} that frees the lock, in one thread of any process, happen-before actions after a later
 * acquisition by another thread.
 */
public final class SharedReentrantLock extends SharedMutex {
    private static final String KIND = "reentrant lock";

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private SharedReentrantLock(MemorySegment segment, String description, SharedHeap heap, String name) {
        super(segment, KIND, description, heap, name);
        int holds = (int) INT.getOpaque(segment, REENTRANT_HOLDS_OFFSET); // opaque: its owner may be writing it
        if (holds < 0) {
            throw Blocks.corrupt(description, "holds", holds, ">= 0");
        }
        Blocks.requireZero(segment, REENTRANT_HOLDS_OFFSET + Integer.BYTES, SIZE, description);
    }

    /**
     * Creates a free reentrant lock named {@code name} in {@code heap}.
     *
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedReentrantLock create(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedReentrantLock(Blocks.create(heap, name, SyncLayout.REENTRANT_LOCK,
                SIZE, s -> { }), named(name), heap, name));
    }

    /**
     * Opens the reentrant lock named {@code name}, checking its bytes as {@link SharedLock#open} does, and that its
     * hold count is not negative and bytes 44..63 are zero.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a reentrant lock (a {@link SharedLock}
     *                                                 included)
     * @throws org.shm4j.core.ShmFormatException       if the block holds a state no reentrant lock has
     */
    public static SharedReentrantLock open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedReentrantLock(Blocks.open(heap, name, SyncLayout.REENTRANT_LOCK,
                SIZE, KIND), named(name), heap, name));
    }

    /** Opens the reentrant lock named {@code name}, or creates it free. */
    public static SharedReentrantLock openOrCreate(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedReentrantLock(Blocks.openOrCreate(heap, name,
                SyncLayout.REENTRANT_LOCK, SIZE, s -> { }), named(name), heap, name));
    }

    /**
     * Views the 64 bytes at {@code offset} of a native segment as a reentrant lock; all-zero bytes are a free lock.
     *
     * @throws IllegalArgumentException          if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException         if the 64 bytes are not inside the segment
     * @throws org.shm4j.core.ShmFormatException if the bytes hold a state no reentrant lock has (see {@link #open})
     */
    public static SharedReentrantLock wrap(MemorySegment segment, long offset) {
        MemorySegment slice = Blocks.wrapped(Blocks.wrap(segment, offset, SIZE, Long.BYTES, KIND),
                SyncLayout.REENTRANT_LOCK);
        return new SharedReentrantLock(slice, Blocks.describe(KIND, slice.address()), null, null);
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }

    /**
     * Takes the lock if it is free or already held by the current thread (one more hold), or takes it over if its
     * owner died (that is checked at most once per 50 ms per lock object, since it costs a system call), without
     * waiting.
     *
     * <p>Does not wait, but for one case: when another thread of this process closes the heap view this lock lives
     * in during the call, the call throws {@link IllegalStateException}, and if the close met the CAS that takes the
     * lock (the JDK may report it after the CAS took effect) while this process keeps another view of the heap open,
     * the call first watches the lock through that view for up to 100 ms, parked (an interrupt does not end the watch,
     * and stays set): another thread of this process whose CAS took the lock names itself within that bound and keeps
     * it, else the lock this call's CAS may have taken is given back. The watch ends at once if the lock is free,
     * another process's, or held by a named thread.
     *
     * @throws IllegalStateException if the current thread already holds it {@value Integer#MAX_VALUE} times
     */
    @Override
    public boolean tryLock() {
        try {
            MemorySegment s = segment;
            if (RobustMutex.tryAcquire(s, 0)) {
                return holdFirst(s);
            }
            if (RobustMutex.isHeldByCurrentThread(s, 0)) {
                holdAgain(s);
                return true;
            }
            return mutex.takeOverOnGiveUp() && holdFirst(s);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        MemorySegment s = segment;
        if (RobustMutex.tryAcquire(s, 0)) {
            return holdFirst(s);
        }
        if (RobustMutex.isHeldByCurrentThread(s, 0)) { // before any wait: the mutex refuses its own holder
            holdAgain(s);
            return true;
        }
        return mutex.acquireContended(timeoutNanos, interruptible) && holdFirst(s);
    }

    /**
     * Takes one hold off; the last one frees the lock and wakes a blocked waiter, if any.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock, saying who does
     */
    @Override
    void release() {
        MemorySegment s = segment;
        RobustMutex.requireHeldByCurrentThread(s, 0, description()); // before the count: the owner's alone
        int holds = (int) INT.getOpaque(s, REENTRANT_HOLDS_OFFSET); // opaque: only this thread writes it now
        if (holds > 1) {
            INT.setOpaque(s, REENTRANT_HOLDS_OFFSET, holds - 1); // opaque: the owner's own field
            return;
        }
        INT.setOpaque(s, REENTRANT_HOLDS_OFFSET, 0); // opaque: the release store below orders it before the next owner
        RobustMutex.release(s, 0, false, description());
    }

    @Override
    int releaseForWait() {
        MemorySegment s = segment;
        try {
            int holds = (int) INT.getOpaque(s, REENTRANT_HOLDS_OFFSET); // opaque: the caller checked it holds it
            INT.setOpaque(s, REENTRANT_HOLDS_OFFSET, 0); // opaque: ordered by the release below
            RobustMutex.release(s, 0, false, description());
            return Math.max(holds, 1);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** Takes the lock again with the holds the wait released, a take-over from a dead owner included. */
    @Override
    void reacquireAfterWait(int holds) {
        lockAfterSignal();
        try {
            INT.setOpaque(segment, REENTRANT_HOLDS_OFFSET, holds); // opaque: the owner's own field, as in holdFirst
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    int holdsBeforeWithLock() {
        return getHoldCount();
    }

    /**
     * The unlock of a {@code withLock} call whose thread held the lock {@code outer} times before it: when another
     * thread's close of this view cuts it short, the call throws, so the hold it took must not outlive it. Through
     * another open view of the heap, if this process has one and the current thread still holds the lock there, the
     * count is set back to {@code outer} (the JDK may report the close after the unlock's own count store ran, or
     * before); if that is 0, the lock is released as {@link SharedLock#unlockInCall()} releases, marked inconsistent
     * (the close may have cut the action short). The outer holds stay the thread's, unmarked: its own section goes on.
     */
    @Override
    void unlockInWithLock(int outer) {
        try {
            unlock();
        } catch (IllegalStateException closed) {
            if (!segment.scope().isAlive()) { // not a damaged word's failure in an open view: that one is thrown
                giveBackThroughAnotherView(outer, closed);
            }
            throw closed;
        }
    }

    private void giveBackThroughAnotherView(int outer, IllegalStateException closed) {
        // its memory in each open view in turn while they close
        HeapMappings.throughAnotherOpenView(segment, view -> {
            if (RobustMutex.isHeldByCurrentThread(view, 0)) {
                INT.setOpaque(view, REENTRANT_HOLDS_OFFSET, outer); // opaque: the owner's own field, as in release
            }
            return true;
        });
        if (outer == 0) { // through each open view in turn too, if the current thread still holds it
            mutex.releaseAfter(closed, false, description()); // a failure of its own is added to closed
        }
    }

    /**
     * @return how many times the current thread holds this lock: 0 if it does not ({@code ReentrantLock}'s
     *         {@code getHoldCount})
     */
    public int getHoldCount() {
        return isHeldByCurrentThread() ? whileOpen(() -> (int) INT.getOpaque(segment, REENTRANT_HOLDS_OFFSET)) : 0;
    }

    /**
     * Records the first hold of the current thread, which has just taken the mutex. If another thread closed this
     * view meanwhile, the lock call throws, so its caller holds nothing: the mutex is released through another open
     * view of the heap (if this process has one) before it does, not left held by a thread that will never unlock.
     *
     * @return true
     */
    private boolean holdFirst(MemorySegment s) {
        try {
            // opaque: the owner's own field, written after the CAS that made it the owner (a dead owner's count
            // dropped)
            INT.setOpaque(s, REENTRANT_HOLDS_OFFSET, 1);
        } catch (IllegalStateException closed) {
            mutex.releaseTakenAfter(closed);
            throw closed;
        }
        return true;
    }

    private void holdAgain(MemorySegment s) {
        int holds = (int) INT.getOpaque(s, REENTRANT_HOLDS_OFFSET); // opaque: only this thread writes it now
        if (holds == Integer.MAX_VALUE) {
            throw new IllegalStateException(description() + ": already held " + Integer.MAX_VALUE
                    + " times by this thread, the most a reentrant lock counts");
        }
        // at least 2: a count of 0 here is a damaged one, and this thread holds the lock once before this hold
        INT.setOpaque(s, REENTRANT_HOLDS_OFFSET, Math.max(holds, 1) + 1);
    }

    @Override
    String heldNote() {
        return ", " + INT.getOpaque(segment, REENTRANT_HOLDS_OFFSET) + " holds"; // opaque: a snapshot for display
    }
}
