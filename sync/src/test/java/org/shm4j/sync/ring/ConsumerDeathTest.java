package org.shm4j.sync.ring;

import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Consumer JVMs SIGKILLed at random points while they drain, for every ring kind, with small and with 1 MiB messages:
 * the test JVM produces (one producer thread, or two for MPSC and MPMC), takes over as the consumer after each kill
 * (and, for MPMC, consumes alongside the child), and checks every message as it arrives: its sequence number must be
 * the next of its producer (or the previous one again: a redelivery), and every word of it a function of (producer,
 * sequence, word). In the end nothing is lost, nothing garbled, there are at most as many redeliveries as kills, and
 * {@code size()} was always within 0..capacity.
 */
class ConsumerDeathTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Consumer JVMs started ahead of the one about to be killed, waiting for their turn: their start-up dominates. */
    private static final int SPARES = 2;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldLoseAndGarbleNothingWhenConsumersOfSmallMessagesAreKilled(SharedRing.Kind kind) throws Exception {
        killConsumers(kind, false, 10);
    }

    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldLoseAndGarbleNothingWhenConsumersOfOneMebibyteMessagesAreKilled(SharedRing.Kind kind)
            throws Exception {
        killConsumers(kind, true, 8);
    }

    private void killConsumers(SharedRing.Kind kind, boolean big, int kills) throws Exception {
        String heapName = names.unique("cdeath");
        int capacity = big ? 1 << 24 : 1 << 16;
        int producerCount = kind == SharedRing.Kind.SPSC ? 1 : 2;
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (SharedHeap heap = SharedHeap.create(heapName, 2L * capacity + (1 << 20))) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, capacity);
            Verifier verifier = new Verifier(heap, true, producerCount, big);
            SizeWatch sizes = new SizeWatch(ring);
            Producers producers = new Producers(ring, producerCount, big, sizes);
            StringBuilder transcripts = new StringBuilder();
            int pending = 0; // kills that left records handed over but not freed
            int busy = 0; // kills with messages in the ring
            SharedLong turn = SharedLong.create(heap, "turn");
            turn.set(-1);
            List<ChildJvm> children = new ArrayList<>();
            try {
                for (int k = 0; k < kills; k++) {
                    while (children.size() < Math.min(kills, k + 1 + SPARES)) { // they boot while child k drains
                        children.add(ChildJvm.start(Consumer.class, heapName, Boolean.toString(big),
                                Integer.toString(children.size())));
                    }
                    ChildJvm child = children.get(k);
                    turn.set(k); // child k waits for this before it consumes: one consumer child at a time
                    child.awaitLine("READY", BOUND);
                    long delay = TimeUnit.MILLISECONDS.toNanos(1 + random.nextInt(big ? 100 : 40));
                    TimeUnit.NANOSECONDS.sleep(delay); // not synchronisation: a random point of the child's drain
                    child.kill();
                    transcripts.append(child.output());
                    pending += kind != SharedRing.Kind.SPSC && consumedTo(heap) != head(heap) ? 1 : 0; // SPSC: head
                    busy += ring.isEmpty() ? 0 : 1;
                    sizes.check();
                    sizes.checkMessageCount();
                    takeOver(ring, verifier, sizes, big ? 3 : 200); // the parent is the next consumer
                    ring.release(); // SPSC, MPSC: gives the consumer's role back, so that the next child may claim it
                }
            } finally {
                children.forEach(ChildJvm::close); // spares left by a failure
            }
            long[] produced = producers.stop();
            drainAll(ring, verifier, sizes, produced);
            String context = "seed " + seed + ", " + verifier.report() + "; children printed:\n" + transcripts;
            assertThat(verifier.firstError.get()).as(context).isNull();
            assertThat(verifier.errors.get()).as(context).isZero();
            assertThat(sizes.violation.get()).as(context).isNull();
            assertThat(verifier.redeliveries.get()).as("redeliveries (" + context + ")").isLessThanOrEqualTo(kills);
            for (int p = 0; p < producerCount; p++) {
                assertThat(verifier.next.get(p)).as("producer " + p + " delivered, " + context).isEqualTo(produced[p]);
            }
            assertThat(ring.isEmpty()).isTrue();
            RingStats stats = ring.stats();
            assertThat(stats.consumerRecoveries()).as("each freeing left undone, finished once").isEqualTo(pending);
            assertThat(stats.consumerTakeovers()).isLessThanOrEqualTo(kind == SharedRing.Kind.MPMC ? kills : 0);
            assertThat(stats.skippedRecords()).as("no producer died").isZero();
            System.out.print(stats + ", ");
            System.out.println(kind + (big ? " 1 MiB" : " small") + ": " + kills + " kills (" + busy
                    + " with messages queued, " + pending + " between handing over and freeing), " + verifier.report());
        }
    }

    private static long head(SharedHeap heap) {
        return heap.lookup("ring", SyncLayout.RING).segment().get(JAVA_LONG, SyncLayout.RING_HEAD_OFFSET);
    }

    private static long consumedTo(SharedHeap heap) {
        return heap.lookup("ring", SyncLayout.RING).segment().get(JAVA_LONG, SyncLayout.RING_CONSUMED_TO_OFFSET);
    }

    /** Consumes as the consumer that follows a killed one, for a few messages or until the ring is empty. */
    private static void takeOver(SharedRing ring, Verifier verifier, SizeWatch sizes, int messages) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        int handled = 0;
        while (handled < messages && ring.drain(verifier, 1) == 1) {
            handled++;
            sizes.check();
            assertThat(System.nanoTime() - deadline).as("consumed in time").isNegative();
        }
    }

    /** Consumes until each producer's last message arrived. */
    private static void drainAll(SharedRing ring, Verifier verifier, SizeWatch sizes, long[] produced) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        for (int p = 0; p < produced.length; p++) {
            while (verifier.next.get(p) < produced[p] && verifier.firstError.get() == null) {
                assertThat(System.nanoTime() - deadline).as("all messages arrive in time: " + verifier.report())
                        .isNegative();
                if (ring.drain(verifier, 64) == 0) {
                    Thread.onSpinWait();
                }
                sizes.check();
            }
        }
    }

    /** @return the payload length of {@code producer}'s message {@code seq}: 8..127 bytes, or about 1 MiB */
    static int lengthOf(int producer, long seq, boolean big) {
        int spread = (int) Long.remainderUnsigned(word(producer, seq, 0), big ? 64 : 120);
        return big ? (1 << 20) - spread : Long.BYTES + spread;
    }

    /** @return word {@code w} of a message's payload (word 0 is the sequence number itself): cheap to write */
    static long word(int producer, long seq, long w) {
        long h = (seq + 1) * 0x9E37_79B9_7F4A_7C15L ^ producer * 0xC2B2_AE3D_27D4_EB4FL;
        return (h ^ (h >>> 31)) + w * 0x9E37_79B9_7F4A_7C15L;
    }

    /** Writes message {@code seq} of {@code producer} at {@code offset}. */
    static void fill(MemorySegment buffer, long offset, int producer, long seq, int length) {
        buffer.set(JAVA_LONG_UNALIGNED, offset, seq);
        int words = length / Long.BYTES;
        for (int w = 1; w < words; w++) {
            buffer.set(JAVA_LONG_UNALIGNED, offset + (long) w * Long.BYTES, word(producer, seq, w));
        }
        long last = word(producer, seq, words);
        for (int i = words * Long.BYTES; i < length; i++) {
            buffer.set(JAVA_BYTE, offset + i, (byte) (last >>> (8 * (i % Long.BYTES))));
        }
    }

    /** Checks each message against its producer's sequence and content, in shared memory (children share it). */
    static final class Verifier implements MessageHandler {
        final SharedLongArray next;
        final SharedLong redeliveries;
        final SharedLong errors;
        final SharedLong byChildren;
        final AtomicReference<String> firstError = new AtomicReference<>();
        private final boolean big;
        private final boolean child;

        Verifier(SharedHeap heap, boolean create, int producers, boolean big) {
            this.next = create ? SharedLongArray.create(heap, "next", producers) : SharedLongArray.open(heap, "next");
            this.redeliveries = counter(heap, create, "redeliveries");
            this.errors = counter(heap, create, "errors");
            this.byChildren = counter(heap, create, "byChildren");
            this.big = big;
            this.child = !create;
        }

        private static SharedLong counter(SharedHeap heap, boolean create, String name) {
            return create ? SharedLong.create(heap, name) : SharedLong.open(heap, name);
        }

        @Override
        public void onMessage(int type, MemorySegment buffer, long offset, int length) {
            int producer = type - 1;
            if (producer < 0 || producer >= next.length() || length < Long.BYTES) {
                fail("a message of type " + type + " and length " + length);
                return;
            }
            long seq = buffer.get(JAVA_LONG_UNALIGNED, offset);
            long expected = next.get(producer);
            if (seq == expected) { // counted first, so that a kill in the check below shows as a redelivery
                next.set(producer, seq + 1);
                if (child) {
                    byChildren.incrementAndGet();
                }
            } else if (seq == expected - 1) {
                redeliveries.incrementAndGet();
            } else {
                fail("producer " + producer + " message " + seq + " of length " + length + " when " + expected
                        + " was expected");
                return;
            }
            String garbled = garbled(producer, seq, buffer, offset, length);
            if (garbled != null) {
                fail(garbled);
            }
        }

        private String garbled(int producer, long seq, MemorySegment buffer, long offset, int length) {
            if (seq < 0 || length != lengthOf(producer, seq, big)) {
                return "producer " + producer + " message " + seq + " of length " + length;
            }
            int words = length / Long.BYTES;
            int step = child && big ? 61 : 1; // children sample, so that their kills often land in the zeroing
            for (int w = 1; w < words; w += step) {
                if (buffer.get(JAVA_LONG_UNALIGNED, offset + (long) w * Long.BYTES) != word(producer, seq, w)) {
                    return "producer " + producer + " message " + seq + ": word " + w + " of " + words + " garbled";
                }
            }
            if (words > 1 && buffer.get(JAVA_LONG_UNALIGNED, offset + (words - 1L) * Long.BYTES)
                    != word(producer, seq, words - 1)) {
                return "producer " + producer + " message " + seq + ": its last word garbled";
            }
            long last = word(producer, seq, words);
            for (int i = words * Long.BYTES; i < length; i++) {
                if (buffer.get(JAVA_BYTE, offset + i) != (byte) (last >>> (8 * (i % Long.BYTES)))) {
                    return "producer " + producer + " message " + seq + ": byte " + i + " garbled";
                }
            }
            return null;
        }

        private void fail(String what) {
            if (errors.incrementAndGet() <= 5) {
                System.out.println("BAD " + what);
                System.out.flush();
            }
            firstError.compareAndSet(null, what);
        }

        String report() {
            StringBuilder s = new StringBuilder("delivered");
            for (int p = 0; p < next.length(); p++) {
                s.append(' ').append(next.get(p));
            }
            return s.append(" (").append(byChildren.get()).append(" by children), ").append(redeliveries.get())
                    .append(" redeliveries, ").append(errors.get()).append(" errors").toString();
        }
    }

    /** Records the first observation of {@code size()} outside 0..capacity (or of a message count out of bounds). */
    static final class SizeWatch {
        final AtomicReference<String> violation = new AtomicReference<>();
        private final SharedRing ring;

        SizeWatch(SharedRing ring) {
            this.ring = ring;
        }

        void check() {
            long size = ring.size();
            if (size < 0 || size > ring.capacity()) {
                violation.compareAndSet(null, "size() = " + size);
            }
        }

        /** Counts the queued messages while producers go on: at most one per 8-byte record header. */
        void checkMessageCount() {
            long count = ring.messageCount();
            if (count < 0 || count > ring.capacity() / 8) {
                violation.compareAndSet(null, "messageCount() = " + count);
            }
        }
    }

    /** Producer threads of the test JVM, writing messages in place until stopped. */
    static final class Producers {
        private final List<Thread> threads = new ArrayList<>();
        private final long[] produced;
        private volatile boolean stop;

        Producers(SharedRing ring, int count, boolean big, SizeWatch sizes) {
            produced = new long[count];
            for (int p = 0; p < count; p++) {
                int producer = p;
                threads.add(Thread.ofPlatform().name("producer-" + p).start(() -> produce(ring, producer, big, sizes)));
            }
        }

        private void produce(SharedRing ring, int producer, boolean big, SizeWatch sizes) {
            RingClaim claim = new RingClaim();
            try {
                for (long seq = 0; !stop; seq++) {
                    int length = lengthOf(producer, seq, big);
                    while (!ring.tryClaim(producer + 1, length, claim, Duration.ofMillis(10), WaitStrategy.BACKOFF)) {
                        if (stop) {
                            return;
                        }
                    }
                    fill(claim.buffer(), claim.offset(), producer, seq, length);
                    claim.commit();
                    produced[producer] = seq + 1; // read after join
                    sizes.check();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** @return how many messages each producer committed */
        long[] stop() throws InterruptedException {
            stop = true;
            for (Thread t : threads) {
                t.join(BOUND.toMillis());
                assertThat(t.isAlive()).as(t.getName() + " stopped").isFalse();
            }
            return produced.clone();
        }
    }

    /**
     * {@code main(heap, big, index)}: waits (bounded) until the heap's {@code turn} is {@code index}, then drains the
     * ring, checking every message, until killed (or it fails: an error).
     */
    public static final class Consumer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                Verifier verifier = new Verifier(heap, false, 0, Boolean.parseBoolean(args[1]));
                awaitTurn(SharedLong.open(heap, "turn"), Long.parseLong(args[2]));
                System.out.println("READY");
                System.out.flush();
                try {
                    while (true) {
                        if (ring.drain(verifier, 8) == 0) { // batches: a kill may land between their records
                            Thread.onSpinWait();
                        }
                    }
                } catch (RuntimeException e) { // counted in the shared errors: a kill must find it draining
                    verifier.fail("a consumer child failed: " + e);
                    System.exit(1);
                }
            }
        }

        private static void awaitTurn(SharedLong turn, long index) {
            Duration bound = BOUND.multipliedBy(SPARES + 1); // the kill rounds of the children started before it
            long deadline = System.nanoTime() + bound.toNanos();
            while (turn.get() != index) {
                if (System.nanoTime() - deadline > 0) {
                    System.out.println("BAD consumer " + index + " got no turn within " + bound);
                    System.exit(3);
                }
                LockSupport.parkNanos(100_000); // polls: the parent sets the turn once, right before awaiting READY
            }
        }
    }
}
