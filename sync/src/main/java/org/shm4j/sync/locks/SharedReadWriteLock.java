package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.DeadlockWatch;
import org.shm4j.sync.internal.GiveUpCheck;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.WaitLayout;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReadWriteLock;

import static org.shm4j.sync.internal.SyncLayout.RW_READER_RELEASES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_READER_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_SLOTS_OFFSET;
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
    private static final String KIND = "read-write lock";

    private final MemorySegment segment;
    private final RobustMutex writer;
    private final ProcessSlots slots;
    private final String description;
    private final WaitingWriters waitingWriters;
    private final ReadSide readLock;
    private final TimedLock writeLock;

    private SharedReadWriteLock(MemorySegment segment, String description) {
        this(segment, description, null, null);
    }

    private SharedReadWriteLock(MemorySegment segment, String description, SharedHeap heap, String name) {
        RobustMutex.check(segment, RW_WRITER_OFFSET, description + " writer", true);
        Blocks.requireZero(segment, RW_READER_SLOTS_OFFSET + Integer.BYTES, RW_READER_RELEASES_OFFSET, description);
        Blocks.requireZero(segment, RW_READER_RELEASES_OFFSET + Integer.BYTES, RW_SLOTS_OFFSET, description);
        this.segment = segment;
        this.slots = new ProcessSlots(segment, RW_SLOTS_OFFSET, description);
        slots.check();
        this.description = description;
        DeadlockWatch watch = DeadlockWatch.of(heap, segment.asSlice(RW_WRITER_OFFSET), WaitLayout.KIND_WRITE,
                description + " (write)");
        this.writer = new RobustMutex(segment, RW_WRITER_OFFSET, description + " (write)", watch);
        GiveUpCheck giveUps = new GiveUpCheck(); // one for both sides, as one lock's
        this.waitingWriters = new WaitingWriters(segment, slots);
        this.readLock = new ReadSide(this, segment, writer, slots, giveUps, waitingWriters, description);
        this.writeLock = new WriteSide(this, segment, watch, writer, slots, giveUps, waitingWriters, readLock,
                description, heap, name);
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
        MemorySegment slice = Blocks.wrapped(Blocks.wrap(segment, offset, SyncLayout.RW_SIZE, Long.BYTES, KIND),
                SyncLayout.READ_WRITE_LOCK);
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

    /** Counts a waiting writer of this process, as {@link WaitingWriters#countWaitingWriter} does; for tests. */
    void countWaitingWriter(int me, int delta) {
        waitingWriters.countWaitingWriter(me, delta);
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

    /**
     * Returns how many times a dead writer's lock was taken back: as {@link SharedLock#recoveries()}, a taker killed
     * between its take-over and the count leaves its own take-over uncounted.
     *
     * @return the take-overs counted
     */
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
}
