package org.shm4j.sync.internal;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFullException;

import java.util.Arrays;

/**
 * Refusals of a ring, or of a structure made of rings (queue, joinable queue, pipe), that a heap has no room for:
 * they name the structure, the capacity asked and the largest capacity that fits the heap's free bytes, so that the
 * caller need not work it out from a block's byte count.
 */
public final class RingRoom {
    private RingRoom() {
    }

    /**
     * Refuses, before its first block is made, a structure whose {@code rings} rings of {@code capacity} and other
     * blocks the heap has no room for, as {@link Blocks#requireRoom} does, naming a capacity that fits.
     *
     * @param what        the structure, for the message ({@code "pipe 'p'"})
     * @param otherBlocks the sizes of its other blocks still to make
     * @throws ShmFullException naming {@code what}, what it needs, what the heap has and a capacity that fits
     */
    public static void require(SharedHeap heap, String what, int capacity, int rings, long... otherBlocks) {
        long[] sizes = new long[rings + otherBlocks.length];
        Arrays.fill(sizes, 0, rings, Blocks.ringBlockSize(what, capacity));
        System.arraycopy(otherBlocks, 0, sizes, rings, otherBlocks.length);
        Blocks.requireRoom(heap, what, () -> advice(heap, capacity, rings, otherBlocks), sizes);
    }

    /**
     * @param what    the ring, or the queue over it, for the message ({@code "ring 'r'"})
     * @param refusal the heap's refusal of the ring's block, or a ring's refusal made here (a queue names itself)
     * @return the heap's refusal re-worded: naming {@code what}, its capacity and a capacity that fits, its cause the
     *         heap's exception
     */
    public static ShmFullException refused(String what, int capacity, SharedHeap heap, ShmFullException refusal) {
        ShmFullException heapFull = refusal.getCause() instanceof ShmFullException heaps ? heaps : refusal;
        return new ShmFullException(what + " of capacity " + capacity + " cannot be created: "
                + heapFull.getMessage() + advice(heap, capacity, 1), heapFull);
    }

    /**
     * @return for a heap whose free bytes are short of {@code rings} rings of {@code capacity} beside
     *         {@code otherBlocks}, the largest capacity that fits them (each block placed at the heap's next cache
     *         line), or that none does; empty if they are not short (the heap's catalog is full)
     */
    private static String advice(SharedHeap heap, int capacity, int rings, long... otherBlocks) {
        long free = heap.freeBytes();
        long left = free - (rings + otherBlocks.length) * (SyncLayout.CACHE_LINE - 1); // each block's alignment
        for (long size : otherBlocks) {
            left -= size;
        }
        long perRing = left / rings - SyncLayout.RING_HEADER_SIZE; // Blocks.ringBlockSize, solved for the capacity
        if (perRing >= capacity) {
            return "";
        }
        if (perRing < SyncLayout.RING_MIN_CAPACITY) {
            return "; not even the smallest capacity, " + SyncLayout.RING_MIN_CAPACITY + ", fits its " + free
                    + " free bytes";
        }
        return "; a capacity of " + Long.highestOneBit(perRing) + " would fit its " + free + " free bytes";
    }
}
