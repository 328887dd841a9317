package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMED_TO_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_AT_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_SINCE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_TAIL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_WALL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * The ring's shared stall clock ({@link RingStallClock}): a consumer object's first stall check counts the time since
 * another consumer first noted the same record stuck, and takes a start it cannot trust (another record's, in the
 * future, or whose monotonic and wall-clock ages disagree: another time namespace's or boot's) for none, restarting
 * the clock now rather than skipping early; a ring object's own clock still skips once the timeout passed since its
 * own first look, however often the shared clock is found untrusted.
 */
class RingStallClockTest extends RawRingTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(1);
    private static final long HALF_HOUR = Duration.ofMinutes(30).toNanos();

    @Test
    void shouldSkipAtOnceAClaimAnotherConsumerNotedStuckLongerThanTheTimeoutAgo() {
        deadClaimAtZero();
        noteStall(1, 64, System.nanoTime() - 2 * TIMEOUT.toNanos(), System.currentTimeMillis() - 2 * millis());
        SharedRing.wrap(raw, 0).poll(collect); // its first stall check pads the claim
        assertThat(SharedRing.wrap(raw, 0).stats().skippedRecords()).isEqualTo(1);
        SharedRing.wrap(raw, 0).drain(collect, 10);
        assertThat(got).containsExactly("5:20:5");
    }

    @Test
    void shouldRestartAClockThatNamesAnotherRecordOrStartsInTheFutureOrByAnotherClock() {
        deadClaimAtZero();
        long now = System.nanoTime();
        long wall = System.currentTimeMillis();
        long[][] untrusted = {
            {65, 64, now - 2 * TIMEOUT.toNanos(), wall - 2 * millis()}, // another record's
            {1, 64, now + TIMEOUT.toNanos(), wall + millis()}, // in the future
            // a consumer's in a time namespace whose monotonic clock runs half an hour behind this one's
            {1, 64, now - HALF_HOUR, wall},
            {1, 64, now - 2 * TIMEOUT.toNanos(), 0}, // no wall-clock start (written before stallWall, another boot)
            {1, 0, now - 2 * TIMEOUT.toNanos(), wall - 2 * millis()}, // a tail not past the record
        };
        for (long[] clock : untrusted) {
            noteStall(clock[0], clock[1], clock[2], clock[3]);
            long before = System.nanoTime();
            long wallBefore = System.currentTimeMillis();
            assertThat(SharedRing.wrap(raw, 0).poll(collect)).isZero();
            assertThat(SharedRing.wrap(raw, 0).stats().skippedRecords()).as("clock %s", Arrays.toString(clock))
                    .isZero();
            assertThat(raw.get(JAVA_LONG, RING_STALL_AT_OFFSET)).isEqualTo(1);
            assertThat(raw.get(JAVA_LONG, RING_STALL_TAIL_OFFSET)).isEqualTo(96);
            assertThat(raw.get(JAVA_LONG, RING_STALL_SINCE_OFFSET)).as("restarted now")
                    .isBetween(before, System.nanoTime());
            assertThat(raw.get(JAVA_LONG, RING_STALL_WALL_OFFSET)).as("restarted now")
                    .isBetween(wallBefore, System.currentTimeMillis());
        }
        assertThat(got).isEmpty();
    }

    /**
     * Consumers of two time namespaces restart each other's clock at every look (each finds the other's start in its
     * future, or disagreeing): a ring object still skips the claim once it has looked at it for the timeout.
     */
    @Test
    void shouldSkipByTheObjectsOwnClockWhileEveryLookFindsAnotherClocksStart() {
        deadClaimAtZero();
        Duration timeout = Duration.ofMillis(50);
        SharedRing ring = SharedRing.wrap(raw, 0);
        ring.setStallTimeout(timeout);
        long start = System.nanoTime();
        long deadline = start + Duration.ofSeconds(5).toNanos(); // a hundred stall timeouts
        while (got.isEmpty()) {
            assertThat(System.nanoTime() - deadline).as("skipped within 5 s").isNegative();
            noteStall(1, 64, System.nanoTime() + HALF_HOUR, System.currentTimeMillis()); // the other's last look
            ring.poll(collect);
        }
        assertThat(System.nanoTime() - start).as("not before the timeout").isGreaterThan(timeout.toNanos());
        assertThat(got).containsExactly("5:20:5");
        assertThat(ring.stats().skippedRecords()).isEqualTo(1);
    }

    /**
     * A dead producer's claim never marked that wraps (the padding to the buffer's end, then its record at 0) is
     * skipped in two steps: the first, past its timeout, pads to the end; the second, the record at 0, is a record of
     * its own and waits its own timeout (not skipped on the strength of the first one's clock), then goes too.
     */
    @Test
    void shouldSkipAWrappedClaimNeverMarkedInTwoStepsEachAfterItsTimeout() {
        SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024).setStallTimeout(TIMEOUT);
        RingProducerTableTest.nameDeadProducer(raw);
        for (long offset : new long[] {RING_HEAD_OFFSET, RING_CONSUMED_TO_OFFSET, RING_TAIL_OFFSET}) {
            raw.set(JAVA_LONG, offset, 960L);
        }
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 1088L); // [960, 1024) padding never written, [1024, 1088) at 0
        SharedRing ring = SharedRing.wrap(raw, 0);
        assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue(); // [1088, 1120)
        noteStall(961, 1088, System.nanoTime() - 2 * TIMEOUT.toNanos(), System.currentTimeMillis() - 2 * millis());

        assertThat(ring.poll(collect)).isZero(); // its first check pads [960, 1024); freed by the next drain
        for (int poll = 0; poll < 3 * RingStallRule.CHECK_EVERY; poll++) {
            assertThat(ring.poll(collect)).isZero();
        }
        assertThat(ring.stats().skippedRecords()).as("the record at 0 waits a timeout of its own").isEqualTo(1);
        assertThat(raw.get(JAVA_LONG, RING_STALL_AT_OFFSET)).isEqualTo(1025);
        assertThat(raw.get(JAVA_LONG, RING_STALL_TAIL_OFFSET)).isEqualTo(1120);

        noteStall(1025, 1088, System.nanoTime() - 2 * TIMEOUT.toNanos(), System.currentTimeMillis() - 2 * millis());
        assertThat(SharedRing.wrap(raw, 0).poll(collect)).isZero(); // a new object: its first check pads [0, 64)
        assertThat(SharedRing.wrap(raw, 0).poll(collect)).isOne();
        assertThat(got).containsExactly("5:20:5");
        assertThat(ring.stats().skippedRecords()).isEqualTo(2);
    }

    /** The stall clock's four words are the ring's; the bytes after them, up to notEmptySeq, are reserved. */
    @Test
    void shouldOpenARingWhoseClockRunsAndRefuseOneWithAByteAfterIt() {
        deadClaimAtZero();
        noteStall(1, 64, System.nanoTime(), System.currentTimeMillis());
        assertThat(SharedRing.wrap(raw, 0).kind()).isEqualTo(SharedRing.Kind.MPSC);
        raw.set(JAVA_BYTE, RING_STALL_WALL_OFFSET + Long.BYTES, (byte) 1);
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).hasMessageContaining("reserved byte 440=");
    }

    /** An MPSC ring whose [0, 64) a dead producer claimed and never marked, with a message behind it. */
    private void deadClaimAtZero() {
        SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024).setStallTimeout(TIMEOUT);
        RingProducerTableTest.nameDeadProducer(raw);
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L);
        assertThat(SharedRing.wrap(raw, 0).offer(5, filled(20, 5), 0, 20)).isTrue(); // [64, 96)
    }

    private void noteStall(long at, long tail, long since, long wallSince) {
        raw.set(JAVA_LONG, RING_STALL_AT_OFFSET, at);
        raw.set(JAVA_LONG, RING_STALL_TAIL_OFFSET, tail);
        raw.set(JAVA_LONG, RING_STALL_SINCE_OFFSET, since);
        raw.set(JAVA_LONG, RING_STALL_WALL_OFFSET, wallSince);
    }

    private static long millis() {
        return TIMEOUT.toMillis();
    }
}
