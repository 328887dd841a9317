package org.shm4j.sync;

import org.shm4j.core.internal.Backoff;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.RingScan;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.function.IntSupplier;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.COORD_VALUE_MASK;
import static org.shm4j.sync.internal.SyncLayout.COORD_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.COORD_WORD_OFFSET;

/**
 * A coordination block's futex word holding a count (bits 0..30) and a waiters bit (31, set by a thread about to block
 * on the word, a joiner also at zero; cleared, with a wake of every waiter, by the count-down that reaches zero): the
 * count of a {@link SharedCountDownLatch}, and the tasks of a {@link SharedJoinableQueue} taken and not yet done
 * (counted up by its queue's polls in the ring's handler, down by {@code taskDone}). Layouts in those classes' Javadoc.
 */
final class CountWord {
    /** The longest a joiner sleeps while its walk finds an item or a claim not marked yet: changes that wake nobody. */
    static final long RECHECK_NANOS = 10_000_000;

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment block;
    private final String description;

    CountWord(MemorySegment block, String description) {
        this.block = block;
        this.description = description;
    }

    /**
     * Counts one up: a task taken, counted by a joinable queue's poll in the ring's handler, before the ring stores
     * consumedTo past the item's record.
     *
     * @throws IllegalStateException if the count is 2<sup>31</sup>-1 already
     */
    void increment() {
        try {
            while (true) {
                int w = (int) INT.getVolatile(block, COORD_WORD_OFFSET);
                if ((w & COORD_VALUE_MASK) == COORD_VALUE_MASK) {
                    throw new IllegalStateException(description + ": " + COORD_VALUE_MASK + " tasks are unfinished"
                            + " (the most it counts)");
                }
                if (INT.compareAndSet(block, COORD_WORD_OFFSET, w, w + 1)) {
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
     * Counts one down, unless the count is zero (a latch's {@code countDown}, a {@code taskDone}, or a
     * {@code drainTo} whose target refused a task it took); the one that reaches zero wakes every waiter.
     *
     * @return false if the count was zero (nothing changed)
     */
    boolean decrement() {
        try {
            return (Waits.updateAndWakeAll(block, COORD_WORD_OFFSET, COORD_WAITERS, CountWord::decremented)
                    & COORD_VALUE_MASK) != 0;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Waits until the count is zero, at most {@code timeoutNanos} (negative: for ever).
     *
     * @return true if it is; false if the timeout passed first
     */
    boolean awaitZero(long timeoutNanos) throws InterruptedException {
        try {
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            if (value() == 0) {
                return true; // zero: allocates nothing
            }
            return WordWait.await(block, COORD_WORD_OFFSET, COORD_WAITERS, timeoutNanos,
                    w -> (w & COORD_VALUE_MASK) == 0);
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
                // counted before consumedTo moved past it (increment's fence), so this sees it or its taskDone
                int w = (int) INT.getVolatile(block, COORD_WORD_OFFSET);
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
                    INT.compareAndSet(block, COORD_WORD_OFFSET, w, w | COORD_WAITERS);
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
            return (int) INT.getVolatile(block, COORD_WORD_OFFSET) & COORD_VALUE_MASK;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return the word {@code w} counted down by one, if not zero already; at zero the waiters bit goes too (its
     *         waiters are woken: a joiner that still finds an item queued sets it again)
     */
    private static int decremented(int w) {
        return switch (w & COORD_VALUE_MASK) {
            case 0 -> w;
            case 1 -> 0;
            default -> w - 1;
        };
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
