package org.shm4j.sync;

import java.lang.foreign.MemorySegment;

/**
 * {@link Codec#longs()}, for tests that stop a producer or consumer inside its codec: a subclass overrides the one
 * method it hooks (an encode that stalls half way, a decode that blocks in the ring's handler) and calls the plain
 * codec's through {@code super}.
 */
public abstract class LongsWithHook implements Codec<Long> {
    private static final Codec<Long> LONGS = Codec.longs();

    @Override
    public int typeId() {
        return LONGS.typeId();
    }

    @Override
    public int encodedLength(Long value) {
        return LONGS.encodedLength(value);
    }

    @Override
    public void encode(Long value, MemorySegment target, long offset) {
        LONGS.encode(value, target, offset);
    }

    @Override
    public Long decode(MemorySegment source, long offset, int length) {
        return LONGS.decode(source, offset, length);
    }
}
