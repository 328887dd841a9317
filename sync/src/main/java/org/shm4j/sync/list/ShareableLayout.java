package org.shm4j.sync.list;

import org.shm4j.core.ShmFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.List;
import java.util.function.IntFunction;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.list.ListLayout.PY_BOOLEAN_BYTE;
import static org.shm4j.sync.list.ListLayout.PY_COUNT_OFFSET;
import static org.shm4j.sync.list.ListLayout.PY_MAX_SLOT;
import static org.shm4j.sync.list.ListLayout.PY_OFFSETS_OFFSET;
import static org.shm4j.sync.list.ListLayout.PY_WORD;

/**
 * A {@link ShareableList}'s bytes as a whole, in CPython's layout (the table is in that class's Javadoc): the size a
 * list of given items takes, writing a new list, and reading and checking the count and offsets of an existing one.
 * {@link ShareableSlots} reads and writes its items.
 */
final class ShareableLayout {
    /** The 8-byte word of a Python {@code True}: its bool in byte {@link ListLayout#PY_BOOLEAN_BYTE}. */
    static final long TRUE_WORD = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN
            ? 1L << (8 * PY_BOOLEAN_BYTE) : 1L;

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private ShareableLayout() {
    }

    /**
     * @param what the list, for messages
     * @return the bytes Python's layout takes for {@code items}: {@code 8 (N + 2)}, the slots, then 9 per item
     * @throws IllegalArgumentException if an item is refused as by {@link ShareableList#create(String, List)}
     */
    static long byteSize(List<?> items, String what) {
        long slots = 0;
        IntFunction<String> names = i -> what + " item " + i;
        for (int i = 0; i < items.size(); i++) {
            slots += slotOf(items.get(i), names, i);
        }
        return (long) PY_WORD * (items.size() + 2) + slots + (long) (PY_WORD + 1) * items.size();
    }

    private static int slotOf(Object item, IntFunction<String> names, int index) {
        ShareableList.Kind kind = PythonItems.kindOf(item, names, index);
        return PythonItems.slotBytes(kind, kind == ShareableList.Kind.STRING || kind == ShareableList.Kind.BYTES
                ? PythonItems.encode(item, names, index) : null, names, index);
    }

    /** Writes the whole layout: count, offsets, slots, formats, codes. Plain: the list is handed out after this. */
    static void write(MemorySegment segment, List<?> items, String what) {
        int n = items.size();
        long dataStart = (long) PY_WORD * (n + 2);
        long[] offsets = new long[n + 1];
        IntFunction<String> names = i -> "item " + i + " of " + what;
        for (int i = 0; i < n; i++) {
            offsets[i + 1] = offsets[i] + slotOf(items.get(i), names, i);
        }
        segment.set(JAVA_LONG, PY_COUNT_OFFSET, n);
        MemorySegment.copy(offsets, 0, segment, JAVA_LONG, PY_OFFSETS_OFFSET, n + 1);
        long formatsStart = dataStart + offsets[n];
        for (int i = 0; i < n; i++) {
            Object item = items.get(i);
            ShareableList.Kind kind = PythonItems.kindOf(item, names, i);
            long slot = dataStart + offsets[i];
            int capacity = (int) (offsets[i + 1] - offsets[i]);
            segment.asSlice(slot, capacity).fill((byte) 0);
            switch (kind) {
                case LONG -> segment.set(JAVA_LONG, slot, ((Number) item).longValue());
                case DOUBLE -> segment.set(JAVA_LONG, slot, Double.doubleToRawLongBits(((Number) item).doubleValue()));
                case BOOLEAN -> segment.set(JAVA_LONG, slot, (Boolean) item ? TRUE_WORD : 0L);
                case NONE -> { }
                case STRING, BYTES -> {
                    byte[] bytes = PythonItems.encode(item, names, i);
                    MemorySegment.copy(bytes, 0, segment, JAVA_BYTE, slot, bytes.length);
                }
            }
            segment.set(JAVA_LONG, formatsStart + (long) PY_WORD * i, PythonItems.format(kind, capacity));
            segment.set(JAVA_BYTE, formatsStart + (long) PY_WORD * n + i, PythonItems.code(kind));
        }
    }

    /**
     * @return the N + 1 offsets, checked: N fits the region, offsets start at 0 and grow by multiples of 8 (at least
     *         8, at most the largest slot a format can name), and the formats and codes fit the region
     */
    static long[] readOffsets(MemorySegment segment, String what) {
        long size = segment.byteSize();
        if (size < 2L * PY_WORD) {
            throw new ShmFormatException(what + " is too short for a ShareableList: " + size
                    + " bytes (expected: at least 16)");
        }
        long n = segment.get(JAVA_LONG, PY_COUNT_OFFSET); // plain: written once at creation
        long most = mostItems(size);
        if (n < 0 || n > most) {
            throw new ShmFormatException(what + " is corrupted: item count=" + n + " (expected: 0.." + most
                    + " for a region of " + size + " bytes)");
        }
        long[] offsets = new long[(int) n + 1];
        MemorySegment.copy(segment, JAVA_LONG, PY_OFFSETS_OFFSET, offsets, 0, (int) n + 1);
        long room = size - PY_WORD * (n + 2) - (PY_WORD + 1) * n;
        for (int i = 0; i <= n; i++) {
            long step = i == 0 ? offsets[0] : offsets[i] - offsets[i - 1];
            boolean bad = i == 0 ? step != 0 : step < PY_WORD || step > PY_MAX_SLOT || step % PY_WORD != 0;
            if (bad || offsets[i] > room) {
                throw new ShmFormatException(what + " is corrupted: offset of item " + i + "=" + offsets[i]
                        + " (expected: " + (i == 0 ? "0" : offsets[i - 1] + " plus a multiple of 8 from 8 to "
                        + PY_MAX_SLOT) + ", at most " + room + " for a region of " + size + " bytes)");
            }
        }
        return offsets;
    }

    /**
     * @return true if {@code segment} can hold no list: shorter than an empty one, or an item count it has no room
     *         for (a heap, say). No creator ever leaves that: CPython sizes its region before it writes the count, and
     *         {@link ShareableList#create(String, List)} names its region once written; so
     *         {@link ShareableList#open} refuses it at once.
     */
    static boolean noListEver(MemorySegment segment) {
        long size = segment.byteSize();
        if (size < 2L * PY_WORD) {
            return true;
        }
        long n = (long) LONG.getOpaque(segment, PY_COUNT_OFFSET); // opaque: a creator may be writing it (never torn)
        return n < 0 || n > mostItems(size);
    }

    /**
     * @return true if a creator of a list of one or more items makes a region of {@code size} bytes: CPython sizes it
     *         exactly, as {@link #byteSize}, {@code 8 (N + 2) + 8 k + 9 N} bytes for N items in k slot words, k >= N;
     *         so for some N >= 1, N = size (mod 8) and size >= 16 + 25 N (the largest slot left aside: a size only
     *         it rules out is waited for all the same)
     */
    static boolean someListsSize(long size) {
        long items = size % PY_WORD == 0 ? PY_WORD : size % PY_WORD; // the fewest items of a list of that size
        return size - 2L * PY_WORD >= (3L * PY_WORD + 1) * items;
    }

    /** @return the most items a list in a region of {@code size} bytes (at least 16) has room for */
    private static long mostItems(long size) {
        return (size - 2L * PY_WORD) / (2L * PY_WORD + PY_WORD + 1);
    }
}
