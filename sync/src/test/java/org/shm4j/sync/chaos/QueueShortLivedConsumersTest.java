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
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedQueue} held up by a claim its producer process never marked (SIGKILLed between its tail CAS and its
 * mark), consumed by short-lived consumer processes, each SIGKILLed, waiting at the claim, before the stall timeout
 * passed since it started: the timeout runs from when the first of them saw the claim stuck (the ring's shared stall
 * clock), so one of them skips it and every value behind it is delivered exactly once. Before that clock, each
 * consumer timed the stall from its own first look, and consumers replaced faster than the timeout never skipped.
 */
class QueueShortLivedConsumersTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    /** How long the consumers have, together, to skip the dead claim: many stall timeouts. */
    private static final Duration SKIP_BOUND = Duration.ofSeconds(10);
    private static final Duration STALL = Duration.ofMillis(600);
    /** How long a consumer runs before it is killed, if the claim cannot be skipped before the kill lands. */
    private static final Duration LIFETIME = Duration.ofMillis(250);
    /** The values the parent offers behind the dead claim; the claimer offers one more, {@link #CLAIMERS}, first. */
    private static final int BEHIND = 20;
    private static final long CLAIMERS = BEHIND;

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldSkipADeadProducersClaimNeverMarkedWithConsumersKilledSoonerThanTheStallTimeout() throws Exception {
        String heapName = names.unique("qshort");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, Codec.longs());
            queue.setStallTimeout(STALL);
            SharedIntArray got = SharedIntArray.create(heap, "got", BEHIND + 1);
            MemorySegment block = heap.lookup("q", SyncLayout.RING).segment();
            try (ChildJvm claimer = ChildJvm.start(UnmarkedClaimChildren.Claimer.class, heapName,
                    Long.toString(CLAIMERS))) {
                claimer.awaitLine("CLAIMED", BOUND);
                claimer.kill(); // between its tail CAS and its mark
            }
            assertThat(queue.poll()).isEqualTo(CLAIMERS); // the claimer's value, before its claim
            long claim = (long) LONG.getVolatile(block, SyncLayout.RING_TAIL_OFFSET) - UnmarkedClaimChildren.CLAIM;
            for (long value = 0; value < BEHIND; value++) {
                assertThat(queue.offer(value)).isTrue();
            }
            int consumers = consumeWithShortLivedProcesses(heapName, got, block, claim);

            for (long value = 0; value < BEHIND; value++) {
                assertThat(got.get(value)).as("value %d delivered once", value).isEqualTo(1);
            }
            assertThat(queue.stats().skippedRecords()).as("the dead claim, with %d consumers", consumers).isEqualTo(1);
            assertThat(queue.isEmpty()).isTrue();
        }
    }

    /**
     * Starts consumer processes one after another, each killed {@link #LIFETIME} after it started taking while it
     * waits at the dead claim, unless the ring's stall clock says the claim may be skipped within half the stall
     * timeout (a kill then could land in a delivery): that consumer is left to deliver every value.
     *
     * @return how many consumers ran
     */
    private static int consumeWithShortLivedProcesses(String heapName, SharedIntArray got, MemorySegment block,
                                                      long claim) throws InterruptedException {
        long deadline = System.nanoTime() + SKIP_BOUND.toNanos();
        for (int consumers = 1; ; consumers++) {
            assertThat(System.nanoTime() - deadline).as("skipped within %s, %d consumers killed", SKIP_BOUND,
                    consumers - 1).isNegative();
            try (ChildJvm taker = ChildJvm.start(UnmarkedClaimChildren.Taker.class, heapName, "take")) {
                taker.awaitLine("TAKING", BOUND);
                long end = System.nanoTime() + LIFETIME.toNanos();
                while (System.nanoTime() - end < 0 && delivered(got) == 0) {
                    LockSupport.parkNanos(1_000_000); // the consumer's lifetime, bounded by it
                }
                if (delivered(got) == 0 && stallYoung(block, claim)) {
                    taker.kill(); // waiting at the claim, nothing taken
                    continue;
                }
                awaitAllDelivered(got);
                return consumers;
            }
        }
    }

    /**
     * @return true unless the ring's stall clock names the claim and has run for half the stall timeout or more
     *         (before the fix, no clock was kept there: every consumer is killed in time)
     */
    private static boolean stallYoung(MemorySegment block, long claim) {
        long at = (long) LONG.getVolatile(block, SyncLayout.RING_STALL_AT_OFFSET);
        long since = (long) LONG.getVolatile(block, SyncLayout.RING_STALL_SINCE_OFFSET);
        return at != claim + 1 || System.nanoTime() - since < STALL.toNanos() / 2;
    }

    /** @return how many values behind the claim were delivered, counting repeats */
    private static int delivered(SharedIntArray got) {
        int count = 0;
        for (long value = 0; value < BEHIND; value++) {
            count += got.get(value);
        }
        return count;
    }

    private static void awaitAllDelivered(SharedIntArray got) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (delivered(got) < BEHIND) {
            assertThat(System.nanoTime() - deadline).as("every value delivered within %s", BOUND).isNegative();
            LockSupport.parkNanos(1_000_000);
        }
    }
}
