package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rings shared by real producer JVMs and a consumer in the test JVM. Producer {@code p}'s message {@code k} has a
 * length and bytes that are functions of {@code (p, k)}, so the consumer checks exactly-once delivery, per-producer
 * order and every byte of every length from 0 to the maximum.
 */
class CrossProcessRingTest {
    private static final Duration BOUND = Duration.ofSeconds(90);
    private static final int CAPACITY = 4096;
    private static final long STALL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldDeliverAMillionMessagesFromTwoProducerProcessesExactlyOnce() throws Exception {
        String heapName = names.unique("mpsc");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MANY_PRODUCERS, CAPACITY);
            Checker checker = new Checker(ring.maxMessageLength());
            int perProducer = 500_000;
            try (ChildJvm one = ChildJvm.start(Producer.class, heapName, "1", Integer.toString(perProducer));
                 ChildJvm two = ChildJvm.start(Producer.class, heapName, "2", Integer.toString(perProducer))) {
                consume(ring, checker, 2L * perProducer);
                one.awaitSuccess(BOUND);
                two.awaitSuccess(BOUND);
            }
            assertThat(checker.next).containsExactly(0, perProducer, perProducer);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldDeliverEverythingCommittedWhenProducersAreKilledMidStreamAndMidClaim() throws Exception {
        String heapName = names.unique("killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MANY_PRODUCERS, CAPACITY);
            Checker checker = new Checker(ring.maxMessageLength());
            try (ChildJvm claimer = ChildJvm.start(Producer.class, heapName, "1", "-1")) {
                consume(ring, checker, 1000); // all from producer 1, which then leaves a claim open
                claimer.awaitLine("CLAIMED", BOUND);
                try (ChildJvm streamer = ChildJvm.start(Producer.class, heapName, "2", "0")) {
                    claimer.kill();
                    consume(ring, checker, 1000 + 20_000); // producer 2 streams until killed
                    streamer.kill();
                }
            }
            drainUntilStalled(ring, checker);
            assertThat(checker.next[1]).as("producer 1 committed exactly 1000").isEqualTo(1000);
            assertThat(checker.next[2]).as("producer 2: an unbroken prefix").isGreaterThanOrEqualTo(20_000);
            assertThat(ring.isEmpty()).as("the dead claims were skipped").isTrue();
        }
    }

    /** Consumes until {@code count} messages arrived, unblocking records that stay stuck for 200 ms. */
    private static void consume(SharedRing ring, Checker checker, long count) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        long stalledSince = System.nanoTime();
        while (checker.total < count) {
            assertThat(System.nanoTime()).as("messages arrive in time").isLessThan(deadline);
            if (ring.drain(checker, 256) > 0) {
                stalledSince = System.nanoTime();
            } else if (!ring.isEmpty() && System.nanoTime() - stalledSince > STALL_NANOS && ring.unblock()) {
                stalledSince = System.nanoTime();
            } else {
                Thread.onSpinWait();
            }
        }
    }

    /** Drains what is left; a record stuck for 200 ms is a dead producer's and is unblocked. */
    private static void drainUntilStalled(SharedRing ring, Checker checker) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        long stalledSince = System.nanoTime();
        while (!ring.isEmpty()) {
            assertThat(System.nanoTime()).isLessThan(deadline);
            if (ring.drain(checker, 256) > 0) {
                stalledSince = System.nanoTime();
            } else if (System.nanoTime() - stalledSince > STALL_NANOS && ring.unblock()) {
                stalledSince = System.nanoTime();
            }
        }
    }

    static int lengthOf(int producer, long k, int max) {
        long h = (k + 1) * 0x9E3779B97F4A7C15L ^ producer * 0xC2B2AE3D27D4EB4FL;
        return (int) Long.remainderUnsigned(h ^ (h >>> 29), max + 1);
    }

    static byte byteOf(int producer, long k, int i) {
        return (byte) (producer * 31 + k * 7 + i);
    }

    /** Checks each message against what its producer must have sent next. */
    private static final class Checker implements MessageHandler {
        final long[] next = new long[3];
        final int max;
        long total;

        Checker(int max) {
            this.max = max;
        }

        @Override
        public void onMessage(int type, MemorySegment buffer, long offset, int length) {
            long k = next[type];
            if (length != lengthOf(type, k, max)) {
                throw new AssertionError("producer " + type + " message " + k + ": length " + length
                        + " (expected " + lengthOf(type, k, max) + ")");
            }
            for (int i = 0; i < length; i++) {
                if (buffer.get(JAVA_BYTE, offset + i) != byteOf(type, k, i)) {
                    throw new AssertionError("producer " + type + " message " + k + ": byte " + i + " corrupted");
                }
            }
            next[type]++;
            total++;
        }
    }

    /**
     * {@code main(heap, producerId, count)}: offers {@code count} messages; {@code 0} = for ever (until killed);
     * {@code -1} = 1000 messages, then a claim it never commits.
     */
    public static final class Producer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                int id = Integer.parseInt(args[1]);
                long count = Long.parseLong(args[2]);
                long limit = count > 0 ? count : count == 0 ? Long.MAX_VALUE : 1000;
                byte[] message = new byte[ring.maxMessageLength()];
                for (long k = 0; k < limit; k++) {
                    int length = lengthOf(id, k, ring.maxMessageLength());
                    for (int i = 0; i < length; i++) {
                        message[i] = byteOf(id, k, i);
                    }
                    while (!ring.offer(id, message, 0, length)) {
                        Thread.onSpinWait();
                    }
                }
                if (count < 0) {
                    RingClaim claim = new RingClaim();
                    while (!ring.tryClaim(id, 100, claim)) {
                        Thread.onSpinWait();
                    }
                    System.out.println("CLAIMED");
                    System.out.flush();
                    Thread.sleep(TimeUnit.SECONDS.toMillis(90)); // killed long before this ends
                }
            }
        }
    }
}
