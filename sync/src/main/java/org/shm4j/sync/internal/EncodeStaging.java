package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;

/**
 * Each thread's staging bytes for values that {@link ExactEncoding} encodes off their place (a ring's claim, a list's
 * slot) before copying them in: a heap segment, grown (doubling) to the longest such value the thread has sent, up to
 * {@link #MOST} bytes; reused, so a send allocates nothing once it has grown. A send made while the thread's bytes are
 * in use (an accessor that itself sends, while its record is being encoded) gets bytes of its own.
 */
final class EncodeStaging {
    /** The longest value staged; a longer one is written into a slice of its place (an allocation, beside its copy). */
    static final int MOST = 1 << 16;
    private static final int FIRST = 256;
    private static final ThreadLocal<EncodeStaging> THREAD = ThreadLocal.withInitial(EncodeStaging::new);

    private MemorySegment bytes = MemorySegment.ofArray(new byte[FIRST]);
    private boolean busy;

    private EncodeStaging() {
    }

    /**
     * @return this thread's staging, with at least {@code length} ({@code <= MOST}) bytes, in use until
     *         {@link #release()}; a new one if this thread's is in use
     */
    static EncodeStaging take(int length) {
        EncodeStaging staging = THREAD.get();
        if (staging.busy) {
            staging = new EncodeStaging();
        }
        if (staging.bytes.byteSize() < length) {
            staging.bytes = MemorySegment.ofArray(new byte[Math.min(MOST, Math.max(length,
                    2 * (int) staging.bytes.byteSize()))]);
        }
        staging.busy = true;
        return staging;
    }

    /** @return the staging bytes */
    MemorySegment bytes() {
        return bytes;
    }

    /** Lets the next send of this thread use the bytes. */
    void release() {
        busy = false;
    }
}
