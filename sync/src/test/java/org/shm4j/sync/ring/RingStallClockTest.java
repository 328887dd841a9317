package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_AT_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_SINCE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_TAIL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * The ring's shared stall clock ({@link RingStallClock}): a consumer object's first stall check counts the time since
 * another consumer first noted the same record stuck, and takes a start it cannot trust (another record's, in the
 * future, or absurdly old) for none, restarting the clock now rather than skipping early.
 */
class RingStallClockTest extends RawRingTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(1);

    @Test
    void shouldSkipAtOnceAClaimAnotherConsumerNotedStuckLongerThanTheTimeoutAgo() {
        deadClaimAtZero();
        noteStall(1, 64, System.nanoTime() - 2 * TIMEOUT.toNanos());
        SharedRing.wrap(raw, 0).poll(collect); // its first stall check pads the claim
        assertThat(SharedRing.wrap(raw, 0).stats().skippedRecords()).isEqualTo(1);
        SharedRing.wrap(raw, 0).drain(collect, 10);
        assertThat(got).containsExactly("5:20:5");
    }

    @Test
    void shouldRestartAClockThatNamesAnotherRecordOrStartsInTheFutureOrTooLongAgo() {
        deadClaimAtZero();
        long now = System.nanoTime();
        long[][] untrusted = {
            {65, 64, now - 2 * TIMEOUT.toNanos()}, // another record's
            {1, 64, now + TIMEOUT.toNanos()}, // in the future
            {1, 64, now - TIMEOUT.toNanos() - RingStallClock.MAX_GAP_NANOS - 1}, // absurdly old
            {1, 0, now - 2 * TIMEOUT.toNanos()}, // a tail not past the record
        };
        for (long[] clock : untrusted) {
            noteStall(clock[0], clock[1], clock[2]);
            long before = System.nanoTime();
            assertThat(SharedRing.wrap(raw, 0).poll(collect)).isZero();
            assertThat(SharedRing.wrap(raw, 0).stats().skippedRecords()).as("clock %s", clock).isZero();
            assertThat(raw.get(JAVA_LONG, RING_STALL_AT_OFFSET)).isEqualTo(1);
            assertThat(raw.get(JAVA_LONG, RING_STALL_TAIL_OFFSET)).isEqualTo(96);
            assertThat(raw.get(JAVA_LONG, RING_STALL_SINCE_OFFSET)).as("restarted now")
                    .isBetween(before, System.nanoTime());
        }
        assertThat(got).isEmpty();
    }

    /** An MPSC ring whose [0, 64) a dead producer claimed and never marked, with a message behind it. */
    private void deadClaimAtZero() {
        SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024).setStallTimeout(TIMEOUT);
        RingProducerTableTest.nameDeadProducer(raw);
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L);
        assertThat(SharedRing.wrap(raw, 0).offer(5, filled(20, 5), 0, 20)).isTrue(); // [64, 96)
    }

    private void noteStall(long at, long tail, long since) {
        raw.set(JAVA_LONG, RING_STALL_AT_OFFSET, at);
        raw.set(JAVA_LONG, RING_STALL_TAIL_OFFSET, tail);
        raw.set(JAVA_LONG, RING_STALL_SINCE_OFFSET, since);
    }
}
