package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;

import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;

/**
 * The record format of a {@link SharedRing} (see its class documentation): a record header is one 64-bit word, the
 * length (header + payload bytes) in the low half and the type in the high half, so that both are written and read
 * with a single access; records are aligned to {@link org.shm4j.sync.internal.SyncLayout#RING_RECORD_HEADER}.
 */
final class RingRecords {
    private RingRecords() {
    }

    /** @return a record header: length in the low half (bytes 0..3 on little-endian), type in the high half */
    static long header(int length, int type) {
        return (long) type << 32 | length & 0xFFFF_FFFFL;
    }

    static int length(long header) {
        return (int) header;
    }

    static int type(long header) {
        return (int) (header >>> 32);
    }

    static int align(int length) {
        return (length + RING_RECORD_HEADER - 1) & -RING_RECORD_HEADER;
    }

    /** Zeroes {@code bytes} bytes at {@code index}: a fill of a slice, which the JIT's escape analysis removes. */
    static void zero(MemorySegment data, long index, long bytes) {
        data.asSlice(index, bytes).fill((byte) 0); // plain: published to producers by the release store of head
    }
}
