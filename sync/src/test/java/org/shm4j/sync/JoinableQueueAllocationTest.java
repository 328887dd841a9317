package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.Allocations;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SharedJoinableQueue}'s counting allocates nothing once compiled: a poll (whose value, a small {@code Long},
 * is a cached one) counting its task in the ring's handler, a {@code taskDone}, and a join that returns at once.
 * Speed is for JMH; this only counts the bytes a thread allocates.
 */
class JoinableQueueAllocationTest {
    private static final int CALLS = 100_000;

    @Test
    void shouldAllocateNothingToTakeMarkDoneAndJoinAtOnce() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "jobs", 1 << 12, Codec.longs());
            assertThat(allocatedBytes(queue)).as("while the code is interpreted, then compiled").isNotNegative();
            assertThat(allocatedBytes(queue)).as("bytes for %d rounds, compiled", CALLS).isLessThan(CALLS / 8);
        }
    }

    /** @return the bytes this thread allocated in {@link #CALLS} rounds of put, poll, taskDone and join */
    private static long allocatedBytes(SharedJoinableQueue<Long> queue) throws InterruptedException {
        long sum = 0;
        long before = Allocations.currentThreadBytes();
        for (int i = 0; i < CALLS; i++) {
            queue.offer(5L); // cached Long: the offer's own allocation-freedom is SharedQueue's
            sum += queue.poll();
            queue.taskDone();
            queue.join(); // nothing queued, nothing unfinished: returns at once
            queue.join(1, TimeUnit.SECONDS);
        }
        long allocated = Allocations.currentThreadBytes() - before;
        assertThat(sum).isEqualTo(5L * CALLS);
        assertThat(queue.unfinishedTasks()).isZero();
        return allocated;
    }
}
