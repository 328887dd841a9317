package org.shm4j.sync.locks;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The read holds of one thread, per read-write lock it has used in this process: what lets a read lock's
 * {@code unlock} refuse a thread that holds none (the shared memory counts a process's holds, not a thread's), lets
 * a thread that holds a read lock take it again while a writer waits, and refuses it the write lock. A lock is known
 * by its mapping in this process (the scope of the memory it lives in) and its address there, so every view of the
 * lock opened from one heap shares the count; views from two mappings of one heap count apart.
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
        /** The lock's memory and address in this process: rewritten only when the counter is reused at 0 holds. */
        MemorySegment.Scope scope;
        long address;
        /** The holds: plain, only this thread touches them. */
        int holds;

        /** @return true if this is the current thread's counter of the lock at {@code address} in {@code scope} */
        boolean counts(MemorySegment.Scope scope, long address) {
            return this.address == address && thread == Thread.currentThread() && this.scope == scope;
        }
    }

    private Counter[] counters = new Counter[0];

    private ReadHolds() {
    }

    /**
     * @return the current thread's counter of the lock at {@code address} in {@code scope}: found in the thread's
     *         table, or a counter at 0 holds reused or added for it (a lock object caches it: see {@link Counter})
     */
    static Counter of(MemorySegment.Scope scope, long address) {
        return OF_THREAD.get().find(scope, address);
    }

    private Counter find(MemorySegment.Scope scope, long address) {
        Counter free = null;
        for (Counter c : counters) {
            if (c.address == address && c.scope == scope) {
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
        free.address = address;
        return free;
    }
}
