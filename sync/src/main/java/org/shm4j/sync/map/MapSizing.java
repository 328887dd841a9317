package org.shm4j.sync.map;

import org.shm4j.core.internal.Checks;

/**
 * How big a {@link SharedMap} is made at creation: the entries it should hold and the average encoded sizes of its
 * keys and values. The map adds headroom for an uneven spread over its segments; a segment that fills up anyway
 * splits in two, up to 128 times the initial segments or 1,024 segments, whichever is more (65,536 at most), and a
 * segment whose entries changed size is compacted first when that makes room; past that, or when the heap is full,
 * the put that does not fit throws {@link org.shm4j.core.ShmFullException}, naming a sizing that would fit.
 *
 * @param entries          how many entries the map should hold, {@code >= 1}
 * @param averageKeySize   average encoded key bytes, {@code >= 1}
 * @param averageValueSize average encoded value bytes, {@code >= 0}
 */
public record MapSizing(long entries, int averageKeySize, int averageValueSize) {
    /** Most entries a map can be sized for. */
    public static final long MAX_ENTRIES = 1L << 32;

    /**
     * @throws IllegalArgumentException if a figure is out of range
     */
    public MapSizing {
        Checks.inRange("entries", entries, 1, MAX_ENTRIES);
        Checks.inRange("averageKeySize", averageKeySize, 1, 1 << 24);
        Checks.inRange("averageValueSize", averageValueSize, 0, 1 << 24);
    }

    /**
     * @return the bytes of the block a map of this sizing takes at creation (header, segment directory, initial
     *         segments and one spare segment for compactions), for sizing its heap: the heap needs this much free
     *         space (a heap's {@code allocate} rounds to its alignment) and more as segments split
     * @throws IllegalArgumentException if a segment of this sizing would need more than 1 GiB of entries
     */
    public long byteSize() {
        return MapGeometry.plan(this, 1, 1).blockSize(); // the codecs' type ids do not change the size
    }

    /**
     * @return this sizing with the most entries (fewer than this one's) whose {@link #byteSize()} is at most
     *         {@code bytes}, for a message about a heap without room for this one; null if not even one entry's fits
     */
    MapSizing fitting(long bytes) {
        // byteSize() grows with the entries among sizings of as many initial segments, but drops where the segments
        // double (each about half as big, the spare one too): so each such band is searched alone, from the top
        long high = entries - 1; // the most entries that may fit: this sizing's did not
        while (high >= 1) {
            long low = fewestEntriesWithTheSegmentsOf(high);
            long most = mostEntriesFitting(low, high, bytes);
            if (most > 0) {
                return new MapSizing(most, averageKeySize, averageValueSize);
            }
            high = low - 1;
        }
        return null;
    }

    /** @return the most entries from {@code low} to {@code high} (one band) whose byteSize() fits; 0 if none */
    private long mostEntriesFitting(long low, long high, long bytes) {
        long most = 0;
        while (low <= high) {
            long mid = low + (high - low) / 2;
            if (new MapSizing(mid, averageKeySize, averageValueSize).byteSize() <= bytes) {
                most = mid;
                low = mid + 1;
            } else {
                high = mid - 1;
            }
        }
        return most;
    }

    /** @return the fewest entries planned with as many initial segments as {@code high} entries are */
    private static long fewestEntriesWithTheSegmentsOf(long high) {
        int segments = MapGeometry.initialSegments(high);
        long low = 1;
        while (low < high) {
            long mid = low + (high - low) / 2;
            if (MapGeometry.initialSegments(mid) == segments) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        return low;
    }

    /** @return a sizing for {@code entries} entries of 8-byte keys and {@code averageValueSize}-byte values */
    public static MapSizing ofLongKeys(long entries, int averageValueSize) {
        return new MapSizing(entries, Long.BYTES, averageValueSize);
    }
}
