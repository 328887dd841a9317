package org.shm4j.sync.map;

import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.Codec;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.ExactEncoding;

import java.lang.foreign.MemorySegment;
import java.util.AbstractCollection;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.ConcurrentMap;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Predicate;

import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;

/**
 * A hash map in a {@link SharedHeap} block that every process mapping the heap reads and writes directly, with no
 * server: Python's {@code multiprocessing.Manager().dict()} without the manager process. Keys and values are stored
 * as the bytes of their {@link Codec}s; the codecs' type ids are stored with the map and checked on open.
 *
 * <pre>{@code
 * MapSizing sizing = new MapSizing(10_000, 16, 8); // sizing.byteSize(): about 1.2 MB, which the heap must have free
 * SharedMap<String, Long> hits = SharedMap.openOrCreate(heap, "hits", Codec.utf8(), Codec.longs(), sizing);
 * hits.merge("/index.html", 1L, Long::sum);   // atomic across processes
 * }</pre>
 *
 * <p>The map is split into segments by key hash. A {@code get} writes no shared memory while its reads succeed: it
 * reads a segment optimistically under the segment's sequence counter and retries if a writer interfered (a torn read
 * is never returned); after 64 failed tries (a writer stays in the middle of a change, or died there) it takes the
 * segment's lock, which repairs a dead writer's change. Writes take the segment's robust lock; {@code putIfAbsent},
 * {@code replace}, {@code remove(k, v)}, {@code compute*} and {@code merge} run atomically under it across processes,
 * their functions included. So, as {@code ConcurrentHashMap} asks, a function must be short and must not change any
 * other mapping of the map: a change to a key of the same segment throws {@link IllegalMonitorStateException} (the lock
 * is not reentrant), and one to another segment may deadlock with a function of another thread or process doing the
 * reverse (segment locks take no part in deadlock detection, and which segment a key falls in is not for the caller to
 * know). Reads ({@code get}, {@code containsKey}, iteration) inside a function are fine. Values are compared by their
 * encoded bytes ({@code replace(k, old, new)}, {@code remove(k, v)}). Iterators are weakly consistent, as those of
 * {@link java.util.concurrent.ConcurrentHashMap}: each segment is copied at one moment as the iterator reaches it.
 * {@code entrySet().removeIf} and {@code values().removeIf} remove an entry only if it still holds the value the filter
 * saw, as {@code ConcurrentHashMap}'s do: a value another thread or process changed meanwhile stays. {@code null} keys
 * and values are refused with {@link NullPointerException}. A key or value of a class its codec does not take (an
 * {@code Integer} key of a map of {@link Codec#longs()} keys, say) gets a {@link ClassCastException} naming the map and
 * the class, from {@code get} and {@code containsKey} too, where {@code ConcurrentHashMap} answers null and hides the
 * mix-up ({@link #equals} still answers false).
 *
 * <p>A stored value that the value codec cannot decode (bytes of another program's codec of the same type id, a
 * record's compact constructor refusing them) makes each read of it throw {@link org.shm4j.core.ShmFormatException}
 * naming the map, with the codec's exception as the cause. It never blocks its key: a write that needs no old value
 * ({@code put}, {@code replace(k, v)}, {@code remove(k)}, as {@link SharedLongMap#set} and
 * {@link SharedLongMap#delete}) is done, then throws {@code ShmFormatException} naming the map and the key and saying
 * that the old value was replaced or removed ({@code putAll} stops there, as at any exception). {@code replace(k,
 * old, new)} and {@code remove(k, v)} compare the stored bytes with the encoding of {@code old} or {@code v}, which
 * bytes this codec cannot decode do not match: they answer false and write nothing. One whose function needs the old
 * value ({@code compute}, {@code computeIfPresent}, {@code merge}, {@code replaceAll}; {@code putIfAbsent} and
 * {@code computeIfAbsent}, which return it) throws before writing and changes nothing, as do the iterators of
 * {@link #entrySet()} and {@link #values()} on reaching it; {@link #keySet()}'s decodes no value, so it finds such
 * keys (their {@code get} throws), and the key set's removals ({@code remove}, {@code removeIf}, {@code retainAll},
 * {@code removeAll}, its iterator's) decode none either: they remove such keys without a word.
 *
 * <p>Capacity: a {@link MapSizing} sizes the map at creation. When a put does not fit its segment, that segment
 * splits alone (extendible hashing): half its keys move to a new segment taken from the heap, without stopping
 * readers or writers of other segments, up to 128 times the initial segments or 1,024 segments, whichever is more
 * (65,536 at most), or the heap's free space; a segment whose keys share every hash bit of the directory cannot split
 * again, so a map sized far too small for random keys fills when its first segment gets there (seen at half to nine
 * tenths of those segments). Free chunks serve entries of their own size or smaller, so values that
 * change size can leave a segment with free bytes but no chunk for a put: then the segment is compacted (its
 * entries rewritten back to back) instead of split, if its live entries fill at most half of it, or if it cannot
 * split. Only then does the put throw {@link org.shm4j.core.ShmFullException}, naming the figures and a sizing that
 * would fit, and change nothing (a compaction goes through a spare segment, as a split does: its own, a new one, or
 * one that another segment kept, so a heap with no room for a new block of segments stops it only when no segment
 * has a spare to lend; the blocks of segments are named {@code <name>#1}, {@code <name>#2}, ..., and another
 * structure holding such a name stops growth as a full heap does, saying so); {@link #stats()} shows each segment's
 * fill. One entry (header, key and value) may take at most half the largest chunk of a segment, so that an overwrite
 * fits beside the old entry; a put of a larger one throws {@link IllegalArgumentException} naming the limit and the
 * sizing. A segment that a remove empties starts its entry space again, so that an emptied map takes entries of any
 * size.
 *
 * <p>A writer that dies in the middle of a change (for example killed by SIGKILL) leaves its segment locked by a
 * dead process: the next writer or blocked reader takes the lock over and rebuilds that segment alone from its
 * checksummed entries, finishing or undoing a split or compaction it was making. Every change that returned before
 * the death is kept; a change in progress is either complete or absent; no reader sees a half-written value.
 * The entry checksum (CRC-32C over its lengths, hash, stamp, key and value) is checked by that repair, iteration and
 * {@code containsValue}, which throw {@link org.shm4j.core.ShmFormatException} naming the segment for an entry that
 * fails it; {@code get} and {@code getInto} do not check it (as LMDB and Chronicle Map do not on a read: it would
 * cost a get about 8 ns), so bytes damaged at rest inside a value (a flipped bit in a file-backed heap's file) are
 * returned by them as they are, and a damaged slot may make its key read as absent.
 * Through a heap opened read-only ({@link SharedHeap#openReadOnly}) reads work and writes throw {@link
 * IllegalStateException}; such a reader cannot take a segment's lock, so a segment a writer died in the middle of
 * changing reads as {@link IllegalStateException} naming it (after trying for a second, or up to two while a change
 * that began in it is still under way) until an access through a heap opened read-write repairs it.
 *
 * <p>Memory consistency effects: as in {@link ConcurrentMap}, actions in a thread (of any process) before placing
 * an entry into the map <i>happen-before</i> actions after the access or removal of that entry in another thread.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class SharedMap<K, V> extends AbstractMap<K, V> implements ConcurrentMap<K, V> {
    /** The structure as messages name it. */
    private static final String KIND = "SharedMap";
    private final MapCore core;
    private final Codec<K> keys;
    private final Codec<V> values;
    /** The map as messages name it, made once: an encode must not build strings. */
    private final String what;

    private SharedMap(MapCore core, Codec<K> keys, Codec<V> values) {
        this.core = core;
        this.keys = keys;
        this.values = values;
        this.what = KIND + " '" + core.name() + "'";
    }

    /**
     * Creates an empty map named {@code name} in {@code heap}.
     *
     * @throws org.shm4j.core.ShmAlreadyExistsException if a block of that name exists
     * @throws org.shm4j.core.ShmFullException          if the heap has no room for the map (naming a sizing that
     *                                                  fits its free bytes)
     * @throws IllegalArgumentException                 if the sizing needs segments above 1 GiB
     */
    public static <K, V> SharedMap<K, V> create(SharedHeap heap, String name, Codec<K> keys, Codec<V> values,
                                                MapSizing sizing) {
        return Blocks.opening(heap, () -> new SharedMap<>(MapCore.create(KIND, heap, name, keyType(keys),
                valueType(values), sizing), keys, values));
    }

    /**
     * Opens the map named {@code name}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is no block of that name
     * @throws org.shm4j.core.ShmTypeMismatchException if it is not a map, or its codecs' type ids differ
     * @throws org.shm4j.core.ShmFormatException       if its header is damaged
     */
    public static <K, V> SharedMap<K, V> open(SharedHeap heap, String name, Codec<K> keys, Codec<V> values) {
        return Blocks.opening(heap, () -> new SharedMap<>(MapCore.open(KIND, heap, name, keyType(keys),
                valueType(values)), keys, values));
    }

    /**
     * Opens the map named {@code name}, or creates it empty with {@code sizing} (ignored when it exists); when
     * several processes race, exactly one creates it.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a map, or its codecs' type ids differ
     */
    public static <K, V> SharedMap<K, V> openOrCreate(SharedHeap heap, String name, Codec<K> keys,
                                                      Codec<V> values, MapSizing sizing) {
        return Blocks.opening(heap, () -> new SharedMap<>(MapCore.openOrCreate(KIND, heap, name, keyType(keys),
                valueType(values), sizing), keys, values));
    }

    /** @return a map over an opened core (for {@link SharedLongMap#asMap()}) */
    static <K, V> SharedMap<K, V> over(MapCore core, Codec<K> keys, Codec<V> values) {
        return new SharedMap<>(core, keys, values);
    }

    /** @return the byte-level map under this one */
    MapCore core() {
        return core;
    }

    /** @return the number of entries, at most {@link Integer#MAX_VALUE}; see {@link #mappingCount()} */
    @Override
    public int size() {
        return (int) Math.min(Integer.MAX_VALUE, core.size());
    }

    /**
     * @return the number of entries: the sum of the segments' counts, each read at a slightly different moment (as
     *         {@code ConcurrentHashMap}'s); a segment split under it is counted once, so every key that a returned
     *         put added and no remove took away is in the sum
     */
    public long mappingCount() {
        return core.size();
    }

    @Override
    public boolean isEmpty() {
        return core.size() == 0;
    }

    @Override
    public boolean containsKey(Object key) {
        Scratch scratch = Scratch.take();
        try {
            int keyLength = encodeKey(key, scratch, 0);
            return core.containsKey(KeyHash.hash(scratch.entry, ENTRY_HEADER, keyLength), scratch, keyLength);
        } finally {
            scratch.release();
        }
    }

    @Override
    public V get(Object key) {
        Scratch scratch = Scratch.take();
        try {
            int keyLength = encodeKey(key, scratch, 0);
            return core.get(KeyHash.hash(scratch.entry, ENTRY_HEADER, keyLength), scratch, keyLength, values);
        } finally {
            scratch.release();
        }
    }

    /**
     * Copies the value of {@code key} into {@code target} at {@code offset} without decoding it: with a key codec
     * that allocates nothing, this allocates nothing.
     *
     * @return the value's encoded length, or -1 if the key is absent; the value is copied only if that length is
     *         at most {@code target.byteSize() - offset} (a larger length tells how much room the value needs).
     *         The bytes of {@code target} past {@code offset} are undefined otherwise: a read that a writer
     *         interfered with, retried, may have copied bytes there
     * @throws IndexOutOfBoundsException if {@code offset} is not within {@code target}
     * @throws IllegalArgumentException  if {@code target} is read-only
     * @throws IllegalStateException     naming this map, if {@code target} is closed (found so only when a value is
     *                                   copied: an absent key is -1 without touching it)
     */
    public int getInto(K key, MemorySegment target, long offset) {
        Scratch scratch = Scratch.take();
        try {
            int keyLength = encodeKey(key, scratch, 0);
            return core.getInto(KeyHash.hash(scratch.entry, ENTRY_HEADER, keyLength), scratch, keyLength, target,
                    offset);
        } finally {
            scratch.release();
        }
    }

    @Override
    public V put(K key, V value) {
        nonNull(value, "value");
        return compute(key, (k, old) -> value, true, true, null, true);
    }

    @Override
    public V putIfAbsent(K key, V value) {
        nonNull(value, "value");
        return compute(key, (k, old) -> value, true, false, null, true);
    }

    @Override
    public V replace(K key, V value) {
        nonNull(value, "value");
        return compute(key, (k, old) -> value, false, true, null, true);
    }

    @Override
    public boolean replace(K key, V oldValue, V newValue) {
        nonNull(newValue, "newValue");
        byte[] expected = encodeValue(nonNull(oldValue, "oldValue"));
        return compute(key, (k, old) -> newValue, false, true, expected, true) != null;
    }

    @Override
    public V remove(Object key) {
        @SuppressWarnings("unchecked") K k = (K) nonNull(key, "key");
        return compute(k, (kk, old) -> null, false, true, null, true);
    }

    @Override
    public boolean remove(Object key, Object value) {
        @SuppressWarnings("unchecked") K k = (K) nonNull(key, "key");
        if (value == null) {
            return false; // as ConcurrentHashMap: no key maps to null
        }
        @SuppressWarnings("unchecked") byte[] expected = encodeValue((V) value);
        return removeIfStored(k, expected);
    }

    /**
     * Removes {@code key} without decoding its value, so one its codec cannot decode is removed without a word (the
     * removals of {@link #keySet()}, whose iterator decodes no value).
     *
     * @return true if it was present
     */
    private boolean removeKey(Object key) {
        Scratch scratch = Scratch.take();
        try {
            int keyLength = encodeKey(key, scratch, 0);
            return core.delete(KeyHash.hash(scratch.entry, ENTRY_HEADER, keyLength), scratch, keyLength);
        } finally {
            scratch.release();
        }
    }

    /** @return true if {@code key} was removed: it held a value whose encoded bytes are {@code stored} */
    private boolean removeIfStored(K key, byte[] stored) {
        return compute(key, (k, old) -> null, false, true, stored, true) != null;
    }

    /**
     * @return true if some key maps to a value whose encoded bytes are {@code value}'s (values are compared as in
     *         {@link #replace(Object, Object, Object)}, so a {@code byte[]} value is found by its contents); reads
     *         every entry
     */
    @Override
    public boolean containsValue(Object value) {
        @SuppressWarnings("unchecked") byte[] expected = encodeValue((V) nonNull(value, "value"));
        for (EntryIterator entries = new EntryIterator(); entries.hasNext(); ) {
            if (Arrays.equals(entries.nextEncodedValue(), expected)) { // the stored bytes: nothing decoded
                return true;
            }
        }
        return false;
    }

    @Override
    public V compute(K key, BiFunction<? super K, ? super V, ? extends V> remapping) {
        Objects.requireNonNull(remapping, "remapping");
        return compute(key, remapping, true, true, null, false);
    }

    @Override
    public V computeIfAbsent(K key, Function<? super K, ? extends V> mapping) {
        Objects.requireNonNull(mapping, "mapping");
        V present = get(key);
        if (present != null) {
            return present; // lock-free fast path, as ConcurrentHashMap's
        }
        return compute(key, (k, old) -> mapping.apply(k), true, false, null, false);
    }

    /**
     * Replaces each entry's value by {@code function}'s answer for it, one entry at a time, atomically under the
     * entry's segment lock as {@link #computeIfPresent} (so the function runs there, under the same rules as a
     * {@code compute} function); entries put meanwhile may be missed, as by the iterators. {@code ConcurrentMap}'s
     * default retried {@code replace(k, v, f(k, v))} until it succeeded, which an entry whose stored bytes its codec
     * does not give back whole (bytes that are not UTF-8, say) never allowed: it spun for ever.
     *
     * @throws NullPointerException naming this map, if {@code function} answers null (that entry and the ones not
     *                              reached yet keep their values)
     */
    @Override
    public void replaceAll(BiFunction<? super K, ? super V, ? extends V> function) {
        Objects.requireNonNull(function, "function");
        for (K key : keySet()) {
            computeIfPresent(key, (k, v) -> nonNull(function.apply(k, v), "value"));
        }
    }

    @Override
    public V computeIfPresent(K key, BiFunction<? super K, ? super V, ? extends V> remapping) {
        Objects.requireNonNull(remapping, "remapping");
        return compute(key, remapping, false, true, null, false);
    }

    @Override
    public V merge(K key, V value, BiFunction<? super V, ? super V, ? extends V> remapping) {
        nonNull(value, "value");
        Objects.requireNonNull(remapping, "remapping");
        return compute(key, (k, old) -> old == null ? value : remapping.apply(old, value), true, true, null, false);
    }

    /**
     * Removes every entry, one segment at a time (so a concurrent put may survive it, as in ConcurrentHashMap), and
     * then the segments that a split made meanwhile, until a look finds none new: a split moves keys that were there
     * before the clear into a new segment, which must not keep them.
     */
    @Override
    public void clear() {
        try {
            Set<Integer> cleared = new HashSet<>();
            boolean more = true;
            while (more) {
                more = false;
                for (MapSegment segment : core.existingSegments()) {
                    if (cleared.add(segment.index)) {
                        more = true; // then look again for the segments its split (or another's) made
                        segment.lock();
                        try {
                            segment.clear();
                        } finally {
                            segment.unlock();
                        }
                    }
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw core.closed(e);
        }
    }

    /**
     * @return a weakly consistent view of the entries, as {@code ConcurrentHashMap}'s: its iterators and streams never
     *         throw for a change made meanwhile; {@code setValue} and {@code remove} write through
     */
    @Override
    public Set<Map.Entry<K, V>> entrySet() {
        return new AbstractSet<>() {
            @Override
            public Iterator<Map.Entry<K, V>> iterator() {
                return new EntryIterator();
            }

            @Override
            public Spliterator<Map.Entry<K, V>> spliterator() {
                return weaklyConsistent(iterator(), Spliterator.DISTINCT);
            }

            @Override
            public boolean contains(Object o) {
                return o instanceof Map.Entry<?, ?> e && e.getKey() != null && e.getValue() != null
                        && Objects.deepEquals(e.getValue(), lookUp(e.getKey()));
            }

            @Override
            public boolean remove(Object o) {
                try {
                    return o instanceof Map.Entry<?, ?> e && e.getKey() != null && e.getValue() != null
                            && SharedMap.this.remove(e.getKey(), e.getValue());
                } catch (ClassCastException e) { // a key or value this map cannot hold: not an entry of it
                    return false;
                }
            }

            @Override
            public boolean removeIf(Predicate<? super Map.Entry<K, V>> filter) {
                return removeEntriesIf(Objects.requireNonNull(filter, "filter"));
            }

            @Override
            public int size() {
                return SharedMap.this.size();
            }
        };
    }

    /** @return a weakly consistent view of the keys, as {@link #entrySet()}'s; {@code remove} writes through */
    @Override
    public Set<K> keySet() {
        return new AbstractSet<>() {
            @Override
            public Iterator<K> iterator() {
                return entryParts(EntryIterator::nextKey); // values not decoded: one its codec cannot is no matter
            }

            @Override
            public Spliterator<K> spliterator() {
                return weaklyConsistent(iterator(), Spliterator.DISTINCT);
            }

            @Override
            public int size() {
                return SharedMap.this.size();
            }

            @Override
            public boolean contains(Object key) {
                return containsKey(key);
            }

            /** Removes {@code key} without decoding its value, as the iterator's {@code remove}. */
            @Override
            public boolean remove(Object key) {
                return key != null && removeKey(key);
            }

            /** @return the sum of the keys' hashes, as {@link Set#hashCode()}, an array's by its contents */
            @Override
            public int hashCode() {
                int hash = 0;
                for (K key : this) {
                    hash += contentHash(key);
                }
                return hash;
            }
        };
    }

    /** @return a weakly consistent view of the values, as {@link #entrySet()}'s; {@code remove} writes through */
    @Override
    public Collection<V> values() {
        return new AbstractCollection<>() {
            @Override
            public Iterator<V> iterator() {
                return entryParts(entries -> entries.next().getValue());
            }

            @Override
            public Spliterator<V> spliterator() {
                return weaklyConsistent(iterator(), 0);
            }

            @Override
            public int size() {
                return SharedMap.this.size();
            }

            @Override
            public boolean contains(Object value) {
                return containsValue(value);
            }

            /**
             * Removes one entry whose value is {@code value}, compared by encoded bytes as {@link #containsValue}
             * does, if still so.
             */
            @Override
            public boolean remove(Object value) {
                if (value == null) {
                    return false;
                }
                @SuppressWarnings("unchecked") byte[] expected = encodeValue((V) value);
                for (EntryIterator entries = new EntryIterator(); entries.hasNext(); ) {
                    // the stored bytes, as containsValue: only a matching entry's key is decoded
                    if (Arrays.equals(entries.nextEncodedValue(), expected)
                            && removeIfStored(entries.previousKey(), expected)) {
                        return true;
                    }
                }
                return false;
            }

            @Override
            public boolean removeIf(Predicate<? super V> filter) {
                Objects.requireNonNull(filter, "filter");
                return removeEntriesIf(entry -> filter.test(entry.getValue()));
            }
        };
    }

    /**
     * Removes each entry that {@code filter} accepts, only if it still holds the value the filter saw (its stored
     * bytes, so a codec whose decode does not give back the same bytes on encoding cannot keep an entry), as
     * {@code ConcurrentHashMap}'s views do: an entry that another thread or process changed meanwhile stays, with
     * its new value (the default {@code removeIf}, through the iterator's key-only {@code remove}, would drop it), as
     * does one whose {@code setValue} the filter called.
     *
     * @return true if an entry was removed
     */
    private boolean removeEntriesIf(Predicate<? super Map.Entry<K, V>> filter) {
        boolean removed = false;
        for (EntryIterator entries = new EntryIterator(); entries.hasNext(); ) {
            Map.Entry<K, V> entry = entries.next();
            if (filter.test(entry) && removeIfStored(entry.getKey(), entries.lastStoredValue())) {
                removed = true;
            }
        }
        return removed;
    }

    /**
     * @return an iterator over what {@code part} takes of each entry, as {@link #entrySet()}'s; {@code remove} writes
     *         through
     */
    private <E> Iterator<E> entryParts(Function<EntryIterator, E> part) {
        EntryIterator entries = new EntryIterator();
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return entries.hasNext();
            }

            @Override
            public E next() {
                return part.apply(entries);
            }

            @Override
            public void remove() {
                entries.remove();
            }
        };
    }

    /**
     * @return true if {@code o} is a map of the same entries, as {@code AbstractMap}'s; against another
     *         {@code SharedMap}, values that are arrays (a {@link Codec#bytes()} value) are compared by their
     *         contents, since each read decodes a new one (against other maps by {@code equals}, as those maps
     *         compare them, so that equality stays symmetric); a snapshot of neither map while they change
     */
    @Override
    public boolean equals(Object o) {
        if (o == this) {
            return true;
        }
        if (!(o instanceof SharedMap<?, ?> other)) {
            return super.equals(o);
        }
        if (other.size() != size()) {
            return false;
        }
        try {
            for (Map.Entry<K, V> entry : entrySet()) {
                if (!Objects.deepEquals(entry.getValue(), other.get(entry.getKey()))) {
                    return false;
                }
            }
            return true;
        } catch (ClassCastException | IllegalArgumentException e) { // a key the other map cannot hold
            return false;
        }
    }

    /** @return the sum of the entries' hashes, as {@link Map#hashCode()}, arrays hashed by their contents */
    @Override
    public int hashCode() {
        return super.hashCode();
    }

    /** @return the value of {@code key}, or null if absent or a key this map's codec cannot take */
    private Object lookUp(Object key) {
        try {
            return get(key);
        } catch (ClassCastException e) {
            return null;
        }
    }

    /** @return {@code x}'s hash, an array's by its contents */
    private static int contentHash(Object x) {
        return x != null && x.getClass().isArray() ? Arrays.deepHashCode(new Object[] {x}) : Objects.hashCode(x);
    }

    /** @return {@code x} as text, an array (a {@link Codec#bytes()} key) by its contents, as {@link #contentHash} */
    private static String contentText(Object x) {
        String text = Arrays.deepToString(new Object[] {x});
        return text.substring(1, text.length() - 1);
    }

    /**
     * @return a spliterator over {@code iterator} that knows no size: the default one of a collection promises
     *         {@code size()} elements, and a stream then fails when a concurrent writer changed the count
     */
    private static <E> Spliterator<E> weaklyConsistent(Iterator<E> iterator, int characteristics) {
        return Spliterators.spliteratorUnknownSize(iterator,
                characteristics | Spliterator.CONCURRENT | Spliterator.NONNULL);
    }

    /** @return a snapshot of each segment's fill */
    public SharedMapStats stats() {
        return core.stats();
    }

    /**
     * Reads the figures of the map named {@code name} without knowing its codecs, for tools such as
     * {@code shm4j inspect}: loads only, no lock taken, nothing written (a heap opened read-only will do).
     *
     * @return a snapshot of each segment's fill
     * @throws org.shm4j.core.ShmNotFoundException     if there is no such block
     * @throws org.shm4j.core.ShmTypeMismatchException if it is not a map of this layout version
     * @throws org.shm4j.core.ShmFormatException       if its header is corrupted
     */
    public static SharedMapStats inspect(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> MapCore.inspect(heap, name).stats());
    }

    /** @return the heap block type of a map's main block (tag and layout version), for tools */
    public static BlockType blockType() {
        return MapLayout.MAP;
    }

    /** @return the heap block type of the blocks that hold a map's segments made by splits, for tools */
    public static BlockType segmentsBlockType() {
        return MapLayout.SEGMENTS;
    }

    /** @return the map's name in its heap */
    public String name() {
        return core.name();
    }

    /**
     * @return the map's name and heap, as exceptions name it, not its entries (unlike {@code AbstractMap}'s: a shared
     *         map may hold millions, which {@link #entrySet()} iterates)
     */
    @Override
    public String toString() {
        return core.toString();
    }

    /**
     * The one locked path of every write: under the key's segment lock, finds the entry, decodes the old value and,
     * if the key's presence matches {@code ifAbsent}/{@code ifPresent} and {@code expected} (encoded bytes, or
     * null for any) matches the old value, stores the function's result ({@code null} removes).
     *
     * @return the old value if {@code returnOld}, else the new one; null when nothing matched
     */
    private V compute(K key, BiFunction<? super K, ? super V, ? extends V> function, boolean ifAbsent,
                      boolean ifPresent, byte[] expected, boolean returnOld) {
        Scratch scratch = Scratch.take(); // the function and the codecs use other buffers if they use a map
        try {
            return compute(key, function, ifAbsent, ifPresent, expected, returnOld, scratch);
        } finally {
            scratch.release();
        }
    }

    private V compute(K key, BiFunction<? super K, ? super V, ? extends V> function, boolean ifAbsent,
                      boolean ifPresent, byte[] expected, boolean returnOld, Scratch scratch) {
        int keyLength = encodeKey(key, scratch, 0);
        long hash = KeyHash.hash(scratch.entry, ENTRY_HEADER, keyLength);
        try { // a heap closed meanwhile: named, even when the unlock below is what meets it
            MapSegment segment = core.lock(hash);
            MapSegment holder = segment;
            try {
                long found = segment.find(hash, scratch.entrySegment, ENTRY_HEADER, keyLength);
                if (found >= 0 ? !ifPresent || expected != null && !sameBytes(segment, found, expected) : !ifAbsent) {
                    return found >= 0 && expected == null ? decodeValue(segment, found) : null;
                }
                V old = null;
                ShmFormatException undecodable = null;
                if (found >= 0) {
                    try {
                        old = decodeValue(segment, found);
                    } catch (ShmFormatException e) {
                        if (!returnOld) {
                            throw e; // the function needs the old value: nothing written
                        }
                        undecodable = e; // a put, replace or remove ignores it: the write goes ahead
                    }
                }
                V result = function.apply(key, old);
                if (result == null) {
                    if (found >= 0) {
                        segment.delete((int) found);
                    }
                } else {
                    int valueLength = valueLength(result);
                    keyLength = encodeKey(key, scratch, valueLength); // again: the buffer grows for the value
                    encodeValue(result, valueLength, scratch.entrySegment, ENTRY_HEADER + keyLength);
                    holder = core.store(segment, found, hash, scratch, keyLength, valueLength);
                }
                if (undecodable != null) { // thrown after the write, which stays: said, not lost silently
                    throw new ShmFormatException(core + ": the old value of key " + contentText(key) + " was "
                            + (result == null ? "removed" : "replaced") + " though its codec cannot decode it (see"
                            + " the cause); the write is done", undecodable);
                }
                return returnOld ? old : result;
            } finally {
                unlock(segment, holder);
            }
        } catch (IllegalStateException e) { // the function's own passes through: closedOr names only a closed heap's
            throw core.closed(e);
        }
    }

    /**
     * Unlocks a write's segment and the half of a split that took its key, if any: the segment also when the half's
     * unlock throws (a view closed under the write gives each back through another view, then throws).
     */
    static void unlock(MapSegment segment, MapSegment holder) {
        try {
            if (holder != segment) {
                holder.unlock();
            }
        } finally {
            segment.unlock();
        }
    }

    private int encodeKey(Object key, Scratch scratch, int valueLength) {
        @SuppressWarnings("unchecked") K k = (K) nonNull(key, "key");
        try {
            int keyLength = ExactEncoding.measure(keys, k, what);
            long size = (long) ENTRY_HEADER + keyLength + valueLength;
            if (valueLength > 0) { // a write: refused before the buffer grows to an entry no chunk holds
                core.checkEntrySize(size, keyLength, valueLength);
            }
            scratch.entryCapacity(size, 0);
            ExactEncoding.writeExactly(keys, k, keyLength, scratch.entrySegment, ENTRY_HEADER, true, what, "stored");
            return keyLength;
        } catch (ClassCastException e) {
            throw wrongType("key", key, keys, e);
        }
    }

    private byte[] encodeValue(V value) {
        int length = valueLength(value);
        byte[] bytes = new byte[length];
        encodeValue(value, length, MemorySegment.ofArray(bytes), 0);
        return bytes;
    }

    private int valueLength(V value) {
        try {
            return ExactEncoding.measure(values, value, what);
        } catch (ClassCastException e) {
            throw wrongType("value", value, values, e);
        }
    }

    private void encodeValue(V value, int length, MemorySegment target, long offset) {
        try {
            ExactEncoding.writeExactly(values, value, length, target, offset, true, what, "stored");
        } catch (ClassCastException e) {
            throw wrongType("value", value, values, e);
        }
    }

    /** @return the exception for a key or value of a class its codec does not take, naming this map */
    /**
     * @return {@code argument}, which is not null
     * @throws NullPointerException naming this map and the argument: it holds no null, as a {@code ConcurrentMap}
     */
    private <T> T nonNull(T argument, String role) {
        if (argument == null) {
            throw new NullPointerException(what + ": a null " + role + " (a ConcurrentMap"
                    + " holds none; where Python code stores None, store a value of its own)");
        }
        return argument;
    }

    private ClassCastException wrongType(String what, Object object, Codec<?> codec, ClassCastException cause) {
        ClassCastException e = new ClassCastException(core + ": a " + what + " of class " + object.getClass()
                .getName() + " does not fit the map's " + what + " codec (type "
                + Blocks.typeId(codec.typeId()) + "): "
                + cause.getMessage());
        e.initCause(cause);
        return e;
    }

    private V decodeValue(MapSegment segment, long slot) {
        long chunk = segment.chunk((int) slot);
        return core.decode(values, segment.memory, segment.valueOffset(chunk), segment.valueLength(chunk));
    }

    private static boolean sameBytes(MapSegment segment, long slot, byte[] expected) {
        long chunk = segment.chunk((int) slot);
        long offset = segment.valueOffset(chunk);
        return segment.valueLength(chunk) == expected.length && MemorySegment.mismatch(segment.memory, offset,
                offset + expected.length, MemorySegment.ofArray(expected), 0, expected.length) < 0;
    }

    private static int keyType(Codec<?> keys) {
        return Objects.requireNonNull(keys, "keys").typeId();
    }

    private static int valueType(Codec<?> values) {
        return Objects.requireNonNull(values, "values").typeId();
    }

    /**
     * Walks the key space by hash pattern: a pattern whose segment has split since is walked as its two halves, so
     * each key present throughout is returned once even while segments split.
     */
    private final class EntryIterator implements Iterator<Map.Entry<K, V>> {
        private final ArrayDeque<long[]> patterns = new ArrayDeque<>();
        private MapSnapshot snapshot;
        private int next;
        private K last;
        private byte[] lastValue;

        EntryIterator() {
            for (int p = (1 << core.initialDepth()) - 1; p >= 0; p--) {
                patterns.push(new long[] {p, core.initialDepth()});
            }
        }

        @Override
        public boolean hasNext() {
            while (snapshot == null || next == snapshot.keys().size()) {
                if (patterns.isEmpty()) {
                    return false;
                }
                long[] pattern = patterns.pop();
                snapshot = MapSnapshot.of(core, (int) pattern[0], (int) pattern[1], patterns);
                next = 0;
            }
            return true;
        }

        @Override
        public Map.Entry<K, V> next() {
            K key = nextKey();
            return new WriteThroughEntry(key, core.decode(values, MemorySegment.ofArray(lastValue), 0,
                    lastValue.length));
        }

        /** @return the next entry's key, its value not decoded; {@link #remove()} removes that entry */
        K nextKey() {
            if (!hasNext()) {
                throw new NoSuchElementException("no more entries in " + core);
            }
            lastValue = snapshot.values().get(next);
            last = keyAt(next++);
            return last;
        }

        /** @return the value of the entry {@link #next()} returned last, as stored (not a copy: not to be changed) */
        byte[] lastStoredValue() {
            return lastValue;
        }

        /** @return the next entry's value as stored, without decoding it or its key ({@link #hasNext()} said so) */
        byte[] nextEncodedValue() {
            return snapshot.values().get(next++);
        }

        /** @return the key of the entry whose value {@link #nextEncodedValue()} returned last, decoded */
        K previousKey() {
            return keyAt(next - 1);
        }

        private K keyAt(int i) {
            byte[] key = snapshot.keys().get(i);
            return core.decode(keys, MemorySegment.ofArray(key), 0, key.length);
        }

        @Override
        public void remove() {
            if (last == null) {
                throw new IllegalStateException("next() has not returned an entry to remove");
            }
            removeKey(last);
            last = null;
        }
    }

    /**
     * An entry whose {@code setValue} puts into the map; equal to an entry of the same key and value, arrays (a
     * {@link Codec#bytes()} value) compared and hashed by their contents, since each read decodes a new one.
     */
    private final class WriteThroughEntry extends SimpleEntry<K, V> {
        WriteThroughEntry(K key, V value) {
            super(key, value);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Map.Entry<?, ?> e && Objects.deepEquals(getKey(), e.getKey())
                    && Objects.deepEquals(getValue(), e.getValue());
        }

        @Override
        public int hashCode() {
            return contentHash(getKey()) ^ contentHash(getValue());
        }

        @Override
        public V setValue(V value) {
            V old = super.setValue(nonNull(value, "value"));
            put(getKey(), value);
            return old;
        }
    }
}
