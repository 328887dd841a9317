package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SharedLockTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldLockAndUnlock() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "l");
            assertThat(lock.isLocked()).isFalse();
            assertThat(lock.owner()).isEmpty();
            lock.lock();
            assertThat(lock.isHeldByCurrentThread()).isTrue();
            assertThat(lock.owner()).get().extracting(LockOwner::pid, LockOwner::threadId)
                    .containsExactly(ProcessHandle.current().pid(), Thread.currentThread().threadId());
            assertThat(lock.tryLock()).as("not reentrant").isFalse();
            assertThatThrownBy(lock::lock).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessageContaining("not reentrant");
            lock.unlock();
            assertThat(lock.tryLock(10, TimeUnit.MILLISECONDS)).isTrue();
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
            assertThat(lock.isConsistent()).isTrue();
            assertThat(lock.recoveries()).isZero();
            assertThat(lock.withLock(() -> 5)).isEqualTo(5);
        }
    }

    @Test
    void shouldRefuseUnlockByNonOwner() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "l");
            assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessageContaining("not held by this thread; held by nobody");
            lock.lock();
            Thread other = Thread.ofPlatform().start(() ->
                    assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class));
            other.join(10_000);
            assertThat(lock.isHeldByCurrentThread()).isTrue();
            lock.unlock();
            assertThatThrownBy(lock::markConsistent).isInstanceOf(IllegalMonitorStateException.class);
            assertThatThrownBy(lock::newCondition).isInstanceOf(UnsupportedOperationException.class);
        }
    }

    @Test
    void shouldTimeOutSayingWhoHoldsTheLock() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "held");
            lock.lock();
            long holder = Thread.currentThread().threadId();
            Thread waiter = Thread.ofPlatform().start(() -> {
                try {
                    assertThat(lock.tryLock(100, TimeUnit.MILLISECONDS)).isFalse();
                    assertThatThrownBy(() -> lock.lock(Duration.ofMillis(100)))
                            .isInstanceOf(LockTimeoutException.class)
                            .hasMessageContaining("lock 'held' not acquired within 100 ms; held by pid "
                                    + ProcessHandle.current().pid() + ", thread " + holder + ", since at least");
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            });
            waiter.join(10_000);
            assertThat(waiter.isAlive()).isFalse();
            assertThat(lock.owner()).get().extracting(o -> o.heldSince().isPresent()).isEqualTo(true);
            lock.unlock();
        }
    }

    @Test
    void shouldInterruptAWaiter() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "l");
            lock.lock();
            AtomicBoolean interrupted = new AtomicBoolean();
            CountDownLatch started = new CountDownLatch(1);
            Thread waiter = Thread.ofPlatform().start(() -> {
                started.countDown();
                try {
                    lock.lockInterruptibly();
                } catch (InterruptedException e) {
                    interrupted.set(true);
                }
            });
            started.await(10, TimeUnit.SECONDS);
            waiter.interrupt();
            waiter.join(10_000);
            assertThat(interrupted).isTrue();
            lock.unlock();
        }
    }

    @Test
    void shouldCountExactlyWithThreads() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "l");
            SharedLong counter = SharedLong.create(heap, "c");
            int threads = 4;
            int increments = 20_000;
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                workers.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < increments; i++) {
                        lock.lock();
                        try {
                            counter.setPlain(counter.getPlain() + 1);
                        } finally {
                            lock.unlock();
                        }
                    }
                }));
            }
            for (Thread worker : workers) {
                worker.join(60_000);
            }
            assertThat(counter.get()).isEqualTo((long) threads * increments);
        }
    }

    @Test
    void shouldCheckTypesAndAlignment() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            SharedLong.create(heap, "value");
            assertThatThrownBy(() -> SharedLock.open(heap, "value")).isInstanceOf(ShmTypeMismatchException.class);
            MemorySegment raw = arena.allocate(256, 64);
            assertThatThrownBy(() -> SharedLock.wrap(raw, 4)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("offset=4").hasMessageContaining("multiple of 8");
            assertThatThrownBy(() -> SharedLock.wrap(raw, 200)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> SharedLock.wrap(MemorySegment.ofArray(new long[16]), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("native");
            SharedLock wrapped = SharedLock.wrap(raw, 64);
            wrapped.lock();
            assertThat(wrapped.toString()).contains("held by pid");
            wrapped.unlock();
        }
    }
}
