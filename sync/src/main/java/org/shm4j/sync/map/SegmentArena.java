package org.shm4j.sync.map;

import org.shm4j.core.internal.Crc32cOfMemory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.function.LongPredicate;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.map.MapLayout.CHECKED_FROM;
import static org.shm4j.sync.map.MapLayout.CLASSES;
import static org.shm4j.sync.map.MapLayout.EMPTY;
import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;
import static org.shm4j.sync.map.MapLayout.E_CHECKSUM;
import static org.shm4j.sync.map.MapLayout.E_HASH;
import static org.shm4j.sync.map.MapLayout.E_KEY_LENGTH;
import static org.shm4j.sync.map.MapLayout.E_NEXT_FREE;
import static org.shm4j.sync.map.MapLayout.E_STAMP;
import static org.shm4j.sync.map.MapLayout.E_STATE;
import static org.shm4j.sync.map.MapLayout.E_VALUE_LENGTH;
import static org.shm4j.sync.map.MapLayout.MIN_CHUNK;
import static org.shm4j.sync.map.MapLayout.OFFSET_MASK;
import static org.shm4j.sync.map.MapLayout.STATE_CLASS_MASK;
import static org.shm4j.sync.map.MapLayout.STATE_LIVE;
import static org.shm4j.sync.map.MapLayout.STATE_MARK;
import static org.shm4j.sync.map.MapLayout.STATE_MARK_MASK;
import static org.shm4j.sync.map.MapLayout.S_ARENA_TOP;
import static org.shm4j.sync.map.MapLayout.S_COUNT;
import static org.shm4j.sync.map.MapLayout.S_FREE_HEADS;
import static org.shm4j.sync.map.MapLayout.SPARE_CLASS_MASK;
import static org.shm4j.sync.map.MapLayout.S_SLOTS;
import static org.shm4j.sync.map.MapLayout.S_SPARE;
import static org.shm4j.sync.map.MapLayout.S_TOMBSTONES;
import static org.shm4j.sync.map.MapLayout.S_USED_BYTES;
import static org.shm4j.sync.map.MapLayout.SLOT_SHIFT;
import static org.shm4j.sync.map.MapLayout.TAG_MASK;
import static org.shm4j.sync.map.MapLayout.TOMBSTONE;
import static org.shm4j.sync.map.MapLayout.chunkSize;

/**
 * The entry arena of a segment, the rebuilds of its slot table (from the arena or from the slots themselves), and
 * its refill with another segment's entries (a split's or a compaction's copy).
 * Chunks of {@code 32 << class} bytes are bump-allocated from {@code arenaTop} and recycled through the spare (one
 * free chunk named by the header, the allocator's fast path: taking or setting it touches no chunk) and one free list
 * per size class; a request takes the spare if it has its class, else a free chunk of its class, else fresh arena,
 * else a free chunk of a larger class (kept whole, so that it returns to its own list). Every chunk below
 * {@code arenaTop} starts with a valid state word, so {@link #rebuild()} can walk them all. All methods run under the
 * segment's mutex and, when they change bytes, under its odd sequence.
 */
final class SegmentArena {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MapSegment segment;
    private final MemorySegment memory;
    private final long size;
    private final int maxClass;

    SegmentArena(MapSegment segment, int size) {
        this.segment = segment;
        this.memory = segment.memory;
        this.size = size;
        this.maxClass = MapLayout.sizeClass(Long.highestOneBit(size));
    }

    /** @return the largest size class a chunk of this arena can have */
    int maxClass() {
        return maxClass;
    }

    /** @return the arena's size in bytes */
    long size() {
        return size;
    }

    /** @return bytes handed out so far */
    int top() {
        return (int) INT.getOpaque(memory, S_ARENA_TOP); // opaque: stats read it without the lock
    }

    /** @return true if {@link #allocate} would find a chunk of class {@code sizeClass} */
    boolean canAllocate(int sizeClass) {
        if (spareOf(sizeClass) != 0 || freeHead(sizeClass) != 0 || top() + chunkSize(sizeClass) <= size) {
            return true;
        }
        for (int c = sizeClass + 1; c <= maxClass; c++) {
            if (spareOf(c) != 0 || freeHead(c) != 0) {
                return true;
            }
        }
        return false;
    }

    /** @return the segment offset of a chunk of class {@code sizeClass} or larger; {@link #canAllocate} said yes */
    long allocate(int sizeClass) {
        if (spareOf(sizeClass) != 0) {
            return takeSpare(sizeClass);
        }
        if (freeHead(sizeClass) != 0) {
            return pop(sizeClass);
        }
        int top = top();
        if (top < 0 || top > size || top % MIN_CHUNK != 0) { // chunks are multiples of the smallest
            throw segment.corrupted("arenaTop=" + top + " (expected: a multiple of " + MIN_CHUNK + " from 0 to "
                    + size + ")");
        }
        if (top + chunkSize(sizeClass) <= size) {
            long chunk = segment.arenaStart + top;
            memory.set(JAVA_INT, chunk + E_STATE, STATE_MARK | sizeClass); // plain: published by the release below
            // release: the chunk's state word before the top that covers it, for the walk of a repair
            INT.setRelease(memory, S_ARENA_TOP, (int) (top + chunkSize(sizeClass)));
            return chunk;
        }
        for (int c = sizeClass + 1; c <= maxClass; c++) {
            if (spareOf(c) != 0) {
                return takeSpare(c);
            }
            if (freeHead(c) != 0) {
                return pop(c);
            }
        }
        throw segment.corrupted("no chunk of class " + sizeClass + " although one was found just before");
    }

    /** @return the size class of an allocated chunk (which may exceed the class asked for) */
    int sizeClassOf(long chunk) {
        return memory.get(JAVA_INT, chunk + E_STATE) & STATE_CLASS_MASK; // plain: under the lock
    }

    /**
     * Frees the chunk of a dead entry: it becomes the spare if there is none (an overwrite's old chunk, still in
     * the cache, serves the next overwrite), else it goes to its class's free list.
     */
    void free(long chunk) {
        int sizeClass = sizeClassOf(chunk);
        INT.setOpaque(memory, chunk + E_STATE, STATE_MARK | sizeClass); // opaque: not live before anything else
        if (memory.get(JAVA_INT, S_SPARE) == 0) { // plain: under the sequence
            memory.set(JAVA_INT, S_SPARE, (int) chunk | sizeClass);
        } else {
            memory.set(JAVA_INT, chunk + E_NEXT_FREE, (int) freeHead(sizeClass)); // plain: under the sequence
            setFreeHead(sizeClass, chunk);
        }
        addUsed(-chunkSize(sizeClass));
    }

    /** Counts {@code bytes} more (or fewer) in live chunks. */
    void addUsed(long bytes) {
        INT.setOpaque(memory, S_USED_BYTES, (int) (segment.usedBytes() + bytes)); // opaque: stats
    }

    /** Forgets every chunk: the arena is empty. */
    void reset() {
        memory.asSlice(S_FREE_HEADS, CLASSES * Integer.BYTES).fill((byte) 0);
        memory.set(JAVA_INT, S_SPARE, 0); // plain: under the sequence
        INT.setOpaque(memory, S_USED_BYTES, 0); // opaque: stats
        INT.setRelease(memory, S_ARENA_TOP, 0); // release: as in allocate
    }

    /**
     * Rebuilds the segment from its arena after a writer died in the middle of a change (or a change failed): clears
     * the slots and free lists, then walks the chunks below {@code arenaTop}: a live chunk whose checksum verifies
     * gets its slot back (of two live chunks of one key, the larger stamp wins), every other chunk goes to its free
     * list. The walk stops at the first chunk without a valid state word (a chunk whose allocation did not finish)
     * and lowers {@code arenaTop} to it.
     */
    void rebuild() {
        memory.asSlice(S_SLOTS, segment.arenaStart - S_SLOTS).fill((byte) 0);
        memory.asSlice(S_FREE_HEADS, CLASSES * Integer.BYTES).fill((byte) 0);
        memory.set(JAVA_INT, S_SPARE, 0); // plain: under the sequence
        memory.set(JAVA_INT, S_TOMBSTONES, 0); // plain: under the sequence
        long top = Math.clamp(memory.get(JAVA_INT, S_ARENA_TOP), 0, size);
        CRC32C crc = new CRC32C();
        long offset = 0;
        while (offset < top) {
            long chunk = segment.arenaStart + offset;
            int state = memory.get(JAVA_INT, chunk + E_STATE); // plain: under the lock, as every load here
            if (!walkable(state, offset, top)) {
                break;
            }
            int sizeClass = state & STATE_CLASS_MASK;
            if ((state & STATE_LIVE) == 0 || !verifies(chunk, chunkSize(sizeClass), crc) || !keep(chunk)) {
                free(chunk);
            }
            offset += chunkSize(sizeClass);
        }
        INT.setRelease(memory, S_ARENA_TOP, (int) offset); // release: as in allocate
        recount();
    }

    /**
     * For stats, without the lock: the live chunks below {@code arenaTop} whose key's hash has bit {@code bit} clear,
     * walked as {@link #rebuild()} walks them (up to the first chunk without a valid state word); a writer changing
     * the segment meanwhile makes the figures one change apart, never a load outside the arena.
     *
     * @return the number of those chunks and their bytes
     */
    long[] liveWithBitClear(int bit) {
        long top = Math.clamp(top(), 0, size);
        long entries = 0;
        long bytes = 0;
        long offset = 0;
        while (offset < top) {
            long chunk = segment.arenaStart + offset;
            int state = (int) INT.getOpaque(memory, chunk + E_STATE); // opaque: read without the lock
            if (!walkable(state, offset, top)) {
                break;
            }
            int sizeClass = state & STATE_CLASS_MASK;
            // plain: stats, read without the lock (a key's hash never changes while its chunk is live)
            if ((state & STATE_LIVE) != 0 && (memory.get(JAVA_LONG, chunk + E_HASH) >>> bit & 1) == 0) {
                entries++;
                bytes += chunkSize(sizeClass);
            }
            offset += chunkSize(sizeClass);
        }
        return new long[] {entries, bytes};
    }

    /**
     * @return true if {@code state}, the state word of the chunk at {@code offset} of the arena, is a chunk's (its
     *         mark, a known size class, no other bits) that ends by {@code top}: a walk of the arena goes on past it
     */
    private boolean walkable(int state, long offset, long top) {
        int sizeClass = state & STATE_CLASS_MASK;
        return (state & STATE_MARK_MASK) == STATE_MARK && sizeClass <= maxClass
                && (state & ~(STATE_MARK_MASK | STATE_LIVE | STATE_CLASS_MASK)) == 0
                && offset + chunkSize(sizeClass) <= top;
    }

    /** Under the sequence: keeps only the entries whose slot word passes {@code keep}, freeing the others. */
    void retain(LongPredicate keep) {
        long[] live = new long[segment.count()];
        int n = 0;
        for (int i = 0; i <= segment.mask; i++) {
            long word = segment.slotWord(i);
            if (word != EMPTY && word != TOMBSTONE) {
                if (keep.test(word)) {
                    live[n++] = word;
                } else {
                    free(word & OFFSET_MASK);
                }
            }
        }
        memory.asSlice(S_SLOTS, segment.arenaStart - S_SLOTS).fill((byte) 0);
        for (int j = 0; j < n; j++) {
            place(live[j]);
        }
        memory.set(JAVA_INT, S_TOMBSTONES, 0); // plain: under the sequence
        segment.setCount(n);
        if (n == 0) {
            reset(); // every key moved out: the emptied segment starts its arena again, as after its last remove
        }
    }

    /**
     * Under this segment's sequence and {@code from}'s lock: empties this segment's slots and arena, then copies
     * into it, back to back, the live entries of {@code from} whose slot word passes {@code take}, each into the
     * smallest chunk that holds it. A copy keeps the entry's bytes (checksum and stamp), but for the size class in
     * its state word. This segment's arena is as large as {@code from}'s, and its slot table too, so they fit.
     *
     * @throws org.shm4j.core.ShmFormatException (through {@link MapSegment#corrupted}) if a slot of {@code from}
     *                                           names no entry inside it
     */
    void refill(MapSegment from, LongPredicate take) {
        segment.empty();
        int count = 0;
        for (int i = 0; i <= from.mask; i++) {
            long word = from.slotWord(i);
            if (word == EMPTY || word == TOMBSTONE || !take.test(word)) {
                continue;
            }
            long chunk = from.checkedEntry(word);
            // plain: under both locks, as every load and store of this copy
            long bytes = ENTRY_HEADER + (long) from.memory.get(JAVA_INT, chunk + E_KEY_LENGTH)
                    + from.memory.get(JAVA_INT, chunk + E_VALUE_LENGTH);
            long to = allocate(MapLayout.sizeClass(bytes));
            int sizeClass = sizeClassOf(to);
            MemorySegment.copy(from.memory, chunk, memory, to, bytes);
            memory.set(JAVA_INT, to + E_STATE, STATE_MARK | STATE_LIVE | sizeClass); // plain: under the sequence
            addUsed(chunkSize(sizeClass));
            place(word & TAG_MASK | to);
            count++;
        }
        segment.setCount(count);
    }

    /** Puts a slot word into the first empty slot of its probe sequence; the table has one. */
    void place(long word) {
        long hash = memory.get(JAVA_LONG, (word & OFFSET_MASK) + E_HASH); // plain: under the lock
        int i = (int) (hash >>> SLOT_SHIFT) & segment.mask;
        while (segment.slotWord(i) != EMPTY) {
            i = (i + 1) & segment.mask;
        }
        LONG.setOpaque(memory, S_SLOTS + 8L * i, word); // opaque: one atomic store
    }

    /** @return true if the entry's lengths fit in {@code chunkSize} bytes and its checksum verifies */
    boolean verifies(long chunk, long chunkSize, CRC32C crc) {
        // plain loads: under the lock, or validated by the sequence (a snapshot's copy)
        int keyLength = memory.get(JAVA_INT, chunk + E_KEY_LENGTH);
        int valueLength = memory.get(JAVA_INT, chunk + E_VALUE_LENGTH);
        if (keyLength < 0 || valueLength < 0 || (long) ENTRY_HEADER + keyLength + valueLength > chunkSize) {
            return false;
        }
        crc.reset();
        Crc32cOfMemory.update(crc, memory, chunk + CHECKED_FROM, ENTRY_HEADER - CHECKED_FROM + keyLength + valueLength);
        return (int) crc.getValue() == memory.get(JAVA_INT, chunk + E_CHECKSUM);
    }

    /** Gives a verified live chunk its slot. @return false if it lost to a newer chunk of its key (to be freed) */
    private boolean keep(long chunk) {
        // plain, as every access of a rebuild: under the lock and the odd sequence
        long hash = memory.get(JAVA_LONG, chunk + E_HASH);
        int keyLength = memory.get(JAVA_INT, chunk + E_KEY_LENGTH);
        long found = segment.find(hash, memory, chunk + ENTRY_HEADER, keyLength);
        long word = hash & TAG_MASK | chunk;
        if (found >= 0) {
            long other = segment.chunk((int) found);
            if (memory.get(JAVA_LONG, other + E_STAMP) > memory.get(JAVA_LONG, chunk + E_STAMP)) {
                return false;
            }
            memory.set(JAVA_LONG, S_SLOTS + 8L * found, word); // plain: under the sequence
            free(other);
            return true;
        }
        if (found == MapSegment.NO_ROOM) {
            return false;
        }
        place(word);
        return true;
    }

    /** Recomputes the count and the live bytes from the slots. */
    private void recount() {
        int count = 0;
        long used = 0;
        for (int i = 0; i <= segment.mask; i++) {
            long word = segment.slotWord(i);
            if (word != EMPTY) {
                count++;
                // plain: under the lock
                used += chunkSize(memory.get(JAVA_INT, (word & OFFSET_MASK) + E_STATE) & STATE_CLASS_MASK);
            }
        }
        INT.setOpaque(memory, S_COUNT, count); // opaque: size() reads it without the lock
        INT.setOpaque(memory, S_USED_BYTES, (int) used); // opaque: stats
    }

    /** @return the spare chunk, of class {@code sizeClass} ({@link #spareOf} said so), which is no longer spare */
    private long takeSpare(int sizeClass) {
        long chunk = checkedFree(spareOf(sizeClass), sizeClass);
        memory.set(JAVA_INT, S_SPARE, 0); // plain: under the sequence
        return chunk;
    }

    private long pop(int sizeClass) {
        long chunk = checkedFree(freeHead(sizeClass), sizeClass);
        setFreeHead(sizeClass, memory.get(JAVA_INT, chunk + E_NEXT_FREE)); // plain: under the lock
        return chunk;
    }

    /**
     * @return {@code chunk}, a free chunk of class {@code sizeClass} taken from a free list or the spare
     * @throws org.shm4j.core.ShmFormatException (through {@link MapSegment#corrupted}) if it lies outside the arena,
     *         is misaligned, or its state word is not that of a free chunk of that class
     */
    private long checkedFree(long chunk, int sizeClass) {
        int state = chunk < segment.arenaStart || chunk + chunkSize(sizeClass) > segment.arenaStart + size
                || (chunk & 7) != 0 ? 0 : memory.get(JAVA_INT, chunk + E_STATE);
        if (state != (STATE_MARK | sizeClass)) {
            throw segment.corrupted("free chunk " + chunk + " of class " + sizeClass + " has state 0x"
                    + Integer.toHexString(state));
        }
        return chunk;
    }

    /**
     * @return the spare chunk if it has class {@code sizeClass}, else 0 (plain: under the mutex; checked like a free
     *         list's head when it is handed out)
     */
    private long spareOf(int sizeClass) {
        int spare = memory.get(JAVA_INT, S_SPARE);
        return spare != 0 && (spare & SPARE_CLASS_MASK) == sizeClass ? spare & ~SPARE_CLASS_MASK : 0;
    }

    private long freeHead(int sizeClass) {
        return memory.get(JAVA_INT, S_FREE_HEADS + (long) Integer.BYTES * sizeClass); // plain: under the mutex
    }

    private void setFreeHead(int sizeClass, long chunk) {
        memory.set(JAVA_INT, S_FREE_HEADS + (long) Integer.BYTES * sizeClass, (int) chunk); // plain: under the mutex
    }
}
