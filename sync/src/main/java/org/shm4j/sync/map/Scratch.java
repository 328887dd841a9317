package org.shm4j.sync.map;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

/**
 * A thread's buffers for map operations, so that hot paths allocate nothing once the buffers have grown to the
 * largest entry the thread handled (an operation takes them and releases them when it ends): {@link #entry} holds the
 * image of an entry being written (header, key, value; the key alone for lookups), {@link #out} receives a value read
 * from the map.
 */
final class Scratch {
    private static final ThreadLocal<Scratch> CURRENT = ThreadLocal.withInitial(Scratch::new);

    final CRC32C crc = new CRC32C();
    byte[] entry = new byte[256];
    MemorySegment entrySegment = MemorySegment.ofArray(entry);
    byte[] out = new byte[256];
    MemorySegment outSegment = MemorySegment.ofArray(out);

    private Scratch() {
    }

    /** True while an operation of this thread uses the buffers. */
    private boolean busy;
    /** The buffers of an operation made while these are in use, kept for the next one; null until there is one. */
    private Scratch nested;

    /**
     * Initializes this class and the classes its buffers use, at a map's open (shallow, and allowed to throw): a map's
     * first operation may come from deep in a thread's stack, where an initializer cut short by a
     * {@link StackOverflowError} would leave the class erroneous, and every later operation in the JVM would throw
     * {@link NoClassDefFoundError}.
     */
    static void initialize() {
        take().release();
    }

    /**
     * @return the current thread's buffers, in use until {@link #release()}: those of the first level not in use
     *         already (a compute function, a codec's accessor or a record's constructor that itself uses a map while
     *         an operation runs takes the next level's, made once and kept)
     */
    static Scratch take() {
        Scratch scratch = CURRENT.get();
        while (scratch.busy) {
            if (scratch.nested == null) {
                scratch.nested = new Scratch();
            }
            scratch = scratch.nested;
        }
        scratch.busy = true;
        return scratch;
    }

    /** Lets the thread's next operation use the buffers. */
    void release() {
        busy = false;
    }

    /** Grows {@link #entry} to at least {@code size} bytes, keeping its first {@code keep} bytes. */
    void entryCapacity(long size, int keep) {
        if (size > entry.length) {
            byte[] grown = new byte[grownSize(size)];
            System.arraycopy(entry, 0, grown, 0, keep);
            entry = grown;
            entrySegment = MemorySegment.ofArray(grown);
        }
    }

    /** Grows {@link #out} to at least {@code size} bytes; its contents are dropped. */
    void outCapacity(long size) {
        if (size > out.length) {
            out = new byte[grownSize(size)];
            outSegment = MemorySegment.ofArray(out);
        }
    }

    private static int grownSize(long size) {
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("entry of " + size + " bytes (expected: below 2 GiB)");
        }
        return (int) Math.max(size, Math.min(Integer.MAX_VALUE - 8, 2L * size));
    }
}
