package org.shm4j.sync.ring;

import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.Blocks;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PADDING_TYPE;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * A {@link SharedRing} producer's claim of room for a record: reads head (through the process's copy of it), moves
 * tail, writes the padding record before a claim that wraps and marks the claim (its negative length) before any
 * payload byte. Static methods taking the ring's segment and final values, so that the JIT inlines them into the
 * offer and tryClaim paths with no load of another object between the ring and its segment.
 */
final class RingProducer {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private RingProducer() {
    }

    /**
     * Claims {@code required} bytes for the one producer of an SPSC ring (tail moves by a release store, no CAS).
     *
     * @return the record index claimed, or -1 if there is no room
     */
    static long claimSingle(MemorySegment block, int capacity, int mask, LocalPosition headCache, int required) {
        long tail = (long) LONG.getOpaque(block, RING_TAIL_OFFSET); // opaque: only this producer writes it
        long head = headCache.acquire();
        int index = (int) (tail & mask);
        int toEnd = capacity - index;
        int padding = required > toEnd ? toEnd : 0;
        // the record, and the header after it: zeroed here, since the consumer leaves freed bytes as they were
        int end = required + padding + RING_RECORD_HEADER;
        if (end > capacity - (tail - head)) {
            head = freshHead(block, headCache);
            if (end > capacity - (tail - head)) {
                return -1;
            }
        }
        long recordIndex = padding > 0 ? 0 : index;
        // plain: ordered before this record's commit (release), after which alone the consumer reads that word
        LONG.set(block, RING_HEADER_SIZE + ((recordIndex + required) & mask), 0L);
        markClaim(block, recordIndex, required); // before the padding: the consumer reads past it at once
        writePadding(block, index, padding);
        LONG.setRelease(block, RING_TAIL_OFFSET, tail + padding + required); // release: for size() readers
        return recordIndex;
    }

    /** @return head, read from the ring and kept in this process's copy {@code headCache} */
    private static long freshHead(MemorySegment block, LocalPosition headCache) {
        // volatile, not only acquire (the consumer's reads (SPSC) or zeroing (MPSC, MPMC) of what it freed come
        // before our writes there): a blocked producer's look, which must stay after its announcement's store; the
        // same instruction as an acquire load on x86 and AArch64
        long head = (long) LONG.getVolatile(block, RING_HEAD_OFFSET);
        headCache.setRelease(head); // release: passes the zeroed bytes on to this process's other producers
        return head;
    }

    /**
     * Claims {@code required} bytes for one of many producers (MPSC, MPMC): tail moves by CAS.
     *
     * @return the record index claimed, or -1 if there is no room
     */
    static long claimShared(MemorySegment block, int capacity, int mask, LocalPosition headCache, int required) {
        long head = headCache.acquire(); // acquire: pairs with freshHead's release
        long tail;
        int index;
        int padding;
        do {
            tail = (long) LONG.getVolatile(block, RING_TAIL_OFFSET);
            index = (int) (tail & mask);
            int toEnd = capacity - index;
            padding = required > toEnd ? toEnd : 0;
            if (required + padding > capacity - (tail - head)) {
                head = freshHead(block, headCache);
                if (required + padding > capacity - (tail - head)) {
                    return -1;
                }
            }
        } while (!LONG.compareAndSet(block, RING_TAIL_OFFSET, tail, tail + padding + required));
        // the successful CAS is the linearization point: [tail, tail + padding + required) is ours
        long recordIndex = padding > 0 ? 0 : index;
        writePadding(block, index, padding);
        markClaim(block, recordIndex, required);
        return recordIndex;
    }

    /**
     * Marks a claim: its negative length and this process's producer id ({@link ProducerMarks}), stored before any
     * payload byte (what {@link SharedRing#unblock()} relies on).
     */
    private static void markClaim(MemorySegment block, long recordIndex, int required) {
        long mark = RingRecords.header(-required, ProducerMarks.THIS_PROCESS);
        LONG.setOpaque(block, RING_HEADER_SIZE + recordIndex, mark); // opaque: the fence below orders it
        VarHandle.storeStoreFence(); // the mark before the payload, even in a producer process killed here
    }

    /**
     * Renames the claim marks this process left in the records of {@code block}, a ring of {@code capacity} whose
     * consumer's position is at {@code positionOffset}, as a gone producer's ({@link ProducerMarks#ABANDONED}), for a
     * process that opens again a heap it had closed (see {@code ReopenSweep}): a claim that close cut short can be
     * neither committed nor aborted (see {@link RingClaim}), and the stall rule skips it once it sees its producer
     * gone (at its first look, or 50 ms after), as a dead producer's; kept, it held every consumer up while this
     * process lived. Walks the records from the consumer's position to tail, record by record: each header is read
     * (acquire), then that position again (acquire); a header read while the consumer had not passed it is a record's
     * as its producer wrote it (nothing else writes at or after the consumer's position but a skip, which pads it),
     * else the walk goes on from the consumer's new position, a record boundary. A zero header is a claim not marked
     * yet (its producer between its tail CAS and its mark, or killed there): in a ring whose consumers zero what they
     * free ({@code zeroing}: MPSC, MPMC), every word of such a claim is zero until its mark, so the walk steps over the
     * zero words to the next record boundary ({@link RingRecords#zeroClaims}, as the stall rule does when it skips
     * one); stopping there instead left a mark of this process behind a dead producer's claim, which every consumer
     * stopped at, once that claim was skipped, while this process lived. An SPSC ring's producer marks each claim
     * before it moves tail, so no zero header lies before tail; its freed bytes are not zeroed, and the walk stops at
     * one. Each rename is a volatile CAS from this process's exact mark: no thread of this process claims meanwhile
     * (the sweep runs before the reopened heap is handed out), so only a commit, never made, or a skip (which pads it
     * first) changes that word.
     *
     * @throws ShmFormatException if tail is more than {@code capacity} past the consumer's position, or a header read
     *                            gives a record size that no ring of {@code capacity} has there
     */
    static void abandonMarks(MemorySegment block, int capacity, long positionOffset, boolean zeroing, String what) {
        if (ProducerMarks.THIS_PROCESS == 0) {
            return; // its marks name nobody: the stall timeout alone skips them
        }
        int mask = capacity - RING_RECORD_HEADER;
        // volatile: claims after it are other processes', since none of this one's is made meanwhile
        long tail = (long) LONG.getVolatile(block, RING_TAIL_OFFSET);
        long position = (long) LONG.getAcquire(block, positionOffset); // acquire: as the reads in the loop
        if (tail - position > capacity) { // else the walk could go round the buffer for ever
            throw Blocks.corrupt(what, "tail", tail, "at most the consumer's position " + position + " + capacity "
                    + capacity);
        }
        while (position - tail < 0) {
            long at = RING_HEADER_SIZE + (position & mask);
            long record = (long) LONG.getAcquire(block, at); // acquire: before the look at the position below
            long consumer = (long) LONG.getAcquire(block, positionOffset); // acquire: after the header's read
            if (consumer - position > 0) {
                position = consumer; // freed meanwhile: what was read may be zeroed or reused bytes
                continue;
            }
            int length = RingRecords.length(record);
            if (length == 0 && !zeroing) {
                return;
            }
            if (length == 0) {
                int limit = (int) Math.min(tail - position, capacity - (position & mask)); // records never wrap
                int gap = RingRecords.zeroClaims(block, at, limit);
                // acquire: after the gap's reads, which are a claim's as its producer wrote them if it had not passed
                consumer = (long) LONG.getAcquire(block, positionOffset);
                position = consumer - position > 0 ? consumer : position + gap; // a gap of 0: marked meanwhile
                continue;
            }
            int size = length < 0 ? -length : RingRecords.align(length);
            if (size < RING_RECORD_HEADER || size > capacity - (position & mask)) { // records never wrap
                throw Blocks.corrupt(what, "record header at " + position, "0x" + Long.toHexString(record),
                        "a length from " + RING_RECORD_HEADER + " to the " + (capacity - (position & mask))
                                + " bytes before the end of the buffer");
            }
            if (length < 0 && RingRecords.type(record) == ProducerMarks.THIS_PROCESS) {
                LONG.compareAndSet(block, at, record, RingRecords.header(length, ProducerMarks.ABANDONED));
            }
            position += size;
        }
    }

    /** Writes the padding record of {@code padding} bytes at {@code index}, if any, before a claim that wraps. */
    private static void writePadding(MemorySegment block, int index, int padding) {
        if (padding > 0) { // release: the consumer reads it with acquire
            LONG.setRelease(block, RING_HEADER_SIZE + index, RingRecords.header(padding, RING_PADDING_TYPE));
        }
    }
}
