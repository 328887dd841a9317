package org.shm4j.sync.locks;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The read holds of one thread, per read-write lock it has used in this process: what lets a read lock's
 * {@code unlock} refuse a thread that holds none (the shared memory counts a process's holds, not a thread's), lets
 * a thread that holds a read lock take it again while a writer waits, and refuses it the write lock. A lock in a heap
 * is known by the heap's id and its offset there, so every view of it in this process shares the count, whichever
 * mapping of the heap it came from (a hold taken through a view that was then closed is released through another); a
 * lock wrapped over raw memory, by that memory's scope and its address.
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
         * The lock: its heap's id and its offset there (scope null), or, wrapped, its memory's scope and address (id
         * 0). Rewritten only when the counter is reused at 0 holds.
         */
        MemorySegment.Scope scope;
        long id;
        long offset;
        /** The holds: plain, only this thread touches them. */
        int holds;

        /** @return true if this is the current thread's counter of the lock named so (see {@link #scope}) */
        boolean counts(MemorySegment.Scope scope, long id, long offset) {
            return this.offset == offset && thread == Thread.currentThread() && this.id == id && this.scope == scope;
        }
    }

    private Counter[] counters = new Counter[0];

    private ReadHolds() {
    }

    /**
     * @return the current thread's counter of the lock named by {@code scope}, {@code id} and {@code offset} (see
     *         {@link Counter#scope}): found in the thread's table, or a counter at 0 holds reused or added for it (a
     *         lock object caches it: see {@link Counter})
     */
    static Counter of(MemorySegment.Scope scope, long id, long offset) {
        return OF_THREAD.get().find(scope, id, offset);
    }

    private Counter find(MemorySegment.Scope scope, long id, long offset) {
        Counter free = null;
        for (Counter c : counters) {
            if (c.offset == offset && c.id == id && c.scope == scope) {
                return c;
            }
            if (free == null && c.holds == 0) {
                free = c;
            }
        }
        if (free == null) { // as many counters as locks this thread holds at once
            free = new Counter();
            counters = Arrays.copyOf(counters, counters.length + 1);
            counters[counters.length - 1] = free;
        }
        free.scope = scope;
        free.id = id;
        free.offset = offset;
        return free;
    }
}
