package org.shm4j.sync.list;

import java.lang.foreign.MemorySegment;

/**
 * A thread's buffer for the bytes of one element read in a seqlock section, grown to the longest element it held (up
 * to {@link #MAX_KEPT} bytes), so that {@link SharedList#get} allocates only the value its codec decodes from them.
 * A get made while the thread's buffer is in use (a codec whose decode reads a list) gets a buffer of its own.
 */
final class ElementBuffer {
    private static final ThreadLocal<ElementBuffer> CURRENT = ThreadLocal.withInitial(ElementBuffer::new);
    private static final int FIRST_CAPACITY = 64;
    /** The most a thread keeps: a longer element costs an array each read, not a buffer kept for ever. */
    static final int MAX_KEPT = 1 << 16;

    private MemorySegment kept = MemorySegment.ofArray(new byte[FIRST_CAPACITY]);
    private MemorySegment current = kept;
    private boolean inUse;

    private ElementBuffer() {
    }

    /**
     * Initializes this class: a list's open calls this, shallow, so that a read deep in a thread's stack is never the
     * first to, where a {@link StackOverflowError} in the initializer would leave the class erroneous and every later
     * use in the JVM throwing {@link NoClassDefFoundError}.
     */
    static void initialize() {
        // the JVM initializes the class before it runs a static method: nothing else to do
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

    /**
     * Makes {@link #current()} at least {@code length} bytes long (contents dropped): the kept buffer, grown if
     * shorter, up to {@link #MAX_KEPT} bytes; for a longer element an array of its own, which the thread does not keep.
     *
     * @return {@link #current()}
     */
    MemorySegment reserve(int length) {
        if (length > kept.byteSize()) {
            if (length > MAX_KEPT) {
                current = MemorySegment.ofArray(new byte[length]);
                return current;
            }
            kept = MemorySegment.ofArray(new byte[(int) Math.min(MAX_KEPT, Math.max(length, 2 * kept.byteSize()))]);
        }
        current = kept;
        return current;
    }

    /** @return the memory the last {@link #reserve} made ready */
    MemorySegment current() {
        return current;
    }

    void release() {
        inUse = false;
        current = kept; // an element's own array goes with its read
    }
}
