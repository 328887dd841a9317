package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.atomic.SharedLong;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SharedRingTest {

    private static final int CAPACITY = 4096;

    /**
     * helper-247: {@code format} with a null kind zeroed the caller's bytes, then threw; a refused format leaves the
     * memory as it was, as a refused capacity or range does.
     */
    @Test
    void shouldRefuseANullKindBeforeFormattingAnything() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(SharedRing.requiredBytes(1024), 64);
            raw.fill((byte) 7);
            assertThatThrownBy(() -> SharedRing.format(raw, 0, null, 1024)).isInstanceOf(NullPointerException.class)
                    .hasMessage("kind");
            assertThat(raw.get(JAVA_BYTE, 0)).as("untouched").isEqualTo((byte) 7);
            assertThat(raw.get(JAVA_BYTE, raw.byteSize() - 1)).isEqualTo((byte) 7);
        }
    }

    /** toString named the ring only once closed: "ring(MPMC, capacity 1024, 0 bytes in use)" (helper-247's note). */
    @Test
    void shouldNameItselfInToStringWhileOpen() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "jobs", SharedRing.Kind.MPMC, CAPACITY);
            assertThat(ring.offer(1, new byte[8], 0, 8)).isTrue();
            assertThat(ring).hasToString("ring 'jobs' (MPMC, capacity " + CAPACITY + ", 16 bytes in use)");
        }
    }

    /**
     * A handler runs in the MPMC consumers' turn: an untimed poll or drain of another consumer gives up on the turn
     * after a bound (the helper-84 sweep found poll() blocked for good behind a turn that never came free).
     */
    @Test
    void shouldNotBlockAnUntimedPollOrDrainForAsLongAsAnotherConsumersHandlerRuns() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, CAPACITY);
            for (long i = 0; i < 3; i++) {
                assertThat(ring.offer(1, MemorySegment.ofArray(new long[] {i}), 0, Long.BYTES)).isTrue();
            }
            CountDownLatch inHandler = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            List<Long> seen = new CopyOnWriteArrayList<>();
            MessageHandler record = (t, b, o, l) -> seen.add(b.get(JAVA_LONG_UNALIGNED, o));
            Thread slow = Thread.ofPlatform().start(() -> ring.poll((t, b, o, l) -> {
                record.onMessage(t, b, o, l);
                inHandler.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS); // the turn is held until then
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            assertThat(inHandler.await(60, TimeUnit.SECONDS)).isTrue();
            assertThat(ring.poll(record)).as("the turn held by a live consumer: nothing for this one").isZero();
            assertThat(ring.drain(record, 10)).isZero();
            release.countDown();
            slow.join(TimeUnit.SECONDS.toMillis(60));
            assertThat(slow.isAlive()).isFalse();
            assertThat(ring.drain(record, 10)).as("the turn free again").isEqualTo(2);
            assertThat(seen).containsExactly(0L, 1L, 2L);
        }
    }

    @Test
    void shouldDeliverMessagesInOrderWithTheirTypes() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, CAPACITY);
            assertThat(ring.maxMessageLength()).isEqualTo(CAPACITY / 8 - 8);
            assertThat(ring.isEmpty()).isTrue();
            assertThat(ring.offer(7, "hello".getBytes(), 0, 5)).isTrue();
            assertThat(ring.offer(8, new byte[0], 0, 0)).isTrue();
            assertThat(ring.size()).isEqualTo(16 + 8);
            List<String> seen = new ArrayList<>();
            assertThat(ring.drain((type, buffer, offset, length) -> seen.add(type + ":"
                    + new String(buffer.asSlice(offset, length).toArray(JAVA_BYTE))), 10)).isEqualTo(2);
            assertThat(seen).containsExactly("7:hello", "8:");
            assertThat(ring.poll((t, b, o, l) -> { })).isZero();
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldWrapAroundWithEveryLengthManyTimes() {
        for (SharedRing.Kind kind : SharedRing.Kind.values()) {
            try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
                SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
                byte[] message = new byte[ring.maxMessageLength()];
                long[] expected = {0};
                long[] received = {0};
                for (int round = 0; round < 40; round++) {
                    for (int length = 0; length <= ring.maxMessageLength(); length++) {
                        for (int i = 0; i < length; i++) {
                            message[i] = (byte) (length + i);
                        }
                        while (!ring.offer(1 + length, message, 0, length)) {
                            ring.drain((type, buffer, offset, len) -> {
                                assertThat(len).isEqualTo(type - 1);
                                for (int i = 0; i < len; i++) {
                                    assertThat(buffer.get(JAVA_BYTE, offset + i)).isEqualTo((byte) (len + i));
                                }
                                received[0]++;
                            }, 3);
                        }
                        expected[0]++;
                    }
                }
                while (ring.poll((t, b, o, l) -> received[0]++) > 0) {
                    assertThat(received[0]).isLessThanOrEqualTo(expected[0]);
                }
                assertThat(received[0]).as(kind.toString()).isEqualTo(expected[0]);
                assertThat(ring.isEmpty()).isTrue();
            }
        }
    }

    /** Offers from a segment at an odd offset: every length around the 8 to 16 bytes copied by 8-byte accesses. */
    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldCopyEveryShortLengthFromAnUnalignedSegment(SharedRing.Kind kind) {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            MemorySegment source = arena.allocate(64);
            for (int i = 0; i < 64; i++) {
                source.set(JAVA_BYTE, i, (byte) (i + 1));
            }
            for (int length = 0; length <= 24; length++) {
                assertThat(ring.offer(1, source, 3, length)).isTrue();
                List<byte[]> seen = new ArrayList<>();
                assertThat(ring.poll((type, buffer, offset, len) -> seen.add(buffer.asSlice(offset, len)
                        .toArray(JAVA_BYTE)))).isOne();
                assertThat(seen).singleElement().as("length " + length)
                        .isEqualTo(source.asSlice(3, length).toArray(JAVA_BYTE));
            }
        }
    }

    @Test
    void shouldWrapAroundWithRecordsLargerThanTheZeroingChunk() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1 << 16);
            int[] lengths = {ring.maxMessageLength(), 4089, 4096, 4097, 5003, 8, 0, 7777, 12};
            byte[] message = new byte[ring.maxMessageLength()];
            int[] next = {0};
            MessageHandler check = (type, buffer, offset, length) -> {
                int sequence = next[0]++;
                assertThat(type).isEqualTo(1 + sequence);
                assertThat(length).isEqualTo(lengths[sequence % lengths.length]);
                for (int i = 0; i < length; i++) {
                    assertThat(buffer.get(JAVA_BYTE, offset + i)).isEqualTo((byte) (sequence + i));
                }
            };
            int messages = 500;
            for (int sequence = 0; sequence < messages; sequence++) {
                int length = lengths[sequence % lengths.length];
                for (int i = 0; i < length; i++) {
                    message[i] = (byte) (sequence + i);
                }
                while (!ring.offer(1 + sequence, message, 0, length)) {
                    assertThat(ring.poll(check)).isOne();
                }
                if (sequence % 3 == 0) { // empty the ring: the last poll reads where the next record will start
                    while (ring.poll(check) > 0) {
                        assertThat(next[0]).isLessThanOrEqualTo(sequence + 1);
                    }
                    assertThat(next[0]).isEqualTo(sequence + 1);
                }
            }
            while (ring.poll(check) > 0) {
                assertThat(next[0]).isLessThanOrEqualTo(messages);
            }
            assertThat(next[0]).isEqualTo(messages);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldFreeAMessageWhoseHandlerThrowsAndHandTheNextOnesOver(SharedRing.Kind kind) {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            byte[] message = new byte[120]; // 128-byte records
            int type = 0;
            while (ring.offer(type + 1, message, 0, message.length)) {
                type++;
            }
            assertThat(type).isGreaterThanOrEqualTo(7); // full (SPSC keeps room for the next header word)
            List<Integer> seen = new ArrayList<>();
            MessageHandler failsAtThree = (t, buffer, offset, length) -> {
                if (t == 3) {
                    throw new IllegalArgumentException("handler failed at " + t);
                }
                seen.add(t);
            };
            assertThat(ring.poll(failsAtThree)).isEqualTo(1);
            assertThatThrownBy(() -> ring.drain(failsAtThree, 3)).hasMessage("handler failed at 3");
            for (int freed = 0; freed < 3; freed++) { // the three records handed over were freed
                assertThat(ring.offer(++type, message, 0, message.length)).isTrue();
            }
            assertThat(ring.offer(type + 1, message, 0, message.length)).isFalse();
            assertThatThrownBy(() -> ring.poll((t, buffer, offset, length) -> {
                throw new IllegalStateException("poll's handler failed at " + t);
            })).hasMessage("poll's handler failed at 4");
            assertThat(ring.drain(failsAtThree, 100)).isEqualTo(type - 4);
            assertThat(seen).hasSize(type - 2).startsWith(1, 2, 5, 6).endsWith(type);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    /**
     * A handler's checked exception thrown sneakily (Kotlin code, say) passes through poll, drain and peek as it was
     * thrown, as a RuntimeException does. Before, an MPMC ring's untimed poll, drain and peek wrapped an
     * {@link InterruptedException} in an {@link AssertionError} (taking it for their turn's acquire, which is not
     * interruptible).
     */
    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldPassAHandlersCheckedExceptionThrownSneakilyThroughAsItIs(SharedRing.Kind kind) {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            for (int type = 1; type <= 3; type++) {
                assertThat(ring.offer(type, new byte[8], 0, 8)).isTrue();
            }
            InterruptedException thrown = new InterruptedException("the handler's");
            MessageHandler interrupted = (type, buffer, offset, length) -> SharedRingTest.sneakyThrow(thrown);
            assertThatThrownBy(() -> ring.peek(interrupted)).isSameAs(thrown);
            assertThatThrownBy(() -> ring.poll(interrupted)).isSameAs(thrown);
            assertThatThrownBy(() -> ring.drain(interrupted, 1)).isSameAs(thrown);
            assertThat(Thread.interrupted()).isFalse();
            List<Integer> types = new ArrayList<>();
            assertThat(ring.poll((type, buffer, offset, length) -> types.add(type))).isOne();
            assertThat(types).as("the two handed to the throwing handler were consumed").containsExactly(3);
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void sneakyThrow(Throwable e) throws E {
        throw (E) e;
    }

    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldGiveUpTheClaimOfAnOfferWhoseSourceFails(SharedRing.Kind kind) {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            MemorySegment small = arena.allocate(8);
            assertThatThrownBy(() -> ring.offer(1, small, 0, 16)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> ring.offer(1, new byte[8], 4, 8)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("ring 'ring': source bytes [4, 12) outside the 8-byte array");
            Arena closed = Arena.ofConfined();
            MemorySegment gone = closed.allocate(8);
            closed.close();
            assertThatThrownBy(() -> ring.offer(2, gone, 0, 8)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
            assertThat(ring.hasMessage()).isFalse();
            assertThat(ring.offer(4, small, 0, 8)).isTrue();
            List<Integer> types = new ArrayList<>();
            assertThat(ring.poll((type, buffer, offset, length) -> types.add(type))).as("no claim left to stall on")
                    .isOne();
            assertThat(types).containsExactly(4);
            assertThat(ring.stats().skippedRecords()).isZero();
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldRefuseWhenFullAndAcceptAgainAfterPolling() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
            byte[] message = new byte[120]; // 128-byte records
            int accepted = 0;
            while (ring.offer(1, message, 0, message.length)) {
                accepted++;
            }
            assertThat(accepted).isEqualTo(8);
            assertThat(ring.poll((t, b, o, l) -> { })).isEqualTo(1);
            assertThat(ring.offer(1, message, 0, message.length)).isTrue();
            assertThat(ring.offer(1, message, 0, message.length)).isFalse();
        }
    }

    @Test
    void shouldCommitAndAbortClaims() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, CAPACITY);
            RingClaim claim = new RingClaim();
            assertThat(ring.tryClaim(3, 8, claim)).isTrue();
            assertThatThrownBy(() -> ring.tryClaim(3, 8, claim)).isInstanceOf(IllegalStateException.class);
            claim.buffer().set(JAVA_LONG_UNALIGNED, claim.offset(), 42L);
            claim.commit();
            assertThatThrownBy(claim::commit).isInstanceOf(IllegalStateException.class);
            assertThat(ring.tryClaim(4, 8, claim)).isTrue();
            claim.abort();
            assertThat(ring.tryClaim(5, 8, claim)).isTrue();
            claim.segment().set(JAVA_LONG_UNALIGNED, 0, 43L);
            claim.commit();
            List<Long> seen = new ArrayList<>();
            ring.drain((type, buffer, offset, length) ->
                    seen.add(type * 1000 + buffer.get(JAVA_LONG_UNALIGNED, offset)), 10);
            assertThat(seen).containsExactly(3042L, 5043L);
        }
    }

    /**
     * helper-267: a claim whose heap was closed under it still said {@code isActive()} after its {@code commit} threw,
     * though it can be neither committed nor aborted, and the same reusable claim was refused by every other ring
     * ("claim is still in progress") for good.
     */
    @Test
    void shouldEndAClaimWhoseHeapIsClosed() {
        RingClaim claim = new RingClaim();
        SharedHeap closed = SharedHeap.anonymous(1 << 16);
        SharedRing gone = SharedRing.create(closed, "gone", SharedRing.Kind.MPSC, CAPACITY);
        assertThat(gone.tryClaim(3, 8, claim)).isTrue();
        closed.close();
        String message = "ring 'gone' cannot be used: the heap or segment it lives in is closed";
        assertThatThrownBy(claim::commit).isInstanceOf(IllegalStateException.class).hasMessage(message);
        assertThat(claim.isActive()).as("after the failed commit").isFalse();
        assertThatThrownBy(claim::abort).isInstanceOf(IllegalStateException.class).hasMessage(message);
        assertThatThrownBy(claim::tryCommit).isInstanceOf(IllegalStateException.class).hasMessage(message);
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, CAPACITY);
            assertThat(ring.tryClaim(4, 8, claim)).as("the claim, reused").isTrue();
            assertThat(claim.isActive()).isTrue();
            claim.segment().set(JAVA_LONG_UNALIGNED, 0, 44L);
            claim.commit();
            assertThat(claim.isActive()).isFalse();
            List<Long> seen = new ArrayList<>();
            ring.drain((type, buffer, offset, length) ->
                    seen.add(type * 1000 + buffer.get(JAVA_LONG_UNALIGNED, offset)), 10);
            assertThat(seen).containsExactly(4044L);
        }
    }

    @Test
    void shouldUnblockAClaimThatIsNeverCommitted() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, CAPACITY);
            RingClaim abandoned = new RingClaim();
            assertThat(ring.unblock()).as("nothing to unblock").isFalse();
            assertThat(ring.tryClaim(1, 30, abandoned)).isTrue(); // its producer "dies" here
            assertThat(ring.offer(2, new byte[3], 0, 3)).isTrue();
            assertThat(ring.poll((t, b, o, l) -> { })).as("stuck behind the claim").isZero();
            assertThat(ring.unblock()).isTrue();
            List<Integer> types = new ArrayList<>();
            ring.drain((type, b, o, l) -> types.add(type), 10);
            assertThat(types).containsExactly(2);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldKeepPerProducerOrderAndLoseNothingWithThreads() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1 << 16);
            int producers = 3;
            int perProducer = 100_000;
            List<Thread> threads = new ArrayList<>();
            for (int p = 1; p <= producers; p++) {
                int id = p;
                threads.add(Thread.ofPlatform().start(() -> {
                    MemorySegment message = MemorySegment.ofArray(new byte[64]);
                    for (long seq = 0; seq < perProducer; seq++) {
                        message.set(JAVA_LONG_UNALIGNED, 0, seq);
                        int length = 8 + (int) (seq % 56);
                        while (!ring.offer(id, message, 0, length)) {
                            Thread.onSpinWait();
                        }
                    }
                }));
            }
            long[] next = new long[producers + 1];
            AtomicLong received = new AtomicLong();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (received.get() < (long) producers * perProducer) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                ring.drain((type, buffer, offset, length) -> {
                    long seq = buffer.get(JAVA_LONG_UNALIGNED, offset);
                    assertThat(seq).isEqualTo(next[type]);
                    assertThat(length).isEqualTo(8 + (int) (seq % 56));
                    next[type]++;
                    received.incrementAndGet();
                }, 100);
            }
            for (Thread thread : threads) {
                thread.join(10_000);
            }
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldBlockAFullOfferUntilSpaceFrees() throws Exception {
        for (WaitStrategy strategy : WaitStrategy.values()) {
            try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
                SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
                byte[] message = new byte[120];
                while (ring.offer(1, message, 0, message.length)) {
                    assertThat(ring.size()).isLessThanOrEqualTo(1024);
                }
                assertThat(ring.offer(1, message, 0, message.length, Duration.ofMillis(20), strategy)).isFalse();
                AtomicBoolean offered = new AtomicBoolean();
                Thread producer = Thread.ofPlatform().start(() -> {
                    try {
                        offered.set(ring.offer(2, message, 0, message.length, Duration.ofSeconds(30), strategy));
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                });
                assertThat(ring.poll((t, b, o, l) -> { })).isEqualTo(1);
                producer.join(30_000);
                assertThat(offered).as(strategy.toString()).isTrue();
            }
        }
    }

    @Test
    void shouldWakeABlockedPollWhenAMessageArrives() throws Exception {
        for (WaitStrategy strategy : WaitStrategy.values()) {
            try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
                SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
                assertThat(ring.poll((t, b, o, l) -> { }, Duration.ofMillis(20), strategy)).isZero();
                AtomicInteger got = new AtomicInteger();
                Thread consumer = Thread.ofPlatform().start(() -> {
                    try {
                        ring.take((type, b, o, l) -> got.set(type), strategy);
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                });
                assertThat(ring.offer(9, new byte[4], 0, 4)).isTrue();
                consumer.join(30_000);
                assertThat(got).as(strategy.toString()).hasValue(9);
            }
        }
    }

    @Test
    void shouldSkipAClaimLeftOpenPastTheStallTimeoutOnlyOnceItsProducerIsDead() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
            ring.setStallTimeout(Duration.ofMillis(100));
            RingClaim open = new RingClaim();
            assertThat(ring.tryClaim(1, 16, open)).isTrue(); // never committed
            assertThat(ring.offer(2, new byte[8], 0, 8)).isTrue();
            AtomicInteger got = new AtomicInteger();
            assertThat(ring.poll((type, b, o, l) -> got.set(type), Duration.ofMillis(400), WaitStrategy.BLOCKING))
                    .as("four stall timeouts: the claim's producer, this process, lives").isZero();
            // what the producer's death leaves: its mark naming a process that no longer exists
            MemorySegment block = heap.lookup("ring", org.shm4j.sync.internal.SyncLayout.RING).segment();
            long at = org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE + open.offset() - 8;
            assertThat(block.get(JAVA_LONG_UNALIGNED, at))
                    .isEqualTo(RingRecords.header(-24, ProducerMarks.THIS_PROCESS));
            block.set(JAVA_LONG_UNALIGNED, at, RingRecords.header(-24, ProducerMarks.id(exitedPid(), 1)));
            assertThat(ring.poll((type, b, o, l) -> got.set(type), Duration.ofSeconds(30), WaitStrategy.BLOCKING))
                    .isEqualTo(1);
            assertThat(got).hasValue(2);
            assertThat(ring.stats().skippedRecords()).isEqualTo(1);
            assertThat(open.tryCommit()).as("skipped").isFalse();
            assertThatThrownBy(() -> ring.setStallTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** @return the pid of a process that has exited and been reaped: no process has it, but by a quick recycling */
    private static long exitedPid() throws Exception {
        Process process = new ProcessBuilder("true").start();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return process.pid();
    }

    @Test
    void shouldNameTheProducerInAClaimMarkAndTellADeadOrRecycledOneFromALiveOne() throws Exception {
        long pid = ProcessHandle.current().pid();
        long stamp = org.shm4j.core.internal.ProcessIdentity.currentStartStamp();
        assertThat(ProducerMarks.THIS_PROCESS & 0x3F_FFFF).isEqualTo((int) pid);
        assertThat(ProducerMarks.mayLive(ProducerMarks.THIS_PROCESS)).isTrue();
        assertThat(ProducerMarks.mayLive(0)).as("names nobody: the stall timeout alone decides").isFalse();
        assertThat(ProducerMarks.mayLive(ProducerMarks.id(exitedPid(), 1))).isFalse();
        assertThat(ProducerMarks.id(1L << 22, 1)).as("a pid above 22 bits is not named").isZero();
        if (stamp != 0) { // this JVM reads start stamps: another stamp's bits name another process of this pid
            long other = (stamp & 0x3FF) == 5 ? 6 : 5;
            assertThat(ProducerMarks.mayLive(ProducerMarks.id(pid, other))).as("this pid, recycled").isFalse();
        }
        assertThat(ProducerMarks.id(pid, 0) >>> 22).as("an unknown stamp: all ones, any stamp").isEqualTo(0x3FF);
        assertThat(ProducerMarks.mayLive(ProducerMarks.id(pid, 0))).isTrue();
        assertThat(ProducerMarks.id(pid, 1024) >>> 22).as("stamp bits 0 are written as all ones").isEqualTo(0x3FF);
    }

    @Test
    void shouldGiveEachMessageToExactlyOneOfManyConsumers() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, 1 << 14);
            int producers = 2;
            int perProducer = 50_000;
            SharedIntArray seen = SharedIntArray.create(heap, "seen", (long) producers * perProducer);
            AtomicLong consumed = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int p = 0; p < producers; p++) {
                int id = p;
                threads.add(Thread.ofPlatform().start(() -> {
                    MemorySegment message = MemorySegment.ofArray(new byte[8]);
                    for (long k = 0; k < perProducer; k++) {
                        message.set(JAVA_LONG_UNALIGNED, 0, id * (long) perProducer + k);
                        while (!ring.offer(1, message, 0, 8)) {
                            Thread.onSpinWait();
                        }
                    }
                }));
            }
            for (int c = 0; c < 3; c++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    while (consumed.get() < (long) producers * perProducer) {
                        try {
                            ring.poll((t, buffer, offset, l) -> {
                                seen.incrementAndGet(buffer.get(JAVA_LONG_UNALIGNED, offset));
                                consumed.incrementAndGet();
                            }, Duration.ofMillis(10), WaitStrategy.BLOCKING);
                        } catch (InterruptedException e) {
                            throw new AssertionError(e);
                        }
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join(60_000);
                assertThat(thread.isAlive()).isFalse();
            }
            for (long i = 0; i < seen.length(); i++) {
                if (seen.get(i) != 1) {
                    throw new AssertionError("message " + i + " delivered " + seen.get(i) + " times");
                }
            }
        }
    }

    @Test
    void shouldLetAnMpmcPollWaitForTheTurnWhileAnotherConsumerHandlesAndReturnZeroOnceEmpty() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, CAPACITY);
            byte[] message = new byte[8];
            assertThat(ring.offer(1, message, 0, 8)).isTrue();
            assertThat(ring.offer(2, message, 0, 8)).isTrue();
            CountDownLatch handling = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger firstType = new AtomicInteger();
            AtomicInteger secondType = new AtomicInteger();
            AtomicInteger secondPolled = new AtomicInteger(-1);
            Thread first = Thread.ofPlatform().start(() -> ring.poll((type, buffer, offset, length) -> {
                firstType.set(type);
                handling.countDown();
                awaitBounded(release); // holds the consumers' turn meanwhile
            }));
            assertThat(handling.await(30, TimeUnit.SECONDS)).isTrue();
            Thread second = Thread.ofPlatform().start(
                    () -> secondPolled.set(ring.poll((type, buffer, offset, length) -> secondType.set(type))));
            second.join(200);
            assertThat(second.isAlive()).as("a poll waits for the turn a handler holds").isTrue();
            release.countDown();
            first.join(30_000);
            second.join(30_000);
            assertThat(first.isAlive() || second.isAlive()).isFalse();
            assertThat(List.of(firstType.get(), secondType.get(), secondPolled.get())).containsExactly(1, 2, 1);
            // after a turn that found a message, the next poll takes the turn without looking: still 0 when empty
            assertThat(ring.poll((type, buffer, offset, length) -> { })).isZero();
            assertThat(ring.poll((type, buffer, offset, length) -> { })).isZero();
            assertThat(ring.offer(3, message, 0, 8)).isTrue();
            assertThat(ring.poll((type, buffer, offset, length) -> secondType.set(type))).isOne();
            assertThat(secondType.get()).isEqualTo(3);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    private static void awaitBounded(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("not released within 30 s");
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void shouldFormatAndWrapARawSegment() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(SharedRing.requiredBytes(1024) + 64, 64);
            raw.fill((byte) 0x55);
            SharedRing ring = SharedRing.format(raw, 64, SharedRing.Kind.MPSC, 1024);
            assertThat(ring.offer(3, new byte[5], 0, 5)).isTrue();
            SharedRing again = SharedRing.wrap(raw, 64);
            assertThat(again.kind()).isEqualTo(SharedRing.Kind.MPSC);
            assertThat(again.poll((type, b, o, l) -> assertThat(type).isEqualTo(3))).isEqualTo(1);
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class);
            assertThatThrownBy(() -> SharedRing.format(raw, 128, SharedRing.Kind.SPSC, 1024))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> SharedRing.format(raw, 4, SharedRing.Kind.SPSC, 1024))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** A handler that polls its own MPMC ring again is told which ring's turn it already holds. */
    @Test
    void shouldNameTheRingWhenAHandlerPollsItsOwnMpmcRing() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "jobs", SharedRing.Kind.MPMC, 1024);
            assertThat(ring.offer(1, new byte[8], 0, 8)).isTrue();
            assertThat(ring.offer(2, new byte[8], 0, 8)).isTrue();
            assertThatThrownBy(() -> ring.poll((type, buffer, offset, length) -> ring.poll((t, b, o, l) -> { })))
                    .isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessage("ring 'jobs' consumers: already held by this thread, and not reentrant");
            assertThat(ring.poll((type, buffer, offset, length) -> assertThat(type).isEqualTo(2))).isEqualTo(1);
        }
    }

    @Test
    void shouldRefuseARawRingWithoutItsMagicOrOfAnotherLayoutVersion() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(SharedRing.requiredBytes(1024), 64);
            SharedRing.format(raw, 0, SharedRing.Kind.MPMC, 1024);
            assertThat(raw.get(JAVA_INT, 12)).as("layout version").isEqualTo(11);
            byte[] magic = raw.asSlice(16, 8).toArray(JAVA_BYTE);
            assertThat(new String(magic, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("SHM4JRNG");
            raw.set(JAVA_INT, 12, 2);
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("ring layout version 2 (expected: 11)");
            raw.set(JAVA_INT, 12, 5); // counted its waiters where version 11 has waiters words
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("ring layout version 5 (expected: 11)");
            raw.set(JAVA_INT, 12, 6); // its publishers never fenced before loading the waiters flag
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("ring layout version 6 (expected: 11)");
            raw.set(JAVA_INT, 12, 7); // declared no message type: a queue over it could be opened with any codec
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("ring layout version 7 (expected: 11)");
            raw.set(JAVA_INT, 12, 8); // had no producer table: its stall rule skipped a stopped producer's claim
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("ring layout version 8 (expected: 11)");
            raw.set(JAVA_INT, 12, 9); // had no role words: two consumer processes at once corrupted it for good
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("ring layout version 9 (expected: 11)");
            raw.set(JAVA_INT, 12, 10); // timed a stall per consumer object: replaced consumers never skipped
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("ring layout version 10 (expected: 11)");
            raw.set(JAVA_INT, 12, 4);
            raw.set(JAVA_LONG_UNALIGNED, 16, 0L);
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("is not a ring: magic=0x0");
        }
    }

    /**
     * A raw format killed after its magic would leave a stall timeout of 0 (the block is zeroed first), with which
     * the stall rule pads live producers' claims: format writes the magic last, and a header whose stall timeout is
     * not positive is refused, by wrap and by a heap open alike.
     */
    @Test
    void shouldRefuseARingHeaderWhoseStallTimeoutIsNotPositive() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(SharedRing.requiredBytes(1024), 64);
            SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
            assertThat(raw.get(JAVA_LONG_UNALIGNED, 24)).as("stall timeout").isEqualTo(5_000_000_000L);
            String what = "ring at 0x" + Long.toHexString(raw.address());
            for (long bad : new long[] {0, -1}) {
                raw.set(JAVA_LONG_UNALIGNED, 24, bad);
                assertThatThrownBy(() -> SharedRing.wrap(raw, 0))
                        .isInstanceOf(org.shm4j.core.ShmFormatException.class)
                        .hasMessage(what + " is corrupted: stallTimeout=" + bad + " (expected: > 0 nanoseconds)");
            }
            raw.set(JAVA_LONG_UNALIGNED, 16, 0L); // a format killed before its last store, the magic
            assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageContaining("is not a ring: magic=0x0");
        }
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing.create(heap, "timed", SharedRing.Kind.MPMC, 1024, Duration.ofMillis(300));
            MemorySegment block = heap.lookup("timed", org.shm4j.sync.internal.SyncLayout.RING).segment();
            assertThat(block.get(JAVA_LONG_UNALIGNED, 24)).isEqualTo(300_000_000L);
            block.set(JAVA_LONG_UNALIGNED, 24, 0L);
            assertThatThrownBy(() -> SharedRing.open(heap, "timed"))
                    .isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessage("ring 'timed' is corrupted: stallTimeout=0 (expected: > 0 nanoseconds)");
        }
    }

    @Test
    void shouldKeepTheMessageTypeItsCreatorDeclaredAndCheckItOnOpenOrCreate() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing typed = SharedRing.create(heap, "typed", SharedRing.Kind.MPMC, 1024, 0x4000_0007);
            SharedRing plain = SharedRing.create(heap, "plain", SharedRing.Kind.MPMC, 1024);
            assertThat(typed.messageType()).hasValue(0x4000_0007);
            assertThat(plain.messageType()).isEmpty();
            assertThat(SharedRing.open(heap, "typed").messageType()).hasValue(0x4000_0007);
            MemorySegment block = heap.lookup("typed", org.shm4j.sync.internal.SyncLayout.RING).segment();
            assertThat(block.get(JAVA_LONG_UNALIGNED, 48)).as("bit 32 and the type").isEqualTo(0x1_4000_0007L);
            assertThat(SharedRing.openOrCreate(heap, "typed", SharedRing.Kind.MPMC, 1024, 0x4000_0007)
                    .messageType()).hasValue(0x4000_0007);
            assertThat(SharedRing.openOrCreate(heap, "plain", SharedRing.Kind.MPMC, 1024, 5).messageType())
                    .as("a ring that declares none is taken as it is").isEmpty();
            assertThatThrownBy(() -> SharedRing.openOrCreate(heap, "new", SharedRing.Kind.SPSC, 1024, 0))
                    .as("no message can have type 0").isInstanceOf(IllegalArgumentException.class);
            assertThat(heap.find("new")).isEmpty();
            assertThatThrownBy(() -> SharedRing.openOrCreate(heap, "typed", SharedRing.Kind.MPMC, 1024, 7))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("ring 'typed' declares message type 0x40000007 (asked: 0x00000007)");
            block.set(JAVA_LONG_UNALIGNED, 48, 0x3_0000_0007L);
            assertThatThrownBy(() -> SharedRing.open(heap, "typed"))
                    .isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessage("ring 'typed' is corrupted: messageType=0x300000007 (expected: 0, or 0x1 in bits "
                            + "63..32 and the declared type below)");
        }
    }

    @Test
    void shouldWriteRecordsAsTheLayoutSays() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(SharedRing.requiredBytes(1024), 64);
            SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
            long data = 1024; // the header's size
            RingClaim claim = new RingClaim();
            assertThat(ring.tryClaim(9, 5, claim)).isTrue();
            assertThat(raw.get(JAVA_INT, data)).as("claimed: -aligned length").isEqualTo(-16);
            assertThat(raw.get(JAVA_INT, data + 4)).as("claimed: the producer's id")
                    .isEqualTo(ProducerMarks.THIS_PROCESS);
            claim.buffer().set(JAVA_BYTE, claim.offset(), (byte) 42);
            claim.commit();
            assertThat(raw.get(JAVA_INT, data)).as("committed: header + payload").isEqualTo(8 + 5);
            assertThat(raw.get(JAVA_INT, data + 4)).as("committed: type").isEqualTo(9);
            assertThat(raw.get(JAVA_BYTE, data + 8)).isEqualTo((byte) 42);
            assertThat(raw.get(JAVA_LONG_UNALIGNED, data + 16)).as("claimed: the next header, zeroed by the producer")
                    .isZero();
            assertThat(ring.poll((type, b, o, l) -> { })).isEqualTo(1);
            assertThat(raw.get(JAVA_INT, data)).as("SPSC consumed: left as it was").isEqualTo(8 + 5);
            assertThat(ring.size()).isZero();
        }
    }

    @Test
    void shouldDeliverEveryLengthExactlyOverManyLapsOfAnSpscRingThatLeavesFreedBytesDirty() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(SharedRing.requiredBytes(1024), 64);
            SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
            byte[] message = new byte[ring.maxMessageLength()];
            int[] seen = new int[1];
            int sent = 0;
            for (int round = 0; round < 2000; round++) {
                int batch = 1 + round % 5;
                for (int i = 0; i < batch; i++) {
                    int length = (sent * 37) % (message.length + 1);
                    java.util.Arrays.fill(message, 0, length, (byte) (sent | 1));
                    assertThat(ring.offer(1 + sent % 3, message, 0, length)).as("offer %d", sent).isTrue();
                    sent++;
                }
                while (ring.poll((type, buffer, offset, length) -> {
                    int n = seen[0]++;
                    assertThat(length).as("length of %d", n).isEqualTo((n * 37) % (message.length + 1));
                    assertThat(type).as("type of %d", n).isEqualTo(1 + n % 3);
                    for (int b = 0; b < length; b++) {
                        assertThat(buffer.get(JAVA_BYTE, offset + b)).isEqualTo((byte) (n | 1));
                    }
                }) > 0) {
                    assertThat(seen[0]).isLessThanOrEqualTo(sent);
                }
            }
            assertThat(seen[0]).isEqualTo(sent);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldZeroConsumedRecordsOfAManyProducerRing() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(SharedRing.requiredBytes(1024), 64);
            SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
            long data = 1024; // the header's size
            assertThat(ring.offer(9, new byte[] {1, 2, 3, 4, 5}, 0, 5)).isTrue();
            assertThat(raw.get(JAVA_INT, data)).as("committed: header + payload").isEqualTo(8 + 5);
            assertThat(ring.poll((type, b, o, l) -> { })).isEqualTo(1);
            assertThat(raw.asSlice(data, 16).toArray(JAVA_BYTE)).as("consumed: zeroed").containsOnly(0);
        }
    }

    @Test
    void shouldRejectBadInput() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            assertThatThrownBy(() -> SharedRing.create(heap, "x", SharedRing.Kind.SPSC, 1000))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ring 'x': capacity=1000 (expected: a power of 2 from 1024 to 1073741824)");

            assertThatThrownBy(() -> SharedRing.create(heap, "y", SharedRing.Kind.SPSC, 512))
                    .isInstanceOf(IllegalArgumentException.class);
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
            byte[] big = new byte[ring.maxMessageLength() + 1];
            assertThatThrownBy(() -> ring.offer(1, big, 0, big.length)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ring 'ring': message length=" + big.length + " (expected: 0.."
                            + ring.maxMessageLength() + ", capacity 1024 / 8 - 8; a capacity of 2048 takes it)");
            assertThatThrownBy(() -> ring.offer(1, big, 0, -1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("message length=-1"); // the length first, as the Javadoc says
            assertThatThrownBy(() -> ring.offer(1, MemorySegment.ofArray(big), 0, -1))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> ring.offer(0, big, 0, 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageEndingWith(": message type=0 (expected: >= 1)");
            assertThatThrownBy(() -> SharedRing.openOrCreate(heap, "ring", SharedRing.Kind.MPSC, 1024))
                    .isInstanceOf(ShmTypeMismatchException.class);
            assertThatThrownBy(() -> SharedRing.openOrCreate(heap, "ring", SharedRing.Kind.SPSC, 2048))
                    .isInstanceOf(ShmTypeMismatchException.class);
            assertThatThrownBy(() -> SharedRing.open(heap, "nope"))
                    .isInstanceOf(org.shm4j.core.ShmNotFoundException.class);
            SharedLong.create(heap, "long");
            assertThatThrownBy(() -> SharedRing.open(heap, "long")).isInstanceOf(ShmTypeMismatchException.class);
        }
        SharedHeap closed = SharedHeap.anonymous(1 << 16);
        SharedRing ring = SharedRing.create(closed, "ring", SharedRing.Kind.SPSC, 1024);
        closed.close();
        assertThatThrownBy(() -> ring.offer(1, new byte[1], 0, 1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> ring.poll((t, b, o, l) -> { })).isInstanceOf(IllegalStateException.class);
    }

    /**
     * {@link SharedRing#open(org.shm4j.core.HeapBlock)} (the tool's, past a damaged catalog entry) names the ring when
     * its heap is closed, as every other way to reach a ring does: it threw a bare 'Already closed'.
     */
    @Test
    void shouldNameTheRingOfABlockWhoseHeapIsClosed() {
        org.shm4j.core.HeapBlock block;
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
            block = heap.blocks().getFirst();
            assertThat(SharedRing.open(block).capacity()).isEqualTo(1024);
        }
        assertThatThrownBy(() -> SharedRing.open(block)).isInstanceOf(IllegalStateException.class)
                .hasMessage("ring 'ring' cannot be used: its heap is closed");
        assertThatThrownBy(() -> SharedRing.open((org.shm4j.core.HeapBlock) null))
                .isInstanceOf(NullPointerException.class).hasMessage("block");
    }
}
