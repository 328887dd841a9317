package org.shm4j.sync;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * {@link SharedQueue} as a {@link BlockingQueue} (helper-133: it was none, and had no peek, drainTo or
 * remainingCapacity); and {@link SharedRing#peek} under it, which hands the next message over without taking it.
 */
class SharedQueueAsBlockingQueueTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldBehaveAsABlockingQueueButForIteration() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            BlockingQueue<Long> queue = SharedQueue.create(heap, "q", 1024, Codec.longs()); // 64 longs of 16 bytes
            assertThat(queue.peek()).isNull();
            assertThatThrownBy(queue::element).isInstanceOf(NoSuchElementException.class);
            assertThat(queue.remainingCapacity()).as("an upper bound: 8 bytes each").isEqualTo(128);
            assertThat(queue.add(1L)).isTrue();
            queue.put(2L);
            assertThat(queue.offer(3L, 1, TimeUnit.MILLISECONDS)).isTrue();
            for (long v = 4; v <= 64; v++) {
                assertThat(queue.offer(v)).isTrue();
            }
            assertThat(queue.remainingCapacity()).isZero();
            assertThatThrownBy(() -> queue.add(65L)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("queue 'q' is full: no room for the value in its ring of 1024 bytes (64 values, 1024 "
                            + "bytes in use)");
            assertThat(queue.peek()).isEqualTo(1L);
            assertThat(queue.peek()).as("a peek takes nothing").isEqualTo(1L);
            assertThat(queue.element()).isEqualTo(1L);
            assertThat(queue.size()).isEqualTo(64);
            assertThat(queue.remove()).isEqualTo(1L);
            List<Long> drained = new ArrayList<>();
            assertThat(queue.drainTo(drained, 2)).isEqualTo(2);
            assertThat(drained).containsExactly(2L, 3L);
            assertThatThrownBy(() -> queue.drainTo(queue)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue 'q': drainTo(itself)");
            assertThat(queue.drainTo(drained)).isEqualTo(61);
            assertThat(drained).hasSize(63).startsWith(2L, 3L, 4L).endsWith(64L);
            assertThat(queue.isEmpty()).isTrue();
            assertThatThrownBy(queue::remove).isInstanceOf(NoSuchElementException.class);

            queue.addAll(List.of(7L, 8L));
            assertThatThrownBy(queue::iterator).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageStartingWith("queue 'q' cannot be iterated");
            assertThatThrownBy(() -> queue.contains(7L)).isInstanceOf(UnsupportedOperationException.class);
            assertThat(queue).hasToString("queue 'q' on " + ((SharedQueue<Long>) queue).ring());
            queue.clear();
            assertThat(queue.poll()).isNull();
            assertThat(queue.remainingCapacity()).isEqualTo(128);
        }
    }

    /**
     * helper-247: a null value or time unit is refused before the interrupt status is looked at, as
     * ArrayBlockingQueue and LinkedBlockingQueue refuse it; an interrupted thread's {@code put(null)},
     * {@code offer(null, timeout)}, {@code offer(value, 1, null)} and {@code poll(1, null)} threw InterruptedException
     * instead, clearing the status.
     */
    @Test
    void shouldRefuseANullValueOrUnitBeforeLookingAtTheInterruptStatus() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            List<BlockingQueue<Long>> queues = List.of(new ArrayBlockingQueue<>(1),
                    SharedQueue.create(heap, "q", 1024, Codec.longs()),
                    SharedJoinableQueue.create(heap, "j", 1024, Codec.longs()));
            for (BlockingQueue<Long> queue : queues) {
                for (ThrowingCallable call : List.<ThrowingCallable>of(() -> queue.put(null),
                        () -> queue.offer(null, 1, TimeUnit.SECONDS), () -> queue.offer(1L, 1, null),
                        () -> queue.poll(1, null))) {
                    Thread.currentThread().interrupt();
                    try {
                        assertThatThrownBy(call).as("%s", queue).isInstanceOf(NullPointerException.class);
                        assertThat(Thread.currentThread().isInterrupted()).as("status kept").isTrue();
                    } finally {
                        Thread.interrupted();
                    }
                }
            }
        }
    }

    /** Peek and poll over messages of every length, wrapping the ring many times: each peek shows what poll takes. */
    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldPeekAtWhatThePollThenTakesAcrossWraps(SharedRing.Kind kind) {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            Random random = new Random(kind.ordinal());
            StringBuilder peeked = new StringBuilder();
            StringBuilder polled = new StringBuilder();
            MessageHandler peek = (type, buffer, offset, length) -> peeked.append(describe(type, buffer, offset,
                    length));
            MessageHandler poll = (type, buffer, offset, length) -> polled.append(describe(type, buffer, offset,
                    length));
            int queued = 0;
            for (int i = 0; i < 20_000; i++) {
                if (queued < 3 && random.nextBoolean()) {
                    int length = random.nextInt(ring.maxMessageLength() + 1);
                    byte[] message = new byte[length];
                    java.util.Arrays.fill(message, (byte) i);
                    if (ring.offer(1 + i % 7, message, 0, length)) {
                        queued++;
                    }
                } else {
                    int before = peeked.length();
                    int seen = ring.peek(peek);
                    assertThat(seen).isEqualTo(queued > 0 ? 1 : 0);
                    assertThat(ring.poll(poll)).isEqualTo(seen);
                    queued -= seen;
                    assertThat(polled.substring(before)).isEqualTo(peeked.substring(before));
                }
            }
            assertThat(polled.toString()).isEqualTo(peeked.toString());
        }
    }

    /**
     * helper-136: drainTo polled until the queue was empty, so a target over the same ring (another queue object)
     * kept it going for ever. It moves at most what was queued when it started.
     */
    @Test
    void shouldDrainAtMostWhatWasQueuedAtTheStart() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, Codec.longs());
            SharedQueue<Long> sameRing = SharedQueue.open(heap, "q", Codec.longs());
            queue.addAll(List.of(1L, 2L, 3L, 4L, 5L));
            assertThat(queue.drainTo(sameRing)).isEqualTo(5);
            assertThat(queue.drainTo(sameRing, 2)).isEqualTo(2);
            assertThat(queue.size()).isEqualTo(5);
            List<Long> all = new ArrayList<>();
            assertThat(queue.drainTo(all)).isEqualTo(5);
            assertThat(all).containsExactly(3L, 4L, 5L, 1L, 2L);
        }
    }

    /** A value its codec cannot decode: a peek throws and leaves it; the next poll throws too and takes it. */
    @Test
    void shouldLeaveAValueItsCodecCannotDecodeQueuedOnPeek() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "bad", SharedRing.Kind.MPMC, 1024);
            assertThat(ring.offer(Codec.longs().typeId(), new byte[3], 0, 3)).isTrue(); // 3 bytes: not a long
            SharedQueue<Long> queue = SharedQueue.open(heap, "bad", Codec.longs());
            assertThatThrownBy(queue::peek).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("the message stays queued");
            assertThatThrownBy(queue::poll).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("the message is consumed");
            assertThat(queue.peek()).isNull();
        }
    }

    /**
     * A decode that closes its own view of the heap and then throws, in a peek or a poll: the consumers' turn cannot
     * be given back through the closed view, so the call throws the queue's "heap closed", with what the decode threw
     * kept as suppressed: an Error or a checked exception (thrown sneakily) as it is, a RuntimeException as the
     * queue's refusal to decode, naming it as its cause; the value stays queued for a view kept open. Before, the peek
     * dropped all three, and both dropped the RuntimeException's refusal (held by the receiver, not thrown).
     */
    @ParameterizedTest(name = "{0} of a decode throwing {1}")
    @CsvSource({"peek, Error", "peek, RuntimeException", "peek, checked", "poll, Error", "poll, RuntimeException",
            "poll, checked"})
    void shouldKeepWhatEveryDecodeThrowsWhenAReceiveMeetsTheViewItClosed(String receive, String thrown) {
        String heapName = names.unique("closed-in-" + receive);
        try (SharedHeap kept = SharedHeap.create(heapName, 1 << 20)) {
            SharedQueue<Long> queue = SharedQueue.create(kept, "q", 1024, Codec.longs());
            queue.add(7L);
            SharedHeap closing = SharedHeap.open(heapName);
            Throwable decodes = ClosingDecode.thrown(thrown);
            SharedQueue<Long> closingQueue = SharedQueue.open(closing, "q",
                    ClosingDecode.closingThenThrowing(closing, decodes));
            ClosingDecode.assertKept(catchThrowable(receive.equals("peek") ? closingQueue::peek : closingQueue::poll),
                    decodes);
            assertThat(queue.poll()).as("still queued").isEqualTo(7L);
            assertThat(queue.poll()).isNull();
        }
    }

    private static String describe(int type, MemorySegment buffer, long offset, int length) {
        return type + ":" + length + ":" + (length == 0 ? "" : buffer.get(JAVA_BYTE, offset)) + " ";
    }
}
