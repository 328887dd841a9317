package org.shm4j.sync.locks;

import org.shm4j.core.internal.HeapMappings;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The read holds of one thread, per read-write lock it has used in this process: what lets a read lock's
 * {@code unlock} refuse a thread that holds none (the shared memory counts a process's holds, not a thread's), lets
 * a thread that holds a read lock take it again while a writer waits, and refuses it the write lock.
 *
 * <p>A lock in a named or file heap this process is attached to is known by the heap's
 * {@linkplain HeapMappings.AttachPeriod attach period} and its offset in the heap, so every view of it in this
 * process shares the count, whichever mapping of the heap it came from (a hold taken through a view that was then
 * closed is released through another, and a wrapped view over the heap's memory counts with the others), while a
 * count kept from before this process last closed every view of the heap, when other processes may have dropped its
 * holds, never matches again. Any other lock (an anonymous heap's, or one wrapped over other memory) is known by its
 * memory's scope and address.
 *
 * <p>Only its thread reads or writes a thread's table and counters: plain fields. A lock object caches the last
 * counter it used, which other threads may read: they check its final {@link Counter#thread} first,
 * and the final field's publication makes that safe.
 */
final class ReadHolds {
    private static final ThreadLocal<ReadHolds> OF_THREAD = ThreadLocal.withInitial(ReadHolds::new);

    /** One thread's read holds of one lock. */
    static final class Counter {
        final Thread thread = Thread.currentThread();
        /**
         * The lock: an {@link HeapMappings.AttachPeriod} and the offset in its heap, or a {@link MemorySegment.Scope}
         * and the address. Rewritten only when the counter is reused.
         */
        Object owner;
        long offset;
        /** The holds: plain, only this thread touches them. */
        int holds;

        /** @return true if this is the current thread's counter of the lock named so (see {@link #owner}) */
        boolean counts(Object owner, long offset) {
            return this.offset == offset && thread == Thread.currentThread() && this.owner == owner;
        }

        /** @return true if the counter may count another lock: it holds nothing, or its lock is gone (see above) */
        private boolean reusable() {
            return holds == 0 || (owner instanceof HeapMappings.AttachPeriod period ? period.isOver()
                    : !((MemorySegment.Scope) owner).isAlive());
        }
    }

    private Counter[] counters = new Counter[0];

    private ReadHolds() {
    }

    /**
     * @return the current thread's counter of the lock named by {@code owner} and {@code offset} (see
     *         {@link Counter#owner}): found in the thread's table, or a reusable counter reset for it, or a new one (a
     *         lock object caches it: see {@link Counter})
     */
    static Counter of(Object owner, long offset) {
        return OF_THREAD.get().find(owner, offset);
    }

    private Counter find(Object owner, long offset) {
        Counter free = null;
        for (Counter c : counters) {
            if (c.offset == offset && c.owner == owner) {
                return c;
            }
            if (free == null && c.reusable()) {
                free = c;
            }
        }
        if (free == null) { // as many counters as locks this thread holds at once
            free = new Counter();
            counters = Arrays.copyOf(counters, counters.length + 1);
            counters[counters.length - 1] = free;
        }
        free.owner = owner;
        free.offset = offset;
        free.holds = 0;
        return free;
    }
}
