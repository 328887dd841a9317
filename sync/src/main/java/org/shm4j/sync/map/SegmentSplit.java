package org.shm4j.sync.map;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.map.MapLayout.EMPTY;
import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;
import static org.shm4j.sync.map.MapLayout.E_HASH;
import static org.shm4j.sync.map.MapLayout.E_KEY_LENGTH;
import static org.shm4j.sync.map.MapLayout.E_VALUE_LENGTH;
import static org.shm4j.sync.map.MapLayout.OFFSET_MASK;
import static org.shm4j.sync.map.MapLayout.SPLIT_COPIED;
import static org.shm4j.sync.map.MapLayout.SPLIT_COPYING;
import static org.shm4j.sync.map.MapLayout.SPLIT_NONE;
import static org.shm4j.sync.map.MapLayout.S_SLOTS;
import static org.shm4j.sync.map.MapLayout.TAG_MASK;
import static org.shm4j.sync.map.MapLayout.TOMBSTONE;

/**
 * Splitting a full segment in two (extendible hashing; see {@link MapLayout}), and finishing or undoing the split
 * of a splitter that died. Every step runs under the full segment's lock and odd sequence; the new segment is
 * written under its own lock and sequence before any directory entry names it.
 */
final class SegmentSplit {
    private SegmentSplit() {
    }

    /**
     * Under {@code full}'s lock: moves the keys whose hash bit {@code localDepth} is set into a new segment and
     * points their directory entries at it.
     *
     * @return the new segment, locked by the current thread (the caller unlocks it)
     * @throws org.shm4j.core.ShmFullException if the map is at its deepest split or the heap has no room
     */
    static MapSegment split(MapCore map, MapSegment full, int keyLength, int valueLength) {
        int depth = checkedDepth(map, full, full.localDepth());
        if (depth >= map.maxDepth()) {
            throw map.full(full, keyLength, valueLength, "its keys share all " + depth
                    + " hash bits of the directory, so it cannot split again");
        }
        int target = full.splitTarget();
        if (target < 1 << map.initialDepth() || target >= map.maxSegments()) { // none kept (or a damaged one)
            target = map.newSegmentNumber(full, keyLength, valueLength);
        }
        MapSegment half = map.segmentNumber(target, full, keyLength, valueLength);
        half.lock();
        boolean locked = true;
        try {
            long stamp = full.beginWrite();
            copyHalf(full, half, depth, stamp);
            finish(map, full, depth, target);
            full.endWrite(stamp);
            locked = false;
            return half;
        } finally {
            if (locked) {
                half.unlock();
            }
        }
    }

    /**
     * Under {@code segment}'s lock, after its rebuild: finishes a split that its dead owner had copied (the new
     * segment is complete), or forgets one it was copying (nothing was published; the target number is kept for the
     * next split).
     */
    static void recover(MapCore map, MapSegment segment) {
        int word = segment.splitWord();
        int state = word & 0xFF;
        if (state == SPLIT_COPIED) {
            int target = segment.splitTarget();
            if (target < 1 << map.initialDepth() || target >= map.maxSegments()) {
                throw segment.corrupted("its split record names segment " + target);
            }
            finish(map, segment, checkedDepth(map, segment, word >>> 8 & 0xFF), target);
        } else if (state == SPLIT_COPYING) {
            segment.setSplit(SPLIT_NONE, segment.splitTarget());
        }
    }

    /**
     * The first phase of a split, under both locks and {@code full}'s odd sequence {@code stamp}: records the split
     * as COPYING, copies the moving half into {@code half}, records it as COPIED.
     */
    static void copyHalf(MapSegment full, MapSegment half, int depth, long stamp) {
        full.setSplit(SPLIT_COPYING | depth << 8, half.index);
        copy(full, half, depth, stamp);
        full.setSplit(SPLIT_COPIED | depth << 8, half.index);
    }

    /** Resets {@code half} and copies into it the entries of {@code full} whose hash bit {@code depth} is set. */
    private static void copy(MapSegment full, MapSegment half, int depth, long fullStamp) {
        half.raiseSequence(fullStamp + 1); // the copies keep their stamps: the half's own must exceed them
        long stamp = half.beginWrite();
        try {
            half.memory.asSlice(S_SLOTS, half.arenaStart - S_SLOTS).fill((byte) 0);
            half.arena.reset();
            half.setSplit(SPLIT_NONE, -1);
            half.setDepth(depth + 1, full.pattern() | 1 << depth);
            int count = 0;
            for (int i = 0; i <= full.mask; i++) {
                long word = full.slotWord(i);
                if (word == EMPTY || word == TOMBSTONE || !moves(full, word, depth)) {
                    continue;
                }
                long from = word & OFFSET_MASK;
                int sizeClass = full.arena.sizeClassOf(from);
                long to = half.arena.allocate(sizeClass);
                long bytes = ENTRY_HEADER + (long) full.memory.get(JAVA_INT, from + E_KEY_LENGTH)
                        + full.memory.get(JAVA_INT, from + E_VALUE_LENGTH);
                MemorySegment.copy(full.memory, from, half.memory, to, bytes); // live, checksummed
                half.arena.addUsed(MapLayout.chunkSize(sizeClass));
                half.arena.place(word & TAG_MASK | to);
                count++;
            }
            half.setCount(count);
        } finally {
            half.endWrite(stamp);
        }
    }

    /**
     * Points the moved half's directory entries at {@code target}, drops the moved entries, deepens the segment.
     * Also the repair of a splitter that died part-way through the entries: each entry moves on only from a segment
     * numbered below {@code target} ({@link MapCore#pointDirectory}), so an entry that a later split of the half
     * already points at a newer segment keeps it.
     */
    private static void finish(MapCore map, MapSegment full, int depth, int target) {
        int pattern = full.pattern() | 1 << depth;
        for (int j = pattern; j < map.maxSegments(); j += 1 << (depth + 1)) {
            map.pointDirectory(j, target);
        }
        full.arena.retain(word -> !moves(full, word, depth));
        full.setDepth(depth + 1, full.pattern());
        full.setSplit(SPLIT_NONE, -1);
    }

    /** @return {@code depth} if it and the segment's pattern are in range, so that no loop over them runs wild */
    private static int checkedDepth(MapCore map, MapSegment segment, int depth) {
        int pattern = segment.pattern();
        if (depth < map.initialDepth() || depth > map.maxDepth() || pattern < 0 || pattern >= 1 << depth) {
            throw segment.corrupted("local depth " + depth + " and pattern " + pattern + " (expected: depth "
                    + map.initialDepth() + ".." + map.maxDepth() + ", pattern below 2^depth)");
        }
        return depth;
    }

    /**
     * @return true if the entry of slot {@code word} moves to the new half
     * @throws org.shm4j.core.ShmFormatException if the slot names no entry inside the segment (damaged while open: a
     *                                           split runs under the lock, so nothing torn)
     */
    private static boolean moves(MapSegment full, long word, int depth) {
        long chunk = word & OFFSET_MASK;
        if (full.checkedKeyLength(chunk) < 0) {
            throw full.corrupted("slot word 0x" + Long.toHexString(word) + " names no entry inside the segment");
        }
        return (full.memory.get(JAVA_LONG, chunk + E_HASH) >>> depth & 1) != 0;
    }
}
