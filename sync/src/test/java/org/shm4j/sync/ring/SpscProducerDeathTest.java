package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * An SPSC producer killed, or preempted, between the stores of a claim: above all a claim that wraps, whose padding
 * record is written before tail moves past it. The consumer must never move head past tail (every later open would
 * refuse the ring as corrupted, and a later producer would write behind head), and a later producer's messages must
 * all arrive. First the exact states such a producer leaves, in a raw ring; then producer JVMs SIGKILLed at random
 * moments while the test JVM consumes.
 */
class SpscProducerDeathTest extends RawRingTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Where the raw ring's tail is left: 48 bytes before the end of its 1024. */
    private static final long NEAR_END = 976;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * The producer of a wrapping claim wrote the word after its record, its mark at 0 and its padding at tail, and
     * was killed before it moved tail. Then the next producer claims from that tail: {@code nextLength} fits exactly
     * before the end, fits with room to spare, or wraps too.
     */
    @ParameterizedTest
    @ValueSource(ints = {40, 8, 100})
    void shouldNotPassTailAtThePaddingOfAProducerKilledBeforeItMovedTail(int nextLength) {
        SharedRing consumer = ringEmptyNearTheEnd();
        RingClaim dead = new RingClaim();
        assertThat(consumer.tryClaim(9, 100, dead)).as("a claim that wraps").isTrue();
        assertThat(dead.offset()).as("its record at 0, after the padding").isEqualTo(8);
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, NEAR_END); // every store of the claim but its last, tail's
        consumer.setStallTimeout(Duration.ofNanos(1)); // the stall rule may act at once: it must find nothing to skip

        for (int poll = 0; poll < 3 * RingStallRule.CHECK_EVERY; poll++) {
            assertThat(consumer.poll(collect)).isZero();
        }
        assertThat(consumer.unblock()).as("nothing claimed below tail").isFalse();
        assertThat(raw.get(JAVA_LONG, RING_HEAD_OFFSET)).as("head stays at tail").isEqualTo(NEAR_END);
        assertThat(consumer.size()).isZero();
        assertThat(consumer.isEmpty()).isTrue();
        assertThat(consumer.messageCount()).isZero();

        SharedRing producer = SharedRing.wrap(raw, 0); // a new producer opens the ring: not corrupted
        assertThat(producer.size()).isZero();
        List<String> sent = new ArrayList<>();
        for (int k = 0; k < 40; k++) { // several laps, starting with the claim from the dead producer's tail
            int length = k == 0 ? nextLength : 1 + (k * 37) % producer.maxMessageLength();
            assertThat(producer.offer(k + 1, filled(length, k), 0, length)).isTrue();
            sent.add((k + 1) + ":" + length + ":" + (byte) k);
            assertThat(consumer.drain(collect, 10)).isEqualTo(1);
            assertThat(consumer.size()).isZero();
        }
        assertThat(got).containsExactlyElementsOf(sent);
        assertThat(consumer.stats().skippedRecords()).isZero();
    }

    /**
     * The same stores, by a producer preempted before its tail store: meanwhile another process opens the ring and
     * the consumer finds nothing; then the producer moves tail and commits, and its message arrives.
     */
    @Test
    void shouldWaitForAPreemptedProducerOfAWrappingClaimAndDeliverItsMessage() {
        SharedRing consumer = ringEmptyNearTheEnd();
        RingClaim claim = new RingClaim();
        assertThat(consumer.tryClaim(9, 100, claim)).isTrue();
        long tail = raw.get(JAVA_LONG, RING_TAIL_OFFSET);
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, NEAR_END); // not yet stored

        assertThat(consumer.drain(collect, 10)).isZero();
        assertThat(SharedRing.wrap(raw, 0).size()).as("another process opens the ring meanwhile").isZero();
        assertThat(raw.get(JAVA_LONG, RING_HEAD_OFFSET)).isEqualTo(NEAR_END);

        raw.set(JAVA_LONG, RING_TAIL_OFFSET, tail); // the producer runs again: its tail store, its payload, its commit
        claim.buffer().asSlice(claim.offset(), 100).fill((byte) 3);
        claim.commit();
        assertThat(consumer.drain(collect, 10)).isEqualTo(1);
        assertThat(got).containsExactly("9:100:3");
        assertThat(consumer.isEmpty()).isTrue();
        assertThat(raw.get(JAVA_LONG, RING_HEAD_OFFSET)).isEqualTo(tail);
    }

    /** A claim that does not wrap, marked, its producer killed before its tail store: a mark at tail, not a stall. */
    @Test
    void shouldLeaveTheMarkOfAProducerKilledBeforeItMovedTailToTheNextProducer() {
        SharedRing consumer = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
        consumer.setStallTimeout(Duration.ofNanos(1));
        assertThat(consumer.tryClaim(9, 30, new RingClaim())).isTrue();
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 0L);
        assertThat(raw.get(JAVA_LONG, RING_HEADER_SIZE)).as("the mark")
                .isEqualTo(RingRecords.header(-40, ProducerMarks.THIS_PROCESS));
        for (int poll = 0; poll < 3 * RingStallRule.CHECK_EVERY; poll++) {
            assertThat(consumer.poll(collect)).isZero();
        }
        assertThat(consumer.unblock()).as("a claim tail has not reached is not skipped").isFalse();
        assertThat(consumer.size()).isZero();

        SharedRing producer = SharedRing.wrap(raw, 0);
        assertThat(producer.offer(4, filled(12, 4), 0, 12)).isTrue();
        assertThat(consumer.drain(collect, 10)).isEqualTo(1);
        assertThat(got).containsExactly("4:12:4");
        assertThat(consumer.isEmpty()).isTrue();
    }

    /**
     * SPSC producer JVMs SIGKILLed at random moments of a stream into a small ring (a padding record every few
     * messages), one after another, while the test JVM consumes: after each kill the ring opens, every message is
     * whole and the next of its producer (nothing is redelivered or reordered; a killed producer only loses what it
     * did not commit), and a last producer's messages all arrive.
     */
    @Test
    void shouldKeepTheRingOpenableAndEveryMessageWholeWhenSpscProducersAreKilled() throws Exception {
        String heapName = names.unique("spscprod");
        int kills = 8;
        int lastCount = 3000;
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024, Duration.ofMillis(200));
            Checker checker = new Checker(kills + 1, lastCount);
            Thread consumer = Thread.ofPlatform().name("consumer").start(() -> checker.consume(ring));
            try {
                for (int k = 0; k < kills; k++) {
                    String producer = Integer.toString(k);
                    RandomKills.wave(random, 100_000_000L, 1, "READY",
                            () -> ChildJvm.start(Producer.class, heapName, producer, "0"));
                    long size = SharedRing.open(heap, "ring", SharedRing.Kind.SPSC).size(); // opens: not corrupted
                    assertThat(size).as("seed " + seed + ": size after kill " + k).isBetween(0L, 1024L);
                }
                try (ChildJvm last = ChildJvm.start(Producer.class, heapName, Integer.toString(kills),
                        Integer.toString(lastCount))) {
                    last.awaitSuccess(BOUND);
                }
                consumer.join(BOUND.toMillis()); // it stops once the last producer's messages all arrived
            } finally {
                checker.stop = true;
                consumer.join(BOUND.toMillis());
            }
            String context = "seed " + seed + ", delivered per producer " + checker.deliveredReport();
            assertThat(consumer.isAlive()).as("consumer stopped").isFalse();
            assertThat(checker.error.get()).as(context).isNull();
            assertThat(checker.next[kills]).as(context).isEqualTo(lastCount);
            assertThat(ring.isEmpty()).as(context).isTrue();
            System.out.println("SPSC producers killed: " + kills + ", " + context + ", " + ring.stats());
        }
    }

    /** @return an SPSC ring over {@link #raw}, empty, with head and tail at {@link #NEAR_END} */
    private SharedRing ringEmptyNearTheEnd() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
        for (int k = 0; k < 7; k++) {
            assertThat(ring.offer(1, filled(120, 1), 0, 120)).isTrue(); // records of 128 bytes
            assertThat(ring.poll(collect)).isEqualTo(1);
        }
        assertThat(ring.offer(1, filled(72, 1), 0, 72)).isTrue(); // a record of 80 bytes
        assertThat(ring.poll(collect)).isEqualTo(1);
        got.clear();
        assertThat(raw.get(JAVA_LONG, RING_HEAD_OFFSET)).isEqualTo(NEAR_END);
        assertThat(ring.isEmpty()).isTrue();
        return ring;
    }

    /** @return the payload length of message {@code seq} of {@code producer}: 8..120 bytes */
    static int lengthOf(int producer, long seq) {
        long h = (seq + 1) * 0x9E37_79B9_7F4A_7C15L ^ (producer + 1) * 0xC2B2_AE3D_27D4_EB4FL;
        return Long.BYTES + (int) Long.remainderUnsigned(h ^ (h >>> 29), 113);
    }

    /** @return payload byte {@code i} of message {@code seq} of {@code producer} (bytes 0..7 hold {@code seq}) */
    static byte byteOf(int producer, long seq, int i) {
        return (byte) (producer * 31 + seq * 7 + i);
    }

    /**
     * The test JVM's consumer: checks each message is whole and the next of its producer (its type - 1), until the
     * last producer's messages all arrived, an error, or {@link #stop}.
     */
    private static final class Checker implements MessageHandler {
        final long[] next; // the consumer thread's; read by the test after joining it
        final AtomicReference<String> error = new AtomicReference<>();
        volatile boolean stop;
        private final int lastCount;

        Checker(int producers, int lastCount) {
            this.next = new long[producers];
            this.lastCount = lastCount;
        }

        @Override
        public void onMessage(int type, MemorySegment buffer, long offset, int length) {
            int producer = type - 1;
            if (producer < 0 || producer >= next.length || length < Long.BYTES) {
                error.compareAndSet(null, "a message of type " + type + " and length " + length);
                return;
            }
            long seq = buffer.get(JAVA_LONG_UNALIGNED, offset);
            if (seq != next[producer] || length != lengthOf(producer, seq)) {
                error.compareAndSet(null, "producer " + producer + " message " + seq + " of length " + length
                        + " when " + next[producer] + " was expected");
                return;
            }
            for (int i = Long.BYTES; i < length; i++) {
                if (buffer.get(JAVA_BYTE, offset + i) != byteOf(producer, seq, i)) {
                    error.compareAndSet(null, "producer " + producer + " message " + seq + ": byte " + i);
                    return;
                }
            }
            next[producer] = seq + 1;
        }

        /** Consumes (the stall rule skipping what killed producers left claimed) until done. */
        void consume(SharedRing ring) {
            try {
                while (!stop && error.get() == null && next[next.length - 1] < lastCount) {
                    ring.poll(this, Duration.ofMillis(10), WaitStrategy.BACKOFF);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                error.compareAndSet(null, e.toString());
            }
        }

        String deliveredReport() {
            StringBuilder s = new StringBuilder();
            long all = 0;
            for (long n : next) {
                s.append(n).append(' ');
                all += n;
            }
            return s.append("(").append(all).append(" in all)").toString();
        }
    }

    /**
     * {@code main(heap, producer, count)}: offers messages of type {@code producer + 1} into the SPSC ring, {@code 0}
     * = until killed; prints {@code READY} after its first {@value #READY_AFTER} messages (more than a lap).
     */
    public static final class Producer {
        static final int READY_AFTER = 32;

        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring", SharedRing.Kind.SPSC);
                int producer = Integer.parseInt(args[1]);
                long count = Long.parseLong(args[2]);
                long limit = count > 0 ? count : Long.MAX_VALUE;
                byte[] message = new byte[ring.maxMessageLength()];
                MemorySegment view = MemorySegment.ofArray(message);
                for (long seq = 0; seq < limit; seq++) {
                    if (seq == READY_AFTER) {
                        RandomKills.say("READY"); // the stream runs: a kill lands in it, often in a claim
                    }
                    int length = lengthOf(producer, seq);
                    view.set(JAVA_LONG_UNALIGNED, 0, seq);
                    for (int i = Long.BYTES; i < length; i++) {
                        message[i] = byteOf(producer, seq, i);
                    }
                    while (!ring.offer(producer + 1, message, 0, length)) {
                        Thread.onSpinWait();
                    }
                }
            } catch (RuntimeException e) {
                RandomKills.fail(e);
            }
        }
    }
}
