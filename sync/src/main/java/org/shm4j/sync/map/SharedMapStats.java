package org.shm4j.sync.map;

import java.util.List;

/**
 * A snapshot of how full a {@link SharedMap} is, per segment, read without locks (so figures of a segment being
 * written may be one change apart; the keys that a split has copied to its new segment, and not yet dropped from the
 * full one, are counted once, in the new one, and a segment whose compaction is copying its entries back from its
 * spare segment has the spare's figures, also when the writer died there). A map is full when one of its segments
 * is: size it so that {@link #fullestSegment()} stays well below 1.
 *
 * @param name     the map's name
 * @param entries  entries in the map
 * @param sizing   what the map was sized for at creation
 * @param segments one entry per segment, in number order (splits add segments)
 */
public record SharedMapStats(String name, long entries, MapSizing sizing, List<Segment> segments) {
    /** Copies the segment list. */
    public SharedMapStats {
        segments = List.copyOf(segments);
    }

    /** @return the highest {@link Segment#fill()} of any segment */
    public double fullestSegment() {
        return segments.stream().mapToDouble(Segment::fill).max().orElse(0);
    }

    /** @return times a segment was rebuilt after its writer died, summed over the segments */
    public long repairs() {
        return segments.stream().mapToLong(Segment::repairs).sum();
    }

    /** @return times a segment's entries were rewritten back to back to make room, summed over the segments */
    public long compactions() {
        return segments.stream().mapToLong(Segment::compactions).sum();
    }

    /**
     * One segment's figures.
     *
     * @param index       the segment's number
     * @param depth       low hash bits its keys share (it grew from the initial segments by {@code depth} minus
     *                    theirs splits)
     * @param entries     live entries
     * @param maxEntries  most entries its slots take (3/4 of them)
     * @param tombstones  slots of removed entries not yet reused
     * @param usedBytes   bytes of the chunks of live entries
     * @param arenaTop    arena bytes handed out so far (live or free chunks)
     * @param arenaSize   arena bytes in all
     * @param repairs     times it was rebuilt after its writer died
     * @param takeOvers   times its lock was taken over from a dead process
     * @param compactions times its entries were rewritten back to back, because a put found free bytes but no
     *                    chunk big enough
     */
    public record Segment(int index, int depth, int entries, int maxEntries, int tombstones, long usedBytes,
                          long arenaTop, long arenaSize, long repairs, long takeOvers, long compactions) {
        /** @return the larger of the slot fill and the arena fill, from 0 to 1 */
        public double fill() {
            return Math.max((double) entries / maxEntries, (double) usedBytes / arenaSize);
        }
    }
}
