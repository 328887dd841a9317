package org.shm4j.sync.map;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.map.MapLayout.E_HASH;
import static org.shm4j.sync.map.MapLayout.EMPTY;
import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;
import static org.shm4j.sync.map.MapLayout.TOMBSTONE;

/**
 * The encoded entries of one segment at one moment, for the map's weakly consistent iterators: copied under an
 * optimistic read (retried if a writer interfered) or, if writers keep the segment busy, under its lock. Each
 * entry's checksum is verified, so that corrupted bytes never reach a codec.
 *
 * @param keys   the entries' key bytes
 * @param values the entries' value bytes, in the same order
 */
record MapSnapshot(List<byte[]> keys, List<byte[]> values) {
    /** No entries: the pattern's segment has split since; its halves were pushed instead. */
    private static final MapSnapshot SPLIT = new MapSnapshot(List.of(), List.of());

    /**
     * @return the entries whose hash's low {@code depth} bits are {@code pattern}, from the segment the directory
     *         names for them; or no entries, with the two halves of the pattern pushed onto {@code pending}, if that
     *         segment is deeper than {@code depth}
     */
    static MapSnapshot of(MapCore map, int pattern, int depth, Deque<long[]> pending) {
        while (true) {
            int number = map.directory(pattern);
            MapSegment segment = map.segmentNumber(number, null, 0, 0);
            int localDepth = segment.localDepth();
            if (localDepth > depth) {
                pending.push(new long[] {pattern | 1L << depth, depth + 1});
                pending.push(new long[] {pattern, depth + 1});
                return SPLIT;
            }
            MapSnapshot copy = of(segment, pattern, depth);
            if (map.directory(pattern) == number && segment.localDepth() == localDepth) {
                return copy;
            }
        }
    }

    /** @return the entries of {@code segment} whose hash's low {@code depth} bits are {@code pattern} */
    private static MapSnapshot of(MapSegment segment, int pattern, int depth) {
        for (int i = 0; i < MapSegment.OPTIMISTIC_TRIES; i++) {
            MapSnapshot copy = tryCopy(segment, pattern, depth);
            if (copy != null) {
                return copy;
            }
            Thread.onSpinWait();
        }
        if (segment.memory.isReadOnly()) {
            return segment.readWithoutLock(() -> tryCopy(segment, pattern, depth));
        }
        segment.lock();
        try {
            MapSnapshot copy = copy(segment, pattern, depth);
            if (copy == null) {
                throw segment.corrupted("an entry's offset or lengths lie outside the segment, or its checksum fails");
            }
            return copy;
        } finally {
            segment.unlock();
        }
    }

    /** @return the entries, copied between two equal even sequences; null if a writer interfered */
    private static MapSnapshot tryCopy(MapSegment segment, int pattern, int depth) {
        long stamp = segment.sequenceAcquire();
        if ((stamp & 1) != 0) {
            return null;
        }
        MapSnapshot copy;
        try {
            copy = copy(segment, pattern, depth);
        } catch (IndexOutOfBoundsException torn) {
            return null;
        }
        return copy != null && segment.validate(stamp) ? copy : null;
    }

    /**
     * @return the copied entries, or null if a checked offset or length was out of bounds or an entry's checksum
     *         failed (a torn read, or corrupted bytes)
     */
    private static MapSnapshot copy(MapSegment segment, int pattern, int depth) {
        long mask = (1L << depth) - 1;
        CRC32C crc = new CRC32C();
        int count = Math.clamp(segment.count(), 0, segment.mask + 1);
        List<byte[]> keys = new ArrayList<>(count);
        List<byte[]> values = new ArrayList<>(count);
        MemorySegment memory = segment.memory;
        for (int i = 0; i <= segment.mask; i++) {
            long word = segment.slotWord(i);
            if (word == EMPTY || word == TOMBSTONE) {
                continue;
            }
            long chunk = segment.chunk(i);
            int keyLength = segment.checkedKeyLength(chunk);
            if (keyLength < 0 || !segment.arena.verifies(chunk, segment.end - chunk, crc)) {
                return null;
            }
            if ((memory.get(JAVA_LONG, chunk + E_HASH) & mask) != pattern) { // plain: validated by the sequence
                continue;
            }
            keys.add(memory.asSlice(chunk + ENTRY_HEADER, keyLength).toArray(JAVA_BYTE));
            values.add(memory.asSlice(segment.valueOffset(chunk), segment.valueLength(chunk)).toArray(JAVA_BYTE));
        }
        return new MapSnapshot(keys, values);
    }
}
