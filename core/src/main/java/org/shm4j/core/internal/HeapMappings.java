package org.shm4j.core.internal;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The named and file heaps this process has mapped, by address, so that a lock, role or slot held in one of them can
 * ask whether its holder still has the heap open.
 *
 * <p>A holder that closed the heap (its process lives on) can no longer be inside a critical section through it: a
 * heap's close unmaps its memory, which stops every thread of that process from touching it, before it removes the
 * process from the attach table (see {@code SharedHeap.close()}). So a waiter may treat such a holder as a dead one.
 * Without this, a heap closed by one thread while another of its threads held a lock left that lock held by a live
 * process: every other process waited for it until that process exited. Anonymous heaps are not listed: no other
 * process maps them.
 *
 * <p>Looked up only on the slow paths of waiters and claimers (a liveness check, at most every few milliseconds),
 * never on a lock's or ring's hot path; adding and removing copy the list (opens and closes are rare).
 */
public final class HeapMappings {
    private static final CopyOnWriteArrayList<MemorySegment> MAPPED = new CopyOnWriteArrayList<>();

    private HeapMappings() {
    }

    /** Lists {@code heap}, the whole mapping of an open named or file heap. */
    public static void add(MemorySegment heap) {
        MAPPED.add(heap);
    }

    /** Stops listing {@code heap}, before it is unmapped. */
    public static void remove(MemorySegment heap) {
        MAPPED.remove(heap);
    }

    /**
     * @param memory where the lock, role or slot lies (any segment: a heap block, a wrapped segment)
     * @param token  the holder's {@linkplain ProcessIdentity owner token}
     * @return true unless the holder is known to be gone: its process dead, or {@code memory} lies in a heap this
     *         process has mapped and the holder's process has no slot in that heap's attach table (it closed the
     *         heap); a holder of memory outside any listed heap is judged by its process alone
     */
    public static boolean isPresent(MemorySegment memory, long token) {
        return ProcessIdentity.isAlive(token) && hasOpen(memory, token);
    }

    private static boolean hasOpen(MemorySegment memory, long token) {
        long address = memory.address();
        for (MemorySegment heap : MAPPED) {
            if (address - heap.address() >= 0 && address - heap.address() < heap.byteSize()) {
                try {
                    return AttachTable.isAttached(heap, token);
                } catch (IllegalStateException closedMeanwhile) { // this process closed that heap: cannot judge
                    return true;
                }
            }
        }
        return true;
    }
}
