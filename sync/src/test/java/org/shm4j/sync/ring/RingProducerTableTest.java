package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_ORPHAN_BOUND_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PRODUCERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PRODUCER_SLOTS;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.ringProducerSlot;

/**
 * The producer table of MPSC and MPMC rings, and the stall rule's use of it for a claim never marked (its producer
 * stopped or died between its tail CAS and its mark): such a claim is skipped only once a dead process may have made
 * it, and kept, however long, while every process named in the table lives.
 */
class RingProducerTableTest extends RawRingTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    /** A producer id naming a process that cannot live: pid 0 (as a dead process's id would read). */
    private static final int DEAD = 1 << 22;

    /** Names a dead producer in the last slot of the ring at offset 0 of {@code raw}, as a killed process leaves it. */
    static void nameDeadProducer(MemorySegment raw) {
        raw.set(JAVA_INT, slot(RING_PRODUCER_SLOTS - 1), DEAD);
    }

    @Test
    void shouldNameEachProducerProcessOnceBeforeItsFirstClaimAndNoneInAnSpscRing() {
        SharedRing spsc = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
        assertThat(spsc.offer(1, filled(8, 1), 0, 8)).isTrue();
        assertThat(slotsNaming(ProducerMarks.THIS_PROCESS)).as("SPSC has no table").isZero();

        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        assertThat(ring.poll(collect)).isZero();
        assertThat(slotsNaming(ProducerMarks.THIS_PROCESS)).as("a consumer takes no slot").isZero();
        assertThat(ring.offer(1, filled(8, 1), 0, 8)).isTrue();
        assertThat(SharedRing.wrap(raw, 0).offer(1, filled(8, 1), 0, 8)).isTrue();
        assertThat(ProducerMarks.THIS_PROCESS).isNotZero();
        assertThat(slotsNaming(ProducerMarks.THIS_PROCESS)).as("one slot for two producing objects").isEqualTo(1);
        assertThat(orphanBound()).isZero();
    }

    /**
     * A live producer stopped between its tail CAS and its mark for twenty stall timeouts: its claim is kept (a skip
     * would let its late mark and payload land on space reused since), and its message is delivered once it commits.
     */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"MPSC", "MPMC"})
    void shouldKeepAClaimNeverMarkedWhileEveryNamedProducerLives(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        ring.setStallTimeout(Duration.ofMillis(20));
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L); // this (live) process won [0, 64) and has not marked it yet
        assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue();
        long end = System.nanoTime() + Duration.ofMillis(400).toNanos();
        while (System.nanoTime() - end < 0) {
            assertThat(ring.poll(collect)).isZero();
        }
        assertThat(ring.stats().skippedRecords()).as("the live claim kept").isZero();

        data.asSlice(8, 56).fill((byte) 3); // the producer goes on: payload, then its commit
        data.set(JAVA_LONG, 0, RingRecords.header(64, 3));
        assertThat(ring.drain(collect, 10)).isEqualTo(2);
        assertThat(got).containsExactly("3:56:3", "5:20:5");
        assertThat(ring.isEmpty()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"MPSC", "MPMC"})
    void shouldSkipAClaimNeverMarkedOnceANamedProducerIsDead(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        ring.setStallTimeout(Duration.ofMillis(20));
        int dead = exitedProcess();
        raw.set(JAVA_INT, slot(3), dead);
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L); // the dead process won [0, 64) and died before marking it
        assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue();

        pollUntil(ring, () -> !got.isEmpty());
        assertThat(got).containsExactly("5:20:5");
        assertThat(ring.stats().skippedRecords()).isEqualTo(1);
        assertThat(slotsNaming(dead)).as("the dead process's slot retired").isZero();
        assertThat(orphanBound()).as("raised to a tail read after the death was seen").isEqualTo(96);
        assertThat(slotsNaming(ProducerMarks.THIS_PROCESS)).isEqualTo(1);
    }

    /**
     * A consumer that opens the ring for each poll (a short-lived worker) still skips a dead producer's claim never
     * marked: the stall timeout runs from when any consumer first saw the claim stuck (the ring's shared stall clock),
     * not from each object's first look, which never reached the timeout.
     */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"MPSC", "MPMC"})
    void shouldSkipAClaimNeverMarkedOfADeadProducerWithANewRingObjectForEachPoll(SharedRing.Kind kind) {
        SharedRing.format(raw, 0, kind, 1024).setStallTimeout(Duration.ofMillis(20));
        raw.set(JAVA_INT, slot(3), exitedProcess());
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L); // the dead process won [0, 64) and died before marking it
        assertThat(SharedRing.wrap(raw, 0).offer(5, filled(20, 5), 0, 20)).isTrue();

        long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos(); // a hundred stall timeouts
        while (got.isEmpty()) {
            assertThat(System.nanoTime() - deadline).as("skipped within 2 s").isNegative();
            SharedRing.wrap(raw, 0).poll(collect);
        }
        assertThat(got).containsExactly("5:20:5");
        assertThat(SharedRing.wrap(raw, 0).stats().skippedRecords()).isEqualTo(1);
    }

    /**
     * A consumer's periodic check finds the ring empty: dead slots are retired, and the bound raised is the tail then,
     * below which every claim was consumed.
     */
    @Test
    void shouldRetireADeadProducerWhileTheRingIsEmpty() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue();
        assertThat(ring.poll(collect)).isEqualTo(1);
        nameDeadProducer(raw);

        pollUntil(ring, () -> slotsNaming(DEAD) == 0);
        assertThat(orphanBound()).as("the tail then: no claim at or after it").isEqualTo(32);
        assertThat(slotsNaming(ProducerMarks.THIS_PROCESS)).isEqualTo(1);
    }

    /** A ring never empty: a consumer retires a dead slot from its drains that free records, too. */
    @Test
    void shouldRetireADeadProducerWhileTheRingIsNeverEmpty() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue();
        nameDeadProducer(raw);
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (slotsNaming(DEAD) != 0) {
            assertThat(System.nanoTime() - deadline).as("within " + BOUND).isNegative();
            assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue();
            assertThat(ring.poll(collect)).isEqualTo(1);
            assertThat(ring.isEmpty()).isFalse();
        }
        assertThat(orphanBound()).isPositive();
    }

    @Test
    void shouldTakeTheSlotOfADeadProducerWhenTheTableIsFull() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L); // a claim of the dead process's, never marked
        fillTable(liveOtherProcess());
        raw.set(JAVA_INT, slot(7), DEAD);

        assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue();
        assertThat(raw.get(JAVA_INT, slot(7))).isEqualTo(ProducerMarks.THIS_PROCESS);
        assertThat(orphanBound()).as("the dead process's claims stay skippable").isEqualTo(64);
    }

    /**
     * A claim never marked below the orphan bound (a dead process's, retired earlier) is skipped up to the bound, and
     * not over the live producer's claim never marked right after it, which the stall also met.
     */
    @Test
    void shouldPadNoFurtherThanTheOrphanBound() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        ring.setStallTimeout(Duration.ofMillis(20));
        assertThat(ring.offer(5, filled(56, 5), 0, 56)).isTrue(); // names this process; [0, 64)
        assertThat(ring.poll(collect)).isEqualTo(1);
        raw.set(JAVA_LONG, RING_ORPHAN_BOUND_OFFSET, 128L); // [64, 128): the dead process's, never marked
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 192L); // [128, 192): this live process's, not marked yet

        pollUntil(ring, () -> ring.size() == 64);
        assertThat(ring.stats().skippedRecords()).isEqualTo(1);
        data.asSlice(136, 56).fill((byte) 3);
        data.set(JAVA_LONG, 128, RingRecords.header(64, 3));
        assertThat(ring.poll(collect)).isEqualTo(1);
        assertThat(got).containsExactly("5:56:5", "3:56:3");
        assertThat(ring.isEmpty()).isTrue();
    }

    /** More live producer processes than slots: a claim never marked is skipped by the stall timeout alone. */
    @Test
    void shouldFallBackToTheStallTimeoutAloneWhenNoSlotIsFree() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        fillTable(liveOtherProcess());
        ring.setStallTimeout(Duration.ofMillis(20));
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 64L);
        assertThat(ring.offer(5, filled(20, 5), 0, 20)).isTrue();
        assertThat(slotsNaming(ProducerMarks.THIS_PROCESS)).isZero();
        assertThat(orphanBound()).as("for the rest of the ring's life").isEqualTo(Long.MAX_VALUE);

        pollUntil(ring, () -> !got.isEmpty());
        assertThat(got).containsExactly("5:20:5");
        assertThat(ring.stats().skippedRecords()).isEqualTo(1);
    }

    /** Polls {@code ring} into {@link #collect} until {@code done}, within {@link #BOUND}. */
    private void pollUntil(SharedRing ring, java.util.function.BooleanSupplier done) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!done.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("within " + BOUND).isNegative();
            ring.poll(collect);
        }
    }

    /** @return the producer id of a process that ran and exited (its start unknown: any stamp matches) */
    private static int exitedProcess() {
        try {
            Process process = new ProcessBuilder("true").start();
            assertThat(process.waitFor(BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            int id = ProducerMarks.id(process.pid(), 0);
            assertThat(ProducerMarks.mayLive(id)).as("pid " + process.pid() + " gone").isFalse();
            return id;
        } catch (java.io.IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** @return the producer id of a process other than this one that lives as long as the test: pid 1 */
    private static int liveOtherProcess() {
        int id = ProducerMarks.id(1, ProcessIdentity.startStamp(1));
        assertThat(ProducerMarks.mayLive(id)).isTrue();
        return id;
    }

    private void fillTable(int id) {
        for (int slot = 0; slot < RING_PRODUCER_SLOTS; slot++) {
            raw.set(JAVA_INT, slot(slot), id);
        }
    }

    private int slotsNaming(int id) {
        int count = 0;
        for (int slot = 0; slot < RING_PRODUCER_SLOTS; slot++) {
            count += raw.get(JAVA_INT, slot(slot)) == id ? 1 : 0;
        }
        return count;
    }

    private long orphanBound() {
        return raw.get(JAVA_LONG, RING_ORPHAN_BOUND_OFFSET);
    }

    private static long slot(int slot) {
        assertThat(RING_PRODUCERS_OFFSET + (long) RING_PRODUCER_SLOTS * Integer.BYTES).isLessThanOrEqualTo(
                RING_HEADER_SIZE);
        return ringProducerSlot(slot);
    }
}
