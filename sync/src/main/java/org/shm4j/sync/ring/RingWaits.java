package org.shm4j.sync.ring;

import org.shm4j.core.internal.Timeouts;
import org.shm4j.sync.internal.Waits;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.RING_BLOCKED_BEFORE;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_WAITING;

/**
 * A {@link SharedRing}'s waits and wake-ups: producers wait for room on the not-full sequence, consumers for a
 * message on the not-empty sequence. Static methods taking the ring's segment: {@link #signalNotEmpty} and
 * {@link #signalNotFull} are on the offer and poll paths, with no load of another object between the ring and its
 * segment.
 *
 * <p>Protocol (an eventcount with a waiters word beside each sequence; since layout version 7). A waiter about to block
 * (1) reads the sequence (volatile), (2) announces itself ({@link #announce}: sets {@code RING_WAITING}, and with the
 * first announcement on that side of the ring the sticky {@code RING_BLOCKED_BEFORE}, by a volatile store, unless
 * {@code RING_WAITING} is set already), (3) looks at the ring again (a consumer: is a record committed at its
 * position, with volatile loads; a producer: the attempt itself), and only if that finds nothing (4) sleeps in futex
 * while the sequence still holds the value it read, at most {@link WaitStrategy#MAX_BLOCK_NANOS}. It never clears
 * the word. The other side, after publishing (a message, or freed space, by a release store), loads the word
 * (volatile): 0, a side never blocked on, ends the signal there, one load as before; if only the sticky bit is set,
 * it fences (StoreLoad) and loads the word again; if {@code RING_WAITING} is set, it clears that bit alone
 * atomically (of concurrent signals, one clears it; the atomic update is a full barrier itself, so a word first loaded
 * with that bit set needs no fence before it), then bumps the sequence, then wakes every sleeper.
 *
 * <p>Why no wake-up is lost. The waiter's store (2) before its look (3), and the publisher's store before its fenced
 * load, are the two halves of Dekker's pattern: either the look sees the publication, or the publisher's load sees
 * the waiter's bit (a producer's attempt reads head with a volatile load for this, see {@code RingProducer}). A
 * waiter whose announcement a signal erased read the sequence (1) before it announced itself, and that signal bumps
 * the sequence after erasing it, so its futex wait returns at once and it announces itself
 * again; a waiter that found the bit set already (no store) read it after it was set, so a publisher clearing it
 * later bumps the sequence after the waiter's read. A waiter that timed out or was killed leaves the bit set: the
 * next signal clears it, at the cost of one spare wake-up, and later ones pay one volatile load and a fence again.
 *
 * <p>The fence costs only rings someone blocked on: without the sticky bit, a publisher's load may pass its own
 * release store (a store buffer), so a publisher that read the word before the first announcement on that side
 * became visible may miss a waiter whose look missed its publication. That first blocking wait alone is exposed:
 * the waiter that set the sticky bit itself blocks at most {@link #FIRST_BLOCK_NANOS} in that step, then looks
 * again. (A second waiter announcing itself while that lagging publication is still unseen is left to the re-check
 * every 10 ms: one within nanoseconds of the first store, or one coming after a first waiter that timed out or was
 * interrupted within its first block, before it looked again.)
 *
 * <p>Before layout version 7 the word was 0 or 1 and a waiter looked at the ring before it read the sequence: a
 * publication in between, whose publisher found the flag clear, was slept through until the 10 ms re-check. Before
 * version 6 the word was a count undone by each waiter on its way out: a waiter killed while counted made every
 * later signal bump and wake for ever.
 */
final class RingWaits {
    /** The longest first blocking step of the waiter that set a side's sticky bit itself: see the class comment. */
    static final long FIRST_BLOCK_NANOS = 100_000;

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private RingWaits() {
    }

    /** Wakes the consumers waiting for a message, if any announced themselves. */
    static void signalNotEmpty(MemorySegment block) {
        signal(block, RING_NOT_EMPTY_SEQ_OFFSET, RING_NOT_EMPTY_WAITERS_OFFSET);
    }

    /** Wakes the producers waiting for room, if any announced themselves. */
    static void signalNotFull(MemorySegment block) {
        signal(block, RING_NOT_FULL_SEQ_OFFSET, RING_NOT_FULL_WAITERS_OFFSET);
    }

    /**
     * Repeats a producer's {@code attempt}, waiting for the consumer to free space between tries, until it succeeds
     * or times out. Before it blocks, it announces itself and tries once more (the eventcount's look).
     *
     * @return false if {@code timeout} passed first
     */
    static boolean retry(MemorySegment block, BooleanSupplier attempt, Duration timeout, WaitStrategy strategy)
            throws InterruptedException {
        // both checked before the first attempt, not only once a wait is needed
        long timeoutNanos = Timeouts.nanos(timeout);
        Objects.requireNonNull(strategy, "strategy");
        long start = System.nanoTime();
        int step = 0;
        while (!attempt.getAsBoolean()) {
            long left = timeoutNanos - (System.nanoTime() - start);
            if (left <= 0) {
                return false;
            }
            checkInterrupt();
            int seq = sequence(block, RING_NOT_FULL_SEQ_OFFSET);
            long blockNanos = left;
            if (strategy.blocksAt(step)) {
                blockNanos = announce(block, RING_NOT_FULL_WAITERS_OFFSET, left);
                if (attempt.getAsBoolean()) { // the look, after the announcement: room freed meanwhile
                    return true;
                }
            }
            step = strategy.idle(step, block, RING_NOT_FULL_SEQ_OFFSET, seq, blockNanos);
        }
        return true;
    }

    /**
     * Waits one step of {@code strategy} as a consumer of {@code ring} for a message, applying its stall rule every
     * {@value RingStallRule#CHECK_EVERY}th step and before it blocks, and blocking no longer than its next check.
     * Before it blocks, it announces itself and looks at the ring once more.
     *
     * @return the next step; the same step, without waiting, if that look found a record to hand over
     */
    static int awaitNotEmpty(SharedRing ring, WaitStrategy strategy, int step, long leftNanos)
            throws InterruptedException {
        checkInterrupt();
        MemorySegment block = ring.block;
        boolean blocks = strategy.blocksAt(step);
        if (blocks || step % RingStallRule.CHECK_EVERY == RingStallRule.CHECK_EVERY - 1) {
            ring.stallRule.check();
        }
        int seq = sequence(block, RING_NOT_EMPTY_SEQ_OFFSET);
        if (!blocks) {
            return strategy.idle(step, block, RING_NOT_EMPTY_SEQ_OFFSET, seq, leftNanos);
        }
        long blockNanos = announce(block, RING_NOT_EMPTY_WAITERS_OFFSET,
                Math.min(leftNanos, ring.stallRule.nextCheckNanos()));
        if (RingConsumer.committedAtPosition(ring)) { // the look, after the announcement: a message came meanwhile
            return step;
        }
        return strategy.idle(step, block, RING_NOT_EMPTY_SEQ_OFFSET, seq, blockNanos);
    }

    /** The eventcount's step (1): @return the sequence at {@code seqOffset}, read before the announcement. */
    static int sequence(MemorySegment block, long seqOffset) {
        return (int) INT.getVolatile(block, seqOffset); // volatile: before the announcement, see the class comment
    }

    /**
     * The eventcount's step (2): announces a waiter about to block in the waiters word at {@code waitersOffset},
     * after it read the sequence and before it looks at the ring again. A volatile store of both bits unless
     * {@code RING_WAITING} is set already (its cache line then stays shared); a concurrent signal's clearing of that
     * bit is never lost to the store, which only sets bits, and never erases the sticky bit.
     *
     * @param maxNanos the longest the caller would block otherwise
     * @return the longest the caller may block: at most {@link #FIRST_BLOCK_NANOS} if this call set the sticky bit
     */
    static long announce(MemorySegment block, long waitersOffset, long maxNanos) {
        int waiters = (int) INT.getVolatile(block, waitersOffset);
        if ((waiters & RING_WAITING) == 0) {
            // volatile: a StoreLoad before the look that follows (Dekker with the publisher's fenced load)
            INT.setVolatile(block, waitersOffset, waiters | RING_WAITING | RING_BLOCKED_BEFORE);
        }
        return (waiters & RING_BLOCKED_BEFORE) == 0 ? Math.min(maxNanos, FIRST_BLOCK_NANOS) : maxNanos;
    }

    /** Wakes the waiters on the sequence at {@code seqOffset}, if any announced themselves since the last signal. */
    private static void signal(MemorySegment block, long seqOffset, long waitersOffset) {
        // volatile: 0 on a side never blocked on, which then pays this one load and nothing else
        int waiters = (int) INT.getVolatile(block, waitersOffset);
        if (waiters != 0) {
            signalBlockedSide(block, seqOffset, waitersOffset, waiters);
        }
    }

    /**
     * {@link #signal} on a side that a waiter has blocked on ({@code waiters}, the word loaded, is not 0): kept apart
     * so that the hot path stays small.
     */
    private static void signalBlockedSide(MemorySegment block, long seqOffset, long waitersOffset, int waiters) {
        int seen = waiters;
        if ((seen & RING_WAITING) == 0) {
            VarHandle.fullFence(); // StoreLoad: the caller's publication before the load below, see the class comment
            seen = (int) INT.getVolatile(block, waitersOffset);
        }
        // the atomic clear (a full barrier itself) takes that bit alone, before the bump: of concurrent signals, one
        // sees it set
        if ((seen & RING_WAITING) != 0
                && ((int) INT.getAndBitwiseAnd(block, waitersOffset, ~RING_WAITING) & RING_WAITING) != 0) {
            INT.getAndAdd(block, seqOffset, 1);
            Waits.wake(block, seqOffset, Integer.MAX_VALUE);
        }
    }

    private static void checkInterrupt() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
    }
}
