package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A test over 4 KiB of native memory, 64-byte aligned and freed after each test. */
abstract class RawMemoryTest {
    final Arena arena = Arena.ofConfined();
    final MemorySegment raw = arena.allocate(4096, 64);
    /** The memory's address as a structure formatted there names itself in messages. */
    final String at = "0x" + Long.toHexString(raw.address());

    @AfterEach
    void close() {
        arena.close();
    }
}
