package org.shm4j.core.internal;

import org.shm4j.core.ShmFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.core.internal.HeapLayout.ALLOC_TOP_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CATALOG_CAPACITY_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CATALOG_OFFSET_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CREATOR_PID_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CREATOR_START_OFFSET;
import static org.shm4j.core.internal.HeapLayout.DATA_OFFSET_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_COUNT_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_LENGTH;
import static org.shm4j.core.internal.HeapLayout.ENTRY_LENGTH_OFFSET;
import static org.shm4j.core.internal.HeapLayout.HEADER_CHECKSUM_OFFSET;
import static org.shm4j.core.internal.HeapLayout.HEADER_LENGTH;
import static org.shm4j.core.internal.HeapLayout.HEADER_LENGTH_OFFSET;
import static org.shm4j.core.internal.HeapLayout.HEAP_SIZE_OFFSET;
import static org.shm4j.core.internal.HeapLayout.LAYOUT_VERSION;
import static org.shm4j.core.internal.HeapLayout.LAYOUT_VERSION_OFFSET;
import static org.shm4j.core.internal.HeapLayout.MAGIC;
import static org.shm4j.core.internal.HeapLayout.MAGIC_OFFSET;
import static org.shm4j.core.internal.HeapLayout.MAX_CATALOG_CAPACITY;

/**
 * Writes, waits for and validates the header of a heap (see the layout table of {@link org.shm4j.core.SharedHeap}).
 *
 * <p>Initialisation protocol: the creator owns a zero-filled region. It stores the creator pid (release) so that a
 * waiter can tell a dead creator, then every other field with plain writes, the header checksum, and last the magic
 * with a release store. An opener reads the magic with acquire: 0 means "being initialised" (wait, bounded), the
 * right value publishes every other header field, anything else is not a heap.
 */
public final class HeapHeader {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private HeapHeader() {
    }

    /** The fixed geometry of a validated heap. */
    public record Geometry(long heapSize, int catalogCapacity, long dataOffset) {
    }

    /**
     * Lays out a new heap over a zero-filled {@code segment}.
     *
     * @throws IllegalArgumentException if the segment cannot hold the header, catalog and one cache line of data
     */
    public static Geometry initialise(MemorySegment segment, int catalogCapacity) {
        long heapSize = checkSize(segment.byteSize(), catalogCapacity);
        long dataOffset = HeapLayout.dataOffset(catalogCapacity);
        // release: a waiter that sees the pid may test whether the creator still lives
        LONG.setRelease(segment, CREATOR_PID_OFFSET, ProcessHandle.current().pid());
        // plain writes below: all are published by the release store of the magic
        segment.set(JAVA_INT, LAYOUT_VERSION_OFFSET, LAYOUT_VERSION);
        segment.set(JAVA_INT, HEADER_LENGTH_OFFSET, (int) HEADER_LENGTH);
        segment.set(JAVA_LONG, HEAP_SIZE_OFFSET, heapSize);
        segment.set(JAVA_LONG, CATALOG_OFFSET_OFFSET, HeapLayout.catalogOffset());
        segment.set(JAVA_INT, CATALOG_CAPACITY_OFFSET, catalogCapacity);
        segment.set(JAVA_INT, ENTRY_LENGTH_OFFSET, (int) ENTRY_LENGTH);
        segment.set(JAVA_LONG, DATA_OFFSET_OFFSET, dataOffset);
        segment.set(JAVA_LONG, CREATOR_START_OFFSET, ProcessIdentity.currentStartMillis());
        segment.set(JAVA_LONG, ALLOC_TOP_OFFSET, dataOffset);
        segment.set(JAVA_INT, ENTRY_COUNT_OFFSET, 0);
        segment.set(JAVA_INT, HEADER_CHECKSUM_OFFSET, checksum(segment));
        LONG.setRelease(segment, MAGIC_OFFSET, MAGIC);
        return new Geometry(heapSize, catalogCapacity, dataOffset);
    }

    /**
     * @return {@code size} if a heap of that size can hold the header, {@code catalogCapacity} entries and one cache
     *         line of data
     * @throws IllegalArgumentException otherwise
     */
    public static long checkSize(long size, int catalogCapacity) {
        Checks.inRange("catalogCapacity", catalogCapacity, 1, MAX_CATALOG_CAPACITY);
        long min = HeapLayout.dataOffset(catalogCapacity) + HeapLayout.CACHE_LINE;
        if (size < min) {
            throw new IllegalArgumentException("size=" + size + " (expected: >= " + min + " for a header, "
                    + catalogCapacity + " catalog entries and data)");
        }
        return size;
    }

    /**
     * Waits until the header is initialised, then validates it.
     *
     * @param what    the heap, for messages
     * @param timeout how long to wait for a live creator to finish
     * @throws ShmFormatException if the bytes are not a valid heap header, or the creator died or timed out
     */
    public static Geometry awaitAndValidate(MemorySegment segment, Duration timeout, String what) {
        if (segment.byteSize() < HEADER_LENGTH) {
            throw new ShmFormatException(what + " is too small for a heap header: size=" + segment.byteSize()
                    + " (expected: >= " + HEADER_LENGTH + ")");
        }
        long start = System.nanoTime();
        int step = 0;
        // acquire: a non-zero magic publishes all header fields written before it
        long magic = (long) LONG.getAcquire(segment, MAGIC_OFFSET);
        while (magic == 0) {
            long creator = (long) LONG.getAcquire(segment, CREATOR_PID_OFFSET);
            if (creator != 0 && !ProcessIdentity.isPidAlive(creator)) {
                throw new ShmFormatException(what + " was left half-initialised: its creator pid " + creator
                        + " died");
            }
            if (System.nanoTime() - start > timeout.toNanos()) {
                throw new ShmFormatException(what + " is not initialised after " + timeout.toMillis()
                        + " ms (no magic): not a shm4j heap, or its creator is stuck");
            }
            step = Backoff.idle(step, Long.MAX_VALUE);
            magic = (long) LONG.getAcquire(segment, MAGIC_OFFSET);
        }
        return validate(segment, magic, what);
    }

    private static Geometry validate(MemorySegment segment, long magic, String what) {
        if (magic != MAGIC) {
            throw new ShmFormatException(what + " has magic 0x" + Long.toHexString(magic) + " (expected: 0x"
                    + Long.toHexString(MAGIC) + "): not a shm4j heap");
        }
        int version = segment.get(JAVA_INT, LAYOUT_VERSION_OFFSET);
        if (version != LAYOUT_VERSION) {
            throw new ShmFormatException(what + " has layout version " + version + " (expected: " + LAYOUT_VERSION
                    + ")");
        }
        int stored = segment.get(JAVA_INT, HEADER_CHECKSUM_OFFSET);
        if (stored != checksum(segment)) {
            throw new ShmFormatException(what + " has a corrupted header (checksum mismatch)");
        }
        long heapSize = segment.get(JAVA_LONG, HEAP_SIZE_OFFSET);
        int capacity = segment.get(JAVA_INT, CATALOG_CAPACITY_OFFSET);
        long dataOffset = segment.get(JAVA_LONG, DATA_OFFSET_OFFSET);
        expect(what, "headerLength", segment.get(JAVA_INT, HEADER_LENGTH_OFFSET), HEADER_LENGTH);
        expect(what, "entryLength", segment.get(JAVA_INT, ENTRY_LENGTH_OFFSET), ENTRY_LENGTH);
        expect(what, "catalogOffset", segment.get(JAVA_LONG, CATALOG_OFFSET_OFFSET), HeapLayout.catalogOffset());
        expect(what, "heapSize", heapSize, segment.byteSize());
        if (capacity < 1 || capacity > MAX_CATALOG_CAPACITY) {
            throw new ShmFormatException(what + " has catalogCapacity=" + capacity + " (expected: 1.."
                    + MAX_CATALOG_CAPACITY + ")");
        }
        expect(what, "dataOffset", dataOffset, HeapLayout.dataOffset(capacity));
        if (dataOffset > heapSize) {
            throw new ShmFormatException(what + " has dataOffset=" + dataOffset + " beyond heapSize=" + heapSize);
        }
        return new Geometry(heapSize, capacity, dataOffset);
    }

    private static void expect(String what, String field, long actual, long expected) {
        if (actual != expected) {
            throw new ShmFormatException(what + " has " + field + "=" + actual + " (expected: " + expected + ")");
        }
    }

    /** CRC-32C of the fixed header fields, bytes [8, 64): everything from the layout version to the creator. */
    private static int checksum(MemorySegment segment) {
        CRC32C crc = new CRC32C();
        crc.update(segment.asSlice(LAYOUT_VERSION_OFFSET, HEADER_CHECKSUM_OFFSET - LAYOUT_VERSION_OFFSET)
                .asByteBuffer());
        return (int) crc.getValue();
    }
}
