package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Date;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.COND_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_SIZE;
import static org.shm4j.sync.internal.SyncLayout.COND_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_WAITING_OFFSET;

/**
 * A {@link Condition} in shared memory whose waiters and signallers may be threads of any process, bound to a
 * {@link SharedLock}, a {@link SharedReentrantLock} (whose holds {@code await} releases all and restores, as
 * {@code ReentrantLock}'s conditions do) or the write lock of a {@link SharedReadWriteLock}: Python's
 * {@code multiprocessing.Condition}. {@link SharedMutex#newCondition()} returns the lock's own condition; create more
 * by name here ({@code notEmpty}, {@code notFull}, ...). A condition made in a heap for a lock in the same heap
 * records which lock it is, and opening it with another lock throws {@link org.shm4j.core.ShmTypeMismatchException};
 * with a lock elsewhere (or in raw memory) every process must use the same lock, unchecked.
 *
 * <h2>Layout (heap block type {@code 0x53480065} v3, 128 bytes, 64-aligned, native byte order)</h2>
 * <table class="striped">
 * <caption>SharedCondition block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code "SHM4JCRD"} in ASCII</td><td rowspan="3">plain; written once
 *     before the block is published, checked when opened</td></tr>
 * <tr><td>8</td><td>4</td><td>tag</td><td>{@code 0x53480065}</td></tr>
 * <tr><td>12</td><td>4</td><td>version</td><td>3 (2 had no lock field)</td></tr>
 * <tr><td>16</td><td>4</td><td>lock</td><td>the lock it is used with: the offset of the lock's block in the heap
 *     / 64, plus 1; 0 for a condition laid out in raw memory, or one whose lock lies outside its heap (unchecked)</td>
 *     <td>plain; written once before the block is published, checked when opened</td></tr>
 * <tr><td>20</td><td>44</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>4</td><td>sequence</td><td>bumped by every signal that finds the waiters flag set; the futex
 *     word</td><td>volatile; atomic add, under the lock</td></tr>
 * <tr><td>68</td><td>4</td><td>waiters</td><td>threads between reading the sequence and leaving their wait (for
 *     display: a waiter killed while counted stays counted)</td><td>volatile; atomic add</td></tr>
 * <tr><td>72</td><td>4</td><td>waiting</td><td>the waiters flag: 1 once a waiter read the sequence, 0 once a signal
 *     found nobody left asleep</td><td>volatile; set and cleared under the lock</td></tr>
 * <tr><td>76</td><td>52</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 *
 * <h2>Algorithm</h2>
 * The process-shared condition variable of musl: {@code await} reads the sequence, sets the waiters flag and counts
 * itself a waiter while it holds the lock, releases the lock, waits (spin, yield, then futex) while the sequence is
 * unchanged, uncounts itself and takes the lock again. {@code signal} (under the lock) does nothing while the flag
 * is clear; else it bumps the sequence, wakes one blocked thread, and clears the flag unless it woke one (others may
 * still sleep); {@code signalAll} wakes them all and clears it. No wake-up is lost: a waiter that has not blocked
 * yet finds the sequence changed (the kernel compares it too), and a waiter asleep on an unchanged sequence keeps the
 * flag set, since every signal that clears it has bumped the sequence first (a signaller killed between the two
 * leaves the flag set: one spare wake for the next signal). Spurious wake-ups happen, as the {@code Condition} contract allows:
 * a waiter not woken by a {@code signal} that bumped the sequence returns when its 50 ms blocking slice ends, and a
 * waiter that slept through exactly 2<sup>32</sup> signals would miss them. Check the awaited state in a loop, or
 * use {@link #awaitFor(BooleanSupplier, long, TimeUnit)}. There is no hand-shake between signaller and waiter (the
 * cause of Python's hangs when a waiter dies).
 *
 * <h2>Process death</h2>
 * A waiter that dies holds nothing; it leaves the waiters flag set, which costs the next signal one futex wake that
 * wakes nobody and clears it (the kernel counts only live sleepers), and the displayed waiters count one too high.
 * (Before layout version 2, signals looked at that count: one dead waiter made every later signal bump and wake.) If the lock's holder dies while threads wait, a waiter that returns takes
 * the lock over as any {@link SharedLock} waiter does, within about 50 ms, and finds it marked inconsistent
 * ({@code isConsistent()} false) until someone repairs the data and calls {@code markConsistent()}. A signal that
 * the dead process was to send never comes: waiters return at their timeouts.
 *
 * <h2>Deadlock</h2>
 * Re-taking the lock at the end of an {@code await} is a lock wait like any other: if it closes a cycle of waits
 * across threads and processes and this thread is the one chosen to break it, {@code await} throws
 * {@link DeadlockException} <em>without</em> the lock held (unlike every other way out of {@code await}); a
 * {@code finally { lock.unlock(); }} around it then throws {@link IllegalMonitorStateException}, so a caller that
 * wants the deadlock reported should check that it holds the lock ({@code isHeldByCurrentThread()}, or
 * {@code isWriteLockedByCurrentThread()} for a read-write lock) before unlocking.
 *
 * <p>Memory consistency effects: those of the lock, which every waiter holds when {@code await} returns.
 */
public final class SharedCondition implements Condition {
    private static final String KIND = "condition";
    /** What a lock's own condition ({@code newCondition()}) adds to the lock's name. */
    static final String COMPANION_SUFFIX = ".condition";

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment segment;
    private final TimedLock lock;
    private final BooleanSupplier held;
    private final String description;

    private SharedCondition(MemorySegment segment, TimedLock lock, BooleanSupplier held, String description) {
        Waits.prepare(); // the native wait calls linked now, not in the first timed wait
        this.segment = segment;
        this.lock = lock;
        this.held = held;
        this.description = description;
    }

    private SharedCondition(MemorySegment segment, SharedMutex lock, String description) {
        this(segment, Objects.requireNonNull(lock, "lock"), lock::isHeldByCurrentThread, description);
    }

    private SharedCondition(MemorySegment segment, SharedReadWriteLock lock, String description) {
        this(segment, Objects.requireNonNull(lock, "lock").exclusiveLock(), lock::isWriteLockedByCurrentThread,
                description);
    }

    /**
     * Creates a condition named {@code name} in {@code heap}, used with {@code lock}.
     *
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedCondition create(SharedHeap heap, String name, SharedMutex lock) {
        int field = lockField(heap, Objects.requireNonNull(lock, "lock"));
        return new SharedCondition(CoordinationBlocks.create(heap, name, SyncLayout.CONDITION, COND_SIZE, field, 0, 0),
                lock, named(name));
    }

    /**
     * Opens the condition named {@code name}, used with {@code lock}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a condition, or was made for another lock
     * @throws org.shm4j.core.ShmFormatException       if its header is corrupted
     */
    public static SharedCondition open(SharedHeap heap, String name, SharedMutex lock) {
        MemorySegment block = CoordinationBlocks.open(heap, name, SyncLayout.CONDITION, named(name));
        checkLock(heap, name, block, lockField(heap, Objects.requireNonNull(lock, "lock")), lock);
        return new SharedCondition(block, lock, named(name));
    }

    /**
     * Opens the condition named {@code name}, or creates it, used with {@code lock}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists for another lock
     */
    public static SharedCondition openOrCreate(SharedHeap heap, String name, SharedMutex lock) {
        return new SharedCondition(openOrCreateBlock(heap, name, Objects.requireNonNull(lock, "lock")), lock,
                named(name));
    }

    /**
     * Opens the condition named {@code name}, or creates it, used with the write lock of {@code lock}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists for another lock
     */
    public static SharedCondition openOrCreate(SharedHeap heap, String name, SharedReadWriteLock lock) {
        return new SharedCondition(openOrCreateBlock(heap, name, Objects.requireNonNull(lock, "lock").exclusiveLock()),
                lock, named(name));
    }

    /**
     * Lays out a condition over the {@link #requiredBytes()} bytes at {@code offset} of a native segment, zeroing
     * them, for use with {@code lock}.
     *
     * @throws IllegalArgumentException  if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the bytes are not inside the segment
     */
    public static SharedCondition format(MemorySegment segment, long offset, SharedMutex lock) {
        MemorySegment block = CoordinationBlocks.format(segment, offset, SyncLayout.CONDITION, COND_SIZE, 0, 0, 0);
        return new SharedCondition(block, lock, CoordinationBlocks.describe(KIND, block));
    }

    /**
     * Views a condition laid out by {@link #format} at {@code offset} of a native segment, for use with
     * {@code lock}.
     *
     * @throws org.shm4j.core.ShmFormatException if the bytes there are not a condition's
     * @throws IndexOutOfBoundsException         if they are not inside the segment
     */
    public static SharedCondition wrap(MemorySegment segment, long offset, SharedMutex lock) {
        MemorySegment block = CoordinationBlocks.wrap(segment, offset, SyncLayout.CONDITION, p -> COND_SIZE, KIND);
        return new SharedCondition(block, lock, CoordinationBlocks.describe(KIND, block));
    }

    /** @return the bytes a condition needs in raw memory */
    public static long requiredBytes() {
        return COND_SIZE;
    }

    @Override
    public void await() throws InterruptedException {
        awaitFor(-1, true);
    }

    @Override
    public void awaitUninterruptibly() {
        try {
            awaitFor(-1, false);
        } catch (InterruptedException impossible) {
            throw new AssertionError(impossible);
        }
    }

    @Override
    public long awaitNanos(long nanosTimeout) throws InterruptedException {
        return awaitFor(Math.max(0, nanosTimeout), true);
    }

    @Override
    public boolean await(long time, TimeUnit unit) throws InterruptedException {
        return awaitNanos(WordWait.nanos(time, unit)) > 0;
    }

    @Override
    public boolean awaitUntil(Date deadline) throws InterruptedException {
        Objects.requireNonNull(deadline, "deadline");
        long until = deadline.getTime();
        long now = System.currentTimeMillis();
        // a past deadline waits 0: the difference from a far past one (Long.MIN_VALUE) would overflow to a long wait
        return await(until > now ? until - now : 0, TimeUnit.MILLISECONDS);
    }

    /**
     * Waits until {@code predicate}, evaluated holding the lock, is true, at most {@code timeout}: Python's
     * {@code Condition.wait_for}. Spurious wake-ups are absorbed here.
     *
     * @return true if the predicate held; false if the timeout passed first
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     * @throws InterruptedException         if the thread is interrupted while waiting
     */
    public boolean awaitFor(BooleanSupplier predicate, long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = WordWait.nanos(timeout, unit);
        while (!predicate.getAsBoolean()) {
            if (nanos <= 0) {
                return false;
            }
            nanos = awaitNanos(nanos);
        }
        return true;
    }

    /**
     * Wakes at least one waiting thread, in any process, if any waits. Other waiters may return too, each within
     * about 50 ms (a spurious wake-up, which {@link Condition} allows; see the class comment), where Python's
     * {@code notify()} wakes exactly one: a waiter re-checks its state in a loop, or uses
     * {@link #awaitFor(BooleanSupplier, long, TimeUnit)}.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     */
    @Override
    public void signal() {
        try {
            signal(1);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Wakes every waiting thread, in any process.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     */
    @Override
    public void signalAll() {
        try {
            signal(Integer.MAX_VALUE);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(segment.scope(), description,
                () -> description + " (" + INT.getVolatile(segment, COND_WAITERS_OFFSET) + " waiting)");
    }

    /** Under the lock: wakes up to {@code count} sleepers if the waiters flag says any may wait (see the class doc). */
    private void signal(int count) {
        requireHeld();
        if ((int) INT.getVolatile(segment, COND_WAITING_OFFSET) != 0) { // a waiter sets it holding the lock
            // the bump before the clear: a signaller killed between the two leaves a spare wake, not deaf waiters
            INT.getAndAdd(segment, COND_SEQ_OFFSET, 1);
            if (Waits.wake(segment, COND_SEQ_OFFSET, count) < count) { // as many as asked woken: others may sleep
                INT.setVolatile(segment, COND_WAITING_OFFSET, 0);
            }
        }
    }

    /**
     * @param timeoutNanos how long to wait, or a negative value for ever
     * @return an estimate of the time left ({@code awaitNanos}'s answer; 1 when waiting for ever)
     */
    private long awaitFor(long timeoutNanos, boolean interruptible) throws InterruptedException {
        try {
            return awaitChange(timeoutNanos, interruptible);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    private long awaitChange(long timeoutNanos, boolean interruptible) throws InterruptedException {
        if (interruptible && Thread.interrupted()) {
            throw new InterruptedException();
        }
        requireHeld();
        long start = System.nanoTime();
        int sequence = (int) INT.getVolatile(segment, COND_SEQ_OFFSET); // read holding the lock: no signal missed
        INT.getAndAdd(segment, COND_WAITERS_OFFSET, 1); // counted first: a waiter seen in the flag is counted
        INT.setVolatile(segment, COND_WAITING_OFFSET, 1); // never cleared by the waiter: see the class doc
        int holds = lock.releaseForWait(); // all of a reentrant lock's holds, restored below
        boolean interrupted = false;
        try {
            interrupted = WordWait.awaitChange(segment, COND_SEQ_OFFSET, sequence, timeoutNanos, interruptible);
        } finally {
            INT.getAndAdd(segment, COND_WAITERS_OFFSET, -1);
            lock.reacquireAfterWait(holds); // through the lock's take-over if its holder died meanwhile
        }
        if (interrupted) {
            if (interruptible) {
                throw new InterruptedException();
            }
            Thread.currentThread().interrupt();
        }
        return timeoutNanos < 0 ? 1 : timeoutNanos - (System.nanoTime() - start);
    }

    /** @return what a method throws for {@code failure}; see {@link CoordinationBlocks#closedOr} */
    private RuntimeException closedOr(RuntimeException failure) {
        return CoordinationBlocks.closedOr(failure, segment, description);
    }

    private void requireHeld() {
        if (!held.getAsBoolean()) {
            throw new IllegalMonitorStateException(description + ": the current thread does not hold " + lock);
        }
    }

    /** @return the heap name of the condition {@code newCondition()} returns for the lock named {@code lockName} */
    static String companionName(String lockName) {
        return lockName + COMPANION_SUFFIX;
    }

    private static MemorySegment openOrCreateBlock(SharedHeap heap, String name, TimedLock lock) {
        int field = lockField(heap, lock);
        MemorySegment block = CoordinationBlocks.openOrCreateAsIs(heap, name, SyncLayout.CONDITION, COND_SIZE, field, 0,
                0, named(name));
        checkLock(heap, name, block, field, lock);
        return block;
    }

    /**
     * @return the lock field of a condition in {@code heap} used with {@code lock}: the offset of the lock's memory in
     *         the heap / 64, plus 1; 0 if it does not lie in the heap's memory (then nothing is checked)
     */
    private static int lockField(SharedHeap heap, TimedLock lock) {
        MemorySegment memory = heap.memory().segment();
        long offset = lock.address() - memory.address();
        if (offset < 0 || offset >= memory.byteSize() || offset % SyncLayout.CACHE_LINE != 0
                || offset / SyncLayout.CACHE_LINE >= Integer.MAX_VALUE) {
            return 0;
        }
        return (int) (offset / SyncLayout.CACHE_LINE) + 1;
    }

    /** @throws ShmTypeMismatchException if the condition {@code block} records another lock than {@code field} */
    private static void checkLock(SharedHeap heap, String name, MemorySegment block, int field, TimedLock lock) {
        CoordinationBlocks.requireUnusedParams(block, 1, named(name));
        int recorded = CoordinationBlocks.param1(block);
        if (recorded != field) {
            throw new ShmTypeMismatchException(named(name) + " was made for " + lockAt(heap, recorded)
                    + ", not for " + lock.description() + " (a condition is used with the lock it was made for)");
        }
    }

    /** @return the lock a condition's lock field names, for messages */
    private static String lockAt(SharedHeap heap, int field) {
        if (field == 0) {
            return "a lock outside its heap";
        }
        long offset = (field - 1L) * SyncLayout.CACHE_LINE;
        return heap.blocks().stream().filter(b -> b.offset() == offset).findFirst()
                .map(b -> "the lock '" + b.name() + "'").orElse("the lock at heap offset " + offset);
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }
}
