package org.shm4j.sync.locks;

import org.shm4j.core.internal.HeapMappings;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;

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
 * <p>Only its thread reads or writes a thread's table and counters (but for a {@link ReaderCensus} recount, which
 * reads the holds of every counter of its lock: see there): plain fields. A counter counts one lock for its
 * whole life, so a lock object that caches the last counter it used needs to check only whose it is: other threads
 * may read the cache, and check its final {@link Counter#thread}, whose publication makes that safe. A counter whose
 * lock is gone is dropped from the table (a lock object that still caches it can no longer reach its memory).
 */
final class ReadHolds {
    private static final ThreadLocal<ReadHolds> OF_THREAD = ThreadLocal.withInitial(ReadHolds::new);
    // VarHandle mechanics
    private static final VarHandle PENDING;
    private static final VarHandle BLOCKED;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            PENDING = lookup.findVarHandle(Counter.class, "pending", int.class);
            BLOCKED = lookup.findVarHandle(Counter.class, "blocked", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Initializes this class: a read-write lock's open calls this, shallow, so that a read acquire deep in a thread's
     * stack is never the first to, where a {@link StackOverflowError} in the initializer would leave the class
     * erroneous and every later read acquire in the JVM throwing {@link NoClassDefFoundError}.
     */
    static void initialize() {
        // the JVM initializes the class before it runs a static method: nothing else to do
    }

    /** One thread's read holds of one lock: made for that lock, never another's. */
    static final class Counter {
        final Thread thread = Thread.currentThread();
        /**
         * The lock: an {@link HeapMappings.AttachPeriod} and the offset in its heap, or a scope, held weakly (an
         * automatic arena's memory must stay collectable: jcstress ran out of direct memory with it held strongly),
         * and an address.
         */
        private final Object owner;
        private final long offset;
        /** {@link #slot}'s hash of the owner, kept: a weakly held scope may be gone when the table is rebuilt. */
        private final int ownerHash;
        /**
         * The holds: plain, only this thread writes them; a {@link ReaderCensus} recount reads them once this
         * thread cleared {@link #pending}, which orders them before it.
         */
        int holds;
        /** The census of its lock, or null for a lock not in an attached heap (no other view to recount through). */
        final ReaderCensus census;
        /** 1 while this thread may change its process's slot: see {@link ReaderCensus}. */
        private int pending;
        /** Set by a {@link ReaderCensus} recount while it runs: see there. */
        private boolean blocked;

        private Counter(Object owner, long offset) {
            this.owner = owner instanceof MemorySegment.Scope scope ? new WeakReference<>(scope) : owner;
            this.offset = offset;
            this.ownerHash = System.identityHashCode(owner);
            this.census = owner instanceof HeapMappings.AttachPeriod period ? ReaderCensus.of(period, offset) : null;
        }

        /**
         * Before a read call's add or subtract on its process's slot: marks this counter pending, unless a recount
         * is under way.
         *
         * @return false if one is: nothing marked, the caller waits for it ({@code census.awaitOpen()})
         */
        boolean enter() {
            pending = 1; // plain: made visible to a recount by its barrier, or by the atomic that follows
            // a compiler barrier (no instruction on x86): the store above stays before the load below; the CPU's
            // store-load reordering is what the recount's membarrier covers (as in RobustMutex's release)
            VarHandle.releaseFence();
            if (!blocked) {
                return true;
            }
            PENDING.setRelease(this, 0);
            return false;
        }

        /** After the add or subtract and the update of {@link #holds}: release, so a recount reads holds after it. */
        void leave() {
            PENDING.setRelease(this, 0);
        }

        /** @return {@link #pending}, read by acquire (by a recount) */
        int pendingNow() {
            return (int) PENDING.getAcquire(this);
        }

        /** Sets {@link #blocked}: volatile, before the recount's barrier. */
        void setBlocked(boolean value) {
            BLOCKED.setVolatile(this, value);
        }

        /**
         * @return true if this is the current thread's counter: of the lock of the object that cached it, since a
         *         counter counts one lock for life
         */
        boolean isMine() {
            return thread == Thread.currentThread();
        }

        /** @return true if this counts the lock named by {@code owner} and {@code offset} */
        private boolean counts(Object owner, long offset) {
            return this.offset == offset
                    && (this.owner == owner || this.owner instanceof WeakReference<?> scope && scope.get() == owner);
        }

        /** @return true if its lock is gone: its attach period over, or its memory closed or collected */
        private boolean lockGone() {
            if (owner instanceof HeapMappings.AttachPeriod period) {
                return period.isOver();
            }
            MemorySegment.Scope scope = (MemorySegment.Scope) ((WeakReference<?>) owner).get();
            return scope == null || !scope.isAlive();
        }
    }

    /**
     * The thread's counters, one per lock it has used: an open-addressing table on the lock's owner and offset (a
     * thread may use thousands of locks, and a lock object whose cache another thread took looks its counter up on
     * every call), at most half full; counters of gone locks are dropped when it grows.
     */
    private Counter[] table = new Counter[16];
    private int size;

    private ReadHolds() {
    }

    /**
     * @return the current thread's counter of the lock named by {@code owner} and {@code offset} (see
     *         {@link Counter#owner}): found in the thread's table, or made (a lock object caches it: see
     *         {@link Counter})
     */
    static Counter of(Object owner, long offset) {
        return OF_THREAD.get().find(owner, offset);
    }

    private Counter find(Object owner, long offset) {
        int mask = table.length - 1;
        int i = slot(System.identityHashCode(owner), offset, mask);
        for (Counter c = table[i]; c != null; c = table[i = (i + 1) & mask]) {
            if (c.counts(owner, offset)) {
                return c;
            }
        }
        if (2 * (size + 1) > table.length) {
            grow();
        }
        Counter made = new Counter(owner, offset);
        place(made);
        if (made.census != null) {
            made.census.register(made);
        }
        return made;
    }

    /** Puts {@code c} in the first free slot from its home slot on. */
    private void place(Counter c) {
        int mask = table.length - 1;
        int i = slot(c.ownerHash, c.offset, mask);
        while (table[i] != null) {
            i = (i + 1) & mask;
        }
        table[i] = c;
        size++;
    }

    /** Rebuilds the table without the counters of gone locks, twice as large if they were not half of it. */
    private void grow() {
        Counter[] old = table;
        int live = 0;
        for (Counter c : old) {
            if (c != null && !c.lockGone()) {
                live++;
            }
        }
        table = new Counter[Math.max(16, Integer.highestOneBit(Math.max(1, live)) * 4)];
        size = 0;
        for (Counter c : old) {
            if (c != null && !c.lockGone()) {
                place(c);
            }
        }
    }

    private static int slot(int ownerHash, long offset, int mask) {
        long h = (ownerHash * 0x9E3779B97F4A7C15L) ^ offset;
        return (int) (h ^ (h >>> 29) ^ (h >>> 41)) & mask;
    }
}
