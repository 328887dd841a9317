package org.shm4j.sync.ring;

import org.shm4j.sync.internal.Waits;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_WAITERS_OFFSET;

/**
 * A {@link SharedRing}'s waits and wake-ups: producers wait for room on the not-full sequence, consumers for a
 * message on the not-empty sequence. Static methods taking the ring's segment: {@link #signalNotEmpty} and
 * {@link #signalNotFull} are on the offer and poll paths, with no load of another object between the ring and its
 * segment.
 *
 * <p>Protocol (an eventcount with a waiters flag beside each sequence). A waiter about to block reads the sequence
 * (volatile), then sets the flag ({@link Waits#announce}), then sleeps in futex while the sequence still holds the
 * value it read, at most {@link WaitStrategy#MAX_BLOCK_NANOS}; it never clears the flag. The other side, after
 * publishing (a message, or freed space), loads the flag (volatile) and, only if it is set, clears it, then bumps
 * the sequence, then wakes every sleeper. No wake-up is lost to the clearing: a waiter whose announcement a signal
 * erased read the sequence before it set the flag, and that signal bumps the sequence after erasing it, so the
 * waiter's futex wait returns at once and it announces itself again. A waiter that timed out or was killed leaves
 * the flag set: the next signal clears it, at the cost of one spare wake-up, and later ones pay one volatile load
 * again. (Before layout version 6 the word was a count undone by each waiter on its way out: a waiter killed while
 * counted made every later signal bump and wake for ever.)
 *
 * <p>Non-invariant: a waiter looks at the ring (empty, or full) before it reads the sequence and announces itself,
 * so a publication between that look and the announcement, whose publisher found the flag clear, is slept through
 * (the eventcount order, sequence and announcement first, then the look, would close it; so would, for a waiter
 * already announced, a full fence between the publisher's release store and its load of the flag, on every offer and
 * poll). Such a waiter re-checks when its block of at most 10 ms ends, as before this layout version.
 */
final class RingWaits {
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
     * or times out.
     *
     * @return false if {@code timeout} passed first
     */
    static boolean retry(MemorySegment block, BooleanSupplier attempt, Duration timeout, WaitStrategy strategy)
            throws InterruptedException {
        long start = System.nanoTime();
        int step = 0;
        while (!attempt.getAsBoolean()) {
            long left = Waits.nanos(timeout) - (System.nanoTime() - start);
            if (left <= 0) {
                return false;
            }
            step = await(block, strategy, step, RING_NOT_FULL_SEQ_OFFSET, RING_NOT_FULL_WAITERS_OFFSET, left, null);
        }
        return true;
    }

    /**
     * Waits one step of {@code strategy} as a consumer for a message, applying {@code stallRule} every
     * {@value RingStallRule#CHECK_EVERY}th step and before it blocks, and blocking no longer than its next check.
     *
     * @return the next step
     */
    static int awaitNotEmpty(MemorySegment block, WaitStrategy strategy, int step, long leftNanos,
                             RingStallRule stallRule) throws InterruptedException {
        return await(block, strategy, step, RING_NOT_EMPTY_SEQ_OFFSET, RING_NOT_EMPTY_WAITERS_OFFSET, leftNanos,
                stallRule);
    }

    /**
     * Waits one step of {@code strategy} for the sequence at {@code seqOffset} to move.
     *
     * @param stallRule the consumer's stall rule, or null for a producer
     */
    private static int await(MemorySegment block, WaitStrategy strategy, int step, long seqOffset, long waitersOffset,
                             long leftNanos, RingStallRule stallRule) throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        boolean consumer = stallRule != null;
        if (consumer && (strategy.blocksAt(step)
                || step % RingStallRule.CHECK_EVERY == RingStallRule.CHECK_EVERY - 1)) {
            stallRule.check();
        }
        int seq = (int) INT.getVolatile(block, seqOffset);
        if (!strategy.blocksAt(step)) {
            return strategy.idle(step, block, seqOffset, seq, leftNanos);
        }
        Waits.announce(block, waitersOffset); // after reading seq: a signal that erases the flag bumps seq after
        long idleNanos = consumer ? Math.min(leftNanos, stallRule.nextCheckNanos()) : leftNanos;
        return strategy.idle(step, block, seqOffset, seq, idleNanos);
    }

    /** Wakes the waiters on the sequence at {@code seqOffset}, if any announced themselves since the last signal. */
    private static void signal(MemorySegment block, long seqOffset, long waitersOffset) {
        if (Waits.takeAnnouncement(block, waitersOffset)) { // clears the flag before the bump: see the class comment
            INT.getAndAdd(block, seqOffset, 1);
            Waits.wake(block, seqOffset, Integer.MAX_VALUE);
        }
    }
}
