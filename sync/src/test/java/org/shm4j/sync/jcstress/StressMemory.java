package org.shm4j.sync.jcstress;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Zeroed memory for the jcstress tests' states, handed out as slices of chunks of an automatic arena each, in turn.
 *
 * <p>jcstress builds a new state for every sample, about 10,000 an epoch, in the actors' own threads between the
 * strides; an {@code Arena.ofAuto()} per state (a session, a cleaner registration and a native allocation each)
 * made that rebuild cost more than the sampling: 20 to 430 ms per 10,240 lock states compiled and over 1 s in the
 * interpreter, so that a run spent most of its time, and its split-compilation runs with an actor in the
 * interpreter all of it, building states. A slice here costs a lock and an {@code asSlice}.
 *
 * <p>No slice is handed out twice: a chunk is freed by its arena's cleaner once no state holds a slice of it, so a
 * state never sees another's bytes, as with an arena of its own. Each slice starts on a cache line of its own
 * ({@value #ALIGNMENT} bytes), as each allocation of the tests did.
 */
public final class StressMemory {
    private static final long CHUNK_BYTES = 1L << 20;
    private static final long ALIGNMENT = 64;

    private static MemorySegment chunk = MemorySegment.NULL;
    private static long next;

    private StressMemory() {
    }

    /**
     * @param bytes the size of the block
     * @return {@code bytes} zeroed bytes starting on a cache line, used by no other caller
     */
    public static synchronized MemorySegment allocate(long bytes) {
        long footprint = (bytes + ALIGNMENT - 1) & -ALIGNMENT;
        if (footprint > CHUNK_BYTES) {
            return Arena.ofAuto().allocate(bytes, ALIGNMENT);
        }
        if (next + footprint > chunk.byteSize()) {
            chunk = Arena.ofAuto().allocate(CHUNK_BYTES, ALIGNMENT);
            next = 0;
        }
        MemorySegment slice = chunk.asSlice(next, bytes);
        next += footprint;
        return slice;
    }
}
