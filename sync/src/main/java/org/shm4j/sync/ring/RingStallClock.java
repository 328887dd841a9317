package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_AT_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_SINCE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_TAIL_OFFSET;

/**
 * A ring's stall clock, in its header (stallAt, stallTail, stallSince: see {@link SharedRing}'s layout): which record
 * at the consumer's position a consumer first noted stuck, the tail then, and since when, so that the stall timeout
 * runs across ring objects and consumer processes, not from each one's first look. Times are
 * {@code System.nanoTime()}, which HotSpot on Linux reads from {@code CLOCK_MONOTONIC}: one clock for every process
 * of a host (of one time namespace). A start in the future, or more than {@link #MAX_GAP_NANOS} past the timeout, is
 * taken for another clock's (another boot of a ring kept in a file, another time namespace) and the clock restarts
 * now: a mismatch may delay a skip, never hasten it beyond that bound.
 *
 * <p>Only the consumer writes the words (SPSC, MPSC: the role's one consuming thread; MPMC: the consumers' turn), and
 * only on its stall checks, never on an offer or a poll that finds a message. It stores stallSince, then stallTail,
 * then stallAt, each a single 8-byte store: a consumer killed in between leaves stallAt naming another record
 * (the clock restarts) or, when it restarted the same record's clock, an older tail with a newer start (a later,
 * narrower skip). Positions only grow, so a stallAt naming an earlier record never matches again.
 */
final class RingStallClock {
    /**
     * How long past the stall timeout a noted start still counts: a consumer coming back later than that restarts
     * the clock, since so old a start may be another clock's.
     */
    static final long MAX_GAP_NANOS = 3_600_000_000_000L; // an hour

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private RingStallClock() {
    }

    /**
     * As the consumer, notes that the record at {@code position} is still not committed at {@code now}, with
     * {@code tail} ahead of it.
     *
     * @return the tail seen when any consumer first noted that record stuck, if it has stayed so for longer than
     *         {@code timeoutNanos} (the record is then to be skipped, over no claim made after that tail; the clock
     *         restarts, so that a record kept waits another timeout); else -1
     */
    static long expired(MemorySegment block, long position, long tail, long now, long timeoutNanos) {
        // acquire: stallTail and stallSince were stored before it (a previous consumer's, maybe of another process)
        if ((long) LONG.getAcquire(block, RING_STALL_AT_OFFSET) == position + 1) {
            long since = (long) LONG.getOpaque(block, RING_STALL_SINCE_OFFSET); // opaque: ordered by stallAt's load
            long seenTail = (long) LONG.getOpaque(block, RING_STALL_TAIL_OFFSET); // likewise
            long age = now - since;
            boolean valid = age >= 0 && age - timeoutNanos <= MAX_GAP_NANOS && seenTail > position && seenTail <= tail;
            if (valid && age <= timeoutNanos) {
                return -1;
            }
            restart(block, position, tail, now);
            return valid ? seenTail : -1;
        }
        restart(block, position, tail, now);
        return -1;
    }

    /** Starts the clock of the record at {@code position} at {@code now}, with {@code tail} as its bound. */
    private static void restart(MemorySegment block, long position, long tail, long now) {
        LONG.setOpaque(block, RING_STALL_SINCE_OFFSET, now); // opaque: published by stallAt's release store; first,
        LONG.setOpaque(block, RING_STALL_TAIL_OFFSET, tail); // so that a death between leaves a start no earlier
        LONG.setRelease(block, RING_STALL_AT_OFFSET, position + 1); // release: the two words above first
    }
}
