package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.RecordVersions.Lenient;
import org.shm4j.sync.RecordVersions.Strict;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RecordCodecTest {
    private static final Duration BOUND = Duration.ofSeconds(90);
    private static final int GUARD = 8;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    public enum Side { BUY, SELL }

    public record Fill(int quantity, double price) {
    }

    public record Primitives(boolean bo, byte by, short sh, char ch, int in, long lo, float fl, double du) {
    }

    public record Boxes(Boolean bo, Byte by, Short sh, Character ch, Integer in, Long lo, Float fl, Double du) {
    }

    public record Arrays1(byte[] bytes, boolean[] flags, short[] shorts, char[] chars, int[] ints, long[] longs,
                          float[] floats, double[] doubles, String[] texts, Side[] sides, Fill[] fills,
                          byte[][] chunks) {
    }

    public record Everything(Primitives primitives, Boxes boxes, String text, Side side, Fill fill, Arrays1 arrays,
                             List<String> names, List<Fill> fills, List<Integer> numbers, List<List<String>> nested,
                             List<byte[]> blobs) {
    }

    public record Trade(long id, String symbol, Side side, List<Fill> fills, Integer venue) {
        static Trade number(int i) {
            List<Fill> fills = new ArrayList<>();
            for (int k = 0; k < i % 4; k++) {
                fills.add(new Fill(k + 1, i * 0.5 + k));
            }
            return new Trade(i, i % 3 == 0 ? "zähler-計数-\uD83D\uDE00-" + i : "T" + i, Side.values()[i % 2],
                    i % 5 == 0 ? null : fills, i % 7 == 0 ? null : i * 11);
        }
    }

    @Test
    void shouldRoundTripEveryComponentKind() {
        Everything full = new Everything(
                new Primitives(true, (byte) -7, (short) -300, 'ж', -123456, Long.MIN_VALUE, -0.0f, Double.NaN),
                new Boxes(false, (byte) 7, (short) 300, '€', 123456, Long.MAX_VALUE, 1.5f, -0.0),
                "plain zähler 計数 emoji \uD83D\uDE00", Side.SELL, new Fill(3, 99.25),
                new Arrays1(new byte[] {1, -2, 3}, new boolean[] {true, false, true}, new short[] {-1, 2},
                        new char[] {'a', 'ß'}, new int[] {Integer.MIN_VALUE, 0, 9}, new long[] {5, -5},
                        new float[] {0.25f}, new double[] {1e300, -1e-300}, new String[] {"x", null, ""},
                        new Side[] {Side.BUY, null}, new Fill[] {null, new Fill(1, 2)},
                        new byte[][] {{1}, {}, null}),
                Arrays.asList("a", null, ""), List.of(new Fill(1, 0.5), new Fill(2, 1.5)), Arrays.asList(1, null),
                List.of(List.of("p", "q"), List.of()), List.of(new byte[] {9, 8}));
        Everything empty = new Everything(new Primitives(false, (byte) 0, (short) 0, '\0', 0, 0, 0, 0),
                new Boxes(null, null, null, null, null, null, null, null), "", null, null,
                new Arrays1(new byte[0], new boolean[0], new short[0], new char[0], new int[0], new long[0],
                        new float[0], new double[0], new String[0], new Side[0], new Fill[0], new byte[0][]),
                List.of(), List.of(), List.of(), List.of(), List.of());
        Everything nulls = new Everything(null, null, null, null, null, null, null, null, null, null, null);
        RecordCodec<Everything> codec = Codec.record(Everything.class);
        for (Everything value : List.of(full, empty, nulls)) {
            assertThat(roundTrip(codec, value)).usingRecursiveComparison() // exact: NaN equals NaN, -0.0 not 0.0
                    .withEqualsForType(Double::equals, Double.class).withEqualsForType(Float::equals, Float.class)
                    .isEqualTo(value);
        }
        assertThat(roundTrip(codec, nulls)).isEqualTo(nulls);
        assertThat(codec.encodedLength(nulls)).isEqualTo(1 + 1 + 4 + 4 + 1 + 1 + 5 * 4);
        Everything decoded = roundTrip(codec, full);
        assertThatThrownBy(() -> decoded.names().add("z")).isInstanceOf(UnsupportedOperationException.class);
        assertThat(decoded.arrays().texts()).isInstanceOf(String[].class);
        assertThatThrownBy(() -> Codec.record(Trade.class).encodedLength(new Trade(1, "lone \uD800 x", Side.BUY, null,
                null))).as("a lone surrogate: refused, not written as another string (LoneSurrogateTest)")
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("record component Trade.symbol: a String with a lone surrogate");
    }

    @Test
    void shouldWriteTheDocumentedFormat() {
        RecordCodec<Fill> codec = Codec.record(Fill.class);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segment = arena.allocate(codec.encodedLength(new Fill(0x01020304, 2.0)));
            codec.encode(new Fill(0x01020304, 2.0), segment, 0);
            assertThat(segment.toArray(ValueLayout.JAVA_BYTE)).containsExactly(4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 64);
        }
        RecordCodec<Trade> trades = Codec.record(Trade.class);
        Trade trade = new Trade(7, "é", null, List.of(new Fill(1, 0)), 5);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segment = arena.allocate(trades.encodedLength(trade));
            trades.encode(trade, segment, 0);
            assertThat(segment.toArray(ValueLayout.JAVA_BYTE)).containsExactly(
                    7, 0, 0, 0, 0, 0, 0, 0,                     // long id
                    2, 0, 0, 0, (byte) 0xC3, (byte) 0xA9,      // String: UTF-8 length, bytes
                    -1, -1, -1, -1,                            // enum: null
                    1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // List<Fill>: count, flag, int, double
                    1, 5, 0, 0, 0);                            // Integer: flag, int
        }
    }

    public record Reading(double value, Float boxed, double[] series, List<Float> floats) {
    }

    /**
     * A NaN computed at run time (0.0 / 0.0 on x86 is 0xfff8...) and {@code Double.NaN} (0x7ff8...) are equal to
     * {@code equals} (of a record, a box, {@code Arrays.equals}), so they must be one map key and one stored value.
     */
    @Test
    void shouldWriteEveryNaNAsOneSoThatEqualRecordsAreOneKey() {
        double otherNaN = Double.longBitsToDouble(0xfff8_0000_0000_0001L);
        float otherFloatNaN = Float.intBitsToFloat(0xffc0_0001);
        Reading canonical = new Reading(Double.NaN, Float.NaN, new double[] {1, Double.NaN}, List.of(Float.NaN));
        Reading other = new Reading(otherNaN, otherFloatNaN, new double[] {1, otherNaN}, List.of(otherFloatNaN));
        RecordCodec<Reading> codec = Codec.record(Reading.class);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(codec.encodedLength(canonical));
            MemorySegment b = arena.allocate(codec.encodedLength(other));
            codec.encode(canonical, a, 0);
            codec.encode(other, b, 0);
            assertThat(b.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(a.toArray(ValueLayout.JAVA_BYTE));
        }
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedMap<Reading, Reading> map = SharedMap.create(heap, "readings", codec, codec,
                    new MapSizing(16, 64, 64));
            map.put(canonical, canonical);
            assertThat(map.containsKey(other)).as("the key of a NaN of other bits").isTrue();
            assertThat(map.replace(other, other, canonical)).as("the value, as ConcurrentHashMap compares it")
                    .isTrue();
            assertThat(map).hasSize(1);
        }
    }

    public record Wide(long a0, long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8, long a9,
                       long a10, long a11, long a12, long a13, long a14, long a15, long a16, long a17, long a18,
                       long a19, long a20, long a21, long a22, long a23, long a24, long a25, long a26, long a27,
                       long a28, long a29, long a30, long a31, long a32, long a33, long a34, long a35, long a36,
                       long a37, long a38, long a39, long a40, long a41, long a42, long a43, long a44, long a45,
                       long a46, long a47, long a48, long a49, long a50, long a51, long a52, long a53, long a54,
                       long a55, long a56, long a57, long a58, long a59, long a60, long a61, long a62, long a63,
                       long a64, long a65, long a66, long a67, long a68, long a69, long a70, long a71, long a72,
                       long a73, long a74, long a75, long a76, long a77, long a78, long a79, long a80, long a81,
                       long a82, long a83, long a84, long a85, long a86, long a87, long a88, long a89, long a90,
                       long a91, long a92, long a93, long a94, long a95, long a96, long a97, long a98, long a99,
                       long a100, long a101, long a102, long a103, long a104, long a105, long a106, long a107,
                       long a108, long a109, long a110, long a111, long a112, long a113, long a114, long a115,
                       long a116, long a117, long a118, long a119, long a120, long a121, long a122, long a123,
                       long a124, long a125, long a126) {
    }

    /** 127 longs: 254 parameter slots, legal Java, one more than a method handle to the constructor takes. */
    @Test
    void shouldRefuseARecordTooWideForAMethodHandleNamingItAndTheLimit() {
        assertThatThrownBy(() -> Codec.record(Wide.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("record codec for " + Wide.class.getName() + ": Wide (" + Wide.class.getName() + ") has"
                        + " 127 components, whose canonical constructor takes 254 parameter slots (long and double"
                        + " take two) (expected: at most 253, the most a method handle can call; group components"
                        + " into nested records)");
    }

    @Test
    void shouldReportAStoredValueTheCompactConstructorRefusesNamingTheMapWithTheCause() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedLongMap<Lenient> written = SharedLongMap.create(heap, "m", Codec.record(Lenient.class),
                    MapSizing.ofLongKeys(16, 8));
            written.set(1, new Lenient(-1));
            SharedLongMap<Strict> read = SharedLongMap.open(heap, "m", Codec.record(Strict.class));
            assertThatThrownBy(() -> read.get(1)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("SharedLongMap 'm'")
                    .hasMessageContaining(String.format("its codec (type 0x%08x) cannot decode 4 stored bytes",
                            Codec.record(Strict.class).typeId()))
                    .hasMessageContaining("or refused by the codec: see the cause")
                    .cause().isInstanceOf(IllegalArgumentException.class).hasMessage("quantity=-1 (expected: >= 0)");
            read.set(2, new Strict(2));
            assertThat(read.get(2)).as("the map, still usable").isEqualTo(new Strict(2));
        }
    }

    /** A list, as a map and a queue, says that the codec may have refused the bytes, not only that they are bad. */
    @Test
    void shouldReportAnElementTheCompactConstructorRefusesNamingTheListWithTheCause() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<Lenient> written = SharedList.create(heap, "l", Codec.record(Lenient.class), 16);
            written.add(new Lenient(-1));
            written.add(new Lenient(2));
            SharedList<Strict> read = SharedList.open(heap, "l", Codec.record(Strict.class));
            assertThatThrownBy(() -> read.get(0)).isInstanceOf(ShmFormatException.class)
                    .hasMessageStartingWith(String.format("SharedList 'l': its codec (type 0x%08x) cannot decode "
                            + "element 0 of 4 bytes", Codec.record(Strict.class).typeId()))
                    .hasMessageContaining("or refused by the codec: see the cause")
                    .cause().isInstanceOf(IllegalArgumentException.class).hasMessage("quantity=-1 (expected: >= 0)");
            assertThat(read.get(1)).as("the next element, readable").isEqualTo(new Strict(2));
        }
    }

    public record Marker() {
    }

    public record Markers(List<Marker> markers) {
    }

    public record Sides(List<Side> sides) {
    }

    /**
     * A constant of another enum in a list of a raw or unchecked type was written by its ordinal, and read back as
     * the constant of the list's enum with that ordinal (helper-249's note): now refused when it is written.
     */
    @Test
    @SuppressWarnings({"rawtypes", "unchecked"})
    void shouldRefuseAConstantOfAnotherEnumRatherThanWriteItsOrdinal() {
        List polluted = new ArrayList<>(List.of(Side.BUY));
        polluted.add(TimeUnit.SECONDS);
        Codec<Sides> codec = Codec.record(Sides.class);
        Sides value = new Sides(polluted);
        MemorySegment target = MemorySegment.ofArray(new byte[64]);
        assertThatThrownBy(() -> codec.encode(value, target, 0)).isInstanceOf(ClassCastException.class)
                .hasMessageContaining("enum " + Side.class.getName() + ": SECONDS is a constant of "
                        + TimeUnit.class.getName());
    }

    /**
     * A value of another class, which a raw or unchecked call can pass, is refused even where no accessor of the
     * record is called to measure it (a record of no components; one of primitives alone): a record of no components
     * took any object for itself, so a map of such keys removed its entry for a String, as a list its element.
     */
    @Test
    @SuppressWarnings({"rawtypes", "unchecked"})
    void shouldRefuseAValueOfAnotherClassThoughNoAccessorIsCalledToMeasureIt() {
        assertThatThrownBy(() -> ((Codec) Codec.record(Marker.class)).encodedLength("marker"))
                .isInstanceOf(ClassCastException.class).hasMessage("record codec Marker(): a java.lang.String is not"
                        + " a " + Marker.class.getName() + " (a value of a raw or unchecked type)");
        assertThatThrownBy(() -> ((Codec) Codec.record(Fill.class)).encodedLength(new Marker()))
                .isInstanceOf(ClassCastException.class).hasMessageStartingWith("record codec Fill(");
        List polluted = new ArrayList<>(List.of(new Marker()));
        polluted.add("marker");
        assertThatThrownBy(() -> Codec.record(Markers.class).encodedLength(new Markers(polluted)))
                .isInstanceOf(ClassCastException.class).hasMessageContaining("a java.lang.String is not a");
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedMap<Marker, String> map = SharedMap.create(heap, "m", Codec.record(Marker.class), Codec.utf8(),
                    new MapSizing(16, 32, 8));
            map.put(new Marker(), "v");
            assertThatThrownBy(() -> ((Map) map).remove("marker")).isInstanceOf(ClassCastException.class)
                    .hasMessageStartingWith("SharedMap 'm' in ")
                    .hasMessageContaining("a key of class java.lang.String");
            assertThat(((Map) map).entrySet().contains(Map.entry("marker", "v"))).isFalse();
            assertThat(map).containsExactly(Map.entry(new Marker(), "v"));
            SharedList<Marker> list = SharedList.create(heap, "l", Codec.record(Marker.class), 64);
            list.add(new Marker());
            assertThat(((SharedList) list).remove("marker")).isFalse();
            assertThat(list.snapshot()).containsExactly(new Marker());
        }
    }

    public record Tagged<T>(int tag, String note) {
    }

    public record Generics(List<String>[] lists, Tagged<String> tagged, List<Tagged<Long>> tags, List<int[]>[][] grid) {
    }

    public record WithObject(int id, Object payload) {
    }

    public record WithMap(Map<String, Integer> counts) {
    }

    public record WithClass(StringBuilder text) {
    }

    public record WithTypeVariable<T>(T value) {
    }

    public record WithWildcard(List<? extends Number> numbers) {
    }

    @SuppressWarnings("rawtypes")
    public record WithRawList(List items) {
    }

    public record Outer(int id, List<WithObject> inners) {
    }

    public record Node(int value, Node next) {
    }

    public record Tree(int value, List<Tree> children) {
    }

    @Test
    @SuppressWarnings("unchecked")
    void shouldRoundTripArraysOfListsAndParameterizedRecords() {
        List<int[]>[][] grid = new List[][] {{List.of(new int[] {1, 2}), null}, {}};
        Generics value = new Generics(new List[] {List.of("a", "b"), null, List.of()}, new Tagged<>(7, "seven"),
                List.of(new Tagged<>(1, null)), grid);
        Generics decoded = roundTrip(Codec.record(Generics.class), value);
        assertThat(decoded).usingRecursiveComparison().isEqualTo(value);
        assertThat(decoded.lists()).isInstanceOf(List[].class);
        assertThat(decoded.grid()).isInstanceOf(List[][].class);
    }

    @Test
    void shouldRefuseUnsupportedComponentsNamingRecordAndComponent() {
        assertUnsupported(WithObject.class, "WithObject.payload has type java.lang.Object");
        assertUnsupported(WithMap.class, "WithMap.counts has type java.util.Map<java.lang.String, java.lang.Integer>");
        assertUnsupported(WithClass.class, "WithClass.text has type java.lang.StringBuilder");
        assertUnsupported(WithTypeVariable.class, "WithTypeVariable.value has type T");
        assertUnsupported(WithWildcard.class, "WithWildcard.numbers has type java.util.List<? extends");
        assertUnsupported(WithRawList.class, "WithRawList.items has type java.util.List");
        assertUnsupported(Outer.class, "Outer.inners[].payload has type java.lang.Object");
        assertThatThrownBy(() -> Codec.record(Node.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(Node.class.getName()).hasMessageContaining("Node.next is a Node again")
                .hasMessageContaining("recursive records are not supported");
        assertThatThrownBy(() -> Codec.record(Tree.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Tree.children[] is a Tree again");
    }

    record Hidden(int x, String label) {
    }

    @Test
    void shouldRefuseARecordItCannotReachAndTakeTheCallersLookup() {
        assertThatThrownBy(() -> Codec.record(Hidden.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("record codec for " + Hidden.class.getName() + ": " + Hidden.class.getName()
                        + " is not accessible to org.shm4j.sync")
                .hasMessageContaining("make the record public")
                .hasMessageContaining("Codec.record(Hidden.class, MethodHandles.lookup())");
        RecordCodec<Hidden> codec = Codec.record(Hidden.class, MethodHandles.lookup());
        assertThat(roundTrip(codec, new Hidden(4, "four"))).isEqualTo(new Hidden(4, "four"));
        assertThatThrownBy(() -> Codec.record(Hidden.class, MethodHandles.publicLookup()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not accessible to the lookup");
    }

    public record PointA(int x, int y) {
    }

    public record PointB(int x, int y) {
    }

    public record PointYX(int y, int x) {
    }

    public record PointLong(long x, int y) {
    }

    public record PointRenamed(int x, int z) {
    }

    public record PointBoxed(Integer x, int y) {
    }

    public enum Color { RED, GREEN }

    public enum Hue { RED, GREEN }

    public enum Shade { GREEN, RED }

    public record Paint(Color color) {
    }

    public record Dye(Hue color) {
    }

    public record Tint(Shade color) {
    }

    @Test
    void shouldChangeTheFingerprintWithTheShapeButNotWithClassNames() {
        RecordCodec<PointA> a = Codec.record(PointA.class);
        assertThat(a.schema()).isEqualTo("PointA(int x, int y)");
        assertThat(a.fingerprint()).as("pinned: FNV-1a of 'shm4j-record-v1 (int x, int y)', folded")
                .isEqualTo(0x768ca44d).isEqualTo(a.typeId());
        assertThat(Codec.record(PointB.class).fingerprint()).isEqualTo(a.fingerprint());
        for (Class<? extends Record> other : List.of(PointYX.class, PointLong.class, PointRenamed.class,
                PointBoxed.class)) {
            assertThat(Codec.record(other).fingerprint()).as(other.getSimpleName()).isNotEqualTo(a.fingerprint());
        }
        assertThat(Codec.record(Dye.class).fingerprint()).isEqualTo(Codec.record(Paint.class).fingerprint());
        assertThat(Codec.record(Tint.class).fingerprint()).isNotEqualTo(Codec.record(Paint.class).fingerprint());
        assertThat(Codec.record(Trade.class).schema()).isEqualTo("Trade(long id, String symbol, Side{BUY, SELL} side, "
                + "List<Fill(int quantity, double price)> fills, Integer venue)");
        assertThat(Codec.record(Arrays1.class).schema()).contains("byte[] bytes", "String[] texts",
                "Fill(int quantity, double price)[] fills", "byte[][] chunks");
    }

    @Test
    void shouldRefuseAQueueWrittenWithAnotherShape() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<PointA> queue = SharedQueue.create(heap, "points", 1024, Codec.record(PointA.class));
            queue.put(new PointA(1, 2));
            queue.put(new PointA(3, 4));
            SharedQueue<PointB> renamed = SharedQueue.open(heap, "points", Codec.record(PointB.class));
            assertThat(renamed.poll()).isEqualTo(new PointB(1, 2));
            String differs = String.format("queue 'points': record shape differs: expected fingerprint 0x%08x "
                    + "(PointYX(int y, int x)), found 0x768ca44d", Codec.record(PointYX.class).fingerprint());
            assertThatThrownBy(() -> SharedQueue.open(heap, "points", Codec.record(PointYX.class)))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessage(differs);
            assertThatThrownBy(() -> SharedQueue.openOrCreate(heap, "points", 1024, Codec.record(PointYX.class)))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessage(differs);
            assertThat(queue.poll()).as("nothing consumed by the refused opens").isEqualTo(new PointA(3, 4));
            SharedQueue.create(heap, "longs", 1024, Codec.longs());
            assertThatThrownBy(() -> SharedQueue.open(heap, "longs", Codec.record(PointA.class)))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageEndingWith("found 0x00000001 (not a record fingerprint)");

            SharedRing.create(heap, "raw", SharedRing.Kind.MPMC, 1024); // declares no type: poll finds out
            SharedQueue.open(heap, "raw", Codec.record(PointA.class)).put(new PointA(1, 2));
            SharedQueue<PointYX> swapped = SharedQueue.open(heap, "raw", Codec.record(PointYX.class));
            assertThatThrownBy(swapped::poll).isInstanceOf(IllegalStateException.class).hasMessage(differs
                    .replace("'points'", "'raw'"));
            assertThat(swapped.poll()).as("the bad message was consumed").isNull();
        }
    }

    @Test
    void shouldTakeExactlyTheRecordsAnotherProcessPut() throws Exception {
        String heapName = names.unique("records");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedQueue<Trade> queue = SharedQueue.create(heap, "trades", 4096, Codec.record(Trade.class));
            try (ChildJvm producer = ChildJvm.start(TradeProducer.class, heapName, "500")) {
                for (int i = 0; i < 500; i++) {
                    assertThat(queue.poll(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(Trade.number(i));
                }
                producer.awaitSuccess(BOUND);
            }
            assertThat(queue.poll()).isNull();
        }
    }

    /** {@code main(heap, count)}: puts {@link Trade#number} 0 to count - 1 on the queue "trades". */
    public static final class TradeProducer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedQueue<Trade> queue = SharedQueue.open(heap, "trades", Codec.record(Trade.class));
                for (int i = 0; i < Integer.parseInt(args[1]); i++) {
                    queue.put(Trade.number(i));
                }
            }
        }
    }

    public record Blob(boolean flag, String text, List<String> list, int[] ints, Side side, Fill fill) {
    }

    @Test
    void shouldRefuseCorruptedBytesClearly() {
        RecordCodec<Blob> codec = Codec.record(Blob.class);
        Blob blob = new Blob(true, "héllo", List.of("a", "bc"), new int[] {1, 2, 3}, Side.SELL, new Fill(1, 2));
        try (Arena arena = Arena.ofConfined()) {
            int length = codec.encodedLength(blob);
            MemorySegment segment = arena.allocate(length);
            codec.encode(blob, segment, 0);
            for (int truncated = 0; truncated < length; truncated++) {
                int n = truncated;
                assertThatThrownBy(() -> codec.decode(segment, 0, n)).as("truncated to %d", n)
                        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("record codec Blob(");
            }
            MemorySegment longer = arena.allocate(length + 3);
            MemorySegment.copy(segment, 0, longer, 0, length);
            assertThatThrownBy(() -> codec.decode(longer, 0, length + 3)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("has 3 bytes left over after the record");
            assertCorrupt(codec, segment, 1, Integer.MAX_VALUE, "holds length 2147483647 at byte 1 (expected: -1..");
            assertCorrupt(codec, segment, 1, -2, "holds length -2 at byte 1");
            assertCorrupt(codec, segment, 11, 1 << 30, "holds length 1073741824 at byte 11");
            assertCorrupt(codec, segment, 0, 7, "holds 7 at byte 0 where a boolean or null flag (0 or 1) belongs");
            Random random = new Random(42);
            for (int i = 0; i < 5000; i++) {
                MemorySegment copy = arena.allocate(length);
                MemorySegment.copy(segment, 0, copy, 0, length);
                for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
                    copy.set(ValueLayout.JAVA_BYTE, random.nextInt(length), (byte) random.nextInt());
                }
                try {
                    assertThat(codec.decode(copy, 0, length)).isNotNull();
                } catch (IllegalStateException e) {
                    assertThat(e).hasMessageStartingWith("record codec Blob(");
                }
            }
        }
    }

    private static void assertCorrupt(RecordCodec<Blob> codec, MemorySegment encoded, int at, int value,
                                      String message) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment copy = arena.allocate(encoded.byteSize());
            MemorySegment.copy(encoded, 0, copy, 0, encoded.byteSize());
            if (message.contains("boolean")) {
                copy.set(ValueLayout.JAVA_BYTE, at, (byte) value);
            } else {
                copy.set(ValueLayout.JAVA_INT_UNALIGNED, at, value);
            }
            assertThatThrownBy(() -> codec.decode(copy, 0, (int) copy.byteSize()))
                    .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("record codec Blob(")
                    .hasMessageContaining(message).hasMessageContaining("corrupted");
        }
    }

    private static void assertUnsupported(Class<? extends Record> type, String message) {
        assertThatThrownBy(() -> Codec.record(type)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("record codec for " + type.getName() + ": ").hasMessageContaining(message)
                .hasMessageContaining("which is not supported");
    }

    /** @return {@code value} encoded between guard bytes, checked to stay in its length, and decoded */
    private static <R extends Record> R roundTrip(RecordCodec<R> codec, R value) {
        try (Arena arena = Arena.ofConfined()) {
            int length = codec.encodedLength(value);
            MemorySegment segment = arena.allocate(length + 2L * GUARD);
            segment.fill((byte) 0x5A);
            codec.encode(value, segment, GUARD);
            for (long i : new long[] {0, GUARD - 1, GUARD + length, length + 2L * GUARD - 1}) {
                assertThat(segment.get(ValueLayout.JAVA_BYTE, i)).as("guard byte %d", i).isEqualTo((byte) 0x5A);
            }
            return codec.decode(segment, GUARD, length);
        }
    }
}
