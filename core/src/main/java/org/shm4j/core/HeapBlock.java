package org.shm4j.core;

import java.lang.foreign.MemorySegment;

/**
 * A named block of a {@link SharedHeap}, as its catalog entry describes it.
 *
 * @param name      the block's name in the catalog
 * @param type      the type tag and layout version stored with it
 * @param offset    offset of the block from the start of the heap
 * @param alignment alignment of {@code offset}, a power of two
 * @param segment   the block's memory: a slice of the heap's segment, closed with the heap
 */
public record HeapBlock(String name, BlockType type, long offset, long alignment, MemorySegment segment) {
    /** @return the size of the block in bytes */
    public long byteSize() {
        return segment.byteSize();
    }
}
