package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_AT_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_SINCE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_TAIL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_WALL_OFFSET;

/**
 * A ring's stall clock, in its header (stallAt, stallTail, stallSince, stallWall: see {@link SharedRing}'s layout):
 * which record at the consumer's position a consumer first noted stuck, the tail then, and since when, so that the
 * stall timeout runs across ring objects and consumer processes, not from each one's first look. The start is kept
 * twice: {@code System.nanoTime()}, which HotSpot on Linux reads from {@code CLOCK_MONOTONIC}, one clock for the
 * processes of a host that share a time namespace, and {@code System.currentTimeMillis()} ({@code CLOCK_REALTIME}),
 * which every time namespace shares but which may be set or stepped. The clock is trusted only when both ages agree
 * (within {@link #AGREEMENT_MILLIS} and 1/1000 of the age): a consumer in another time namespace (whose monotonic
 * clock may be offset by any amount), another boot of a ring kept in a file, or a wall clock set meanwhile restarts
 * it now, so a mismatch delays a skip (each consumer object's own clock still runs, see {@code StallWatch}) and never
 * hastens it by more than that tolerance.
 *
 * <p>Only the consumer writes the words (SPSC, MPSC: the role's one consuming thread; MPMC: the consumers' turn), and
 * only on its stall checks, never on an offer or a poll that finds a message. It stores stallWall, stallSince, then
 * stallTail, then stallAt, each a single 8-byte store: a consumer killed in between leaves stallAt naming another
 * record (the clock restarts) or, when it restarted the same record's clock, an older tail with a newer start (a
 * later, narrower skip) or two starts that disagree (a restart). Positions only grow, so a stallAt naming an earlier
 * record never matches again.
 */
final class RingStallClock {
    /** How far the two clocks' ages of a start may differ, beyond 1/1000 of the age, for the start to be trusted. */
    static final long AGREEMENT_MILLIS = 1000;

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
        long wallNow = System.currentTimeMillis();
        // acquire: the words below were stored before it (a previous consumer's, maybe of another process)
        if ((long) LONG.getAcquire(block, RING_STALL_AT_OFFSET) == position + 1) {
            // acquire, in the reverse of the store order: a tail seen is never older than the start read after it
            long seenTail = (long) LONG.getAcquire(block, RING_STALL_TAIL_OFFSET);
            long since = (long) LONG.getAcquire(block, RING_STALL_SINCE_OFFSET);
            long wallSince = (long) LONG.getAcquire(block, RING_STALL_WALL_OFFSET);
            long age = now - since;
            boolean valid = agree(age, wallNow - wallSince) && seenTail > position && seenTail <= tail;
            if (valid && age <= timeoutNanos) {
                return -1;
            }
            restart(block, position, tail, now, wallNow);
            return valid ? seenTail : -1;
        }
        restart(block, position, tail, now, wallNow);
        return -1;
    }

    /** @return true if a start's monotonic age (ns) and wall-clock age (ms) are both past and agree */
    private static boolean agree(long ageNanos, long wallAgeMillis) {
        long ageMillis = ageNanos / 1_000_000;
        return ageNanos >= 0 && wallAgeMillis >= 0
                && Math.abs(ageMillis - wallAgeMillis) <= AGREEMENT_MILLIS + ageMillis / 1000;
    }

    /** Starts the clock of the record at {@code position} at {@code now} ({@code wallNow}), bound by {@code tail}. */
    private static void restart(MemorySegment block, long position, long tail, long now, long wallNow) {
        // release, each: the stores reach memory in this order (the starts before the tail, so that a death or a
        // reader between them pairs this tail with no earlier start), at no cost on x86 and only on stall checks
        LONG.setRelease(block, RING_STALL_WALL_OFFSET, wallNow);
        LONG.setRelease(block, RING_STALL_SINCE_OFFSET, now);
        LONG.setRelease(block, RING_STALL_TAIL_OFFSET, tail);
        LONG.setRelease(block, RING_STALL_AT_OFFSET, position + 1);
    }
}
