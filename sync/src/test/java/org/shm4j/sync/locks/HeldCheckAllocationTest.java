package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.Allocations;

import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The checks of who holds a lock that hot paths make (a condition's {@code signal} and {@code await}, a queued
 * acquire of the fair lock) allocate nothing once compiled: they once went through a lambda and built the lock's
 * closed-memory message on every call (160 bytes per condition hand-off, 19 per contended fair acquire, in JMH's
 * {@code -prof gc}). Speed is for JMH; this only counts the bytes a thread allocates.
 */
class HeldCheckAllocationTest {
    private static final int CALLS = 200_000;

    @Test
    void shouldAllocateNothingToSayWhetherTheCurrentThreadHoldsALock() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedFairLock fair = SharedFairLock.create(heap, "fair");
            SharedReadWriteLock readWrite = SharedReadWriteLock.create(heap, "rw");
            SharedCondition condition = lock.newCondition();
            lock.lock();
            fair.lock();
            readWrite.writeLock().lock();
            BooleanSupplier checks = () -> {
                condition.signal(); // checks the lock is held, wakes nobody
                return lock.isHeldByCurrentThread() && fair.isHeldByCurrentThread()
                        && readWrite.isWriteLockedByCurrentThread();
            };
            assertThat(allocatedBytes(checks)).as("while the code is interpreted, then compiled").isNotNegative();
            assertThat(allocatedBytes(checks)).as("bytes for %d calls, compiled", CALLS).isLessThan(CALLS / 8);
        }
    }

    /** @return the bytes this thread allocated calling {@code checks} {@link #CALLS} times */
    private static long allocatedBytes(BooleanSupplier checks) {
        long before = Allocations.currentThreadBytes();
        boolean held = true;
        for (int i = 0; i < CALLS; i++) {
            held &= checks.getAsBoolean();
        }
        long allocated = Allocations.currentThreadBytes() - before;
        assertThat(held).isTrue();
        return allocated;
    }
}
