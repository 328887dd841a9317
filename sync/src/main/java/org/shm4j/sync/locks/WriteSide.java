package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.sync.internal.DeadlockWatch;
import org.shm4j.sync.internal.GiveUpCheck;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Optional;
import java.util.concurrent.locks.Condition;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.RW_READER_RELEASES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_READER_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_WRITER_FLAG;
import static org.shm4j.sync.internal.SyncLayout.RW_WRITER_OFFSET;
import static org.shm4j.sync.locks.ReadSide.holdsOffset;

/**
 * The write lock of a {@link SharedReadWriteLock}: its exclusive side, which takes the writer's mutex, flags the
 * reader processes and waits for their holds to go, and gives the mutex back after a view's close cut a write call
 * short. "Protocol" below is the section of {@link SharedReadWriteLock}'s class Javadoc, which also holds the layout.
 */
final class WriteSide extends TimedLock {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment segment; // its own: see ReadSide
    /**
     * The readerSlots bits whose writer flag this process's write-lock holder set: plain, since only the holder uses
     * it and the mutex orders one holder's accesses before the next's.
     */
    private int flagged;
    private final SharedReadWriteLock lock;
    private final RobustMutex writer;
    private final ProcessSlots slots;
    /** The liveness check of callers that give up before their wait's own check comes (shared with the readers). */
    private final GiveUpCheck giveUps;
    private final WaitingWriters waitingWriters;
    private final ReadSide readLock;
    /** What the whole read-write lock is, for messages. */
    private final String lockDescription;
    private final SharedHeap heap; // where newCondition() finds its condition; null if wrapped
    private final String name;
    private final NewConditions conditions = new NewConditions();

    /**
     * @param lock           the read-write lock whose write side this is
     * @param segment        the lock's memory
     * @param watch          deadlock detection of writers' waits for writers, or null if they take no part
     * @param writer         the writer's mutex
     * @param slots          the lock's process slots
     * @param giveUps        the liveness check of callers that give up early, shared with the read side
     * @param waitingWriters this process's waiting writers of the lock
     * @param readLock       the lock's read side
     * @param description    what the read-write lock is, for messages
     * @param heap           the lock's heap, or null if wrapped
     * @param name           the lock's name in {@code heap}, or null if wrapped
     */
    WriteSide(SharedReadWriteLock lock, MemorySegment segment, DeadlockWatch watch, RobustMutex writer,
              ProcessSlots slots, GiveUpCheck giveUps, WaitingWriters waitingWriters, ReadSide readLock,
              String description, SharedHeap heap, String name) {
        super(description + " (write)", watch, segment);
        this.segment = segment;
        this.lock = lock;
        this.writer = writer;
        this.slots = slots;
        this.giveUps = giveUps;
        this.waitingWriters = waitingWriters;
        this.readLock = readLock;
        this.lockDescription = description;
        this.heap = heap;
        this.name = name;
    }

    @Override
    boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        MemorySegment s = segment;
        if (RobustMutex.tryAcquire(s, RW_WRITER_OFFSET)) {
            try {
                return !flagReaders(s) || drainReaders(timeoutNanos, interruptible);
            } catch (IllegalStateException closed) { // this view closed under the call: not on the fast path
                throw giveBackWriter(closed);
            }
        }
        return awaitWrite(timeoutNanos, interruptible); // apart, so that the fast path inlines
    }

    @Override
    void release() {
        MemorySegment s = segment;
        if (flagged != 0) { // the flags go before the word, and only by the holder: a refused unlock keeps them
            unflagReaders(s);
        }
        RobustMutex.release(s, RW_WRITER_OFFSET, true, description());
    }

    /**
     * Returns a new condition of the write lock, numbered as {@link SharedMutex#newCondition()} numbers a lock's:
     * the first call on this lock object returns the {@link SharedCondition} named
     * {@code "<lock name>.condition"} in the lock's heap, the {@code n}-th {@code "<lock name>.condition.<n>"}.
     * (The read lock has none: a condition needs an exclusive lock.)
     *
     * @throws UnsupportedOperationException if the lock was wrapped over raw memory
     */
    @Override
    public Condition newCondition() {
        if (heap == null) {
            throw new UnsupportedOperationException(description() + " is not in a heap: it has no condition");
        }
        return conditions.next("read-write lock", name,
                named -> whileOpen(() -> SharedCondition.openOrCreate(heap, named, lock)));
    }

    @Override
    Optional<LockOwner> holder() {
        return lock.writer();
    }

    /**
     * Sets the writer flag in every announced reader slot, for the current thread, which has just taken the writer's
     * word; remembers them in {@link #flagged} (left 0 while no process has announced: readerSlots is never cleared).
     *
     * @return true if some slot has read holds
     */
    private boolean flagReaders(MemorySegment s) {
        int announced = (int) INT.getVolatile(s, RW_READER_SLOTS_OFFSET); // after the word's CAS: see Protocol
        return announced != 0 && flagAnnounced(s, announced); // apart, so that the write lock's fast path inlines
    }

    private boolean flagAnnounced(MemorySegment s, int announced) {
        boolean in = false;
        for (int left = announced; left != 0; left &= left - 1) {
            long holds = holdsOffset(Integer.numberOfTrailingZeros(left));
            in |= SyncLayout.rwReadHolds((int) INT.getAndBitwiseOr(s, holds, RW_WRITER_FLAG)) != 0;
        }
        flagged = announced;
        return in;
    }

    /**
     * Clears the writer flags {@link #flagged} names, before the writer's word is released.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the write lock (the flags stay)
     */
    private void unflagReaders(MemorySegment s) {
        writer.requireHeldByCurrentThread(description());
        int left = flagged;
        flagged = 0;
        for (; left != 0; left &= left - 1) {
            // volatile: the guarded writes before it reach a reader whose add reads the cleared word
            INT.getAndBitwiseAnd(s, holdsOffset(Integer.numberOfTrailingZeros(left)), ~RW_WRITER_FLAG);
        }
    }

    /**
     * @return true if some process that ever read-locked has a read-hold count that is not 0 (a count briefly -1
     *         during a refused unlock counts too), read after the writer's CAS
     */
    private boolean readersIn() {
        MemorySegment s = segment;
        for (int left = (int) INT.getVolatile(s, RW_READER_SLOTS_OFFSET); left != 0; left &= left - 1) {
            int holds = (int) INT.getVolatile(s, holdsOffset(Integer.numberOfTrailingZeros(left)));
            if (SyncLayout.rwReadHolds(holds) != 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * For a write lock call that took the writer's mutex and then met this view closed by another thread: the call
     * throws, so its caller holds nothing, and no one would clear the writer flags it set or release the mutex.
     * Through another open view of the heap (each in turn while they close, as {@code ClosedViewRelease} does), if
     * this process has one and the current thread still holds the mutex there, clears the writer flag of every
     * announced reader slot (its own, perhaps not all recorded in {@link #flagged}; any other is a dead writer's stale
     * flag, which a holder of the mutex may clear) and releases the mutex, waking readers and writers. Not marked
     * inconsistent: the writer never entered.
     *
     * @return {@code closed}, a failure here other than a close added to it
     */
    private IllegalStateException giveBackWriter(IllegalStateException closed) {
        // a release cut short by the next view's close names the caller again in the one after (see RobustMutex)
        HeapMappings.throughAnotherOpenView(segment, view -> {
            if (RobustMutex.isHeldByCurrentThread(view, RW_WRITER_OFFSET)) {
                flagged = 0;
                for (int left = (int) INT.getVolatile(view, RW_READER_SLOTS_OFFSET); left != 0; left &= left - 1) {
                    // volatile: before the release below, as in unflagReaders
                    INT.getAndBitwiseAnd(view, holdsOffset(Integer.numberOfTrailingZeros(left)), ~RW_WRITER_FLAG);
                }
                try {
                    RobustMutex.release(view, RW_WRITER_OFFSET, true, description());
                } catch (IllegalStateException alsoClosed) { // for throughAnotherOpenView: it tries the next view
                    throw alsoClosed;
                } catch (RuntimeException failed) { // the word changed meanwhile: the caller's close stays
                    closed.addSuppressed(failed);
                }
            }
            return true;
        });
        return closed;
    }

    /** The slow path of the write lock: counts itself as a waiting writer while it waits for the mutex. */
    private boolean awaitWrite(long timeoutNanos, boolean interruptible) throws InterruptedException {
        refuseReadHolder(); // before it waits: a writer holding the mutex would wait for this thread's hold
        int me = slots.mine();
        long start = System.nanoTime();
        waitingWriters.countWaitingWriter(me, 1); // from now on new readers wait
        boolean locked = false;
        try {
            try {
                locked = writer.acquire(timeoutNanos, interruptible);
            } finally {
                waitingWriters.countWaitingWriter(me, -1);
            }
            return locked && (!flagReaders(segment) || drainReaders(timeoutNanos < 0 ? -1
                    : Math.max(0, timeoutNanos - (System.nanoTime() - start)), interruptible));
        } catch (IllegalStateException closed) { // this view closed under the call: see giveBackWriter
            throw locked ? giveBackWriter(closed) : closed;
        }
    }

    /**
     * @throws IllegalMonitorStateException if the current thread holds the read lock: the write lock would wait for
     *                                      its hold (no upgrade)
     */
    private void refuseReadHolder() {
        if (readLock.heldByCurrentThread() > 0) {
            throw new IllegalMonitorStateException(description() + " cannot be taken by a thread holding "
                    + "the read lock (no upgrade: it would wait for its own read hold)");
        }
    }

    /**
     * Holding the writer's mutex, with the readers flagged, waits for readers to leave, marked as entering (a death
     * here leaves nothing to repair); clears the flags and releases the mutex, still marked, if they do not leave in
     * time, or if the current thread is one of them (no upgrade).
     */
    private boolean drainReaders(long timeoutNanos, boolean interruptible) throws InterruptedException {
        writer.markEntering();
        boolean drained = false;
        try {
            refuseReadHolder(); // here, not on the fast path: with a read hold of its own, some slot has holds
            drained = awaitNoReaders(timeoutNanos, interruptible);
        } finally {
            if (drained) {
                writer.clearEntering(); // a full fence: the guarded writes come after it
            } else {
                unflagReaders(segment); // before the release: after it, the flags may be the next writer's
                writer.release(true, lockDescription);
            }
        }
        return drained;
    }

    private boolean awaitNoReaders(long timeoutNanos, boolean interruptible) throws InterruptedException {
        long start = System.nanoTime();
        long nextLivenessCheck = start + RobustMutex.LIVENESS_NANOS;
        int step = 0;
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                int releases = (int) INT.getVolatile(segment, RW_READER_RELEASES_OFFSET); // read before the holds
                if (!readersIn()) {
                    return true;
                }
                interrupted |= Backoff.takeInterrupt(interruptible);
                long now = System.nanoTime();
                if (now - nextLivenessCheck >= 0) {
                    nextLivenessCheck = now + RobustMutex.LIVENESS_NANOS;
                    slots.reclaimDead(); // drops the read holds of dead processes, which bumps no release count
                    continue; // so look at the holds again now, not after one more sleep on an unchanged word
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
                if (left <= 0) {
                    if (giveUps.due(now)) { // a wait too short for the check above
                        slots.reclaimDead();
                        continue;
                    }
                    return false;
                }
                step = Waits.idle(step, segment, RW_READER_RELEASES_OFFSET, releases,
                        Math.min(left, nextLivenessCheck - now));
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }
}
