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
 * The unfinished tasks of a {@link SharedJoinableQueue}: the futex word of its count block (layout in that class's
 * Javadoc), counted up by its queue's offers between claim and commit, down by {@code taskDone}.
 */
final class TaskCount {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment block;
    private final String description;

    TaskCount(MemorySegment block, String description) {
        this.block = block;
        this.description = description;
    }

    /**
     * Counts a task whose item has been claimed and is about to be committed.
     *
     * @throws IllegalStateException if 2<sup>31</sup>-1 tasks are unfinished already
     */
    void count() {
        try {
            while (true) {
                int w = (int) INT.getVolatile(block, COORD_WORD_OFFSET);
                if ((w & COORD_VALUE_MASK) == COORD_VALUE_MASK) {
                    throw new IllegalStateException(description + ": " + COORD_VALUE_MASK + " tasks are unfinished"
                            + " (the most it counts)");
                }
                if (INT.compareAndSet(block, COORD_WORD_OFFSET, w, w + 1)) { // volatile: before the item's commit
                    return;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e); // the count's own refusal passes through: the heap is open
        }
    }

    /**
     * Counts a task down (a {@code taskDone}, or an offer that failed after counting); the one that reaches zero wakes
     * every joiner.
     *
     * @return false if no task was unfinished (nothing changed)
     */
    boolean countDown() {
        try {
            return (Waits.updateAndWakeAll(block, COORD_WORD_OFFSET, COORD_WAITERS, SharedCountDownLatch::countedDown)
                    & COORD_VALUE_MASK) != 0;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Waits until no task is unfinished, at most {@code timeoutNanos} (negative: for ever).
     *
     * @return true if none is; false if the timeout passed first
     */
    boolean awaitZero(long timeoutNanos) throws InterruptedException {
        try {
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            if (unfinished() == 0) {
                return true;
            }
            return WordWait.await(block, COORD_WORD_OFFSET, COORD_WAITERS, timeoutNanos,
                    w -> (w & COORD_VALUE_MASK) == 0);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the unfinished tasks: a snapshot */
    int unfinished() {
        try {
            return (int) INT.getVolatile(block, COORD_WORD_OFFSET) & COORD_VALUE_MASK;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
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
