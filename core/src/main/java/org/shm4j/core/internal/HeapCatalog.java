package org.shm4j.core.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.ShmFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.core.internal.HeapLayout.ALLOC_TOP_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_ALIGNMENT_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_BYTE_SIZE_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_CHECKSUM_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_COUNT_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_LAYOUT_VERSION_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_LENGTH;
import static org.shm4j.core.internal.HeapLayout.ENTRY_NAME_LENGTH_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_NAME_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_OFFSET_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_TYPE_TAG_OFFSET;
import static org.shm4j.core.internal.HeapLayout.MAX_ALIGNMENT;
import static org.shm4j.core.internal.HeapLayout.MAX_NAME_BYTES;

/**
 * Reads and appends the catalog entries of a heap, validating every byte it reads.
 *
 * <p>Publication: entries are written with plain stores by the holder of the allocation lock, then published by a
 * release store of {@code entryCount}; readers load {@code entryCount} with acquire and read entries below it with
 * plain loads. A published entry never changes. {@code allocTop} is written under the lock with release and read
 * with acquire outside it.
 */
public final class HeapCatalog {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment heap;
    private final HeapHeader.Geometry geometry;
    private final String what;

    /** One validated catalog entry. */
    public record Entry(int index, String name, int typeTag, int layoutVersion, long offset, long byteSize,
                        long alignment) {
        /** @return the offset just past the entry's block: where the next block may start, at the earliest */
        public long end() {
            return offset + byteSize;
        }

        /** @return the block this entry names in {@code heap}, the whole heap's segment */
        public HeapBlock block(MemorySegment heap) {
            return new HeapBlock(name, new BlockType(typeTag, layoutVersion), offset, alignment,
                    heap.asSlice(offset, byteSize));
        }
    }

    /**
     * @param heap     the whole heap
     * @param geometry its validated geometry
     * @param what     the heap, for messages
     */
    public HeapCatalog(MemorySegment heap, HeapHeader.Geometry geometry, String what) {
        this.heap = heap;
        this.geometry = geometry;
        this.what = what;
    }

    /** @return the number of published entries, validated against the capacity */
    public int count() {
        // acquire: publishes the entries below the count
        int count = (int) INT.getAcquire(heap, ENTRY_COUNT_OFFSET);
        if (count < 0 || count > geometry.catalogCapacity()) {
            throw new ShmFormatException(what + " has entryCount=" + count + " (expected: 0.."
                    + geometry.catalogCapacity() + ")");
        }
        return count;
    }

    /** @return where the data area, and so the first block, starts */
    public long dataOffset() {
        return geometry.dataOffset();
    }

    /** @return the first free data offset, validated against the data area */
    public long top() {
        // acquire: pairs with the release store in append
        long top = (long) LONG.getAcquire(heap, ALLOC_TOP_OFFSET);
        if (top < geometry.dataOffset() || top > geometry.heapSize()) {
            throw new ShmFormatException(what + " has allocTop=" + top + " (expected: " + geometry.dataOffset()
                    + ".." + geometry.heapSize() + ")");
        }
        return top;
    }

    /**
     * @return the published entry named {@code name}, or null
     * @throws ShmFormatException if an entry up to it is corrupted or overlaps the block before it
     */
    public Entry find(byte[] name) {
        int count = count();
        long previousEnd = geometry.dataOffset();
        for (int i = 0; i < count; i++) {
            Entry entry = entryAfter(i, previousEnd);
            if (Arrays.equals(name, entry.name().getBytes(StandardCharsets.UTF_8))) {
                return entry;
            }
            previousEnd = entry.end();
        }
        return null;
    }

    /**
     * @return every published entry, in allocation order
     * @throws ShmFormatException if an entry is corrupted or overlaps the block before it
     */
    public List<Entry> entries() {
        int count = count();
        List<Entry> entries = new ArrayList<>(count);
        long previousEnd = geometry.dataOffset();
        for (int i = 0; i < count; i++) {
            Entry entry = entryAfter(i, previousEnd);
            entries.add(entry);
            previousEnd = entry.end();
        }
        return entries;
    }

    /**
     * Reads and validates entry {@code index} (below {@link #count()}), which must start at or after
     * {@code previousEnd}, the end of the block before it: blocks are allocated upwards and never move, so each
     * block starting where the one before it ends, or later, is what keeps any two blocks apart.
     *
     * @throws ShmFormatException if the entry is corrupted or overlaps the block before it
     */
    public Entry entryAfter(int index, long previousEnd) {
        Entry entry = entry(index);
        if (entry.offset() < previousEnd) {
            throw corrupt(index, "block '" + entry.name() + "' at offset=" + entry.offset()
                    + " overlaps the block before it, which ends at " + previousEnd);
        }
        return entry;
    }

    /**
     * Reads and validates entry {@code index} (below {@link #count()}) on its own, without the block before it.
     *
     * @throws ShmFormatException if the entry is corrupted
     */
    public Entry entry(int index) {
        MemorySegment e = heap.asSlice(HeapLayout.entryOffset(index), ENTRY_LENGTH);
        // plain loads: an entry below the count is immutable, and count()'s acquire published it
        if (e.get(JAVA_INT, ENTRY_CHECKSUM_OFFSET) != checksum(e)) {
            throw corrupt(index, "checksum mismatch");
        }
        int nameLength = e.get(JAVA_INT, ENTRY_NAME_LENGTH_OFFSET);
        if (nameLength < 1 || nameLength > MAX_NAME_BYTES) {
            throw corrupt(index, "nameLength=" + nameLength);
        }
        int layoutVersion = e.get(JAVA_INT, ENTRY_LAYOUT_VERSION_OFFSET);
        if (layoutVersion < 1) {
            throw corrupt(index, "layoutVersion=" + layoutVersion);
        }
        long offset = e.get(JAVA_LONG, ENTRY_OFFSET_OFFSET);
        long byteSize = e.get(JAVA_LONG, ENTRY_BYTE_SIZE_OFFSET);
        long alignment = e.get(JAVA_INT, ENTRY_ALIGNMENT_OFFSET);
        if (alignment <= 0 || alignment > MAX_ALIGNMENT || Long.bitCount(alignment) != 1
                || (offset & (alignment - 1)) != 0) {
            throw corrupt(index, "alignment=" + alignment + " offset=" + offset);
        }
        if (offset < geometry.dataOffset() || byteSize <= 0 || byteSize > geometry.heapSize() - offset) {
            throw corrupt(index, "offset=" + offset + " byteSize=" + byteSize);
        }
        return new Entry(index, decodeName(e, nameLength, index), e.get(JAVA_INT, ENTRY_TYPE_TAG_OFFSET),
                layoutVersion, offset, byteSize, alignment);
    }

    /**
     * Under the allocation lock: the first free byte of the data area, where the last of the {@code count} published
     * blocks ends (or the data area's start). allocTop says the same, unless an allocator died between its stores of
     * allocTop and entryCount in {@link #append}: no entry names the space it took, so allocTop is set back.
     *
     * @throws ShmFormatException if allocTop lies below the end of the last block
     */
    public long freeStart(int count) {
        long top = top();
        long end = end(count);
        if (top < end) {
            throw new ShmFormatException(what + " has allocTop=" + top + " below the end of its last block, " + end);
        }
        if (top > end) {
            LONG.setRelease(heap, ALLOC_TOP_OFFSET, end); // release: as in append
        }
        return end;
    }

    /**
     * @return where the last published block ends (or the data area's start): the first byte the next allocation
     *         takes, whatever allocTop an allocator killed between its stores of allocTop and entryCount left above it
     * @throws ShmFormatException if the count or the last entry is corrupted
     */
    public long publishedEnd() {
        return end(count());
    }

    /** @return where the last of the first {@code count} (published) blocks ends, or the data area's start */
    private long end(int count) {
        return count > 0 ? entry(count - 1).end() : geometry.dataOffset();
    }

    /**
     * Appends an entry. The caller holds the allocation lock, has checked that the name is new, that the catalog has
     * room and that {@code [offset, newTop)} lies in the data area.
     */
    public void append(int index, byte[] name, int typeTag, int layoutVersion, long offset, long byteSize,
                       long alignment, long newTop) {
        MemorySegment e = heap.asSlice(HeapLayout.entryOffset(index), ENTRY_LENGTH);
        // plain writes: the entry is published by the release store of entryCount below
        e.fill((byte) 0);
        e.set(JAVA_INT, ENTRY_TYPE_TAG_OFFSET, typeTag);
        e.set(JAVA_INT, ENTRY_LAYOUT_VERSION_OFFSET, layoutVersion);
        e.set(JAVA_LONG, ENTRY_OFFSET_OFFSET, offset);
        e.set(JAVA_LONG, ENTRY_BYTE_SIZE_OFFSET, byteSize);
        e.set(JAVA_INT, ENTRY_ALIGNMENT_OFFSET, (int) alignment);
        e.set(JAVA_INT, ENTRY_NAME_LENGTH_OFFSET, name.length);
        MemorySegment.copy(name, 0, e, JAVA_BYTE, ENTRY_NAME_OFFSET, name.length);
        e.set(JAVA_INT, ENTRY_CHECKSUM_OFFSET, checksum(e));
        // release: readers that see the new top see the entry's bytes
        LONG.setRelease(heap, ALLOC_TOP_OFFSET, newTop);
        // release: the linearization point of the allocation
        INT.setRelease(heap, ENTRY_COUNT_OFFSET, index + 1);
    }

    private String decodeName(MemorySegment e, int nameLength, int index) {
        byte[] bytes = e.asSlice(ENTRY_NAME_OFFSET, nameLength).toArray(JAVA_BYTE);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException ex) {
            throw corrupt(index, "name is not valid UTF-8");
        }
    }

    private ShmFormatException corrupt(int index, String detail) {
        return new ShmFormatException(what + " has a corrupted catalog entry " + index + ": " + detail);
    }

    /** CRC-32C of the entry bytes before the checksum field. */
    private static int checksum(MemorySegment entry) {
        CRC32C crc = new CRC32C();
        Crc32cOfMemory.update(crc, entry, 0, ENTRY_CHECKSUM_OFFSET);
        return (int) crc.getValue();
    }
}
