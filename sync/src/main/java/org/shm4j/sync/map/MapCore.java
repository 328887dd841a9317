package org.shm4j.sync.map;

import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.Codec;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.ReopenSweep;
import org.shm4j.sync.internal.SyncLayout;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;
import static org.shm4j.sync.map.MapLayout.H_DIRECTORY;
import static org.shm4j.sync.map.MapLayout.H_NEXT_SEGMENT;

/**
 * The byte-level map under {@link SharedMap} and {@link SharedLongMap}: finds or creates the block, checks its
 * header and codecs, follows the directory to the segments (mapping extension blocks as splits create them), grows
 * by splitting, and words the map's exceptions.
 */
final class MapCore {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    /** Longest map name: it leaves room for the {@code "#<b>"} of extension blocks in a heap block name. */
    static final int MAX_NAME_BYTES = 88;
    /** Hints per initial segment ({@link #hints}): room for four doublings of the map before they collide. */
    private static final int HINT_BITS = 4;
    /** Sums {@link #size()} takes at most while splits keep publishing segments under it; the last one stands. */
    private static final int SIZE_TRIES = 8;
    /** {@code Codec.longs()}'s type id: a {@link SharedLongMap}'s keys. */
    private static final int LONG_KEYS = Codec.longs().typeId();

    private final String name;
    /** The class the map was opened through, {@code SharedMap} or {@code SharedLongMap}, as messages name it. */
    private final String kind;
    private final SharedHeap heap;
    private final MapGeometry geometry;
    private final MemorySegment block;
    private final int directoryMask;
    private final int maxLoad;
    private final long maxEntryBytes;
    /** This process's segment objects by number, made on first use (benign race: they hold only final fields). */
    private final MapSegment[] segments;
    /** Low bits of a hash that index {@link #hints}. */
    private final int hintMask;
    /**
     * This process's guess of the segment holding a key, by the low bits of its hash: the last segment a read
     * found there (benign race, as {@link #segments}).
     */
    private final MapSegment[] hints;
    /** This process's extension blocks by index, looked up on first use. */
    private final MemorySegment[] extensions;

    static {
        // before any map exists in this process: its open of a heap again renames the segment locks its close left
        ReopenSweep.addMutexes(MapLayout.MAP, MapCore::mutexSites);
    }

    private MapCore(String kind, SharedHeap heap, String name, MemorySegment block) {
        this.heap = heap;
        this.name = name;
        this.kind = kind;
        this.block = block;
        this.geometry = MapGeometry.read(block, kind + " '" + name + "' in " + heap);
        this.directoryMask = geometry.maxSegments() - 1;
        this.maxLoad = MapLayout.maxLoad(geometry.slots());
        this.segments = new MapSegment[geometry.maxSegments()];
        this.hints = new MapSegment[Math.min(geometry.maxSegments(), geometry.segments() << HINT_BITS)];
        this.hintMask = hints.length - 1;
        this.extensions = new MemorySegment[geometry.maxDepth() - geometry.initialDepth() + 1];
        // half the largest chunk: a put writes the new entry beside the old one, so that an overwrite of the largest
        // entry a first put may store must find a second such chunk in the segment
        this.maxEntryBytes = MapLayout.chunkSize(Math.max(0, segmentNumber(0, null, 0, 0).arena.maxClass() - 1));
        segmentCount(); // checks nextSegment at open, as the header's other fields were
        Scratch.initialize(); // here, shallow: an operation deep in a stack must not be the first to initialize it
    }

    /**
     * The segment locks of the map block {@code block} named {@code name}, for the sweep of a heap this process opens
     * again ({@link ReopenSweep}): a hold of one that names this process then was left by its close (a write, or a
     * compute whose function ran, when the heap closed), and the sweep renames it as a gone holder's, each by
     * {@code RobustMutex.abandon}'s CAS from this process's own word (so a segment another process holds is left
     * alone). The next lock of that segment, in any process and on any thread of this one (the one whose compute was
     * cut short too), takes it over as after a dead writer: its {@code takeOvers} counts one, a write that had begun
     * (odd sequence) is rebuilt ({@code repairs} counts one), and what the cut-short call would have written is not
     * there. Found from the header ({@link MapGeometry#read}, checked as an open checks it): every segment of the map
     * block, and of each extension block {@code "<name>#<b>"} the heap holds, whose size must be its segments' as
     * its open checks.
     *
     * @return each segment's mutex, a slice that begins with it
     * @throws ShmFormatException if the header or an extension block's size is not a map's (damaged): none is renamed
     */
    static List<MemorySegment> mutexSites(MemorySegment block, String name, ReopenSweep.OtherBlocks heap) {
        MapGeometry geometry = MapGeometry.read(block, "SharedMap '" + name + "'");
        long size = geometry.segmentSize();
        List<MemorySegment> sites = new ArrayList<>();
        for (int i = 0; i < geometry.blockSegments(); i++) {
            sites.add(block.asSlice(geometry.segmentsOffset() + i * size + MapLayout.S_MUTEX, SyncLayout.MUTEX_SIZE));
        }
        for (int b = 1; b <= geometry.extensionBlocks(); b++) {
            long count = geometry.extensionSegments(b);
            Optional<MemorySegment> found = count > 0 ? heap.find(name + "#" + b, MapLayout.SEGMENTS)
                    : Optional.empty();
            if (found.isPresent()) {
                MemorySegment extension = found.get();
                if (extension.byteSize() != count * size) {
                    throw Blocks.corrupt("SharedMap segments '" + name + "#" + b + "'", "block size",
                            extension.byteSize(), String.valueOf(count * size));
                }
                for (long i = 0; i < count; i++) {
                    sites.add(extension.asSlice(i * size + MapLayout.S_MUTEX, SyncLayout.MUTEX_SIZE));
                }
            }
        }
        return sites;
    }

    /**
     * Creates a map block; see {@link SharedMap#create}.
     *
     * @param kind the class it is made through, {@code SharedMap} or {@code SharedLongMap}, for messages
     */
    static MapCore create(String kind, SharedHeap heap, String name, int keyTypeId, int valueTypeId,
                          MapSizing sizing) {
        MapGeometry geometry = plan(kind, name, sizing, keyTypeId, valueTypeId);
        try {
            return new MapCore(kind, heap, name, Blocks.create(heap, checkName(kind, name), MapLayout.MAP,
                    geometry.blockSize(), geometry::write));
        } catch (ShmFullException e) {
            throw noRoom(kind, heap, name, sizing, geometry.blockSize(), e);
        }
    }

    /**
     * @return the exception for a heap without room for a new map's block: the heap's (its free bytes, or its full
     *         catalog), naming the map and its sizing, and the sizing that fits the free bytes when they are short
     */
    private static ShmFullException noRoom(String kind, SharedHeap heap, String name, MapSizing sizing, long bytes,
                                           ShmFullException heapFull) {
        long free = heap.freeBytes();
        MapSizing fits = bytes <= free ? sizing : sizing.fitting(free - (SyncLayout.CACHE_LINE - 1)); // alignment
        String advice = fits == sizing ? "" : fits == null
                ? "; not even one entry of those averages fits its " + free + " free bytes"
                : "; a map created with " + fits + " would fit its " + free + " free bytes";
        return new ShmFullException(kind + " '" + name + "' cannot be created: " + sizing + " takes " + bytes
                + " bytes (MapSizing.byteSize()), and " + heapFull.getMessage() + advice, heapFull);
    }

    /** @return {@link MapGeometry#plan}, its refusal naming the map */
    private static MapGeometry plan(String kind, String name, MapSizing sizing, int keyTypeId, int valueTypeId) {
        try {
            return MapGeometry.plan(Objects.requireNonNull(sizing, "sizing"), keyTypeId, valueTypeId);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(kind + " '" + name + "': " + e.getMessage(), e);
        }
    }

    /** Opens a map block and checks its codecs; see {@link SharedMap#open}. */
    static MapCore open(String kind, SharedHeap heap, String name, int keyTypeId, int valueTypeId) {
        return new MapCore(kind, heap, name, Blocks.open(heap, name, MapLayout.MAP)).checkTypes(keyTypeId,
                valueTypeId);
    }

    /** Opens a map block whatever its codecs, to read its figures only; see {@link SharedMap#inspect}. */
    static MapCore inspect(SharedHeap heap, String name) {
        return new MapCore("SharedMap", heap, name, Blocks.open(heap, name, MapLayout.MAP));
    }

    /** Opens a map block, or creates it; see {@link SharedMap#openOrCreate}. */
    static MapCore openOrCreate(String kind, SharedHeap heap, String name, int keyTypeId, int valueTypeId,
                                MapSizing sizing) {
        Optional<HeapBlock> existing = Objects.requireNonNull(heap, "heap").find(name);
        if (existing.isPresent()) {
            return open(kind, heap, name, keyTypeId, valueTypeId);
        }
        MapGeometry geometry = plan(kind, name, sizing, keyTypeId, valueTypeId);
        try {
            return new MapCore(kind, heap, name, Blocks.openOrCreate(heap, checkName(kind, name), MapLayout.MAP,
                    geometry.blockSize(), geometry::write)).checkTypes(keyTypeId, valueTypeId);
        } catch (ShmFullException e) {
            throw noRoom(kind, heap, name, sizing, geometry.blockSize(), e);
        }
    }

    /**
     * Looks a key up (see {@link MapSegment#read}) in the segment that last held keys of its hash's low bits in this
     * process, if it still covers the hash; else in the segment the directory names, again if a split moved the key
     * meanwhile. A segment that covers a hash in a validated read holds its key: the directory names a segment
     * before any reader can find it, only ever points on to newer segments, and a split changes the depth and
     * pattern together with the entries it drops (see {@link MapLayout}); so the hint saves the directory load.
     */
    int read(long hash, MemorySegment key, long keyOffset, int keyLength, MemorySegment target, long targetOffset,
             long capacity) {
        long longKey = keyLength == Long.BYTES ? key.get(JAVA_LONG_UNALIGNED, keyOffset) : 0;
        return read(hash, key, keyOffset, keyLength, longKey, target, targetOffset, capacity);
    }

    /** {@link #read} for an 8-byte key held in a {@code long}: see {@link LongKeyRead}. */
    int readLong(long hash, long key, MemorySegment target, long targetOffset, long capacity) {
        return read(hash, null, 0, Long.BYTES, key, target, targetOffset, capacity);
    }

    /** {@link #read}; an 8-byte key is {@code longKey} (any 8-byte key compares as one long: the fast path). */
    private int read(long hash, MemorySegment key, long keyOffset, int keyLength, long longKey, MemorySegment target,
                     long targetOffset, long capacity) {
        int h = (int) hash & hintMask;
        MapSegment hint = hints[h];
        MapSegment segment = hint;
        int j = (int) hash & directoryMask;
        while (true) {
            if (segment != null) {
                int result;
                try {
                    result = keyLength == Long.BYTES
                            ? LongKeyRead.read(segment, hash, longKey, target, targetOffset, capacity)
                            : segment.read(hash, key, keyOffset, keyLength, target, targetOffset, capacity);
                } catch (IllegalStateException stuck) { // read-only: gave up on a segment a dead writer left
                    if (segment != hint || directory(j) == segment.index) {
                        throw stuck;
                    }
                    hints[h] = null; // a stale hint: a split moved the key away before that writer died
                    result = MapSegment.MOVED;
                }
                if (result != MapSegment.MOVED) {
                    if (segment != hint) {
                        hints[h] = segment;
                    }
                    return result;
                }
            }
            int number = directory(j);
            if (segment != null && segment.index == number) { // a split points the directory on before it deepens
                throw segment.corrupted("directory entry " + j + " names it, but its local depth and pattern do "
                        + "not cover that entry");
            }
            segment = segmentNumber(number, null, 0, 0);
        }
    }

    /**
     * @return the segment of a key's hash, locked by the current thread (which unlocks it): the hint of
     *         {@link #read} if, locked, it covers the hash (a half still being split is locked by its splitter), else
     *         the segment the directory names
     */
    MapSegment lock(long hash) {
        int h = (int) hash & hintMask;
        MapSegment hint = hints[h];
        MapSegment locked = null; // released if a check made holding it throws (damaged bytes): not left held
        try {
            if (hint != null) {
                hint.lock();
                locked = hint;
                if (hint.covers(hash)) {
                    return hint;
                }
                locked = null;
                hint.unlock();
            }
            int j = (int) hash & directoryMask;
            while (true) {
                int number = directory(j);
                MapSegment segment = segmentNumber(number, null, 0, 0);
                segment.lock();
                locked = segment;
                if (directory(j) == number) { // its lock repaired it: only its holder re-points the entry now
                    hints[h] = segment;
                    return segment;
                }
                locked = null;
                segment.unlock();
            }
        } catch (RuntimeException | Error e) {
            if (locked != null) {
                locked.unlock();
            }
            throw e;
        }
    }

    /**
     * Under {@code segment}'s lock: stores the entry that {@code scratch} holds, compacting the segment once if
     * that pays ({@link SegmentCompaction#pays}) and splitting it (and the half the key goes to) until it fits.
     *
     * @return the segment that now holds the key, locked: {@code segment} itself, or a half that the caller unlocks
     *         besides {@code segment} (which stays locked either way)
     * @throws ShmFullException if no split is left or the heap has no room; nothing changed then, and only
     *                          {@code segment} is still locked
     */
    MapSegment store(MapSegment segment, long found, long hash, Scratch scratch, int keyLength, int valueLength) {
        MapSegment target = segment;
        boolean compacted = false;
        try {
            while (!target.tryStore(found, hash, scratch, keyLength, valueLength)) {
                if (!compacted && SegmentCompaction.pays(this, target, found, keyLength, valueLength)) {
                    SegmentCompaction.compact(this, target, keyLength, valueLength);
                    compacted = true; // once: if the entry still does not fit, a split makes room
                } else {
                    int bit = target.localDepth();
                    MapSegment half;
                    try {
                        half = SegmentSplit.split(this, target, keyLength, valueLength);
                    } catch (ShmFullException noSplit) { // no new segment: a spare another segment kept may do
                        compactInstead(target, found, keyLength, valueLength, compacted, noSplit);
                        compacted = true;
                        found = target.find(hash, scratch.entrySegment, ENTRY_HEADER, keyLength);
                        continue;
                    }
                    MapSegment other = (hash >>> bit & 1) != 0 ? target : half;
                    target = other == half ? target : half;
                    if (other != segment) {
                        other.unlock();
                    }
                }
                found = target.find(hash, scratch.entrySegment, ENTRY_HEADER, keyLength);
            }
            return target;
        } catch (RuntimeException | Error e) {
            if (target != segment) {
                target.unlock();
            }
            throw e;
        }
    }

    /**
     * Under {@code segment}'s lock, after its split for a put found no new segment (the map has handed out every
     * number, or the heap has no room): compacts it instead, if that makes room for the entry and it was not
     * compacted for this put yet; the compaction may borrow a spare that another segment kept
     * ({@link #borrowSpare}).
     *
     * @throws ShmFullException {@code noSplit}, if compacting does not make room or finds no spare either
     */
    private void compactInstead(MapSegment segment, long found, int keyLength, int valueLength, boolean compacted,
                                ShmFullException noSplit) {
        if (compacted || !SegmentCompaction.makesRoom(this, segment, found, keyLength, valueLength)) {
            throw noSplit;
        }
        try {
            SegmentCompaction.compact(this, segment, keyLength, valueLength);
        } catch (ShmFullException noSpare) {
            throw SegmentCompaction.withoutSpare(noSplit); // its figures say what the map or the heap lacks
        }
    }

    /** @return the value of the key that {@code scratch} holds after its header space, decoded; null if absent */
    <V> V get(long hash, Scratch scratch, int keyLength, Codec<V> values) {
        while (true) {
            int length = read(hash, scratch.entrySegment, ENTRY_HEADER, keyLength, scratch.outSegment, 0,
                    scratch.out.length);
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
        return read(hash, scratch.entrySegment, ENTRY_HEADER, keyLength, scratch.outSegment, 0, 0) >= 0;
    }

    /**
     * Removes the key that {@code scratch} holds after its header space, without decoding its value (one the value
     * codec cannot decode is no matter).
     *
     * @return true if it was present
     */
    boolean delete(long hash, Scratch scratch, int keyLength) {
        try { // a heap closed meanwhile: named, even when the unlock below is what meets it
            MapSegment segment = lock(hash);
            try {
                long found = segment.find(hash, scratch.entrySegment, ENTRY_HEADER, keyLength);
                if (found >= 0) {
                    segment.delete((int) found);
                }
                return found >= 0;
            } finally {
                segment.unlock();
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closed(e);
        }
    }

    /** @return as {@link SharedMap#getInto}, for the 8-byte key {@code key} */
    int getInto(long hash, long key, MemorySegment target, long offset) {
        checkTarget(target, offset);
        try {
            return readLong(hash, key, target, offset, target.byteSize() - offset);
        } catch (IllegalStateException e) {
            throw callerClosed(e, "target", target);
        }
    }

    /** @return as {@link SharedMap#getInto}, for the key that {@code scratch} holds after its header space */
    int getInto(long hash, Scratch scratch, int keyLength, MemorySegment target, long offset) {
        checkTarget(target, offset);
        try {
            return read(hash, scratch.entrySegment, ENTRY_HEADER, keyLength, target, offset,
                    target.byteSize() - offset);
        } catch (IllegalStateException e) {
            throw callerClosed(e, "target", target);
        }
    }

    /**
     * For a method copying into or out of a caller's segment: called only from catch blocks, so that the hot path
     * pays nothing.
     *
     * @param side {@code "source"} or {@code "target"}, for the message
     * @return as {@link #closed} if this map's memory is closed (also when the caller's segment is: a copy out of
     *         it may fail before the map is touched); else, if the caller's {@code segment} is closed, an
     *         {@link IllegalStateException} naming this map and the side, with the JDK's bare "Already closed"
     *         {@code e} as its cause; otherwise {@code e} itself
     */
    RuntimeException callerClosed(IllegalStateException e, String side, MemorySegment segment) {
        if (!block.scope().isAlive()) {
            return closed(e); // e itself if the map's read named it already
        }
        return segment.scope().isAlive() ? e
                : new IllegalStateException(this + ": the caller's " + side + " segment is closed", e);
    }

    /**
     * Checks the segment a value is copied into: {@code offset} inside it, and writable.
     *
     * @throws IllegalArgumentException if {@code target} is read-only
     */
    private void checkTarget(MemorySegment target, long offset) {
        checkRange("target", target, offset, 0);
        if (target.isReadOnly()) {
            throw new IllegalArgumentException(this + ": the target segment is read-only");
        }
    }

    /**
     * Checks a caller's segment range: {@code length} bytes at {@code offset} of {@code segment}.
     *
     * @param side {@code "source"} or {@code "target"}, for the message
     * @throws NullPointerException      naming the side, if {@code segment} is null
     * @throws IndexOutOfBoundsException naming this map and the side, if the range is not inside the segment
     */
    void checkRange(String side, MemorySegment segment, long offset, long length) {
        long size = Objects.requireNonNull(segment, side).byteSize();
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException(this + ": " + side + " bytes [" + offset + ", " + (offset + length)
                    + ") outside the " + size + "-byte " + side + " segment");
        }
    }

    /** @return the number of the segment holding the keys whose hash's low bits are {@code j} (acquire) */
    int directory(int j) {
        int number;
        try {
            number = (int) INT.getAcquire(block, H_DIRECTORY + (long) Integer.BYTES * j);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closed(e);
        }
        if (number < 0 || number >= geometry.maxSegments()) { // damaged: no split writes such a number
            throw new ShmFormatException(this + " is corrupted: directory entry " + j + " names segment " + number
                    + " (expected: 0.." + (geometry.maxSegments() - 1) + ")");
        }
        return number;
    }

    /**
     * Under the lock of the segment splitting into segment {@code number}: points directory entry {@code j} at it,
     * unless the entry names {@code number} or a higher number already. Along the segments that hold one entry's keys
     * over time, numbers only rise (a split's new segment gets a number handed out after its splitter was made), so
     * a lower number is the splitter, or an older segment whose own split of the entry died before pointing it on;
     * a higher one is a newer split of the new segment, which a repair must not point back (see {@link MapLayout}).
     */
    void pointDirectory(int j, int number) {
        long offset = H_DIRECTORY + (long) Integer.BYTES * j;
        int named = directory(j);
        while (named < number) { // volatile CAS: the segment's bytes first; it loses only to a newer split or repair
            int witness = (int) INT.compareAndExchange(block, offset, named, number);
            if (witness == named) {
                return;
            }
            named = witness;
        }
    }

    /**
     * @return how many segment numbers were handed out (some may be unused: a splitter died holding one): the
     *         header's nextSegment, which a split only ever moves from the initial segment count up to the most
     *         segments the map can have
     * @throws ShmFormatException naming the map if it is outside that range
     */
    int segmentCount() {
        int next = (int) INT.getVolatile(block, H_NEXT_SEGMENT);
        if (next < geometry.segments() || next > geometry.maxSegments()) {
            throw new ShmFormatException(this + " is corrupted: nextSegment=" + next + " (expected: "
                    + geometry.segments() + ".." + geometry.maxSegments() + ")");
        }
        return next;
    }

    /**
     * @return the segment numbered {@code number}, mapping its extension block on first use
     * @throws ShmFullException (naming {@code full} and the entry) if the block must be made and the heap is full
     */
    MapSegment segmentNumber(int number, MapSegment full, int keyLength, int valueLength) {
        MapSegment segment = segments[number];
        if (segment == null) {
            segment = new MapSegment(this, segmentMemory(number, full, keyLength, valueLength), number, geometry);
            segments[number] = segment;
        }
        return segment;
    }

    /**
     * @return the segment {@code full} splits or compacts into: the one it kept from its last rolled-back split or
     *         its last compaction (which no directory entry names), else one with a new number
     * @throws ShmFullException (naming {@code full} and the entry) if the map has all its segments or the heap is full
     */
    MapSegment spareOf(MapSegment full, int keyLength, int valueLength) {
        int number = full.splitTarget();
        if (!isGrownNumber(number)) { // none kept (or a damaged one)
            number = newSegmentNumber(full, keyLength, valueLength);
            full.keepSpare(number);
        }
        return segmentNumber(number, full, keyLength, valueLength);
    }

    /**
     * @return the segment {@code full} splits into: its spare ({@link #spareOf}), if the number after it has memory
     *         too, or can have it (its block made now). So no split takes the highest number that has memory: it
     *         stays the spare that compactions go through ({@link #borrowSpare}) when the heap is full
     * @throws ShmFullException (naming {@code full} and the entry) as {@link #spareOf}, or if that next number is
     *                          past the map's last one or the heap has no room for its block; the spare stays kept
     */
    MapSegment halfOf(MapSegment full, int keyLength, int valueLength) {
        MapSegment half = spareOf(full, keyLength, valueLength);
        int next = half.index + 1;
        if (next == geometry.maxSegments()) {
            throw full(full, keyLength, valueLength, "the map has all " + next + " segments it can have (the last, "
                    + half.index + ", is kept as the spare that compactions go through)");
        }
        segmentMemory(next, full, keyLength, valueLength);
        return half;
    }

    /**
     * Under {@code compacting}'s lock, when it can have no spare of its own nor a new one (the map has handed out
     * every number, or the heap has no room for a new block of segments): takes over a spare that another segment
     * kept, if its memory exists and its number is above {@code compacting}'s, so that it may serve that segment's
     * later splits too (a split's new segment must have a higher number than its splitter: see {@link MapLayout}).
     * A lender is only tried, never waited for, since this thread holds a segment lock already.
     *
     * @return the borrowed spare, now kept by {@code compacting} (a number it kept without memory is dropped); else
     *         a number a killed writer lost ({@link #reclaimLost}); null if no segment has one to lend
     */
    MapSegment borrowSpare(MapSegment compacting) {
        for (MapSegment lender : existingSegments()) {
            int number = lender.splitTarget(); // a hint, read without its lock: checked again under it
            if (lender == compacting || number <= compacting.index || !isGrownNumber(number)
                    || !segmentExists(number) || !lender.tryLock()) {
                continue;
            }
            try {
                if ((lender.splitWord() & 0xFF) != MapLayout.SPLIT_NONE || lender.splitTarget() != number) {
                    continue;
                }
                lender.keepSpare(-1);
                compacting.keepSpare(number); // a death in between loses the number until reclaimLost takes it
            } finally {
                lender.unlock();
            }
            return segmentNumber(number, compacting, 0, 0);
        }
        return reclaimLost(compacting);
    }

    /**
     * Under {@code compacting}'s lock, when no segment has a spare to lend: takes over a number with memory, above
     * {@code compacting}'s, that no segment uses nor keeps, as a writer killed between handing a number out and
     * recording its keeper leaves it ({@link #newSegmentNumber} then {@link MapSegment#keepSpare}, or a lender's
     * and a borrower's records in {@link #borrowSpare}); else one death would leave a full heap's map without its
     * spare for good. Only while it holds every other segment's lock (tried, never waited for), as no live writer
     * is between those two records then.
     *
     * @return the lost number's segment, now kept by {@code compacting}; null if none is lost, or a lock is held
     */
    private MapSegment reclaimLost(MapSegment compacting) {
        List<MapSegment> segments = existingSegments();
        List<MapSegment> locked = new ArrayList<>(segments.size());
        try {
            for (MapSegment segment : segments) {
                if (segment != compacting) {
                    if (!segment.tryLock()) {
                        return null;
                    }
                    locked.add(segment);
                }
            }
            if (!existingSegments().equals(segments)) { // a split published one meanwhile: its lock is not held
                return null;
            }
            BitSet taken = new BitSet();
            for (MapSegment segment : segments) { // plain reads of split targets: under each segment's lock
                taken.set(segment.index);
                int target = segment.splitTarget(); // whatever its state
                if (isGrownNumber(target)) {
                    taken.set(target);
                }
            }
            for (int number = segmentCount() - 1; number > compacting.index && isGrownNumber(number); number--) {
                if (!taken.get(number) && segmentExists(number)) {
                    compacting.keepSpare(number);
                    return segmentNumber(number, compacting, 0, 0);
                }
            }
            return null;
        } finally {
            unlockEach(locked);
        }
    }

    /**
     * Unlocks each of {@code locked}, also the ones after an unlock that throws (a view closed under the holder: each
     * unlock gives its lock back through another view of the heap, then throws); the first failure is thrown once
     * all ran, later ones added to it.
     */
    private static void unlockEach(List<MapSegment> locked) {
        RuntimeException failed = null;
        for (MapSegment segment : locked) {
            try {
                segment.unlock();
            } catch (RuntimeException e) {
                if (failed == null) {
                    failed = e;
                } else {
                    failed.addSuppressed(e);
                }
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    /** @return true if {@code number} can name a segment a split or compaction made: past the initial ones */
    boolean isGrownNumber(int number) {
        return number >= geometry.segments() && number < geometry.maxSegments();
    }

    /**
     * @return true if segment {@code number} has memory: one in the map block (an initial one, or the first grown
     *         number, {@link MapGeometry#blockSegments}), or one whose extension block exists
     */
    boolean segmentExists(int number) {
        return number < geometry.blockSegments() || extensionExists(number);
    }

    /**
     * @return a segment number no segment uses yet, whose memory exists (its block is made before the number is
     *         handed out, so that a put the heap refuses does not use a number up)
     * @throws ShmFullException if the map has all {@code 2^maxDepth} segments, or the heap has no room for the
     *                          block of the next number
     */
    int newSegmentNumber(MapSegment full, int keyLength, int valueLength) {
        while (true) {
            int next = segmentCount();
            if (next == geometry.maxSegments()) {
                throw full(full, keyLength, valueLength, "the map has all " + next + " segments it can have");
            }
            segmentMemory(next, full, keyLength, valueLength); // first: the heap's refusals do not use numbers up
            if (INT.compareAndSet(block, H_NEXT_SEGMENT, next, next + 1)) {
                return next;
            }
        }
    }

    /**
     * @return the entries in the map: the sum of the segments' counts, each read between two equal even sequences
     *         ({@link MapSegment#stableCount}: under the segment's lock if a writer stays in its write section), taken
     *         again (up to {@link #SIZE_TRIES} times, after which the last sum stands) while splits publish new
     *         segments under it. So a split is never counted half done: a key that a returned put wrote is counted
     *         once, in the segment it was in or the one it moved to
     */
    long size() {
        try {
            return overStableSegments(segments -> {
                long size = 0;
                for (MapSegment segment : segments) {
                    size += segment.stableCount();
                }
                return size;
            });
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closed(e);
        }
    }

    /**
     * @return {@code snapshot} of the segments in use, taken again (up to {@link #SIZE_TRIES} times, after which the
     *         last one stands) while splits publish new segments under it: a split that ends during a snapshot leaves
     *         its segment without the moved keys, in a new segment the snapshot does not list
     */
    private <T> T overStableSegments(Function<List<MapSegment>, T> snapshot) {
        for (int tries = 1; ; tries++) {
            List<MapSegment> segments = existingSegments();
            T result = snapshot.apply(segments);
            if (tries == SIZE_TRIES || existingSegments().equals(segments)) {
                return result;
            }
        }
    }

    /**
     * @return the segments in use, in number order: those the directory names (not a number whose block no process
     *         made, nor the half of a split undone after its writer died)
     */
    List<MapSegment> existingSegments() {
        int count = segmentCount();
        List<MapSegment> list = new ArrayList<>(count);
        for (int number = 0; number < count; number++) {
            if (segmentExists(number)) {
                MapSegment segment = segmentNumber(number, null, 0, 0);
                int pattern = segment.pattern();
                if (pattern >= 0 && pattern < geometry.maxSegments() && directory(pattern) == number) {
                    list.add(segment);
                }
            }
        }
        return list;
    }

    /** @return most entries one segment holds */
    int maxLoad() {
        return maxLoad;
    }

    /** @return the directory's bits */
    int maxDepth() {
        return geometry.maxDepth();
    }

    /** @return the initial segments' depth, where iteration starts */
    int initialDepth() {
        return geometry.initialDepth();
    }

    /** @return most segments the map can have */
    int maxSegments() {
        return geometry.maxSegments();
    }

    /** @return the map's name */
    String name() {
        return name;
    }

    /** @return what a method throws for {@code e}; see {@link Blocks#closedOr} */
    RuntimeException closed(RuntimeException e) {
        return Blocks.closedOr(e, block.scope(), Blocks.closedMessage(kind, name, heap));
    }

    /**
     * @return the size class of an entry of {@code size} bytes
     * @throws IllegalArgumentException if no chunk of this map holds that many bytes
     */
    int checkEntrySize(long size, int keyLength, int valueLength) {
        if (size > maxEntryBytes) {
            throw new IllegalArgumentException(this + ": entry of " + size + " bytes (key " + keyLength
                    + " + value " + valueLength + " + header " + ENTRY_HEADER + ") (expected: at most "
                    + maxEntryBytes + " bytes, half the largest chunk of a segment sized for " + geometry.sizing()
                    + ", so that an overwrite fits beside the old entry; a larger averageValueSize sizes larger "
                    + "segments)");
        }
        return MapLayout.sizeClass(size);
    }

    /**
     * @return what {@code codec} decodes from stored bytes; its failure is reported naming this map, with the codec's
     *         exception as the cause (a record's compact constructor refusing a value another process stored, say)
     */
    <T> T decode(Codec<T> codec, MemorySegment source, long offset, int length) {
        try {
            return codec.decode(source, offset, length);
        } catch (RuntimeException e) {
            throw new ShmFormatException(this + ": its codec (type " + Blocks.typeId(codec.typeId())
                    + ") cannot decode " + length + " stored bytes (corrupted bytes, written by a codec of another"
                    + " shape with the same type id, or refused by the codec: see the cause): " + e, e);
        }
    }

    /** @return the exception for a put that does not fit {@code segment}, with the figures and a sizing that fits */
    ShmFullException full(MapSegment segment, int keyLength, int valueLength, String reason) {
        MapSizing sized = geometry.sizing();
        long entries = 0; // the counts as they stand: size() may wait for a segment's lock, and this runs under one
        for (MapSegment s : existingSegments()) {
            entries += s.count();
        }
        long fits = Math.min(MapSizing.MAX_ENTRIES, 2 * Math.max(sized.entries(), entries + 1));
        MapSizing suggestion = new MapSizing(fits, Math.max(sized.averageKeySize(), Math.min(1 << 24, keyLength)),
                Math.max(sized.averageValueSize(), Math.min(1 << 24, valueLength)));
        return new ShmFullException(this + " is full: segment " + segment.index + " cannot take an entry of "
                + (ENTRY_HEADER + (long) keyLength + valueLength) + " bytes: " + reason + "; it holds "
                + segment.count() + " of at most " + maxLoad + " entries in " + segment.usedBytes() + " of "
                + segment.arena.size() + " arena bytes; the map holds " + entries + " entries in " + usedBytes()
                + " bytes; it was sized for " + sized + "; a map created with " + suggestion + " would fit");
    }

    /**
     * @return a snapshot of the map's fill, per segment ({@link #figures}), read without locks, taken again while
     *         splits publish new segments under it, as {@link #size()} ({@link #overStableSegments})
     */
    SharedMapStats stats() {
        if (!block.scope().isAlive()) {
            throw new IllegalStateException(Blocks.closedMessage(kind, name, heap));
        }
        return overStableSegments(existing -> {
            BitSet inUse = new BitSet();
            existing.forEach(s -> inUse.set(s.index));
            List<SharedMapStats.Segment> list = new ArrayList<>(existing.size());
            long entries = 0;
            for (MapSegment s : existing) {
                SharedMapStats.Segment figures = figures(s, inUse);
                list.add(figures);
                entries += figures.entries();
            }
            return new SharedMapStats(name, entries, geometry.sizing(), list);
        });
    }

    /**
     * @return segment {@code s}'s figures, read without its lock; a key that an unfinished split (its writer in the
     *         middle of it, or dead there) holds in both halves is counted once, in the new one; a segment whose
     *         compaction is copying its entries back from its spare counts those the spare holds
     */
    private SharedMapStats.Segment figures(MapSegment s, BitSet inUse) {
        int count = s.count();
        long used = s.usedBytes();
        int split = s.splitWordOpaque();
        int target = s.splitTargetOpaque();
        int depth = split >>> 8 & 0xFF;
        // COPIED with its half in use: the directory names the half, which holds the moved keys, and this
        // segment's count still holds them until the splitter (or the repair of a dead one) drops them here
        if ((split & 0xFF) == MapLayout.SPLIT_COPIED && target >= 0 && inUse.get(target) && depth < maxDepth()) {
            long[] staying = s.arena.liveWithBitClear(depth);
            count = (int) staying[0];
            used = staying[1];
        } else if ((split & 0xFF) == MapLayout.COMPACT_COPIED && isGrownNumber(target) && segmentExists(target)) {
            // its spare holds every entry, whose copy back (by the compactor, or the repair of a dead one)
            // empties this segment first: its own count is 0 or partway until the copy back ends
            MapSegment spare = segmentNumber(target, null, 0, 0);
            count = spare.count();
            used = spare.usedBytes();
        }
        return new SharedMapStats.Segment(s.index, s.localDepth(), count, maxLoad, s.tombstones(), used,
                s.arena.top(), s.arena.size(), s.repairs(), s.takeOvers(), s.compactions());
    }

    /** @return "segment 3 of SharedMap 'name' in heap ..." (or of SharedLongMap ...) */
    String describe(MapSegment segment) {
        return "segment " + segment.index + " of " + this;
    }

    /** @return the map's kind, name and heap; once its heap is closed, that it is (as other structures say) */
    @Override
    public String toString() {
        String description = kind + " '" + name + "' in " + heap;
        return Blocks.describeUnlessClosed(block.scope(), description, () -> description);
    }

    private MemorySegment segmentMemory(int number, MapSegment full, int keyLength, int valueLength) {
        long size = geometry.segmentSize();
        if (number < geometry.blockSegments()) {
            return block.asSlice(geometry.segmentsOffset() + number * size, size);
        }
        int b = extensionIndex(number);
        long first = geometry.firstInExtension(b);
        MemorySegment extension = extensions[b];
        if (extension == null) {
            long count = geometry.extensionSegments(b);
            String extensionName = name + "#" + b;
            try { // an existing block is only looked up: that works on a heap opened read-only too (shm4j inspect)
                extension = heap.find(extensionName).isPresent()
                        ? Blocks.open(heap, extensionName, MapLayout.SEGMENTS, count * size, "SharedMap segments")
                        : Blocks.openOrCreate(heap, extensionName, MapLayout.SEGMENTS, count * size, zeroed -> { });
            } catch (ShmFullException e) {
                throw full == null ? e : full(full, keyLength, valueLength, "the heap has no room for "
                        + count + (count == 1 ? " more segment of " : " more segments of ") + size + " bytes ("
                        + e.getMessage() + ")");
            } catch (ShmTypeMismatchException e) {
                throw full == null ? e : full(full, keyLength, valueLength, "the name of the block for its next "
                        + (count == 1 ? "segment" : count + " segments") + " is taken by another structure ("
                        + e.getMessage() + ")");
            }
            extensions[b] = extension;
        }
        return extension.asSlice((number - first) * size, size);
    }

    private boolean extensionExists(int number) {
        int b = extensionIndex(number);
        return extensions[b] != null
                || heap.find(name + "#" + b).filter(block -> block.type().equals(MapLayout.SEGMENTS)).isPresent();
    }

    private int extensionIndex(int number) {
        return 32 - Integer.numberOfLeadingZeros(number / geometry.segments());
    }

    private long usedBytes() {
        long used = 0;
        for (MapSegment segment : existingSegments()) {
            used += segment.usedBytes();
        }
        return used;
    }

    private MapCore checkTypes(int keyTypeId, int valueTypeId) {
        if (geometry.keyTypeId() != keyTypeId || geometry.valueTypeId() != valueTypeId) {
            throw new ShmTypeMismatchException(this + ": the block is " + madeAs(geometry.keyTypeId())
                    + " with keys of codec type " + Blocks.typeId(geometry.keyTypeId()) + " and values of codec type "
                    + Blocks.typeId(geometry.valueTypeId()) + " (expected: keys " + Blocks.typeId(keyTypeId)
                    + ", values " + Blocks.typeId(valueTypeId) + "; the built-in codecs are types 1 to 3, and a record "
                    + "codec's type is its record shape's fingerprint, so a record of another shape differs)");
        }
        return this;
    }

    /**
     * @return what a map block of keys of codec type {@code keyTypeId} was made as, for messages: a SharedLongMap's
     *         keys are {@code Codec.longs()}'s (type 1), which a {@code SharedMap<Long, V>} may have too
     */
    private static String madeAs(int keyTypeId) {
        return keyTypeId == LONG_KEYS ? "a SharedLongMap (or a SharedMap of Codec.longs() keys)" : "a SharedMap";
    }

    private static String checkName(String kind, String name) {
        int bytes = Objects.requireNonNull(name, "name").getBytes(StandardCharsets.UTF_8).length;
        if (bytes == 0 || bytes > MAX_NAME_BYTES) {
            throw new IllegalArgumentException(kind + " name '" + name + "' has " + bytes + " UTF-8 bytes (expected: "
                    + "1 to " + MAX_NAME_BYTES + ", leaving room for its extension blocks' names)");
        }
        return name;
    }
}
