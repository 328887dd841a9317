package org.shm4j.sync;

import org.shm4j.core.BlockType;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.atomic.SharedArray;
import org.shm4j.sync.atomic.SharedBoolean;
import org.shm4j.sync.atomic.SharedByteArray;
import org.shm4j.sync.atomic.SharedDouble;
import org.shm4j.sync.atomic.SharedDoubleArray;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedMutex;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Lock;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The structures {@link BlockCorruptionTest} damages: every block kind of {@code org.shm4j.sync}, in a heap and, where
 * it has a raw form, formatted into plain native memory. Each knows how to create itself, how many leading bytes are
 * its own header, and how to open and use itself a little with calls that never wait (zero timeouts).
 */
final class CorruptionSubjects {
    /** Ring capacity: the smallest, so a trial's copy of the block is small. */
    static final int CAPACITY = SharedRing.MIN_CAPACITY;
    private static final byte[] PAYLOAD = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};

    private CorruptionSubjects() {
    }

    /** Creates the structure named {@code name} in a heap. */
    interface Create {
        void in(SharedHeap heap, String name);
    }

    /** Opens the structure named {@code name} and uses it a little; it may throw. */
    interface Use {
        void open(SharedHeap heap, String name) throws Exception;
    }

    /** Formats the structure at {@code offset} of a native segment. */
    interface Format {
        void at(MemorySegment segment, long offset);
    }

    /** Wraps the structure at {@code offset} of a native segment and uses it a little; it may throw. */
    interface Wrap {
        void at(MemorySegment segment, long offset) throws Exception;
    }

    /**
     * A kind of heap block.
     *
     * @param type        its block type, for blocks made with the wrong size; null where that is not tested
     * @param headerBytes how many leading bytes are the structure's own header (the whole block if it is small)
     * @param suffix      what the structure's name gets to name the damaged block (a pipe's first ring)
     */
    record HeapKind(String label, BlockType type, long headerBytes, String suffix, Create create, Use use) {
        @Override
        public String toString() {
            return label;
        }
    }

    /**
     * A structure with a raw form.
     *
     * @param byteSize  its size
     * @param fixedSize the size of its fixed part, which the caller's segment must hold (else a bad index)
     */
    record RawKind(String label, long byteSize, long fixedSize, long headerBytes, Format format, Wrap wrap) {
        @Override
        public String toString() {
            return label;
        }
    }

    /** @return every kind of heap block */
    static List<HeapKind> heapKinds() {
        List<HeapKind> kinds = new ArrayList<>();
        for (SharedRing.Kind kind : SharedRing.Kind.values()) {
            kinds.add(new HeapKind(kind + " ring", SyncLayout.RING, SyncLayout.RING_HEADER_SIZE, "",
                    (heap, name) -> used(SharedRing.create(heap, name, kind, CAPACITY)),
                    (heap, name) -> use(SharedRing.open(heap, name, kind), block(heap, name))));
        }
        kinds.add(new HeapKind("queue", SyncLayout.RING, SyncLayout.RING_HEADER_SIZE, "",
                (heap, name) -> used(SharedQueue.create(heap, name, CAPACITY, Codec.longs()).ring()),
                (heap, name) -> use(SharedQueue.open(heap, name, Codec.longs()), block(heap, name))));
        kinds.add(new HeapKind("pipe", null, SyncLayout.RING_HEADER_SIZE, ".ab",
                (heap, name) -> used(SharedPipe.create(heap, name, CAPACITY)),
                (heap, name) -> use(SharedPipe.open(heap, name), block(heap, name + ".ab"))));
        kinds.add(new HeapKind("SharedLock", SyncLayout.LOCK, SyncLayout.CACHE_LINE, "",
                SharedLock::create, (heap, name) -> use(SharedLock.open(heap, name))));
        kinds.add(new HeapKind("SharedReentrantLock", SyncLayout.REENTRANT_LOCK, SyncLayout.CACHE_LINE, "",
                (heap, name) -> used(SharedReentrantLock.create(heap, name)),
                (heap, name) -> use(SharedReentrantLock.open(heap, name))));
        kinds.add(new HeapKind("SharedFairLock", SyncLayout.FAIR_LOCK, SyncLayout.FAIR_SIZE, "",
                (heap, name) -> used(SharedFairLock.create(heap, name)),
                (heap, name) -> use(SharedFairLock.open(heap, name))));
        kinds.add(new HeapKind("SharedReadWriteLock", SyncLayout.READ_WRITE_LOCK, SyncLayout.RW_SIZE, "",
                (heap, name) -> used(SharedReadWriteLock.create(heap, name)),
                (heap, name) -> use(SharedReadWriteLock.open(heap, name))));
        kinds.add(new HeapKind("barrier", SyncLayout.BARRIER, SyncLayout.BARRIER_SLOTS_OFFSET, "",
                (heap, name) -> used(SharedBarrier.create(heap, name, 3)),
                (heap, name) -> use(SharedBarrier.open(heap, name))));
        addValues(kinds);
        addArrays(kinds);
        return kinds;
    }

    private static void addValues(List<HeapKind> kinds) {
        long size = SyncLayout.CACHE_LINE;
        kinds.add(new HeapKind("SharedInt", SyncLayout.INT, size, "", (heap, name) -> SharedInt.create(heap, name),
                (heap, name) -> SharedInt.open(heap, name).incrementAndGet()));
        kinds.add(new HeapKind("SharedLong", SyncLayout.LONG, size, "", (heap, name) -> SharedLong.create(heap, name),
                (heap, name) -> SharedLong.open(heap, name).incrementAndGet()));
        kinds.add(new HeapKind("SharedDouble", SyncLayout.DOUBLE, size, "",
                (heap, name) -> SharedDouble.create(heap, name), (heap, name) -> SharedDouble.open(heap, name)
                .addAndGet(1.5)));
        kinds.add(new HeapKind("SharedBoolean", SyncLayout.BOOLEAN, size, "",
                (heap, name) -> SharedBoolean.create(heap, name, false),
                (heap, name) -> SharedBoolean.open(heap, name).compareAndSet(false, true)));
    }

    private static void addArrays(List<HeapKind> kinds) {
        long header = SyncLayout.ARRAY_ELEMENTS_OFFSET;
        kinds.add(new HeapKind("SharedIntArray", SyncLayout.INT_ARRAY, header, "",
                (heap, name) -> SharedIntArray.create(heap, name, 5),
                (heap, name) -> use(SharedIntArray.open(heap, name), a -> a.incrementAndGet(a.length() - 1))));
        kinds.add(new HeapKind("SharedLongArray", SyncLayout.LONG_ARRAY, header, "",
                (heap, name) -> SharedLongArray.create(heap, name, 5),
                (heap, name) -> use(SharedLongArray.open(heap, name), a -> a.incrementAndGet(a.length() - 1))));
        kinds.add(new HeapKind("SharedDoubleArray", SyncLayout.DOUBLE_ARRAY, header, "",
                (heap, name) -> SharedDoubleArray.create(heap, name, 5),
                (heap, name) -> use(SharedDoubleArray.open(heap, name), a -> a.addAndGet(a.length() - 1, 1))));
        kinds.add(new HeapKind("SharedByteArray", SyncLayout.BYTE_ARRAY, header, "",
                (heap, name) -> SharedByteArray.create(heap, name, 13),
                (heap, name) -> use(SharedByteArray.open(heap, name), a -> a.set(a.length() - 1, (byte) 1))));
    }

    /** @return every structure with a raw form and a header of its own (values and arrays have none) */
    static List<RawKind> rawKinds() {
        List<RawKind> kinds = new ArrayList<>();
        for (SharedRing.Kind kind : SharedRing.Kind.values()) {
            kinds.add(new RawKind("raw " + kind + " ring", SharedRing.requiredBytes(CAPACITY),
                    SyncLayout.RING_HEADER_SIZE, SyncLayout.RING_HEADER_SIZE,
                    (segment, offset) -> used(SharedRing.format(segment, offset, kind, CAPACITY)),
                    (segment, offset) -> use(SharedRing.wrap(segment, offset), segment.asSlice(offset))));
        }
        long lock = SyncLayout.CACHE_LINE;
        kinds.add(new RawKind("raw SharedLock", lock, lock, lock, (segment, offset) -> { },
                (segment, offset) -> use(SharedLock.wrap(segment, offset))));
        kinds.add(new RawKind("raw SharedReentrantLock", lock, lock, lock,
                (segment, offset) -> used(SharedReentrantLock.wrap(segment, offset)),
                (segment, offset) -> use(SharedReentrantLock.wrap(segment, offset))));
        long fair = SyncLayout.FAIR_SIZE;
        kinds.add(new RawKind("raw SharedFairLock", fair, fair, fair,
                (segment, offset) -> used(SharedFairLock.wrap(segment, offset)),
                (segment, offset) -> use(SharedFairLock.wrap(segment, offset))));
        long rw = SyncLayout.RW_SIZE;
        kinds.add(new RawKind("raw SharedReadWriteLock", rw, rw, rw,
                (segment, offset) -> used(SharedReadWriteLock.wrap(segment, offset)),
                (segment, offset) -> use(SharedReadWriteLock.wrap(segment, offset))));
        return kinds;
    }

    /** @return a heap for the trials of one kind, with room for a block per truncation trial */
    static SharedHeap heap() {
        return SharedHeap.anonymous(1 << 21, HeapOptions.defaults().withCatalogCapacity(512));
    }

    /** @return a zeroed native segment */
    static MemorySegment allocate(Arena arena, long byteSize) {
        return arena.allocate(byteSize, 64);
    }

    /** Moves the ring's positions away from 0 and leaves it empty: offers and consumes a few messages. */
    private static void used(SharedRing ring) {
        for (int i = 0; i < 5; i++) {
            ring.offer(i + 1, PAYLOAD, 0, i + 3);
        }
        ring.drain((type, buffer, offset, length) -> { }, Integer.MAX_VALUE);
    }

    private static void used(SharedPipe pipe) throws IllegalStateException {
        try {
            pipe.first().send(PAYLOAD, Duration.ZERO);
            pipe.second().recv(Duration.ZERO);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void used(SharedFairLock lock) {
        for (int i = 0; i < 3; i++) { // moves the tickets away from 0
            lock.lock();
            lock.unlock();
        }
    }

    private static void used(SharedReadWriteLock lock) {
        lock.readLock().lock();
        lock.readLock().unlock();
        lock.writeLock().lock();
        lock.writeLock().unlock();
    }

    private static void used(SharedBarrier barrier) {
        for (int i = 0; i < 3; i++) { // moves the generation, and the last reset one, away from 0
            barrier.reset();
        }
        barrier.register().close();
    }

    private static void use(SharedBarrier barrier) throws InterruptedException {
        try (SharedBarrier.Party party = barrier.register()) {
            barrier.await(0, TimeUnit.NANOSECONDS);
        } catch (BrokenBarrierException | TimeoutException e) {
            // expected: the zero timeout breaks the generation, or a damaged state had it broken already
        }
        barrier.isBroken();
        barrier.getNumberWaiting();
        barrier.reset();
        barrier.toString();
    }

    private static MemorySegment block(SharedHeap heap, String name) {
        return heap.find(name).orElseThrow().segment();
    }

    private static void use(SharedRing ring, MemorySegment block) throws InterruptedException {
        ring.offer(1, PAYLOAD, 0, PAYLOAD.length);
        if (!consumersBusy(block)) {
            ring.poll((type, buffer, offset, length) -> buffer.asSlice(offset, length).toArray(JAVA_BYTE));
            ring.poll((type, buffer, offset, length) -> { }, Duration.ZERO, WaitStrategy.BUSY_SPIN);
        }
        ring.unblock();
        ring.size();
        ring.toString();
    }

    private static void use(SharedQueue<Long> queue, MemorySegment block) {
        queue.offer(42L);
        if (!consumersBusy(block)) {
            queue.poll();
        }
        queue.isEmpty();
    }

    private static void use(SharedPipe pipe, MemorySegment block) throws InterruptedException {
        pipe.first().send(PAYLOAD, Duration.ZERO);
        if (!consumersBusy(block)) {
            pipe.second().recv(Duration.ZERO);
        }
        pipe.second().poll();
    }

    private static void use(Lock lock) throws InterruptedException {
        if (lock.tryLock()) {
            lock.unlock();
        }
        if (lock.tryLock(0, TimeUnit.NANOSECONDS)) {
            lock.unlock();
        }
    }

    private static void use(SharedMutex lock) throws InterruptedException {
        use((Lock) lock);
        lock.owner();
        lock.isConsistent();
        lock.toString();
    }

    private static void used(SharedReentrantLock lock) {
        lock.lock();
        lock.lock(); // leaves the hold count at 0 again, its bytes moved
        lock.unlock();
        lock.unlock();
    }

    private static void use(SharedFairLock lock) throws InterruptedException {
        use((Lock) lock);
        lock.queueLength();
        lock.toString();
    }

    private static void use(SharedReadWriteLock lock) throws InterruptedException {
        use(lock.readLock());
        use(lock.writeLock());
        lock.toString();
    }

    private static <A extends SharedArray> void use(A array, java.util.function.Consumer<A> update) {
        update.accept(array);
        array.length();
    }

    /**
     * An MPMC consumer polls under the consumers' mutex and waits for it as long as its holder lives: a damaged
     * mutex word that names a live process is such a holder, and the poll would wait for it. Such a trial skips the
     * poll.
     *
     * @return true if the ring in {@code block} is MPMC and its consumers' mutex is held by a process that is alive
     */
    private static boolean consumersBusy(MemorySegment block) {
        if (block.get(JAVA_INT, SyncLayout.RING_KIND_OFFSET) != SharedRing.Kind.MPMC.ordinal() + 1) {
            return false;
        }
        long word = block.get(JAVA_LONG, SyncLayout.RING_CONSUMER_MUTEX_OFFSET);
        long pid = word & SyncLayout.LOCK_PID_MASK;
        return word != 0 && ProcessIdentity.isAlive(pid << 32 | word >>> 32);
    }
}
