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
 * message on the not-empty sequence; a waiter about to block announces itself in the waiters count next to the
 * sequence, and the other side bumps the sequence and wakes the futex only when that count is not zero. Static
 * methods taking the ring's segment: {@link #signalNotEmpty} and {@link #signalNotFull} are on the offer and poll
 * paths, with no load of another object between the ring and its segment.
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
        INT.getAndAdd(block, waitersOffset, 1); // announce, then re-check in the caller's next round
        try {
            long idleNanos = consumer ? Math.min(leftNanos, stallRule.nextCheckNanos()) : leftNanos;
            return strategy.idle(step, block, seqOffset, seq, idleNanos);
        } finally {
            INT.getAndAdd(block, waitersOffset, -1);
        }
    }

    /** Wakes the waiters on the sequence at {@code seqOffset}, if any announced themselves. */
    private static void signal(MemorySegment block, long seqOffset, long waitersOffset) {
        if ((int) INT.getVolatile(block, waitersOffset) != 0) {
            INT.getAndAdd(block, seqOffset, 1);
            Waits.wake(block, seqOffset, Integer.MAX_VALUE);
        }
    }
}
