package org.shm4j.sync.list;

import java.lang.foreign.MemorySegment;

/**
 * A thread's buffer for the bytes of one element read in a seqlock section, grown to the longest element it held, so
 * that {@link SharedList#get} allocates only the value its codec decodes from them. A get made while the thread's
 * buffer is in use (a codec whose decode reads a list) gets a buffer of its own.
 */
final class ElementBuffer {
    private static final ThreadLocal<ElementBuffer> CURRENT = ThreadLocal.withInitial(ElementBuffer::new);
    private static final int FIRST_CAPACITY = 64;

    private MemorySegment bytes = MemorySegment.ofArray(new byte[FIRST_CAPACITY]);
    private boolean inUse;

    private ElementBuffer() {
    }

    /** @return the current thread's buffer, marked in use until {@link #release()}, or a new one if it is in use */
    static ElementBuffer take() {
        ElementBuffer buffer = CURRENT.get();
        if (buffer.inUse) {
            buffer = new ElementBuffer();
        }
        buffer.inUse = true;
        return buffer;
    }

    /** @return the buffer's memory, at least {@code length} bytes long (grown if shorter; contents dropped) */
    MemorySegment bytes(int length) {
        if (length > bytes.byteSize()) {
            bytes = MemorySegment.ofArray(new byte[Math.max(length, (int) Math.min(Integer.MAX_VALUE - 8,
                    2 * bytes.byteSize()))]);
        }
        return bytes;
    }

    void release() {
        inUse = false;
    }
}
