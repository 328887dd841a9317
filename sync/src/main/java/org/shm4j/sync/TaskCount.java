package org.shm4j.sync;

import org.shm4j.core.internal.Backoff;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.RingScan;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.function.IntSupplier;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.COORD_VALUE_MASK;
import static org.shm4j.sync.internal.SyncLayout.COORD_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.COORD_WORD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.TASKS_STATE_OFFSET;

/**
 * A {@link SharedJoinableQueue}'s count of tasks taken and not yet done: a state long whose low half is the futex word
 * (a count in bits 0..30 and a waiters bit, 31, set by a joiner about to block; cleared, with a wake of every joiner,
 * by the count-down that reaches zero) and whose high half is the tag of the record last counted, so that a consumer
 * handed a record again, after another died in its handler having counted it, does not count it twice. Every change
 * is one 8-byte compare-and-set of the state; joiners block on the futex word. Layout in that class's Javadoc.
 */
final class TaskCount {
    /** The longest a joiner sleeps while its walk finds an item or a claim not marked yet: changes that wake nobody. */
    private static final long RECHECK_NANOS = 10_000_000;
    private static final long WORD_BITS = 0xFFFF_FFFFL;
    /** How many record slots (8 bytes each) the tags of {@link #tag} take before they repeat: 1 .. 2^32-1. */
    private static final long TAG_PERIOD = 0xFFFF_FFFFL;

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment block;
    /** The ring whose handler counts: its consumer position is the handled record's. */
    private final SharedRing ring;
    private final String description;

    TaskCount(MemorySegment block, SharedRing ring, String description) {
        this.block = block;
        this.ring = ring;
        this.description = description;
    }

    /**
     * Counts the record being handled as a task taken, unless it is the record counted last: a consumer that died in
     * the ring's handler after counting it counted it already, and the task passes to this consumer. Called only in a
     * handler of a poll or drain of the ring object given, before the ring moves its consumer position past the
     * record ({@link RingScan#handledPosition}).
     *
     * @throws IllegalStateException if the count is 2<sup>31</sup>-1 already (nothing changed)
     */
    void countTaken() {
        try {
            int tag = tag(RingScan.handledPosition(ring));
            while (true) { // no wake: a count going up leaves the waiters bit to the count-down that reaches zero
                long s = (long) LONG.getVolatile(block, TASKS_STATE_OFFSET);
                long next = counted(s, tag);
                if (next == s || LONG.compareAndSet(block, TASKS_STATE_OFFSET, s, next)) {
                    // release fence: the count before the ring's opaque store of consumedTo past the item, which a
                    // joiner reads (acquire) before the count; a volatile CAS alone lets a later opaque store pass it
                    VarHandle.releaseFence();
                    return;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e); // the count's own refusal passes through: the heap is open
        }
    }

    /**
     * Counts one down, unless the count is zero (a {@code taskDone}, or a {@code drainTo} whose target refused a task
     * it took); the one that reaches zero wakes every joiner. The tag stays.
     *
     * @return false if the count was zero (nothing changed)
     */
    boolean decrement() {
        try {
            long s = Waits.updateLongAndWakeAll(block, TASKS_STATE_OFFSET, COORD_WAITERS,
                    v -> v & ~WORD_BITS | CountWord.decremented((int) v) & WORD_BITS);
            return ((int) s & COORD_VALUE_MASK) != 0;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Waits until {@code queued}, a walk of the joinable queue's ring ({@link RingScan#firstQueued}), finds
     * {@link RingScan#NONE} and then the count is zero, at most {@code timeoutNanos} (negative: for ever). Once
     * blocking is due it sets the waiters bit, then walks the ring again before it sleeps on the word, so that a
     * consumer taking and finishing the last task meanwhile changes the word (and wakes it, at zero) first. Some
     * changes wake nobody (an item taken through the ring as a plain queue, which counts nothing; a dead producer's
     * claim not marked yet, padded by a consumer's stall rule): while the walk finds an item or such a claim, each
     * sleep lasts at most {@link #RECHECK_NANOS}.
     *
     * @return true if no committed item was queued and no taken task unfinished; false if the timeout passed first
     */
    boolean awaitZeroAndNone(long timeoutNanos, IntSupplier queued) throws InterruptedException {
        try {
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            long start = System.nanoTime();
            int step = 0;
            while (true) {
                int seen = queued.getAsInt();
                // volatile, after the walk's acquire reads of consumedTo: an item the walk found handed over was
                // counted before consumedTo moved past it (countTaken's fence), so this sees it or its taskDone
                long s = (long) LONG.getVolatile(block, TASKS_STATE_OFFSET);
                int w = (int) s;
                if (seen == RingScan.NONE && (w & COORD_VALUE_MASK) == 0) {
                    return true; // at once: allocates nothing
                }
                if (Thread.interrupted()) {
                    throw new InterruptedException();
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (System.nanoTime() - start);
                if (left <= 0) {
                    return false;
                }
                if (step >= Backoff.PARK_FROM && (w & COORD_WAITERS) == 0) {
                    // the bit first, then the ring walked again (the loop) before any sleep on the word
                    LONG.compareAndSet(block, TASKS_STATE_OFFSET, s, s | Integer.toUnsignedLong(COORD_WAITERS));
                    continue;
                }
                long slice = seen == RingScan.NONE ? WordWait.SLICE_NANOS : RECHECK_NANOS;
                step = Waits.idle(step, block, COORD_WORD_OFFSET, w, Math.min(left, slice));
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the count: a snapshot */
    int value() {
        try {
            return (int) (long) LONG.getVolatile(block, TASKS_STATE_OFFSET) & COORD_VALUE_MASK;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return the tag of the record at ring position {@code position}: position / 8 modulo 2<sup>32</sup>-1, plus 1,
     *         so never 0 (none) and different for any two records less than 32 GiB - 8 bytes apart
     */
    static int tag(long position) {
        // not the low 32 bits of position / 8 + 1: the record at 32 GiB - 8 got 2^32, whose low half is 0 (none)
        return (int) ((position >>> 3) % TAG_PERIOD) + 1;
    }

    /**
     * @return the state {@code s} once the record tagged {@code tag} is counted: unchanged if that record is the one
     *         counted last, else the count one up and the tag {@code tag}
     * @throws IllegalStateException if the count is 2<sup>31</sup>-1 already
     */
    private long counted(long s, int tag) {
        if ((int) (s >>> 32) == tag) {
            return s; // counted by a consumer that died in its handler: the task passes to this one
        }
        if (((int) s & COORD_VALUE_MASK) == COORD_VALUE_MASK) {
            throw new IllegalStateException(description + ": " + COORD_VALUE_MASK + " taken tasks are unfinished (the"
                    + " most it counts): the item just taken is dropped, neither returned nor counted");
        }
        return (long) tag << 32 | (s + 1) & WORD_BITS; // the waiters bit stays
    }

    /** @return the count block's memory scope, for {@code toString} */
    MemorySegment.Scope scope() {
        return block.scope();
    }

    /** @return what a method throws for {@code failure}; see {@link CoordinationBlocks#closedOr} */
    private RuntimeException closedOr(RuntimeException failure) {
        return CoordinationBlocks.closedOr(failure, block, description);
    }
}
