package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.DeadlockWatch;
import org.shm4j.sync.internal.GiveUpCheck;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.WaitLayout;
import org.shm4j.sync.internal.Waits;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReadWriteLock;

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
 * A read-write lock in shared memory: many readers or one writer, across the threads of every process that maps it.
 * Writers are preferred: a reader that finds a writer holding the lock waits until no writer holds it or waits for
 * it, so writers never starve (a reader that comes in the instant one writer hands the lock to the next, with no
 * writer holding it, enters between them: see Protocol). The write lock has a
 * cross-process {@linkplain SharedCondition condition}, the read lock none.
 *
 * <p>The read side is reentrant, the write side is not, and a lock is neither downgraded nor upgraded (as
 * {@code ReentrantReadWriteLock} downgrades). A thread holding the write lock that asks for it again, or for the read
 * lock, and a thread holding the read lock that asks for the write lock, get {@link IllegalMonitorStateException}
 * from {@code lock}, {@code lockInterruptibly} and both {@code tryLock}s (each would wait for itself). A thread that
 * holds the read lock takes it again at once, even while a writer waits (which waits for that hold anyway), up to
 * {@value org.shm4j.sync.internal.SyncLayout#RW_MAX_READ_HOLDS} read holds per process: past that, a reentry throws
 * {@link IllegalStateException} (the count of a read lock taken without its unlock in a loop). The
 * shared memory counts read holds per process; each thread's own are counted in this process too, so that a read
 * {@code unlock} by a thread that holds none throws {@link IllegalMonitorStateException} instead of ending another
 * thread's hold. A thread's count covers every view of the lock in this process, from any mapping of its heap and
 * wrapped views over that memory (a hold taken through a view that was then closed is released through another);
 * once the process has closed every view of the heap, other processes may drop its holds, and what its threads
 * counted is forgotten. A read {@code lock} that another thread's close of its view cuts short throws having taken
 * nothing, and a read {@code unlock} throws having released its hold, as its thread's count says (the unlock is not
 * to be made again); the JDK may report the close after the shared count changed, so this process's shared count is
 * then set, through another open view, to what its threads count (see {@link ReaderCensus}: where there is no
 * {@code membarrier}, it may stay one off until the process closes its last view of the heap).
 *
 * <h2>Layout (heap block type {@code 0x53480023} v8, 640 bytes, 64-aligned)</h2>
 * Version 7 marked an entering writer in a word of its own (bytes 48..55), written after the CAS that took the
 * writer's mutex (a reader killed between the two while clearing its stale flag was taken for a dead holder),
 * version 6 counted read holds by 1 with no writer flag (a reader read the writer's word on every lock and unlock),
 * version 5 had no entering writer (a writer that died waiting for readers to leave was taken for a dead holder),
 * version 4 reclaimed a dead process's slot without marking it ({@link ProcessSlots#RECLAIMING}), version 3 had the
 * writer mutex of a v2 {@link SharedLock}; older blocks are refused.
 * <table class="striped">
 * <caption>SharedReadWriteLock block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>40</td><td>the writer's robust mutex: the same 40 bytes as a {@link SharedLock} (64-bit
 *     word with pid and start time, owner thread, flags, wake word, held since, recoveries), except that bit 31 of
 *     a held word is the entering bit: its holder has not entered what the lock guards (a writer waiting for readers
 *     to leave, a reader clearing its stale flag)</td>
 *     <td>as in {@code SharedLock}; the entering bit set by the CAS that takes the word (a reader) or an atomic or
 *     (a writer), cleared by an atomic and or by the release</td></tr>
 * <tr><td>40</td><td>4</td><td>waitingWriters: bit i set while the process in process slot i has threads waiting
 *     for the writer's mutex</td><td>atomic or/and, read volatile</td></tr>
 * <tr><td>44</td><td>4</td><td>readerSlots: bit i set once the process in process slot i has taken a read lock,
 *     never cleared</td><td>atomic or, read volatile</td></tr>
 * <tr><td>48</td><td>16</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>4</td><td>readerReleases: bumped by a reader that releases while a writer holds; the futex
 *     word a writer waits on for readers to leave</td><td>atomic add</td></tr>
 * <tr><td>68</td><td>60</td><td>zero</td><td></td></tr>
 * <tr><td>128</td><td>512</td><td>32 process slots of 16 bytes: owner token (long: pid in bits 62..32, low 32 bits
 *     of the start stamp in bits 31..0, never 0 (see {@code SharedLock}); 0 = free; bit 63 set: that process is
 *     reclaiming the slot of a dead one), read-hold word (int: the holds times
 *     {@value org.shm4j.sync.internal.SyncLayout#RW_READ_HOLD}, bit 0 the writer flag), waiting writers (int)</td>
 *     <td>volatile and atomic add; the token by CAS; the writer flag by atomic or/and</td></tr>
 * </table>
 *
 * <h2>Protocol</h2>
 * A writer takes the word, then sets the writer flag (bit 0) of the read-hold word of every slot named in
 * readerSlots, by an atomic or that also returns the slot's holds, and waits until all those holds are 0; at its
 * release it clears the flags it set, then gives the word back. A reader adds one hold
 * ({@value org.shm4j.sync.internal.SyncLayout#RW_READ_HOLD}) to its process's read-hold word: the atomic add returns
 * the flag, and since flag and holds share the word, one of the two atomics sees the other; if the flag is set, the
 * reader backs out and waits. Its unlock subtracts the hold, and the flag in what that returns says whether a writer
 * waits for readers to leave (then it bumps readerReleases and wakes it). So the uncontended read lock and its unlock
 * are one atomic add each, with no read of the writer's word, and the uncontended write lock is the mutex's CAS plus
 * an atomic or per reader process, and an atomic and per reader process at its release.
 *
 * <p>A process announces itself as a reader once, by setting its readerSlots bit before its first hold, and its
 * read locks follow a checked rule until one succeeds: after the add, the reader also reads the writer's word, in a
 * store-load order with the writer's CAS and its read of readerSlots, so a process whose bit the current writer
 * missed finds the word taken instead; once a checked read lock has found the word free after the bit was set, every
 * later writer sees the bit. A reader that backs out under the checked rule wakes the writer if the word is taken,
 * flag or not. A flag left set with no writer (its writer died, or was unlocked through another view of the lock in
 * its process) sends that process's readers to the slow path, which clears its own flag while it holds the writer's
 * mutex (only a holder of the mutex sets flags, so none is set meanwhile).
 *
 * <p>A writer that finds the mutex held counts itself in its slot's waiting writers and sets the slot's
 * waitingWriters bit (both under a lock of its process, so the bit is set exactly while the count is not 0) until it
 * has the mutex. A reader that waits (it found a writer) enters only when the word and waitingWriters are both 0, so
 * the readers a writer held back do not pass the next writer in line. A reader that has not waited checks the flag
 * alone: waitingWriters can be set while no writer holds the word only in the hand-off from one writer to the next,
 * and each writer, once it has the word, waits only for the readers already in, so this lets a new reader in ahead
 * of the next writer at most in that instant (reading the mask there too would cost every uncontended read lock a
 * checked access: about 1 ns, up to 20% of it on one bench host).
 *
 * <h2>Process death</h2>
 * A writer that dies holding the lock is treated as {@link SharedLock} treats a dead owner: the next waiter (reader or
 * writer) clears or takes the word, and {@link #isConsistent()} is false until {@link #markConsistent()} is called by a
 * writer. A writer that dies while it holds the word but still waits for readers to leave (the word's entering bit
 * says so) never held the lock: its word is cleared or taken the same way, without marking the data inconsistent or
 * counting a recovery; so is one that dies while it releases the word after a timeout, which it does without
 * clearing the bit first. A death in the instant between its CAS and the atomic or that sets the bit still counts
 * as a holder's. The flags a dead writer set stay set until each reader process clears its own (see Protocol),
 * holding the writer's mutex taken with the entering bit by the CAS itself and released with it: a reader killed
 * there is never taken for a dead holder. A process that dies holding read locks, or waiting to write, is found by its
 * slot's token; its holds and its waitingWriters bit are dropped within about 50 ms of a wait they hold back (a
 * writer's, or a reader's behind a waiting writer), which does not mark the data inconsistent (readers do not change
 * it); holds that hold nobody back stay, and {@link #readerPids()} lists their process, until then. At most 32 live
 * processes can use one lock (one process slot each, kept until the process exits). Only the death of a whole
 * process is detected, not of a thread of a live process: a thread that ends holding the write lock keeps it held,
 * and one that ends holding read locks leaves its holds counted in its process's slot, so writers wait for them
 * until that process exits or closes its last view of the heap (as {@code ReentrantReadWriteLock} keeps the holds
 * of a thread that ended); what this process counted of the thread's own holds goes with the thread.
 * Non-invariant: a waiting writer of a process that has just taken over the slot of a dead one may have its bit cleared
 * for an instant by a reader dropping the dead one's bit; readers that come in that instant do not wait for it (the
 * writer still gets the lock once they leave).
 *
 * <p>Memory consistency effects: actions before releasing the write lock happen-before actions after a later read or
 * write lock; actions of a reader happen-before a later write lock.
 */
public final class SharedReadWriteLock implements ReadWriteLock {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final String KIND = "read-write lock";
    private static final long WRITER_WORD = RW_WRITER_OFFSET + MUTEX_WORD;
    /** Serializes, in this process, the changes of a slot's waiting-writer count with its waitingWriters bit. */
    private static final Object WAITING_WRITERS = new Object();
    /**
     * This process's waiting writers, per lock (known as {@link ReadHolds} knows it) with one or more: what the
     * slot's count is set to when a close cut a change of it short. Guarded by {@link #WAITING_WRITERS}.
     */
    private static final Map<LockKey, Integer> WAITING_HERE = new HashMap<>();

    private final MemorySegment segment;
    private final RobustMutex writer;
    private final ProcessSlots slots;
    /** The liveness check of callers that give up before their wait's own check comes. */
    private final GiveUpCheck giveUps = new GiveUpCheck();
    private final String description;
    private final ReadLock readLock;
    private final TimedLock writeLock;
    private final SharedHeap heap; // where the write lock's newCondition() finds its condition; null if wrapped
    private final NewConditions conditions = new NewConditions();
    private final String name;
    /**
     * The readerSlots bits whose writer flag this process's write-lock holder set: plain, since only the holder uses
     * it and the mutex orders one holder's accesses before the next's.
     */
    private int flagged;

    private SharedReadWriteLock(MemorySegment segment, String description) {
        this(segment, description, null, null);
    }

    private SharedReadWriteLock(MemorySegment segment, String description, SharedHeap heap, String name) {
        RobustMutex.check(segment, RW_WRITER_OFFSET, description + " writer", true);
        Blocks.requireZero(segment, RW_READER_SLOTS_OFFSET + Integer.BYTES, RW_READER_RELEASES_OFFSET, description);
        Blocks.requireZero(segment, RW_READER_RELEASES_OFFSET + Integer.BYTES, RW_SLOTS_OFFSET, description);
        this.segment = segment;
        this.heap = heap;
        this.name = name;
        this.slots = new ProcessSlots(segment, RW_SLOTS_OFFSET, description);
        slots.check();
        this.description = description;
        WriteLock write = new WriteLock(segment, DeadlockWatch.of(heap, segment.asSlice(RW_WRITER_OFFSET),
                WaitLayout.KIND_WRITE, description + " (write)"));
        this.writer = new RobustMutex(segment, RW_WRITER_OFFSET, write.description(), write.watch());
        this.readLock = new ReadLock(segment);
        this.writeLock = write;
    }

    /** Creates a free read-write lock named {@code name} in {@code heap}. */
    public static SharedReadWriteLock create(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedReadWriteLock(Blocks.create(heap, name, SyncLayout.READ_WRITE_LOCK,
                SyncLayout.RW_SIZE, s -> { }), KIND + " '" + name + "'", heap, name));
    }

    /**
     * Opens the read-write lock named {@code name}. It has no magic (all-zero bytes are a free lock), so opening
     * checks for states no read-write lock has: see {@link #wrap(MemorySegment, long)}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a read-write lock
     * @throws org.shm4j.core.ShmFormatException       if the block holds a state no read-write lock has
     */
    public static SharedReadWriteLock open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedReadWriteLock(Blocks.open(heap, name, SyncLayout.READ_WRITE_LOCK,
                SyncLayout.RW_SIZE, KIND), KIND + " '" + name + "'", heap, name));
    }

    /** Opens the read-write lock named {@code name}, or creates it free. */
    public static SharedReadWriteLock openOrCreate(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedReadWriteLock(Blocks.openOrCreate(heap, name,
                SyncLayout.READ_WRITE_LOCK, SyncLayout.RW_SIZE, s -> { }), KIND + " '" + name + "'", heap, name));
    }

    /**
     * Views the {@value org.shm4j.sync.internal.SyncLayout#RW_SIZE} bytes at {@code offset} of a native segment as a
     * read-write lock; all-zero bytes are a free lock. There is no magic, so the bytes are checked for states no
     * read-write lock has: a writer word, flags or counts no {@link SharedLock} has (see
     * {@link SharedLock#open(SharedHeap, String)}), a slot token that is neither 0 nor a pid, a negative read-hold or
     * waiting-writer count, or a non-zero byte where the layout has none.
     *
     * @throws IllegalArgumentException          if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException         if the bytes are not inside the segment
     * @throws org.shm4j.core.ShmFormatException if the bytes hold a state no read-write lock has
     */
    public static SharedReadWriteLock wrap(MemorySegment segment, long offset) {
        MemorySegment slice = Blocks.wrap(segment, offset, SyncLayout.RW_SIZE, Long.BYTES, KIND);
        return new SharedReadWriteLock(slice, Blocks.describe(KIND, slice.address()));
    }

    /**
     * @return the read lock: shared by readers, excluded by a writer; it throws {@link IllegalMonitorStateException}
     *         to the thread holding the write lock (no downgrade)
     */
    @Override
    public Lock readLock() {
        return readLock;
    }

    /** @return the write lock: exclusive */
    @Override
    public Lock writeLock() {
        return writeLock;
    }

    /** @return the write lock, as the condition of this lock takes it */
    TimedLock exclusiveLock() {
        return writeLock;
    }

    /** @return the writer holding the lock, if any */
    public Optional<LockOwner> writer() {
        return whileOpen(writer::owner);
    }

    /**
     * @return the pids of processes whose read holds are counted now: a dead process's until a wait drops them (see
     *         Process death)
     */
    public List<Long> readerPids() {
        return whileOpen(() -> {
            List<Long> pids = new ArrayList<>();
            for (int i = 0; i < ProcessSlots.SLOTS; i++) {
                if (SyncLayout.rwReadHolds(slots.get(i, ProcessSlots.FIRST)) > 0) {
                    pids.add(slots.pid(i));
                }
            }
            return pids;
        });
    }

    /** @return true if the current thread holds the write lock */
    public boolean isWriteLockedByCurrentThread() {
        try { // not through whileOpen: a condition's await and signal call this, and its lambda would allocate
            return writer.isHeldByCurrentThread();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return how many read holds the current thread has on this lock, through any view of it in this process (as
     *         {@code ReentrantReadWriteLock.getReadHoldCount()})
     */
    public int getReadHoldCount() {
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException(TimedLock.closedMessage(description));
        }
        return readLock.heldByCurrentThread();
    }

    /** @return false after a writer died holding the lock, until {@link #markConsistent()} */
    public boolean isConsistent() {
        return whileOpen(writer::isConsistent);
    }

    /**
     * Declares the protected data repaired after a writer died.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the write lock
     */
    public void markConsistent() {
        if (!isWriteLockedByCurrentThread()) {
            throw new IllegalMonitorStateException(description + ": hold the write lock to mark it consistent");
        }
        whileOpen(() -> {
            writer.markConsistent();
            return null;
        });
    }

    /**
     * Turns deadlock detection on or off for later waits of writers for other writers through this view of the lock,
     * in this process; see {@link SharedLock#setDeadlockDetection(boolean)}.
     */
    public void setDeadlockDetection(boolean enabled) {
        ((TimedLock) writeLock).setDeadlockDetection(enabled);
    }

    /** @return how many times a dead writer's lock was taken back */
    public long recoveries() {
        return whileOpen(writer::recoveries);
    }

    /** @return what {@code body} returns; once this lock's memory is closed, an exception naming the lock */
    private <T> T whileOpen(Supplier<T> body) {
        try {
            return body.get();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return {@code e} re-worded as {@link TimedLock#closedOr} does, the message made only when it is needed */
    private RuntimeException closedOr(RuntimeException e) {
        return Blocks.closedOr(e, segment.scope(), TimedLock.closedMessage(description));
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(segment.scope(), description, () -> description
                + writer().map(o -> " write-locked by " + o).orElse("") + " readers " + readerPids());
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
            throw new IllegalMonitorStateException(readLock + " cannot be taken under this thread's write lock (no "
                    + "downgrade)");
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
                    dropDeadWaitingWriters(); // a dead process's waiting writers must not block readers
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
                if (left <= 0) {
                    if (giveUps.due(now)) { // a wait too short for the check above: a dead writer, or dead waiting ones
                        dropDeadWaitingWriters();
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
            throw new IllegalStateException(description + " (read): this process already counts "
                    + SyncLayout.RW_MAX_READ_HOLDS + " read holds, the most a read-write lock counts per process"
                    + " (read locks taken without their unlocks, or the lock's bytes damaged)");
        }
    }

    /**
     * Clears this process's writer flag if no writer holds the word, holding the writer's mutex meanwhile, taken
     * with the entering bit and released with it (see Protocol): a death here is never a holder's, since this reader
     * never enters what the lock guards.
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
            RobustMutex.release(s, RW_WRITER_OFFSET, true, description);
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
            throw new IllegalMonitorStateException(description + ": this process holds no read lock");
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
    private static long holdsOffset(int slot) {
        return RW_SLOTS_OFFSET + slot * ProcessSlots.SLOT_SIZE + ProcessSlots.FIRST;
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
        writer.requireHeldByCurrentThread(writeLock.description());
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
     * Counts a waiting writer of this process ({@code delta} 1) or uncounts it (-1), keeping its bit in step, in the
     * slot and in {@link #WAITING_HERE}. If another thread closed this view meanwhile, the write lock call throws, so
     * it is not waiting: through another open view of the heap, if this process has one, the slot's count is set to
     * the process's waiting writers as counted here, without the thread, and the bit to match. Set, not added: the
     * JDK may report a close after the access it cut short took effect, so whether the slot's add happened is not
     * known (an add taken for not done left the count 1 too high, holding back every reader that waits while this
     * process lives; a subtract taken for not done was done twice, dropping another waiting writer's count and bit).
     * Package-private for tests.
     */
    void countWaitingWriter(int me, int delta) {
        synchronized (WAITING_WRITERS) {
            int here = countHere(delta);
            try {
                int count = slots.add(me, ProcessSlots.SECOND, delta);
                if (count == 1 && delta > 0) {
                    INT.getAndBitwiseOr(segment, RW_WAITING_WRITERS_OFFSET, 1 << me);
                } else if (count == 0) {
                    INT.getAndBitwiseAnd(segment, RW_WAITING_WRITERS_OFFSET, ~(1 << me));
                }
            } catch (IllegalStateException closed) {
                storeThroughAnotherView(me, delta > 0 ? countHere(-1) : here);
                throw closed;
            }
        }
    }

    /**
     * Adds {@code delta} to this process's count of its waiting writers of this lock; the caller holds
     * {@link #WAITING_WRITERS}.
     *
     * @return the count after it
     */
    private int countHere(int delta) {
        // null removes the key at 0: a lock keeps no entry while none of its writers waits here
        Integer count = WAITING_HERE.merge(readLock.key, delta, (was, d) -> was + d != 0 ? was + d : null);
        return count == null ? 0 : count;
    }

    /**
     * Sets this process's waiting-writer count in its slot to {@code count}, and its waitingWriters bit set exactly
     * while it is not 0, through another open view of the heap (none: nothing is done); the caller holds
     * {@link #WAITING_WRITERS}, so no other thread of this process changes them meanwhile, and no other process
     * changes the slot of a live one. Only for a lock known by its heap's attach period: one known by its memory's
     * scope counts here only the writers of views of that scope, and the other view's may not be among them.
     */
    private void storeThroughAnotherView(int me, int count) {
        if (!(readLock.key.owner() instanceof HeapMappings.AttachPeriod)) {
            return;
        }
        HeapMappings.throughAnotherOpenView(segment, view -> {
            // volatile: the count before the bit, as a waiting writer's own add and its bit
            INT.setVolatile(view, RW_SLOTS_OFFSET + me * ProcessSlots.SLOT_SIZE + ProcessSlots.SECOND, count);
            if (count == 0) {
                INT.getAndBitwiseAnd(view, RW_WAITING_WRITERS_OFFSET, ~(1 << me));
            } else {
                INT.getAndBitwiseOr(view, RW_WAITING_WRITERS_OFFSET, 1 << me);
            }
            return true;
        });
    }

    /**
     * For a write lock call that took the writer's mutex and then met this view closed by another thread: the call
     * throws, so its caller holds nothing, and no one would clear the writer flags it set or release the mutex.
     * Through another open view of the heap, if this process has one and the current thread still holds the mutex
     * there, clears the writer flag of every announced reader slot (its own, perhaps not all recorded in
     * {@link #flagged}; any other is a dead writer's stale flag, which a holder of the mutex may clear) and releases
     * the mutex, waking readers and writers. Not marked inconsistent: the writer never entered.
     *
     * @return {@code closed}, a failure here added to it
     */
    private IllegalStateException giveBackWriter(IllegalStateException closed) {
        MemorySegment view = HeapMappings.inAnotherOpenView(segment);
        if (view == null) {
            return closed;
        }
        try {
            if (RobustMutex.isHeldByCurrentThread(view, RW_WRITER_OFFSET)) {
                flagged = 0;
                for (int left = (int) INT.getVolatile(view, RW_READER_SLOTS_OFFSET); left != 0; left &= left - 1) {
                    // volatile: before the release below, as in unflagReaders
                    INT.getAndBitwiseAnd(view, holdsOffset(Integer.numberOfTrailingZeros(left)), ~RW_WRITER_FLAG);
                }
                RobustMutex.release(view, RW_WRITER_OFFSET, true, writeLock.description());
            }
        } catch (IllegalStateException alsoClosed) { // that view closed meanwhile too
            closed.addSuppressed(alsoClosed);
        }
        return closed;
    }

    /** Frees the slots of dead processes and clears the waitingWriters bits no live process's count backs. */
    private void dropDeadWaitingWriters() {
        slots.reclaimDead();
        int waiting = (int) INT.getVolatile(segment, RW_WAITING_WRITERS_OFFSET);
        for (int left = waiting; left != 0; left &= left - 1) {
            int i = Integer.numberOfTrailingZeros(left);
            if (slots.get(i, ProcessSlots.SECOND) == 0) { // a dead waiter's slot may already be another process's
                INT.getAndBitwiseAnd(segment, RW_WAITING_WRITERS_OFFSET, ~(1 << i));
                if (slots.get(i, ProcessSlots.SECOND) > 0) { // a new process took the slot and waits: set it again
                    INT.getAndBitwiseOr(segment, RW_WAITING_WRITERS_OFFSET, 1 << i);
                }
            }
        }
    }

    /** The slow path of the write lock: counts itself as a waiting writer while it waits for the mutex. */
    private boolean awaitWrite(long timeoutNanos, boolean interruptible) throws InterruptedException {
        refuseReadHolder(); // before it waits: a writer holding the mutex would wait for this thread's hold
        int me = slots.mine();
        long start = System.nanoTime();
        countWaitingWriter(me, 1); // from now on new readers wait
        boolean locked = false;
        try {
            try {
                locked = writer.acquire(timeoutNanos, interruptible);
            } finally {
                countWaitingWriter(me, -1);
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
            throw new IllegalMonitorStateException(writeLock.description() + " cannot be taken by a thread holding "
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
                writer.release(true, description);
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

    /** A lock as {@link ReadHolds} knows it in this process: its heap's attach period (or scope) and offset. */
    private record LockKey(Object owner, long offset) {
    }

    /**
     * The shared side. It holds the segment and this process's hold offset itself: each object between the caller
     * and the segment is one more dependent load, repeated after every atomic.
     */
    private final class ReadLock extends TimedLock {
        private final MemorySegment segment;
        /** What names the lock in a thread's {@link ReadHolds}: see {@link ReadHolds.Counter#owner}. */
        private final Object owner;
        private final long ownerOffset;
        /** The same, as one key (for {@link #WAITING_HERE}). */
        private final LockKey key;
        /**
         * Offset of this process's read-hold word, 0 until a read lock under the checked rule succeeded after its slot
         * was announced in readerSlots (see Protocol); from then on, read locks check the writer flag alone. Volatile:
         * its write publishes that success to the other threads of this process.
         */
        private volatile long holds;
        /** The counter of the thread that used this object last: plain, see {@link ReadHolds}. */
        private ReadHolds.Counter lastReader;

        ReadLock(MemorySegment segment) {
            super(description + " (read)", null, segment); // readers take no part in deadlock detection
            this.segment = segment;
            HeapMappings.Place place = HeapMappings.placeOf(segment);
            if (place != null) { // the same in every mapping of the heap, while this process keeps one open
                this.owner = place.period();
                this.ownerOffset = segment.address() - place.base();
            } else {
                this.owner = segment.scope();
                this.ownerOffset = segment.address();
            }
            this.key = new LockKey(owner, ownerOffset);
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
            return writer();
        }
    }

    /** The exclusive side. */
    private final class WriteLock extends TimedLock {
        private final MemorySegment segment; // its own: see ReadLock

        WriteLock(MemorySegment segment, DeadlockWatch watch) {
            super(description + " (write)", watch, segment);
            this.segment = segment;
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
                    named -> SharedCondition.openOrCreate(heap, named, SharedReadWriteLock.this));
        }

        @Override
        Optional<LockOwner> holder() {
            return writer();
        }
    }
}
