package org.shm4j.sync;

import java.lang.foreign.MemorySegment;

/**
 * Each thread's staging bytes for values that {@link CodecMessages} encodes off the ring before copying them in: a
 * heap segment, grown (doubling) to the longest such value the thread has sent, up to {@link #MOST} bytes; reused, so
 * a send allocates nothing once it has grown.
 */
final class EncodeStaging {
    /** The longest value staged; a longer one is written into a slice of its claim (an allocation, beside its copy). */
    static final int MOST = 1 << 16;
    private static final int FIRST = 256;
    private static final ThreadLocal<MemorySegment> BYTES =
            ThreadLocal.withInitial(() -> MemorySegment.ofArray(new byte[FIRST]));

    private EncodeStaging() {
    }

    /** @return this thread's staging bytes, at least {@code length} ({@code <= MOST}) of them */
    static MemorySegment forThread(int length) {
        MemorySegment bytes = BYTES.get();
        if (bytes.byteSize() < length) {
            bytes = MemorySegment.ofArray(new byte[Math.min(MOST, Math.max(length, 2 * (int) bytes.byteSize()))]);
            BYTES.set(bytes);
        }
        return bytes;
    }
}
