package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link SharedPipe}'s typed messages: Python's {@code Connection.send(obj)} and {@code recv()} through a codec. */
class PipeCodecTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    public enum Side { BUY, SELL }

    public record Order(long id, String symbol, Side side, List<Integer> quantities) {
    }

    /** Order's shape with one component less: another fingerprint. */
    public record ShortOrder(long id, String symbol) {
    }

    @Test
    void shouldCarryValuesOfSeveralCodecsEachWay() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedPipe pipe = SharedPipe.create(heap, "p", 1 << 12);
            Codec<Order> orders = Codec.record(Order.class);
            Order order = new Order(7, "ACME", Side.SELL, List.of(1, 20, 300));
            assertThat(pipe.first().send(order, orders, BOUND)).isTrue();
            assertThat(pipe.first().send(42L, Codec.longs(), BOUND)).isTrue();
            assertThat(pipe.first().send("héllo", Codec.utf8(), BOUND)).isTrue();
            assertThat(pipe.first().send(new byte[] {1, 2, 3}, BOUND)).as("bytes: Codec.bytes()'s messages").isTrue();
            assertThat(pipe.second().recv(orders, BOUND)).isEqualTo(order);
            assertThat(pipe.second().recv(Codec.longs(), BOUND)).isEqualTo(42L);
            assertThat(pipe.second().recv(Codec.utf8(), BOUND)).isEqualTo("héllo");
            assertThat(pipe.second().recv(Codec.bytes(), BOUND)).containsExactly(1, 2, 3);

            assertThat(pipe.second().send("back", Codec.utf8(), BOUND)).isTrue();
            assertThat(pipe.first().recv(BOUND)).as("a typed message read as bytes: its encoding")
                    .isEqualTo("back".getBytes(StandardCharsets.UTF_8));
            assertThat(pipe.first().recv(Codec.utf8(), Duration.ZERO)).as("none waiting").isNull();
        }
    }

    /** Python's {@code Connection.closed}: false while open, true once closed, here or through another pipe object. */
    @Test
    void shouldSayWhetherAnEndIsClosedAsPythonsConnectionClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 18);
        SharedPipe pipe = SharedPipe.create(heap, "p", 1 << 12);
        SharedPipe.End first = pipe.first();
        SharedPipe.End second = pipe.second();
        assertThat(first.isClosed()).isFalse();
        first.close();
        assertThat(first.isClosed()).isTrue();
        assertThat(second.isClosed()).as("the other end").isFalse();
        SharedPipe.open(heap, "p").second().close();
        assertThat(second.isClosed()).as("closed through another pipe object").isTrue();
        heap.close();
        assertThatThrownBy(first::isClosed).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("SharedPipe 'p' cannot be used: its heap ");
    }

    /**
     * helper-247: Python's {@code send_bytes(buffer, offset, size)} had no counterpart (only whole arrays were sent);
     * a range is sent as the bytes it holds, read as any bytes message, and a range outside the array or over the
     * longest message is refused, naming the end, with nothing sent.
     */
    @Test
    void shouldSendARangeOfAnArrayAsPythonsSendBytesWithOffsetAndSize() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
            byte[] bytes = {0, 1, 2, 3, 4, 5};
            assertThat(pipe.first().send(bytes, 2, 3, BOUND)).isTrue();
            assertThat(pipe.first().send(bytes, 6, 0, BOUND)).isTrue();
            assertThat(pipe.first().send(bytes, 1, 2, BOUND)).isTrue();
            assertThat(pipe.second().recv(BOUND)).containsExactly(2, 3, 4);
            assertThat(pipe.second().recv(BOUND)).isEmpty();
            assertThat(pipe.second().recv(Codec.bytes(), BOUND)).containsExactly(1, 2);
            assertThatThrownBy(() -> pipe.first().send(bytes, 4, 3, BOUND))
                    .isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("first end of pipe 'p': message bytes [4, 7) outside the 6-byte array");
            assertThatThrownBy(() -> pipe.first().send(bytes, -1, 1, BOUND))
                    .hasMessage("first end of pipe 'p': message bytes [-1, 0) outside the 6-byte array");
            assertThatThrownBy(() -> pipe.first().send(bytes, 0, -1, BOUND))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> pipe.first().send(new byte[200], 0, 121, BOUND))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("first end of pipe 'p': message length=121 (expected: 0..120");
            assertThatThrownBy(() -> pipe.first().send(null, 0, 0, BOUND)).hasMessage("message");
            assertThat(pipe.second().poll()).as("nothing sent").isFalse();
        }
    }

    @Test
    void shouldRefuseAMessageOfAnotherTypeOrShapeNamingTheEndAndConsumeIt() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedPipe pipe = SharedPipe.create(heap, "p", 1 << 12);
            SharedPipe.End first = pipe.first();
            SharedPipe.End second = pipe.second();
            assertThat(first.send("text", Codec.utf8(), BOUND)).isTrue();
            assertThat(first.send(new Order(1, "X", Side.BUY, List.of()), Codec.record(Order.class), BOUND)).isTrue();
            assertThat(first.send(5L, Codec.longs(), BOUND)).isTrue();

            assertThatThrownBy(() -> second.recv(Codec.longs(), BOUND)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("second end of pipe 'p' received a message of type 0x00000002, but its codec reads type"
                            + " 0x00000001");
            assertThatThrownBy(() -> second.recv(Codec.record(ShortOrder.class), BOUND))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("second end of pipe 'p': record shape differs: expected fingerprint");
            assertThat(second.recv(Codec.longs(), BOUND)).as("the refused messages were consumed").isEqualTo(5L);

            assertThat(first.send(new byte[] {1, 2, 3}, BOUND)).isTrue();
            assertThatThrownBy(() -> second.recv(longsOfType(3), BOUND)).isInstanceOf(ShmFormatException.class)
                    .hasMessageStartingWith("second end of pipe 'p': its codec (type 0x00000003) cannot decode a"
                            + " message of 3 bytes");
            assertThat(second.poll()).as("consumed too").isFalse();
        }
    }

    @Test
    void shouldRefuseBadValuesNamingTheEndAndStayUsableAfterACodecThrows() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
            SharedPipe.End first = pipe.first();
            assertThatThrownBy(() -> first.send(null, Codec.utf8(), BOUND)).isInstanceOf(NullPointerException.class)
                    .hasMessageStartingWith("first end of pipe 'p': a null value");
            assertThatThrownBy(() -> first.send("x", null, BOUND)).isInstanceOf(NullPointerException.class)
                    .hasMessage("codec");
            assertThatThrownBy(() -> first.send("x".repeat(121), Codec.utf8(), BOUND))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("first end of pipe 'p': encoded value length=121 (expected: 0..120");
            assertThatThrownBy(() -> first.send(new byte[121], BOUND)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("first end of pipe 'p': message length=121 (expected: 0..120");
            Codec<Long> typeZero = longsOfType(0); // helper-119: refused by the ring under the end, named 'p.ab'
            assertThatThrownBy(() -> first.send(1L, typeZero, BOUND)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("first end of pipe 'p': its codec's typeId() is 0 (expected: >= 1)");

            IllegalStateException failure = new IllegalStateException("codec failed");
            assertThatThrownBy(() -> first.send("x", failing(failure), BOUND)).isSameAs(failure);
            assertThat(pipe.second().poll()).as("the claim was aborted: nothing to receive").isFalse();
            for (int i = 0; i < 40; i++) { // more than the ring holds: the aborted claim's room was freed
                assertThat(first.send("message " + i, Codec.utf8(), BOUND)).isTrue();
                assertThat(pipe.second().recv(Codec.utf8(), BOUND)).isEqualTo("message " + i);
            }
        }
    }

    @Test
    void shouldSendAValueFromInsideACodecThroughTheSameEnd() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedPipe pipe = SharedPipe.create(heap, "p", 1 << 12);
            SharedPipe.End first = pipe.first();
            Codec<String> announcing = new Codec<>() { // a codec that sends a note before its own value is encoded
                @Override
                public int typeId() {
                    return Codec.utf8().typeId();
                }

                @Override
                public int encodedLength(String value) {
                    return Codec.utf8().encodedLength(value);
                }

                @Override
                public void encode(String value, MemorySegment target, long offset) {
                    try {
                        first.send(99L, Codec.longs(), BOUND);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    Codec.utf8().encode(value, target, offset);
                }

                @Override
                public String decode(MemorySegment source, long offset, int length) {
                    return Codec.utf8().decode(source, offset, length);
                }
            };
            assertThat(first.send("outer", announcing, BOUND)).isTrue();
            assertThat(pipe.second().recv(Codec.utf8(), BOUND)).as("claimed first, so received first")
                    .isEqualTo("outer");
            assertThat(pipe.second().recv(Codec.longs(), BOUND)).isEqualTo(99L);
        }
    }

    @Test
    void shouldExchangeRecordsWithAnotherProcess() throws Exception {
        String heapName = names.unique("pcodec");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 18)) {
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 14);
            Codec<Order> orders = Codec.record(Order.class);
            try (ChildJvm filler = ChildJvm.start(Filler.class, heapName, "500")) {
                for (int i = 0; i < 500; i++) {
                    assertThat(pipe.first().send(order(i), orders, BOUND)).isTrue();
                    assertThat(pipe.first().recv(Codec.longs(), BOUND)).isEqualTo(i * 1000L + order(i).quantities()
                            .stream().mapToInt(Integer::intValue).sum());
                }
                filler.awaitSuccess(BOUND);
            }
            assertThatThrownBy(() -> pipe.first().recv(orders, BOUND)).as("nothing more: the child exited")
                    .isInstanceOf(PipeClosedException.class);
        }
    }

    private static Order order(int i) {
        return new Order(i, "SYM" + i, i % 2 == 0 ? Side.BUY : Side.SELL, List.of(i, i + 1, i % 7));
    }

    /** {@code main(heap, count)}: answers each order on the pipe's second end with id * 1000 + its quantities. */
    public static final class Filler {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedPipe.End end = SharedPipe.open(heap, "pipe").second();
                Codec<Order> orders = Codec.record(Order.class);
                for (int i = 0; i < Integer.parseInt(args[1]); i++) {
                    Order got = end.recv(orders, BOUND);
                    if (!order(i).equals(got)) {
                        throw new IllegalStateException("order " + i + ": " + got);
                    }
                    long filled = got.id() * 1000 + got.quantities().stream().mapToInt(Integer::intValue).sum();
                    if (!end.send(filled, Codec.longs(), BOUND)) {
                        throw new IllegalStateException("no room for the answer to " + i);
                    }
                }
            }
        }
    }

    /** @return a codec of longs as {@link Codec#longs()} writes them, but of type {@code typeId} */
    static Codec<Long> longsOfType(int typeId) {
        return new Codec<>() {
            @Override
            public int typeId() {
                return typeId;
            }

            @Override
            public int encodedLength(Long value) {
                return 8;
            }

            @Override
            public void encode(Long value, MemorySegment target, long offset) {
                Codec.longs().encode(value, target, offset);
            }

            @Override
            public Long decode(MemorySegment source, long offset, int length) {
                return Codec.longs().decode(source, offset, length);
            }
        };
    }

    /** @return a UTF-8 codec whose encode throws {@code failure} */
    private static Codec<String> failing(RuntimeException failure) {
        return new Codec<>() {
            @Override
            public int typeId() {
                return 2;
            }

            @Override
            public int encodedLength(String value) {
                return value.length();
            }

            @Override
            public void encode(String value, MemorySegment target, long offset) {
                throw failure;
            }

            @Override
            public String decode(MemorySegment source, long offset, int length) {
                throw failure;
            }
        };
    }
}
