package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;

/**
 * The record format of a {@link SharedRing} (see its class documentation): a record header is one 64-bit word, the
 * length (header + payload bytes) in the low half and the type in the high half, so that both are written and read
 * with a single access; records are aligned to {@link org.shm4j.sync.internal.SyncLayout#RING_RECORD_HEADER}.
 */
final class RingRecords {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

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

    /**
     * Zeroes {@code bytes} bytes at {@code index}, both multiples of 8 (records are aligned): long stores on
     * {@code data} itself. No slice: C2 removes a slice's allocation only if it inlines all of {@code asSlice}, which
     * the JDK method's shared profile may refuse ("low call site frequency" for {@code dup}: 1 MPMC JMH fork in 28
     * then allocated 40 bytes per record freed).
     */
    static void zero(MemorySegment data, long index, long bytes) {
        for (long done = 0; done < bytes; done += Long.BYTES) {
            LONG.set(data, index + done, 0L); // plain: published to producers by the release store of head
        }
    }
}
