package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.internal.SyncLayout.RING_BLOCKED_BEFORE;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;
import static org.shm4j.sync.internal.SyncLayout.RING_WAITING;

/**
 * The ring's eventcount across processes (see {@link RingWaits}): a consumer blocked in {@code take} in another
 * process is woken by each offer, through the waiters word and the sequence, once the side's sticky bit is set; and
 * the first consumer to block on a ring, which set that bit itself, re-checks on its own when the publication it
 * raced with found the word still 0 (simulated here by a commit without its signal). Outcomes are counted through the
 * word and the sequence, not timed: the test cannot tell that first block's bound (100 µs) from the 10 ms re-check.
 */
@Timeout(120)
class RingWakeTest {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int CAPACITY = 1024;
    private static final int ROUNDS = 20;
    private static final byte[] MESSAGE = new byte[8];

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldWakeAConsumerBlockedInAnotherProcessAtEachOfferOnceTheStickyBitIsSet() throws Exception {
        MemorySegment header = withTaker("ring-wake", ROUNDS, (ring, consumer) -> {
            MemorySegment words = ring.block;
            for (int round = 1; round <= ROUNDS; round++) {
                awaitAnnounced(words);
                assertThat(word(words, RING_NOT_EMPTY_WAITERS_OFFSET)).as("both bits, from the first block on")
                        .isEqualTo(RING_WAITING | RING_BLOCKED_BEFORE);
                assertThat(ring.offer(round, MESSAGE, 0, MESSAGE.length)).isTrue();
                consumer.awaitLine("GOT " + round + ";", BOUND);
                // only offers clear the waiting bit, and each found it set: one bump, one wake-up per round
                assertThat(word(words, RING_NOT_EMPTY_SEQ_OFFSET)).as("sequence after round " + round)
                        .isEqualTo(round);
            }
        });
        assertThat(word(header, RING_NOT_EMPTY_WAITERS_OFFSET)).as("the sticky bit stays, the waiting bit went")
                .isEqualTo(RING_BLOCKED_BEFORE);
    }

    @Test
    void shouldLetTheFirstBlockedConsumerFindAMessageWhosePublisherSawNoWaiter() throws Exception {
        MemorySegment header = withTaker("ring-first-block", 1, (ring, consumer) -> {
            awaitAnnounced(ring.block);
            // the race the sticky bit leaves open: a publisher whose load of the word came before the first
            // announcement (it read 0, so it signals nothing), and whose publication the consumer's look missed
            RingClaim claim = new RingClaim();
            assertThat(ring.tryClaim(7, MESSAGE.length, claim)).isTrue();
            long index = claim.offset() - RING_RECORD_HEADER;
            // release: as SharedRing.publish commits, without its signal
            LONG.setRelease(ring.block, RING_HEADER_SIZE + index, RingRecords.header(RING_RECORD_HEADER + 8, 7));
            consumer.awaitLine("GOT 7;", BOUND);
        });
        assertThat(word(header, RING_NOT_EMPTY_SEQ_OFFSET)).as("no signal woke it: it re-checked").isZero();
        assertThat(word(header, RING_NOT_EMPTY_WAITERS_OFFSET)).as("its announcement, left for the next signal")
                .isEqualTo(RING_WAITING | RING_BLOCKED_BEFORE);
    }

    @Test
    void shouldBoundOnlyTheFirstBlockOfTheWaiterThatSetsTheStickyBit() {
        SharedRing ring = RingWakeStress.newRing(SharedRing.Kind.SPSC);
        long full = WaitStrategy.MAX_BLOCK_NANOS;
        assertThat(RingWaits.announce(ring.block, RING_NOT_EMPTY_WAITERS_OFFSET, full)).as("the first waiter")
                .isEqualTo(RingWaits.FIRST_BLOCK_NANOS);
        assertThat(word(ring.block, RING_NOT_EMPTY_WAITERS_OFFSET)).isEqualTo(RING_WAITING | RING_BLOCKED_BEFORE);
        assertThat(RingWaits.announce(ring.block, RING_NOT_EMPTY_WAITERS_OFFSET, full)).as("one finding it waiting")
                .isEqualTo(full);
        ring.block.set(JAVA_INT, RING_NOT_EMPTY_WAITERS_OFFSET, RING_BLOCKED_BEFORE); // as a signal leaves it
        assertThat(RingWaits.announce(ring.block, RING_NOT_EMPTY_WAITERS_OFFSET, full)).as("a later first waiter")
                .isEqualTo(full);
        assertThat(RingWaits.announce(ring.block, RING_NOT_FULL_WAITERS_OFFSET, 50_000)).as("the other side's first")
                .isEqualTo(50_000);
    }

    /** What a test does with a new SPSC ring and a {@link Taker} child consuming from it. */
    private interface WithTaker {
        void run(SharedRing ring, ChildJvm consumer) throws Exception;
    }

    /**
     * Creates a heap with an SPSC ring, starts a {@link Taker} of {@code takes} messages, runs {@code body}, then
     * waits for the child's success.
     *
     * @return a copy of the ring's header once the child exited
     */
    private MemorySegment withTaker(String name, int takes, WithTaker body) throws Exception {
        String heapName = names.unique(name);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, CAPACITY);
            try (ChildJvm consumer = ChildJvm.start(Taker.class, heapName, Integer.toString(takes))) {
                body.run(ring, consumer);
                consumer.awaitSuccess(BOUND);
            }
            return MemorySegment.ofArray(ring.block.asSlice(0, RING_HEADER_SIZE).toArray(JAVA_LONG));
        }
    }

    /** Waits (bounded) until a consumer announced itself: the waiting bit of the not-empty side is set. */
    private static void awaitAnnounced(MemorySegment header) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while ((word(header, RING_NOT_EMPTY_WAITERS_OFFSET) & RING_WAITING) == 0) {
            assertThat(System.nanoTime()).as("the consumer announces itself").isLessThan(deadline);
            Thread.onSpinWait();
        }
    }

    private static int word(MemorySegment header, long offset) {
        return (int) INT.getVolatile(header, offset); // volatile: written by the other process
    }

    /** {@code main(heap, count)}: takes {@code count} messages from the heap's ring, blocking; prints each type. */
    public static final class Taker {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                for (int i = Integer.parseInt(args[1]); i > 0; i--) {
                    ring.take((type, buffer, offset, length) -> System.out.println("GOT " + type + ";"),
                            WaitStrategy.BLOCKING);
                    System.out.flush();
                }
            }
        }
    }
}
