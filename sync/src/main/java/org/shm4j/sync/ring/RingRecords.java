package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;

/**
 * The record format of a {@link SharedRing} (see its class documentation): a record header is one 64-bit word, the
 * length (header + payload bytes) in the low half and the type in the high half, so that both are written and read
 * with a single access; records are aligned to {@link org.shm4j.sync.internal.SyncLayout#RING_RECORD_HEADER}.
 */
final class RingRecords {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle LONG_UNALIGNED = JAVA_LONG_UNALIGNED.varHandle();

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

    /**
     * @return the bytes from {@code offset} of {@code segment} (a record boundary) to the first record boundary after
     *         it, at most {@code limit}: the zero words there belong to claims never marked. A producer stores its
     *         mark before any payload word, with a store-store fence between, and this scan reads with acquire: so a
     *         non-zero word that is payload would make its record's mark visible in the re-reading pass, which then
     *         narrows the gap to that mark (to 0 if the word at {@code offset} was marked meanwhile)
     */
    static int zeroClaims(MemorySegment segment, long offset, int limit) {
        int gap = limit;
        boolean narrowed = true;
        while (narrowed) {
            narrowed = false;
            for (int at = 0; at < gap; at += RING_RECORD_HEADER) {
                if ((long) LONG.getAcquire(segment, offset + at) != 0) { // acquire: a payload word's mark first
                    gap = at;
                    narrowed = true;
                    break;
                }
            }
        }
        return gap;
    }

    /**
     * Copies {@code length} bytes of {@code source} from {@code sourceOffset} into {@code block} at {@code offset}, as
     * {@link MemorySegment#copy(MemorySegment, long, MemorySegment, long, long)} does, with the same checks (bounds,
     * liveness, thread) on every access. A payload of 8 to 16 bytes moves by straight-line 8-byte accesses instead:
     * its first 8 bytes, and above 8 its last 8 (overlapping the first below 16), both read before either is written,
     * so that a source overlapping the record is copied as it was. The JDK's copy of a short segment branches on its
     * size classes and runs a loop, which took 2-2.5 ns of a 16-17 ns one-thread 8-byte offer + poll (AMD EPYC,
     * JDK 25); 17 bytes and more, where its own loop or native copy pays, still go to it.
     */
    static void copyPayload(MemorySegment source, long sourceOffset, MemorySegment block, long offset, int length) {
        if (length < Long.BYTES || length > 2 * Long.BYTES) {
            MemorySegment.copy(source, sourceOffset, block, offset, length);
            return;
        }
        long first = (long) LONG_UNALIGNED.get(source, sourceOffset);
        long last = length - Long.BYTES;
        if (last > 0) { // 9 to 16 bytes: the last 8 too, read before any store
            long end = (long) LONG_UNALIGNED.get(source, sourceOffset + last);
            LONG_UNALIGNED.set(block, offset + last, end); // plain: the commit's release store publishes the payload
        }
        LONG_UNALIGNED.set(block, offset, first); // plain: likewise
    }
}
