package org.shm4j.sync.map;

import org.shm4j.core.BlockType;
import org.shm4j.sync.internal.SyncLayout;

/**
 * The byte layout of a {@link SharedMap} block: the single source of its constants. All integers are little-endian
 * (shm4j supports little-endian platforms only); every offset below a segment is relative to that segment's start.
 *
 * <table class="striped">
 * <caption>Map header: bytes 0 to 127 of the block; bytes 0..63 immutable once the heap publishes the block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code 0x50414D4A344D4853}, the ASCII bytes {@code "SHM4JMAP"}</td>
 *     <td>plain: the heap publishes the block after its initializer</td></tr>
 * <tr><td>8</td><td>4</td><td>layoutVersion</td><td>5 (version 4 had no segment after the initial ones in this
 *     block, and its extension block 1 began at segment initialSegments; in version 3, bytes 20..23 of each segment's
 *     mutex were zero, not its wake word; version 2 had no spare chunk; version 1 had a fixed set of segments, no
 *     directory)</td>
 *     <td>plain, as magic</td></tr>
 * <tr><td>12</td><td>4</td><td>initialSegments</td><td>segments the map starts with, a power of two
 *     2<sup>initialDepth</sup>, 1..4096; this block holds them and one more (below)</td><td>plain, as magic</td></tr>
 * <tr><td>16</td><td>8</td><td>segmentSize</td><td>bytes per segment, a multiple of 64, below 2<sup>31</sup></td>
 *     <td>plain, as magic</td></tr>
 * <tr><td>24</td><td>4</td><td>slotsPerSegment</td><td>a power of two, 8..2<sup>26</sup></td>
 *     <td>plain, as magic</td></tr>
 * <tr><td>28</td><td>4</td><td>arenaSize</td><td>entry bytes per segment, a multiple of 64</td>
 *     <td>plain, as magic</td></tr>
 * <tr><td>32</td><td>4</td><td>keyTypeId</td><td>{@code Codec.typeId()} of the keys</td><td>plain, as magic</td></tr>
 * <tr><td>36</td><td>4</td><td>valueTypeId</td><td>{@code Codec.typeId()} of the values</td>
 *     <td>plain, as magic</td></tr>
 * <tr><td>40</td><td>8</td><td>sizedEntries</td><td>the sizing it was created with: entries</td>
 *     <td>plain, as magic</td></tr>
 * <tr><td>48</td><td>4</td><td>sizedKeySize</td><td>the sizing: average key bytes</td><td>plain, as magic</td></tr>
 * <tr><td>52</td><td>4</td><td>sizedValueSize</td><td>the sizing: average value bytes</td>
 *     <td>plain, as magic</td></tr>
 * <tr><td>56</td><td>4</td><td>maxDepth</td><td>bits of the directory index, initialDepth..16: at most
 *     2<sup>maxDepth</sup> segments</td><td>plain, as magic</td></tr>
 * <tr><td>60</td><td>4</td><td>headerChecksum</td><td>CRC-32C of bytes 0..59</td><td>plain, as magic</td></tr>
 * <tr><td>64</td><td>4</td><td>nextSegment</td><td>the next segment number to hand out to a split</td>
 *     <td>volatile reads; compare-and-set, never past the most segments</td></tr>
 * <tr><td>68</td><td>60</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>128</td><td>4 &times; 2<sup>maxDepth</sup></td><td>directory</td><td>entry {@code j}: the number of the
 *     segment holding the keys whose hash has {@code j} in its low maxDepth bits</td><td>written by a split under
 *     the splitting segment's lock, by a volatile compare-and-exchange that only raises the number (see Growth);
 *     read with acquire. A reader takes the segment's read as valid only
 *     if the segment's localDepth and pattern (read under its sequence) cover the hash, else it reads the entry
 *     again; so a reader may also skip the directory and go to a segment it found before</td></tr>
 * </table>
 * Segment {@code n} up to {@code initialSegments} (the initial ones, then one more, zeroed at creation: the first
 * number a split or compaction takes) starts at {@code segmentsOffset + n * segmentSize}, where
 * {@code segmentsOffset = 128 + 4 * 2^maxDepth} rounded up to 64; the block ends after segment
 * {@code initialSegments}. Other segments made by splits live in extension blocks of type
 * {@code SharedMapSegments} named {@code "<map>#<b>"}: block {@code b >= 1} holds segments
 * {@code max(initialSegments << (b - 1), initialSegments + 1)} up to {@code (initialSegments << b) - 1}, back to back
 * from its offset 0 (so with one initial segment there is no block 1).
 *
 * <p>Growth (extendible hashing): a segment of local depth {@code d} holds the keys whose hash's low {@code d} bits
 * equal its pattern. When a put does not fit, its segment splits alone under its lock: a new segment gets the keys
 * whose bit {@code d} is set (split state COPYING, then COPIED), the directory entries of that half are pointed at
 * it, then the moved entries are dropped from the old segment and both get depth {@code d + 1}. A splitter that dies
 * is rolled back from COPYING (nothing was published) and forward from COPIED (the copy is complete).
 *
 * <p>A split points an entry on only if the entry names a lower segment number than the new segment. The segments
 * that hold one entry's keys over time have rising numbers (a new segment's number is handed out after its
 * splitter was published, and a published segment never becomes another split's new segment), so a lower number is
 * the splitter or an older segment whose split of that entry died before pointing it on (the later split takes the
 * entry over from it), and a higher one is a newer split of the new segment. So the repair of a splitter that died
 * part-way through the entries, after its new segment was taken over and split again, never points an entry back.
 *
 * <p>Compaction: chunks of one size class never merge, so a segment whose entries change size can have free bytes
 * enough for a put but no chunk of its class. When a put does not fit and the segment's live chunks plus the new
 * one fill at most half its arena (or all of it, once the segment cannot split), the segment is compacted instead
 * of split, under its lock and odd sequence: its live entries are copied, each into the smallest chunk that holds
 * it, into its spare segment (the {@code splitTarget}, or a new number, or, when the map has handed out every
 * number or the heap has no room for one, the spare another segment kept, taken over under that segment's lock if
 * its number is above the compacting segment's, so that it can serve that segment's splits too), which no
 * directory entry names (state COMPACT_COPYING); then, its slots and arena emptied, back into itself, back to back
 * (COMPACT_COPIED); then the state returns to 0, keeping the spare for the next split or compaction. A copied entry
 * keeps its bytes (checksum and stamp), except the size class in its state word. A split uses a segment number
 * only if the next number has memory too (its block made then, if the heap has room): so the highest number that
 * has memory is never published by a split and stays a spare, kept by one segment at a time, that compactions take
 * over in turn once the heap is full; since the map block holds segment {@code initialSegments}, a map whose heap
 * never has room for an extension block has it as that spare (map layout 4 had no such segment, and a release of it
 * without this rule could split into the spare; a map of layout 4 is refused on open). A writer that dies between
 * handing a number out (nextSegment, or a lender's {@code splitTarget} cleared) and recording its keeper leaves the
 * number kept by no segment: a compaction that finds no spare to borrow takes such a number (with memory, above its
 * own, neither published nor any segment's {@code splitTarget}) while it holds every segment's lock. A compactor
 * that dies is rolled back from COMPACT_COPYING (its own entries were not touched) and forward from COMPACT_COPIED
 * (the spare holds them all: the copy back is done again). Map layout 5 and segment layout 4 hold such a segment at
 * rest as before; a version that does not know these states must not repair a map a compactor died in.
 *
 * <table class="striped">
 * <caption>Segment header: 256 bytes</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>40</td><td>mutex</td><td>the writers' robust mutex (layout of {@code SharedLock}: pid and
 *     start time of the owner, take-over count)</td><td>CAS to take, volatile exchange to release</td></tr>
 * <tr><td>40</td><td>8</td><td>sequence</td><td>even when stable; odd while a writer changes the segment</td>
 *     <td>writer: opaque store of the odd value, release fence, data stores, release store of the even value;
 *     reader: acquire load, data loads, acquire fence, load</td></tr>
 * <tr><td>48</td><td>4</td><td>count</td><td>live entries</td><td>written under the mutex, opaque; read opaque
 *     by {@code size()}</td></tr>
 * <tr><td>52</td><td>4</td><td>tombstones</td><td>slots marked deleted</td><td>under the mutex, plain</td></tr>
 * <tr><td>56</td><td>4</td><td>arenaTop</td><td>bytes of the arena handed out so far</td><td>under the mutex,
 *     release after the new chunk's state word, so a repair can walk every chunk below it</td></tr>
 * <tr><td>60</td><td>4</td><td>usedBytes</td><td>bytes of live chunks</td><td>under the mutex, opaque (stats)</td>
 *     </tr>
 * <tr><td>64</td><td>8</td><td>repairs</td><td>times the segment was rebuilt after its writer died</td>
 *     <td>under the mutex, opaque (stats)</td></tr>
 * <tr><td>72</td><td>4</td><td>localDepth</td><td>low hash bits its keys share</td><td>under the mutex and the
 *     sequence, opaque (iterators read it)</td></tr>
 * <tr><td>76</td><td>4</td><td>pattern</td><td>those bits</td><td>as localDepth</td></tr>
 * <tr><td>80</td><td>4</td><td>splitState</td><td>0, or 1 (COPYING) / 2 (COPIED) while it splits, in bits 7..0,
 *     with the depth it splits at in bits 15..8; 3 (COMPACT_COPYING) / 4 (COMPACT_COPIED) while it compacts</td>
 *     <td>under the mutex and the sequence, plain; read opaque by stats, without the lock</td></tr>
 * <tr><td>84</td><td>4</td><td>splitTarget</td><td>number of the segment it splits or compacts into, plus 1; set
 *     when the number is handed out, before the segment's memory is had (so a split that the heap refuses does not
 *     use up numbers), and kept after a rolled-back split and after a compaction, for the next split or compaction;
 *     no directory entry names it until a split publishes it</td><td>as splitState</td></tr>
 * <tr><td>88</td><td>4</td><td>spare</td><td>a free chunk kept off the free lists, for the next put's entry:
 *     its segment offset (a multiple of 32) plus its size class in bits 4..0; or 0. The chunk a put replaces becomes
 *     the spare when there is none, so an overwrite neither reads a cold free chunk nor links one</td>
 *     <td>under the mutex and the sequence, plain; a repair recomputes it</td></tr>
 * <tr><td>92</td><td>4</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>96</td><td>8</td><td>compactions</td><td>times the segment was compacted</td><td>under the mutex,
 *     opaque (stats)</td></tr>
 * <tr><td>104</td><td>24</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>128</td><td>4 &times; 32</td><td>freeHeads</td><td>per size class, the segment offset of the first
 *     free chunk, or 0</td><td>under the mutex, plain</td></tr>
 * <tr><td>256</td><td>8 &times; slots</td><td>slots</td><td>the open-addressing table, linear probing</td>
 *     <td>one opaque 8-byte store per put or remove; plain (bulk zeroing, a repair's re-pointing) where a clear,
 *     split, compaction or repair rewrites the table; always under the sequence</td></tr>
 * <tr><td>256 + 8 &times; slots</td><td>arenaSize</td><td>arena</td><td>chunks of {@code 32 << class} bytes</td>
 *     <td>under the sequence</td></tr>
 * </table>
 *
 * <table class="striped">
 * <caption>Slot: 8 bytes</caption>
 * <tr><th>Bits</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>63..48</td><td>tag: the high 16 bits of the key's hash</td><td rowspan="2">the whole word is one opaque
 *     store by the writer holding the segment lock (so it changes atomically); readers load it plain, validated by
 *     the segment's sequence (or under the lock)</td></tr>
 * <tr><td>47..0</td><td>segment offset of the entry's chunk; the whole slot is 0 when empty and 1 when deleted
 *     (a tombstone)</td></tr>
 * </table>
 *
 * <table class="striped">
 * <caption>Chunk (entry): {@code 32 << class} bytes, 8-byte aligned; written plain by the lock holder before the
 * slot store publishes it, read plain under the sequence or the lock, except the state word (below); stats of a
 * segment in SPLIT_COPIED walk the chunks below arenaTop without the lock (state word opaque, hash plain), bounded
 * by the arena</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th></tr>
 * <tr><td>0</td><td>4</td><td>checksum / next</td><td>live: CRC-32C of bytes 8 to the end of the value; free: the
 *     segment offset of the next free chunk of its class, or 0</td></tr>
 * <tr><td>4</td><td>4</td><td>state</td><td>{@code 0x4D41} in bits 31..16, bit 8 set when live, the size class in
 *     bits 7..0; the live bit is stored (release) after the rest of the entry, so a repair never revives an old
 *     image</td></tr>
 * <tr><td>8</td><td>4</td><td>keyLength</td><td>encoded key bytes</td></tr>
 * <tr><td>12</td><td>4</td><td>valueLength</td><td>encoded value bytes</td></tr>
 * <tr><td>16</td><td>8</td><td>hash</td><td>the key's 64-bit hash</td></tr>
 * <tr><td>24</td><td>8</td><td>stamp</td><td>the segment's (odd) sequence when written: of two live entries of a
 *     key, the newer has the larger stamp</td></tr>
 * <tr><td>32</td><td>keyLength</td><td>key</td><td>the key codec's bytes</td></tr>
 * <tr><td>32 + keyLength</td><td>valueLength</td><td>value</td><td>the value codec's bytes</td></tr>
 * </table>
 * A live entry is never changed in place: a new value goes to a new chunk, then one slot store swings the key to
 * it, then the old chunk is freed. Hence a writer that dies at any point leaves every entry that an earlier,
 * returned operation wrote intact (with its checksum), and the repair rebuilds the slots from the live chunks.
 */
final class MapLayout {
    /** The block type of a map. */
    static final BlockType MAP = BlockType.named("SharedMap", 0x5348_0051, 5);
    /**
     * The block type of a map's extension block of segments: version 4 since block 1 holds one segment fewer (the
     * map block holds its first), so that no release of map layout 4 reads one of these as its own.
     */
    static final BlockType SEGMENTS = BlockType.named("SharedMapSegments", 0x5348_0052, 4);
    /** The magic, the ASCII bytes {@code "SHM4JMAP"} read as a little-endian long. */
    static final long MAGIC = 0x5041_4D4A_344D_4853L;
    /** Alignment of the block and of every segment. */
    static final long ALIGNMENT = SyncLayout.CACHE_LINE;

    static final long H_MAGIC = 0;
    static final long H_VERSION = H_MAGIC + Long.BYTES;
    static final long H_SEGMENT_COUNT = H_VERSION + Integer.BYTES;
    static final long H_SEGMENT_SIZE = H_SEGMENT_COUNT + Integer.BYTES;
    static final long H_SLOTS = H_SEGMENT_SIZE + Long.BYTES;
    static final long H_ARENA_SIZE = H_SLOTS + Integer.BYTES;
    static final long H_KEY_TYPE = H_ARENA_SIZE + Integer.BYTES;
    static final long H_VALUE_TYPE = H_KEY_TYPE + Integer.BYTES;
    static final long H_SIZED_ENTRIES = H_VALUE_TYPE + Integer.BYTES;
    static final long H_SIZED_KEY = H_SIZED_ENTRIES + Long.BYTES;
    static final long H_SIZED_VALUE = H_SIZED_KEY + Integer.BYTES;
    static final long H_MAX_DEPTH = H_SIZED_VALUE + Integer.BYTES;
    static final long H_CHECKSUM = H_MAX_DEPTH + Integer.BYTES;
    static final long H_NEXT_SEGMENT = H_CHECKSUM + Integer.BYTES;
    /** The directory starts here. */
    static final long H_DIRECTORY = 128;
    /** Most bits of a directory index: the slot index starts at {@link #SLOT_SHIFT}. */
    static final int MAX_DEPTH = 16;
    /** How many doublings a map can grow by, beyond its initial segments (up to {@link #MAX_DEPTH}). */
    static final int GROWTH_DEPTH = 7;
    /** Bits of the directory of a map however few segments it starts with: it can grow to 1,024 segments. */
    static final int MIN_MAX_DEPTH = 10;

    static final long S_MUTEX = 0;
    static final long S_SEQUENCE = S_MUTEX + SyncLayout.MUTEX_SIZE;
    static final long S_COUNT = S_SEQUENCE + Long.BYTES;
    static final long S_TOMBSTONES = S_COUNT + Integer.BYTES;
    static final long S_ARENA_TOP = S_TOMBSTONES + Integer.BYTES;
    static final long S_USED_BYTES = S_ARENA_TOP + Integer.BYTES;
    static final long S_REPAIRS = S_USED_BYTES + Integer.BYTES;
    static final long S_LOCAL_DEPTH = S_REPAIRS + Long.BYTES;
    static final long S_PATTERN = S_LOCAL_DEPTH + Integer.BYTES;
    static final long S_SPLIT_STATE = S_PATTERN + Integer.BYTES;
    static final long S_SPLIT_TARGET = S_SPLIT_STATE + Integer.BYTES;
    static final long S_SPARE = S_SPLIT_TARGET + Integer.BYTES;
    static final long S_COMPACTIONS = S_SPARE + 2 * Integer.BYTES;
    /** The size class bits of the spare word; the chunk offset is the rest. */
    static final int SPARE_CLASS_MASK = 0x1F;
    static final int SPLIT_NONE = 0;
    static final int SPLIT_COPYING = 1;
    static final int SPLIT_COPIED = 2;
    static final int COMPACT_COPYING = 3;
    static final int COMPACT_COPIED = 4;
    static final long S_FREE_HEADS = 128;
    /** Number of size classes: chunk sizes 32 B to 32 B &lt;&lt; 31. */
    static final int CLASSES = 32;
    static final long S_SLOTS = S_FREE_HEADS + CLASSES * Integer.BYTES;

    static final long EMPTY = 0;
    static final long TOMBSTONE = 1;
    static final int TAG_SHIFT = 48;
    static final long OFFSET_MASK = (1L << TAG_SHIFT) - 1;
    static final long TAG_MASK = ~OFFSET_MASK;
    /** The slot index of a key is taken from its hash from this bit up (the segment index from bit 0). */
    static final int SLOT_SHIFT = 16;

    static final long E_CHECKSUM = 0;
    static final long E_NEXT_FREE = E_CHECKSUM;
    static final long E_STATE = E_CHECKSUM + Integer.BYTES;
    static final long E_KEY_LENGTH = E_STATE + Integer.BYTES;
    static final long E_VALUE_LENGTH = E_KEY_LENGTH + Integer.BYTES;
    static final long E_HASH = E_VALUE_LENGTH + Integer.BYTES;
    static final long E_STAMP = E_HASH + Long.BYTES;
    /** Entry header size; the key starts here. */
    static final int ENTRY_HEADER = (int) (E_STAMP + Long.BYTES);
    /** The checksum covers the entry from here to the end of its value. */
    static final int CHECKED_FROM = (int) E_KEY_LENGTH;
    /** Smallest chunk, of class 0. */
    static final int MIN_CHUNK = 32;
    static final int STATE_MARK = 0x4D41_0000;
    static final int STATE_MARK_MASK = 0xFFFF_0000;
    static final int STATE_LIVE = 0x100;
    static final int STATE_CLASS_MASK = 0xFF;

    static final int MAX_SEGMENTS = 4096;
    static final int MIN_SLOTS = 8;
    static final int MAX_SLOTS = 1 << 26;

    private MapLayout() {
    }

    /** @return the size class whose chunks hold {@code bytes} */
    static int sizeClass(long bytes) {
        return bytes <= MIN_CHUNK ? 0 : 64 - Long.numberOfLeadingZeros((bytes - 1) / MIN_CHUNK);
    }

    /** @return the bytes of a chunk of size class {@code c} */
    static long chunkSize(int c) {
        return (long) MIN_CHUNK << c;
    }

    /** @return most entries a segment of {@code slots} slots holds: a load factor of 3/4 */
    static int maxLoad(int slots) {
        return slots - slots / 4;
    }
}
