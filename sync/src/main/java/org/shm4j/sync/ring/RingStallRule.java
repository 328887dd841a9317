package org.shm4j.sync.ring;

import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.StallWatch;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_TIMEOUT_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * A {@link SharedRing}'s stall rule and take-over, applied by its consumers: a record at the consumer's position that
 * stays claimed but uncommitted for the stall timeout (its producer taken for dead) is skipped, and {@link #unblock()}
 * skips it at once; for MPMC, the take-over of the consumers' turn from a dead holder when nothing is committed.
 * Cold code, kept off the offer and poll paths: a consumer comes here only on an empty poll that may be looking at a
 * stalled record, every {@value #CHECK_EVERY}th empty look, an MPMC look that found the turn held and nothing
 * committed, or while it waits.
 */
final class RingStallRule {
    /** Empty polls (and wait steps) between two applications of the stall rule. */
    static final int CHECK_EVERY = 64;
    /** Drains that freed records between two looks at the clock for {@link #retireDeadProducers()}. */
    static final int RETIRE_CHECK_EVERY = 1024;

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment block;
    private final RobustMutex consumers; // MPMC only, else null
    private final long positionOffset; // the consumer's commit point: head for SPSC, else consumedTo
    private final RingRecovery recovery;
    private final String consumersName;
    private final RingProducerTable producers; // MPSC, MPMC only, else null
    // consumer-side state of the stall rule: only the consumer (holding the consumers' mutex for MPMC) touches it
    private final StallWatch stall;
    // MPMC: System.nanoTime() from which takeOverDeadTurn may check the turn's holder again. Plain and racy between
    // this process's consumer threads: a lost update only adds or delays one check
    private final LocalPosition nextTurnCheck = new LocalPosition(System.nanoTime());

    /**
     * @param consumers the MPMC consumers' mutex, or null for SPSC and MPSC
     * @param producers the MPSC and MPMC producer table, or null for SPSC
     * @param stall     the consumer-side state of the stall rule, which the ring's empty polls count in too
     */
    RingStallRule(MemorySegment block, RobustMutex consumers, RingProducerTable producers, long positionOffset,
                  RingRecovery recovery, String consumersName, StallWatch stall) {
        this.block = block;
        this.consumers = consumers;
        this.producers = producers;
        this.positionOffset = positionOffset;
        this.recovery = recovery;
        this.consumersName = consumersName;
        this.stall = stall;
    }

    /** @return the stall timeout in the ring's header */
    long timeoutNanos() {
        return (long) LONG.getOpaque(block, RING_STALL_TIMEOUT_OFFSET); // opaque: a setting; a recent value will do
    }

    /**
     * @return how long a waiting consumer may block before it applies the stall rule again: a quarter of the stall
     *         timeout, or while a claim is stuck at its position, the interval of the look at its producer's liveness
     */
    long nextCheckNanos() {
        long quarter = Math.max(1, timeoutNanos() / 4);
        return stall.stuck() ? Math.min(quarter, StallWatch.LIVENESS_CHECK_NANOS) : quarter;
    }

    /**
     * Applies the stall rule as the consumer: for MPMC only if no other consumer is draining now, or the one holding
     * the consumers' turn died (checked at most every {@link RobustMutex#LIVENESS_NANOS}); in the turn, an MPMC
     * consumer first finishes a dead consumer's freeing, if one left it undone.
     */
    void check() {
        if (consumers == null) {
            skipIfStalled((long) LONG.getOpaque(block, positionOffset)); // opaque: the consumer's own field
        } else if (consumers.tryAcquire() || takeOverDeadTurn()) {
            try {
                long position = (long) LONG.getAcquire(block, positionOffset); // acquire: a previous consumer's
                recovery.finishPending(position);
                skipIfStalled(position);
            } finally {
                try {
                    consumers.release(false, consumersName);
                } catch (StackOverflowError e) { // the turn left held: see RobustMutex.leaked
                    consumers.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        }
    }

    /**
     * MPMC: takes the consumers' turn over if the process holding it died, checking at most once every
     * {@link RobustMutex#LIVENESS_NANOS} per ring object, since a check costs a system call. For the paths that find
     * the turn held while nothing is committed at consumedTo (an empty look, the stall check): no consumer then
     * waits in the mutex, whose waiters would notice the death, so without this a holder killed there (after
     * handing every record over, or beside a claim its own process left open) would stop the ring for good.
     *
     * @return true if the current thread now holds the turn
     */
    boolean takeOverDeadTurn() {
        long now = System.nanoTime();
        if (now - nextTurnCheck.plain() < 0) {
            return false;
        }
        nextTurnCheck.setPlain(now + RobustMutex.LIVENESS_NANOS);
        return consumers.takeOverIfOwnerDead();
    }

    /**
     * The stall rule: skip the record at the consumer's {@code position} if it stayed uncommitted for the stall
     * timeout, timed from when any consumer first saw it stuck (the ring's shared clock, {@link RingStallClock}) or,
     * if that clock cannot be trusted, from this object's first look, and its producer is dead, over no more than the
     * claims made before it was first seen stuck; or sooner, a claim whose mark names a process seen dead (looked at
     * every {@link StallWatch#LIVENESS_CHECK_NANOS} of the stall), so that a consumer started after a producer's death
     * does not wait a whole timeout behind its claim.
     */
    void skipIfStalled(long position) {
        long tail = (long) LONG.getVolatile(block, RING_TAIL_OFFSET);
        if (tail == position) {
            stall.clear(); // empty, not stalled
            retireDeadProducers();
            return;
        }
        long now = System.nanoTime();
        long timeout = timeoutNanos();
        // this object's own clock, and the ring's shared one (for consumers that come and go); each bound is a tail
        // read after the record was seen stuck, so the narrower serves when both expired
        long own = stall.expired(position, tail, now, timeout);
        long shared = RingStallClock.expired(block, position, tail, now, timeout);
        long bound = own < 0 ? shared : shared < 0 ? own : Math.min(own, shared);
        if (bound < 0) {
            if (stall.livenessDue(now)) {
                skipIfMarkedByDeadProducer(position, tail);
            }
            return;
        }
        stall.clear(); // noted again at the next check, with its look at the producer an interval later
        // a producer that may live: wait another timeout, then look again; else skip what was probed, and nothing
        // else (a mark stored since is a live producer's)
        long record = recovery.record(position);
        int length = RingRecords.length(record);
        if (length < 0) { // marked: its mark names the producer
            if (!ProducerMarks.mayLive(RingRecords.type(record))) {
                recovery.unblockAt(position, bound, record);
            }
        } else if (length > 0 || producers == null) { // committed meanwhile (nothing to skip); SPSC marks first
            recovery.unblockAt(position, bound, record);
        } else { // never marked: the producer table says whether a dead producer may have made it
            long orphanBound = producers.orphanBoundAbove(position);
            if (orphanBound >= 0) {
                recovery.unblockAt(position, Math.min(bound, orphanBound), record);
            }
        }
    }

    /**
     * Skips the claim at {@code position} before its stall timeout if its mark names a process that is gone: that
     * producer can never commit it. A claim without a mark, or whose mark names nobody, waits for the timeout.
     */
    private void skipIfMarkedByDeadProducer(long position, long tail) {
        long record = recovery.record(position);
        if (RingRecords.length(record) < 0 && ProducerMarks.namesSomebody(RingRecords.type(record))
                && !ProducerMarks.mayLive(RingRecords.type(record))) {
            recovery.unblockAt(position, tail, record);
        }
    }

    /**
     * As the consumer, retires the producer table's slots of dead processes, at most once a second per ring object:
     * so a death raises the orphan bound over the claims in flight about a second after it at most, not over those
     * of a producer stopped long after it, as the stall rule's own retirement would.
     */
    void retireDeadProducers() {
        if (producers != null) {
            producers.retireDeadNow(System.nanoTime());
        }
    }

    /**
     * Does what {@link SharedRing#unblock()} documents: as the consumer, for MPMC in the consumers' turn if it is
     * free now, or its holder's process died.
     *
     * @return true if a record was turned into padding
     */
    boolean unblock() {
        if (consumers == null) {
            return unblockAsConsumer();
        }
        if (!consumers.tryAcquire() && !consumers.takeOverIfOwnerDead()) {
            return false;
        }
        try {
            return unblockAsConsumer();
        } finally {
            try {
                consumers.release(false, consumersName);
            } catch (StackOverflowError e) { // the turn left held: see RobustMutex.leaked
                consumers.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
    }

    private boolean unblockAsConsumer() {
        long position = (long) LONG.getAcquire(block, positionOffset); // acquire: a previous consumer's
        long tail = (long) LONG.getVolatile(block, RING_TAIL_OFFSET);
        return recovery.unblockAt(position, tail, recovery.record(position));
    }
}
