package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.Children.BOUND;

/**
 * Mutual exclusion of a lock whose holder process closes and reopens its heap every cycle, against a taker in this
 * process that keeps trying the lock through many lock objects (each one's give-up check judges the holder: absent
 * while it has the heap closed). Every hold checks and marks one shared word on entry and clears it on exit, and
 * counts itself in a plain counter: an overlap shows as a failed mark, a lost count, or a take-over (the holder never
 * leaves a hold behind, so none is due). The exact race is pinned down in {@link DetachedHolderTakeOverTest}; this
 * one checks that the reopen's wait for take-overs in flight neither fails an open nor lets two hold.
 */
@Timeout(300)
class DetachedHolderReopenStressTest {
    private static final int CYCLES = 400;
    private static final int TAKER_LOCKS = 16;
    private static final long CHILD = 1;
    private static final long TAKER = 2;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldKeepOneHolderWhileTheOtherClosesAndReopensItsHeapEveryCycle() throws Exception {
        String heapName = names.unique("reopen-stress");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedLock.create(heap, "lock");
            SharedLong inside = SharedLong.create(heap, "inside");
            SharedLong entries = SharedLong.create(heap, "entries");
            List<SharedLock> locks = new ArrayList<>();
            for (int i = 0; i < TAKER_LOCKS; i++) {
                locks.add(SharedLock.open(heap, "lock"));
            }
            try (ChildJvm holder = ChildJvm.start(Cycler.class, heapName, Integer.toString(CYCLES))) {
                CompletableFuture<String> done = CompletableFuture.supplyAsync(() -> awaitDone(holder));
                long taken = 0;
                long overlaps = 0;
                for (int i = 0; !done.isDone(); i = (i + 1) % TAKER_LOCKS) {
                    SharedLock lock = locks.get(i);
                    if (lock.tryLock()) {
                        assertThat(lock.isConsistent()).as("taken over: the holder left no hold").isTrue();
                        overlaps += inside.compareAndSet(0, TAKER) ? 0 : 1;
                        entries.setPlain(entries.getPlain() + 1); // plain: guarded by the lock
                        inside.compareAndSet(TAKER, 0);
                        lock.unlock();
                        taken++;
                    }
                }
                assertThat(done.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo("DONE " + CYCLES + " 0");
                holder.awaitSuccess(BOUND);
                assertThat(overlaps).as("the taker's entries that found the holder inside").isZero();
                assertThat(entries.get()).as("every hold counted once").isEqualTo(CYCLES + taken);
                assertThat(locks.getFirst().recoveries()).as("take-overs").isZero();
            }
        }
    }

    private static String awaitDone(ChildJvm holder) {
        try {
            return holder.awaitLine("DONE", BOUND);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * {@code main(heap, cycles)}: each cycle opens the heap, locks, marks and counts its hold, unlocks and closes the
     * heap; then prints {@code DONE}, the cycles and how many found the taker inside.
     */
    public static final class Cycler {
        public static void main(String[] args) {
            int cycles = Integer.parseInt(args[1]);
            long overlaps = 0;
            for (int c = 0; c < cycles; c++) {
                try (SharedHeap heap = SharedHeap.open(args[0])) {
                    SharedLock lock = SharedLock.open(heap, "lock");
                    SharedLong inside = SharedLong.open(heap, "inside");
                    SharedLong entries = SharedLong.open(heap, "entries");
                    lock.lock();
                    try {
                        overlaps += inside.compareAndSet(0, CHILD) ? 0 : 1;
                        entries.setPlain(entries.getPlain() + 1); // plain: guarded by the lock
                        inside.compareAndSet(CHILD, 0);
                    } finally {
                        lock.unlock();
                    }
                }
            }
            Children.say("DONE " + cycles + " " + overlaps);
        }
    }
}
