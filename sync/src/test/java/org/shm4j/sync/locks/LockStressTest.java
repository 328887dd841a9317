package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLongArray;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized stress of the exclusive locks ({@link SharedLock}, {@link SharedFairLock}, the write side of
 * {@link SharedReadWriteLock}) and the atomic views with more threads than cores, so that waiters spin,
 * block in futex and are woken. Outcomes:
 * <ul>
 * <li>ACCEPTABLE: one thread inside the critical section at a time; the two guarded words always equal.</li>
 * <li>FORBIDDEN: two threads inside at once; a torn pair; a lost increment; a waiter that never wakes (bounded by
 *     the join timeout).</li>
 * </ul>
 */
class LockStressTest {
    @ParameterizedTest
    @ValueSource(strings = {"SharedLock", "SharedFairLock", "SharedReadWriteLock"})
    void shouldKeepMutualExclusionUnderRandomLockCalls(String kind) throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            Lock lock = switch (kind) {
                case "SharedLock" -> SharedLock.create(heap, "lock");
                case "SharedFairLock" -> SharedFairLock.create(heap, "lock");
                default -> SharedReadWriteLock.create(heap, "lock").writeLock();
            };
            SharedLongArray pair = SharedLongArray.create(heap, "pair", 2);
            AtomicInteger inside = new AtomicInteger();
            AtomicInteger violations = new AtomicInteger();
            AtomicLong entries = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int seed = t;
                threads.add(Thread.ofPlatform().start(() -> {
                    Random random = new Random(seed);
                    for (int i = 0; i < 4_000; i++) {
                        if (!acquire(lock, random)) {
                            continue;
                        }
                        try {
                            if (inside.incrementAndGet() != 1) {
                                violations.incrementAndGet();
                            }
                            long a = pair.getPlain(0);
                            if (pair.getPlain(1) != a) {
                                violations.incrementAndGet();
                            }
                            pair.setPlain(0, a + 1);
                            if (random.nextInt(8) == 0) {
                                Thread.yield(); // hold the lock a while, so that others block
                            }
                            pair.setPlain(1, a + 1);
                            entries.incrementAndGet();
                            inside.decrementAndGet();
                        } finally {
                            lock.unlock();
                        }
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join(TimeUnit.SECONDS.toMillis(120));
                assertThat(thread.isAlive()).as("a waiter never woke").isFalse();
            }
            assertThat(violations).hasValue(0);
            assertThat(pair.get(0)).isEqualTo(entries.get()).isEqualTo(pair.get(1));
            assertThat(lock.tryLock()).as("free at the end").isTrue();
            lock.unlock();
        }
    }

    /**
     * The wake word counts exactly the waiters counted asleep: with four threads taking turns, holding up to 300 µs
     * (longer than a first sleep), some giving up on a timeout, the count never passes the three that can wait, and is
     * 0 at the end. (With the waker taking one count for a wake-one whatever the kernel woke, sleepers that timed out
     * after a wake kept theirs, and six processes drove it to its limit in a minute.)
     */
    @Test
    void shouldCountExactlyTheWaitersAsleep() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            MemorySegment raw = heap.find("lock").orElseThrow().segment();
            AtomicInteger running = new AtomicInteger(4);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                threads.add(Thread.ofPlatform().start(() -> {
                    Random random = new Random(seed);
                    try {
                        for (int i = 0; i < 1_500; i++) {
                            if (random.nextBoolean()) {
                                lock.lock();
                            } else if (!lock.tryLock(random.nextInt(400), TimeUnit.MICROSECONDS)) {
                                continue;
                            }
                            long until = System.nanoTime() + random.nextInt(300_000);
                            while (System.nanoTime() < until) {
                                Thread.onSpinWait(); // hold: the others spin, nap and sleep
                            }
                            lock.unlock();
                        }
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    } finally {
                        running.decrementAndGet();
                    }
                }));
            }
            int most = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (running.get() > 0 && System.nanoTime() < deadline) {
                most = Math.max(most, WakeWords.sleepers(raw));
                Thread.onSpinWait();
            }
            for (Thread thread : threads) {
                thread.join(TimeUnit.SECONDS.toMillis(120));
                assertThat(thread.isAlive()).as("a waiter never woke").isFalse();
            }
            assertThat(most).as("the most sleepers counted at once").isBetween(0, 3);
            assertThat(WakeWords.sleepers(raw)).as("none counted at the end").isZero();
        }
    }

    private static boolean acquire(Lock lock, Random random) {
        try {
            return switch (random.nextInt(4)) {
                case 0 -> {
                    lock.lock();
                    yield true;
                }
                case 1 -> lock.tryLock();
                case 2 -> lock.tryLock(random.nextInt(200), TimeUnit.MICROSECONDS);
                default -> {
                    lock.lockInterruptibly();
                    yield true;
                }
            };
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
