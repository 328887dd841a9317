package org.shm4j.sync;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.sync.map.SharedMap;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.AbstractList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * helper-120: a codec that writes more than its {@code encodedLength} said (a faulty codec, or a record whose list
 * another thread changes between the two calls) wrote past its claim into the ring, over queued messages. Now such
 * an encode fails with {@link IllegalStateException} naming the queue or pipe end, its claim is aborted, and every
 * other message arrives intact.
 */
@Timeout(60)
class CodecOverrunTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    /** Longs as 8 bytes, of a type of this test's own: the codecs below change one step of it. */
    private static class Longs implements Codec<Long> {
        @Override
        public int typeId() {
            return 0x4F56;
        }

        @Override
        public int encodedLength(Long value) {
            return Long.BYTES;
        }

        @Override
        public void encode(Long value, MemorySegment target, long offset) {
            target.set(JAVA_LONG_UNALIGNED, offset, value);
        }

        @Override
        public Long decode(MemorySegment source, long offset, int length) {
            return source.get(JAVA_LONG_UNALIGNED, offset);
        }
    }

    /** Longs as 8 bytes, but a negative one as 64 (its encodedLength still says 8). */
    private static final Codec<Long> FAULTY = new Longs() {
        @Override
        public void encode(Long value, MemorySegment target, long offset) {
            for (int i = 0; i < (value < 0 ? 8 : 1); i++) {
                target.set(JAVA_LONG_UNALIGNED, offset + i * Long.BYTES, value);
            }
        }
    };

    /**
     * The faulty claim is made right before the oldest queued messages, after the ring wrapped: 62 messages of 16
     * bytes queued in a 1024-byte ring leave 32 bytes, the claim takes 16 of them, and its 56 bytes too many would
     * fall on the oldest messages.
     */
    @Test
    void shouldRefuseAnEncodeLongerThanItsLengthAndKeepTheQueuedMessagesIntact() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, FAULTY);
            for (long i = 0; i < 60; i++) {
                assertThat(queue.offer(i)).isTrue();
                assertThat(queue.poll()).isEqualTo(i);
            }
            for (long i = 1; i <= 62; i++) {
                assertThat(queue.offer(i)).as("message %d", i).isTrue();
            }
            assertThatThrownBy(() -> queue.offer(-1L)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("queue 'q'").hasMessageContaining("the value was not queued")
                    .hasMessageContaining("wrote past the 8 bytes its encodedLength gave");
            assertThat(queue.offer(63L)).isTrue();
            for (long i = 1; i <= 63; i++) {
                assertThat(queue.poll()).as("message %d", i).isEqualTo(i);
            }
            assertThat(queue.poll()).isNull();
        }
    }

    record Bag(long id, List<Long> items) {
    }

    /** A list of 2 elements when first walked, 10 after: as if another thread added some in between. */
    private static final class Growing extends AbstractList<Long> {
        private int walks;

        @Override
        public Iterator<Long> iterator() {
            return (walks++ == 0 ? List.of(0L, 1L) : Collections.nCopies(10, 2L)).iterator();
        }

        @Override
        public Long get(int index) {
            throw new UnsupportedOperationException("walked only");
        }

        @Override
        public int size() {
            throw new UnsupportedOperationException("walked only");
        }
    }

    @Test
    void shouldRefuseARecordWhoseListGrewWhileItWasEncodedAndDeliverTheNextOnes() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            RecordCodec<Bag> codec = Codec.record(Bag.class, java.lang.invoke.MethodHandles.lookup());
            SharedQueue<Bag> queue = SharedQueue.create(heap, "bags", 1024, codec);
            assertThat(queue.offer(new Bag(1, List.of(1L, 2L)))).isTrue();
            assertThatThrownBy(() -> queue.offer(new Bag(2, new Growing()))).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("queue 'bags'").hasMessageContaining("wrote 102 bytes where its "
                            + "encodedLength gave 30");
            assertThat(queue.offer(new Bag(3, List.of()))).isTrue();
            assertThat(queue.poll()).isEqualTo(new Bag(1, List.of(1L, 2L)));
            assertThat(queue.poll()).isEqualTo(new Bag(3, List.of()));
            assertThat(queue.poll()).isNull();
        }
    }

    /** A record whose accessor returns a longer (or shorter) text at each call: no record's own accessor does. */
    record Note(long id, String text) {
        private static final java.util.concurrent.atomic.AtomicInteger CALLS = new java.util.concurrent.atomic
                .AtomicInteger();

        @Override
        public String text() {
            if (id >= 0) {
                return text;
            }
            boolean first = CALLS.getAndIncrement() % 2 == 0; // encodedLength calls it first, then encode
            return "x".repeat(id == -1 ? (first ? 4 : 44) : (first ? 40 : 10));
        }
    }

    /**
     * helper-127: a record of a string written in place relied on its accessor returning the same string twice; one
     * overridden to return a longer one the second time wrote past its claim, over the oldest queued messages (or,
     * with room after the claim, committed a message that no consumer could decode). Such records are now written into
     * the thread's staging bytes, checked, and copied into the ring.
     */
    @Test
    void shouldRefuseARecordWhoseAccessorChangedItsLengthAndKeepTheQueuedMessagesIntact() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            RecordCodec<Note> codec = Codec.record(Note.class, java.lang.invoke.MethodHandles.lookup());
            SharedQueue<Note> queue = SharedQueue.create(heap, "notes", 1024, codec);
            Note note = new Note(1, "abcd"); // 8 + 4 + 4 = 16 bytes, a 24-byte record with its 8-byte header
            for (int i = 0; i < 60; i++) { // round the ring, so that the claim below falls before queued messages
                assertThat(queue.offer(note)).isTrue();
                assertThat(queue.poll()).isEqualTo(note);
            }
            int queued = 0;
            while (queue.offer(new Note(queued, "abcd"))) {
                queued++;
            }
            assertThat(queue.poll()).isEqualTo(new Note(0, "abcd"));
            assertThat(queue.poll()).isEqualTo(new Note(1, "abcd"));
            assertThatThrownBy(() -> queue.offer(new Note(-1, null))).as("longer the second time")
                    .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("queue 'notes': the value was "
                            + "not queued: its codec (type ").hasMessageContaining("wrote 56 bytes where its "
                            + "encodedLength gave 16");
            for (int i = 2; i < queued; i++) {
                assertThat(queue.poll()).as("queued message %d", i).isEqualTo(new Note(i, "abcd"));
            }
            assertThat(queue.poll()).isNull();
            assertThatThrownBy(() -> queue.offer(new Note(-2, null))).as("shorter the second time")
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("wrote 22 bytes where its "
                            + "encodedLength gave 52");
            assertThat(queue.poll()).isNull();
        }
    }

    /** A record whose accessor sends a bag on {@link #SIDE} each time it is called: while its record is encoded. */
    record Relay(long id, String text) {
        static SharedQueue<Bag> SIDE;

        @Override
        public String text() {
            if (!SIDE.offer(new Bag(id + 1000, List.of(1L, 2L, 3L, 4L, 5L)))) {
                throw new IllegalStateException("no room on the side");
            }
            return text;
        }
    }

    @Test
    void shouldKeepARecordWhoseAccessorSendsWhileItIsEncodedWhole() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            Relay.SIDE = SharedQueue.create(heap, "side", 1024, Codec.record(Bag.class,
                    java.lang.invoke.MethodHandles.lookup()));
            SharedQueue<Relay> relays = SharedQueue.create(heap, "relays", 1024, Codec.record(Relay.class,
                    java.lang.invoke.MethodHandles.lookup()));
            assertThat(relays.offer(new Relay(5, "relayed"))).isTrue();
            assertThat(relays.poll()).as("its staging bytes were not reused by the side note")
                    .isEqualTo(new Relay(5, "relayed"));
            for (int i = 0; i < 2; i++) { // one by encodedLength, one by encode
                assertThat(Relay.SIDE.poll()).isEqualTo(new Bag(1005, List.of(1L, 2L, 3L, 4L, 5L)));
            }
            assertThat(Relay.SIDE.poll()).isNull();
        }
    }

    /**
     * helper-128: lists and maps stored such a record too: a list's add wrote 72 bytes into a 36-byte slot and kept an
     * element no one could read, its set threw a bare IndexOutOfBoundsException, a map kept a value it could not
     * decode. Each is now refused naming the structure, which keeps what it held.
     */
    @Test
    void shouldRefuseARecordWhoseAccessorChangedItsLengthInAListOrAMap() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            RecordCodec<Note> codec = Codec.record(Note.class, java.lang.invoke.MethodHandles.lookup());
            SharedList<Note> list = SharedList.create(heap, "l", codec, 64);
            for (int i = 0; i < 4; i++) {
                list.add(new Note(i, "abcd"));
            }
            String longer = "wrote 56 bytes where its encodedLength gave 16";
            Note.CALLS.set(0);
            assertThatThrownBy(() -> list.add(new Note(-1, null))).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("SharedList 'l': the value was not added: its codec (type ")
                    .hasMessageContaining(longer);
            Note.CALLS.set(0);
            assertThatThrownBy(() -> list.set(0, new Note(-1, null))).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("SharedList 'l': the value was not stored").hasMessageContaining(longer);
            Note.CALLS.set(0);
            assertThatThrownBy(() -> list.add(2, new Note(-2, null))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("wrote 22 bytes where its encodedLength gave 52");
            assertThat(list).containsExactly(new Note(0, "abcd"), new Note(1, "abcd"), new Note(2, "abcd"),
                    new Note(3, "abcd"));

            SharedMap<Long, Note> map = SharedMap.create(heap, "m", Codec.longs(), codec, MapSizing.ofLongKeys(16, 32));
            map.put(1L, new Note(1, "abcd"));
            Note.CALLS.set(0);
            assertThatThrownBy(() -> map.put(2L, new Note(-1, null))).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("SharedMap 'm': the value was not stored").hasMessageContaining(longer);
            Note.CALLS.set(0);
            assertThatThrownBy(() -> map.merge(1L, new Note(-1, null), (a, b) -> b))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining(longer);
            assertThat(map).containsExactly(Map.entry(1L, new Note(1, "abcd")));
            SharedLongMap<Note> longs = SharedLongMap.create(heap, "lm", codec, MapSizing.ofLongKeys(16, 32));
            Note.CALLS.set(0);
            assertThatThrownBy(() -> longs.set(3, new Note(-1, null))).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("SharedLongMap 'lm': the value was not stored")
                    .hasMessageContaining(longer);
            assertThat(longs.asMap()).isEmpty();
        }
    }

    /** A record whose accessor counts its calls in {@link #COUNTS}, another map: while its record is encoded. */
    record Audit(long id, String text) {
        static SharedMap<String, Long> COUNTS;

        @Override
        public String text() {
            COUNTS.merge("encodes", 1L, Long::sum);
            return text;
        }
    }

    /**
     * helper-129: a map whose value's accessor used another map wrote that map's key over its own in the thread's
     * buffers, and stored the value under it ("alice" became "encod").
     */
    @Test
    void shouldKeepAMapEntryWhoseAccessorUsesAnotherMapWhileItIsEncoded() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            Audit.COUNTS = SharedMap.create(heap, "counts", Codec.utf8(), Codec.longs(), MapSizing.ofLongKeys(16, 8));
            RecordCodec<Audit> codec = Codec.record(Audit.class, java.lang.invoke.MethodHandles.lookup());
            SharedMap<String, Audit> users = SharedMap.create(heap, "users", Codec.utf8(), codec,
                    MapSizing.ofLongKeys(16, 32));
            users.put("alice", new Audit(1, "hello"));
            SharedLongMap<Audit> byId = SharedLongMap.create(heap, "byId", codec, MapSizing.ofLongKeys(16, 32));
            byId.set(7, new Audit(7, "seven"));
            assertThat(users).containsExactly(Map.entry("alice", new Audit(1, "hello")));
            assertThat(byId.get(7)).isEqualTo(new Audit(7, "seven"));
            assertThat(Audit.COUNTS.get("encodes")).as("encodedLength and encode, twice").isEqualTo(4L);
        }
    }

    /** Longs as 8 bytes, but a negative one measured as -1 bytes, and written as none. */
    private static final Codec<Long> NEGATIVE = new Longs() {
        @Override
        public int encodedLength(Long value) {
            return value < 0 ? -1 : Long.BYTES;
        }

        @Override
        public void encode(Long value, MemorySegment target, long offset) {
            if (value >= 0) {
                super.encode(value, target, offset);
            }
        }
    };

    /**
     * helper-196: a codec measuring a value as -1 bytes met a map's get with "the value was not stored: its codec
     * wrote past the -1 bytes", a put with "segment 0 ... is corrupted" and {@code containsValue} with a bare
     * {@link NegativeArraySizeException}. Every structure now refuses it before anything else, naming itself.
     */
    @Test
    void shouldRefuseACodecMeasuringANegativeLengthBeforeUsingIt() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedMap<Long, Long> map = SharedMap.create(heap, "m", NEGATIVE, NEGATIVE, MapSizing.ofLongKeys(16, 8));
            map.put(1L, 1L);
            String refusal = "SharedMap 'm': encodedLength=-1 of its codec (type 0x00004f56) (expected: >= 0)";
            List<ThrowingCallable> calls = List.of(() -> map.put(-2L, 2L), () -> map.put(2L, -2L),
                    () -> map.get(-2L), () -> map.containsValue(-2L), () -> map.remove(1L, -1L));
            for (ThrowingCallable call : calls) {
                assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class).hasMessage(refusal);
            }
            SharedLongMap<Long> longs = SharedLongMap.create(heap, "lm", NEGATIVE, MapSizing.ofLongKeys(16, 8));
            assertThatThrownBy(() -> longs.set(4, -4L)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("SharedLongMap 'lm': encodedLength=-1 of its codec (type 0x00004f56) (expected: >= 0)");
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, NEGATIVE);
            assertThatThrownBy(() -> queue.offer(-5L)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("queue 'q': ");
            assertThat(map).containsExactly(Map.entry(1L, 1L));
            assertThat(longs.asMap()).isEmpty();
        }
    }

    /** helper-129: a map stored the first bytes of a codec that wrote more than it said, where a queue refused it. */
    @Test
    void shouldRefuseAUserCodecWritingPastItsLengthIntoAMap() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedMap<Long, Long> map = SharedMap.create(heap, "m", Codec.longs(), FAULTY, MapSizing.ofLongKeys(16, 8));
            map.put(1L, 1L);
            assertThatThrownBy(() -> map.put(2L, -2L)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("SharedMap 'm': the value was not stored: its codec (type 0x00004f56) "
                            + "wrote past the 8 bytes its encodedLength gave");
            SharedMap<Long, Long> keyed = SharedMap.create(heap, "k", FAULTY, Codec.longs(),
                    MapSizing.ofLongKeys(16, 8));
            assertThatThrownBy(() -> keyed.put(-3L, 3L)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("wrote past");
            SharedLongMap<Long> longs = SharedLongMap.create(heap, "lm", FAULTY, MapSizing.ofLongKeys(16, 8));
            assertThatThrownBy(() -> longs.set(4, -4L)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("SharedLongMap 'lm': the value was not stored");
            assertThat(map).containsExactly(Map.entry(1L, 1L));
            assertThat(keyed).isEmpty();
            assertThat(longs.asMap()).isEmpty();
        }
    }

    @Test
    void shouldLetNoOtherClassRegisterCodecShapes() {
        assertThatThrownBy(() -> org.shm4j.sync.internal.ExactEncoding.registerShapes(codec -> null))
                .isInstanceOf(IllegalCallerException.class)
                .hasMessage(CodecOverrunTest.class.getName() + " may not register codec shapes");
    }

    @Test
    void shouldSendRecordsOfStringsWithoutAllocating() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            RecordCodec<Note> codec = Codec.record(Note.class, java.lang.invoke.MethodHandles.lookup());
            SharedQueue<Note> queue = SharedQueue.create(heap, "notes", 1 << 12, codec);
            Note note = new Note(7, "a note of some length, staged then copied");
            for (int round = 0; round < 2; round++) { // the first warms up: staging bytes, JIT
                long before = org.shm4j.testing.Allocations.currentThreadBytes();
                for (int i = 0; i < 100_000; i++) {
                    if (!queue.offer(note) || queue.ring().poll((type, buffer, offset, length) -> { }) != 1) {
                        throw new AssertionError("send " + i + " not taken"); // taken undecoded: no allocation
                    }
                }
                long allocated = org.shm4j.testing.Allocations.currentThreadBytes() - before;
                if (round == 1) {
                    assertThat(allocated).as("bytes allocated by 100,000 sends").isLessThan(100_000);
                }
            }
        }
    }

    /**
     * helper-122: a codec that throws a checked exception sneakily (as Kotlin code may) left its claim open, so the
     * queue stopped behind it for as long as its process lived, and a joinable queue's task stayed counted.
     */
    @Test
    void shouldAbortTheClaimOfACodecThatThrowsACheckedExceptionSneakily() throws Exception {
        Codec<Long> sneaky = new Longs() {
            @Override
            public void encode(Long value, MemorySegment target, long offset) {
                if (value < 0) {
                    CodecOverrunTest.<RuntimeException>sneakyThrow(new java.io.IOException("sneaky"));
                }
                super.encode(value, target, offset);
            }
        };
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "q", 1024, sneaky);
            Throwable thrown = null;
            try {
                queue.offer(-1L);
            } catch (Throwable e) {
                thrown = e;
            }
            assertThat(thrown).isInstanceOf(java.io.IOException.class).hasMessage("sneaky");
            assertThat(queue.unfinishedTasks()).as("not counted").isZero();
            for (long i = 0; i < 200; i++) { // 200 x 16 bytes: past the claim, round the 1024-byte ring
                assertThat(queue.offer(i)).isTrue();
                assertThat(queue.poll()).isEqualTo(i);
                queue.taskDone();
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void sneakyThrow(Throwable e) throws E {
        throw (E) e;
    }

    /** helper-120: a codec that decoded a message to null made the receive return null, as if none had come. */
    @Test
    void shouldRefuseAMessageItsCodecDecodesToNull() throws Exception {
        Codec<Long> nullForZero = new Longs() {
            @Override
            public Long decode(MemorySegment source, long offset, int length) {
                Long value = super.decode(source, offset, length);
                return value == 0 ? null : value;
            }
        };
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, nullForZero);
            assertThat(queue.offer(0L)).isTrue();
            assertThat(queue.offer(5L)).isTrue();
            assertThatThrownBy(queue::poll).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("queue 'q': its codec (type 0x00004f56) decoded a message of 8 bytes to"
                            + " null");
            assertThat(queue.poll()).as("consumed; the next one comes").isEqualTo(5L);
            SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
            assertThat(pipe.first().send(0L, nullForZero, BOUND)).isTrue();
            assertThatThrownBy(() -> pipe.second().recv(nullForZero, BOUND)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("second end of pipe 'p': its codec");
        }
    }

    @Test
    void shouldRefuseAnOverlongEncodeThroughAPipeAndGoOn() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
            SharedPipe.End first = pipe.first();
            SharedPipe.End second = pipe.second();
            assertThat(first.send(7L, FAULTY, BOUND)).isTrue();
            assertThatThrownBy(() -> first.send(-1L, FAULTY, BOUND)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("first end of pipe 'p'").hasMessageContaining("was not sent");
            assertThat(first.send(8L, FAULTY, BOUND)).isTrue();
            assertThat(second.recv(FAULTY, BOUND)).isEqualTo(7L);
            assertThat(second.recv(FAULTY, BOUND)).isEqualTo(8L);
            assertThat(second.poll()).isFalse();
        }
    }
    /**
     * A string of over 2 GiB of UTF-8 got a bare ArithmeticException from Codec.utf8()'s toIntExact (seen with
     * {@code "\u00e9".repeat(1 << 30)}, which takes 4 s to measure): it shares the record codecs' check now.
     */
    @Test
    void shouldRefuseAnEncodingOfOver2GiBNamingTheCodecAndTheLimit() {
        assertThatThrownBy(() -> Blocks.encodedLength("Codec.utf8()", 1L << 31))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Codec.utf8(): encoded length=2147483648 (expected: 0..2147483647)");
        assertThat(Blocks.encodedLength("Codec.utf8()", Integer.MAX_VALUE)).isEqualTo(Integer.MAX_VALUE);
    }

    /** A record whose list another thread changes while it is encoded (an element's accessor does it here). */
    public record Basket(long id, List<Item> items) {
    }

    public record Item(String name) {
        @Override
        public String name() {
            CHANGING.add(new Item(name)); // what another thread's add would do mid-encode
            return name;
        }
    }

    private static final List<Item> CHANGING = new java.util.ArrayList<>();

    /** Such a change threw a bare ConcurrentModificationException, naming neither the record nor the component. */
    @Test
    void shouldNameTheRecordComponentWhoseListChangedWhileItWasEncoded() {
        CHANGING.add(new Item("first"));
        RecordCodec<Basket> codec = Codec.record(Basket.class, java.lang.invoke.MethodHandles.lookup());
        assertThatThrownBy(() -> codec.encodedLength(new Basket(1, CHANGING)))
                .isInstanceOf(java.util.ConcurrentModificationException.class)
                .hasMessage("record component Basket.items changed while it was encoded (another thread's change of a"
                        + " List in it, which must not change until its encode returns)")
                .cause().isInstanceOf(java.util.ConcurrentModificationException.class);
    }
}
