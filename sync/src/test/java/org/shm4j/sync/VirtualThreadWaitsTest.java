package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Virtual threads waiting in shm4j's blocking waits, more of them than there are carrier threads, while what they
 * wait for needs a carrier: a lock holder that sleeps inside the lock, a producer that puts after a sleep. A wait
 * that blocked in the futex would pin its carrier and never let that thread run again (the tests run with native
 * access, so futex is in use for platform threads).
 */
class VirtualThreadWaitsTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int THREADS = Runtime.getRuntime().availableProcessors() + 2;
    private static final int ROUNDS = 3;

    @Test
    void shouldLetVirtualThreadsWaitForLockHoldersThatSleepInsideTheLock() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            List<Lock> locks = List.of(SharedLock.create(heap, "lock"), SharedFairLock.create(heap, "fair"),
                    SharedReadWriteLock.create(heap, "rw").writeLock());
            for (Lock lock : locks) {
                long[] inside = new long[1];
                assertTimeoutPreemptively(BOUND, () -> {
                    runVirtual(() -> {
                        for (int r = 0; r < ROUNDS; r++) {
                            lock.lock();
                            try {
                                Thread.sleep(10); // unmounts the holder: it needs a carrier back to unlock
                                inside[0]++; // plain: the lock orders it
                            } finally {
                                lock.unlock();
                            }
                        }
                        return null;
                    });
                }, () -> lock + ": virtual threads stuck");
                assertThat(inside[0]).as("%s", lock).isEqualTo((long) THREADS * ROUNDS);
            }
        }
    }

    @Test
    void shouldLetVirtualConsumersWaitForAVirtualProducer() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedQueue<Long> queue = SharedQueue.create(heap, "queue", 1024, Codec.longs());
            assertTimeoutPreemptively(BOUND, () -> {
                try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                    List<Future<Long>> consumers = new ArrayList<>();
                    for (int c = 0; c < THREADS; c++) {
                        consumers.add(threads.submit(queue::take));
                    }
                    threads.submit(() -> {
                        Thread.sleep(50); // the consumers are waiting by now, most likely
                        for (long v = 1; v <= THREADS; v++) {
                            queue.put(v);
                        }
                        return null;
                    });
                    long sum = 0;
                    for (Future<Long> consumer : consumers) {
                        sum += consumer.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                    }
                    assertThat(sum).isEqualTo((long) THREADS * (THREADS + 1) / 2);
                }
            });
        }
    }

    /** Runs {@code task} in {@link #THREADS} virtual threads at once and waits for all of them. */
    private static void runVirtual(java.util.concurrent.Callable<Void> task) throws Exception {
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Void>> running = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                running.add(threads.submit(task));
            }
            for (Future<Void> thread : running) {
                thread.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            }
        }
    }
}
