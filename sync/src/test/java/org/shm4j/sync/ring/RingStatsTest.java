package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.SharedQueue;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMED_TO_OFFSET;

/**
 * The ring's rules in its shared header: the stall timeout every process reads, the counters of what the rules did,
 * the message count, and timed MPMC polls that keep their timeout while another consumer process holds the turn.
 */
class RingStatsTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldShareTheStallTimeoutThroughTheHeader() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing plain = SharedRing.create(heap, "plain", SharedRing.Kind.MPSC, 1024);
            assertThat(plain.stallTimeout()).isEqualTo(Duration.ofSeconds(5));
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024, Duration.ofMillis(250));
            SharedRing other = SharedRing.open(heap, "ring");
            assertThat(other.stallTimeout()).isEqualTo(Duration.ofMillis(250));
            other.setStallTimeout(Duration.ofSeconds(2));
            assertThat(ring.stallTimeout()).isEqualTo(Duration.ofSeconds(2));
            assertThat(ring.stats().stallTimeout()).isEqualTo(Duration.ofSeconds(2));
            assertThatThrownBy(() -> SharedRing.create(heap, "bad", SharedRing.Kind.MPSC, 1024, Duration.ZERO))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ring 'bad': stallTimeout=PT0S (expected: > 0)");
            assertThatThrownBy(() -> ring.setStallTimeout(Duration.ofNanos(-1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ring 'ring': stallTimeout=PT-0.000000001S (expected: > 0)");
            ring.setStallTimeout(Duration.ofSeconds(Long.MAX_VALUE)); // too long for nanoseconds: never
            assertThat(ring.stallTimeout()).isEqualTo(Duration.ofNanos(Long.MAX_VALUE));
            ring.setStallTimeout(Duration.ofSeconds(2));

            SharedQueue<Long> queue = SharedQueue.create(heap, "queue", 1024, Codec.longs());
            queue.setStallTimeout(Duration.ofMillis(300));
            assertThat(SharedQueue.open(heap, "queue", Codec.longs()).stallTimeout()).isEqualTo(Duration.ofMillis(300));
        }
    }

    @Test
    void shouldCountSkippedRecordsAndRecoveredConsumptionsForEveryProcess() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
            assertThat(ring.tryClaim(1, 30, new RingClaim())).isTrue(); // its producer "dies" here
            assertThat(ring.offer(2, new byte[3], 0, 3)).isTrue();
            assertThat(ring.unblock()).isTrue();
            assertThat(ring.poll((t, b, o, l) -> { })).isEqualTo(1);
            assertThat(ring.offer(3, new byte[3], 0, 3)).isTrue();
            MemorySegment header = heap.lookup("ring", org.shm4j.sync.internal.SyncLayout.RING).segment();
            header.set(JAVA_LONG, RING_CONSUMED_TO_OFFSET, header.get(JAVA_LONG, RING_CONSUMED_TO_OFFSET) + 16);
            // a consumer handed message 3 over and died before freeing it
            assertThat(ring.poll((t, b, o, l) -> { })).isZero();

            RingStats stats = SharedRing.open(heap, "ring").stats();
            assertThat(stats.skippedRecords()).isEqualTo(1);
            assertThat(stats.consumerRecoveries()).isEqualTo(1);
            assertThat(stats.consumerTakeovers()).isZero();
            assertThat(stats.sizeBytes()).isZero();
        }
    }

    @Test
    void shouldCountCommittedMessagesOnly() {
        try (Arena arena = Arena.ofConfined()) {
            SharedRing ring = SharedRing.format(arena.allocate(SharedRing.requiredBytes(1024), 64), 0,
                    SharedRing.Kind.MPMC, 1024);
            assertThat(ring.messageCount()).isZero();
            for (int i = 0; i < 5; i++) {
                assertThat(ring.offer(1, new byte[i * 10], 0, i * 10)).isTrue();
            }
            RingClaim claim = new RingClaim();
            assertThat(ring.tryClaim(2, 8, claim)).isTrue();
            claim.abort(); // padding: not a message
            assertThat(ring.tryClaim(2, 8, claim)).isTrue(); // claimed, not committed: not a message yet
            assertThat(ring.offer(3, new byte[1], 0, 1)).isTrue();
            assertThat(ring.messageCount()).isEqualTo(6);
            assertThat(ring.drain((t, b, o, l) -> { }, 2)).isEqualTo(2);
            assertThat(ring.messageCount()).isEqualTo(4);
            claim.commit();
            assertThat(ring.messageCount()).isEqualTo(5);
            assertThat(ring.drain((t, b, o, l) -> { }, 100)).isEqualTo(5);
            for (int round = 0; round < 20; round++) { // wrapping round, with padding records at the end
                for (int i = 0; i < 3; i++) {
                    assertThat(ring.offer(4, new byte[100 + round], 0, 100 + round)).isTrue();
                }
                assertThat(ring.messageCount()).isEqualTo(3);
                assertThat(ring.drain((t, b, o, l) -> { }, 100)).isEqualTo(3);
            }
            assertThat(ring.messageCount()).isZero();
        }
    }

    @Test
    void shouldGiveTheSizeOfAQueueInValues() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "queue", 1024, Codec.longs());
            for (long v = 0; v < 7; v++) {
                assertThat(queue.offer(v)).isTrue();
            }
            assertThat(queue.size()).isEqualTo(7);
            assertThat(queue.poll(1, TimeUnit.SECONDS)).isZero();
            assertThat(queue.size()).isEqualTo(6);
            assertThat(queue.stats().skippedRecords()).isZero();
        }
    }

    @Test
    void shouldKeepThePollTimeoutWhileAnotherConsumerHoldsTheTurnAndTakeItOverWhenItsProcessDies() throws Exception {
        String heapName = names.unique("turn");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, 1024);
            assertThat(ring.offer(7, new byte[4], 0, 4)).isTrue();
            try (ChildJvm holder = ChildJvm.start(TurnHolder.class, heapName)) {
                holder.awaitLine("HOLDING", BOUND);
                List<Integer> types = new ArrayList<>();
                long start = System.nanoTime();
                assertThat(ring.poll((t, b, o, l) -> types.add(t), Duration.ofMillis(200), WaitStrategy.BLOCKING))
                        .isZero();
                long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(tookMillis).as("the 200 ms timeout kept while a live consumer holds the turn")
                        .isGreaterThanOrEqualTo(200).isLessThan(BOUND.toMillis() / 2);

                holder.kill();
                assertThat(ring.poll((t, b, o, l) -> types.add(t), Duration.ofMillis(20), WaitStrategy.BLOCKING))
                        .as("the dead holder's turn taken over, its message delivered again").isEqualTo(1);
                assertThat(types).containsExactly(7);
                assertThat(ring.stats().consumerTakeovers()).isEqualTo(1);
            }
        }
    }

    /** {@code main(heap)}: takes the consumers' turn of an MPMC ring and keeps it, in its handler, until killed. */
    public static final class TurnHolder {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing.open(heap, "ring").poll((type, buffer, offset, length) -> {
                    System.out.println("HOLDING");
                    System.out.flush();
                    try {
                        Thread.sleep(BOUND.toMillis()); // killed long before this ends
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
        }
    }
}
