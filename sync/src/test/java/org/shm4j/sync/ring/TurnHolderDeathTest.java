package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;

/**
 * An MPMC consumer process SIGKILLed while it holds the consumers' turn with nothing committed at consumedTo, where no
 * consumer waits in the turn's mutex (which would notice the death): the empty looks and stall checks of the other
 * consumers must take the turn over, so that producers and consumers go on, within a bound, with exactly the messages
 * the dead one had not been handed.
 */
class TurnHolderDeathTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int MORE = 500;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * The audit's case (a): a consumer handed every record of a full ring over in one drain (consumedTo = tail, the
     * records zeroed) and died before it released head: producers find no room and consumers nothing committed.
     */
    @Test
    void shouldTakeOverFromAConsumerKilledAfterHandingAFullRingOverBeforeFreeingIt() throws Exception {
        String heapName = names.unique("fulldrain");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, 1024);
            long queued = fill(ring);
            try (ChildJvm child = ChildJvm.start(FullDrainer.class, heapName)) {
                String handed = child.awaitLine("HANDED", BOUND);
                assertThat(handed).isEqualTo("HANDED " + queued + " 0.." + (queued - 1));
                assertThat(ring.offer(1, message(queued), 0, Long.BYTES)).as("no room: head not released").isFalse();
                assertThat(ring.poll((t, b, o, l) -> { }, Duration.ofMillis(100), WaitStrategy.BLOCKING))
                        .as("nothing committed, the turn held by a live process").isZero();
                child.kill();
            }
            List<Long> got = produceAndConsume(ring, queued, MORE);
            assertThat(got).as("exactly the messages not handed over").containsExactlyElementsOf(range(queued, MORE));
            RingStats stats = ring.stats();
            assertThat(stats.consumerTakeovers()).isEqualTo(1);
            assertThat(stats.consumerRecoveries()).as("the dead consumer's freeing, finished once").isEqualTo(1);
            assertThat(stats.skippedRecords()).isZero();
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    /**
     * The audit's case (b): a process killed while one of its threads held a claim at consumedTo, never committed,
     * and another held the consumers' turn; the ring filled up behind the claim.
     */
    @Test
    void shouldSkipTheClaimOfAProcessKilledWhileAnotherOfItsThreadsHeldTheTurn() throws Exception {
        String heapName = names.unique("claimturn");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, 1024, Duration.ofMillis(200));
            long queued;
            try (ChildJvm child = ChildJvm.start(ClaimAndTurnHolder.class, heapName)) {
                child.awaitLine("HOLDING", BOUND);
                queued = fill(ring); // behind the open claim
                assertThat(ring.poll((t, b, o, l) -> { }, Duration.ofMillis(100), WaitStrategy.BLOCKING))
                        .as("stuck behind the claim, the turn held by a live process").isZero();
                child.kill();
            }
            List<Long> got = produceAndConsume(ring, queued, queued + MORE);
            assertThat(got).as("everything committed, once, in order")
                    .containsExactlyElementsOf(range(0, queued + MORE));
            RingStats stats = ring.stats();
            assertThat(stats.consumerTakeovers()).isEqualTo(1);
            assertThat(stats.skippedRecords()).as("the dead claim").isEqualTo(1);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    /** Offers messages 0, 1, ... (8 bytes each) until the ring is full; @return how many. */
    private static long fill(SharedRing ring) {
        long seq = 0;
        while (ring.offer(1, message(seq), 0, Long.BYTES)) {
            seq++;
        }
        assertThat(seq).as("the ring holds some").isPositive();
        return seq;
    }

    /**
     * A producer thread offers messages {@code firstNew} to {@code firstNew + MORE - 1}, waiting for room, while this
     * thread takes messages until {@code expected} arrived; both within {@link #BOUND}.
     *
     * @return the sequence numbers received, in order
     */
    private static List<Long> produceAndConsume(SharedRing ring, long firstNew, long expected)
            throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread producer = Thread.ofPlatform().name("producer").start(() -> {
            try {
                for (long seq = firstNew; seq < firstNew + MORE; seq++) {
                    if (!ring.offer(1, message(seq), 0, Long.BYTES, BOUND, WaitStrategy.BLOCKING)) {
                        throw new AssertionError("no room for message " + seq + " within " + BOUND);
                    }
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        List<Long> got = new ArrayList<>();
        MessageHandler collect = (type, buffer, offset, length) -> got.add(buffer.get(JAVA_LONG_UNALIGNED, offset));
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (got.size() < expected && failure.get() == null) {
            assertThat(System.nanoTime() - deadline).as("messages arrive in time; got " + got.size()).isNegative();
            ring.poll(collect, Duration.ofMillis(20), WaitStrategy.BLOCKING);
        }
        producer.join(BOUND.toMillis());
        assertThat(failure.get()).isNull();
        assertThat(producer.isAlive()).isFalse();
        return got;
    }

    private static List<Long> range(long from, long count) {
        List<Long> seqs = new ArrayList<>();
        for (long seq = from; seq < from + count; seq++) {
            seqs.add(seq);
        }
        return seqs;
    }

    private static byte[] message(long seq) {
        byte[] bytes = new byte[Long.BYTES];
        MemorySegment.ofArray(bytes).set(JAVA_LONG_UNALIGNED, 0, seq);
        return bytes;
    }

    /**
     * {@code main(heap)}: takes the consumers' turn, drains the whole ring as one drain call does, then leaves head
     * where it was before (the state of a consumer killed before its head store: consumedTo = tail, the records
     * zeroed), prints {@code HANDED n first..last} and waits to be killed, holding the turn.
     */
    public static final class FullDrainer {
        private static final VarHandle LONG = JAVA_LONG.varHandle();

        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring", SharedRing.Kind.MPMC);
                if (!ring.consumers.tryAcquire()) {
                    RandomKills.fail(new IllegalStateException("the turn is held"));
                }
                long head = (long) LONG.getVolatile(ring.block, RING_HEAD_OFFSET);
                List<Long> seqs = new ArrayList<>();
                int handed = RingConsumer.drainAsConsumer(ring,
                        (type, buffer, offset, length) -> seqs.add(buffer.get(JAVA_LONG_UNALIGNED, offset)),
                        Integer.MAX_VALUE);
                LONG.setRelease(ring.block, RING_HEAD_OFFSET, head); // the head store it did not live to make
                RandomKills.say("HANDED " + handed + " " + seqs.getFirst() + ".." + seqs.getLast());
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            }
        }
    }

    /**
     * {@code main(heap)}: one thread claims room in the empty ring and never commits it, another then takes the
     * consumers' turn; prints {@code HOLDING} and waits to be killed.
     */
    public static final class ClaimAndTurnHolder {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring", SharedRing.Kind.MPMC);
                Thread claimer = Thread.ofPlatform().start(() -> {
                    if (!ring.tryClaim(1, Long.BYTES, new RingClaim())) {
                        RandomKills.fail(new IllegalStateException("no room to claim"));
                    }
                });
                claimer.join(BOUND.toMillis());
                if (!ring.consumers.tryAcquire()) {
                    RandomKills.fail(new IllegalStateException("the turn is held"));
                }
                RandomKills.say("HOLDING");
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            }
        }
    }
}
