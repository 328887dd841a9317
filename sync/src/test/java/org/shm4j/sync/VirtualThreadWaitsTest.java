package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.testing.Await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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

    /**
     * A park returns at once while the thread's interrupt is pending: {@code lock()}, which is not interruptible,
     * kept the interrupt set while it waited, so an interrupted virtual waiter spun without ever giving its carrier
     * back (as many as the carriers, and a holder that slept inside the lock never ran again: a hang), and a platform
     * waiter without futex spun a core. Now the waiter takes the interrupt while it waits and sets it again once it
     * has the lock, as {@code ReentrantLock.lock()} does.
     */
    @Test
    void shouldParkVirtualWaitersInterruptedBeforeTheirLockAndKeepTheirInterrupt() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedReentrantLock reentrant = SharedReentrantLock.create(heap, "reentrant");
            SharedFairLock fair = SharedFairLock.create(heap, "fair");
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            // a wait's publication for deadlock detection may block the waiter briefly: seen parked, for a wrong reason
            lock.setDeadlockDetection(false);
            reentrant.setDeadlockDetection(false);
            fair.setDeadlockDetection(false);
            rw.setDeadlockDetection(false);
            List<Lock[]> heldThenAwaited = List.of(new Lock[] {lock, lock}, new Lock[] {reentrant, reentrant},
                    new Lock[] {fair, fair}, new Lock[] {rw.writeLock(), rw.writeLock()},
                    new Lock[] {rw.writeLock(), rw.readLock()},
                    new Lock[] {rw.readLock(), rw.writeLock()}); // one writer drains the readers, the rest queue
            for (Lock[] locks : heldThenAwaited) {
                Lock awaited = locks[1];
                AtomicInteger keptInterrupt = new AtomicInteger();
                List<Thread> waiters = new ArrayList<>();
                locks[0].lock();
                try {
                    for (int t = 0; t < THREADS; t++) {
                        waiters.add(Thread.ofVirtual().start(() -> {
                            Thread.currentThread().interrupt();
                            awaited.lock();
                            try {
                                if (Thread.currentThread().isInterrupted()) {
                                    keptInterrupt.incrementAndGet();
                                }
                            } finally {
                                awaited.unlock();
                            }
                        }));
                    }
                    Set<Thread> seenParked = new HashSet<>(); // a spinning virtual thread stays RUNNABLE
                    Await.until(awaited + ": every interrupted waiter seen parked", BOUND, () -> {
                        waiters.stream().filter(t -> t.getState() == Thread.State.WAITING
                                || t.getState() == Thread.State.TIMED_WAITING).forEach(seenParked::add);
                        return seenParked.size() == THREADS;
                    });
                } finally {
                    locks[0].unlock();
                }
                for (Thread waiter : waiters) {
                    assertThat(waiter.join(BOUND)).as("%s: a waiter got the lock", awaited).isTrue();
                }
                assertThat(keptInterrupt.get()).as("%s: waiters that kept their interrupt", awaited)
                        .isEqualTo(THREADS);
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
