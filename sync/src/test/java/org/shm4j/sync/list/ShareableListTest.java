package org.shm4j.sync.list;

import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.core.ShmFormatException;
import org.shm4j.testing.Await;
import org.shm4j.testing.InterruptedWaiter;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;

import java.io.RandomAccessFile;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeout;

/** {@link ShareableList} on its own: the kinds, its refusals, bad indices and damaged bytes. */
class ShareableListTest {
    private static final List<Object> ITEMS = Arrays.asList(1L, 2.5, true, null, "abc", new byte[]{9});
    private static final Duration BOUND = Duration.ofSeconds(60);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldHoldEveryKindAndConvertBoxes() {
        try (SharedMemory region = SharedMemory.anonymous(ShareableList.byteSize(ITEMS));
             ShareableList list = ShareableList.create(region, ITEMS)) {
            assertThat(list.subList(0, 5)).containsExactly(1L, 2.5, true, null, "abc");
            assertThat(list.stream().map(list::indexOf).count()).isEqualTo(6);
            assertThat(list.getBytes(5)).containsExactly(9);
            assertThat(list.set(0, 7)).isEqualTo(1L);
            assertThat(list.set(1, 0.5f)).isEqualTo(2.5);
            assertThat(list.set(2, (short) 3)).isEqualTo(true);
            assertThat(list.set(3, false)).isNull();
            assertThat(list.subList(0, 4)).containsExactly(7L, 0.5, 3L, false);
            assertThat(ShareableList.wrap(region)).as("another view").hasSize(6).startsWith(7L, 0.5, 3L, false);
            // as Python's index: bytes by value, whole numbers and floats by what they are stored as (helper-108)
            assertThat(list.indexOf(new byte[] {9})).isEqualTo(5);
            assertThat(list.contains(new byte[] {9})).isTrue();
            assertThat(list.indexOf(7)).isEqualTo(0);
            assertThat(list.indexOf((short) 3)).isEqualTo(2);
            assertThat(list.lastIndexOf(0.5f)).isEqualTo(1);
            assertThat(list.indexOf(null)).isEqualTo(-1);
            assertThat(list.indexOf(new byte[] {8})).isEqualTo(-1);
            assertThat(list.toString()).endsWith(" [7, 0.5, 3, false, abc, [9]]");
        }
    }

    /**
     * helper-133: each read of a bytes item makes a new array, so AbstractList's hashCode changed from call to call on
     * an unchanged list and a list never equalled another view of itself. Items compare as indexOf compares them.
     */
    @Test
    void shouldHashAndCompareBytesItemsByTheirBytes() {
        try (SharedMemory region = SharedMemory.anonymous(ShareableList.byteSize(ITEMS));
             ShareableList list = ShareableList.create(region, ITEMS)) {
            ShareableList view = ShareableList.wrap(region);
            assertThat(list.hashCode()).as("stable").isEqualTo(list.hashCode()).isEqualTo(view.hashCode());
            assertThat(list).isEqualTo(view);
            java.util.ArrayList<Object> copy = new java.util.ArrayList<>(view);
            assertThat(list.equals(copy)).as("symmetric with a JDK list, which compares arrays by identity")
                    .isEqualTo(copy.equals(list)).isFalse();
            assertThat(view.subList(0, 5)).isEqualTo(copy.subList(0, 5));
            try (SharedMemory plain = SharedMemory.anonymous(ShareableList.byteSize(List.of(1L, "a")));
                 ShareableList noBytes = ShareableList.create(plain, List.of(1L, "a"))) {
                assertThat(noBytes.equals(List.of(1L, "a"))).isTrue();
                assertThat(List.of(1L, "a").equals(noBytes)).isTrue();
                assertThat(noBytes.hashCode()).isEqualTo(List.of(1L, "a").hashCode());
                assertThat(noBytes.equals(list)).isFalse();
            }
            int before = list.hashCode();
            view.set(5, new byte[] {8});
            assertThat(list.hashCode()).as("another item, another hash").isNotEqualTo(before);
        }
    }

    @Test
    void shouldRefuseWhatPythonCouldNotReadBack() {
        try (ShareableList list = ShareableList.create(names.unique("refusals"), ITEMS)) {
            String item4 = "item 4 of ShareableList '" + list.region().name().orElseThrow() + "'";
            assertThatThrownBy(() -> list.set(4, "ab\0")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(item4 + ": a String ending in a NUL byte (expected: none, since CPython's"
                            + " ShareableList strips trailing NULs on read, python/cpython#96779, so the value would"
                            + " not read back)");
            assertThatThrownBy(() -> list.set(5, new byte[]{1, 0})).hasMessageContaining("byte[] ending in a NUL");
            assertThatThrownBy(() -> list.set(4, "\uD800")).hasMessageContaining("unpaired surrogate");
            assertThatThrownBy(() -> list.set(4, "nine char")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(item4 + ": a STRING of 9 bytes (expected: at most 8, the slot size fixed at"
                            + " creation; Python raises ValueError: bytes/str item exceeds available storage)");
            assertThatThrownBy(() -> list.set(4, BigInteger.ONE)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("value of java.math.BigInteger (expected: Long, Integer");
            assertThatThrownBy(() -> list.getLong(4)).isInstanceOf(ClassCastException.class)
                    .hasMessage(item4 + " is a STRING (expected: a LONG)");
            assertThatThrownBy(() -> list.add(1L)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessage("ShareableList '" + list.region().name().orElseThrow() + "': add refused: the length"
                            + " is fixed at 6 items (as Python's ShareableList; set an item instead, or make a new"
                            + " list)");
            assertThatThrownBy(() -> list.remove(0)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("remove refused: the length is fixed at 6 items");
            assertThatThrownBy(list::clear).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("remove refused");
            assertThat(list.get(4)).as("unchanged by the refusals").isEqualTo("abc");
            assertThatThrownBy(() -> ShareableList.create(names.unique("long"), List.of("x".repeat(9_999_992))))
                    .hasMessageContaining("at most 9999991");
        }
    }

    @Test
    void shouldNameTheListAndItsLengthForABadIndex() {
        try (ShareableList list = ShareableList.create(names.unique("index"), ITEMS)) {
            String expected = "ShareableList '" + list.region().name().orElseThrow() + "': index=%d (expected: 0..5,"
                    + " the list's fixed length is 6)";
            assertThatThrownBy(() -> list.get(6)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage(expected, 6);
            assertThatThrownBy(() -> list.setLong(-1, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage(expected, -1);
            assertThatThrownBy(() -> list.capacity(6)).isInstanceOf(IndexOutOfBoundsException.class);
            String list6 = "ShareableList '" + list.region().name().orElseThrow() + "': ";
            assertThatThrownBy(() -> list.subList(0, 7)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage(list6 + "subList(0, 7) (expected: 0 <= from <= to <= 6, the list's fixed length)");
            assertThatThrownBy(() -> list.subList(3, 2)).hasMessageContaining("subList(3, 2)");
            assertThatThrownBy(() -> list.listIterator(7)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage(list6 + "listIterator(7) (expected: 0..6, the list's fixed length)");
            assertThat(list.subList(1, 3)).containsExactly(list.get(1), list.get(2));
            assertThat(list.listIterator(6).hasNext()).isFalse();
        }
        try (ShareableList empty = ShareableList.create(names.unique("empty"), List.of())) {
            assertThatThrownBy(() -> empty.setLong(3, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("ShareableList '" + empty.region().name().orElseThrow() + "': index=3 (the list is"
                            + " empty: its fixed length is 0)");
        }
    }

    @Test
    void shouldNameTheListUsedAfterItsRegionClosed() {
        ShareableList list = ShareableList.create(names.unique("closed"), ITEMS);
        String name = "ShareableList '" + list.region().name().orElseThrow() + "'";
        list.close();
        assertThatThrownBy(() -> list.get(0)).isInstanceOf(IllegalStateException.class)
                .hasMessage(name + " cannot be used: its region is closed");
        assertThatThrownBy(() -> list.setLong(1, 2)).hasMessage(name + " cannot be used: its region is closed");
        assertThatThrownBy(() -> list.getString(3)).hasMessage(name + " cannot be used: its region is closed");
        assertThatThrownBy(list::size).as("helper-125: it answered after close")
                .hasMessage(name + " cannot be used: its region is closed");
        assertThat(list).hasToString(name + " (closed)");
    }

    @Test
    void shouldRefuseDamagedBytes() {
        long size = ShareableList.byteSize(ITEMS);
        long formats = 8 * 8 + 48;
        assertDamaged(size, 0, -1L, "item count=-1 (expected: 0..6 for a region of 166 bytes");
        assertDamaged(size, 0, 1_000L, "item count=1000");
        assertDamaged(size, 8, 8L, "offset of item 0=8 (expected: 0,");
        assertDamaged(size, 16, 12L, "offset of item 1=12 (expected: 0 plus a multiple of 8 from 8 to 9999992");
        assertDamaged(size, 7 * 8, 4096L, "offset of item 6=4096");
        assertDamaged(size, formats, ListLayout.format("z"), "item 0 of ShareableList");
        assertDamaged(size, formats + 4 * 8, ListLayout.format("16s"), "format=\"16s\\x00");
        try (SharedMemory region = SharedMemory.anonymous(size)) {
            ShareableList.create(region, ITEMS);
            region.segment().set(JAVA_BYTE, formats + 6 * 8 + 2, (byte) 9);
            assertThatThrownBy(() -> ShareableList.wrap(region)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("item 2 of ShareableList anonymous@" + region.segment().address()
                            + " is corrupted: format=\"xxxxxxx?\", code=9 (expected: q, d, xxxxxxx? with"
                            + " code 0; <n>s with n <= 8 and code 1 or 2; xxxxxx?x with code 3; or one of these formats"
                            + " with another of these codes, left by a kind change cut between its two stores)");
        }
        try (SharedMemory tiny = SharedMemory.anonymous(8)) {
            assertThatThrownBy(() -> ShareableList.wrap(tiny)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("too short for a ShareableList: 8 bytes");
        }
    }

    /**
     * A kind change writes the value, the format, then the code: a writer killed between the last two leaves an item
     * whose format and code disagree, which reads by its format (the kind of the value in the slot) and which the next
     * write sets whole. Before, such an item made the whole list refuse to open, and {@code set} (which reads the
     * previous item) refuse too (an outside sweep: 4 lists of about 153 writers killed mid-change).
     */
    @Test
    void shouldReadAKindChangeCutBetweenFormatAndCodeByItsFormat() {
        long size = ShareableList.byteSize(ITEMS);
        long data = 8 * 8;
        long formats = data + 48;
        try (SharedMemory region = SharedMemory.anonymous(size)) {
            ShareableList.create(region, ITEMS);
            MemorySegment bytes = region.segment();
            bytes.set(JAVA_LONG, data + 3 * 8, 42L); // None -> 42, cut before the code
            bytes.set(JAVA_LONG, formats + 3 * 8, ListLayout.format("q"));
            bytes.set(JAVA_LONG, data + 4 * 8, 7L); // "abc" -> 7
            bytes.set(JAVA_LONG, formats + 4 * 8, ListLayout.format("q"));
            bytes.set(JAVA_LONG, data, 0L); // 1 -> "hi" (or b"hi")
            MemorySegment.copy(new byte[]{'h', 'i'}, 0, bytes, JAVA_BYTE, data, 2);
            bytes.set(JAVA_LONG, formats, ListLayout.format("8s"));
            ShareableList list = ShareableList.wrap(region);
            assertThat(list.kind(3)).isEqualTo(ShareableList.Kind.LONG);
            assertThat(list.subList(3, 5)).containsExactly(42L, 7L);
            assertThat(list.kind(0)).isEqualTo(ShareableList.Kind.BYTES);
            assertThat(list.getBytes(0)).containsExactly('h', 'i');
            assertThat(list.set(0, "hi")).isEqualTo(new byte[]{'h', 'i'});
            assertThat(list.set(3, null)).isEqualTo(42L);
            assertThat(list.set(4, "xyz")).isEqualTo(7L);
            assertThat(list).containsExactly("hi", 2.5, true, null, "xyz", new byte[]{9});
            assertThat(list.kind(0)).as("the next write set the code too").isEqualTo(ShareableList.Kind.STRING);
        }
    }

    /**
     * A kind change from str writes the new value before the format: a writer killed between the two leaves a
     * number's bytes under the str format. Reading the item says so; {@code set} (which returns the previous item)
     * still writes it whole, returning the slot's bytes (an outside sweep: {@code set} threw after 4 of 80 kills,
     * and only {@code setLong} could repair the item).
     */
    @Test
    void shouldOverwriteAStrItemLeftHalfChangedToANumber() {
        long size = ShareableList.byteSize(ITEMS);
        long data = 8 * 8;
        try (SharedMemory region = SharedMemory.anonymous(size)) {
            ShareableList list = ShareableList.create(region, ITEMS);
            long number = 0x9C9C_9C9C_9C9C_9C9CL; // not UTF-8
            region.segment().set(JAVA_LONG, data + 4 * 8, number); // "abc" -> number, killed before the format
            assertThatThrownBy(() -> list.get(4)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("item 4 of ShareableList").hasMessageContaining("not valid UTF-8")
                    .hasMessageContaining("a writer killed while it changed the item's kind");
            byte[] slot = new byte[8];
            MemorySegment.copy(region.segment(), JAVA_BYTE, data + 4 * 8, slot, 0, 8);
            assertThat(list.set(4, "ok")).as("the slot's bytes").isEqualTo(slot);
            assertThat(list.get(4)).isEqualTo("ok");
            list.setLong(4, number);
            assertThat(list.set(4, "again")).as("a whole kind change reads as its kind").isEqualTo(number);
        }
    }

    /**
     * CPython's {@code struct.pack_into} zero-fills an item's 8 format bytes, then copies its format in, on every
     * write: a CPython writer SIGKILLed between the two leaves the item with no format, or one cut short (an outside
     * sweep: after 265 kills of a Python process rewriting one item, format empty, code 0). Python still opens that
     * list and reads its other items; this class refused to open it, so nothing in it could be read or repaired.
     */
    @Test
    void shouldOpenAListWhoseCPythonWriterWasKilledWritingAFormat() {
        long formats = 8 * 8 + 48;
        try (SharedMemory region = SharedMemory.anonymous(ShareableList.byteSize(ITEMS))) {
            ShareableList.create(region, ITEMS);
            region.segment().set(JAVA_LONG, formats, 0L); // item 0 (q): zero-filled, killed before the copy
            region.segment().set(JAVA_LONG, formats + 4 * 8, ListLayout.format("8")); // item 4 (8s): cut after "8"
            ShareableList list = ShareableList.wrap(region);
            assertThat(list.subList(1, 4)).containsExactly(2.5, true, null);
            assertThatThrownBy(() -> list.get(4)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("item 4 of ShareableList").hasMessageContaining("format=\"8\\x00")
                    .hasMessageContaining("a CPython writer killed while it wrote the format");
            assertThat(list.set(4, "ok")).as("the slot's bytes").isEqualTo(new byte[]{'a', 'b', 'c', 0, 0, 0, 0, 0});
            list.setLong(0, 7);
            assertThat(list).containsExactly(7L, 2.5, true, null, "ok", new byte[]{9});
        }
    }

    /**
     * CPython's {@code ShareableList} makes its region under its name (empty, then zero-filled), and then writes the
     * count, offsets, items, formats and codes: a Java process that opened it as soon as the name appeared got an
     * empty list, a {@code ShmFormatException} ("is empty"), or a str read as bytes (an outside sweep: 8 of 30 opens
     * beside a Python process creating 2,001-item lists read an empty list). {@code open} now reads a list that looks
     * half-made again for up to 1 s.
     */
    @Test
    void shouldWaitForAListItsCPythonCreatorIsStillFilling() throws Exception {
        String name = names.unique("half-made");
        Path file = SharedMemory.SHM_DIR.resolve(name);
        Files.createFile(file); // shm_open(O_CREAT | O_EXCL): empty
        AtomicReference<Object> opened = new AtomicReference<>();
        Thread opener = Thread.ofPlatform().start(() -> {
            try (ShareableList list = ShareableList.open(name)) {
                opened.set(new ArrayList<>(list));
            } catch (RuntimeException e) {
                opened.set(e);
            }
        });
        Await.until("the opener seen parked, or done", BOUND, () -> opener.getState() == Thread.State.TIMED_WAITING
                || opener.getState() == Thread.State.TERMINATED);
        try (RandomAccessFile ftruncate = new RandomAccessFile(file.toFile(), "rw")) {
            ftruncate.setLength(ShareableList.byteSize(ITEMS)); // zero-filled
        }
        try (SharedMemory region = SharedMemory.open(name)) {
            ShareableList.create(region, ITEMS); // the creator fills it now
        }
        assertThat(opener.join(BOUND)).as("the opener ended").isTrue();
        assertThat(opened.get()).asInstanceOf(InstanceOfAssertFactories.LIST).containsExactlyElementsOf(ITEMS);
    }

    /**
     * Since open waits for a list a CPython creator is still filling, a region of another kind was refused only after
     * that 1 s (a heap: 1,007 ms). A region too short for a list, or an item count it has no room for, is no
     * creator's half-made list (CPython sizes its region before it writes the count): refused at once.
     */
    @Test
    void shouldRefuseARegionOfAnotherKindAtOnce() {
        String heapName = names.unique("a-heap");
        String shortName = names.unique("short");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16);
             SharedMemory tooShort = SharedMemory.create(shortName, 8)) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> ShareableList.open(heapName)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining(heapName).hasMessageContaining("item count=");
            assertThatThrownBy(() -> ShareableList.open(shortName)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("too short for a ShareableList: 8 bytes");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("refused without waiting")
                    .isLessThan(Duration.ofMillis(500));
        }
    }

    /**
     * An all-zero region reads as no items, which open took for a list its CPython creator had not written yet, and
     * read again for 1 s before it returned an empty list, whatever the region's size. CPython sizes a list of N items
     * exactly, 8 (N + 2) + slots + 9 N bytes, so no items in a size none of N >= 1 takes is final: the empty list
     * (here written by {@code create(region, List.of())}, as Python also reads it), at once, well inside that second.
     * (A size some N takes is still waited for: shouldWaitForAListItsCPythonCreatorIsStillFilling.)
     */
    @Test
    void shouldOpenNoItemsInASizeNoCreatorOfALongerListMakesAtOnce() {
        for (long size : new long[] {24, 33, 48, 208}) { // N items take a size = N (mod 8), at least 16 + 25 N
            String name = names.unique("zeros-" + size);
            try (SharedMemory region = SharedMemory.create(name, size)) {
                ShareableList.create(region, List.of()).close();
                try (ShareableList opened = assertTimeout(Duration.ofMillis(900), () -> ShareableList.open(name))) {
                    assertThat(opened).as("%d bytes", size).isEmpty();
                }
            }
        }
    }

    private static void assertDamaged(long size, long offset, long value, String message) {
        try (SharedMemory region = SharedMemory.anonymous(size)) {
            ShareableList.create(region, ITEMS);
            region.segment().set(JAVA_LONG, offset, value);
            assertThatThrownBy(() -> ShareableList.wrap(region)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining(message);
        }
    }

    /**
     * A read that finds its item malformed reads it again for up to 1 s (a CPython writer may be half-way through
     * it), parking between reads; a park returns at once while the thread's interrupt is pending, so an interrupted
     * reader spun that second (885 ms of CPU; a virtual reader kept its carrier). It now takes the interrupt while it
     * retries, parks, and sets the interrupt again as it returns or throws.
     */
    @Test
    void shouldParkAnInterruptedReaderRetryingAMalformedItemAndKeepItsInterrupt() throws Exception {
        long formats = 8 * 8 + 48;
        try (SharedMemory region = SharedMemory.anonymous(ShareableList.byteSize(ITEMS));
             ShareableList list = ShareableList.create(region, ITEMS)) {
            region.segment().set(JAVA_BYTE, formats + 6 * 8 + 2, (byte) 9); // item 2: malformed until 1 s passed
            InterruptedWaiter reader = InterruptedWaiter.run("reader", () -> list.get(2));
            assertThat(reader.seenParked()).as("the interrupted reader was seen parked while it retried").isTrue();
            assertThat(reader.thrown()).isInstanceOf(ShmFormatException.class);
            assertThat(reader.keptInterrupt()).as("the reader kept its interrupt").isTrue();
        }
    }
}
