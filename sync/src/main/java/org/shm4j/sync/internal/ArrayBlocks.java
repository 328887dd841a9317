package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.internal.Checks;
import org.shm4j.sync.locks.SharedLock;

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

    /**
     * A new array: its elements, and its companion lock or null.
     *
     * @param elements the elements of the new zeroed array block
     * @param lock     the {@link CompanionLocks companion lock} made with it, or null
     */
    public record Created(MemorySegment elements, SharedLock lock) {
    }

    /**
     * Creates a zeroed array block, and first (if {@code withLock}) its companion lock: after the length is checked,
     * so that a refused array leaves no lock (see {@link CompanionLocks#create}).
     *
     * @throws IllegalArgumentException naming the array if {@code length} is not 1 to the largest length
     */
    public static Created create(SharedHeap heap, String name, BlockType type, long length, int elementSize,
                                 boolean withLock) {
        checkLength(name, length);
        SharedLock lock = withLock ? CompanionLocks.create(heap, name) : null; // lock first, see there
        return new Created(elements(Blocks.create(heap, name, type, ARRAY_ELEMENTS_OFFSET + length * elementSize,
                s -> writeHeader(s, length, elementSize)), name, elementSize), lock);
    }

    private static void checkLength(String name, long length) {
        Checks.inRange("array '" + name + "': length", length, 1, MAX_LENGTH);
    }

    /** @return the elements of an existing array block, after checking its header */
    public static MemorySegment open(SharedHeap heap, String name, BlockType type, int elementSize) {
        return elements(Blocks.open(heap, name, type), name, elementSize);
    }

    /** @return the elements of the array block, created by exactly one of the racing callers */
    public static MemorySegment openOrCreate(SharedHeap heap, String name, BlockType type, long length,
                                             int elementSize) {
        checkLength(name, length);
        try {
            return elements(Blocks.openOrCreate(heap, name, type, ARRAY_ELEMENTS_OFFSET + length * elementSize,
                    s -> writeHeader(s, length, elementSize)), name, elementSize);
        } catch (ShmTypeMismatchException e) { // worded in block bytes: say it in elements
            throw Blocks.mismatch(e, () -> "array '" + name + "' exists with length "
                    + open(heap, name, type, elementSize).byteSize() / elementSize + " (asked: " + length + ")");
        }
    }

    /** @return the {@code length} elements at {@code offset} of a native segment, naturally aligned */
    public static MemorySegment wrap(MemorySegment segment, long offset, long length, int elementSize) {
        Checks.inRange("wrapped array: length", length, 1, MAX_LENGTH);
        return Blocks.wrap(segment, offset, length * elementSize, elementSize, "array of " + length + " elements");
    }

    private static void writeHeader(MemorySegment block, long length, int elementSize) {
        block.set(JAVA_LONG, ARRAY_LENGTH_OFFSET, length);
        block.set(JAVA_INT, ARRAY_ELEMENT_SIZE_OFFSET, elementSize);
    }

    /**
     * @return the elements of an array block, after checking its header: the block holds the header, the element
     *         size is the caller's, the length is in range and header plus elements fill the block exactly
     * @throws ShmFormatException if not
     */
    private static MemorySegment elements(MemorySegment block, String name, int elementSize) {
        String what = "array '" + name + "'";
        if (block.byteSize() < ARRAY_ELEMENTS_OFFSET) {
            throw Blocks.corrupt(what, "block size", block.byteSize(), ">= the " + ARRAY_ELEMENTS_OFFSET
                    + "-byte header");
        }
        int storedSize = block.get(JAVA_INT, ARRAY_ELEMENT_SIZE_OFFSET);
        if (storedSize != elementSize) {
            throw Blocks.corrupt(what, "elementSize", storedSize, String.valueOf(elementSize));
        }
        long length = block.get(JAVA_LONG, ARRAY_LENGTH_OFFSET);
        if (length < 1 || length > MAX_LENGTH) {
            throw Blocks.corrupt(what, "length", length, "1.." + MAX_LENGTH);
        }
        if (ARRAY_ELEMENTS_OFFSET + length * elementSize != block.byteSize()) {
            throw Blocks.corrupt(what, "length", length, (block.byteSize() - ARRAY_ELEMENTS_OFFSET) / elementSize
                    + ", which fills the block of " + block.byteSize() + " bytes");
        }
        Blocks.requireZero(block, ARRAY_ELEMENT_SIZE_OFFSET + Integer.BYTES, ARRAY_ELEMENTS_OFFSET, what);
        return block.asSlice(ARRAY_ELEMENTS_OFFSET, length * elementSize);
    }
}
