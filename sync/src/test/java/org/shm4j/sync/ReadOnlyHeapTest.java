package org.shm4j.sync;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedBoolean;
import org.shm4j.sync.atomic.SharedByteArray;
import org.shm4j.sync.atomic.SharedDouble;
import org.shm4j.sync.atomic.SharedDoubleArray;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every structure opened through a heap opened read-only: what only reads works, and a call that writes throws
 * {@link IllegalStateException} naming the structure and the read-only mapping (not the JDK's bare "Attempt to write a
 * read-only segment"), and leaves the structure as it was.
 */
class ReadOnlyHeapTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNameTheStructureWhenAWriteMeetsAReadOnlyHeap() {
        String name = names.unique("read-only");
        try (SharedHeap writable = SharedHeap.create(name, 1 << 20)) {
            SharedLong.create(writable, "long", 7, true);
            SharedInt.create(writable, "int", 7);
            SharedDouble.create(writable, "double", 7);
            SharedBoolean.create(writable, "bool", true);
            SharedLongArray.create(writable, "longs", 4);
            SharedIntArray.create(writable, "ints", 4);
            SharedDoubleArray.create(writable, "doubles", 4);
            SharedByteArray.create(writable, "bytes", 4);
            SharedCondition.create(writable, "cond", SharedLock.create(writable, "lock"));
            SharedFairLock.create(writable, "fair");
            SharedReadWriteLock.create(writable, "rw");
            SharedSemaphore.create(writable, "sem", 2);
            SharedCountDownLatch.create(writable, "latch", 2);
            SharedEvent.create(writable, "event");
            SharedBarrier.create(writable, "barrier", 2);
            SharedQueue.create(writable, "queue", 1024, Codec.utf8()).offer("queued");
            SharedRing.create(writable, "ring", SharedRing.Kind.MPSC, 1024).offer(1, new byte[]{1}, 0, 1);
            SharedRing.create(writable, "spsc", SharedRing.Kind.SPSC, 1024);
            SharedPipe.create(writable, "pipe", 1024);
            SharedList.create(writable, "list", Codec.utf8(), 16).add("one");
            try (SharedHeap heap = SharedHeap.openReadOnly(name)) {
                SharedLong longValue = SharedLong.open(heap, "long");
                SharedInt intValue = SharedInt.open(heap, "int");
                SharedDouble doubleValue = SharedDouble.open(heap, "double");
                SharedBoolean bool = SharedBoolean.open(heap, "bool");
                SharedLongArray longs = SharedLongArray.open(heap, "longs");
                SharedIntArray ints = SharedIntArray.open(heap, "ints");
                SharedDoubleArray doubles = SharedDoubleArray.open(heap, "doubles");
                SharedByteArray bytes = SharedByteArray.open(heap, "bytes");
                SharedLock lock = SharedLock.open(heap, "lock");
                SharedCondition condition = SharedCondition.open(heap, "cond", lock);
                SharedFairLock fair = SharedFairLock.open(heap, "fair");
                SharedReadWriteLock rw = SharedReadWriteLock.open(heap, "rw");
                SharedSemaphore semaphore = SharedSemaphore.open(heap, "sem");
                SharedCountDownLatch latch = SharedCountDownLatch.open(heap, "latch");
                SharedEvent event = SharedEvent.open(heap, "event");
                SharedBarrier barrier = SharedBarrier.open(heap, "barrier");
                SharedQueue<String> queue = SharedQueue.open(heap, "queue", Codec.utf8());
                SharedRing ring = SharedRing.open(heap, "ring");
                SharedRing spsc = SharedRing.open(heap, "spsc");
                SharedPipe pipe = SharedPipe.open(heap, "pipe");
                SharedList<String> list = SharedList.open(heap, "list", Codec.utf8());

                assertThat(longValue.get()).isEqualTo(7);
                assertThat(intValue.get()).isEqualTo(7);
                assertThat(doubleValue.get()).isEqualTo(7.0);
                assertThat(bool.get()).isTrue();
                assertThat(longs.get(0) + ints.get(0) + doubles.get(0) + bytes.get(0)).isZero();
                assertThat(lock.isLocked()).isFalse();
                assertThat(fair.isLocked()).isFalse();
                assertThat(rw.writer()).isEmpty();
                assertThat(semaphore.availablePermits()).isEqualTo(2);
                assertThat(latch.getCount()).isEqualTo(2);
                assertThat(event.isSet()).isFalse();
                assertThat(barrier.getParties()).isEqualTo(2);
                assertThat(queue.size()).isEqualTo(1);
                assertThat(ring.size()).isPositive();
                assertThat(list).containsExactly("one");

                Map<String, ThrowingCallable> writes = new LinkedHashMap<>();
                writes.put("SharedLong 'long'", () -> longValue.set(1));
                writes.put("SharedLong 'long' ", () -> longValue.getAndAdd(1));
                writes.put("SharedInt 'int'", () -> intValue.incrementAndGet());
                writes.put("SharedDouble 'double'", () -> doubleValue.addAndGet(1));
                writes.put("SharedBoolean 'bool'", () -> bool.set(false));
                writes.put("SharedLongArray 'longs'", () -> longs.set(0, 1));
                writes.put("SharedIntArray 'ints'", () -> ints.compareAndSet(0, 0, 1));
                writes.put("SharedDoubleArray 'doubles'", () -> doubles.set(0, 1));
                writes.put("SharedByteArray 'bytes'", () -> bytes.set(0, (byte) 1));
                writes.put("lock 'lock'", lock::lock);
                writes.put("lock 'lock' ", lock::tryLock);
                writes.put("fair lock 'fair'", fair::lock);
                writes.put("read-write lock 'rw'", () -> rw.readLock().lock());
                writes.put("read-write lock 'rw' ", () -> rw.writeLock().tryLock());
                writes.put("semaphore 'sem'", semaphore::tryAcquire);
                writes.put("semaphore 'sem' ", () -> semaphore.release(1));
                writes.put("latch 'latch'", latch::countDown);
                writes.put("event 'event'", event::set);
                writes.put("barrier 'barrier'", () -> barrier.await(10, TimeUnit.MILLISECONDS));
                writes.put("SharedQueue 'queue'", () -> queue.offer("x"));
                writes.put("SharedQueue 'queue' ", queue::poll);
                writes.put("ring 'ring'", () -> ring.offer(1, new byte[]{2}, 0, 1));
                writes.put("ring 'ring' ", () -> ring.poll((type, buffer, offset, length) -> { }));
                writes.put("ring 'spsc'", () -> spsc.offer(1, new byte[]{2}, 0, 1));
                writes.put("SharedPipe 'pipe'", () -> pipe.first().send(new byte[]{2}, Duration.ZERO));
                writes.put("SharedList 'list'", () -> list.add("two"));
                writes.put("SharedList 'list' ", () -> list.set(0, "two"));
                writes.forEach((subject, write) -> assertThatThrownBy(write).as(subject)
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining(subject.strip())
                        .hasMessageContaining("read-only"));

                assertThatThrownBy(() -> rw.readLock().unlock()).as("refused before it writes: nothing is held")
                        .isInstanceOf(IllegalMonitorStateException.class).hasMessageContaining("read-write lock 'rw'");
                assertThatThrownBy(condition::signal).as("no lock can be held through a read-only heap")
                        .isInstanceOf(IllegalMonitorStateException.class).hasMessageContaining("condition 'cond'");
                assertThat(longValue.get()).isEqualTo(7);
                assertThat(queue.size()).isEqualTo(1);
                assertThat(list).containsExactly("one");
                assertThat(semaphore.availablePermits()).isEqualTo(2);
            }
        }
    }
}
