package org.shm4j.sync.map;

import java.util.function.LongPredicate;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.map.MapLayout.E_HASH;
import static org.shm4j.sync.map.MapLayout.SPLIT_COPIED;
import static org.shm4j.sync.map.MapLayout.SPLIT_COPYING;
import static org.shm4j.sync.map.MapLayout.SPLIT_NONE;

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
     * @throws org.shm4j.core.ShmFullException if the map is at its deepest split, or has no segment to split into
     *                                         but the spare kept for compactions ({@link MapCore#halfOf})
     */
    static MapSegment split(MapCore map, MapSegment full, int keyLength, int valueLength) {
        int depth = checkedDepth(map, full, full.localDepth());
        if (depth >= map.maxDepth()) {
            throw map.full(full, keyLength, valueLength, "its keys share all " + depth
                    + " hash bits of the directory, so it cannot split again");
        }
        MapSegment half = map.halfOf(full, keyLength, valueLength);
        half.lock();
        boolean locked = true;
        try {
            long stamp = full.beginWrite();
            copyHalf(full, half, depth, stamp);
            finish(map, full, depth, half.index);
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
            if (!map.isGrownNumber(target)) {
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
        copyInto(full, half, stamp, word -> moves(full, word, depth), depth + 1, full.pattern() | 1 << depth);
        full.setSplit(SPLIT_COPIED | depth << 8, half.index);
    }

    /**
     * Under both locks and {@code full}'s odd sequence {@code fullStamp}: empties the unpublished segment
     * {@code into} and copies into it the entries of {@code full} that {@code take} accepts; {@code into} gets local
     * depth {@code depth} and pattern {@code pattern}, and no split of its own.
     */
    static void copyInto(MapSegment full, MapSegment into, long fullStamp, LongPredicate take, int depth,
                         int pattern) {
        into.raiseSequence(fullStamp + 1); // the copies keep their stamps: the new segment's own must exceed them
        long stamp = into.beginWrite();
        try {
            into.setSplit(SPLIT_NONE, -1);
            into.setDepth(depth, pattern);
            into.arena.refill(full, take);
        } finally {
            into.endWrite(stamp);
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
     * @throws org.shm4j.core.ShmFormatException if the slot names no entry inside the segment
     */
    private static boolean moves(MapSegment full, long word, int depth) {
        return (full.memory.get(JAVA_LONG, full.checkedEntry(word) + E_HASH) >>> depth & 1) != 0; // plain: locked
    }
}
