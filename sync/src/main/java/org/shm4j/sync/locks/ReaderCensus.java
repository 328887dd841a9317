package org.shm4j.sync.locks;

import org.shm4j.core.internal.HeapMappings;
import org.shm4j.sync.internal.Membarrier;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

/**
 * The read holds of one read-write lock in a heap this process is attached to, counted by the threads of this
 * process (their {@link ReadHolds.Counter}s), so that this process's read-hold count in the lock's slot can be set
 * right after a view's close cut a read call short: the JDK may report a close after the access it cut short took
 * effect, so the call cannot know whether its add or subtract was made (design191, gap 2). A lock is known by its
 * heap's {@linkplain HeapMappings.AttachPeriod attach period} and offset, as {@link ReadHolds} knows it.
 *
 * <p>The recount is an asymmetric Dekker gate (as {@code RobustMutex}'s release by store and its waiter's
 * {@link Membarrier#barrier()}). A read call marks its counter {@linkplain ReadHolds.Counter#enter() pending} (a plain
 * store), then reads the counter's {@code blocked} (a plain load; a compiler barrier between them), and only if it
 * is clear changes the slot and its counter's holds, then clears pending (a release store). The recount sets
 * {@code blocked} in every counter, calls {@link Membarrier#barrier()} (after which each reader's pending store made
 * before it is visible here, and each reader's load after it sees blocked), waits until no counter is pending, and
 * then reads holds that no thread changes until it is done: their sum is what the slot must count. Readers that
 * found blocked wait here until the recount is over. The hot path pays two plain stores and a plain load of its own
 * counter, with no atomic; a close that cuts a read call short pauses this process's read calls of the lock for a
 * barrier (2-50 µs) and a scan. Without {@link Membarrier} (not Linux, or turned off) there is no recount.
 */
final class ReaderCensus {
    /** How long a recount waits for a pending counter: a reader between its two stores has no wait in between. */
    private static final long PENDING_BOUND_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** The censuses of locks whose attach period is not over, guarded by itself. */
    private static final Map<Key, ReaderCensus> CENSUSES = new HashMap<>();
    /** How many censuses there were after the last pruning; guarded by {@link #CENSUSES}. */
    private static int censusesPrunedAt = 16;

    /** The counters of the threads that used the lock; guarded by this census. */
    private final List<ReadHolds.Counter> counters = new ArrayList<>();
    /** How many counters there were after the last pruning; guarded by this census. */
    private int prunedAt = 16;
    /** A recount is under way; guarded by this census. */
    private boolean recounting;

    private record Key(HeapMappings.AttachPeriod period, long offset) {
        /** Written out, not generated: see {@link org.shm4j.core.BlockType#equals}. */
        @Override
        public boolean equals(Object o) {
            return o instanceof Key other && period.equals(other.period) && offset == other.offset;
        }

        /** Written out for the reason {@link #equals} is. */
        @Override
        public int hashCode() {
            return 31 * period.hashCode() + Long.hashCode(offset);
        }
    }

    private ReaderCensus() {
    }

    /** @return the census of the lock at {@code offset} in the heap of {@code period} in this process */
    static ReaderCensus of(HeapMappings.AttachPeriod period, long offset) {
        synchronized (CENSUSES) {
            if (CENSUSES.size() >= 2 * censusesPrunedAt) { // those of periods over, each time the map doubles
                CENSUSES.keySet().removeIf(key -> key.period.isOver());
                censusesPrunedAt = Math.max(16, CENSUSES.size());
            }
            return CENSUSES.computeIfAbsent(new Key(period, offset), key -> new ReaderCensus());
        }
    }

    /**
     * Adds {@code counter}, blocked if a recount is under way; drops the counters of ended threads that hold nothing
     * each time the list doubles (an ended thread's holds stay counted, as its process's slot counts them).
     */
    synchronized void register(ReadHolds.Counter counter) {
        counter.setBlocked(recounting);
        counters.add(counter);
        if (counters.size() >= 2 * prunedAt) {
            counters.removeIf(c -> c.holds == 0 && !c.thread.isAlive() && c.pendingNow() == 0);
            prunedAt = Math.max(16, counters.size());
        }
    }

    /** Waits, not interruptibly, until no recount is under way (called by a reader that found its counter blocked). */
    synchronized void awaitOpen() {
        boolean interrupted = false;
        while (recounting) {
            try {
                wait(1);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops every read call of the lock in this process from changing its slot, and, once none is changing it,
     * passes the sum of its threads' holds to {@code setSlot}, which sets the slot's count to it.
     *
     * @return what {@code setSlot} returned; false without it if there is no {@link Membarrier} here or a reader
     *         stayed pending for 5 s
     */
    boolean recount(IntPredicate setSlot) {
        if (!Membarrier.isAvailable()) {
            return false;
        }
        ReadHolds.Counter[] all = block();
        try {
            if (!Membarrier.barrier()) {
                return false;
            }
            long deadline = System.nanoTime() + PENDING_BOUND_NANOS;
            int sum = 0;
            for (ReadHolds.Counter c : all) {
                while (c.pendingNow() != 0) { // acquire: its holds are read after it
                    if (System.nanoTime() - deadline > 0) {
                        return false;
                    }
                    Thread.yield();
                }
                sum += c.holds;
            }
            return setSlot.test(sum);
        } finally {
            unblock();
        }
    }

    /** @return the counters, each blocked, once this thread is the one recounting */
    private synchronized ReadHolds.Counter[] block() {
        awaitOpen();
        recounting = true;
        for (ReadHolds.Counter c : counters) {
            c.setBlocked(true);
        }
        return counters.toArray(new ReadHolds.Counter[0]);
    }

    private synchronized void unblock() {
        for (ReadHolds.Counter c : counters) {
            c.setBlocked(false);
        }
        recounting = false;
        notifyAll();
    }
}
