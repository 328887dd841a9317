package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PADDING_TYPE;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;

/**
 * The consumer's rare paths of a {@link SharedRing}: finishing the consumption a dead consumer left half done, and
 * skipping the records dead producers left claimed (the stall rule and {@link SharedRing#unblock()}). The rules and
 * their invariants are in the class documentation of {@code SharedRing}. Only the consumer calls these (for MPMC, the
 * consumer holding the consumers' mutex), so nothing here races with the consumer's own paths.
 */
final class RingRecovery {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment header;
    private final MemorySegment data;
    private final int capacity;
    private final String description;

    RingRecovery(MemorySegment header, MemorySegment data, String description) {
        this.header = header;
        this.data = data;
        this.capacity = (int) data.byteSize();
        this.description = description;
    }

    /**
     * Finishes what a consumer that died between handing records over and freeing them left: zeroes
     * [{@code head}, {@code consumedTo}) whatever state its bytes are in, then releases head to {@code consumedTo}.
     * Idempotent, so a consumer that dies in here leaves the same work to the next one.
     *
     * @throws IllegalStateException if the two positions cannot be a ring's (the header was overwritten)
     */
    void finishConsumption(long head, long consumedTo) {
        long bytes = consumedTo - head;
        if (bytes < 0 || bytes > capacity || (bytes & (RING_RECORD_HEADER - 1)) != 0) {
            throw corrupted("head=" + head + " consumedTo=" + consumedTo);
        }
        int index = (int) (head & (capacity - 1));
        long first = Math.min(bytes, capacity - index);
        RingRecords.zero(data, index, first); // the records never wrap, but the range may: zero both pieces
        RingRecords.zero(data, 0, bytes - first);
        LONG.setRelease(header, RING_HEAD_OFFSET, consumedTo); // release: the zeroed bytes before the freed space
    }

    /**
     * Skips the record at {@code position} (the consumer's commit point) if its producer is taken for dead: a claim
     * marked but not committed is padded over its marked length; a claim never marked (its producer died between its
     * tail CAS and its mark) is padded over the zero words from {@code position} up to the first word that is provably
     * a record boundary — a non-zero word still seen after re-reading every word before it as zero, {@code bound}, or
     * the end of the buffer.
     *
     * @param bound a tail value read when the record at {@code position} was first seen stuck: every claim that
     *              starts before it is at least as old as that reading
     * @return true if a record was turned into padding
     */
    boolean unblockAt(long position, long bound) {
        int index = (int) (position & (capacity - 1));
        long record = (long) LONG.getVolatile(data, index);
        int length = RingRecords.length(record);
        if (length < 0) {
            return padOver(index, record, -length);
        }
        if (length > 0 || bound <= position) {
            return false;
        }
        int gap = zeroClaims(index, (int) Math.min(bound - position, capacity - index));
        return gap > 0 && padOver(index, 0L, gap);
    }

    /**
     * @return the bytes from {@code index} to the first record boundary after it, at most {@code limit}: the zero
     * words there belong to claims never marked. A producer stores its mark before any payload word, with a
     * store-store fence between, and this scan reads with acquire: so a non-zero word that is payload would make its
     * record's mark visible in the re-reading pass, which then narrows the gap to that mark.
     */
    private int zeroClaims(int index, int limit) {
        int gap = limit;
        boolean narrowed = true;
        while (narrowed) {
            narrowed = false;
            for (int at = 0; at < gap; at += RING_RECORD_HEADER) {
                if ((long) LONG.getAcquire(data, index + at) != 0) { // acquire: a payload word's mark first
                    gap = at;
                    narrowed = true;
                    break;
                }
            }
        }
        return gap;
    }

    private boolean padOver(int index, long expected, int alignedLength) {
        // the successful CAS is the linearization point; it fails if the producer just marked or committed
        return LONG.compareAndSet(data, (long) index, expected, RingRecords.header(alignedLength, RING_PADDING_TYPE));
    }

    /** @return the exception for a ring whose shared state no protocol step can produce */
    IllegalStateException corrupted(String what) {
        return new IllegalStateException(description + " is corrupted: " + what + " (capacity " + capacity + ")");
    }
}
