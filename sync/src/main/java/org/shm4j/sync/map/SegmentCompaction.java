package org.shm4j.sync.map;

import org.shm4j.core.ShmFullException;

import static org.shm4j.sync.map.MapLayout.COMPACT_COPIED;
import static org.shm4j.sync.map.MapLayout.COMPACT_COPYING;
import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;
import static org.shm4j.sync.map.MapLayout.SPLIT_NONE;

/**
 * Compacting a fragmented segment through its spare segment, and finishing or undoing the compaction of a
 * compactor that died (see Compaction in {@link MapLayout}). Every step runs under the segment's lock and odd
 * sequence; the spare is written under its own lock and sequence, and no directory entry names it.
 */
final class SegmentCompaction {
    private SegmentCompaction() {
    }

    /**
     * Under {@code segment}'s lock, after a put of that many key and value bytes did not fit it.
     *
     * @param found what {@link MapSegment#find} returned for the key (an overwrite needs no new slot)
     * @return true if compacting the segment makes room for the entry ({@link #makesRoom}), and the segment cannot
     *         split or its live chunks and the new one fill at most half its arena (else a split is worth its
     *         memory)
     */
    static boolean pays(MapCore map, MapSegment segment, long found, int keyLength, int valueLength) {
        return makesRoom(map, segment, found, keyLength, valueLength) && (segment.localDepth() >= map.maxDepth()
                || needed(segment, keyLength, valueLength) <= segment.arena.size() / 2);
    }

    /**
     * Under {@code segment}'s lock, after a put of that many key and value bytes did not fit it.
     *
     * @param found as in {@link #pays}
     * @return true if the segment has a slot for the entry, and its live chunks and the entry's fill at most its
     *         arena: compacting it makes room
     */
    static boolean makesRoom(MapCore map, MapSegment segment, long found, int keyLength, int valueLength) {
        if (found < 0 && segment.count() + 1 > map.maxLoad()) {
            return false; // its slots are full, not its arena: only a split makes room
        }
        return needed(segment, keyLength, valueLength) <= segment.arena.size();
    }

    /** @return the bytes of the segment's live chunks and of the chunk an entry of those lengths takes */
    private static long needed(MapSegment segment, int keyLength, int valueLength) {
        return segment.usedBytes()
                + MapLayout.chunkSize(MapLayout.sizeClass((long) ENTRY_HEADER + keyLength + valueLength));
    }

    /**
     * Under {@code segment}'s lock: rewrites its live entries back to back, each in the smallest chunk that holds
     * it, through its spare segment.
     *
     * @throws org.shm4j.core.ShmFullException if no spare segment can be had (the map has all its segments, or the
     *                                         heap is full); nothing changed then
     */
    static void compact(MapCore map, MapSegment segment, int keyLength, int valueLength) {
        MapSegment spare = spareFor(map, segment, keyLength, valueLength);
        spare.lock();
        try {
            long stamp = segment.beginWrite();
            copyOut(segment, spare, stamp);
            copyBack(segment, spare);
            segment.endWrite(stamp);
        } finally {
            spare.unlock();
        }
    }

    /**
     * @return the spare {@code segment} compacts through: its own, a new one, or else one another segment kept
     *         ({@link MapCore#borrowSpare})
     * @throws org.shm4j.core.ShmFullException as {@link MapCore#spareOf}, if no segment has a spare to lend either
     */
    static MapSegment spareFor(MapCore map, MapSegment segment, int keyLength, int valueLength) {
        try {
            return map.spareOf(segment, keyLength, valueLength);
        } catch (ShmFullException noSpare) {
            MapSegment borrowed = map.borrowSpare(segment);
            if (borrowed == null) {
                throw withoutSpare(noSpare);
            }
            return borrowed;
        }
    }

    /**
     * @return {@code full} (a put's refusal, naming the segment's entries and bytes, which may look far from full),
     *         saying that compacting would have made room but could not have the map's spare segment: the map
     *         always has one (no split takes its highest segment with memory, and its block holds one past the
     *         initial ones), so the segment that keeps it, or one a compaction must hold to reclaim it, was locked
     *         by another writer, a lock that a compaction holding its own only tries
     */
    static ShmFullException withoutSpare(ShmFullException full) {
        return new ShmFullException(full.getMessage() + "; compacting the segment would make room (its free chunks"
                + " are too small for the entry), but a compaction goes through the map's spare segment, and the"
                + " segment keeping it was locked by another writer that moment (a compaction holding its own lock"
                + " does not wait for another's): the put may succeed if tried again", full);
    }

    /**
     * The first phase, under both locks and {@code segment}'s odd sequence {@code stamp}: records the compaction as
     * COMPACT_COPYING, copies every live entry into {@code spare}, records it as COMPACT_COPIED.
     */
    static void copyOut(MapSegment segment, MapSegment spare, long stamp) {
        segment.setSplit(COMPACT_COPYING, spare.index);
        SegmentSplit.copyInto(segment, spare, stamp, word -> true, segment.localDepth(), segment.pattern());
        segment.setSplit(COMPACT_COPIED, spare.index);
    }

    /**
     * The second phase, under {@code segment}'s lock and odd sequence (also the repair of a compactor that died in
     * it): empties the segment and copies every entry of {@code spare} back, then ends the compaction, keeping the
     * spare's number for the next split or compaction, and counts it.
     */
    static void copyBack(MapSegment segment, MapSegment spare) {
        segment.arena.refill(spare, word -> true);
        segment.setSplit(SPLIT_NONE, spare.index);
        segment.countCompaction();
    }

    /**
     * Under {@code segment}'s lock, after its rebuild: finishes a compaction whose dead owner had filled the spare
     * (copying everything back again), or forgets one it was filling the spare for (the segment's own entries were
     * not touched).
     *
     * @throws org.shm4j.core.ShmFormatException if the compaction record names no segment that exists
     */
    static void recover(MapCore map, MapSegment segment) {
        int state = segment.splitWord() & 0xFF;
        if (state == COMPACT_COPYING) {
            segment.setSplit(SPLIT_NONE, segment.splitTarget());
        } else if (state == COMPACT_COPIED) {
            int spare = segment.splitTarget();
            if (!map.isGrownNumber(spare) || !map.segmentExists(spare)) {
                throw segment.corrupted("its compaction record names segment " + spare);
            }
            copyBack(segment, map.segmentNumber(spare, segment, 0, 0));
        }
    }
}
