package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.Checks;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.ARRAY_ELEMENTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.ARRAY_ELEMENT_SIZE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.ARRAY_LENGTH_OFFSET;

/**
 * The heap blocks of shared arrays: a 64-byte header (length, element size) then the elements. Returns the elements'
 * memory; the length is its size divided by the element size.
 */
public final class ArrayBlocks {
    /** Longest array, so that sizes stay far from overflow. */
    public static final long MAX_LENGTH = 1L << 40;

    private ArrayBlocks() {
    }

    /** @return the elements of a new zeroed array block */
    public static MemorySegment create(SharedHeap heap, String name, BlockType type, long length, int elementSize) {
        Checks.inRange("length", length, 1, MAX_LENGTH);
        return elements(Blocks.create(heap, name, type, ARRAY_ELEMENTS_OFFSET + length * elementSize,
                s -> writeHeader(s, length, elementSize)), name, elementSize);
    }

    /** @return the elements of an existing array block, after checking its header */
    public static MemorySegment open(SharedHeap heap, String name, BlockType type, int elementSize) {
        return elements(Blocks.open(heap, name, type), name, elementSize);
    }

    /** @return the elements of the array block, created by exactly one of the racing callers */
    public static MemorySegment openOrCreate(SharedHeap heap, String name, BlockType type, long length,
                                             int elementSize) {
        Checks.inRange("length", length, 1, MAX_LENGTH);
        return elements(Blocks.openOrCreate(heap, name, type, ARRAY_ELEMENTS_OFFSET + length * elementSize,
                s -> writeHeader(s, length, elementSize)), name, elementSize);
    }

    /** @return the {@code length} elements at {@code offset} of a native segment, naturally aligned */
    public static MemorySegment wrap(MemorySegment segment, long offset, long length, int elementSize) {
        Checks.inRange("length", length, 1, MAX_LENGTH);
        return Blocks.wrap(segment, offset, length * elementSize, elementSize);
    }

    private static void writeHeader(MemorySegment block, long length, int elementSize) {
        block.set(JAVA_LONG, ARRAY_LENGTH_OFFSET, length);
        block.set(JAVA_INT, ARRAY_ELEMENT_SIZE_OFFSET, elementSize);
    }

    private static MemorySegment elements(MemorySegment block, String name, int elementSize) {
        long length = block.get(JAVA_LONG, ARRAY_LENGTH_OFFSET);
        int storedSize = block.get(JAVA_INT, ARRAY_ELEMENT_SIZE_OFFSET);
        if (storedSize != elementSize || length < 1 || length > MAX_LENGTH
                || ARRAY_ELEMENTS_OFFSET + length * elementSize != block.byteSize()) {
            throw new ShmFormatException("array '" + name + "' has length=" + length + " elementSize=" + storedSize
                    + " in a block of " + block.byteSize() + " bytes (expected: elementSize=" + elementSize + ")");
        }
        return block.asSlice(ARRAY_ELEMENTS_OFFSET, length * elementSize);
    }
}
