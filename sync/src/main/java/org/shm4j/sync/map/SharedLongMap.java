package org.shm4j.sync.map;

import org.shm4j.sync.internal.Blocks;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.internal.ExactEncoding;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;

/**
 * A {@link SharedMap} with primitive {@code long} keys for hot loops: {@link #getInto}, {@link #containsKey},
 * {@link #set}, {@link #setBytes} and {@link #delete} allocate nothing (once the thread's buffers have grown to its
 * largest entry, and {@code set} only if the value codec's {@code encode} allocates nothing). Its keys are stored as
 * {@link Codec#longs()} stores them, so {@link #asMap()} (or {@link SharedMap#open} with {@code Codec.longs()})
 * sees the same entries through the full {@link java.util.concurrent.ConcurrentMap} API.
 *
 * <p>Concurrency, capacity and crash behaviour are those of {@link SharedMap}.
 *
 * @param <V> the value type
 */
public final class SharedLongMap<V> {
    private static final Codec<Long> KEYS = Codec.longs();
    /** The structure as messages name it. */
    private static final String KIND = "SharedLongMap";

    private final MapCore core;
    private final Codec<V> values;
    /** The map as messages name it, made once: an encode must not build strings. */
    private final String what;

    private SharedLongMap(MapCore core, Codec<V> values) {
        this.core = core;
        this.values = values;
        this.what = KIND + " '" + core.name() + "'";
    }

    /** Creates an empty map; see {@link SharedMap#create}. */
    public static <V> SharedLongMap<V> create(SharedHeap heap, String name, Codec<V> values, MapSizing sizing) {
        return Blocks.opening(heap, () -> new SharedLongMap<>(MapCore.create(KIND, heap, name, KEYS.typeId(),
                valueType(values), sizing), values));
    }

    /** Opens a map; see {@link SharedMap#open}. */
    public static <V> SharedLongMap<V> open(SharedHeap heap, String name, Codec<V> values) {
        return Blocks.opening(heap, () -> new SharedLongMap<>(MapCore.open(KIND, heap, name, KEYS.typeId(),
                valueType(values)), values));
    }

    /** Opens a map or creates it empty; see {@link SharedMap#openOrCreate}. */
    public static <V> SharedLongMap<V> openOrCreate(SharedHeap heap, String name, Codec<V> values,
                                                    MapSizing sizing) {
        return Blocks.opening(heap, () -> new SharedLongMap<>(MapCore.openOrCreate(KIND, heap, name, KEYS.typeId(),
                valueType(values), sizing), values));
    }

    /** @return true if the map holds {@code key} */
    public boolean containsKey(long key) {
        Scratch scratch = keyInScratch(key, 0);
        try {
            return core.containsKey(KeyHash.hashLong(key), scratch, Long.BYTES);
        } finally {
            scratch.release();
        }
    }

    /** @return the value of {@code key}, decoded, or null if absent */
    public V get(long key) {
        Scratch scratch = keyInScratch(key, 0);
        try {
            return core.get(KeyHash.hashLong(key), scratch, Long.BYTES, values);
        } finally {
            scratch.release();
        }
    }

    /**
     * Copies the encoded value of {@code key} into {@code target} at {@code offset}; allocates nothing.
     *
     * @return as {@link SharedMap#getInto}: the value's length, or -1 if absent
     * @throws IllegalStateException naming this map, if {@code target} is closed (found so only when a value is
     *                               copied: an absent key is -1 without touching it)
     */
    public int getInto(long key, MemorySegment target, long offset) {
        return core.getInto(KeyHash.hashLong(key), key, target, offset);
    }

    /**
     * Maps {@code key} to {@code value} without decoding the old value.
     *
     * @return true if the key was new
     * @throws NullPointerException            naming this map, if {@code value} is null
     * @throws IllegalArgumentException        naming this map, if the entry is larger than its segments take
     * @throws org.shm4j.core.ShmFullException if the key's segment has no room; nothing changed then
     */
    public boolean set(long key, V value) {
        if (value == null) {
            throw new NullPointerException(what + ": a null value (it holds none, as a"
                    + " ConcurrentMap; where Python code stores None, store a value of its own)");
        }
        int valueLength = ExactEncoding.measure(values, value, what);
        Scratch scratch = keyInScratch(key, valueLength);
        try {
            ExactEncoding.writeExactly(values, value, valueLength, scratch.entrySegment, ENTRY_HEADER + Long.BYTES,
                    true, what, "stored");
            return store(key, scratch, valueLength);
        } finally {
            scratch.release();
        }
    }

    /**
     * Maps {@code key} to the {@code length} bytes at {@code offset} of {@code source}, taken as an encoded value.
     *
     * @return true if the key was new
     * @throws IndexOutOfBoundsException       naming this map, if the bytes are not inside {@code source}
     * @throws IllegalStateException           naming this map, if {@code source} is closed
     * @throws IllegalArgumentException        naming this map, if the entry is larger than its segments take
     * @throws org.shm4j.core.ShmFullException if the key's segment has no room; nothing changed then
     */
    public boolean setBytes(long key, MemorySegment source, long offset, int length) {
        core.checkRange("source", source, offset, length);
        Scratch scratch = keyInScratch(key, length);
        try {
            try {
                MemorySegment.copy(source, offset, scratch.entrySegment, ENTRY_HEADER + Long.BYTES, length);
            } catch (IllegalStateException e) {
                throw core.callerClosed(e, "source", source);
            }
            return store(key, scratch, length);
        } finally {
            scratch.release();
        }
    }

    /** Removes {@code key} without decoding its value. @return true if it was present */
    public boolean delete(long key) {
        Scratch scratch = keyInScratch(key, 0);
        try {
            return core.delete(KeyHash.hashLong(key), scratch, Long.BYTES);
        } finally {
            scratch.release();
        }
    }

    /**
     * @return the number of entries: the sum of the segments' counts, each read at a slightly different moment (as
     *         {@code ConcurrentHashMap}'s); a segment split under it is counted once, so every key that a returned
     *         put added and no remove took away is in the sum
     */
    public long size() {
        return core.size();
    }

    /** @return a snapshot of each segment's fill */
    public SharedMapStats stats() {
        return core.stats();
    }

    /** @return the same map as a {@code ConcurrentMap<Long, V>} */
    public SharedMap<Long, V> asMap() {
        return SharedMap.over(core, KEYS, values);
    }

    @Override
    public String toString() {
        return core.toString();
    }

    private boolean store(long key, Scratch scratch, int valueLength) {
        long hash = KeyHash.hashLong(key);
        try { // as in delete
            MapSegment segment = core.lock(hash);
            MapSegment holder = segment;
            try {
                long found = segment.find(hash, scratch.entrySegment, ENTRY_HEADER, Long.BYTES);
                holder = core.store(segment, found, hash, scratch, Long.BYTES, valueLength);
                return found < 0;
            } finally {
                SharedMap.unlock(segment, holder);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw core.closed(e);
        }
    }

    /** @return the thread's buffers, taken (the caller releases them), holding {@code key} and room for a value */
    private Scratch keyInScratch(long key, int valueLength) {
        long size = (long) ENTRY_HEADER + Long.BYTES + valueLength;
        if (valueLength > 0) { // a write: refused before the buffer grows to an entry no chunk holds
            core.checkEntrySize(size, Long.BYTES, valueLength);
        }
        Scratch scratch = Scratch.take();
        try {
            scratch.entryCapacity(size, 0);
        } catch (RuntimeException e) {
            scratch.release();
            throw e;
        }
        scratch.entrySegment.set(JAVA_LONG_UNALIGNED, ENTRY_HEADER, key);
        return scratch;
    }

    private static int valueType(Codec<?> values) {
        return Objects.requireNonNull(values, "values").typeId();
    }
}
