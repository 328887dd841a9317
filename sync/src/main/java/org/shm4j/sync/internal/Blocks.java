package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Finding and checking the memory of a sync structure: a named heap block of the right type, or a caller's segment
 * at an offset that is in bounds and naturally aligned (atomic access needs it).
 */
public final class Blocks {
    private Blocks() {
    }

    /** @return the memory of a new block; see {@link SharedHeap#allocate(String, BlockType, long, long, Consumer)} */
    public static MemorySegment create(SharedHeap heap, String name, BlockType type, long byteSize,
                                       Consumer<MemorySegment> init) {
        return Objects.requireNonNull(heap, "heap").allocate(name, type, byteSize, SyncLayout.CACHE_LINE, init)
                .segment();
    }

    /** @return the memory of an existing block, type-checked */
    public static MemorySegment open(SharedHeap heap, String name, BlockType type) {
        return Objects.requireNonNull(heap, "heap").lookup(name, type).segment();
    }

    /** @return the memory of the block, allocated and initialised by exactly one of the racing callers */
    public static MemorySegment openOrCreate(SharedHeap heap, String name, BlockType type, long byteSize,
                                             Consumer<MemorySegment> init) {
        return Objects.requireNonNull(heap, "heap")
                .allocateOrLookup(name, type, byteSize, SyncLayout.CACHE_LINE, init).segment();
    }

    /** @return the message for the {@code kind} named {@code name} used after {@code heap} was closed */
    public static String closedMessage(String kind, String name, SharedHeap heap) {
        return kind + " '" + name + "' cannot be used: its " + heap + " is closed";
    }

    /** @return the message for the {@code kind} wrapped at {@code offset} of a segment that was then closed */
    public static String closedMessage(String kind, long offset) {
        return kind + " at offset " + offset + " of a wrapped segment cannot be used: that segment is closed";
    }

    /**
     * Turns the failure of a structure's memory access into what its public method throws. Called only from catch
     * blocks around a method's body, so that the hot path pays nothing.
     *
     * @param failure       an {@link IllegalStateException} the body threw
     * @param memory        the scope of the structure's memory
     * @param closedMessage {@link #closedMessage(String, String, SharedHeap)} or {@link #closedMessage(String, long)}
     * @return if {@code memory} is closed, an {@link IllegalStateException} naming the structure, with the JDK's bare
     *         "Already closed" as its cause; otherwise {@code failure} itself
     */
    public static IllegalStateException closedOr(IllegalStateException failure, MemorySegment.Scope memory,
                                                 String closedMessage) {
        return memory.isAlive() ? failure : new IllegalStateException(closedMessage, failure);
    }

    /**
     * @return the {@code byteSize} bytes at {@code offset} of {@code segment}
     * @throws IllegalArgumentException  if the segment is not native memory or the address is not a multiple of
     *                                   {@code alignment}
     * @throws IndexOutOfBoundsException if the bytes do not lie inside the segment
     */
    public static MemorySegment wrap(MemorySegment segment, long offset, long byteSize, long alignment) {
        Objects.requireNonNull(segment, "segment");
        if (!segment.isNative()) {
            throw new IllegalArgumentException("segment=" + segment + " (expected: native memory)");
        }
        Objects.checkFromIndexSize(offset, byteSize, segment.byteSize());
        long address = segment.address() + offset;
        if (address % alignment != 0) {
            throw new IllegalArgumentException("offset=" + offset + " gives address 0x" + Long.toHexString(address)
                    + " (expected: a multiple of " + alignment + " for atomic access)");
        }
        return segment.asSlice(offset, byteSize);
    }
}
