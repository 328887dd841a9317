package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;

import java.lang.foreign.MemorySegment;
import java.util.function.IntToLongFunction;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.COORD_MAGIC;
import static org.shm4j.sync.internal.SyncLayout.COORD_MAGIC_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COORD_PARAM1_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COORD_PARAM2_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COORD_TAG_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COORD_VERSION_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COORD_WORD_OFFSET;

/**
 * The memory of a coordination block (semaphore, latch, event, barrier, condition): a named heap block or a caller's
 * segment, with a 24-byte header in its first cache line: magic {@code "SHM4JCRD"} (long), the block type's tag and
 * layout version (ints), and two int parameters fixed at creation. The header is written once, before the block is
 * published (heap) or handed out (raw memory), and validated, with plain reads, before anything is sized from it.
 */
public final class CoordinationBlocks {
    private CoordinationBlocks() {
    }

    /** @return a new block named {@code name}, formatted with the two parameters and the futex word's value */
    public static MemorySegment create(SharedHeap heap, String name, BlockType type, long size, int param1,
                                       int param2, int word) {
        return Blocks.create(heap, name, type, size, s -> format(s, type, param1, param2, word));
    }

    /**
     * @return the existing block named {@code name}, with its header checked
     * @throws ShmFormatException if the block is too small for the header, or the header is not one of {@code type}
     */
    public static MemorySegment open(SharedHeap heap, String name, BlockType type, String what) {
        return checked(Blocks.open(heap, name, type), type, what);
    }

    /**
     * @param block a block of {@code type}, found by the caller (the shm4j tool reads the catalog entry by entry)
     * @return {@code block}, with its size and header checked as {@link #open} checks them
     * @throws ShmFormatException if the block is too small for the header, or the header is not one of {@code type}
     */
    public static MemorySegment checked(MemorySegment block, BlockType type, String what) {
        if (block.byteSize() < COORD_WORD_OFFSET) { // a block of the right type made with the wrong size
            throw Blocks.corrupt(what, "block size", block.byteSize(), ">= the " + COORD_WORD_OFFSET + "-byte header");
        }
        return check(block, type, what);
    }

    /**
     * @return the block named {@code name}, created with the two parameters by exactly one of the racing callers
     * @throws ShmTypeMismatchException if it exists with other parameters
     */
    public static MemorySegment openOrCreate(SharedHeap heap, String name, BlockType type, long size, int param1,
                                             int param2, int word, String what) {
        MemorySegment block = openOrCreateAsIs(heap, name, type, size, param1, param2, word, what);
        if (param1(block) != param1 || param2(block) != param2) {
            throw new ShmTypeMismatchException(what + " exists with parameters (" + param1(block) + ", "
                    + param2(block) + ") (expected: (" + param1 + ", " + param2 + "))");
        }
        return block;
    }

    /**
     * @return the block named {@code name}, created with the two parameters by exactly one of the racing callers, or
     *         as it exists, with its header checked but its parameters left for the caller to judge
     */
    public static MemorySegment openOrCreateAsIs(SharedHeap heap, String name, BlockType type, long size, int param1,
                                                 int param2, int word, String what) {
        return check(Blocks.openOrCreate(heap, name, type, size, s -> format(s, type, param1, param2, word)), type,
                what);
    }

    /**
     * Zeroes the {@code size} bytes at {@code offset} of a native segment and writes the header and the futex word's
     * initial value there.
     *
     * @throws IllegalArgumentException  if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the bytes do not lie inside the segment
     */
    public static MemorySegment format(MemorySegment segment, long offset, BlockType type, long size, int param1,
                                       int param2, int word) {
        MemorySegment block = Blocks.wrap(segment, offset, size, Long.BYTES, type.kindName().orElse(type.toString()));
        block.fill((byte) 0);
        format(block, type, param1, param2, word);
        return Blocks.wrapped(block, type);
    }

    /**
     * @param sizeOf the block size for the header's first parameter
     * @return the block formatted by {@link #format(MemorySegment, long, BlockType, long, int, int, int)} at
     *         {@code offset}
     * @throws ShmFormatException        if there is no header of {@code type} there
     * @throws IndexOutOfBoundsException if the block does not lie inside the segment
     */
    public static MemorySegment wrap(MemorySegment segment, long offset, BlockType type, IntToLongFunction sizeOf,
                                     String kind) {
        MemorySegment header = Blocks.wrap(segment, offset, COORD_WORD_OFFSET, Long.BYTES, kind);
        check(header, type, describe(kind, header));
        return Blocks.wrapped(Blocks.wrap(segment, offset, sizeOf.applyAsLong(param1(header)), Long.BYTES, kind), type);
    }

    /**
     * Checks that the header parameters a structure does not use are zero, as every valid one of its kind has them.
     *
     * @param used how many of the two parameters the structure uses, from the first (0, 1 or 2)
     * @throws ShmFormatException naming the first byte of an unused parameter that is not zero
     */
    public static void requireUnusedParams(MemorySegment block, int used, String what) {
        Blocks.requireZero(block, COORD_PARAM1_OFFSET + (long) used * Integer.BYTES,
                COORD_PARAM2_OFFSET + Integer.BYTES, what);
    }

    /** @return the first parameter of the header */
    public static int param1(MemorySegment block) {
        return block.get(JAVA_INT, COORD_PARAM1_OFFSET); // plain: written before the block was published
    }

    /** @return the second parameter of the header */
    public static int param2(MemorySegment block) {
        return block.get(JAVA_INT, COORD_PARAM2_OFFSET); // plain: written before the block was published
    }

    /** @return a description of a wrapped block, for messages */
    public static String describe(String kind, MemorySegment block) {
        return kind + " at 0x" + Long.toHexString(block.address());
    }

    /**
     * @return what a coordination method throws for {@code failure}: if the memory of {@code block} was closed, an
     *         {@link IllegalStateException} naming the structure (as the locks' messages do), likewise for a write
     *         to read-only memory, else {@code failure} itself; see {@link Blocks#closedOr}. Only called from catch
     *         blocks: the hot paths pay nothing.
     */
    public static RuntimeException closedOr(RuntimeException failure, MemorySegment block, String description) {
        return Blocks.closedOr(failure, block.scope(),
                description + " cannot be used: the heap or segment it lives in is closed");
    }

    private static void format(MemorySegment block, BlockType type, int param1, int param2, int word) {
        block.set(JAVA_INT, COORD_WORD_OFFSET, word); // plain: the block is published (or handed out) after this
        block.set(JAVA_INT, COORD_TAG_OFFSET, type.tag());
        block.set(JAVA_INT, COORD_VERSION_OFFSET, type.layoutVersion());
        block.set(JAVA_INT, COORD_PARAM1_OFFSET, param1);
        block.set(JAVA_INT, COORD_PARAM2_OFFSET, param2);
        block.set(JAVA_LONG, COORD_MAGIC_OFFSET, COORD_MAGIC);
    }

    private static MemorySegment check(MemorySegment block, BlockType type, String what) {
        long magic = block.get(JAVA_LONG, COORD_MAGIC_OFFSET);
        if (magic != COORD_MAGIC) {
            throw new ShmFormatException(what + " is not a coordination block: magic=0x" + Long.toHexString(magic)
                    + " (expected: 0x" + Long.toHexString(COORD_MAGIC) + ", \"SHM4JCRD\")");
        }
        int tag = block.get(JAVA_INT, COORD_TAG_OFFSET);
        int version = block.get(JAVA_INT, COORD_VERSION_OFFSET);
        if (tag != type.tag() || version != type.layoutVersion()) {
            throw new ShmFormatException(what + " holds type 0x" + Integer.toHexString(tag) + " v" + version
                    + " (expected: " + type + ")");
        }
        Blocks.requireZero(block, COORD_PARAM2_OFFSET + Integer.BYTES, COORD_WORD_OFFSET, what); // the header's rest
        return block;
    }
}
