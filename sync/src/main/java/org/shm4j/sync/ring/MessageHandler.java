package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;

/**
 * Receives one message of a {@link SharedRing} in place, without a copy. The bytes are valid only during the call:
 * the ring reuses them as soon as it returns.
 */
@FunctionalInterface
public interface MessageHandler {
    /**
     * @param type   the message type given by the producer, {@code >= 1}
     * @param buffer the ring's data memory
     * @param offset where the message starts in {@code buffer}
     * @param length the message length in bytes
     */
    void onMessage(int type, MemorySegment buffer, long offset, int length);
}
