package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rings shared by real producer JVMs and a consumer in the test JVM. Producer {@code p}'s message {@code k} has a
 * length and bytes that are functions of {@code (p, k)}, so the consumer checks exactly-once delivery, per-producer
 * order and every byte of every length from 0 to the maximum.
 */
class CrossProcessRingTest {
    private static final Duration BOUND = Duration.ofSeconds(90);
    private static final int CAPACITY = 4096;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldDeliverAMillionMessagesFromTwoProducerProcessesExactlyOnce() throws Exception {
        String heapName = names.unique("mpsc");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, CAPACITY);
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

    /**
     * A producer process alive but slow (here: waiting for the test between its claim and its commit) for ten stall
     * timeouts: its claim, whose mark names it, is kept, and its message is delivered once it commits, before the one
     * offered behind it. Skipping it would let its late writes land on space reused since.
     */
    @Test
    void shouldKeepTheClaimOfALiveProducerProcessHoweverSlow() throws Exception {
        String heapName = names.unique("slowproducer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024, Duration.ofMillis(50));
            SharedLong go = SharedLong.create(heap, "go");
            try (ChildJvm slow = ChildJvm.start(SlowProducer.class, heapName)) {
                slow.awaitLine("CLAIMED", BOUND);
                assertThat(ring.offer(2, new byte[] {8}, 0, 1)).isTrue(); // behind the slow claim
                StringBuilder got = new StringBuilder();
                MessageHandler record = (type, buffer, offset, length) -> got.append(type).append(':')
                        .append(buffer.get(JAVA_BYTE, offset)).append(' ');
                assertThat(ring.poll(record, Duration.ofMillis(500), WaitStrategy.BLOCKING)).isZero();
                assertThat(ring.stats().skippedRecords()).isZero();
                go.set(1);
                slow.awaitSuccess(BOUND);
                assertThat(ring.drain(record, 10)).isEqualTo(2);
                assertThat(got).hasToString("1:7 2:8 ");
            }
        }
    }

    /**
     * A producer process killed between its claim and its commit, with a stall timeout of an hour: the claim's mark
     * names the dead process, so the message offered behind it arrives as soon as a consumer looks at that process
     * (every 50 ms of the stall), whether the consumer was waiting at the claim when the producer died, opened the
     * ring after the death and waits, or opens the ring for each poll that does not wait (helper-132: a consumer
     * replaced within the stall timeout, or one opened per poll, used to wait for ever).
     */
    @ParameterizedTest
    @CsvSource({"MPSC,waiting", "MPSC,opened after", "MPSC,opened per poll", "MPMC,waiting", "MPMC,opened after",
            "MPMC,opened per poll", "SPSC,waiting", "SPSC,peeking", "MPSC,peeking", "MPMC,peeking"})
    void shouldSkipTheClaimOfAKilledProducerWithoutWaitingTheStallTimeout(SharedRing.Kind kind, String consumer)
            throws Exception {
        String heapName = names.unique("deadclaim");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024, Duration.ofHours(1));
            SharedLong.create(heap, "go");
            StringBuilder got = new StringBuilder();
            MessageHandler record = (type, buffer, offset, length) -> got.append(type).append(':')
                    .append(buffer.get(JAVA_BYTE, offset)).append(' ');
            boolean spsc = kind == SharedRing.Kind.SPSC; // its producer's role is taken over once the child is dead
            try (ChildJvm dying = ChildJvm.start(SlowProducer.class, heapName)) {
                dying.awaitLine("CLAIMED", BOUND);
                if (!spsc) {
                    assertThat(ring.offer(2, new byte[] {8}, 0, 1)).isTrue(); // behind the claim
                }
                if (consumer.equals("waiting")) {
                    assertThat(ring.poll(record, Duration.ofMillis(200), WaitStrategy.BLOCKING)).isZero();
                }
                dying.kill();
            }
            if (spsc) {
                assertThat(ring.offer(2, new byte[] {8}, 0, 1)).isTrue(); // behind the claim
            }
            if (consumer.equals("peeking")) { // helper-136: an SPSC peek never got past the claim
                StringBuilder peeked = new StringBuilder();
                MessageHandler peek = (type, buffer, offset, length) -> peeked.append(type).append(':')
                        .append(buffer.get(JAVA_BYTE, offset)).append(' ');
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (ring.peek(peek) == 0) {
                    assertThat(System.nanoTime() - deadline).as("long before the stall timeout").isNegative();
                    LockSupport.parkNanos(1_000_000);
                }
                assertThat(peeked).hasToString("2:8 ");
                assertThat(ring.poll(record)).isOne();
            } else if (consumer.equals("opened per poll")) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (SharedRing.open(heap, "ring").poll(record) == 0) {
                    assertThat(System.nanoTime() - deadline).as("long before the stall timeout").isNegative();
                    LockSupport.parkNanos(1_000_000);
                }
            } else {
                SharedRing waiter = consumer.equals("waiting") ? ring : SharedRing.open(heap, "ring");
                assertThat(waiter.poll(record, Duration.ofSeconds(30), WaitStrategy.BLOCKING))
                        .as("the message behind the dead claim, long before the stall timeout").isEqualTo(1);
            }
            assertThat(got).hasToString("2:8 ");
            assertThat(ring.stats().skippedRecords()).isEqualTo(1);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    /**
     * Peeker processes of an MPMC ring SIGKILLed at random moments, often inside their handler, so holding the
     * consumers' turn (for MPSC and SPSC: the consumer's role): a peek takes nothing, so the test JVM, polling after
     * each death, takes every message once and in order, the turn or role taken over from the dead peeker.
     */
    @ParameterizedTest
    @ValueSource(strings = {"MPMC", "MPSC", "SPSC"})
    void shouldLoseNothingWhenPeekersAreKilledHoldingTheTurn(SharedRing.Kind kind) throws Exception {
        String heapName = names.unique("peekkill");
        java.util.Random random = new java.util.Random();
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            int rounds = 6;
            for (int k = 0; k < rounds; k++) {
                assertThat(ring.offer(1, new byte[] {(byte) k}, 0, 1)).isTrue();
            }
            StringBuilder got = new StringBuilder();
            MessageHandler record = (type, buffer, offset, length) -> got.append(buffer.get(JAVA_BYTE, offset))
                    .append(' ');
            StringBuilder expected = new StringBuilder();
            for (int k = 0; k < rounds; k++) {
                org.shm4j.testing.RandomKills.wave(random, 20_000_000, 1, "PEEKING",
                        () -> ChildJvm.start(Peeker.class, heapName));
                assertThat(ring.poll(record, BOUND, WaitStrategy.BLOCKING)).as("message %d after a peeker's death", k)
                        .isOne();
                expected.append(k).append(' ');
                ring.release(); // MPSC, SPSC: the next peeker takes the consumer's role
            }
            assertThat(got).hasToString(expected.toString());
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    /** {@code main(heap)}: peeks at the ring until killed, each handler call spinning up to 2 ms (the turn held). */
    public static final class Peeker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
                MessageHandler slow = (type, buffer, offset, length) -> org.shm4j.testing.RandomKills.spin(
                        random.nextLong(2_000_000));
                long deadline = System.nanoTime() + BOUND.toNanos();
                for (long peeks = 0; System.nanoTime() - deadline < 0; peeks++) {
                    ring.peek(slow);
                    if (peeks == 0) {
                        org.shm4j.testing.RandomKills.say("PEEKING");
                    }
                }
            } catch (Throwable t) {
                org.shm4j.testing.RandomKills.fail(t);
            }
        }
    }

    /**
     * A producer process stopped (SIGSTOP) between its tail CAS and its mark, for ten stall timeouts, with a message
     * of its own behind the claim: the claim is kept, since a stopped process lives (this consumer process claims
     * nothing, so no slot but the producer's names a process that could have made it); once the producer goes on
     * and commits, both messages come, in order. If it is killed instead, the claim is skipped and the message
     * behind it delivered.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void shouldKeepAClaimNeverMarkedWhileItsProducerIsStoppedAndSkipItOnceKilled(boolean killed) throws Exception {
        String heapName = names.unique("unmarked");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024, Duration.ofMillis(50));
            SharedLong go = SharedLong.create(heap, "go");
            StringBuilder got = new StringBuilder();
            MessageHandler record = (type, buffer, offset, length) -> got.append(type).append(':')
                    .append(buffer.get(JAVA_BYTE, offset)).append(' ');
            try (ChildJvm producer = ChildJvm.start(UnmarkedClaimer.class, heapName)) {
                producer.awaitLine("CLAIMED", BOUND);
                producer.stop();
                assertThat(ring.poll(record, BOUND, WaitStrategy.BLOCKING)).isEqualTo(1); // its first message
                assertThat(ring.poll(record, Duration.ofMillis(500), WaitStrategy.BLOCKING)).isZero();
                assertThat(ring.stats().skippedRecords()).isZero();
                if (killed) {
                    producer.kill();
                    assertThat(ring.poll(record, BOUND, WaitStrategy.BLOCKING)).isEqualTo(1);
                    assertThat(got).hasToString("1:1 2:2 ");
                    assertThat(ring.stats().skippedRecords()).isEqualTo(1);
                } else {
                    go.set(1);
                    producer.resume();
                    producer.awaitSuccess(BOUND);
                    assertThat(ring.drain(record, 10)).isEqualTo(2);
                    assertThat(got).hasToString("1:1 3:3 2:2 ");
                    assertThat(ring.stats().skippedRecords()).isZero();
                }
                assertThat(ring.isEmpty()).isTrue();
            }
        }
    }

    @Test
    void shouldKeepExactOrderFromAnSpscProducerProcess() throws Exception {
        String heapName = names.unique("spsc");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, CAPACITY);
            Checker checker = new Checker(ring.maxMessageLength());
            try (ChildJvm producer = ChildJvm.start(Producer.class, heapName, "1", "300000")) {
                consume(ring, checker, 300_000);
                producer.awaitSuccess(BOUND);
            }
            assertThat(checker.next[1]).isEqualTo(300_000);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldDeliverEverythingCommittedWhenProducersAreKilledMidStreamAndMidClaim() throws Exception {
        String heapName = names.unique("killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, CAPACITY);
            ring.setStallTimeout(Duration.ofMillis(200));
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
            drainUntilEmpty(ring, checker);
            assertThat(checker.next[1]).as("producer 1 committed exactly 1000").isEqualTo(1000);
            assertThat(checker.next[2]).as("producer 2: an unbroken prefix").isGreaterThanOrEqualTo(20_000);
            assertThat(ring.isEmpty()).as("the dead claims were skipped").isTrue();
        }
    }

    @Test
    void shouldGiveEachMessageToExactlyOneConsumerProcess() throws Exception {
        String heapName = names.unique("mpmc");
        int perProducer = 100_000;
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 21)) {
            SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, CAPACITY);
            SharedIntArray seen = SharedIntArray.create(heap, "seen", 2L * perProducer);
            SharedLong consumed = SharedLong.create(heap, "consumed");
            String count = Integer.toString(perProducer);
            try (ChildJvm p1 = ChildJvm.start(Producer.class, heapName, "1", count, "indexed");
                 ChildJvm p2 = ChildJvm.start(Producer.class, heapName, "2", count, "indexed");
                 ChildJvm c1 = ChildJvm.start(Consumer.class, heapName, count);
                 ChildJvm c2 = ChildJvm.start(Consumer.class, heapName, count)) {
                for (ChildJvm child : new ChildJvm[] {p1, p2, c1, c2}) {
                    child.awaitSuccess(BOUND);
                }
            }
            assertThat(consumed.get()).isEqualTo(2L * perProducer);
            for (long i = 0; i < seen.length(); i++) {
                if (seen.get(i) != 1) {
                    throw new AssertionError("message " + i + " delivered " + seen.get(i) + " times");
                }
            }
        }
    }

    @Test
    void shouldWakeAConsumerBlockedInAnotherProcessWithoutBurningCpu() throws Exception {
        String heapName = names.unique("wake");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, CAPACITY);
            MemorySegment header = heap.lookup("ring", org.shm4j.sync.internal.SyncLayout.RING).segment();
            try (ChildJvm consumer = ChildJvm.start(BlockedConsumer.class, heapName)) {
                consumer.awaitLine("WAITING", BOUND);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (header.get(java.lang.foreign.ValueLayout.JAVA_INT,
                        org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET) == 0) {
                    assertThat(System.nanoTime()).as("the consumer blocks").isLessThan(deadline);
                    Thread.onSpinWait();
                }
                Thread.sleep(1000); // the measured window: the consumer stays blocked for a second
                assertThat(ring.offer(42, "ping".getBytes(), 0, 4)).isTrue();
                String got = consumer.awaitLine("GOT", BOUND);
                assertThat(got).startsWith("GOT 42 ping ");
                long cpuMillis = Long.parseLong(got.substring("GOT 42 ping ".length()));
                System.out.println("blocked ring consumer used " + cpuMillis + " ms CPU");
                assertThat(cpuMillis).as("CPU ms used while blocked for about 1 s").isLessThan(250);
                consumer.awaitSuccess(BOUND);
            }
        }
    }

    /** Consumes until {@code count} messages arrived; the ring's stall rule skips records of dead producers. */
    private static void consume(SharedRing ring, Checker checker, long count) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (checker.total < count) {
            assertThat(System.nanoTime()).as("messages arrive in time").isLessThan(deadline);
            if (ring.drain(checker, 256) == 0) {
                Thread.onSpinWait();
            }
        }
    }

    /** Drains what is left, the stall rule skipping what dead producers left claimed. */
    private static void drainUntilEmpty(SharedRing ring, Checker checker) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!ring.isEmpty()) {
            assertThat(System.nanoTime()).as("the stall rule unblocks the ring").isLessThan(deadline);
            ring.drain(checker, 256);
        }
    }

    static int lengthOf(int producer, long k, int max) {
        long h = (k + 1) * 0x9E3779B97F4A7C15L ^ producer * 0xC2B2AE3D27D4EB4FL;
        return (int) Long.remainderUnsigned(h ^ (h >>> 29), max + 1);
    }

    static byte byteOf(int producer, long k, int i) {
        return (byte) (producer * 31 + k * 7 + i);
    }

    /** Checks each message against what its producer must have sent (next, or any index for MPMC consumers). */
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

        /** @return the index of the message of producer {@code type} with these bytes (they encode it) */
        long expectAny(int type, MemorySegment buffer, long offset, int length) {
            if (length < 8) {
                throw new AssertionError("message of " + length + " bytes");
            }
            long k = buffer.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, offset);
            if (length != Math.max(8, lengthOf(type, k, max))) {
                throw new AssertionError("producer " + type + " message " + k + ": length " + length);
            }
            return k;
        }
    }

    /** {@code main(heap, perProducer)}: takes messages of an MPMC ring until all of both producers are consumed. */
    public static final class Consumer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                SharedIntArray seen = SharedIntArray.open(heap, "seen");
                SharedLong consumed = SharedLong.open(heap, "consumed");
                int perProducer = Integer.parseInt(args[1]);
                long[] next = new long[3]; // per producer, the last index this consumer saw: order must grow
                Checker checker = new Checker(ring.maxMessageLength());
                MessageHandler handler = (type, buffer, offset, length) -> {
                    long k = checker.expectAny(type, buffer, offset, length);
                    if (k < next[type]) {
                        throw new AssertionError("producer " + type + " message " + k + " after " + next[type]);
                    }
                    next[type] = k;
                    seen.incrementAndGet((type - 1) * (long) perProducer + k);
                    consumed.incrementAndGet();
                };
                while (consumed.get() < 2L * perProducer) {
                    ring.poll(handler, Duration.ofMillis(20), WaitStrategy.BLOCKING);
                }
            }
        }
    }

    /** {@code main(heap)}: blocks on an empty ring and prints the message and the CPU ms its process used. */
    public static final class BlockedConsumer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                System.out.println("WAITING");
                System.out.flush();
                Duration before = ProcessHandle.current().info().totalCpuDuration().orElseThrow();
                StringBuilder got = new StringBuilder();
                int n = ring.poll((type, buffer, offset, length) -> got.append(type).append(' ')
                        .append(new String(buffer.asSlice(offset, length).toArray(JAVA_BYTE))), BOUND,
                        WaitStrategy.BLOCKING);
                long cpu = ProcessHandle.current().info().totalCpuDuration().orElseThrow().minus(before).toMillis();
                System.out.println(n == 1 ? "GOT " + got + " " + cpu : "NOTHING");
            }
        }
    }

    /** Waits (bounded) until the test sets {@code go}, in a child. */
    private static void awaitGo(SharedLong go) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (go.get() == 0) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("never told to go on");
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    /** Claims a message, says CLAIMED, waits (bounded) until the test sets "go", then writes and commits it. */
    public static final class SlowProducer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                SharedLong go = SharedLong.open(heap, "go");
                RingClaim claim = new RingClaim();
                if (!ring.tryClaim(1, 1, claim)) {
                    throw new AssertionError("no room");
                }
                System.out.println("CLAIMED");
                awaitGo(go);
                claim.buffer().set(JAVA_BYTE, claim.offset(), (byte) 7);
                if (!claim.tryCommit()) {
                    throw new AssertionError("skipped although alive");
                }
            }
        }
    }

    /**
     * {@code main(heap)}: offers message 1, then claims 64 bytes as a producer does, by a tail CAS, without marking
     * them (the window in which it was stopped), offers message 2 behind them and waits for go; then writes and
     * commits message 3 in its claim.
     */
    public static final class UnmarkedClaimer {
        private static final VarHandle LONG = JAVA_LONG.varHandle();

        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                SharedLong go = SharedLong.open(heap, "go");
                MemorySegment block = heap.lookup("ring", SyncLayout.RING).segment();
                if (!ring.offer(1, new byte[] {1}, 0, 1)) {
                    throw new AssertionError("no room");
                }
                long tail = (long) LONG.getVolatile(block, SyncLayout.RING_TAIL_OFFSET);
                if (!LONG.compareAndSet(block, SyncLayout.RING_TAIL_OFFSET, tail, tail + 64)) {
                    throw new AssertionError("another producer claimed");
                }
                if (!ring.offer(2, new byte[] {2}, 0, 1)) {
                    throw new AssertionError("no room");
                }
                System.out.println("CLAIMED");
                awaitGo(go);
                long at = SyncLayout.RING_HEADER_SIZE + (tail & (ring.capacity() - 1));
                block.asSlice(at + 8, 56).fill((byte) 3);
                LONG.setRelease(block, at, RingRecords.header(64, 3)); // its commit
            }
        }
    }

    /**
     * {@code main(heap, producerId, count[, "indexed"])}: offers {@code count} messages; {@code 0} = for ever (until
     * killed); {@code -1} = 1000 messages, then a claim it never commits. Indexed messages start with their index
     * (a long) and are at least 8 bytes long.
     */
    public static final class Producer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                int id = Integer.parseInt(args[1]);
                long count = Long.parseLong(args[2]);
                boolean indexed = args.length > 3;
                long limit = count > 0 ? count : count == 0 ? Long.MAX_VALUE : 1000;
                byte[] message = new byte[ring.maxMessageLength()];
                for (long k = 0; k < limit; k++) {
                    int length = lengthOf(id, k, ring.maxMessageLength());
                    for (int i = 0; i < length; i++) {
                        message[i] = byteOf(id, k, i);
                    }
                    if (indexed) {
                        length = Math.max(8, length);
                        MemorySegment.ofArray(message).set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0, k);
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
