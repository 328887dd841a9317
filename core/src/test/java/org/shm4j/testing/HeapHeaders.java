package org.shm4j.testing;

import org.shm4j.core.internal.HeapLayout;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Rewrites heap header fields as another process would have written them, with the checksum the layout specifies. */
public final class HeapHeaders {
    private HeapHeaders() {
    }

    /**
     * Makes the heap whose header is {@code header} look created in pid namespace {@code namespace} (0: unknown),
     * rewriting the header checksum over bytes 8..91 and 96..103 as {@code SharedHeap}'s layout table specifies.
     */
    public static void setCreatorPidNamespace(MemorySegment header, long namespace) {
        header.set(JAVA_LONG, HeapLayout.CREATOR_PID_NAMESPACE_OFFSET, namespace);
        CRC32C crc = new CRC32C();
        crc.update(header.asSlice(8, 84).asByteBuffer());
        crc.update(header.asSlice(96, 8).asByteBuffer());
        header.set(JAVA_INT, HeapLayout.HEADER_CHECKSUM_OFFSET, (int) crc.getValue());
    }
}
