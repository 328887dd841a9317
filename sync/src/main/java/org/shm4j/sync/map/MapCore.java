package org.shm4j.sync.map;

import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.Codec;
import org.shm4j.sync.internal.Blocks;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The byte-level map under {@link SharedMap} and {@link SharedLongMap}: finds or creates the block, checks its
 * header and codecs, holds the segments, and words the map's exceptions.
 */
final class MapCore {
    private final String name;
    private final SharedHeap heap;
    private final MapGeometry geometry;
    private final MapSegment[] segments;
    private final int segmentMask;
    private final int maxLoad;
    private final long maxEntryBytes;

    private MapCore(SharedHeap heap, String name, MemorySegment block) {
        this.heap = heap;
        this.name = name;
        this.geometry = MapGeometry.read(block, "SharedMap '" + name + "' in " + heap);
        this.segments = new MapSegment[geometry.segments()];
        for (int i = 0; i < segments.length; i++) {
            segments[i] = new MapSegment(this, block.asSlice(geometry.segmentOffset(i), geometry.segmentSize()), i,
                    geometry);
        }
        this.segmentMask = segments.length - 1;
        this.maxLoad = MapLayout.maxLoad(geometry.slots());
        this.maxEntryBytes = MapLayout.chunkSize(segments[0].arena.maxClass());
    }

    /** Creates a map block; see {@link SharedMap#create}. */
    static MapCore create(SharedHeap heap, String name, int keyTypeId, int valueTypeId, MapSizing sizing) {
        MapGeometry geometry = MapGeometry.plan(Objects.requireNonNull(sizing, "sizing"), keyTypeId, valueTypeId);
        return new MapCore(heap, name, Blocks.create(heap, name, MapLayout.MAP, geometry.blockSize(),
                geometry::write));
    }

    /** Opens a map block and checks its codecs; see {@link SharedMap#open}. */
    static MapCore open(SharedHeap heap, String name, int keyTypeId, int valueTypeId) {
        return new MapCore(heap, name, Blocks.open(heap, name, MapLayout.MAP)).checkTypes(keyTypeId, valueTypeId);
    }

    /** Opens a map block, or creates it; see {@link SharedMap#openOrCreate}. */
    static MapCore openOrCreate(SharedHeap heap, String name, int keyTypeId, int valueTypeId, MapSizing sizing) {
        Optional<HeapBlock> existing = Objects.requireNonNull(heap, "heap").find(name);
        if (existing.isPresent()) {
            return open(heap, name, keyTypeId, valueTypeId);
        }
        MapGeometry geometry = MapGeometry.plan(Objects.requireNonNull(sizing, "sizing"), keyTypeId, valueTypeId);
        return new MapCore(heap, name, Blocks.openOrCreate(heap, name, MapLayout.MAP, geometry.blockSize(),
                geometry::write)).checkTypes(keyTypeId, valueTypeId);
    }

    /** @return the segment of a key's hash */
    MapSegment segment(long hash) {
        return segments[(int) hash & segmentMask];
    }

    /** @return the value of the key that {@code scratch} holds after its header space, decoded; null if absent */
    <V> V get(long hash, Scratch scratch, int keyLength, Codec<V> values) {
        MapSegment segment = segment(hash);
        while (true) {
            int length = segment.read(hash, scratch.entrySegment, MapLayout.ENTRY_HEADER, keyLength,
                    scratch.outSegment, 0, scratch.out.length);
            if (length < 0) {
                return null;
            }
            if (length <= scratch.out.length) {
                return decode(values, scratch.outSegment, 0, length);
            }
            scratch.outCapacity(length);
        }
    }

    /** @return true if the map holds the key that {@code scratch} holds after its header space */
    boolean containsKey(long hash, Scratch scratch, int keyLength) {
        return segment(hash).read(hash, scratch.entrySegment, MapLayout.ENTRY_HEADER, keyLength, scratch.outSegment,
                0, 0) >= 0;
    }

    /** @return as {@link SharedMap#getInto}, for the key that {@code scratch} holds after its header space */
    int getInto(long hash, Scratch scratch, int keyLength, MemorySegment target, long offset) {
        Objects.checkIndex(offset, target.byteSize() + 1);
        return segment(hash).read(hash, scratch.entrySegment, MapLayout.ENTRY_HEADER, keyLength, target, offset,
                target.byteSize() - offset);
    }

    /** @return the segments in index order */
    MapSegment[] segments() {
        return segments;
    }

    /** @return entries in the map: the sum of the segments' counts, each read without a lock */
    long size() {
        try {
            long size = 0;
            for (MapSegment segment : segments) {
                size += segment.count();
            }
            return size;
        } catch (IllegalStateException e) {
            throw closed(e);
        }
    }

    /** @return what a method throws for {@code e}; see {@link Blocks#closedOr} */
    IllegalStateException closed(IllegalStateException e) {
        return Blocks.closedOr(e, segments[0].memory.scope(), Blocks.closedMessage("SharedMap", name, heap));
    }

    /** @return most entries one segment holds */
    int maxLoad() {
        return maxLoad;
    }

    /** @return the map's name */
    String name() {
        return name;
    }

    /** @return the heap holding the map */
    SharedHeap heap() {
        return heap;
    }

    /**
     * @return the size class of an entry of {@code size} bytes
     * @throws IllegalArgumentException if no chunk of this map holds that many bytes
     */
    int checkEntrySize(long size, int keyLength, int valueLength) {
        if (size > maxEntryBytes) {
            throw new IllegalArgumentException(this + ": entry of " + size + " bytes (key " + keyLength
                    + " + value " + valueLength + " + header " + MapLayout.ENTRY_HEADER + ") (expected: at most "
                    + maxEntryBytes + " bytes, the largest chunk of a segment sized for " + geometry.sizing() + ")");
        }
        return MapLayout.sizeClass(size);
    }

    /** @return the exception for a put that does not fit {@code segment}, with the figures and a sizing that fits */
    ShmFullException full(MapSegment segment, int keyLength, int valueLength, String reason) {
        MapSizing sized = geometry.sizing();
        long entries = size();
        long fits = Math.min(MapSizing.MAX_ENTRIES, 2 * Math.max(sized.entries(), entries + 1));
        MapSizing suggestion = new MapSizing(fits, Math.max(sized.averageKeySize(), Math.min(1 << 24, keyLength)),
                Math.max(sized.averageValueSize(), Math.min(1 << 24, valueLength)));
        return new ShmFullException(this + " is full: segment " + segment.index + " cannot take an entry of "
                + (MapLayout.ENTRY_HEADER + (long) keyLength + valueLength) + " bytes: " + reason + "; it holds "
                + segment.count() + " of at most " + maxLoad + " entries in " + segment.usedBytes() + " of "
                + segment.arena.size() + " arena bytes; the map holds " + entries + " entries in " + usedBytes()
                + " bytes; it was sized for " + sized + "; a map created with " + suggestion + " would fit");
    }

    /** @return what {@code codec} decodes from stored bytes; its failure is reported as damaged map bytes */
    <T> T decode(Codec<T> codec, MemorySegment source, long offset, int length) {
        try {
            return codec.decode(source, offset, length);
        } catch (RuntimeException e) {
            throw new ShmFormatException(this + ": codec of type " + codec.typeId() + " cannot decode " + length
                    + " stored bytes (corrupted bytes, or another codec with the same type id): " + e);
        }
    }

    /** @return a snapshot of the map's fill, per segment */
    SharedMapStats stats() {
        if (!segments[0].memory.scope().isAlive()) {
            throw new IllegalStateException(Blocks.closedMessage("SharedMap", name, heap));
        }
        List<SharedMapStats.Segment> list = new ArrayList<>(segments.length);
        long entries = 0;
        for (MapSegment s : segments) {
            list.add(new SharedMapStats.Segment(s.index, s.count(), maxLoad, s.tombstones(), s.usedBytes(),
                    s.arena.top(), s.arena.size(), s.repairs(), s.takeOvers()));
            entries += s.count();
        }
        return new SharedMapStats(name, entries, geometry.sizing(), list);
    }

    /** @return "segment 3 of SharedMap 'name' in heap ..." */
    String describe(MapSegment segment) {
        return "segment " + segment.index + " of " + this;
    }

    @Override
    public String toString() {
        return "SharedMap '" + name + "' in " + heap;
    }

    private long usedBytes() {
        long used = 0;
        for (MapSegment segment : segments) {
            used += segment.usedBytes();
        }
        return used;
    }

    private MapCore checkTypes(int keyTypeId, int valueTypeId) {
        if (geometry.keyTypeId() != keyTypeId || geometry.valueTypeId() != valueTypeId) {
            throw new ShmTypeMismatchException(this + " holds keys of codec type " + geometry.keyTypeId()
                    + " and values of codec type " + geometry.valueTypeId() + " (expected: keys " + keyTypeId
                    + ", values " + valueTypeId + ")");
        }
        return this;
    }
}
