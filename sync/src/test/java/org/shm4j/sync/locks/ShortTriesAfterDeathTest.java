package org.shm4j.sync.locks;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.SharedSemaphore;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A SIGKILLed process holding every kind of lock (and an undo semaphore's permit), or queued on a fair lock, is
 * found dead by callers that only ever try for 5 ms, or only {@code tryLock()} without waiting: no single call waits
 * as long as a wait's own liveness period (about 50 ms), so each call that gives up checks (at most once a period
 * per lock object).
 * <ul>
 * <li>ACCEPTABLE: the lock taken over (marked inconsistent where the kind says so) after some tries.</li>
 * <li>FORBIDDEN: tries failing for {@link #BOUND} with nobody alive holding or waiting (the dead holder kept it).</li>
 * </ul>
 */
@Timeout(180)
class ShortTriesAfterDeathTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest(name = "timed tries: {0}")
    @ValueSource(booleans = {true, false})
    void shouldTakeEachLockOverFromAKilledHolderThroughTriesShorterThanALivenessPeriod(boolean timed)
            throws Exception {
        String heapName = names.unique("short-tries");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedFairLock fair = SharedFairLock.create(heap, "fair");
            SharedFairLock queued = SharedFairLock.create(heap, "queued");
            SharedReadWriteLock readHeld = SharedReadWriteLock.create(heap, "read-held");
            SharedReadWriteLock writeHeld = SharedReadWriteLock.create(heap, "write-held");
            SharedSemaphore undo = SharedSemaphore.create(heap, "undo", 1, SharedSemaphore.Kind.UNDO);
            queued.lock();
            try (ChildJvm child = ChildJvm.start(Holder.class, heapName)) {
                child.awaitLine("HOLDING", BOUND);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (queued.queueLength() < 2) { // the child's thread queued behind this one
                    assertThat(System.nanoTime() - deadline).as("the child queued").isNegative();
                    Thread.yield();
                }
                child.kill();
            }
            queued.unlock(); // its turn goes to the dead child's ticket
            Map<String, Callable<Boolean>> tries = new LinkedHashMap<>();
            tries.put("lock", () -> timed ? lock.tryLock(5, TimeUnit.MILLISECONDS) : lock.tryLock());
            tries.put("fair lock", () -> timed ? fair.tryLock(5, TimeUnit.MILLISECONDS) : fair.tryLock());
            tries.put("fair lock with a dead ticket queued",
                    () -> timed ? queued.tryLock(5, TimeUnit.MILLISECONDS) : queued.tryLock());
            tries.put("write lock past a dead reader", () -> timed
                    ? readHeld.writeLock().tryLock(5, TimeUnit.MILLISECONDS) : readHeld.writeLock().tryLock());
            tries.put("read lock past a dead writer", () -> timed
                    ? writeHeld.readLock().tryLock(5, TimeUnit.MILLISECONDS) : writeHeld.readLock().tryLock());
            tries.put("undo permit of a dead holder",
                    () -> timed ? undo.tryAcquire(5, TimeUnit.MILLISECONDS) : undo.tryAcquire());
            for (Map.Entry<String, Callable<Boolean>> kind : tries.entrySet()) {
                long deadline = System.nanoTime() + BOUND.toNanos();
                int attempts = 1;
                while (!kind.getValue().call()) {
                    assertThat(System.nanoTime() - deadline).as(kind.getKey() + " after " + attempts + " tries")
                            .isNegative();
                    attempts++;
                    Thread.onSpinWait();
                }
            }
            assertThat(lock.isConsistent()).isFalse();
            assertThat(fair.isConsistent()).isFalse();
            assertThat(writeHeld.isConsistent()).isFalse();
            assertThat(undo.availablePermits()).isZero(); // this process holds it now
        }
    }

    /**
     * {@code main(heap)}: takes the heap's lock, fair lock, read lock of "read-held", write lock of "write-held" and
     * the undo semaphore's permit, queues a thread on the fair lock "queued" (which the parent holds), prints HOLDING
     * and waits until killed.
     */
    public static final class Holder {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            SharedLock.open(heap, "lock").lock();
            SharedFairLock.open(heap, "fair").lock();
            SharedReadWriteLock.open(heap, "read-held").readLock().lock();
            SharedReadWriteLock.open(heap, "write-held").writeLock().lock();
            SharedSemaphore.open(heap, "undo").acquire();
            SharedFairLock queued = SharedFairLock.open(heap, "queued");
            Thread.ofPlatform().daemon().start(queued::lock);
            System.out.println("HOLDING");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE); // until killed
        }
    }
}
