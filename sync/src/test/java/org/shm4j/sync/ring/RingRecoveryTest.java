package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.ShmFormatException;

import java.time.Duration;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMED_TO_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * The states a dead consumer or a dead producer can leave in a ring, written into a raw ring byte by byte, and what
 * the next consumer makes of them: nothing lost, no payload byte read as a record header, free space zero again.
 */
class RingRecoveryTest extends RawRingTest {
    /** A consumer handed messages 1 (and maybe 2) over, moved its commit point, and died while zeroing. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void shouldFinishTheFreeingAConsumerKilledMidZeroingLeftWithoutRedelivering(int handedOver) {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        for (int type = 1; type <= 3; type++) {
            assertThat(ring.offer(type, filled(100, type), 0, 100)).isTrue(); // records of 112 bytes
        }
        raw.set(JAVA_LONG, RING_CONSUMED_TO_OFFSET, 112L * handedOver);
        data.set(JAVA_LONG, 0, 0L); // the header of message 1 zeroed first,
        data.asSlice(8, 40).fill((byte) 0); // and part of its payload; the rest is non-zero payload at head
        assertThat(ring.size()).isEqualTo(3 * 112);

        assertThat(ring.drain(collect, 10)).isEqualTo(3 - handedOver);
        assertThat(got).as("the rest, once each, intact").containsExactlyElementsOf(
                List.of("1:100:1", "2:100:2", "3:100:3").subList(handedOver, 3));
        assertThat(ring.isEmpty()).isTrue();
        assertThat(data.elements(JAVA_LONG).allMatch(w -> w.get(JAVA_LONG, 0) == 0)).as("free space zero").isTrue();
    }

    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"MPSC", "MPMC"})
    void shouldPadAClaimNeverMarkedOnlyUpToTheNextRecord(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L); // a producer won [0, 64) and died before marking it
        assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue();
        assertThat(ring.poll(collect)).as("stuck behind the dead claim").isZero();

        assertThat(ring.unblock()).isTrue();
        assertThat(ring.size()).as("only the dead claim skipped").isEqualTo(64 + 32);
        assertThat(ring.drain(collect, 10)).isEqualTo(1);
        assertThat(got).containsExactly("5:20:5");
        assertThat(ring.isEmpty()).isTrue();
    }

    /**
     * A claim skipped by {@code unblock()} while its producer still writes (or by the stall rule, had its producer's
     * pid been recycled): the space is reused by the time it commits or aborts. tryCommit and abort leave the newer
     * record alone (a plain store would have put the slow claim's header over it) and tryCommit says the message was
     * skipped.
     */
    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldLeaveSpaceReusedSinceAloneWhenASkippedClaimCommitsOrAbortsLate(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        for (boolean commit : new boolean[] {true, false}) {
            RingClaim slow = new RingClaim();
            assertThat(ring.tryClaim(7, 20, slow)).isTrue();
            long at = slow.offset() - 8;
            slow.buffer().set(java.lang.foreign.ValueLayout.JAVA_BYTE, slow.offset(), (byte) 7);
            assertThat(ring.unblock()).as("taken for a dead producer's claim").isTrue();
            assertThat(ring.poll(collect)).isZero();
            byte[] filler = filled(24, 3); // 32-byte records, as every record here: no end padding, so the ring
            for (int n = 0; (raw.get(JAVA_LONG, RING_TAIL_OFFSET) & 1023) != at; n++) { // comes round to it
                assertThat(n).as("records to come round").isLessThan(32);
                assertThat(ring.offer(3, filler, 0, 24)).isTrue();
                assertThat(ring.poll(collect)).isEqualTo(1);
            }
            got.clear();
            assertThat(ring.offer(9, filled(24, 9), 0, 24)).isTrue(); // in the skipped claim's place
            if (commit) {
                assertThat(slow.tryCommit()).as("skipped: never delivered").isFalse();
            } else {
                slow.abort();
            }
            assertThat(slow.isActive()).isFalse();
            assertThat(ring.drain(collect, 10)).isEqualTo(1);
            assertThat(got).containsExactly("9:24:9");
            assertThat(ring.isEmpty()).isTrue();
        }
        RingClaim prompt = new RingClaim();
        assertThat(ring.tryClaim(4, 8, prompt)).isTrue();
        assertThat(prompt.tryCommit()).isTrue();
        got.clear();
        assertThat(ring.drain(collect, 10)).isEqualTo(1);
        assertThat(got).hasSize(1).first().asString().startsWith("4:8:");
    }

    @Test
    void shouldStopAtAMarkAndNeverReadItsPayloadAsAHeader() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 112L); // [0, 64): dead, never marked; [64, 112): marked, payload written
        data.set(JAVA_LONG, 64, RingRecords.header(-48, 0));
        for (long at = 72; at < 112; at += 8) {
            data.set(JAVA_LONG, at, RingRecords.header(8, 9)); // payload that would read as a valid header
        }
        assertThat(ring.unblock()).isTrue();
        assertThat(ring.drain(collect, 10)).isZero();
        assertThat(ring.size()).as("the dead claim skipped, the marked one kept").isEqualTo(48);

        assertThat(ring.unblock()).as("the marked claim's producer is taken for dead too").isTrue();
        assertThat(ring.drain(collect, 10)).isZero();
        assertThat(got).isEmpty();
        assertThat(ring.isEmpty()).isTrue();
    }

    /** A claim made after the stall at head was first seen is younger than the stall timeout: it is not skipped. */
    @Test
    void shouldNotSkipAClaimMadeAfterTheStallWasFirstSeen() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        ring.setStallTimeout(Duration.ofMillis(100));
        RingProducerTableTest.nameDeadProducer(raw); // the process that made the claim below, and died
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L); // [0, 64): dead, never marked
        for (int i = 0; i < 200; i++) {
            assertThat(ring.poll(collect)).isZero(); // the stall rule notes the stuck head and tail 64
        }
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 112L); // [64, 112): a live producer's claim, not marked yet
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (ring.size() == 112) {
            assertThat(System.nanoTime() - deadline).as("the dead claim is skipped in time").isNegative();
            assertThat(ring.poll(collect)).isZero();
        }
        assertThat(ring.size()).as("only the dead claim skipped").isEqualTo(48);

        data.asSlice(72, 40).fill((byte) 7); // the live producer writes and commits
        data.set(JAVA_LONG, 64, RingRecords.header(48, 6));
        assertThat(ring.poll(collect)).isEqualTo(1);
        assertThat(got).containsExactly("6:40:7");
        assertThat(ring.isEmpty()).isTrue();
    }

    @Test
    void shouldRefuseARecordHeaderThatDoesNotFitRatherThanReadOutOfBounds() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
        assertThat(ring.offer(1, filled(8, 1), 0, 8)).isTrue();
        data.set(JAVA_LONG, 0, RingRecords.header(2000, 1)); // overwritten by something that is not the ring
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ring.poll(collect))
                .isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("is corrupted: record header 0x1000007d0 at 0");
    }
}
