package org.shm4j.sync.list;

import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.Settling;
import org.shm4j.sync.list.ShareableList.Kind;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.function.IntFunction;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.list.ListLayout.PY_BOOLEAN_BYTE;
import static org.shm4j.sync.list.ListLayout.PY_WORD;

/**
 * The items of one {@link ShareableList}, in CPython's layout (the table and the rules of racing readers and writers
 * are in that class's Javadoc): each item's slot, format word and back-transform code, read and written with the
 * access modes that Javadoc gives, and read again while a writer in another process may be half-way through an item.
 * Every access checks the index, and that the region is still mapped.
 */
final class ShareableSlots {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle BYTE = JAVA_BYTE.varHandle();
    /**
     * How long a read that finds an item malformed (no kind's format, or a str that is not UTF-8) reads it again
     * before it reports the item corrupted: a writer in another process may be half-way through it, and may lose its
     * CPU there for a while (see {@link Settling}).
     */
    static final long MALFORMED_SETTLE_NANOS = 1_000_000_000; // 100 ms was seen to pass on a loaded machine
    /**
     * How long a read that finds an item's format and code disagreeing reads it again before it reads the item by its
     * format: shorter, since a writer killed between the two leaves that state until the item's next write.
     */
    private static final long DISAGREEING_SETTLE_NANOS = 10_000_000;

    private final MemorySegment segment;
    private final String what;
    /** Names an item for a message ({@link #item}), built only when one is thrown: a set allocates no name. */
    private final IntFunction<String> itemNames = this::item;
    private final long[] offsets;
    private final long dataStart;
    private final long formatsStart;
    private final long codesStart;

    /**
     * Reads the count and offsets of the list in {@code segment} and checks every item.
     *
     * @param what the list, for messages
     * @throws ShmFormatException if the bytes are not a valid list
     */
    ShareableSlots(MemorySegment segment, String what) {
        this.segment = segment;
        this.what = what;
        this.offsets = ShareableLayout.readOffsets(segment, what);
        int n = offsets.length - 1;
        this.dataStart = (long) PY_WORD * (n + 2);
        this.formatsStart = dataStart + offsets[n];
        this.codesStart = formatsStart + (long) PY_WORD * n;
        for (int i = 0; i < n; i++) {
            checkItem(i);
        }
    }

    /**
     * Refuses a list with a damaged item now rather than at its first read, without waiting for a writer: every state
     * a live writer leaves passes. Neither an item whose format and code disagree (read by its format: see
     * {@link #kind}) nor one whose format a CPython writer was killed writing ({@link PythonItems#cutFormat}: refused
     * by {@link #read}, written whole by {@link #set}) is damage, as Python opens such a list too.
     */
    private void checkItem(int index) {
        int capacity = (int) (offsets[index + 1] - offsets[index]);
        long format = formatWord(index);
        byte code = codeByte(index);
        if (PythonItems.kindOrNull(format, code, capacity) == null
                && !PythonItems.cutFormat(format, code, capacity)) {
            throw PythonItems.corrupt(format, code, capacity, item(index));
        }
    }

    /**
     * @return true if the list reads as one a CPython creator has not finished: no items in a region larger than an
     *         empty list (still all zeros), or an item whose format is missing or disagrees with its code (the formats
     *         are written after the items, the codes last)
     */
    boolean halfMade() {
        int n = length();
        if (n == 0) {
            return segment.byteSize() > dataStart;
        }
        for (int i = 0; i < n; i++) {
            if (PythonItems.pairKind(formatWord(i), codeByte(i), (int) (offsets[i + 1] - offsets[i])) == null) {
                return true;
            }
        }
        return false;
    }

    /** @return the number of items, fixed at creation (known without the region) */
    int length() {
        return offsets.length - 1;
    }

    /** @return true while the region is mapped */
    boolean isOpen() {
        return segment.scope().isAlive();
    }

    /** @return the kind of the item at {@code index}, as {@link ShareableList#kind} */
    Kind kind(int index) {
        checkIndex(index);
        int capacity = (int) (offsets[index + 1] - offsets[index]);
        Settling settling = null;
        try {
            while (true) {
                long format = formatWord(index);
                byte code = codeByte(index);
                Kind kind = PythonItems.pairKind(format, code, capacity);
                if (kind != null) {
                    return kind;
                }
                // a CPython writer half-way through it (see Settling): read again, a while
                Kind byFormat = PythonItems.kindOrNull(format, code, capacity);
                if (byFormat != null && Settling.waited(settling, DISAGREEING_SETTLE_NANOS)) {
                    return byFormat; // a kind change cut between its two stores: see the class doc
                }
                if (byFormat == null && Settling.waited(settling, MALFORMED_SETTLE_NANOS)) {
                    throw PythonItems.corrupt(format, code, capacity, item(index)); // the name is built only to throw
                }
                settling = Settling.pause(settling);
            }
        } finally {
            Settling.end(settling);
        }
    }

    /** @return the bytes of the item's slot, as {@link ShareableList#capacity} */
    int capacity(int index) {
        checkIndex(index);
        return (int) (offsets[index + 1] - offsets[index]);
    }

    /** @return the 8-byte word of the item at {@code index}, checked to hold a {@code expected} */
    long getWord(int index, Kind expected) {
        return (long) LONG.getOpaque(segment, typedSlot(index, expected)); // opaque: see the class doc
    }

    /** @return the item at {@code index} as a boolean @throws ClassCastException if it is not a boolean */
    boolean getBoolean(int index) {
        return (byte) BYTE.getOpaque(segment, typedSlot(index, Kind.BOOLEAN) + PY_BOOLEAN_BYTE) != 0;
    }

    /** Replaces the item at {@code index}, as {@link ShareableList#set}. @return the previous item */
    Object set(int index, Object value) {
        Object previous;
        try {
            previous = read(index, null);
        } catch (ShmFormatException unreadable) {
            previous = segment.asSlice(slot(index), capacity(index)).toArray(JAVA_BYTE); // plain: see class doc
        }
        Kind kind = PythonItems.kindOf(value, itemNames, index);
        switch (kind) {
            case LONG -> setWord(index, kind, ((Number) value).longValue());
            case DOUBLE -> setWord(index, kind, Double.doubleToRawLongBits(((Number) value).doubleValue()));
            case BOOLEAN -> setWord(index, kind, (Boolean) value ? ShareableLayout.TRUE_WORD : 0L);
            case NONE -> setWord(index, kind, 0L);
            case STRING, BYTES -> writeText(index, kind, PythonItems.encode(value, itemNames, index));
        }
        return previous;
    }

    /** Sets the item at {@code index} to the 8-byte {@code word} of a {@code kind}, and its format and code. */
    void setWord(int index, Kind kind, long word) {
        LONG.setOpaque(segment, slot(index), word); // opaque: not torn; the list promises no ordering (see class doc)
        writeKind(index, kind);
    }

    /** @return the slot of the item at {@code index}, checked to hold a {@code expected} */
    private long typedSlot(int index, Kind expected) {
        Kind kind = kind(index);
        if (kind != expected) {
            throw wrongKind(index, kind, expected);
        }
        return dataStart + offsets[index]; // kind() checked the index
    }

    private ClassCastException wrongKind(int index, Kind kind, Kind expected) {
        return new ClassCastException(item(index) + " is a " + kind + " (expected: a " + expected + ")");
    }

    private void writeText(int index, Kind kind, byte[] bytes) {
        int capacity = capacity(index);
        if (bytes.length > capacity) {
            throw new IllegalArgumentException(item(index) + ": a " + kind + " of " + bytes.length + " bytes"
                    + " (expected: at most " + capacity + ", the slot size fixed at creation; Python raises"
                    + " ValueError: bytes/str item exceeds available storage)");
        }
        long slot = slot(index);
        MemorySegment.copy(bytes, 0, segment, JAVA_BYTE, slot, bytes.length); // plain: see class doc
        segment.asSlice(slot + bytes.length, capacity - bytes.length).fill((byte) 0);
        writeKind(index, kind);
    }

    private void writeKind(int index, Kind kind) {
        // opaque, after the value in program order only (no ordering: a reader may pair either kind with either
        // value, see the class doc), so never a torn format
        LONG.setOpaque(segment, formatsStart + (long) PY_WORD * index, PythonItems.format(kind, capacity(index)));
        BYTE.setOpaque(segment, codesStart + index, PythonItems.code(kind));
    }

    /**
     * Reads the item at {@code index}, again while its text reads malformed (see {@link Settling}), for up to
     * {@link #MALFORMED_SETTLE_NANOS}; its kind is read again each time ({@link #kind} settles on its own).
     *
     * @param expected the kind the caller asks for, or null for whatever kind the item holds
     * @throws ClassCastException if {@code expected} is not null and the item holds another kind
     */
    Object read(int index, Kind expected) {
        Settling settling = null;
        try {
            while (true) {
                Kind kind = kind(index);
                if (expected != null && kind != expected) {
                    throw wrongKind(index, kind, expected);
                }
                long slot = dataStart + offsets[index]; // kind() checked the index
                try {
                    return switch (kind) {
                        case LONG -> (long) LONG.getOpaque(segment, slot);
                        case DOUBLE -> Double.longBitsToDouble((long) LONG.getOpaque(segment, slot));
                        case BOOLEAN -> (byte) BYTE.getOpaque(segment, slot + PY_BOOLEAN_BYTE) != 0;
                        case NONE -> null;
                        case STRING, BYTES -> readText(index, kind, slot);
                    };
                } catch (ShmFormatException malformed) { // from readText only
                    if (Settling.waited(settling, MALFORMED_SETTLE_NANOS)) {
                        throw malformed;
                    }
                    settling = Settling.pause(settling);
                }
            }
        } finally {
            Settling.end(settling);
        }
    }

    private Object readText(int index, Kind kind, long slot) {
        long format = formatWord(index);
        int end = Math.max(PythonItems.stringLength(format, capacity(index)), 0);
        while (end > 0 && segment.get(JAVA_BYTE, slot + end - 1) == 0) { // plain: see class doc
            end--; // trailing NULs stripped, as Python does
        }
        byte[] bytes = new byte[end];
        MemorySegment.copy(segment, JAVA_BYTE, slot, bytes, 0, end); // plain: see class doc
        return PythonItems.decode(kind, bytes, itemNames, index);
    }

    /** @return the item's format word; opaque: no ordering with the value is promised (see class doc), never torn */
    private long formatWord(int index) {
        return (long) LONG.getOpaque(segment, formatsStart + (long) PY_WORD * index);
    }

    /** @return the item's back-transform code; opaque, as {@link #formatWord} */
    private byte codeByte(int index) {
        return (byte) BYTE.getOpaque(segment, codesStart + index);
    }

    private long slot(int index) {
        checkIndex(index);
        return dataStart + offsets[index];
    }

    /** Checks the index, and that the region is still mapped (every item access starts here). */
    private void checkIndex(int index) {
        int length = length();
        if (index < 0 || index >= length) {
            throw new IndexOutOfBoundsException(what + ": index=" + index + (length == 0
                    ? " (the list is empty: its fixed length is 0)"
                    : " (expected: 0.." + (length - 1) + ", the list's fixed length is " + length + ")"));
        }
        checkOpen();
    }

    /** @throws IllegalStateException naming the list if its region is closed */
    void checkOpen() {
        if (!isOpen()) {
            throw new IllegalStateException(what + " cannot be used: its region is closed");
        }
    }

    private String item(int index) {
        return "item " + index + " of " + what;
    }
}
