package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.internal.HeapMappings;
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

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.COND_ARRIVED_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_EPOCH_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_FUTEX_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_SERVED_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_SIZE;
import static org.shm4j.sync.internal.SyncLayout.COND_TOKENS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_WORD_OFFSET;

/**
 * A {@link Condition} in shared memory whose waiters and signallers may be threads of any process, bound to a
 * {@link SharedLock}, a {@link SharedReentrantLock} (whose holds {@code await} releases all and restores, as
 * {@code ReentrantLock}'s conditions do), a {@link SharedFairLock} or the write lock of a {@link SharedReadWriteLock}:
 * Python's {@code multiprocessing.Condition}. A lock's {@code newCondition()} returns a new condition per call, which
 * other processes find by the order of their own calls ({@link SharedMutex#newCondition()}:
 * {@code "<lock>.condition"}, then {@code "<lock>.condition.2"}, ...; before, every call returned the first, so code
 * that called it on each use should keep the condition it got once); or name them here ({@code notEmpty},
 * {@code notFull}, ...). A condition in a heap is for a lock in the same heap (through any mapping of it in this
 * process): it records which lock it is, and opening it with another lock throws
 * {@link org.shm4j.core.ShmTypeMismatchException}. A lock outside the condition's heap (in another heap, or wrapped
 * over raw memory) is refused with {@link IllegalArgumentException} by {@code create}, {@code open} and
 * {@code openOrCreate}: the lock knows no place that every process could record and check (a wrapped lock knows only
 * its address in this process), and a condition that recorded none would take any lock, so two processes could wait
 * and signal under different locks, unwarned (earlier builds made such conditions). Make the condition in the lock's
 * heap, or {@linkplain #format lay it out} beside a lock in raw memory (where, as there is no heap, every process must
 * use the same lock, unchecked).
 *
 * <h2>Layout (heap block type {@code 0x53480065} v5, 128 bytes, 64-aligned, native byte order)</h2>
 * <table class="striped">
 * <caption>SharedCondition block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code "SHM4JCRD"} in ASCII</td><td rowspan="3">plain; written once
 *     before the block is published, checked when opened</td></tr>
 * <tr><td>8</td><td>4</td><td>tag</td><td>{@code 0x53480065}</td></tr>
 * <tr><td>12</td><td>4</td><td>version</td><td>5 (4 let a late waiter take an earlier signal's wake-up; 3 woke
 *     every waiter on a signal; 2 had no lock field)</td></tr>
 * <tr><td>16</td><td>4</td><td>lock</td><td>the lock it is used with: the offset of the lock's block in the heap
 *     / 64, plus 1; 0 for a condition laid out in raw memory (unchecked), or, in a heap, one that an earlier build
 *     made for a lock outside it (no lock may open it now)</td>
 *     <td>plain; written once before the block is published, checked when opened</td></tr>
 * <tr><td>20</td><td>44</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>2</td><td>epoch</td><td>bumped by a signal that serves the arrived waiters, by 2 by
 *     {@code signalAll} (unsigned, wraps); with the tokens, the int at 64 is the futex word</td>
 *     <td rowspan="4">one 8-byte word (the signal word, at 64): volatile reads, compare-and-set by signals and
 *     waiters arriving (both under the lock) and by waiters leaving (not holding it)</td></tr>
 * <tr><td>66</td><td>2</td><td>tokens</td><td>wake-ups handed to served waiters and not yet taken (unsigned): at
 *     most the served waiters</td></tr>
 * <tr><td>68</td><td>2</td><td>served</td><td>waiters counted that arrived before the epoch's last bump: the ones
 *     tokens are for (unsigned)</td></tr>
 * <tr><td>70</td><td>2</td><td>arrived</td><td>waiters counted that arrived since (unsigned); served plus arrived at
 *     most 65,535</td></tr>
 * <tr><td>72</td><td>8</td><td>tokens since</td><td>{@code System.nanoTime()} (the machine's monotonic clock, the
 *     same in every process) when the tokens last went from none to some, or one was taken with others
 *     left</td><td>opaque: written by signals
 *     under the lock and by waiters taking a token, read by waiting threads; a stale read only hands tokens over early
 *     or late (see Process death)</td></tr>
 * <tr><td>80</td><td>48</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 *
 * <h2>Algorithm</h2>
 * Two groups of waiters and wake-up tokens, so that {@code signal} wakes one of the threads waiting when it is called,
 * as Python's {@code notify()} and {@code ReentrantLock}'s {@code signal} do, and {@code signalAll} every one (the
 * grouping of glibc's condition variable, in one 8-byte word). {@code await}, holding the lock, reads the epoch as its
 * generation and counts itself an arrived waiter, releases the lock, then waits (spin, yield, then futex, in slices of
 * at most 50 ms). A waiter whose generation is the epoch is an arrived one; one behind it by 1 is served; by 2 or more,
 * released: it returns as signalled and counts nothing. {@code signal} (holding the lock) hands a token to the served
 * waiters if they have fewer tokens than waiters; if each of them has one, it bumps the epoch instead, which releases
 * them (their tokens go: they need none any more) and makes the arrived waiters the served ones, with one token. A
 * served waiter that finds a token takes it and uncounts itself in one compare-and-set and returns (re-taking the
 * lock). {@code signalAll} bumps the epoch by 2 and zeroes the counts: every waiter is released. Each signal wakes as
 * many sleepers through the futex word as it handed out wake-ups ({@code signalAll}: all of them).
 *
 * <p>So a thread that starts waiting after a signal cannot take that signal's wake-up: it is an arrived waiter, and
 * tokens are taken by served waiters only, each of whom was waiting before the signal that made it one; a served
 * waiter slow to take its token keeps it until it does, or until its group is released by a later signal. The one
 * exception is the hand-over of Process death: tokens that no served waiter took for a second (its process died, or
 * stopped, or its JVM paused that long) go to the arrived waiters, and the served ones return as signalled when they
 * run again. No wake-up is
 * lost: every signal changes the futex word (the kernel compares it), and a waiter whose futex wake went to another
 * thread (a sleeper is picked by the kernel, not by group) sees the change when its slice ends. A served waiter that
 * times out or is interrupted leaves its place to the others, unless every served waiter has a token: it then takes
 * one and returns as signalled (an interrupt is then left set), so a signal is never spent on a waiter that reports a
 * timeout. Spurious wake-ups are allowed by the {@code Condition} contract (check the awaited state in a loop, or use
 * {@link #awaitFor(BooleanSupplier, long, TimeUnit)}). The epoch wraps at 65,536: a released waiter that does not
 * run (a process stopped, or a pause) while that many group switches happen takes itself for arrived or served again
 * when it looks, and may then take a served waiter's token, which leaves that waiter for the next signal (no count
 * ever goes below zero). There is no hand-shake between signaller and waiter (the cause of Python's hangs when a
 * waiter dies).
 *
 * <h2>Process death</h2>
 * A waiter that dies holds nothing, but stays counted until its group is released: once it is served, a signal may
 * hand it a token that no live served waiter takes. Tokens never stay untaken for long while their takers live (a
 * served waiter looks at least every 50 ms), so an arrived waiter that finds tokens untaken, none taken meanwhile, for
 * {@value SyncLayout#COND_HAND_OVER_MILLIS} ms hands them over: it releases the served group (a live member of it
 * then returns as signalled, a spurious wake-up at worst) and serves the arrived one with as many of those tokens as
 * it has waiters. A signal that went to a dead waiter thus reaches the waiters that arrived after it within about a
 * second, rather than with the next signal; {@code signalAll} releases every group at once. While no signal comes,
 * dead waiters stay counted: a waiter that finds {@value SyncLayout#COND_MAX_WAITERS} counted releases them all
 * first, as {@code signalAll} does (a spurious wake-up for the live ones), so that processes killed while waiting
 * never fill the count for good. A signaller that dies
 * between its compare-and-set and its futex wake leaves its wake-ups handed out: waiters take them when their 50 ms
 * slice ends. If the lock's holder dies while threads wait, a waiter that returns
 * takes the lock over as any {@link SharedLock} waiter does, within about 50 ms, and finds it marked inconsistent
 * ({@code isConsistent()} false) until someone repairs the data and calls {@code markConsistent()}. A signal that the
 * dead process was to send never comes: waiters return at their timeouts.
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
    /** What a lock's first condition from {@code newCondition()} adds to the lock's name. */
    static final String COMPANION_SUFFIX = ".condition";

    /** Where the fields sit in the signal word (see {@link SyncLayout#condShift}). */
    private static final int FUTEX_SHIFT = SyncLayout.condShift(COND_FUTEX_OFFSET, Integer.BYTES);
    private static final int EPOCH_SHIFT = SyncLayout.condShift(COND_EPOCH_OFFSET, Short.BYTES);
    private static final int TOKENS_SHIFT = SyncLayout.condShift(COND_TOKENS_OFFSET, Short.BYTES);
    private static final int SERVED_SHIFT = SyncLayout.condShift(COND_SERVED_OFFSET, Short.BYTES);
    private static final int ARRIVED_SHIFT = SyncLayout.condShift(COND_ARRIVED_OFFSET, Short.BYTES);
    /** One step of each count in the signal word. */
    private static final long TOKEN = 1L << TOKENS_SHIFT;
    private static final long SERVED = 1L << SERVED_SHIFT;
    private static final long ARRIVED = 1L << ARRIVED_SHIFT;
    /** How long tokens stay untaken before an arrived waiter hands them over to its group (see Process death). */
    private static final long HAND_OVER_NANOS = TimeUnit.MILLISECONDS.toNanos(SyncLayout.COND_HAND_OVER_MILLIS);
    /** How long an arrived waiter blocks at a time while tokens are untaken, to look at their age again. */
    private static final long HAND_OVER_CHECK_NANOS = HAND_OVER_NANOS / 4;
    /** The distance from a waiter's generation to the epoch at which its group is served, and released. */
    private static final int SERVED_DISTANCE = 1;
    private static final int RELEASED_DISTANCE = 2;

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

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
        long word = word(); // one read: the fields change together, so a live condition always passes
        if (tokens(word) > served(word)) {
            throw Blocks.corrupt(description, "tokens", tokens(word), "0.." + served(word) + ", its served waiters");
        }
        if (served(word) + arrived(word) > SyncLayout.COND_MAX_WAITERS) {
            throw Blocks.corrupt(description, "waiters", served(word) + arrived(word),
                    "0.." + SyncLayout.COND_MAX_WAITERS + ", served and arrived");
        }
        Blocks.requireZero(segment, SyncLayout.COND_TOKENS_SINCE_OFFSET + Long.BYTES, COND_SIZE, description);
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
     * @throws IllegalArgumentException                 if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition create(SharedHeap heap, String name, SharedMutex lock) {
        return Blocks.opening(heap, () -> {
            int field = lockField(heap, name, Objects.requireNonNull(lock, "lock"));
            return new SharedCondition(CoordinationBlocks.create(heap, name, SyncLayout.CONDITION, COND_SIZE, field,
                    0, 0), lock, named(name));
        });
    }

    /**
     * Opens the condition named {@code name}, used with {@code lock}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a condition, or was made for another lock
     * @throws org.shm4j.core.ShmFormatException       if its header is corrupted
     * @throws IllegalArgumentException                if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition open(SharedHeap heap, String name, SharedMutex lock) {
        return Blocks.opening(heap, () -> {
            MemorySegment block = CoordinationBlocks.open(heap, name, SyncLayout.CONDITION, named(name));
            checkLock(heap, name, block, lockField(heap, name, Objects.requireNonNull(lock, "lock")), lock);
            return new SharedCondition(block, lock, named(name));
        });
    }

    /**
     * Opens the condition named {@code name}, or creates it, used with {@code lock}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists for another lock
     * @throws IllegalArgumentException                if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition openOrCreate(SharedHeap heap, String name, SharedMutex lock) {
        return Blocks.opening(heap, () -> new SharedCondition(openOrCreateBlock(heap, name,
                Objects.requireNonNull(lock, "lock")), lock, named(name)));
    }

    /**
     * Creates a condition named {@code name} in {@code heap}, used with the fair lock {@code lock}.
     *
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     * @throws IllegalArgumentException                 if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition create(SharedHeap heap, String name, SharedFairLock lock) {
        return Blocks.opening(heap, () -> {
            int field = lockField(heap, name, Objects.requireNonNull(lock, "lock"));
            return new SharedCondition(CoordinationBlocks.create(heap, name, SyncLayout.CONDITION, COND_SIZE, field,
                    0, 0), lock, lock::isHeldByCurrentThread, named(name));
        });
    }

    /**
     * Opens the condition named {@code name}, used with the fair lock {@code lock}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a condition, or was made for another lock
     * @throws org.shm4j.core.ShmFormatException       if its header is corrupted
     * @throws IllegalArgumentException                if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition open(SharedHeap heap, String name, SharedFairLock lock) {
        return Blocks.opening(heap, () -> {
            MemorySegment block = CoordinationBlocks.open(heap, name, SyncLayout.CONDITION, named(name));
            checkLock(heap, name, block, lockField(heap, name, Objects.requireNonNull(lock, "lock")), lock);
            return new SharedCondition(block, lock, lock::isHeldByCurrentThread, named(name));
        });
    }

    /**
     * Opens the condition named {@code name}, or creates it, used with the fair lock {@code lock}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists for another lock
     * @throws IllegalArgumentException                if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition openOrCreate(SharedHeap heap, String name, SharedFairLock lock) {
        return Blocks.opening(heap, () -> new SharedCondition(openOrCreateBlock(heap, name,
                Objects.requireNonNull(lock, "lock")), lock, lock::isHeldByCurrentThread, named(name)));
    }

    /**
     * Creates a condition named {@code name} in {@code heap}, used with the write lock of {@code lock}.
     *
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     * @throws IllegalArgumentException                 if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition create(SharedHeap heap, String name, SharedReadWriteLock lock) {
        return Blocks.opening(heap, () -> {
            int field = lockField(heap, name, Objects.requireNonNull(lock, "lock").exclusiveLock());
            return new SharedCondition(CoordinationBlocks.create(heap, name, SyncLayout.CONDITION, COND_SIZE, field,
                    0, 0), lock, named(name));
        });
    }

    /**
     * Opens the condition named {@code name}, used with the write lock of {@code lock}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a condition, or was made for another lock
     * @throws org.shm4j.core.ShmFormatException       if its header is corrupted
     * @throws IllegalArgumentException                if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition open(SharedHeap heap, String name, SharedReadWriteLock lock) {
        return Blocks.opening(heap, () -> {
            MemorySegment block = CoordinationBlocks.open(heap, name, SyncLayout.CONDITION, named(name));
            TimedLock writeLock = Objects.requireNonNull(lock, "lock").exclusiveLock();
            checkLock(heap, name, block, lockField(heap, name, writeLock), writeLock);
            return new SharedCondition(block, lock, named(name));
        });
    }

    /**
     * Opens the condition named {@code name}, or creates it, used with the write lock of {@code lock}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists for another lock
     * @throws IllegalArgumentException                if the lock lies outside {@code heap} (see the class comment)
     */
    public static SharedCondition openOrCreate(SharedHeap heap, String name, SharedReadWriteLock lock) {
        return Blocks.opening(heap, () -> new SharedCondition(openOrCreateBlock(heap, name,
                Objects.requireNonNull(lock, "lock").exclusiveLock()), lock, named(name)));
    }

    /**
     * Lays out a condition over the {@link #requiredBytes()} bytes at {@code offset} of a native segment, zeroing
     * them, for use with {@code lock}.
     *
     * @throws IllegalArgumentException  if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the bytes are not inside the segment
     */
    public static SharedCondition format(MemorySegment segment, long offset, SharedMutex lock) {
        Objects.requireNonNull(lock, "lock"); // before the bytes are zeroed
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

    /**
     * {@inheritDoc} For a negative {@code nanosTimeout} the answer is what {@code ReentrantLock}'s conditions answer,
     * at most {@code nanosTimeout}: minus the time spent, or {@code Long.MIN_VALUE} if that would be more. Unlike
     * theirs, a waiter signalled answers at least 1 for a timeout of 0 or more, also when the time was up (which makes
     * {@code await(time, unit)} true for it).
     */
    @Override
    public long awaitNanos(long nanosTimeout) throws InterruptedException {
        long left = awaitFor(Math.max(0, nanosTimeout), true);
        return left <= nanosTimeout || nanosTimeout >= 0 ? left : Long.MIN_VALUE;
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
        Objects.requireNonNull(predicate, "predicate");
        long nanos = WordWait.nanos(timeout, unit);
        try { // before the first evaluation: a predicate true at once, or a timeout of 0, must not skip the check
            requireHeld();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
        while (!predicate.getAsBoolean()) {
            if (nanos <= 0) {
                return false;
            }
            nanos = awaitNanos(nanos);
        }
        return true;
    }

    /**
     * Wakes one waiting thread, in any process, if any waits that no earlier signal woke (Python's {@code notify()}):
     * one of the threads waiting when it is called; a thread that starts waiting after it is not woken by it, unless
     * the waiter it served neither takes it nor runs for a second (a dead or stopped process: see Process death in
     * the class comment, also for the spurious wake-ups that then come).
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     */
    @Override
    public void signal() {
        try {
            signal(false);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Wakes every thread waiting when it is called, in any process (Python's {@code notify_all()}).
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     */
    @Override
    public void signalAll() {
        try {
            signal(true);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(segment.scope(), description,
                () -> description + " (" + waiters(word()) + " waiting)");
    }

    /**
     * Under the lock: hands a wake-up to one waiter that was waiting when called, or ({@code all}) releases every
     * waiter, and wakes as many sleepers (see the class comment).
     */
    private void signal(boolean all) {
        requireHeld();
        while (true) {
            long word = word();
            int served = served(word);
            int tokens = tokens(word);
            int arrived = arrived(word);
            long next;
            if (served == tokens && arrived == 0) {
                return; // nobody waits, or every waiter has a wake-up already
            } else if (all) {
                next = epochWord(epoch(word) + RELEASED_DISTANCE); // every group released: all counts start again
            } else if (served > tokens) {
                next = word + TOKEN;
            } else { // every served waiter has a token: they are released, the arrived ones served
                next = serveArrived(word, 1);
            }
            if (!all && (tokens == 0 || served == tokens)) { // new tokens (none before, or a switch's)
                dateTokens(); // before the word shows them
            }
            // one step: a signaller killed after it leaves the word as changed, which waiters act on
            if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word, next)) {
                Waits.wake(segment, COND_FUTEX_OFFSET, all ? Integer.MAX_VALUE : 1);
                return;
            }
            // a waiter took a token or left meanwhile: look again
        }
    }

    private long word() {
        return (long) LONG.getVolatile(segment, COND_WORD_OFFSET);
    }

    /**
     * @return {@code word} after a switch of groups: its served waiters released (the epoch moved on), its arrived
     *         ones served, with {@code tokens} tokens, and none arrived
     */
    private static long serveArrived(long word, int tokens) {
        return epochWord(epoch(word) + SERVED_DISTANCE) | (long) arrived(word) << SERVED_SHIFT
                | (long) tokens << TOKENS_SHIFT;
    }

    /** Dates the tokens now, for the hand-over (see Process death). */
    private void dateTokens() {
        // opaque: a date seen late or early only hands tokens over late or early (see the layout table)
        LONG.setOpaque(segment, SyncLayout.COND_TOKENS_SINCE_OFFSET, System.nanoTime());
    }

    /** @return a signal word with the epoch {@code epoch} (its low 16 bits) and every count 0 */
    private static long epochWord(int epoch) {
        return (epoch & 0xFFFFL) << EPOCH_SHIFT;
    }

    /** @return the int at {@link SyncLayout#COND_FUTEX_OFFSET} in {@code word}, which a sleeper's futex compares */
    private static int futex(long word) {
        return (int) (word >>> FUTEX_SHIFT);
    }

    private static int epoch(long word) {
        return (int) (word >>> EPOCH_SHIFT) & 0xFFFF;
    }

    private static int tokens(long word) {
        return (int) (word >>> TOKENS_SHIFT) & 0xFFFF;
    }

    private static int served(long word) {
        return (int) (word >>> SERVED_SHIFT) & 0xFFFF;
    }

    private static int arrived(long word) {
        return (int) (word >>> ARRIVED_SHIFT) & 0xFFFF;
    }

    private static int waiters(long word) {
        return served(word) + arrived(word);
    }

    /** @return how far the epoch in {@code word} is past {@code generation}: 0 arrived, 1 served, 2 or more released */
    private static int distance(long word, int generation) {
        return (epoch(word) - generation) & 0xFFFF;
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
        int generation = count(); // holding the lock: signals after it serve this waiter, then may wake it
        int holds = lock.releaseForWait(); // all of a reentrant lock's holds, restored below
        boolean interrupted = false;
        boolean signalled = false;
        try {
            while (true) {
                long word = word();
                int distance = distance(word, generation);
                if (distance >= RELEASED_DISTANCE) {
                    signalled = true; // released with its group: its count went with it
                    break;
                }
                if (distance == SERVED_DISTANCE && tokens(word) > 0) {
                    if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word, word - TOKEN - SERVED)) {
                        if (tokens(word) > 1) { // tokens left: they were being taken, not left to a dead waiter
                            dateTokens();
                        }
                        signalled = true;
                        break;
                    }
                    continue; // a signal or another waiter changed the word: look again
                }
                long left = timeoutNanos < 0 ? -1 : timeoutNanos - (System.nanoTime() - start);
                if (interrupted && interruptible || timeoutNanos >= 0 && left <= 0) {
                    break;
                }
                long block = left;
                if (distance == 0 && tokens(word) > 0) { // tokens untaken by the served: a dead waiter's, perhaps
                    if (handOver(word)) {
                        continue; // this waiter is served now, with its group
                    }
                    block = left < 0 ? HAND_OVER_CHECK_NANOS : Math.min(left, HAND_OVER_CHECK_NANOS);
                }
                interrupted |= WordWait.awaitChange(segment, COND_FUTEX_OFFSET, futex(word), block, interruptible);
            }
        } finally {
            if (!signalled) { // a wake-up that came since the last look is taken if nobody else may take it
                signalled = uncount(generation);
            }
            lock.reacquireAfterWait(holds); // through the lock's take-over if its holder died meanwhile
        }
        if (interrupted) {
            if (interruptible && !signalled) {
                throw new InterruptedException();
            }
            Thread.currentThread().interrupt(); // signalled as well: return as signalled, as Condition's waiters do
        }
        if (timeoutNanos < 0) {
            return 1;
        }
        long left = timeoutNanos - (System.nanoTime() - start);
        return signalled ? Math.max(1, left) : left; // a signalled waiter reports time left: await(t, unit) is true
    }

    /**
     * For an arrived waiter that found tokens untaken in {@code word}: if they have been untaken for
     * {@value SyncLayout#COND_HAND_OVER_MILLIS} ms, releases the served group and serves the arrived one with as many
     * of those tokens as it has waiters (see Process death), and wakes every sleeper.
     *
     * @return true if it did (or the word changed meanwhile): look again
     */
    private boolean handOver(long word) {
        // opaque: a date read late or early only hands over early or late, and the word's CAS decides
        long since = (long) LONG.getOpaque(segment, SyncLayout.COND_TOKENS_SINCE_OFFSET);
        long now = System.nanoTime();
        if (now - since < HAND_OVER_NANOS) {
            return false;
        }
        // claimed by moving the date (volatile CAS): of waiters that found it old, one hands over, with a date read
        // now, and the tokens handed over are dated anew
        if (!LONG.compareAndSet(segment, SyncLayout.COND_TOKENS_SINCE_OFFSET, since, now)) {
            return true;
        }
        if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word,
                serveArrived(word, Math.min(tokens(word), arrived(word))))) {
            Waits.wake(segment, COND_FUTEX_OFFSET, Integer.MAX_VALUE);
        }
        return true;
    }

    /**
     * Holding the lock: counts the calling thread an arrived waiter. If {@link SyncLayout#COND_MAX_WAITERS} are
     * counted already, which waiters killed while counted bring about in time (see Process death: nothing else takes
     * their counts back while no signal comes), it first releases every counted waiter as {@code signalAll} does: a
     * spurious wake-up for the live ones, which the {@code Condition} contract allows.
     *
     * @return its generation: the epoch, which the next serving signal moves past
     */
    private int count() {
        while (true) {
            long word = word();
            boolean full = waiters(word) >= SyncLayout.COND_MAX_WAITERS;
            long next = (full ? epochWord(epoch(word) + RELEASED_DISTANCE) : word) + ARRIVED;
            if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word, next)) {
                if (full) {
                    Waits.wake(segment, COND_FUTEX_OFFSET, Integer.MAX_VALUE);
                }
                return epoch(next);
            }
        }
    }

    /**
     * Uncounts a waiter leaving without a token (timed out, interrupted, or failing). A served waiter takes a token
     * instead if every served waiter has one (no token may outlive the waiters that may take it); one released
     * meanwhile counts nothing any more.
     *
     * @return true if it was signalled after all: released, or it took a token
     */
    private boolean uncount(int generation) {
        while (true) {
            long word = word();
            int distance = distance(word, generation);
            if (distance >= RELEASED_DISTANCE) {
                return true;
            }
            if ((distance == SERVED_DISTANCE ? served(word) : arrived(word)) == 0) {
                return true; // counted in no group: released 65,536 epochs ago (see the class comment); no borrow
            }
            boolean token = distance == SERVED_DISTANCE && tokens(word) == served(word);
            long next = distance == SERVED_DISTANCE ? word - SERVED - (token ? TOKEN : 0) : word - ARRIVED;
            if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word, next)) {
                return token;
            }
        }
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

    /**
     * @return what the {@code n}-th condition a lock object's {@code newCondition()} returns adds to the lock's name:
     *         {@code ".condition"} for the first, {@code ".condition.<n>"} after it
     */
    static String companionSuffix(int n) {
        return n == 1 ? COMPANION_SUFFIX : COMPANION_SUFFIX + "." + n;
    }

    private static MemorySegment openOrCreateBlock(SharedHeap heap, String name, TimedLock lock) {
        int field = lockField(heap, name, lock);
        MemorySegment block = CoordinationBlocks.openOrCreateAsIs(heap, name, SyncLayout.CONDITION, COND_SIZE, field, 0,
                0, named(name));
        checkLock(heap, name, block, field, lock);
        return block;
    }

    /**
     * @return the lock field of the condition {@code name} in {@code heap} used with {@code lock}: the offset of the
     *         lock's memory in the heap / 64, plus 1. A lock of another mapping of the same heap in this process (the
     *         heap opened twice) lies in it, at its offset there.
     * @throws IllegalArgumentException if the lock does not lie in the heap at a 64-byte line: such a lock has no place
     *                                  the condition could record, so no other lock could be refused (see the class
     *                                  comment)
     */
    private static int lockField(SharedHeap heap, String name, TimedLock lock) {
        MemorySegment memory = Objects.requireNonNull(heap, "heap").memory().segment();
        long offset = lock.address() - memory.address();
        if (offset < 0 || offset >= memory.byteSize()) {
            HeapMappings.Place lockPlace = HeapMappings.placeOf(MemorySegment.ofAddress(lock.address()));
            HeapMappings.Place heapPlace = HeapMappings.placeOf(memory);
            if (lockPlace != null && heapPlace != null && lockPlace.period() == heapPlace.period()) {
                offset = lock.address() - lockPlace.base();
            }
        }
        if (offset < 0 || offset >= memory.byteSize() || offset % SyncLayout.CACHE_LINE != 0
                || offset / SyncLayout.CACHE_LINE >= Integer.MAX_VALUE) {
            throw new IllegalArgumentException(named(name) + " in " + heap + " cannot be used with "
                    + lock.description() + ", which lies outside that heap (or off its 64-byte lines): a condition in a"
                    + " heap records its lock's place there, to refuse any other lock; make it in the lock's own heap"
                    + " (the lock's newCondition(), or SharedCondition.create with that heap), or lay it out beside a"
                    + " lock in raw memory with SharedCondition.format");
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
            return "a lock outside its heap (by an earlier build, which allowed one)";
        }
        long offset = (field - 1L) * SyncLayout.CACHE_LINE;
        return heap.blocks().stream().filter(b -> b.offset() == offset).findFirst()
                .map(b -> "the lock '" + b.name() + "'").orElse("the lock at heap offset " + offset);
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }
}
