package org.shm4j.sync;

import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.COORD_VALUE_MASK;
import static org.shm4j.sync.internal.SyncLayout.COORD_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.COORD_WORD_OFFSET;

/**
 * A coordination block's futex word holding a count (bits 0..30) and a waiters bit (31, set by a thread about to block
 * until the count is zero; cleared, with a wake of every waiter, by the count-down that reaches zero): the count of a
 * {@link SharedCountDownLatch}, whose Javadoc has the layout. A {@link SharedJoinableQueue}'s count is a
 * {@link TaskCount}, which counts down as {@link #decremented} says.
 */
final class CountWord {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment block;
    private final String description;

    CountWord(MemorySegment block, String description) {
        this.block = block;
        this.description = description;
    }

    /**
     * Counts one down, unless the count is zero (a latch's {@code countDown}); the one that reaches zero wakes every
     * waiter.
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
    static int decremented(int w) {
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
