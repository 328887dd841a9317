package org.shm4j.sync.ring;

import org.shm4j.core.internal.Backoff;
import org.shm4j.sync.internal.Waits;

import java.lang.foreign.MemorySegment;

/**
 * How a blocking ring operation waits for a message or for space.
 */
public enum WaitStrategy {
    /** Spin with {@link Thread#onSpinWait()}: the lowest latency, one core busy. */
    BUSY_SPIN,
    /** {@link Thread#yield()} between checks: low latency, the core stays busy when nothing else runs. */
    YIELD,
    /** Spin, yield, then park for 1 µs doubling to 1 ms: little CPU, wake-up within about a millisecond. */
    BACKOFF,
    /**
     * Spin, yield, then block in Linux {@code futex} until a producer or consumer signals (where native access is
     * enabled; otherwise as {@link #BACKOFF}): no CPU while idle, woken at once. A blocked wait also wakes every
     * 10 ms to re-check, which bounds the cost of a signal lost in a race.
     */
    BLOCKING;

    /** Longest single block, so that deadlines, dead producers and lost signals are re-checked. */
    static final long MAX_BLOCK_NANOS = 10_000_000;

    /**
     * Waits one step while the int at {@code offset} equals {@code expected}.
     *
     * @return the next step
     */
    int idle(int step, MemorySegment segment, long offset, int expected, long maxNanos) {
        switch (this) {
            case BUSY_SPIN -> Thread.onSpinWait();
            case YIELD -> Thread.yield();
            case BACKOFF -> {
                return Backoff.idle(step, maxNanos);
            }
            case BLOCKING -> {
                return Waits.idle(step, segment, offset, expected, Math.min(maxNanos, MAX_BLOCK_NANOS));
            }
        }
        return step + 1;
    }

    /** @return true if the next {@link #idle} step may block in futex, so the waiter must announce itself */
    boolean blocksAt(int step) {
        return this == BLOCKING && step >= Backoff.PARK_FROM;
    }
}
