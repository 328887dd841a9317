package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.DeadlockWatch;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.WaitLayout;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * What {@link SharedLock} and {@link SharedReentrantLock} share: a 64-byte block whose first 40 bytes are a robust
 * mutex (the owner's pid, start time and thread, a futex wake word, the owner-died mark and the take-over count; the
 * table is in {@link SharedLock}'s documentation), held by one thread of one process at a time, taken over when its
 * owner's process dies, and the owner's {@link #newCondition() condition}. A {@link SharedCondition} is made for
 * either kind.
 */
public abstract sealed class SharedMutex extends TimedLock permits SharedLock, SharedReentrantLock {
    /** The block's size: one cache line. */
    static final long SIZE = SyncLayout.CACHE_LINE;

    /**
     * The block, its mutex at offset 0. The uncontended paths use it rather than {@link #mutex}'s own: each object
     * between the caller and the segment is one more dependent load, repeated after every atomic.
     */
    final MemorySegment segment;
    final RobustMutex mutex; // the slow paths: waiting, take-over, diagnostics
    private final SharedHeap heap; // where newCondition() finds the lock's condition; null if wrapped
    private final String name;
    private final String kind;
    private final NewConditions conditions = new NewConditions();

    /**
     * Checks the mutex's fields; the subclass checks the rest of the block.
     *
     * @param kind what the lock is ({@code "lock"}, {@code "reentrant lock"}), for messages
     * @param heap the heap holding it, or null if wrapped over raw memory
     * @param name its name in {@code heap}, or null if wrapped
     */
    SharedMutex(MemorySegment segment, String kind, String description, SharedHeap heap, String name) {
        super(description, DeadlockWatch.of(heap, segment, WaitLayout.KIND_LOCK, description), segment);
        RobustMutex.check(segment, 0, description);
        this.segment = segment;
        this.mutex = new RobustMutex(segment, 0, description, watch());
        this.heap = heap;
        this.name = name;
        this.kind = kind;
    }

    @Override
    void lockAfterSignal() {
        try {
            mutex.acquireAfterSignal();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    Optional<LockOwner> holder() {
        return owner();
    }

    /** @return true if the current thread holds the lock */
    public boolean isHeldByCurrentThread() {
        try { // not through whileOpen: a condition's await and signal call this, and its lambda would allocate
            return mutex.isHeldByCurrentThread();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return true if some thread of some process holds the lock */
    public boolean isLocked() {
        return whileOpen(mutex::isHeld);
    }

    /** @return who holds the lock now, if anyone */
    public Optional<LockOwner> owner() {
        return whileOpen(mutex::owner);
    }

    /** @return false after the lock was taken over from a dead owner, until {@link #markConsistent()} */
    public boolean isConsistent() {
        return whileOpen(mutex::isConsistent);
    }

    /**
     * Declares the protected data repaired after an owner died.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     */
    public void markConsistent() {
        if (!isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException(description() + " must be held to mark it consistent");
        }
        whileOpen(() -> {
            mutex.markConsistent();
            return null;
        });
    }

    /**
     * Returns how many times this lock was taken over from a dead owner. A take-over is counted after the CAS that
     * takes the lock: a taker killed between them (a few instructions) is a dead owner in turn, whose take-over the
     * next taker counts, so two owners dying one after the other there count as one. The owner-died mark
     * ({@link #isConsistent()}) is not lost.
     *
     * @return the take-overs counted
     */
    public long recoveries() {
        return whileOpen(mutex::recoveries);
    }

    /**
     * Returns a new condition of this lock, as {@link java.util.concurrent.locks.ReentrantLock#newCondition()} does,
     * which other processes find by the order of their calls: the first call on this lock object returns the
     * {@link SharedCondition} named {@code "<lock name>.condition"} in the lock's heap, the {@code n}-th one
     * {@code "<lock name>.condition.<n>"}, each created by the first caller in any process. So processes running the
     * same code ({@code notFull = lock.newCondition(); notEmpty = lock.newCondition();}) share each condition, and two
     * conditions of one lock never take each other's signals. Where processes make them in different orders, name
     * them: {@link SharedCondition#openOrCreate(SharedHeap, String, SharedMutex)}. Each condition is a heap block,
     * which stays: make a lock's conditions once, not per use.
     *
     * @throws UnsupportedOperationException if this lock was wrapped over raw memory: lay a condition out beside it
     *                                       with {@link SharedCondition#format}
     */
    @Override
    public SharedCondition newCondition() {
        if (heap == null) {
            throw new UnsupportedOperationException(description() + " is not in a heap: lay its condition out with "
                    + "SharedCondition.format(segment, offset, lock)");
        }
        return conditions.next(kind, name, named -> whileOpen(() -> SharedCondition.openOrCreate(heap, named, this)));
    }
}
