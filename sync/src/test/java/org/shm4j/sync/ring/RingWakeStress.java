package org.shm4j.sync.ring;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;
import org.shm4j.sync.jcstress.StressMemory;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;
import static org.shm4j.sync.internal.SyncLayout.RING_BLOCKED_BEFORE;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_WAITERS_OFFSET;

/**
 * The ring's lost-wake race ({@link RingWaits}), on a side a waiter blocked on before (its sticky bit set): a
 * producer offers a message through the real publish and signal path while a consumer takes the real steps of
 * {@code RingWaits.awaitNotEmpty} up to the point where it would sleep (read the sequence, announce itself, look at
 * the ring). The consumer's look must see the message, or the producer must take the announcement and bump the
 * sequence (then the consumer's futex wait on the value it read returns at once). The arbiter reports whether the
 * sequence moved past the value the consumer read.
 */
@JCStressTest
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "the look found the message; the producer saw no waiter")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the look found the message, and the producer woke it (spare)")
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "the look missed it; the producer woke it: it sleeps not at all")
@Outcome(id = "0, 0", expect = FORBIDDEN, desc = "lost wake-up: the consumer would sleep through the message")
@State
public class RingWakeStress {
    private final MessageRace race = new MessageRace(SharedRing.Kind.SPSC);

    @Actor
    public void producer() {
        race.offer();
    }

    @Actor
    public void consumer(II_Result r) {
        r.r1 = race.look();
    }

    @Arbiter
    public void sequenceMoved(II_Result r) {
        r.r2 = race.sequenceMoved();
    }

    /** The not-empty side's race on a ring of one kind: the actors' steps, shared by the states of each kind. */
    static final class MessageRace {
        private final SharedRing ring;
        private final MemorySegment message = MemorySegment.ofArray(new long[] {1});
        private int seq;

        MessageRace(SharedRing.Kind kind) {
            ring = newRing(kind);
            ring.block.set(JAVA_INT, RING_NOT_EMPTY_WAITERS_OFFSET, RING_BLOCKED_BEFORE); // a consumer blocked before
        }

        /** The producer: an offer through the real publish and signal path. */
        void offer() {
            ring.offer(1, message, 0, 8);
        }

        /** The consumer: the real steps before a blocking wait. @return 1 if its look found the message */
        int look() {
            seq = RingWaits.sequence(ring.block, RING_NOT_EMPTY_SEQ_OFFSET);
            RingWaits.announce(ring.block, RING_NOT_EMPTY_WAITERS_OFFSET, WaitStrategy.MAX_BLOCK_NANOS);
            return RingConsumer.committedAtPosition(ring) ? 1 : 0;
        }

        /** @return 1 if the sequence moved past the value the consumer read (it would not sleep) */
        int sequenceMoved() {
            return RingWaits.sequence(ring.block, RING_NOT_EMPTY_SEQ_OFFSET) != seq ? 1 : 0;
        }
    }

    /** @return an empty ring of {@code kind} and 1024 bytes in memory of its own */
    static SharedRing newRing(SharedRing.Kind kind) {
        return SharedRing.format(StressMemory.allocate(SharedRing.requiredBytes(1024)), 0, kind, 1024);
    }

    /**
     * The same race on an MPMC ring, whose consumer's look reads the consumers' shared position ({@code consumedTo})
     * rather than its own.
     */
    @JCStressTest
    @Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "the look found the message; the producer saw no waiter")
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the look found the message, and the producer woke it (spare)")
    @Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "the look missed it; the producer woke it")
    @Outcome(id = "0, 0", expect = FORBIDDEN, desc = "lost wake-up: the consumer would sleep through the message")
    @State
    public static class Mpmc {
        private final MessageRace race = new MessageRace(SharedRing.Kind.MPMC);

        @Actor
        public void producer() {
            race.offer();
        }

        @Actor
        public void consumer(II_Result r) {
            r.r1 = race.look();
        }

        @Arbiter
        public void sequenceMoved(II_Result r) {
            r.r2 = race.sequenceMoved();
        }
    }

    /**
     * The same race on the other side: the consumer frees a full ring's first message through the real poll and
     * signal path while a producer takes the real steps of {@code RingWaits.retry} up to the point where it would
     * sleep (read the sequence, announce itself, try the offer again).
     */
    @JCStressTest
    @Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "the retried offer found room; the consumer saw no waiter")
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the offer found room, and the consumer woke it (spare)")
    @Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "the offer missed the room; the consumer woke it")
    @Outcome(id = "0, 0", expect = FORBIDDEN, desc = "lost wake-up: the producer would sleep with room free")
    @State
    public static class Room {
        private final SharedRing ring = newRing(SharedRing.Kind.SPSC);
        private final MemorySegment message = MemorySegment.ofArray(new long[] {1});
        private int seq;

        public Room() {
            int queued = 0;
            while (ring.offer(1, message, 0, 8)) {
                queued++; // fills the ring
            }
            if (queued == 0) {
                throw new IllegalStateException("the ring took no message");
            }
            ring.block.set(JAVA_INT, RING_NOT_FULL_WAITERS_OFFSET, RING_BLOCKED_BEFORE); // a producer blocked before
        }

        @Actor
        public void consumer() {
            ring.poll((type, buffer, offset, length) -> { });
        }

        @Actor
        public void producer(II_Result r) {
            seq = RingWaits.sequence(ring.block, RING_NOT_FULL_SEQ_OFFSET);
            RingWaits.announce(ring.block, RING_NOT_FULL_WAITERS_OFFSET, WaitStrategy.MAX_BLOCK_NANOS);
            r.r1 = ring.offer(1, message, 0, 8) ? 1 : 0;
        }

        @Arbiter
        public void sequenceMoved(II_Result r) {
            r.r2 = RingWaits.sequence(ring.block, RING_NOT_FULL_SEQ_OFFSET) != seq ? 1 : 0;
        }
    }
}
