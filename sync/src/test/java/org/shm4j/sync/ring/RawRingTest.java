package org.shm4j.sync.ring;

import org.junit.jupiter.api.AfterEach;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;

/**
 * What tests of states written into a raw ring share: memory for a ring of 1024 data bytes (format it with
 * {@link SharedRing#format}), a handler that records each message as {@code "type:length:lastByte"}, and messages of
 * one repeated byte.
 */
abstract class RawRingTest {
    private final Arena arena = Arena.ofConfined();
    /** The ring's block: header, then data. */
    final MemorySegment raw = arena.allocate(SharedRing.requiredBytes(1024), 64);
    /** The ring's 1024 data bytes. */
    final MemorySegment data = raw.asSlice(RING_HEADER_SIZE, 1024);
    /** What {@link #collect} received. */
    final List<String> got = new ArrayList<>();
    final MessageHandler collect = (type, buffer, offset, length) ->
            got.add(type + ":" + length + ":" + buffer.get(JAVA_BYTE, offset + length - 1));

    @AfterEach
    void closeArena() {
        arena.close();
    }

    /** @return {@code length} bytes of {@code value} */
    static byte[] filled(int length, int value) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }
}
