package org.shm4j.sync.ring;

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

    /** Writes the padding record of {@code padding} bytes at {@code index}, if any, before a claim that wraps. */
    private static void writePadding(MemorySegment block, int index, int padding) {
        if (padding > 0) { // release: the consumer reads it with acquire
            LONG.setRelease(block, RING_HEADER_SIZE + index, RingRecords.header(padding, RING_PADDING_TYPE));
        }
    }
}
