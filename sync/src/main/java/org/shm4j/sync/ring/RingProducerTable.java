package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_ORPHAN_BOUND_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PRODUCER_SLOTS;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.ringProducerSlot;

/**
 * The producer processes of an MPSC or MPMC {@link SharedRing}, named in its header, so that the stall rule can tell
 * a claim never marked (its producer stopped or died between its tail CAS and its mark) of a dead producer from one
 * of a live but stopped producer, whose late mark and payload would land on space reused since.
 *
 * <p>A process names itself in a slot (its {@link ProducerMarks} id) before its first claim through a ring object, so
 * a claim's tail CAS comes after its process's slot; a process that only consumes takes no slot. A slot stays until
 * its process is seen dead; then it is retired: first the orphan bound is raised to a tail read after the death was
 * seen (every claim of that process starts below it), then the slot is freed. So a claim never marked may be a dead
 * producer's only if it starts below the orphan bound, or a slot still names a dead process; while every named
 * process lives and the claim starts at or above the bound, it is a live producer's and is kept. A process that
 * finds no slot free (more than {@value #SLOTS} live producer processes) or has no id (a pid above 2<sup>22</sup>)
 * raises the bound to {@link Long#MAX_VALUE}, for the rest of the ring's life: from then on, a claim never marked is
 * skipped by the stall timeout alone, as before there was a table.
 *
 * <p>Slots are retired by consumers at most once a second per ring object (from the periodic check of an empty ring,
 * or every {@value RingStallRule#RETIRE_CHECK_EVERY}th drain that freed records), by the stall rule when it asks
 * about a claim, and by a process that finds the table full. A death thus raises the bound over the claims in flight
 * when it is seen, about a second after it while a consumer runs: a live producer stopped in its claim window then
 * is taken for that dead one's, which no table can tell apart. A liveness probe costs a system call; none is made on
 * the offer and poll paths. A process that finds a slot already holding its id (a dead process's of the same pid and
 * stamp bits, about one chance in 1,024 after a pid is reused) keeps it without a CAS.
 */
final class RingProducerTable {
    /** Slots of the table. */
    static final int SLOTS = RING_PRODUCER_SLOTS;
    /** Least time between two retirements of dead slots from a consumer's periodic check, per ring object. */
    static final long RETIRE_EVERY_NANOS = 1_000_000_000L;

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment block;
    // System.nanoTime() from which retireDeadNow may probe again, a second after the object is made (a ring object
    // opened for one poll probes no slot). Plain and racy between this process's consumer threads: a lost update
    // only adds or delays one pass
    private final LocalPosition nextRetire = new LocalPosition(System.nanoTime() + RETIRE_EVERY_NANOS);

    RingProducerTable(MemorySegment block) {
        this.block = block;
    }

    /**
     * Names this process in the table, unless a slot already does: in a free slot, else in the slot of a process
     * seen dead (retired first), else nowhere, raising the orphan bound to {@link Long#MAX_VALUE}.
     */
    void register() {
        int self = ProducerMarks.THIS_PROCESS;
        if (self == 0) {
            raiseOrphanBound(Long.MAX_VALUE); // a pid no id can name: its claims must stay skippable
            return;
        }
        for (int slot = 0; slot < SLOTS; slot++) {
            if (id(slot) == self) {
                return;
            }
        }
        for (int pass = 0; pass < 2; pass++) {
            for (int slot = 0; slot < SLOTS; slot++) {
                // volatile CAS: before any claim's tail CAS
                if (INT.compareAndSet(block, ringProducerSlot(slot), 0, self)) {
                    return;
                }
            }
            if (!retireDead()) {
                break;
            }
        }
        raiseOrphanBound(Long.MAX_VALUE);
    }

    /**
     * Renames this process's slot in the producer table of {@code block} as a gone producer's ({@link
     * ProducerMarks#ABANDONED}), for a process that opens again a heap it had closed (see {@code ReopenSweep}): a
     * claim its close cut short between its tail CAS and its mark is then one of a producer seen gone, so the next
     * retirement (by a consumer of any process, this one too) raises the orphan bound over it and frees the slot, and
     * the stall rule skips that claim once it stalled; this process names itself in a slot again before its next
     * claim. A volatile CAS from this process's own id: a slot holding another is left alone, and no thread of this
     * process claims meanwhile (the sweep runs before the reopened heap is handed out).
     */
    static void abandon(MemorySegment block) {
        if (ProducerMarks.THIS_PROCESS == 0) {
            return; // named in no slot (see register)
        }
        for (int slot = 0; slot < SLOTS; slot++) {
            INT.compareAndSet(block, ringProducerSlot(slot), ProducerMarks.THIS_PROCESS, ProducerMarks.ABANDONED);
        }
    }

    /**
     * The stall rule's question about a claim never marked at {@code position}: retires the slots of dead processes,
     * then says whether a dead producer may have made it.
     *
     * @return the orphan bound if {@code position} is below it (the claim is to be skipped, over no claim at or
     *         after the bound), else -1 (every producer that may have made it lives)
     */
    long orphanBoundAbove(long position) {
        retireDead();
        long bound = (long) LONG.getVolatile(block, RING_ORPHAN_BOUND_OFFSET);
        return position < bound ? bound : -1;
    }

    /** A consumer's periodic check at {@code now}: retires dead slots, at most once a second per ring object. */
    void retireDeadNow(long now) {
        if (now - nextRetire.plain() < 0) {
            return;
        }
        nextRetire.setPlain(now + RETIRE_EVERY_NANOS);
        retireDead();
    }

    /** @return true if a slot was retired */
    private boolean retireDead() {
        boolean retired = false;
        for (int slot = 0; slot < SLOTS; slot++) {
            int id = id(slot);
            if (id != 0 && id != ProducerMarks.THIS_PROCESS && !ProducerMarks.mayLive(id)) {
                // volatile read after the probe: the dead process made every claim of its own before it
                raiseOrphanBound((long) LONG.getVolatile(block, RING_TAIL_OFFSET));
                retired |= INT.compareAndSet(block, ringProducerSlot(slot), id, 0); // volatile CAS: after the bound
            }
        }
        return retired;
    }

    private void raiseOrphanBound(long to) {
        long bound;
        do {
            bound = (long) LONG.getVolatile(block, RING_ORPHAN_BOUND_OFFSET);
            if (bound >= to) {
                return;
            }
        } while (!LONG.compareAndSet(block, RING_ORPHAN_BOUND_OFFSET, bound, to));
    }

    /** @return the id in {@code slot}, 0 if free */
    int id(int slot) {
        return (int) INT.getVolatile(block, ringProducerSlot(slot));
    }
}
