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

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.COND_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_SIZE;
import static org.shm4j.sync.internal.SyncLayout.COND_TOKENS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_WORD_OFFSET;

/**
 * A {@link Condition} in shared memory whose waiters and signallers may be threads of any process, bound to a
 * {@link SharedLock}, a {@link SharedReentrantLock} (whose holds {@code await} releases all and restores, as
 * {@code ReentrantLock}'s conditions do) or the write lock of a {@link SharedReadWriteLock}: Python's
 * {@code multiprocessing.Condition}. {@link SharedMutex#newCondition()} returns the lock's own condition; create more
 * by name here ({@code notEmpty}, {@code notFull}, ...). A condition made in a heap for a lock in the same heap
 * records which lock it is, and opening it with another lock throws {@link org.shm4j.core.ShmTypeMismatchException};
 * with a lock elsewhere (or in raw memory) every process must use the same lock, unchecked.
 *
 * <h2>Layout (heap block type {@code 0x53480065} v4, 128 bytes, 64-aligned, native byte order)</h2>
 * <table class="striped">
 * <caption>SharedCondition block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code "SHM4JCRD"} in ASCII</td><td rowspan="3">plain; written once
 *     before the block is published, checked when opened</td></tr>
 * <tr><td>8</td><td>4</td><td>tag</td><td>{@code 0x53480065}</td></tr>
 * <tr><td>12</td><td>4</td><td>version</td><td>4 (3 woke every waiter on a signal; 2 had no lock field)</td></tr>
 * <tr><td>16</td><td>4</td><td>lock</td><td>the lock it is used with: the offset of the lock's block in the heap
 *     / 64, plus 1; 0 for a condition laid out in raw memory, or one whose lock lies outside its heap (unchecked)</td>
 *     <td>plain; written once before the block is published, checked when opened</td></tr>
 * <tr><td>20</td><td>44</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>4</td><td>sequence</td><td>bumped by every signal that hands out tokens; the futex word</td>
 *     <td rowspan="3">one 8-byte word (the signal word, at 64): volatile reads, compare-and-set by signals and
 *     waiters counting themselves (both under the lock) and by waiters leaving (not holding it)</td></tr>
 * <tr><td>68</td><td>2</td><td>tokens</td><td>wake-ups handed out by signals and not yet taken (unsigned): at most
 *     one per counted waiter</td></tr>
 * <tr><td>70</td><td>2</td><td>waiters</td><td>threads counted from reading the sequence (holding the lock) to
 *     leaving their wait (unsigned, at most 65,535); a waiter killed while counted stays counted</td></tr>
 * <tr><td>72</td><td>56</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 *
 * <h2>Algorithm</h2>
 * A sequence futex with wake-up tokens, so that {@code signal} wakes one waiter, as Python's {@code notify()} and
 * {@code ReentrantLock}'s {@code signal} do, and {@code signalAll} every one. {@code await}, holding the lock, reads
 * the sequence as its generation and counts itself a waiter, releases the lock, then waits (spin, yield, then futex, in
 * slices of at most 50 ms) while the sequence is its generation. {@code signal} (holding the lock) hands out one token
 * if there are more waiters than tokens ({@code signalAll}: one to every waiter without one), bumping the sequence in
 * the same compare-and-set, and wakes as many blocked threads. A waiter that finds the sequence moved takes a token and
 * uncounts itself in one compare-and-set and returns (re-taking the lock); if none is left, every wake-up since its
 * generation went to another waiter, so it takes the new sequence as its generation and waits on. Sequence, tokens and
 * waiters share one word so that a signal never counts a waiter that already left with its token: tokens stay at most
 * the waiters that may take them, and a waiter without one is always counted. A waiter counted before a signal is one
 * of those it may wake: one that arrives later sees the bumped sequence as its generation and cannot take that signal's
 * token. No wake-up is lost: each signal hands out a token for a waiter without one and moves the sequence (the kernel
 * compares it too), and a waiter whose futex wake went to a thread that found the token taken still sees the sequence
 * moved within its slice. A waiter that times out or is interrupted while a token it may take is there takes it and
 * returns as signalled (an interrupt is then left set), so a signal is never spent on a waiter that reports a timeout.
 * Spurious wake-ups are rare but allowed by the {@code Condition} contract (see Process death, and a waiter that slept
 * through exactly 2<sup>32</sup> signals): check the awaited state in a loop, or use
 * {@link #awaitFor(BooleanSupplier, long, TimeUnit)}. There is no hand-shake between signaller and waiter (the cause
 * of Python's hangs when a waiter dies).
 *
 * <h2>Process death</h2>
 * A waiter that dies holds nothing; it stays counted, so a signal may later hand a token to it, which a live waiter
 * then takes besides its own: while dead waiters are counted, a {@code signal} may wake up to one more live waiter
 * each than asked (a spurious wake-up), and the first signal after a dead waiter's death costs one futex wake that
 * wakes nobody (the kernel counts only live sleepers). A signaller that dies between its compare-and-set and its
 * futex wake leaves the tokens handed out: waiters take them when their 50 ms slice ends. If the lock's holder dies
 * while threads wait, a waiter that returns takes the lock over as any {@link SharedLock} waiter does, within about
 * 50 ms, and finds it marked inconsistent ({@code isConsistent()} false) until someone repairs the data and calls
 * {@code markConsistent()}. A signal that the dead process was to send never comes: waiters return at their
 * timeouts.
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

    /** Where the sequence, the tokens and the waiters sit in the signal word (see {@link SyncLayout#condShift}). */
    private static final int SEQ_SHIFT = SyncLayout.condShift(COND_SEQ_OFFSET, Integer.BYTES);
    private static final int TOKENS_SHIFT = SyncLayout.condShift(COND_TOKENS_OFFSET, Short.BYTES);
    private static final int WAITERS_SHIFT = SyncLayout.condShift(COND_WAITERS_OFFSET, Short.BYTES);
    /** One step of each field in the signal word. */
    private static final long SEQ_STEP = 1L << SEQ_SHIFT;
    private static final long TOKEN = 1L << TOKENS_SHIFT;
    private static final long WAITER = 1L << WAITERS_SHIFT;
    /** The sequence's bits in the signal word. */
    private static final long SEQ_MASK = 0xFFFF_FFFFL << SEQ_SHIFT;

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
        if (tokens(word) > waiters(word)) {
            throw Blocks.corrupt(description, "tokens", tokens(word), "0.." + waiters(word) + ", its waiters");
        }
        Blocks.requireZero(segment, COND_WAITERS_OFFSET + Short.BYTES, COND_SIZE, description);
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
     * Wakes one waiting thread, in any process, if any waits that no earlier signal woke (Python's {@code notify()}):
     * one of the threads waiting when it is called; a thread that starts waiting after it is not woken by it. See
     * Process death in the class comment for the spurious wake-ups a dead waiter can cause.
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
     * Wakes every thread waiting when it is called, in any process (Python's {@code notify_all()}).
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
                () -> description + " (" + waiters(word()) + " waiting)");
    }

    /**
     * Under the lock: hands out tokens to up to {@code count} waiters that have none and wakes as many sleepers (see
     * the class comment).
     */
    private void signal(int count) {
        requireHeld();
        while (true) {
            long word = word();
            int wake = Math.min(count, waiters(word) - tokens(word));
            if (wake <= 0) {
                return; // nobody waits, or every waiter has a token already
            }
            // tokens and sequence in one step: a signaller killed after it leaves both, which waiters act on
            long next = ((word + SEQ_STEP) & SEQ_MASK) | ((word & ~SEQ_MASK) + wake * TOKEN);
            if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word, next)) {
                Waits.wake(segment, COND_SEQ_OFFSET, wake);
                return;
            }
            // a waiter took a token or left meanwhile: look again
        }
    }

    private long word() {
        return (long) LONG.getVolatile(segment, COND_WORD_OFFSET);
    }

    private static int sequence(long word) {
        return (int) (word >>> SEQ_SHIFT);
    }

    private static int tokens(long word) {
        return (int) (word >>> TOKENS_SHIFT) & 0xFFFF;
    }

    private static int waiters(long word) {
        return (int) (word >>> WAITERS_SHIFT) & 0xFFFF;
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
        int generation = count(); // holding the lock: every signal after it moves the sequence, and may wake this
        int holds = lock.releaseForWait(); // all of a reentrant lock's holds, restored below
        boolean interrupted = false;
        boolean signalled = false;
        try {
            while (true) {
                long word = word();
                int sequence = sequence(word);
                if (sequence != generation) {
                    if (tokens(word) > 0) {
                        if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word, word - TOKEN - WAITER)) {
                            signalled = true;
                            break;
                        }
                        continue; // a signal or another waiter changed the word: look again
                    }
                    generation = sequence; // every wake-up since went to other waiters: wait for the next signal
                }
                long left = timeoutNanos < 0 ? -1 : timeoutNanos - (System.nanoTime() - start);
                if (interrupted && interruptible || timeoutNanos >= 0 && left <= 0) {
                    break;
                }
                interrupted |= WordWait.awaitChange(segment, COND_SEQ_OFFSET, generation, left, interruptible);
            }
        } finally {
            if (!signalled) { // a token that came since the last look is taken: none outlives its possible takers
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
     * Holding the lock: counts the calling thread a waiter.
     *
     * @return the sequence it waits to see moved
     * @throws IllegalStateException if {@link SyncLayout#COND_MAX_WAITERS} threads wait already
     */
    private int count() {
        while (true) {
            long word = word();
            if (waiters(word) == SyncLayout.COND_MAX_WAITERS) {
                throw new IllegalStateException(description + ": " + SyncLayout.COND_MAX_WAITERS
                        + " threads wait on it already (the most a condition counts)");
            }
            if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word, word + WAITER)) {
                return sequence(word);
            }
        }
    }

    /**
     * Uncounts a waiter leaving without a signal (timed out, interrupted, or failing). A token it may take (the
     * sequence moved past {@code generation}) is taken instead, so that no token outlives the waiters that may take
     * it.
     *
     * @return true if it took a token: it was signalled after all
     */
    private boolean uncount(int generation) {
        while (true) {
            long word = word();
            boolean token = sequence(word) != generation && tokens(word) > 0;
            if (LONG.compareAndSet(segment, COND_WORD_OFFSET, word, word - WAITER - (token ? TOKEN : 0))) {
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
