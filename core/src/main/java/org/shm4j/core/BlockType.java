package org.shm4j.core;

/**
 * What a heap block holds: a type tag naming the structure (for example a shared long or a ring buffer) and the
 * version of that structure's layout. Both are stored in the block's catalog entry and checked when the block is
 * looked up, so a process cannot open a block as the wrong structure or with a layout it does not know.
 *
 * @param tag           the structure's type tag; shm4j's own structures use tags {@code 0x5348_0000} and up
 * @param layoutVersion the version of the structure's byte layout, {@code >= 1}
 */
public record BlockType(int tag, int layoutVersion) {
    /**
     * @throws IllegalArgumentException if {@code layoutVersion < 1}
     */
    public BlockType {
        if (layoutVersion < 1) {
            throw new IllegalArgumentException("layoutVersion=" + layoutVersion + " (expected: >= 1)");
        }
    }

    @Override
    public String toString() {
        return "type 0x" + Integer.toHexString(tag) + " v" + layoutVersion;
    }
}
