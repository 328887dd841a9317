package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.GiveUpCheck;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.COORD_VALUE_MASK;
import static org.shm4j.sync.internal.SyncLayout.COORD_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.COORD_WORD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.SEM_MUTEX_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.SEM_SIZE;
import static org.shm4j.sync.internal.SyncLayout.SEM_SLOTS_OFFSET;

/**
 * A counting semaphore in shared memory for the threads of every process that maps it: Python's
 * {@code multiprocessing.Semaphore} and {@code BoundedSemaphore}, and {@link java.util.concurrent.Semaphore} across
 * processes, with an option that returns the permits of a process that dies (SysV {@code SEM_UNDO}).
 *
 * <h2>Kinds</h2>
 * <ul>
 *   <li>{@link Kind#UNBOUNDED} (the default): any thread of any process may release, and a release may raise the
 *       count above its initial value, as {@code java.util.concurrent.Semaphore} allows.</li>
 *   <li>{@link Kind#BOUNDED}: as {@code UNBOUNDED}, but a release that would raise the count above the initial
 *       permits throws {@link IllegalStateException} (Python's {@code BoundedSemaphore}: "released too many
 *       times").</li>
 *   <li>{@link Kind#UNDO}: permits belong to the process that acquired them; only it may release them, and when it
 *       dies they are returned. At most 32 processes can use one undo semaphore at a time.</li>
 * </ul>
 * The default is {@code UNBOUNDED} because the common cross-process use, producer/consumer counting, releases in
 * one process what another acquired, which an undo semaphore forbids; and because undo costs a short critical
 * section on every acquire and release. Choose {@code UNDO} where permits stand for a resource a process holds, such
 * as "at most 4 processes use the GPU".
 *
 * <h2>Layout (heap block type {@code 0x53480061} v3, 704 bytes, 64-aligned, native byte order)</h2>
 * Version 2 reclaimed a dead process's slot without marking it
 * ({@link org.shm4j.sync.internal.ProcessSlots#RECLAIMING}), version 1 had the mutex of a v2
 * {@link org.shm4j.sync.locks.SharedLock}; older blocks are refused.
 * <table class="striped">
 * <caption>SharedSemaphore block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code "SHM4JCRD"} in ASCII</td><td rowspan="5">plain; written once
 *     before the block is published, checked when opened</td></tr>
 * <tr><td>8</td><td>4</td><td>tag</td><td>{@code 0x53480061}</td></tr>
 * <tr><td>12</td><td>4</td><td>version</td><td>3 (older versions are refused)</td></tr>
 * <tr><td>16</td><td>4</td><td>kind</td><td>1 unbounded, 2 bounded, 3 undo</td></tr>
 * <tr><td>20</td><td>4</td><td>permits</td><td>the initial permits; the bound of bounded and undo kinds</td></tr>
 * <tr><td>24</td><td>40</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>4</td><td>word</td><td>the futex word. Bit 31: a waiter may be blocked (whoever clears it
 *     wakes every waiter). Bits 0..30: the available permits (unbounded, bounded), or a sequence bumped by every
 *     release (undo)</td><td>volatile; CAS</td></tr>
 * <tr><td>68</td><td>60</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>128</td><td>40</td><td>mutex</td><td>undo only: a robust mutex (the layout of
 *     {@link org.shm4j.sync.locks.SharedLock}'s first 40 bytes) around every acquire and release</td>
 *     <td>as in {@code SharedLock}</td></tr>
 * <tr><td>168</td><td>24</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>192</td><td>512</td><td>slots</td><td>undo only: 32 process slots of 16 bytes: owner token (long: pid
 *     high, start-time bits low; 0 = free; bit 63 set: that process is reclaiming the slot of a dead one), permits
 *     this process holds (int), zero (int)</td>
 *     <td>volatile; CAS to claim and free</td></tr>
 * </table>
 *
 * <h2>Waiting</h2>
 * An acquirer that finds too few permits spins, yields, then sets bit 31 and blocks in futex on the word (or parks
 * up to 1 ms at a time without native access); a release that clears the bit wakes every blocked acquirer, and
 * those still short of permits block again. A blocked acquirer wakes at least every 50 ms to check its deadline, its
 * interrupt status and (undo) dead holders.
 *
 * <h2>Process death</h2>
 * <ul>
 *   <li>Unbounded and bounded: permits have no owner, so the permits a dead process held are lost, as with POSIX
 *       and Python semaphores. An acquirer blocked on them waits until its timeout.</li>
 *   <li>Undo: the permits available are {@code permits} minus the sum of the slots' holdings, and each acquire or
 *       release changes one slot with one store under the mutex, so a kill at any instruction loses or duplicates
 *       no permit. A blocked acquirer finds the slot of a dead process (its pid gone, or reused with another start
 *       time) within about 50 ms, frees it, and the permits are available again; a mutex holder that dies is taken
 *       over as a {@code SharedLock}'s owner is. A {@code tryAcquire()} that does not wait and finds too few permits
 *       looks for dead holders too, at most once per 50 ms for this semaphore object, so that a caller that only
 *       ever tries gets a dead process's permits back.</li>
 * </ul>
 *
 * <p>Memory consistency effects: actions of a thread before it releases permits happen-before actions after a
 * successful acquire in another thread or process that obtains them.
 */
public final class SharedSemaphore {
    /** What a release may do, and whether a dead process's permits are returned. */
    public enum Kind {
        /** Anyone releases; the count may grow past the initial permits. */
        UNBOUNDED,
        /** Anyone releases, but never past the initial permits. */
        BOUNDED,
        /** Only the process holding permits releases them, and a dead process's permits are returned. */
        UNDO
    }

    private static final String KIND = "semaphore";

    /**
     * Undo: the least a timed acquire waits for the mutex, whose holder spends a few instructions in it but may lose
     * its CPU there (on a loaded machine over 150 ms were seen; a stopped holder makes a timed acquire return up to
     * this much after its timeout).
     */
    private static final long MUTEX_GRACE_NANOS = 1_000_000_000;
    /** How many sums of the holdings {@link #availablePermits()} takes, at most, to find one within the bound. */
    private static final int SNAPSHOT_TRIES = 16;

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment segment;
    private final Kind kind;
    private final int permits;
    /** Undo: the liveness check of callers that give up before their wait's own check comes. */
    private final GiveUpCheck giveUps = new GiveUpCheck();
    private final RobustMutex mutex;
    private final ProcessSlots slots;
    private final String description;

    private SharedSemaphore(MemorySegment segment, String description) {
        Waits.prepare(); // the native wait calls linked now, not in the first timed wait
        this.segment = segment;
        this.kind = Kind.values()[checkKind(CoordinationBlocks.param1(segment), description) - 1];
        this.permits = CoordinationBlocks.param2(segment);
        this.mutex = kind == Kind.UNDO ? new RobustMutex(segment, SEM_MUTEX_OFFSET, description + " undo mutex") : null;
        this.slots = kind == Kind.UNDO ? new ProcessSlots(segment, SEM_SLOTS_OFFSET, description) : null;
        this.description = description;
        checkPermits();
        if (kind == Kind.UNDO) {
            RobustMutex.check(segment, SEM_MUTEX_OFFSET, description);
            slots.check();
        }
    }

    /** Creates an {@link Kind#UNBOUNDED unbounded} semaphore named {@code name} with {@code permits} permits. */
    public static SharedSemaphore create(SharedHeap heap, String name, int permits) {
        return create(heap, name, permits, Kind.UNBOUNDED);
    }

    /**
     * Creates a semaphore named {@code name} in {@code heap}.
     *
     * @param permits the initial permits: 0 to 2<sup>31</sup>-1, at least 1 for the bounded and undo kinds
     * @throws IllegalArgumentException                 if {@code permits} is out of range
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedSemaphore create(SharedHeap heap, String name, int permits, Kind kind) {
        return Blocks.opening(heap, () -> new SharedSemaphore(CoordinationBlocks.create(heap, name,
                SyncLayout.SEMAPHORE, SEM_SIZE,
                code(named(name), kind, permits), permits, initialWord(kind, permits)), named(name)));
    }

    /**
     * Opens the semaphore named {@code name}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a semaphore
     * @throws org.shm4j.core.ShmFormatException       if its header, or an undo semaphore's mutex or process slots,
     *                                                 are corrupted
     */
    public static SharedSemaphore open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedSemaphore(CoordinationBlocks.open(heap, name, SyncLayout.SEMAPHORE,
                named(name)), named(name)));
    }

    /**
     * Opens the semaphore named {@code name}, or creates it with {@code permits} permits of {@code kind}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists with another kind or initial permits
     */
    public static SharedSemaphore openOrCreate(SharedHeap heap, String name, int permits, Kind kind) {
        return Blocks.opening(heap, () -> {
            try {
                return new SharedSemaphore(CoordinationBlocks.openOrCreate(heap, name, SyncLayout.SEMAPHORE, SEM_SIZE,
                        code(named(name), kind, permits), permits, initialWord(kind, permits), named(name)),
                        named(name));
            } catch (ShmTypeMismatchException e) {
                throw Blocks.mismatch(e, () -> {
                    SharedSemaphore existing = open(heap, name);
                    return existing.description + " exists as " + existing.kind + " with " + existing.permits
                            + " permits (asked: " + kind + " with " + permits + ")";
                });
            }
        });
    }

    /**
     * Lays out a semaphore over the {@link #requiredBytes()} bytes at {@code offset} of a native segment (for memory
     * shared by other means), zeroing them.
     *
     * @throws IllegalArgumentException  if {@code permits} is out of range or the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the bytes are not inside the segment
     */
    public static SharedSemaphore format(MemorySegment segment, long offset, int permits, Kind kind) {
        int code = code(KIND, kind, permits);
        MemorySegment block = CoordinationBlocks.format(segment, offset, SyncLayout.SEMAPHORE, SEM_SIZE, code,
                permits, initialWord(kind, permits));
        return new SharedSemaphore(block, CoordinationBlocks.describe(KIND, block));
    }

    /**
     * Views a semaphore laid out by {@link #format} at {@code offset} of a native segment.
     *
     * @throws org.shm4j.core.ShmFormatException if the bytes there are not a semaphore's
     * @throws IndexOutOfBoundsException         if they are not inside the segment
     */
    public static SharedSemaphore wrap(MemorySegment segment, long offset) {
        MemorySegment block = CoordinationBlocks.wrap(segment, offset, SyncLayout.SEMAPHORE, p -> SEM_SIZE, KIND);
        return new SharedSemaphore(block, CoordinationBlocks.describe(KIND, block));
    }

    /** @return the bytes a semaphore needs in raw memory */
    public static long requiredBytes() {
        return SEM_SIZE;
    }

    /**
     * Acquires one permit, waiting as long as it takes.
     *
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public void acquire() throws InterruptedException {
        acquire(1);
    }

    /**
     * Acquires {@code n} permits at once, waiting as long as it takes.
     *
     * @throws IllegalArgumentException if {@code n} is negative, or above the bound of a bounded or undo semaphore
     * @throws InterruptedException     if the thread is interrupted while waiting
     */
    public void acquire(int n) throws InterruptedException {
        acquire(n, -1);
    }

    /**
     * Acquires one permit, waiting as long as it takes, as
     * {@link java.util.concurrent.Semaphore#acquireUninterruptibly()}: an interrupt while it waits is kept in the
     * thread's status, set again when it returns.
     */
    public void acquireUninterruptibly() {
        acquireUninterruptibly(1);
    }

    /**
     * Acquires {@code n} permits at once, as {@link #acquireUninterruptibly()}.
     *
     * @throws IllegalArgumentException if {@code n} is out of range (see {@link #acquire(int)})
     */
    public void acquireUninterruptibly(int n) {
        boolean interrupted = false;
        while (true) {
            try {
                acquire(n);
                break;
            } catch (InterruptedException e) { // the status is cleared: wait again, and set it once acquired
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Acquires every permit available now, as {@link java.util.concurrent.Semaphore#drainPermits()}. For an undo
     * semaphore they are this process's, given back if it dies, and a dead process's permits count as available:
     * they are taken back first (looked for at most every 50 ms per semaphore object, as a non-waiting
     * {@code tryAcquire} does).
     *
     * @return how many were acquired
     */
    public int drainPermits() {
        if (kind == Kind.UNDO) {
            try {
                returnDeadHoldersIfDue();
            } catch (IllegalStateException | IllegalArgumentException e) {
                throw closedOr(e);
            }
        }
        while (true) {
            int available = availablePermits();
            if (available == 0 || tryAcquire(available)) {
                return available;
            }
        }
    }

    /** @return true if one permit was available and is now acquired */
    public boolean tryAcquire() {
        return tryAcquire(1);
    }

    /**
     * @return true if {@code n} permits were available and are now acquired; does not wait (for an undo semaphore,
     *         except for the few instructions another process spends in the critical section)
     * @throws IllegalArgumentException if {@code n} is out of range (see {@link #acquire(int)})
     */
    public boolean tryAcquire(int n) {
        try {
            checkCount(n);
            return kind == Kind.UNDO ? tryUndo(n, -1, false) || acquireFromDeadHolders(n) : tryCounted(n, word());
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Acquires one permit, waiting at most {@code timeout}.
     *
     * @return false if the timeout passed first
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public boolean tryAcquire(long timeout, TimeUnit unit) throws InterruptedException {
        return tryAcquire(1, timeout, unit);
    }

    /**
     * Acquires {@code n} permits at once, waiting at most {@code timeout}.
     *
     * @return false if the timeout passed first
     * @throws IllegalArgumentException if {@code n} is out of range (see {@link #acquire(int)})
     * @throws InterruptedException     if the thread is interrupted while waiting
     */
    public boolean tryAcquire(int n, long timeout, TimeUnit unit) throws InterruptedException {
        return acquire(n, WordWait.nanos(timeout, unit));
    }

    /** Releases one permit. See {@link #release(int)}. */
    public void release() {
        release(1);
    }

    /**
     * Releases {@code n} permits and wakes blocked acquirers.
     *
     * @throws IllegalArgumentException if {@code n} is negative
     * @throws IllegalStateException    if a bounded semaphore would exceed its initial permits, an unbounded one
     *                                  2<sup>31</sup>-1 permits, or (undo) this process holds fewer than {@code n}
     */
    public void release(int n) {
        try {
            if (n < 0) {
                throw new IllegalArgumentException(description + ": n=" + n + " (expected: >= 0)");
            }
            if (kind == Kind.UNDO) {
                releaseUndo(n);
                return;
            }
            int limit = kind == Kind.BOUNDED ? permits : COORD_VALUE_MASK;
            while (true) {
                int w = word();
                int available = w & COORD_VALUE_MASK;
                if (n > limit - available) {
                    throw new IllegalStateException(description + " released too many times: " + available
                            + " available + " + n + " released (expected: at most " + limit + ")");
                }
                if (INT.compareAndSet(segment, COORD_WORD_OFFSET, w, available + n)) { // clears the waiters bit
                    Waits.wakeAllIfAnnounced(segment, COORD_WORD_OFFSET, w, COORD_WAITERS);
                    return;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return the permits available now (a snapshot; for an undo semaphore it counts dead holders not yet found, and
     *         is within 0 and the bound)
     */
    public int availablePermits() {
        try {
            return kind == Kind.UNDO ? undoAvailable() : word() & COORD_VALUE_MASK;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * The bound minus the processes' holdings, summed without the mutex (a snapshot need not wait for it): a sum
     * taken across a release in one process and an acquire in another counts that permit twice, so a sum above the
     * bound is taken again, a few times, then the answer is 0.
     */
    private int undoAvailable() {
        long available = permits - slots.sum(ProcessSlots.FIRST);
        for (int tries = 1; available < 0 && tries < SNAPSHOT_TRIES; tries++) {
            Thread.onSpinWait();
            available = permits - slots.sum(ProcessSlots.FIRST);
        }
        return (int) Math.max(available, 0); // never above the bound: holdings are not negative
    }

    /** @return the permits this process holds: counted for an undo semaphore only, else 0 */
    public int heldByThisProcess() {
        try {
            return kind == Kind.UNDO ? slots.get(slots.mine(), ProcessSlots.FIRST) : 0;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the kind, fixed at creation */
    public Kind kind() {
        return kind;
    }

    /** @return the initial permits, fixed at creation (the bound of bounded and undo semaphores) */
    public int initialPermits() {
        return permits;
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(segment.scope(), description, () -> description + " (" + kind + ", "
                + availablePermits() + " of " + permits + " available)");
    }

    private boolean acquire(int n, long timeoutNanos) throws InterruptedException {
        try {
            return acquireOrWait(n, timeoutNanos);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    private boolean acquireOrWait(int n, long timeoutNanos) throws InterruptedException {
        checkCount(n);
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        if (kind != Kind.UNDO) {
            return tryCounted(n, word()) // the uncontended path allocates nothing
                    || WordWait.await(segment, COORD_WORD_OFFSET, COORD_WAITERS, timeoutNanos, w -> tryCounted(n, w));
        }
        long deadline = System.nanoTime() + timeoutNanos;
        if (tryUndo(n, mutexWait(timeoutNanos, deadline), true)) {
            return true; // the uncontended path allocates nothing
        }
        // the word is read before each attempt: a release after the attempt changes the word the waiter blocks on
        return WordWait.await(segment, COORD_WORD_OFFSET, COORD_WAITERS, timeoutNanos,
                w -> tryUndo(n, mutexWait(timeoutNanos, deadline), true),
                this::returnDeadHolders) || acquireFromDeadHolders(n);
    }

    /**
     * Undo: how long an attempt may wait for the mutex, in which another thread spends a few instructions: what is
     * left of the caller's timeout, but at least {@link #MUTEX_GRACE_NANOS}, so that a short or zero timeout is not
     * refused because another thread was in there (negative: for ever, as the caller's wait).
     */
    private static long mutexWait(long timeoutNanos, long deadline) {
        return timeoutNanos < 0 ? -1 : Math.max(MUTEX_GRACE_NANOS, deadline - System.nanoTime());
    }

    /**
     * Undo: frees the slots of dead processes, so that their permits are available again, and tells the waiters.
     *
     * @return true if it freed any
     */
    private boolean returnDeadHolders() {
        if (slots.reclaimDead() > 0) {
            bumpAndWake();
            return true;
        }
        return false;
    }

    /**
     * Undo, for a caller giving up (see {@link GiveUpCheck}): returns dead processes' permits, and if any came back,
     * tries once more.
     */
    private boolean acquireFromDeadHolders(int n) {
        return returnDeadHoldersIfDue() && tryUndo(n, -1, false);
    }

    /**
     * Undo, for a caller that does not wait (see {@link GiveUpCheck}): at most once per its interval, returns dead
     * processes' permits.
     *
     * @return true if any came back
     */
    private boolean returnDeadHoldersIfDue() {
        return giveUps.due(System.nanoTime()) && returnDeadHolders();
    }

    /**
     * Takes {@code n} from the count of an unbounded or bounded semaphore, from the word {@code w} seen: a CAS that
     * another acquire or release beat is tried again from the word it left, so false means fewer than {@code n}
     * were there (as {@code java.util.concurrent.Semaphore.tryAcquire}), never a lost race.
     */
    private boolean tryCounted(int n, int w) {
        while ((w & COORD_VALUE_MASK) >= n) {
            // the successful CAS is the linearization point; it keeps the waiters bit for the others
            int witness = (int) INT.compareAndExchange(segment, COORD_WORD_OFFSET, w, w - n);
            if (witness == w) {
                return true;
            }
            w = witness;
        }
        return false;
    }

    /** One attempt on an undo semaphore: under the mutex, take {@code n} if the slots leave them free. */
    private boolean tryUndo(int n, long mutexTimeoutNanos, boolean interruptible) {
        int me = slots.mine();
        try {
            if (!lockMutex(mutexTimeoutNanos, interruptible)) {
                return false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the caller's loop throws it
            return false;
        }
        try {
            if (permits - slots.sum(ProcessSlots.FIRST) < n) {
                return false;
            }
            slots.add(me, ProcessSlots.FIRST, n); // one store: the acquisition is all or nothing
            return true;
        } finally {
            try {
                mutex.release(false, description);
            } catch (StackOverflowError e) { // the mutex left held: see RobustMutex.leaked and lockMutex
                mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
    }

    private void releaseUndo(int n) {
        int me = slots.mine();
        try {
            lockMutex(-1, false);
        } catch (InterruptedException impossible) {
            throw new AssertionError(impossible);
        }
        try {
            int held = slots.get(me, ProcessSlots.FIRST);
            if (held < n) {
                throw new IllegalStateException(description + " (undo): this process holds " + held
                        + " permits and cannot release " + n);
            }
            slots.add(me, ProcessSlots.FIRST, -n);
        } finally {
            try {
                mutex.release(false, description);
            } catch (StackOverflowError e) { // the mutex left held: see RobustMutex.leaked and lockMutex
                mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
        bumpAndWake();
    }

    /**
     * Undo: takes the mutex. A release of it that a {@link StackOverflowError} cut short (the releases run in a
     * {@code finally}, at about the depth where the change overflowed) left it held by no thread that will release it,
     * and every later acquire or release, in any process, would wait for it: each release's catch notes the hold in
     * {@link RobustMutex#leaked} (a field store, not a helper's call, which could overflow at its entry), and the next
     * acquire through this object takes it over. Nothing needs repair: each change is a single store.
     */
    private boolean lockMutex(long timeoutNanos, boolean interruptible) throws InterruptedException {
        // each update is a single store: nothing half-done to repair
        return mutex.acquireWhole(timeoutNanos, interruptible, description);
    }

    /** Undo: bumps the release sequence (clearing the waiters bit) and wakes the blocked acquirers. */
    private void bumpAndWake() {
        Waits.updateAndWakeAll(segment, COORD_WORD_OFFSET, COORD_WAITERS, w -> (w + 1) & COORD_VALUE_MASK);
    }

    /** @return what a method throws for {@code failure}; see {@link CoordinationBlocks#closedOr} */
    private RuntimeException closedOr(RuntimeException failure) {
        return CoordinationBlocks.closedOr(failure, segment, description);
    }

    private int word() {
        return (int) INT.getVolatile(segment, COORD_WORD_OFFSET);
    }

    private void checkCount(int n) {
        if (n < 0 || (kind != Kind.UNBOUNDED && n > permits)) {
            throw new IllegalArgumentException(description + ": n=" + n + " (expected: "
                    + (kind == Kind.UNBOUNDED ? ">= 0" : "0.." + permits) + ")");
        }
    }

    /** @param what the semaphore, for messages */
    private static int code(String what, Kind kind, int permits) {
        Objects.requireNonNull(kind, "kind");
        if (permits < minPermits(kind)) {
            throw new IllegalArgumentException(what + ": permits=" + permits + permitsRange(kind));
        }
        return kind.ordinal() + 1;
    }

    private static int minPermits(Kind kind) {
        return kind == Kind.UNBOUNDED ? 0 : 1;
    }

    /** @return the permits a semaphore of {@code kind} may be created with, as messages give them */
    private static String permitsRange(Kind kind) {
        String article = kind == Kind.UNBOUNDED || kind == Kind.UNDO ? "an " : "a ";
        return " (expected: " + minPermits(kind) + ".." + COORD_VALUE_MASK + " for " + article + kind + " semaphore)";
    }

    /**
     * Checks the permits field, and a bounded semaphore's count against it, as {@link #code} and every release keep
     * them.
     */
    private void checkPermits() {
        if (permits < minPermits(kind)) {
            throw new ShmFormatException(description + " has a corrupted header: permits=" + permits
                    + permitsRange(kind));
        }
        int available = word() & COORD_VALUE_MASK;
        if (kind == Kind.BOUNDED && available > permits) {
            throw new ShmFormatException(description + " is corrupted: " + available + " permits available, above "
                    + "its bound " + permits);
        }
    }

    /** @return the word of a new semaphore: the count, or an undo semaphore's release sequence 0 */
    private static int initialWord(Kind kind, int permits) {
        return kind == Kind.UNDO ? 0 : permits;
    }

    private static int checkKind(int code, String description) {
        if (code < 1 || code > Kind.values().length) {
            throw new ShmFormatException(description + " has a corrupted header: kind=" + code);
        }
        return code;
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }
}
