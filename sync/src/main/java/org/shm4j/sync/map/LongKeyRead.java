package org.shm4j.sync.map;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.shm4j.sync.map.MapLayout.EMPTY;
import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;
import static org.shm4j.sync.map.MapLayout.E_KEY_LENGTH;
import static org.shm4j.sync.map.MapLayout.OFFSET_MASK;
import static org.shm4j.sync.map.MapLayout.SLOT_SHIFT;
import static org.shm4j.sync.map.MapLayout.S_SLOTS;
import static org.shm4j.sync.map.MapLayout.TAG_MASK;
import static org.shm4j.sync.map.MapSegment.ABSENT;
import static org.shm4j.sync.map.MapSegment.MOVED;
import static org.shm4j.sync.map.MapSegment.OPTIMISTIC_TRIES;
import static org.shm4j.sync.map.MapSegment.RETRY;

/**
 * The optimistic read of an 8-byte key ({@link SharedLongMap}), the map's hottest path: {@link MapSegment#read}
 * specialised so that the key is compared as one {@code long} held in a register (no key buffer, no thread-local) and
 * a hit costs the fewest loads of shared memory: the sequence, the depth and pattern, the slot, the entry's two
 * lengths as one 8-byte load, its key, the value (one bulk copy), the sequence again. The value's address is computed
 * from the slot alone (the key length is known), so its load does not wait for the entry header's.
 *
 * <p>Torn reads are handled as in {@link MapSegment#tryRead}: an offset or length that a writer changed under the
 * reader is either caught by a check here (a chunk below the arena, a value longer than the segment) or by the
 * segment's own bounds checks ({@link IndexOutOfBoundsException}), and the read is dropped unless the sequence
 * validates it. A slot whose offset is not 8-byte aligned (corrupted bytes; a tombstone) never matches the tag test.
 */
final class LongKeyRead {
    /** A slot matches a tag if its tag bits are the tag's and its offset is 8-byte aligned (so not a tombstone). */
    private static final long MATCH_MASK = TAG_MASK | 7;
    /**
     * Where the key length and the value length (two adjacent ints from {@code E_KEY_LENGTH}) sit in the one long
     * that reads both: the int at the lower address is the long's low half on a little-endian machine.
     */
    private static final int KEY_LENGTH_SHIFT = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 0 : Integer.SIZE;
    private static final int VALUE_LENGTH_SHIFT = Integer.SIZE - KEY_LENGTH_SHIFT;
    /** The value of an entry with an 8-byte key starts here in its chunk. */
    private static final long VALUE_AT = ENTRY_HEADER + Long.BYTES;

    private LongKeyRead() {
    }

    /** @return as {@link MapSegment#read}, for the 8-byte key {@code key} */
    static int read(MapSegment segment, long hash, long key, MemorySegment target, long targetOffset,
                    long capacity) {
        try {
            for (int i = 0; i < OPTIMISTIC_TRIES; i++) {
                int result = tryRead(segment, hash, key, target, targetOffset, capacity);
                if (result != RETRY) {
                    return result;
                }
                Thread.onSpinWait();
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw segment.map.closed(e);
        }
        Scratch scratch = Scratch.take();
        try {
            scratch.entrySegment.set(JAVA_LONG_UNALIGNED, ENTRY_HEADER, key);
            return segment.readLocked(hash, scratch.entrySegment, ENTRY_HEADER, Long.BYTES, target, targetOffset,
                    capacity);
        } finally {
            scratch.release();
        }
    }

    private static int tryRead(MapSegment segment, long hash, long key, MemorySegment target, long targetOffset,
                               long capacity) {
        long stamp = segment.sequenceAcquire();
        if ((stamp & 1) != 0) {
            return RETRY;
        }
        int result;
        try {
            if (!segment.covers(hash)) { // a split moved the key, or a stale hint led here
                result = MOVED;
            } else {
                result = probe(segment, segment.memory, hash, key, target, targetOffset, capacity);
            }
        } catch (IndexOutOfBoundsException torn) {
            return RETRY;
        }
        return segment.validate(stamp) ? result : RETRY;
    }

    /** Plain loads, validated by the caller's second sequence load. @return length, ABSENT or RETRY */
    private static int probe(MapSegment segment, MemorySegment memory, long hash, long key, MemorySegment target,
                             long targetOffset, long capacity) {
        long tag = hash & TAG_MASK;
        int mask = segment.mask;
        int i = (int) (hash >>> SLOT_SHIFT) & mask;
        for (int n = 0; n <= mask; n++, i = (i + 1) & mask) {
            long slot = memory.get(JAVA_LONG, S_SLOTS + 8L * i); // plain: validated by the sequence
            if (slot == EMPTY) {
                return ABSENT;
            }
            if ((slot & MATCH_MASK) == tag) {
                long chunk = slot & OFFSET_MASK;
                if (chunk < segment.arenaStart) {
                    return RETRY;
                }
                long lengths = memory.get(JAVA_LONG, chunk + E_KEY_LENGTH); // both lengths in one load
                if ((int) (lengths >>> KEY_LENGTH_SHIFT) == Long.BYTES
                        && memory.get(JAVA_LONG, chunk + ENTRY_HEADER) == key) {
                    // unsigned: a torn negative length is too long
                    long valueLength = (lengths >>> VALUE_LENGTH_SHIFT) & 0xFFFF_FFFFL;
                    if (valueLength > segment.end - chunk - VALUE_AT) {
                        return RETRY;
                    }
                    if (valueLength <= capacity) {
                        MemorySegment.copy(memory, chunk + VALUE_AT, target, targetOffset, valueLength);
                    }
                    return (int) valueLength;
                }
            }
        }
        return ABSENT;
    }
}
