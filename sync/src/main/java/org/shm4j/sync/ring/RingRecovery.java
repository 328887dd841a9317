package org.shm4j.sync.ring;

import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.RingScan;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PADDING_TYPE;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;
import static org.shm4j.sync.internal.SyncLayout.RING_RECOVERIES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_SKIPPED_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * The rare paths of a {@link SharedRing}: finishing the consumption a dead consumer left half done, skipping the
 * records dead producers left claimed (the stall rule and {@link SharedRing#unblock()}), counting both in the header,
 * and counting the messages queued. The rules and their invariants are in the class documentation of
 * {@code SharedRing}. Only the consumer calls the first two (for MPMC, the consumer holding the consumers' mutex), so
 * they do not race with the consumer's own paths; anyone may count.
 */
final class RingRecovery {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment header;
    private final MemorySegment data;
    private final int capacity;
    private final int indexMask; // a position's index bits without the low three, as SharedRing's mask
    private final long positionOffset; // the consumer's commit point: head for SPSC, else consumedTo
    private final String description;

    RingRecovery(MemorySegment header, MemorySegment data, long positionOffset, String description) {
        this.header = header;
        this.data = data;
        this.positionOffset = positionOffset;
        this.capacity = (int) data.byteSize();
        this.indexMask = capacity - RING_RECORD_HEADER;
        this.description = description;
    }

    /**
     * Finishes what a consumer that died between handing records over and freeing them left: zeroes
     * [{@code head}, {@code consumedTo}) whatever state its bytes are in, then releases head to {@code consumedTo}.
     * Idempotent, so a consumer that dies in here leaves the same work to the next one.
     *
     * @throws ShmFormatException if the two positions cannot be a ring's (the header was overwritten)
     */
    private void finishConsumption(long head, long consumedTo) {
        long bytes = consumedTo - head;
        if (bytes < 0 || bytes > capacity || (bytes & (RING_RECORD_HEADER - 1)) != 0) {
            throw corrupted("head=" + head + " consumedTo=" + consumedTo);
        }
        int index = (int) (head & indexMask);
        long first = Math.min(bytes, capacity - index);
        RingRecords.zero(data, index, first); // the records never wrap, but the range may: zero both pieces
        RingRecords.zero(data, 0, bytes - first);
        LONG.setRelease(header, RING_HEAD_OFFSET, consumedTo); // release: the zeroed bytes before the freed space
        LONG.getAndAdd(header, RING_RECOVERIES_OFFSET, 1L);
    }

    /**
     * As the consumer: finishes what a consumer that died between handing records over and freeing them left, if
     * head is behind {@code consumedTo} ({@link #finishConsumption}), and wakes the producers waiting for room.
     */
    void finishPending(long consumedTo) {
        // opaque: only a consumer writes it, and the consumers' mutex (MPMC) or the caller orders consumers
        long head = (long) LONG.getOpaque(header, RING_HEAD_OFFSET);
        if (head != consumedTo) {
            finishConsumption(head, consumedTo);
            RingWaits.signalNotFull(header);
        }
    }

    /** @return the record header at {@code position} (volatile: a producer may be writing it) */
    long record(long position) {
        return (long) LONG.getVolatile(data, (int) (position & indexMask));
    }

    /**
     * Skips the record at {@code position} (the consumer's commit point) if its producer is taken for dead: a claim
     * marked but not committed is padded over its marked length; a claim never marked (its producer died between its
     * tail CAS and its mark) is padded over the zero words from {@code position} up to the first word that is provably
     * a record boundary — a non-zero word still seen after re-reading every word before it as zero, {@code bound}, or
     * the end of the buffer.
     *
     * @param bound  a tail value read when the record at {@code position} was first seen stuck: every claim that
     *               starts before it is at least as old as that reading
     * @param record the record header there as the caller read it ({@link #record}) and judged it: if it is
     *               another now, nothing is skipped (a producer marked or committed meanwhile)
     * @return true if a record was turned into padding
     */
    boolean unblockAt(long position, long bound, long record) {
        if (bound <= position) {
            return false; // nothing claimed: a mark at tail (SPSC) belongs to a claim tail has not reached yet
        }
        int index = (int) (position & indexMask);
        int length = RingRecords.length(record);
        if (length < 0) {
            checkHeader(position, record);
            return padOver(index, record, -length);
        }
        if (length > 0) {
            return false;
        }
        int gap = RingRecords.zeroClaims(data, index, (int) Math.min(bound - position, capacity - index));
        return gap > 0 && padOver(index, 0L, gap);
    }

    private boolean padOver(int index, long expected, int alignedLength) {
        // the successful CAS is the linearization point; it fails if the producer just marked or committed
        if (!LONG.compareAndSet(data, (long) index, expected, RingRecords.header(alignedLength, RING_PADDING_TYPE))) {
            return false;
        }
        LONG.getAndAdd(header, RING_SKIPPED_OFFSET, 1L);
        return true;
    }

    /** @return the records skipped as abandoned so far */
    long skippedRecords() {
        return (long) LONG.getVolatile(header, RING_SKIPPED_OFFSET);
    }

    /** @return the consumptions finished for dead consumers so far */
    long consumerRecoveries() {
        return (long) LONG.getVolatile(header, RING_RECOVERIES_OFFSET);
    }

    /**
     * @return the committed messages not yet handed to a consumer, up to the first claim whose producer has not
     *         marked it yet (what lies after such a claim cannot be known); see {@link #walk}
     */
    long messageCount() {
        return Math.max(0, walk(Long.MAX_VALUE));
    }

    /** @return whether {@link #messageCount()} would be above 0, found by a walk that stops at the first message */
    boolean hasMessage() {
        return walk(1) > 0;
    }

    /**
     * @return what a walk from the consumer's position finds first: {@link RingScan#MESSAGE}, {@link RingScan#NONE}
     *         (tail reached over claims marked and not committed, and padding), or {@link RingScan#UNMARKED_CLAIM}
     *         (a claim not marked yet, before any message: what lies behind it cannot be known)
     */
    int firstQueued() {
        long found = walk(1);
        return found < 0 ? RingScan.UNMARKED_CLAIM : found == 0 ? RingScan.NONE : RingScan.MESSAGE;
    }

    /**
     * Walks the records from consumedTo to tail. A header read is trusted only if consumedTo had not passed it
     * afterwards (the consumer stores consumedTo, fenced, before it zeroes a record, and this walk reads consumedTo
     * with acquire after the header); if it had, every message counted so far is gone and the walk goes on from
     * there. The walk ends at the tail read first, so it ends even while producers go on.
     *
     * @param limit the count at which the walk stops
     * @return the committed messages found, up to {@code limit}; or, if it met a claim not marked yet before the
     *         first message, -1
     */
    private long walk(long limit) {
        long tail = (long) LONG.getAcquire(header, RING_TAIL_OFFSET);
        long position = (long) LONG.getAcquire(header, positionOffset);
        long count = 0;
        while (position < tail && count < limit) {
            long record = (long) LONG.getAcquire(data, position & indexMask); // acquire: consumedTo read after
            long consumedTo = (long) LONG.getAcquire(header, positionOffset);
            if (consumedTo > position) {
                position = consumedTo;
                count = 0;
                continue;
            }
            int length = RingRecords.length(record);
            if (length == 0) {
                return count == 0 ? -1 : count; // a claim not marked yet
            }
            checkHeader(position, record);
            long aligned = length < 0 ? -(long) length : RingRecords.align(length);
            if (aligned > tail - position) {
                // read before a producer's claim that tail, read first, does not cover: unknown, as a claim not marked
                return count == 0 ? -1 : count;
            }
            if (length > 0 && RingRecords.type(record) != RING_PADDING_TYPE) {
                count++;
            }
            position += aligned;
        }
        return count;
    }

    /**
     * Checks a non-zero record header at {@code position}, a claim mark or a committed record, as the protocol
     * writes them: a mark's length is the negated aligned length, a record's covers at least its header, and either
     * ends at or before the buffer's end.
     *
     * @throws ShmFormatException naming the ring, the header and where it is, if it is no such header
     */
    private void checkHeader(long position, long record) {
        int length = RingRecords.length(record);
        long span = length < 0 ? -(long) length : ((long) length + RING_RECORD_HEADER - 1) & -RING_RECORD_HEADER;
        long room = capacity - (position & indexMask);
        if (length > 0 && length < RING_RECORD_HEADER || span % RING_RECORD_HEADER != 0 || span > room) {
            throw corrupted("record header 0x" + Long.toHexString(record) + " at " + position);
        }
    }

    /** @return the exception for a ring whose shared state no protocol step can produce */
    ShmFormatException corrupted(String what) {
        return new ShmFormatException(description + " is corrupted: " + what + " (capacity " + capacity + ")");
    }
}
