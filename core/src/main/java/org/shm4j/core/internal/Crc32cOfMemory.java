package org.shm4j.core.internal;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * CRC-32C over shared memory, read through copies into a Java array. {@code CRC32C.update(ByteBuffer)} over a
 * segment's {@code asByteBuffer()} would hold the segment's session for the whole checksum, and a
 * {@link java.lang.foreign.Arena#close()} meanwhile fails ("Session is acquired"): a heap closed by one thread while
 * another checked a catalog entry stayed mapped. A copy is an ordinary access, which a close ends instead.
 */
public final class Crc32cOfMemory {
    private static final int CHUNK = 1024;

    private Crc32cOfMemory() {
    }

    /** Adds the {@code length} bytes at {@code offset} of {@code memory} to {@code crc}. */
    public static void update(CRC32C crc, MemorySegment memory, long offset, long length) {
        byte[] chunk = new byte[(int) Math.min(length, CHUNK)];
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(chunk.length, length - done);
            MemorySegment.copy(memory, JAVA_BYTE, offset + done, chunk, 0, n);
            crc.update(chunk, 0, n);
            done += n;
        }
    }
}
