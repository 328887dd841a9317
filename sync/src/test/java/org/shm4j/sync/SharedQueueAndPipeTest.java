package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

class SharedQueueAndPipeTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * A pipe's decode that closes its own view of the heap, then throws: the ring cannot move past the message
     * through the closed view, and its failure ("heap closed") is thrown with what the decode threw kept as
     * suppressed (an Error or a sneaky checked exception as it is, a RuntimeException as the pipe's refusal to decode,
     * naming it as its cause), as SharedQueue's poll and peek keep it. Before, the pipe dropped it.
     */
    @ParameterizedTest(name = "a decode throwing {0}")
    @ValueSource(strings = {"Error", "RuntimeException", "checked"})
    void shouldKeepWhatTheDecodeThrewWhenAPipeReceiveMeetsTheViewItClosed(String thrown) throws Exception {
        String heapName = names.unique("pipe-closed-in-recv");
        try (SharedHeap kept = SharedHeap.create(heapName, 1 << 20)) {
            SharedPipe.create(kept, "p", 1024).first().send(7L, Codec.longs(), Duration.ofSeconds(1));
            SharedHeap closing = SharedHeap.open(heapName);
            Throwable decodes = ClosingDecode.thrown(thrown);
            SharedPipe.End end = SharedPipe.open(closing, "p").second();
            ClosingDecode.assertKept(catchThrowable(() -> end.recv(ClosingDecode.closingThenThrowing(closing, decodes),
                    Duration.ofSeconds(1))), decodes);
        }
    }

    @Test
    void shouldQueueLongsStringsAndBytes() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<Long> longs = SharedQueue.create(heap, "longs", 1024, Codec.longs());
            assertThat(longs.poll()).isNull();
            assertThat(longs.offer(5L)).isTrue();
            longs.put(6L);
            assertThat(longs.poll()).isEqualTo(5L);
            assertThat(longs.take()).isEqualTo(6L);
            assertThat(longs.poll(10, TimeUnit.MILLISECONDS)).isNull();
            SharedQueue<String> strings = SharedQueue.create(heap, "strings", 1024, Codec.utf8());
            for (String s : new String[] {"", "plain", "zähler", "計数", "emoji \uD83D\uDE00"}) {
                assertThat(strings.offer(s)).isTrue();
                assertThat(strings.poll()).isEqualTo(s);
            }
            SharedQueue<byte[]> bytes = SharedQueue.create(heap, "bytes", 1024, Codec.bytes());
            assertThat(bytes.offer(new byte[] {1, 2, 3}, 1, TimeUnit.SECONDS)).isTrue();
            assertThat(bytes.poll()).containsExactly(1, 2, 3);
            assertThat(bytes.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldRefuseBadValuesAndWrongCodecs() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<byte[]> bytes = SharedQueue.create(heap, "q", 1024, Codec.bytes());
            assertThatThrownBy(() -> bytes.offer(new byte[200])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("length=200");
            assertThatThrownBy(() -> bytes.offer(null)).isInstanceOf(NullPointerException.class)
                    .hasMessageStartingWith("queue 'q': a null value (a SharedQueue, as a BlockingQueue, holds none;")
                    .hasMessageContaining("None as a stop sentinel");
            byte[] filler = new byte[100];
            int accepted = 0;
            while (bytes.offer(filler)) {
                accepted++;
            }
            assertThat(accepted).isEqualTo(9); // 112-byte records in 1024 bytes
            assertThatThrownBy(() -> SharedQueue.open(heap, "q", Codec.longs()))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageContaining("messages of type 0x00000003, but its codec reads type 0x00000001");
            SharedRing.create(heap, "spsc", SharedRing.Kind.SPSC, 1024);
            assertThatThrownBy(() -> SharedQueue.open(heap, "spsc", Codec.longs()))
                    .isInstanceOf(ShmTypeMismatchException.class);
        }
    }

    @Test
    void shouldThrowInsteadOfReportingAValueQueuedWhoseClaimAConsumerSkipped() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            CountDownLatch encoding = new CountDownLatch(1);
            CountDownLatch resume = new CountDownLatch(1);
            Codec<Long> slow = new Codec<>() {
                @Override
                public int typeId() {
                    return Codec.longs().typeId();
                }

                @Override
                public int encodedLength(Long value) {
                    return Long.BYTES;
                }

                @Override
                public void encode(Long value, MemorySegment target, long offset) {
                    encoding.countDown();
                    try {
                        assertThat(resume.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                    Codec.longs().encode(value, target, offset);
                }

                @Override
                public Long decode(MemorySegment source, long offset, int length) {
                    return Codec.longs().decode(source, offset, length);
                }
            };
            SharedQueue<Long> queue = SharedQueue.create(heap, "slow", 1024, Codec.longs());
            SharedQueue<Long> slowProducer = SharedQueue.open(heap, "slow", slow);
            ExecutorService producer = Executors.newSingleThreadExecutor();
            try {
                Future<Boolean> offered = producer.submit(() -> slowProducer.offer(1L));
                assertThat(encoding.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(queue.ring().unblock()).as("skips the claim, whoever made it").isTrue();
                resume.countDown();
                assertThatThrownBy(() -> offered.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .cause().isInstanceOf(IllegalStateException.class)
                        .hasMessage("queue 'slow': the value was not queued: a consumer skipped its claim while it "
                                + "was being encoded (unblock(), or the stall rule, stall timeout PT5S, taking this "
                                + "process for dead)");
            } finally {
                producer.shutdownNow();
                assertThat(producer.awaitTermination(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            }
            assertThat(queue.poll()).as("the skipped value is not delivered").isNull();
            assertThat(queue.stats().skippedRecords()).isEqualTo(1);
            assertThat(queue.offer(2L)).isTrue();
            assertThat(queue.poll()).isEqualTo(2L);
        }
    }

    @Test
    void shouldNotWaitForANegativeTimeoutHoweverLarge() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<Long> empty = SharedQueue.create(heap, "empty", 1024, Codec.longs());
            SharedQueue<Long> full = SharedQueue.create(heap, "full", 1024, Codec.longs());
            while (full.offer(1L)) {
                assertThat(full.size()).isLessThan(1024);
            }
            SharedPipe.End end = SharedPipe.create(heap, "pipe", 1024).second();
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
            // TimeUnit.toNanos saturates such timeouts to Long.MIN_VALUE: a deadline computed from it would wrap round
            assertTimeoutPreemptively(BOUND, () -> {
                assertThat(empty.poll(Long.MIN_VALUE, TimeUnit.SECONDS)).isNull();
                assertThat(empty.poll(-Long.MAX_VALUE, TimeUnit.DAYS)).isNull();
                assertThat(full.offer(2L, Long.MIN_VALUE, TimeUnit.NANOSECONDS)).isFalse();
                assertThat(end.recv(Duration.ofNanos(Long.MIN_VALUE))).isNull();
                assertThat(ring.poll((type, buffer, offset, length) -> { }, Duration.ofNanos(Long.MIN_VALUE),
                        WaitStrategy.BLOCKING)).isZero();
            });
        }
    }

    @Test
    void shouldThrowToAnInterruptedThreadEvenWhenAValueOrRoomIsThere() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, Codec.longs());
            queue.offer(1L);
            List<ThrowingCall> waits = List.of(() -> queue.take(), () -> queue.poll(1, TimeUnit.SECONDS),
                    () -> queue.put(2L), () -> queue.offer(2L, 1, TimeUnit.SECONDS));
            for (ThrowingCall wait : waits) { // as LinkedBlockingQueue's: they check the interrupt first
                Thread.currentThread().interrupt();
                assertThatThrownBy(wait::call).isInstanceOf(InterruptedException.class);
                assertThat(Thread.interrupted()).as("status cleared").isFalse();
            }
            Thread.currentThread().interrupt();
            assertThat(queue.poll()).as("the non-waiting poll ignores it").isEqualTo(1L);
            assertThat(queue.offer(3L)).isTrue();
            assertThat(Thread.interrupted()).as("and keeps it").isTrue();
            assertThat(queue.take()).isEqualTo(3L);
        }
    }

    /** A queue call that may throw {@link InterruptedException}. */
    private interface ThrowingCall {
        void call() throws InterruptedException;
    }

    @Test
    void shouldCountOnlyCommittedValuesAsQueued() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, Codec.longs());
            RingClaim claim = new RingClaim();
            assertThat(queue.ring().tryClaim(1, 8, claim)).isTrue(); // a producer between claim and commit
            assertThat(queue.isEmpty()).isTrue();
            assertThat(queue.size()).isZero();
            claim.abort();
            assertThat(queue.isEmpty()).as("an aborted claim is no value").isTrue();
            assertThat(queue.ring().isEmpty()).as("its bytes are not freed until a poll passes them").isFalse();
            queue.put(7L);
            assertThat(queue.isEmpty()).isFalse();
            assertThat(queue.size()).isOne();
            assertThat(queue.poll()).isEqualTo(7L);
            assertThat(queue.isEmpty()).isTrue();

            SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
            SharedRing firstToSecond = SharedRing.open(heap, "p.ab", SharedRing.Kind.SPSC);
            assertThat(firstToSecond.tryClaim(1, 8, claim)).isTrue(); // what first's send does before it commits
            assertThat(pipe.second().poll()).as("a message still being sent is not waiting").isFalse();
            claim.abort();
            assertThat(pipe.second().poll()).isFalse();
            assertThat(pipe.first().send(new byte[] {1, 2}, Duration.ZERO)).isTrue();
            assertThat(pipe.second().poll()).isTrue();
            assertThat(pipe.second().recv(Duration.ZERO)).containsExactly(1, 2);
        }
    }

    @Test
    void shouldLeaveNothingBehindWhenRefusedAndRefuseMessagesOfAnotherLength() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            assertThatThrownBy(() -> SharedQueue.create(heap, "q", 1024, null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("codec");
            assertThatThrownBy(() -> SharedQueue.openOrCreate(heap, "q", 1024, null))
                    .isInstanceOf(NullPointerException.class);
            Codec<Long> typeZero = PipeCodecTest.longsOfType(0); // helper-148: the ring under it was named
            assertThatThrownBy(() -> SharedQueue.create(heap, "q", 1024, typeZero))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue 'q': its codec's typeId() is 0 (expected: >= 1)");
            assertThatThrownBy(() -> SharedQueue.openOrCreate(heap, "q", 1024, typeZero))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue 'q': its codec's typeId() is 0 (expected: >= 1)");
            assertThat(heap.find("q")).as("no ring made for a refused queue").isEmpty();
            SharedQueue<Long> longs = SharedQueue.create(heap, "q", 1024, Codec.longs());
            byte[] half = {1, 2, 3, 4};
            assertThat(longs.ring().offer(1, half, 0, half.length)).isTrue(); // type 1, written by other code
            assertThatThrownBy(longs::poll).isInstanceOf(ShmFormatException.class)
                    .hasMessage("queue 'q': its codec (type 0x00000001) cannot decode a message of 4 bytes (corrupted"
                            + " bytes, written by a codec of another shape with the same type id, or refused by the"
                            + " codec: see the cause); the message is consumed: java.lang.IllegalStateException:"
                            + " Codec.longs(): a message of 4 bytes (expected: 8)")
                    .hasCauseInstanceOf(IllegalStateException.class);
            assertThat(longs.ring().offer(1, half, 0, 0)).isTrue();
            assertThatThrownBy(longs::poll).isInstanceOf(ShmFormatException.class)
                    .hasMessageEndingWith("Codec.longs(): a message of 0 bytes (expected: 8)");
            assertThat(longs.offer(9L)).isTrue();
            assertThat(longs.poll()).as("a refused message is consumed; the next one comes through").isEqualTo(9L);
        }
    }

    @Test
    void shouldTakeExactlyWhatTwoProducerProcessesPut() throws Exception {
        String heapName = names.unique("queue");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "queue", 4096, Codec.longs());
            Set<Long> seen = new HashSet<>();
            try (ChildJvm one = ChildJvm.start(QueueProducer.class, heapName, "1", "50000");
                 ChildJvm two = ChildJvm.start(QueueProducer.class, heapName, "2", "50000")) {
                for (int i = 0; i < 100_000; i++) {
                    Long value = queue.poll(BOUND.toSeconds(), TimeUnit.SECONDS);
                    assertThat(value).isNotNull();
                    assertThat(seen.add(value)).as("duplicate %d", value).isTrue();
                }
                one.awaitSuccess(BOUND);
                two.awaitSuccess(BOUND);
            }
            assertThat(seen).hasSize(100_000);
            assertThat(queue.poll()).isNull();
        }
    }

    @Test
    void shouldRoundTripThroughAPipeToAnotherProcess() throws Exception {
        String heapName = names.unique("pipe");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 18)) {
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 14);
            try (ChildJvm echo = ChildJvm.start(Echo.class, heapName, "1000")) {
                for (int i = 0; i < 1000; i++) {
                    byte[] message = ("message " + i).getBytes();
                    assertThat(pipe.first().send(message, BOUND)).isTrue();
                    assertThat(pipe.first().recv(BOUND)).isEqualTo(("echo " + i).getBytes());
                }
                echo.awaitSuccess(BOUND);
            }
            assertThatThrownBy(() -> pipe.first().recv(BOUND)).as("nothing more: the echo exited")
                    .isInstanceOf(PipeClosedException.class);
            assertThat(pipe.second().poll()).isFalse();
            assertThatThrownBy(() -> pipe.first().send(new byte[pipe.first().maxMessageLength() + 1], BOUND))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    /** {@code main(heap, id, count)}: puts {@code id * 1e9 + k} for k below count. */
    public static final class QueueProducer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedQueue<Long> queue = SharedQueue.open(heap, "queue", Codec.longs());
                long base = Long.parseLong(args[1]) * 1_000_000_000L;
                for (long k = 0; k < Long.parseLong(args[2]); k++) {
                    queue.put(base + k);
                }
            }
        }
    }

    /** {@code main(heap, count)}: answers each message on the pipe's second end with its echo. */
    public static final class Echo {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedPipe.End end = SharedPipe.open(heap, "pipe").second();
                for (int i = 0; i < Integer.parseInt(args[1]); i++) {
                    byte[] got = end.recv(BOUND);
                    String text = new String(got);
                    if (!text.equals("message " + i) || !end.send(("echo " + i).getBytes(), BOUND)) {
                        throw new IllegalStateException("unexpected " + text);
                    }
                }
            }
        }
    }
}
