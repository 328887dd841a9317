package org.shm4j.sync.internal;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmException;
import org.shm4j.sync.locks.DeadlockException;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Deadlock detection for the waits on one lock of a heap, run only on the slow path of a blocked waiter: at each
 * liveness check (every {@link RobustMutex#LIVENESS_NANOS}) of a wait that has lasted longer than the threshold, the
 * waiter publishes its wait in the heap's {@link WaitTable} (once; a wait the full table refused tries again at most
 * once a second), reads the {@link WaitGraph}, and if it finds
 * itself in the same cycle, with the same waits, on two checks at least one check period apart, and it is the cycle's
 * {@linkplain WaitGraph#victim victim}, throws {@link DeadlockException}. The other members keep waiting. The entry
 * is cleared when the wait ends, however it ends.
 *
 * <p>Configuration: {@value #ENABLED_PROPERTY} ({@code true} by default; {@code false} turns it off for every lock of
 * the process unless a lock view turns it back on) and {@value #THRESHOLD_PROPERTY} (100 by default), read once.
 */
public final class DeadlockWatch {
    /** System property that turns detection off by default when {@code false}. */
    public static final String ENABLED_PROPERTY = "shm4j.deadlockDetection";
    /** System property: how long, in milliseconds, a waiter waits before it publishes its wait. */
    public static final String THRESHOLD_PROPERTY = "shm4j.deadlockThresholdMillis";

    private static final boolean ENABLED_BY_DEFAULT = !"false".equalsIgnoreCase(System.getProperty(ENABLED_PROPERTY));
    private static final long THRESHOLD_NANOS = TimeUnit.MILLISECONDS.toNanos(
            Math.max(0, Long.getLong(THRESHOLD_PROPERTY, 100)));
    /** A cycle must be seen again at least this long after it was first seen, with the same waits. */
    private static final long CONFIRM_NANOS = RobustMutex.LIVENESS_NANOS;
    /**
     * How long a wait that the table refused (full: 64 waits published) waits before it tries again; each try may
     * probe every entry's process for a dead one to drop.
     */
    private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final SharedHeap heap;
    private final long lockOffset;
    private final int kind;
    private final String description;
    private volatile boolean enabled = ENABLED_BY_DEFAULT; // volatile: set by any thread, read by waiters
    private volatile WaitTable table; // volatile: opened lazily by the first waiter past the threshold

    private DeadlockWatch(SharedHeap heap, long lockOffset, int kind, String description) {
        this.heap = heap;
        this.lockOffset = lockOffset;
        this.kind = kind;
        this.description = description;
    }

    /**
     * @param heap        the lock's heap, or null for a lock wrapped over raw memory (it has no wait table)
     * @param lock        the lock's memory in the heap
     * @param kind        {@link WaitLayout#KIND_LOCK}, {@link WaitLayout#KIND_FAIR} or {@link WaitLayout#KIND_WRITE}
     * @param description the lock, for messages
     * @return the watch of the lock's waits, or null if it has no heap
     */
    public static DeadlockWatch of(SharedHeap heap, MemorySegment lock, int kind, String description) {
        return heap == null ? null : new DeadlockWatch(heap, WaitTable.offsetOf(heap, lock), kind, description);
    }

    /** @return the lock, for messages */
    public String description() {
        return description;
    }

    /** Turns detection on or off for later waits through this view of the lock. */
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    /** @return whether waits through this view of the lock take part in detection */
    public boolean isEnabled() {
        return enabled;
    }

    /**
     * One step of detection, called by a blocked waiter at each liveness check.
     *
     * @param wait        what this wait returned last time; null at the first call
     * @param waitedNanos how long the wait has lasted
     * @return what to pass next time (null while under the threshold)
     * @throws DeadlockException if this wait is the victim of a confirmed cycle
     */
    public Wait poll(Wait wait, long waitedNanos) {
        if (wait != null) {
            if (wait.slot >= 0) {
                wait.check();
                return wait;
            }
            if (System.nanoTime() - wait.refusedAt < RETRY_NANOS) {
                return wait;
            }
        }
        if (!enabled || waitedNanos < THRESHOLD_NANOS) {
            return null;
        }
        // the first time past the threshold, or again: a cycle formed while the table was full must still be found
        long since = System.currentTimeMillis() - TimeUnit.NANOSECONDS.toMillis(waitedNanos);
        try {
            WaitTable t = table;
            if (t == null) {
                t = WaitTable.openOrCreate(heap);
                table = t;
            }
            return new Wait(t, t.publish(lockOffset, kind, since));
        } catch (ShmException noTable) {
            return new Wait(null, -1); // a full heap or a damaged table: this wait is not published
        }
    }

    /** Ends a wait's publication, if {@code wait} published it; null-safe, for {@code finally} blocks. */
    public static void end(Wait wait) {
        if (wait != null && wait.slot >= 0) {
            wait.table.clear(wait.slot);
        }
    }

    /** A wait past the threshold: its entry in the table (if any) and the cycle it was last seen in. */
    public final class Wait {
        private final WaitTable table;
        private final int slot;
        private final long sequence;
        private final long refusedAt; // System.nanoTime() when the table refused it (slot -1)
        private long[] seen; // sequence numbers of the cycle seen last, sorted; null if none
        private long seenAt;

        private Wait(WaitTable table, int slot) {
            this.table = table;
            this.slot = slot;
            this.sequence = slot < 0 ? 0 : table.sequence(slot);
            this.refusedAt = System.nanoTime();
        }

        private void check() {
            if (slot < 0) {
                return;
            }
            Optional<List<WaitGraph.Node>> cycle = WaitGraph.read(table).cycleThrough(sequence);
            if (cycle.isEmpty()) {
                seen = null;
                return;
            }
            long[] members = cycle.get().stream().mapToLong(n -> n.entry().sequence()).sorted().toArray();
            long now = System.nanoTime();
            if (!Arrays.equals(members, seen)) {
                seen = members;
                seenAt = now;
                return;
            }
            if (now - seenAt < CONFIRM_NANOS || WaitGraph.victim(cycle.get()).entry().sequence() != sequence) {
                return;
            }
            if (!cycle.get().stream().allMatch(n -> table.isPresent(n.entry().token()))) {
                table.reclaimDead(); // a dead member's locks are taken over: no deadlock
                return;
            }
            throw new DeadlockException(description,
                    cycle.get().stream().map(n -> WaitGraph.edge(table, n)).toList());
        }
    }
}
