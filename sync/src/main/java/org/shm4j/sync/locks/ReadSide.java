package org.shm4j.sync.locks;

import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.GiveUpCheck;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WORD;
import static org.shm4j.sync.internal.SyncLayout.RW_READER_RELEASES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_READER_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_READ_HOLD;
import static org.shm4j.sync.internal.SyncLayout.RW_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_WAITING_WRITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_WRITER_FLAG;
import static org.shm4j.sync.internal.SyncLayout.RW_WRITER_OFFSET;

/**
 * The read lock of a {@link SharedReadWriteLock}: its shared side, with the read holds this process counts per
 * thread, the fast and slow paths of a read lock and its unlock, and the recount after a view's close cut a read call
 * short. "Protocol" and "Process death" below are the sections of {@link SharedReadWriteLock}'s class Javadoc, which
 * also holds the layout. It holds the segment and this process's hold offset itself: each object between the caller
 * and the segment is one more dependent load, repeated after every atomic.
 */
final class ReadSide extends TimedLock {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final long WRITER_WORD = RW_WRITER_OFFSET + MUTEX_WORD;

    private final MemorySegment segment;
    /** What names the lock in a thread's {@link ReadHolds}: see {@link ReadHolds.Counter#owner}. */
    private final Object owner;
    private final long ownerOffset;
    /**
     * Offset of this process's read-hold word, 0 until a read lock under the checked rule succeeded after its slot
     * was announced in readerSlots (see Protocol); from then on, read locks check the writer flag alone. Volatile:
     * its write publishes that success to the other threads of this process.
     */
    private volatile long holds;
    /** The counter of the thread that used this object last: plain, see {@link ReadHolds}. */
    private ReadHolds.Counter lastReader;
    private final SharedReadWriteLock lock;
    private final RobustMutex writer;
    private final ProcessSlots slots;
    /** The liveness check of callers that give up before their wait's own check comes (shared with the writers). */
    private final GiveUpCheck giveUps;
    private final WaitingWriters waitingWriters;
    /** What the whole read-write lock is, for messages. */
    private final String lockDescription;

    /**
     * @param lock           the read-write lock whose read side this is
     * @param segment        the lock's memory
     * @param writer         the writer's mutex
     * @param slots          the lock's process slots
     * @param giveUps        the liveness check of callers that give up early, shared with the write side
     * @param waitingWriters this process's waiting writers of the lock
     * @param description    what the read-write lock is, for messages
     */
    ReadSide(SharedReadWriteLock lock, MemorySegment segment, RobustMutex writer, ProcessSlots slots,
             GiveUpCheck giveUps, WaitingWriters waitingWriters, String description) {
        super(description + " (read)", null, segment); // readers take no part in deadlock detection
        ReadHolds.initialize(); // here, shallow: a read acquire must not be the first to initialize it
        this.segment = segment;
        this.owner = waitingWriters.key().owner();
        this.ownerOffset = waitingWriters.key().offset();
        this.lock = lock;
        this.writer = writer;
        this.slots = slots;
        this.giveUps = giveUps;
        this.waitingWriters = waitingWriters;
        this.lockDescription = description;
    }

    /** @return the current thread's read holds of this lock */
    ReadHolds.Counter mine() {
        ReadHolds.Counter last = lastReader;
        return last != null && last.isMine() ? last : lookUp(); // small, so that it inlines
    }

    private ReadHolds.Counter lookUp() {
        ReadHolds.Counter c = ReadHolds.of(owner, ownerOffset);
        lastReader = c; // only on a change: a store on every call would pass this line between reader threads
        return c;
    }

    /** @return the current thread's read holds, looked up without taking the cache from the last reader */
    int heldByCurrentThread() {
        ReadHolds.Counter last = lastReader;
        return (last != null && last.isMine() ? last : ReadHolds.of(owner, ownerOffset)).holds;
    }

    @Override
    boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        ReadHolds.Counter mine = mine();
        long offset = holds;
        // no check for a writer before the add: it would cost every uncontended read lock + unlock about 1.2 ns
        // (one more checked access), to spare a reader that comes while a writer holds one add, back-out and wake
        if (offset != 0 && mine.holds == 0 && mine.enter()) { // not entered: a recount runs, wait in the slow path
            try {
                if (tryRead(segment, offset)) {
                    mine.holds = 1;
                    return true;
                }
            } catch (IllegalStateException closed) {
                throw cutShort(mine, offset, closed);
            } finally {
                mine.leave();
            }
        }
        return acquireSlowly(mine, offset, timeoutNanos, interruptible); // apart, so that the fast path inlines
    }

    private boolean acquireSlowly(ReadHolds.Counter mine, long offset, long timeoutNanos, boolean interruptible)
            throws InterruptedException {
        if (mine.holds > 0) { // reentered: a writer waits for this hold to go anyway, so this one may not wait
            long mineAt = offset != 0 ? offset : announceReader();
            enter(mine);
            try {
                int before = (int) INT.getAndAdd(segment, mineAt, RW_READ_HOLD); // volatile: as tryRead
                if (SyncLayout.rwReadHolds(before) > 0) {
                    refuseHoldPastLimit(segment, mineAt, before);
                    mine.holds++;
                    return true;
                }
                // the process's holds were dropped (it was taken for gone: see release): this thread holds none
                releaseRead(segment, mineAt, true);
                mine.holds = 0;
            } catch (IllegalStateException closed) {
                throw cutShort(mine, mineAt, closed);
            } finally {
                mine.leave();
            }
        }
        if (offset != 0) {
            return awaitRead(mine, offset, timeoutNanos, interruptible);
        }
        offset = announceReader();
        if (!awaitRead(mine, offset, timeoutNanos, interruptible)) { // the checked rule: see Protocol
            return false;
        }
        holds = offset;
        return true;
    }

    @Override
    void release() {
        ReadHolds.Counter mine = mine();
        int held = mine.holds;
        if (held == 0) {
            INT.getVolatile(segment, RW_READER_SLOTS_OFFSET); // read to throw first if closed, as other calls do
            throw new IllegalMonitorStateException(description() + " is not held by this thread");
        }
        long offset = holds;
        long at = offset != 0 ? offset : announceReader();
        enter(mine);
        try {
            releaseRead(segment, at, false);
            mine.holds = held - 1; // from the value read before the atomic: a read after it would wait for it
        } catch (IllegalMonitorStateException dropped) {
            // the process has no holds: they were dropped as a gone process's (its heap closed under a hold, a
            // liveness misjudged), so this thread's are gone too
            mine.holds = 0;
            throw dropped;
        } catch (IllegalStateException closed) {
            mine.holds = held - 1; // released, whether the subtract was made or not: see cutShort
            throw cutShort(mine, at, closed);
        } finally {
            mine.leave();
        }
    }

    @Override
    Optional<LockOwner> holder() {
        return lock.writer();
    }

    /**
     * @return what this lock is and which processes hold it (the JDK's read lock says {@code [Read locks = 2]}; the
     *         heap counts read holds per process): {@code "read-write lock 'rw' (read) held by pids [7, 9]"} or
     *         {@code "read-write lock 'rw' (read) (no read holds)"}; once its heap is closed, that it is
     */
    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(segment.scope(), description(), () -> {
            List<Long> pids = lock.readerPids();
            return description() + (pids.isEmpty() ? " (no read holds)" : " held by pids " + pids);
        });
    }

    /**
     * The slow path of the read lock: waits while a writer holds the lock or waits for it; counts the hold it takes
     * in {@code mine}.
     *
     * @throws IllegalMonitorStateException if the current thread holds the write lock: it would wait for itself
     */
    private boolean awaitRead(ReadHolds.Counter mine, long holds, long timeoutNanos, boolean interruptible)
            throws InterruptedException {
        if (writer.isHeldByCurrentThread()) { // here, not on the fast path: a read lock it takes must find a writer
            throw new IllegalMonitorStateException(description() + " cannot be taken under this thread's write lock"
                    + " (no downgrade)");
        }
        long start = System.nanoTime();
        long nextLivenessCheck = start + RobustMutex.LIVENESS_NANOS;
        int step = 0;
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                if (noWriter(segment)) {
                    if (tryReadCounted(mine, holds)) {
                        return true;
                    }
                    if (clearedStaleFlag(holds)) {
                        continue;
                    }
                }
                interrupted |= Backoff.takeInterrupt(interruptible);
                long now = System.nanoTime();
                if (now - nextLivenessCheck >= 0) {
                    nextLivenessCheck = now + RobustMutex.LIVENESS_NANOS;
                    waitingWriters.dropDeadWaitingWriters(); // a dead process's waiting writers must not block readers
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
                if (left <= 0) {
                    if (giveUps.due(now)) { // a wait too short for the check above: a dead writer, or dead waiting ones
                        waitingWriters.dropDeadWaitingWriters();
                        writer.clearIfOwnerDead();
                        continue;
                    }
                    return false;
                }
                long bound = Math.min(left, nextLivenessCheck - now);
                if (writer.isHeld()) {
                    writer.awaitFree(bound, interruptible); // blocks, and clears a dead writer
                } else {
                    // a writer is due
                    step = Waits.idle(step, segment, RW_WRITER_OFFSET, 0, Math.min(bound, 1_000_000));
                }
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * {@link #tryReadChecked}, its hold counted in {@code mine}, bracketed for a recount (see {@link ReaderCensus}).
     *
     * @return true if a read hold was taken
     */
    private boolean tryReadCounted(ReadHolds.Counter mine, long holds) {
        enter(mine);
        try {
            if (tryReadChecked(segment, holds)) {
                mine.holds = 1;
                return true;
            }
            return false;
        } catch (IllegalStateException closed) {
            throw cutShort(mine, holds, closed);
        } finally {
            mine.leave();
        }
    }

    /** Marks {@code mine} pending (see {@link ReaderCensus}), waiting first while a recount of its lock runs. */
    private static void enter(ReadHolds.Counter mine) {
        while (!mine.enter()) {
            mine.census.awaitOpen(); // only a census blocks a counter
        }
    }

    /**
     * For a read call whose change of this process's read-hold word at {@code holds} met this view closed: the call
     * throws, taken as done as the caller set {@code mine}'s holds (a lock took nothing, an unlock released), but the
     * JDK may report the close after the access took effect, so the word may count one hold more or fewer than this
     * process's threads hold (one more left every writer waiting while this process lives; one fewer let a writer in
     * while a thread read). Through another open view of the heap, if this process has one, sets the word's holds to
     * what its threads count, by a {@link ReaderCensus} recount. An unlock is taken as done, not as not done: a
     * recount that gave its thread the hold back after a writer had found the word without it (a late subtract) left
     * the thread holding by its count beside that writer, free to take the read lock again at once as a reentry.
     *
     * @return {@code closed}
     */
    private IllegalStateException cutShort(ReadHolds.Counter mine, long holds, IllegalStateException closed) {
        mine.leave(); // before the recount, which waits until no counter of the lock is pending
        if (mine.census != null && !segment.scope().isAlive()) { // not a refusal (too many holds) of an open view
            mine.census.recount(count -> setHoldsThroughAnotherView(holds, count));
        }
        return closed;
    }

    /**
     * Sets the holds of this process's read-hold word at {@code holds} to {@code count}, through another open view of
     * the heap, the writer flag kept; wakes a writer waiting for readers to leave if it lowered them. Only during a
     * recount: no thread of this process changes the holds meanwhile, and no other process those of a live one.
     *
     * @return false if no other view was open
     */
    private boolean setHoldsThroughAnotherView(long holds, int count) {
        return HeapMappings.throughAnotherOpenView(segment, view -> {
            int diff = count - SyncLayout.rwReadHolds((int) INT.getVolatile(view, holds));
            if (diff != 0) {
                // volatile: one total order with the writer's flag, as a reader's own add
                int before = (int) INT.getAndAdd(view, holds, diff * RW_READ_HOLD);
                if (diff < 0 && ((before & RW_WRITER_FLAG) != 0 || (long) LONG.getVolatile(view, WRITER_WORD) != 0)) {
                    INT.getAndAdd(view, RW_READER_RELEASES_OFFSET, 1);
                    Waits.wake(view, RW_READER_RELEASES_OFFSET, Integer.MAX_VALUE);
                }
            }
            return true;
        });
    }

    /**
     * The fast path's rule, for a process whose every writer sees its slot (see Protocol).
     *
     * @return true if a read hold was taken: counted in {@code holds}, with no writer flag there
     */
    private boolean tryRead(MemorySegment s, long holds) {
        // volatile: the add and the writer's flag are atomics on one word, so one of them sees the other
        if (((int) INT.getAndAdd(s, holds, RW_READ_HOLD) & RW_WRITER_FLAG) == 0) {
            return true;
        }
        releaseRead(s, holds, false);
        return false;
    }

    /**
     * The checked rule (see Protocol): the flag, and then the writer's word.
     *
     * @return true if a read hold was taken: counted in {@code holds}, with no writer holding (waiting writers are
     *         the caller's to check: see Protocol)
     */
    private boolean tryReadChecked(MemorySegment s, long holds) {
        int before = (int) INT.getAndAdd(s, holds, RW_READ_HOLD); // volatile: store-load order with the writer's CAS
        if ((before & RW_WRITER_FLAG) == 0 && (long) LONG.getVolatile(s, WRITER_WORD) == 0) {
            refuseHoldPastLimit(s, holds, before);
            return true;
        }
        releaseRead(s, holds, true);
        return false;
    }

    /**
     * Takes back the hold just added to the read-hold word at {@code holds}, and refuses it, if the word held
     * {@value SyncLayout#RW_MAX_READ_HOLDS} holds before it (see {@link SyncLayout#RW_MAX_READ_HOLDS}).
     *
     * @param before the word before the add
     * @throws IllegalStateException if it did
     */
    private void refuseHoldPastLimit(MemorySegment s, long holds, int before) {
        if (SyncLayout.rwReadHolds(before) >= SyncLayout.RW_MAX_READ_HOLDS) {
            releaseRead(s, holds, false);
            throw new IllegalStateException(lockDescription + " (read): this process already counts "
                    + SyncLayout.RW_MAX_READ_HOLDS + " read holds, the most a read-write lock counts per process"
                    + " (read locks taken without their unlocks, or the lock's bytes damaged)");
        }
    }

    /**
     * Clears this process's writer flag if no writer holds the word, holding the writer's mutex meanwhile, taken
     * with the entering bit and released with it (see Protocol): a death here is never a holder's, since this reader
     * never enters what the lock guards. If another thread's close of this view cuts the clear or the release short,
     * the read call throws holding nothing, so the mutex is released through another open view of the heap, if this
     * process has one (see {@link RobustMutex#release(boolean, String)}): else the word stayed held by this thread
     * for as long as the process kept that view, and no writer or reader came in.
     *
     * @return true if the flag was found set with the word free, and the mutex taken to clear it
     */
    private boolean clearedStaleFlag(long holds) {
        MemorySegment s = segment;
        if (((int) INT.getVolatile(s, holds) & RW_WRITER_FLAG) == 0
                || !RobustMutex.tryAcquireEntering(s, RW_WRITER_OFFSET)) {
            return false;
        }
        try {
            INT.getAndBitwiseAnd(s, holds, ~RW_WRITER_FLAG); // volatile: before the mutex is released
        } finally {
            writer.release(true, lockDescription); // the mutex of this lock's writer word, at RW_WRITER_OFFSET
        }
        return true;
    }

    /** @return true if no writer holds the lock or waits for it */
    private static boolean noWriter(MemorySegment s) {
        return (long) LONG.getVolatile(s, WRITER_WORD) == 0 && (int) INT.getVolatile(s, RW_WAITING_WRITERS_OFFSET) == 0;
    }

    /**
     * Releases one read hold of this process, waking a writer that waits for readers to leave.
     *
     * @param checkWord also wake if the writer's word is taken, flag or not: a back-out under the checked rule
     */
    private void releaseRead(MemorySegment s, long holds, boolean checkWord) {
        // volatile: one total order with the writer's flag; the writer counts holds that are not 0 (even -1 below)
        int before = (int) INT.getAndAdd(s, holds, -RW_READ_HOLD);
        if (SyncLayout.rwReadHolds(before) <= 0) {
            INT.getAndAdd(s, holds, RW_READ_HOLD);
            throw new IllegalMonitorStateException(lockDescription + ": this process holds no read lock");
        }
        if ((before & RW_WRITER_FLAG) != 0 || checkWord && (long) LONG.getVolatile(s, WRITER_WORD) != 0) {
            INT.getAndAdd(s, RW_READER_RELEASES_OFFSET, 1);
            Waits.wake(s, RW_READER_RELEASES_OFFSET, Integer.MAX_VALUE);
        }
    }

    /** Claims this process's slot and sets its readerSlots bit; @return the offset of its read-hold word there */
    private long announceReader() {
        int me = slots.mine();
        INT.getAndBitwiseOr(segment, RW_READER_SLOTS_OFFSET, 1 << me);
        return holdsOffset(me);
    }

    /** @return the offset of the read-hold word of process slot {@code slot} */
    static long holdsOffset(int slot) {
        return RW_SLOTS_OFFSET + slot * ProcessSlots.SLOT_SIZE + ProcessSlots.FIRST;
    }
}
