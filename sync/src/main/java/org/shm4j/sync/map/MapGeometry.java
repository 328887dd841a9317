package org.shm4j.sync.map;

import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.Checks;
import org.shm4j.core.internal.Crc32cOfMemory;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.map.MapLayout.ALIGNMENT;
import static org.shm4j.sync.map.MapLayout.GROWTH_DEPTH;
import static org.shm4j.sync.map.MapLayout.H_DIRECTORY;
import static org.shm4j.sync.map.MapLayout.H_MAX_DEPTH;
import static org.shm4j.sync.map.MapLayout.MAX_DEPTH;
import static org.shm4j.sync.map.MapLayout.MIN_MAX_DEPTH;
import static org.shm4j.sync.map.MapLayout.H_ARENA_SIZE;
import static org.shm4j.sync.map.MapLayout.H_CHECKSUM;
import static org.shm4j.sync.map.MapLayout.H_KEY_TYPE;
import static org.shm4j.sync.map.MapLayout.H_MAGIC;
import static org.shm4j.sync.map.MapLayout.H_SEGMENT_COUNT;
import static org.shm4j.sync.map.MapLayout.H_SEGMENT_SIZE;
import static org.shm4j.sync.map.MapLayout.H_SIZED_ENTRIES;
import static org.shm4j.sync.map.MapLayout.H_SIZED_KEY;
import static org.shm4j.sync.map.MapLayout.H_SIZED_VALUE;
import static org.shm4j.sync.map.MapLayout.H_SLOTS;
import static org.shm4j.sync.map.MapLayout.H_VALUE_TYPE;
import static org.shm4j.sync.map.MapLayout.H_VERSION;
import static org.shm4j.sync.map.MapLayout.MAGIC;
import static org.shm4j.sync.map.MapLayout.MAP;
import static org.shm4j.sync.map.MapLayout.MAX_SEGMENTS;
import static org.shm4j.sync.map.MapLayout.MAX_SLOTS;
import static org.shm4j.sync.map.MapLayout.MIN_SLOTS;
import static org.shm4j.sync.map.MapLayout.S_SLOTS;

/**
 * The immutable shape of a map, as its header stores it: planned from a {@link MapSizing} at creation, read back and
 * checked on open before anything is sized from it.
 *
 * @param segments     number of initial segments, a power of two
 * @param segmentSize  bytes per segment
 * @param slots        slots per segment, a power of two
 * @param arenaSize    entry bytes per segment
 * @param keyTypeId    the key codec's type id
 * @param valueTypeId  the value codec's type id
 * @param sizing       what the map was sized for
 * @param maxDepth     bits of the directory index
 */
record MapGeometry(int segments, long segmentSize, int slots, int arenaSize, int keyTypeId, int valueTypeId,
                   MapSizing sizing, int maxDepth) {
    /** Entries per segment the planner aims at. */
    private static final int ENTRIES_PER_SEGMENT = 256;
    /** Largest arena of a segment. */
    private static final long MAX_ARENA = 1L << 30;

    /**
     * @return the geometry for {@code sizing}: segments of about 256 expected entries, each with room for its
     *         expected share plus four standard deviations of a random spread, slots at load 3/4 at most, and a
     *         directory for 128 times the initial segments, or 1,024 segments if that is more (65,536 at most)
     * @throws IllegalArgumentException if a segment would need more than 1 GiB of entries
     */
    static MapGeometry plan(MapSizing sizing, int keyTypeId, int valueTypeId) {
        int segments = initialSegments(sizing.entries());
        double share = (double) sizing.entries() / segments;
        long capacity = (long) Math.ceil(share + 4 * Math.sqrt(share) + 8);
        int slots = (int) Math.max(MIN_SLOTS, nextPowerOfTwo((capacity * 4 + 2) / 3));
        long chunk = MapLayout.chunkSize(MapLayout.sizeClass(
                (long) MapLayout.ENTRY_HEADER + sizing.averageKeySize() + sizing.averageValueSize()));
        long arena = Checks.alignUp((capacity + 2) * chunk, ALIGNMENT);
        if (slots > MAX_SLOTS || arena > MAX_ARENA) {
            throw new IllegalArgumentException("sizing=" + sizing + " needs " + arena + " entry bytes and " + slots
                    + " slots in each of " + segments + " segments (expected: at most " + MAX_ARENA + " and "
                    + MAX_SLOTS + ")");
        }
        long segmentSize = Checks.alignUp(S_SLOTS + 8L * slots + arena, ALIGNMENT);
        int depth = Integer.numberOfTrailingZeros(segments);
        return new MapGeometry(segments, segmentSize, slots, (int) arena, keyTypeId, valueTypeId, sizing,
                Math.min(MAX_DEPTH, Math.max(MIN_MAX_DEPTH, depth + GROWTH_DEPTH)));
    }

    /** @return the initial segments a map sized for {@code entries} entries gets: a power of two, more with more */
    static int initialSegments(long entries) {
        return (int) Math.min(MAX_SEGMENTS, nextPowerOfTwo(entries / ENTRIES_PER_SEGMENT));
    }

    /** @return bytes of the map block: header, directory, its segments ({@link #blockSegments}) */
    long blockSize() {
        return segmentsOffset() + blockSegments() * segmentSize;
    }

    /**
     * @return segments the map block holds: the initial ones and one more, numbered {@code segments}, the first a
     *         split or compaction takes; so the map has a spare segment for compactions even when its heap never
     *         has room for an extension block (a split uses a number only if the next one has memory too)
     */
    int blockSegments() {
        return segments + 1;
    }

    /** @return the offset in the map block of segment 0 */
    long segmentsOffset() {
        return Checks.alignUp(H_DIRECTORY + ((long) Integer.BYTES << maxDepth), ALIGNMENT);
    }

    /** @return the initial segments' local depth */
    int initialDepth() {
        return Integer.numberOfTrailingZeros(segments);
    }

    /** @return most segments the map can have */
    int maxSegments() {
        return 1 << maxDepth;
    }

    /** @return the extension blocks the map can have: numbered 1 up to this, they hold the segments up to the most */
    int extensionBlocks() {
        return maxDepth - initialDepth();
    }

    /**
     * @return the first segment number in extension block {@code b >= 1}, which holds the numbers from there up to
     *         {@code (initialSegments << b) - 1}: {@code initialSegments << (b - 1)}, past those the map block holds
     */
    long firstInExtension(int b) {
        return Math.max((long) segments << (b - 1), blockSegments());
    }

    /** @return the segments extension block {@code b >= 1} holds (none in block 1 of a map of one initial segment) */
    long extensionSegments(int b) {
        return ((long) segments << b) - firstInExtension(b);
    }

    /** Writes the header, the directory and the initial segments' depths into a new, zeroed block. */
    void write(MemorySegment block) {
        // plain stores: the heap publishes the block (the catalog's release) after its initializer returns
        for (int j = 0; j < maxSegments(); j++) {
            block.set(JAVA_INT, H_DIRECTORY + (long) Integer.BYTES * j, j & (segments - 1));
        }
        for (int i = 0; i < segments; i++) {
            long segment = segmentsOffset() + i * segmentSize;
            block.set(JAVA_INT, segment + MapLayout.S_LOCAL_DEPTH, initialDepth());
            block.set(JAVA_INT, segment + MapLayout.S_PATTERN, i);
        }
        block.set(JAVA_INT, MapLayout.H_NEXT_SEGMENT, segments);
        block.set(JAVA_LONG, H_MAGIC, MAGIC);
        block.set(JAVA_INT, H_VERSION, MAP.layoutVersion());
        block.set(JAVA_INT, H_SEGMENT_COUNT, segments);
        block.set(JAVA_LONG, H_SEGMENT_SIZE, segmentSize);
        block.set(JAVA_INT, H_SLOTS, slots);
        block.set(JAVA_INT, H_ARENA_SIZE, arenaSize);
        block.set(JAVA_INT, H_KEY_TYPE, keyTypeId);
        block.set(JAVA_INT, H_VALUE_TYPE, valueTypeId);
        block.set(JAVA_LONG, H_SIZED_ENTRIES, sizing.entries());
        block.set(JAVA_INT, H_SIZED_KEY, sizing.averageKeySize());
        block.set(JAVA_INT, H_SIZED_VALUE, sizing.averageValueSize());
        block.set(JAVA_INT, H_MAX_DEPTH, maxDepth);
        block.set(JAVA_INT, H_CHECKSUM, checksum(block));
    }

    /**
     * Reads and checks the header of the map block named {@code what}.
     *
     * @throws ShmFormatException if the magic, version, checksum or any figure is wrong
     */
    static MapGeometry read(MemorySegment block, String what) {
        if (block.byteSize() < H_DIRECTORY) {
            throw new ShmFormatException(what + ": block of " + block.byteSize() + " bytes is shorter than the "
                    + H_DIRECTORY + "-byte header");
        }
        long magic = block.get(JAVA_LONG, H_MAGIC); // plain, as every header load: immutable once published
        if (magic != MAGIC) {
            throw new ShmFormatException(what + ": magic=0x" + Long.toHexString(magic) + " (expected: 0x"
                    + Long.toHexString(MAGIC) + ", \"SHM4JMAP\")");
        }
        int version = block.get(JAVA_INT, H_VERSION);
        if (version != MAP.layoutVersion()) {
            throw new ShmFormatException(what + ": layoutVersion=" + version + " (expected: "
                    + MAP.layoutVersion() + ")");
        }
        int stored = block.get(JAVA_INT, H_CHECKSUM);
        if (stored != checksum(block)) {
            throw new ShmFormatException(what + ": header checksum=0x" + Integer.toHexString(stored)
                    + " (expected: 0x" + Integer.toHexString(checksum(block)) + ")");
        }
        try {
            return checked(block, new MapGeometry(block.get(JAVA_INT, H_SEGMENT_COUNT),
                    block.get(JAVA_LONG, H_SEGMENT_SIZE), block.get(JAVA_INT, H_SLOTS),
                    block.get(JAVA_INT, H_ARENA_SIZE), block.get(JAVA_INT, H_KEY_TYPE),
                    block.get(JAVA_INT, H_VALUE_TYPE), new MapSizing(block.get(JAVA_LONG, H_SIZED_ENTRIES),
                    block.get(JAVA_INT, H_SIZED_KEY), block.get(JAVA_INT, H_SIZED_VALUE)),
                    block.get(JAVA_INT, H_MAX_DEPTH)));
        } catch (IllegalArgumentException e) {
            throw new ShmFormatException(what + ": header " + e.getMessage());
        }
    }

    private static MapGeometry checked(MemorySegment block, MapGeometry g) {
        Checks.powerOfTwo("initialSegments", g.segments);
        Checks.inRange("initialSegments", g.segments, 1, MAX_SEGMENTS);
        Checks.inRange("maxDepth", g.maxDepth, g.initialDepth(), MAX_DEPTH);
        Checks.powerOfTwo("slotsPerSegment", g.slots);
        Checks.inRange("slotsPerSegment", g.slots, MIN_SLOTS, MAX_SLOTS);
        Checks.inRange("arenaSize", g.arenaSize, ALIGNMENT, MAX_ARENA);
        Checks.aligned("arenaSize", g.arenaSize, ALIGNMENT);
        Checks.aligned("segmentSize", g.segmentSize, ALIGNMENT);
        Checks.inRange("segmentSize", g.segmentSize, S_SLOTS + 8L * g.slots + g.arenaSize,
                S_SLOTS + 8L * g.slots + g.arenaSize + ALIGNMENT - 1);
        Checks.inRange("blockSize", block.byteSize(), g.blockSize(), g.blockSize());
        return g;
    }

    private static int checksum(MemorySegment block) {
        CRC32C crc = new CRC32C();
        Crc32cOfMemory.update(crc, block, 0, H_CHECKSUM);
        return (int) crc.getValue();
    }

    private static long nextPowerOfTwo(long n) {
        return n <= 1 ? 1 : Long.highestOneBit(n - 1) << 1;
    }
}
