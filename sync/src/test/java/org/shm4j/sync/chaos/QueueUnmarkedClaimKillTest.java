package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedQueue} whose producer process was SIGKILLed between its tail CAS and its mark (the claim never
 * marked, which only the producer table and the stall timeout let consumers skip), behind which the ring is full and
 * producers are blocked in {@code put}: a consumer turn holder killed in its handler, a consumer killed while it
 * watches the stall and replaced, then two consumers, deliver every value exactly once and the producers complete,
 * with a short stall timeout. Each step waits for a line or a count, bounded, so the order of events is fixed.
 */
class QueueUnmarkedClaimKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final Duration STALL = Duration.ofMillis(200);
    /** The value the parent offers first, and the one the claimer offers before its claim. */
    private static final long HELD = 0;
    private static final long CLAIMERS = 1;
    /** Values each of the parent's producer threads puts, after the dead claim: together far more than fit. */
    private static final int PER_PRODUCER = 150;
    private static final int VALUES = 2 + 2 * PER_PRODUCER;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldDeliverEveryValueOnceAndUnblockProducersAfterAProducerKilledBetweenClaimAndMark() throws Exception {
        String heapName = names.unique("qunmarked");
        ExecutorService producers = Executors.newFixedThreadPool(2);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, Codec.longs());
            queue.setStallTimeout(Duration.ofHours(1)); // no skip while the first consumer watches
            SharedIntArray got = SharedIntArray.create(heap, "got", VALUES);
            MemorySegment block = heap.lookup("q", SyncLayout.RING).segment();
            assertThat(queue.offer(HELD)).isTrue();
            try (ChildJvm holder = ChildJvm.start(UnmarkedClaimChildren.Taker.class, heapName, "hold")) {
                holder.awaitLine("HOLDING", BOUND); // in its handler with HELD: holds the consumers' turn
                try (ChildJvm claimer = ChildJvm.start(UnmarkedClaimChildren.Claimer.class, heapName,
                        Long.toString(CLAIMERS))) {
                    claimer.awaitLine("CLAIMED", BOUND);
                    claimer.kill(); // between its tail CAS and its mark
                }
                List<Future<?>> puts = new ArrayList<>();
                for (int p = 0; p < 2; p++) {
                    long first = 2 + (long) p * PER_PRODUCER;
                    puts.add(producers.submit(() -> putAll(queue, first)));
                }
                awaitBlockedProducer(block);
                try (ChildJvm watcher = ChildJvm.start(UnmarkedClaimChildren.Taker.class, heapName, "take")) {
                    watcher.awaitLine("TAKING", BOUND);
                    holder.kill(); // HELD is handed over again, to the watcher
                    awaitCount(got, CLAIMERS, 1);
                    assertThat(queue.stats().skippedRecords()).as("the dead claim, within an hour's stall").isZero();
                    watcher.kill(); // at the dead claim, watching it, with nothing taken and not recorded
                }
                queue.setStallTimeout(STALL);
                try (ChildJvm one = ChildJvm.start(UnmarkedClaimChildren.Taker.class, heapName, "take");
                     ChildJvm two = ChildJvm.start(UnmarkedClaimChildren.Taker.class, heapName, "take")) {
                    for (Future<?> put : puts) {
                        assertThat(put).as("a blocked producer's puts").succeedsWithin(BOUND);
                    }
                    for (long value = 0; value < VALUES; value++) {
                        awaitCount(got, value, 1);
                    }
                    assertThat(queue.poll(2 * STALL.toMillis(), TimeUnit.MILLISECONDS)).isNull();
                }
            }
            for (long value = 0; value < VALUES; value++) {
                assertThat(got.get(value)).as("value %d delivered once", value).isEqualTo(1);
            }
            assertThat(queue.stats().skippedRecords()).as("the dead claim").isEqualTo(1);
            assertThat(queue.isEmpty()).isTrue();
            assertThat(queue.ring().size()).isZero();
        } finally {
            producers.shutdownNow();
            assertThat(producers.awaitTermination(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        }
    }

    private static Void putAll(SharedQueue<Long> queue, long first) throws InterruptedException {
        for (long value = first; value < first + PER_PRODUCER; value++) {
            queue.put(value);
        }
        return null;
    }

    /** Waits until a producer announced itself about to block on the full ring. */
    private static void awaitBlockedProducer(MemorySegment block) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while ((block.get(JAVA_INT, SyncLayout.RING_NOT_FULL_WAITERS_OFFSET) & SyncLayout.RING_WAITING) == 0) {
            assertThat(System.nanoTime() - deadline).as("a producer blocks on the full ring").isNegative();
            LockSupport.parkNanos(1_000_000);
        }
    }

    /** Waits until {@code value} was recorded at least {@code times} times by the takers. */
    private static void awaitCount(SharedIntArray got, long value, int times) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (got.get(value) < times) {
            assertThat(System.nanoTime() - deadline).as("value %d delivered within %s", value, BOUND).isNegative();
            LockSupport.parkNanos(1_000_000);
        }
    }
}
