package org.shm4j.sync.list;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.Codec;

import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.IntStream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link SharedList} in one process: the operations against an {@code ArrayList}, growth, refusals, damage. */
class SharedListTest {
    /** A public record for the record codec. */
    public record Point(int x, String label) {
    }

    @Test
    void shouldBehaveAsAnArrayListAcrossChunks() {
        try (SharedHeap heap = SharedHeap.anonymous(4 << 20)) {
            SharedList<String> list = SharedList.create(heap, "names", Codec.utf8(), 16);
            List<String> model = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                String value = "v" + i;
                switch (i % 7) {
                    case 3 -> { list.add(i / 3, value); model.add(i / 3, value); }
                    case 5 -> assertThat(list.remove(i / 5)).isEqualTo(model.remove(i / 5));
                    case 6 -> { list.set(i / 6, value); model.set(i / 6, value); }
                    default -> { list.add(value); model.add(value); }
                }
            }
            assertThat(list.size()).isEqualTo(model.size()).isGreaterThan(64 + 128 + 256); // four chunks
            assertThat(list.snapshot()).isEqualTo(model);
            assertThat(IntStream.range(0, model.size()).mapToObj(list::get).toList()).isEqualTo(model);
            assertThat(list.removeLast()).isEqualTo(model.getLast());
            list.clear();
            assertThat(list.isEmpty()).isTrue();
            assertThatThrownBy(list::removeLast).isInstanceOf(NoSuchElementException.class)
                    .hasMessage("SharedList 'names' is empty");
            list.add("again");
            assertThat(SharedList.open(heap, "names", Codec.utf8())).containsExactly("again");
        }
    }

    /**
     * Elements longer than a thread's kept read buffer ({@link ElementBuffer#MAX_KEPT}) read through an array of
     * their own, shorter ones through the buffer: each get returns its own element whole, whatever came before.
     */
    /**
     * Python's {@code index}, {@code in}, {@code remove(x)} and {@code extend} (helper-133: missing): elements compare
     * as stored, a record by its encoded bytes; extend adds all or, if one value cannot be stored, none.
     */
    @Test
    void shouldFindRemoveAndExtendAsPythonsListDoes() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<String> list = SharedList.create(heap, "words", Codec.utf8(), 8);
            list.addAll(List.of("a", "b", "c", "b"));
            list.addAll(List.of());
            assertThat(list.snapshot()).containsExactly("a", "b", "c", "b");
            assertThat(list.indexOf("b")).isEqualTo(1);
            assertThat(list.indexOf("z")).isEqualTo(-1);
            assertThat(list.indexOf("far too long for a slot")).isEqualTo(-1);
            assertThat(list.indexOf(null)).isEqualTo(-1);
            assertThat(list.contains("c")).isTrue();
            assertThat(list.contains("")).isFalse();
            assertThat(list.remove("b")).isTrue();
            assertThat(list.snapshot()).containsExactly("a", "c", "b");
            assertThat(list.remove("z")).isFalse();
            assertThat(list.remove((Object) 5)).as("a value of another type").isFalse();

            assertThatThrownBy(() -> list.addAll(Arrays.asList("d", null))).isInstanceOf(NullPointerException.class)
                    .hasMessageStartingWith("SharedList 'words': a null element");
            assertThatThrownBy(() -> list.addAll(List.of("d", "far too long for a slot")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("SharedList 'words'");
            assertThat(list.snapshot()).as("nothing of a refused extend").containsExactly("a", "c", "b");

            List<String> many = IntStream.range(0, 300).mapToObj(Integer::toString).toList(); // across chunks
            list.addAll(many);
            assertThat(list.size()).isEqualTo(303);
            assertThat(list.get(302)).isEqualTo("299");
            assertThat(list.indexOf("299")).isEqualTo(302);

            SharedList<Point> points = SharedList.create(heap, "points", Codec.record(Point.class), 64);
            points.addAll(List.of(new Point(1, "p"), new Point(3, "q")));
            assertThat(points.indexOf(new Point(3, "q"))).isEqualTo(1);
            assertThat(points.remove(new Point(1, "p"))).isTrue();
            assertThat(points.snapshot()).containsExactly(new Point(3, "q"));
        }
    }

    @Test
    void shouldRefuseAnExtendPastItsMostElementsAndAddNothing() {
        try (SharedHeap heap = SharedHeap.anonymous(200_000)) {
            SharedList<Long> list = SharedList.create(heap, "longs", Codec.longs(), 8);
            list.add(1L);
            List<Long> tooMany = java.util.stream.LongStream.range(0, 100_000).boxed().toList();
            assertThatThrownBy(() -> list.addAll(tooMany)).isInstanceOf(ShmFullException.class)
                    .hasMessageStartingWith("SharedList 'longs' is full");
            assertThat(list.snapshot()).containsExactly(1L);
            list.add(2L);
            assertThat(list.snapshot()).containsExactly(1L, 2L);
        }
    }

    @Test
    void shouldReadElementsLongerAndShorterThanTheKeptBufferWhole() {
        try (SharedHeap heap = SharedHeap.anonymous(16 << 20)) { // a first chunk of 64 slots of 192 KiB
            SharedList<byte[]> list = SharedList.create(heap, "big", Codec.bytes(), 3 * ElementBuffer.MAX_KEPT);
            List<byte[]> values = new ArrayList<>();
            for (int length : new int[] {ElementBuffer.MAX_KEPT + 1, 10, 2 * ElementBuffer.MAX_KEPT, 0,
                    ElementBuffer.MAX_KEPT, 3 * ElementBuffer.MAX_KEPT}) {
                byte[] value = new byte[length];
                Arrays.fill(value, (byte) (values.size() + 1));
                values.add(value);
                list.add(value);
            }
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i < values.size(); i++) {
                    assertThat(list.get(i)).as("element %d, round %d", i, round).isEqualTo(values.get(i));
                }
            }
            assertThat(list.removeLast()).isEqualTo(values.getLast());
            assertThat(list.remove(0)).isEqualTo(values.getFirst());
        }
    }

    @Test
    void shouldKeepRecordsAndCheckTheCodecOnOpen() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<Point> points = SharedList.openOrCreate(heap, "points", Codec.record(Point.class), 64);
            points.add(new Point(1, "a"));
            assertThat(SharedList.openOrCreate(heap, "points", Codec.record(Point.class), 64).get(0))
                    .isEqualTo(new Point(1, "a"));
            assertThatThrownBy(() -> SharedList.open(heap, "points", Codec.utf8()))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageStartingWith("SharedList 'points' holds elements of codec type 0x")
                    .hasMessageEndingWith(", but the codec given has type 0x2");
            SharedList.create(heap, "texts", Codec.utf8(), 8);
            assertThatThrownBy(() -> SharedList.open(heap, "texts", Codec.record(Point.class)))
                    .hasMessage("SharedList 'texts' holds elements of codec type 0x2, but the codec given is record"
                            + " codec " + Codec.record(Point.class).schema() + " (fingerprint "
                            + String.format("0x%08x", Codec.record(Point.class).fingerprint()) + ")");
            assertThatThrownBy(() -> SharedList.openOrCreate(heap, "texts", Codec.utf8(), 9))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("SharedList 'texts' exists with maxElementBytes=8 (expected: 9)");
        }
    }

    @Test
    void shouldRefuseBadInputClearly() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<String> list = SharedList.create(heap, "l", Codec.utf8(), 4);
            list.add("abcd");
            assertThatThrownBy(() -> list.get(1)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("SharedList 'l': index=1 (expected: 0..0, size 1)");
            assertThatThrownBy(() -> list.set(-1, "x")).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("SharedList 'l': index=-1 (expected: 0..0, size 1)");
            assertThatThrownBy(() -> list.add(2, "x")).hasMessage("SharedList 'l': index=2 (expected: 0..1, size 1)");
            assertThatThrownBy(() -> list.remove(1)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> list.add("abcde")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("SharedList 'l': encoded value length=5 (expected: 0..4, the maxElementBytes fixed"
                            + " at creation)");
            assertThatThrownBy(() -> list.add(null)).isInstanceOf(NullPointerException.class)
                    .hasMessageStartingWith("SharedList 'l': a null element");
            assertThatThrownBy(() -> SharedList.create(heap, "m", Codec.utf8(), -1))
                    .hasMessage("SharedList 'm': maxElementBytes=-1 (expected: 0..1048576)");
            assertThat(list.snapshot()).containsExactly("abcd");
            list.clear();
            assertThatThrownBy(() -> list.get(0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("SharedList 'l': index=0 (the list is empty)");
        }
    }

    @Test
    void shouldSayWhenTheHeapIsFull() {
        try (SharedHeap heap = SharedHeap.anonymous(200_000)) {
            SharedList<byte[]> list = SharedList.create(heap, "big", Codec.bytes(), 500);
            assertThatThrownBy(() -> {
                for (int i = 0; i < 10_000; i++) {
                    list.add(new byte[500]);
                }
            }).isInstanceOf(ShmFullException.class)
                    .hasMessageMatching("SharedList 'big' is full: size=192, capacity=192 elements; its next chunk"
                            + " of 256 elements needs 129024 bytes and a catalog entry, and heap .* is full: block"
                            + " 'big.chunk2' needs byteSize=129024 .*, free=\\d+");
            assertThat(list.size()).isEqualTo(192);
        }
    }

    /** A heap whose catalog is full is named as the limit, not its free bytes (an outside sweep saw the latter). */
    @Test
    void shouldSayWhenTheHeapsCatalogIsFull() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20, HeapOptions.defaults().withCatalogCapacity(2))) {
            SharedList<Long> list = SharedList.create(heap, "l", Codec.longs(), 8);
            assertThatThrownBy(() -> {
                for (int i = 0; i < 1_000; i++) {
                    list.add((long) i);
                }
            }).isInstanceOf(ShmFullException.class)
                    .hasMessageMatching("SharedList 'l' is full: size=64, capacity=64 elements; its next chunk of 128"
                            + " elements needs \\d+ bytes and a catalog entry, and catalog of heap .* is full: 2"
                            + " blocks; cannot add 'l.chunk1'");
            assertThat(list.size()).isEqualTo(64);
            assertThat(list.get(63)).isEqualTo(63L);
        }
    }

    @Test
    void shouldSayWhichBlockTakesTheNameOfItsNextChunk() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<Long> list = SharedList.create(heap, "l", Codec.longs(), 8);
            SharedList.create(heap, "l.chunk1", Codec.longs(), 8);
            for (long i = 0; i < ListLayout.FIRST_CHUNK; i++) {
                list.add(i);
            }
            assertThatThrownBy(() -> list.add(64L)).isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageStartingWith("SharedList 'l' cannot grow past 64 elements: the name of its next chunk,"
                            + " 'l.chunk1', is taken by another block (block 'l.chunk1' in ")
                    .hasMessageEndingWith("a list's chunks are named <list>.chunk<k>, so no other block may take such"
                            + " a name");
            assertThat(list.size()).isEqualTo(64);
            assertThat(list.get(63)).isEqualTo(63L);
            list.set(0, 7L);
            assertThat(list.remove(0)).isEqualTo(7L);
            list.add(5L);
            assertThat(list.size()).isEqualTo(64);
        }
    }

    @Test
    void shouldNameTheListWhenItsSizeIsDamagedWhileOpen() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<Long> list = SharedList.create(heap, "l", Codec.longs(), 8);
            list.add(1L);
            MemorySegment header = heap.lookup("l", ListLayout.LIST).segment();
            for (long bad : new long[] {-5, 5_000_000_000L}) {
                header.set(JAVA_LONG, ListLayout.LIST_SIZE_OFFSET, bad);
                for (ThrowingCallable use : List.<ThrowingCallable>of(list::size, () -> list.get(0),
                        () -> list.add(2L), list::snapshot)) {
                    assertThatThrownBy(use).isInstanceOf(ShmFormatException.class)
                            .hasMessage("SharedList 'l' is corrupted: size=" + bad + " (expected: 0.."
                                    + list.maxSize() + ")");
                }
            }
        }
    }

    /**
     * helper-150: a size word damaged while the list is open, past its chunks, read as a missing block
     * ({@code ShmNotFoundException}); within them, past the elements written, as the codec's own failure on an
     * empty slot, naming neither the list nor the element.
     */
    @Test
    void shouldNameTheListWhenItsSizeCoversSlotsItNeverWrote() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<Long> list = SharedList.create(heap, "l", Codec.longs(), 8);
            list.add(1L);
            MemorySegment header = heap.lookup("l", ListLayout.LIST).segment();
            header.set(JAVA_LONG, ListLayout.LIST_SIZE_OFFSET, 1000);
            assertThatThrownBy(() -> list.get(999)).isInstanceOf(ShmFormatException.class)
                    .hasMessageStartingWith("SharedList 'l' is corrupted: its size covers element 999, but the heap "
                            + "holds no block 'l.chunk4' for it");
            assertThatThrownBy(list::snapshot).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("no block 'l.chunk1'");
            header.set(JAVA_LONG, ListLayout.LIST_SIZE_OFFSET, 3);
            assertThatThrownBy(() -> list.get(2)).isInstanceOf(ShmFormatException.class)
                    .hasMessageStartingWith("SharedList 'l': its codec (type 0x00000001) cannot decode element 2 of 0"
                            + " bytes (corrupted bytes, written by a codec of another shape with the same type id,"
                            + " or refused by the codec: see the cause)");
            assertThatThrownBy(list::snapshot).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("cannot decode element 1 of 0 bytes");
            header.set(JAVA_LONG, ListLayout.LIST_SIZE_OFFSET, 1);
            assertThat(list).containsExactly(1L);
        }
    }

    @Test
    void shouldRefuseADamagedHeader() {
        assertDamaged(ListLayout.LIST_MAGIC_OFFSET, 7L, "SharedList 'd' is corrupted: magic=0x7 (expected:");
        assertDamaged(ListLayout.LIST_SIZE_OFFSET, -3L, "size=-3 (expected: 0..1073741760)");
        assertDamaged(ListLayout.LIST_SIZE_OFFSET, 65L, "SharedList 'd' is corrupted: its size covers element 64, but "
                + "the heap holds no block 'd.chunk1' for it (the size word was damaged past the 64 slots of the "
                + "chunks the list made)");
        assertDamaged(ListLayout.LIST_JOURNAL_OP_OFFSET, 9L, "journal op=9 (expected: 0..3)");
        assertDamaged(ListLayout.LIST_JOURNAL_SIZE_OFFSET + 8, 1L, "reserved byte 176=1 (expected: 0)");
        assertDamaged(ListLayout.LIST_MUTEX_OFFSET, 1L << 31, "lock word=0x80000000");
        assertDamaged(ListLayout.LIST_MUTEX_OFFSET, 1L, "SharedList 'd''s mutex is corrupted: lock word=0x1 (expected: "
                + "0, or a pid in bits 0..29, bit 31 clear and start stamp bits 32..63 not all 0)");
        assertDamaged(ListLayout.LIST_CODEC_OFFSET + 4, -5L, "maxElementBytes=-5 (expected: 0..1048576)");
    }

    /**
     * The mutex word damaged after opening to name pid 1 with start stamp bits 0 (one byte 0x01 in a free word),
     * which no process writes: the next writer takes it over as a dead owner's instead of waiting for ever.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // the bug was a wait for ever
    void shouldTakeOverAMutexWordNamingAPidWithoutAStartStamp() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<Long> list = SharedList.create(heap, "l", Codec.longs(), 8);
            list.add(1L);
            heap.lookup("l", ListLayout.LIST).segment().set(JAVA_BYTE, ListLayout.LIST_MUTEX_OFFSET, (byte) 1);
            list.add(2L);
            assertThat(list.recoveries()).isEqualTo(1);
            assertThat(list).containsExactly(1L, 2L);
        }
    }

    @Test
    void shouldKeepTheHeaderConstantsEqualToTheStruct() {
        assertThat(ListLayout.LIST_HEADER.byteSize()).isEqualTo(ListLayout.LIST_SCRATCH_OFFSET);
        assertThat(offset("magic")).isEqualTo(ListLayout.LIST_MAGIC_OFFSET);
        assertThat(offset("codecTypeId")).isEqualTo(ListLayout.LIST_CODEC_OFFSET);
        assertThat(offset("maxElementBytes")).isEqualTo(ListLayout.LIST_MAX_ELEMENT_OFFSET);
        assertThat(offset("slotBytes")).isEqualTo(ListLayout.LIST_SLOT_BYTES_OFFSET);
        assertThat(offset("mutex")).isEqualTo(ListLayout.LIST_MUTEX_OFFSET);
        assertThat(offset("seq")).isEqualTo(ListLayout.LIST_SEQ_OFFSET);
        assertThat(offset("size")).isEqualTo(ListLayout.LIST_SIZE_OFFSET);
        assertThat(offset("journalOp")).isEqualTo(ListLayout.LIST_JOURNAL_OP_OFFSET);
        assertThat(offset("journalIndex")).isEqualTo(ListLayout.LIST_JOURNAL_INDEX_OFFSET);
        assertThat(offset("journalProgress")).isEqualTo(ListLayout.LIST_JOURNAL_PROGRESS_OFFSET);
        assertThat(offset("journalSize")).isEqualTo(ListLayout.LIST_JOURNAL_SIZE_OFFSET);
    }

    private static long offset(String field) {
        return ListLayout.LIST_HEADER.byteOffset(PathElement.groupElement(field));
    }

    private static void assertDamaged(long offset, long value, String message) {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList.create(heap, "d", Codec.longs(), 8).add(1L);
            MemorySegment header = heap.lookup("d", ListLayout.LIST).segment();
            if (offset == ListLayout.LIST_CODEC_OFFSET + 4 || offset == ListLayout.LIST_JOURNAL_OP_OFFSET) {
                header.set(JAVA_INT, offset, (int) value);
            } else {
                header.set(JAVA_LONG, offset, value);
            }
            assertThatThrownBy(() -> SharedList.open(heap, "d", Codec.longs())).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining(message);
        }
    }
}
