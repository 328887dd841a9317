package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.SharedBarrier;
import org.shm4j.sync.SharedCountDownLatch;
import org.shm4j.sync.SharedEvent;
import org.shm4j.sync.SharedPipe;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.SharedSemaphore;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Misuse an outside program may commit: closing a heap while other threads of the process are blocked in it, in every
 * kind of wait shm4j has. Each blocked call must end within {@link KillRounds#BOUND} with an
 * {@link IllegalStateException} naming the structure and saying its heap is closed: never a crash, a hang or another
 * exception. The same calls made after the close end the same way.
 */
class CloseWhileBlockedTest {
    /** A call that blocks until the heap is closed. */
    interface Blocking {
        void call() throws Exception;
    }

    @Test
    void shouldEndEveryBlockedCallWithAClearExceptionWhenTheHeapIsClosed() throws Exception {
        SharedHeap heap = SharedHeap.anonymous(1 << 22);
        Map<String, Blocking> calls = blockingCalls(heap);
        Map<String, Throwable> outcomes = new LinkedHashMap<>();
        CountDownLatch started = new CountDownLatch(calls.size());
        Map<String, Thread> threads = new LinkedHashMap<>();
        calls.forEach((what, call) -> threads.put(what, Thread.ofPlatform().name(what).start(() -> {
            started.countDown();
            Throwable outcome = null;
            try {
                call.call();
            } catch (Throwable e) {
                outcome = e;
            }
            synchronized (outcomes) {
                outcomes.put(what, outcome);
            }
        })));
        assertThat(started.await(KillRounds.BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        TimeUnit.MILLISECONDS.sleep(300); // not synchronisation: lets the threads reach their waits; any outcome holds
        heap.close();
        for (Map.Entry<String, Thread> thread : threads.entrySet()) {
            thread.getValue().join(KillRounds.BOUND);
            assertThat(thread.getValue().isAlive()).as(thread.getKey() + " still blocked").isFalse();
        }
        assertThat(outcomes).hasSize(calls.size());
        outcomes.forEach(CloseWhileBlockedTest::assertNamesItsClosedStructure);
    }

    @Test
    void shouldSayWhichCoordinationObjectWasUsedAfterItsHeapWasClosed() throws Exception {
        SharedHeap heap = SharedHeap.anonymous(1 << 22);
        Map<String, Blocking> calls = blockingCalls(heap);
        heap.close();
        calls.forEach((what, call) -> {
            Throwable outcome = null;
            try {
                call.call();
            } catch (Throwable e) {
                outcome = e;
            }
            // a condition's await takes its lock first, and the lock names itself
            assertNamesItsClosedStructure(what.startsWith("condition") ? "lock 'cond'" : what, outcome);
        });
    }

    /** The structure {@code what} ended a call with {@code outcome}: a closed-heap message naming it. */
    private static void assertNamesItsClosedStructure(String what, Throwable outcome) {
        assertThat(outcome).as(what).isInstanceOf(IllegalStateException.class).hasMessageStartingWith(what + " ")
                .hasMessageEndingWith(" is closed").cause().hasMessage("Already closed");
    }

    private static Map<String, Blocking> blockingCalls(SharedHeap heap) throws Exception {
        Map<String, Blocking> calls = new LinkedHashMap<>();
        SharedQueue<Long> empty = SharedQueue.create(heap, "empty", 1024, Codec.longs());
        calls.put("SharedQueue 'empty'", empty::take);
        SharedQueue<Long> full = SharedQueue.create(heap, "full", 1024, Codec.longs());
        while (full.offer(1L)) {
            Thread.onSpinWait(); // fill it
        }
        calls.put("SharedQueue 'full'", () -> full.put(2L));
        SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
        calls.put("ring 'ring'", () -> ring.poll((type, buffer, offset, length) -> { }, Duration.ofHours(1),
                WaitStrategy.BLOCKING));
        SharedPipe pipe = SharedPipe.create(heap, "pipe", 1024);
        SharedPipe.End end = pipe.first();
        calls.put("SharedPipe 'pipe'", () -> end.recv(Duration.ofHours(1)));
        SharedLock lock = SharedLock.create(heap, "lock");
        SharedFairLock fair = SharedFairLock.create(heap, "fair");
        SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
        SharedLock condLock = SharedLock.create(heap, "cond");
        SharedCondition condition = condLock.newCondition();
        lock.lock();
        fair.lock();
        rw.readLock().lock();
        calls.put("lock 'lock'", lock::lock);
        calls.put("fair lock 'fair'", fair::lock);
        calls.put("read-write lock 'rw' (write)", () -> rw.writeLock().lock());
        calls.put("condition 'cond.condition'", () -> {
            condLock.lock();
            condition.await();
        });
        SharedSemaphore semaphore = SharedSemaphore.create(heap, "sem", 0);
        calls.put("semaphore 'sem'", semaphore::acquire);
        SharedSemaphore undo = SharedSemaphore.create(heap, "undo", 1, SharedSemaphore.Kind.UNDO);
        undo.acquire();
        calls.put("semaphore 'undo'", undo::acquire);
        SharedCountDownLatch latch = SharedCountDownLatch.create(heap, "latch", 1);
        calls.put("latch 'latch'", latch::await);
        SharedEvent event = SharedEvent.create(heap, "event");
        calls.put("event 'event'", event::await);
        SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
        calls.put("barrier 'barrier'", barrier::await);
        return calls;
    }
}
