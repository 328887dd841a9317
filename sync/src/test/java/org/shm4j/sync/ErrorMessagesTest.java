package org.shm4j.sync;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.atomic.SharedBoolean;
import org.shm4j.sync.atomic.SharedByteArray;
import org.shm4j.sync.atomic.SharedDouble;
import org.shm4j.sync.atomic.SharedDoubleArray;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;
import org.shm4j.testing.ChildJvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Error messages a user can act on: they name the structure, its kind, the limit and the rule. */
class ErrorMessagesTest {
    @Test
    void shouldNameBothKindsOnATypeMismatch() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedInt.create(heap, "total");
            assertThatThrownBy(() -> SharedLong.open(heap, "total")).isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("block 'total' in " + heap + " is a SharedInt, type 0x53480001 v1 (expected: a "
                            + "SharedLong, type 0x53480002 v1)");
            assertThatThrownBy(() -> SharedLong.openOrCreate(heap, "total")).hasMessageContaining("is a SharedInt");
            SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
            assertThatThrownBy(() -> SharedReadWriteLock.open(heap, "ring")).hasMessageEndingWith(
                    "is a SharedRing, type 0x53480031 v11 (expected: a SharedReadWriteLock, type 0x53480023 v8)");
        }
    }

    /**
     * helper-150: a kind was named only once its layout class had been used in this JVM, so a type mismatch in a JVM
     * that had opened no counters said "is type 0x53480081 v2" where others say "is a SharedRing".
     */
    @Test
    void shouldNameTheKindFoundInAJvmThatUsedNoneOfThatKind() throws InterruptedException {
        try (ChildJvm child = ChildJvm.start(OpensEveryKindAsALong.class)) {
            for (String kind : List.of("SharedCounters", "SharedMap", "SharedList", "shm4j wait table")) {
                assertThat(child.awaitLine("MISMATCH", Duration.ofSeconds(30))).contains("is a " + kind + ", type");
            }
            child.awaitSuccess(Duration.ofSeconds(30));
        }
    }

    /** A fresh JVM: blocks of kinds it never used, made raw by their tags, each opened as a {@code SharedLong}. */
    public static final class OpensEveryKindAsALong {
        public static void main(String[] args) {
            int[][] tagsAndVersions = {{0x5348_0081, 2}, {0x5348_0051, 5}, {0x5348_0071, 2}, {0x5348_0091, 1}};
            try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
                for (int[] type : tagsAndVersions) {
                    String name = "block" + Integer.toHexString(type[0]);
                    heap.allocate(name, new BlockType(type[0], type[1]), 64);
                    try {
                        SharedLong.open(heap, name);
                    } catch (ShmTypeMismatchException e) {
                        System.out.println("MISMATCH " + e.getMessage());
                    }
                }
            }
        }
    }

    @Test
    void shouldNameTheParametersAStructureExistsWithWhenOpenOrCreateAsksOthers() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedQueue.create(heap, "q", 1024, Codec.longs());
            assertThatThrownBy(() -> SharedQueue.openOrCreate(heap, "q", 4096, Codec.longs()))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("queue 'q' exists with capacity 1024 (asked: 4096)");
            assertThatThrownBy(() -> SharedRing.openOrCreate(heap, "q", SharedRing.Kind.SPSC, 1024))
                    .hasMessage("ring 'q' exists as MPMC with capacity 1024 (asked: SPSC with capacity 1024)");
            SharedSemaphore.create(heap, "sem", 3, SharedSemaphore.Kind.UNDO);
            assertThatThrownBy(() -> SharedSemaphore.openOrCreate(heap, "sem", 3, SharedSemaphore.Kind.BOUNDED))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("semaphore 'sem' exists as UNDO with 3 permits (asked: BOUNDED with 3)");
            SharedBarrier.create(heap, "barrier", 2);
            assertThatThrownBy(() -> SharedBarrier.openOrCreate(heap, "barrier", 3))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("barrier 'barrier' exists for 2 parties (asked: 3)");
            SharedCountDownLatch.create(heap, "latch", 2);
            assertThatThrownBy(() -> SharedCountDownLatch.openOrCreate(heap, "latch", 3))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("latch 'latch' exists with initial count 2 (asked: 3)");
            SharedInt.create(heap, "int");
            assertThatThrownBy(() -> SharedRing.openOrCreate(heap, "int", SharedRing.Kind.SPSC, 1024))
                    .as("another kind of block: the heap's own words").hasMessageContaining("is a SharedInt");
        }
    }

    @Test
    void shouldNameTheValueNotItsLockWhenCreatedTwice() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLong.create(heap, "total", 0, true);
            assertThatThrownBy(() -> SharedLong.create(heap, "total", 0, true))
                    .isInstanceOf(ShmAlreadyExistsException.class)
                    .hasMessage("block 'total' already exists in " + heap)
                    .hasNoCause(); // refused before its lock is looked at
            SharedInt.create(heap, "count", 1, true);
            assertThatThrownBy(() -> SharedInt.create(heap, "count", 1, true)).hasMessageStartingWith("block 'count' ");
            SharedDouble.create(heap, "mean", 1, true);
            assertThatThrownBy(() -> SharedDouble.create(heap, "mean", 1, true))
                    .hasMessageStartingWith("block 'mean' ");
            SharedLong.create(heap, "odd.lock", 0, false); // a block of the lock's name that is no lock
            assertThatThrownBy(() -> SharedLong.create(heap, "odd", 0, true))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("'odd.lock'");
        }
    }

    @Test
    void shouldNameTheQueueOrRingItsCapacityAndTheRuleForAnOversizedMessage() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue<byte[]> queue = SharedQueue.create(heap, "q", 1024, Codec.bytes());
            assertThatThrownBy(() -> queue.offer(new byte[200])).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue 'q': encoded value length=200 (expected: 0..120, capacity 1024 / 8 - 8; a"
                            + " capacity of 2048 takes it)");
            assertThat(queue.offer(new byte[120])).isTrue();
            assertThatThrownBy(() -> queue.setStallTimeout(Duration.ZERO)).as("helper-128: named by its ring alone")
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue 'q': stallTimeout=PT0S (expected: > 0)");
            SharedRing ring = SharedRing.create(heap, "r", SharedRing.Kind.MPSC, 2048);
            assertThatThrownBy(() -> ring.offer(1, new byte[300], 0, 300)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ring 'r': message length=300 (expected: 0..248, capacity 2048 / 8 - 8; a capacity of"
                            + " 4096 takes it)");
            assertThatThrownBy(() -> ring.drain((type, buffer, offset, length) -> { }, -1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ring 'r': drain limit=-1 (expected: >= 0)");
            SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
            assertThatThrownBy(() -> pipe.first().send(new byte[121], Duration.ZERO))
                    .hasMessage("first end of pipe 'p': message length=121 (expected: 0..120, capacity 1024 / 8 - 8;"
                            + " a capacity of 2048 takes it)");
            assertThat(Blocks.messageTooLong("queue 'q'", "encoded value length", (1 << 27) - 7, 1024))
                    .hasMessageEndingWith("capacity 1024 / 8 - 8; no capacity takes it: at most 134217720 bytes)");
            assertThat(Blocks.messageTooLong("ring 'r'", "message length", 1, 1024)).as("as short as one byte")
                    .hasMessageEndingWith("a capacity of 1024 takes it)");
        }
    }

    @Test
    void shouldSayWhichValueOrArrayWasUsedAfterItsHeapWasClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedLong total = SharedLong.create(heap, "total");
        SharedInt count = SharedInt.openOrCreate(heap, "count");
        SharedDouble mean = SharedDouble.create(heap, "mean");
        SharedBoolean flag = SharedBoolean.create(heap, "flag");
        SharedLongArray longs = SharedLongArray.create(heap, "longs", 4);
        SharedIntArray ints = SharedIntArray.create(heap, "ints", 4);
        SharedDoubleArray doubles = SharedDoubleArray.create(heap, "doubles", 4);
        SharedByteArray bytes = SharedByteArray.create(heap, "bytes", 4);
        heap.close();
        assertClosed(total::get, "SharedLong 'total'", heap);
        assertClosed(() -> total.set(1), "SharedLong 'total'", heap);
        assertClosed(total::incrementAndGet, "SharedLong 'total'", heap);
        assertClosed(() -> total.updateAndGet(x -> x + 1), "SharedLong 'total'", heap);
        assertClosed(() -> count.compareAndSet(0, 1), "SharedInt 'count'", heap);
        assertClosed(() -> count.getAndAdd(1), "SharedInt 'count'", heap);
        assertClosed(() -> mean.addAndGet(1), "SharedDouble 'mean'", heap);
        assertClosed(() -> mean.getAndSet(1), "SharedDouble 'mean'", heap);
        assertClosed(flag::get, "SharedBoolean 'flag'", heap);
        assertClosed(() -> flag.getAndSet(true), "SharedBoolean 'flag'", heap);
        assertClosed(() -> longs.get(0), "SharedLongArray 'longs'", heap);
        assertClosed(() -> longs.incrementAndGet(1), "SharedLongArray 'longs'", heap);
        assertClosed(() -> ints.set(0, 1), "SharedIntArray 'ints'", heap);
        assertClosed(() -> doubles.compareAndSet(0, 0, 1), "SharedDoubleArray 'doubles'", heap);
        assertClosed(() -> bytes.get(0), "SharedByteArray 'bytes'", heap);
        assertClosed(() -> ints.copyTo(0, MemorySegment.ofArray(new int[4]), 0, 4), "SharedIntArray 'ints'", heap);
        // the weaker modes too, not only the volatile ones
        assertClosed(total::getPlain, "SharedLong 'total'", heap);
        assertClosed(() -> total.setRelease(1), "SharedLong 'total'", heap);
        assertClosed(count::getOpaque, "SharedInt 'count'", heap);
        assertClosed(mean::getAcquire, "SharedDouble 'mean'", heap);
        assertClosed(flag::getAcquire, "SharedBoolean 'flag'", heap);
        assertClosed(() -> longs.getAcquire(0), "SharedLongArray 'longs'", heap);
        assertClosed(() -> longs.fill(3), "SharedLongArray 'longs'", heap);
        assertClosed(ints::toArray, "SharedIntArray 'ints'", heap);
        assertClosed(() -> doubles.setPlain(0, 1), "SharedDoubleArray 'doubles'", heap);
        assertClosed(() -> bytes.setOpaque(0, (byte) 1), "SharedByteArray 'bytes'", heap);
    }

    @Test
    void shouldSayWhichQueueOrPipeWasUsedAfterItsHeapWasClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, Codec.longs());
        SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
        heap.close();
        assertClosed(() -> queue.offer(1L), "SharedQueue 'q'", heap);
        assertClosed(queue::poll, "SharedQueue 'q'", heap);
        assertClosed(() -> queue.put(1L), "SharedQueue 'q'", heap);
        assertClosed(queue::size, "SharedQueue 'q'", heap); // not its ring's name
        assertClosed(queue::isEmpty, "SharedQueue 'q'", heap);
        assertClosed(queue::stats, "SharedQueue 'q'", heap);
        assertClosed(queue::stallTimeout, "SharedQueue 'q'", heap);
        assertClosed(() -> queue.setStallTimeout(Duration.ofSeconds(2)), "SharedQueue 'q'", heap);
        assertClosed(() -> pipe.first().send(new byte[1], Duration.ofSeconds(1)), "SharedPipe 'p'", heap);
        assertClosed(() -> pipe.second().recv(Duration.ofSeconds(1)), "SharedPipe 'p'", heap);
        assertClosed(() -> pipe.second().poll(), "SharedPipe 'p'", heap);
    }

    @Test
    void shouldSayWhichLockWasUsedAfterItsHeapWasClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedLock lock = SharedLock.create(heap, "orders");
        SharedFairLock fair = SharedFairLock.create(heap, "fair");
        SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
        lock.lock();
        heap.close();
        for (var named : List.of(Map.entry("lock 'orders'", (Lock) lock), Map.entry("fair lock 'fair'", (Lock) fair),
                Map.entry("read-write lock 'rw' (write)", rw.writeLock()),
                Map.entry("read-write lock 'rw' (read)", rw.readLock()))) {
            String closed = named.getKey() + " cannot be used: the heap or segment it lives in is closed";
            Lock closedLock = named.getValue();
            for (ThrowingCallable call : List.<ThrowingCallable>of(closedLock::lock, closedLock::tryLock,
                    closedLock::lockInterruptibly, () -> closedLock.tryLock(1, TimeUnit.SECONDS), closedLock::unlock)) {
                assertThatThrownBy(call).as(named.getKey()).isInstanceOf(IllegalStateException.class)
                        .hasMessage(closed).cause().hasMessage("Already closed");
            }
            if (closedLock != rw.readLock()) { // the read lock has no conditions, closed or not
                assertThatThrownBy(closedLock::newCondition).as(named.getKey() + ".newCondition()")
                        .isInstanceOf(IllegalStateException.class).hasMessage(closed);
            }
        }
    }

    @Test
    void shouldSayWhichRingWasUsedAfterItsHeapWasClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedRing ring = SharedRing.create(heap, "events", SharedRing.Kind.MPMC, 1024);
        RingClaim claim = new RingClaim();
        assertThat(ring.tryClaim(1, 8, claim)).isTrue();
        heap.close();
        String closed = "ring 'events' cannot be used: the heap or segment it lives in is closed";
        for (ThrowingCallable call : List.<ThrowingCallable>of(() -> ring.offer(1, new byte[8], 0, 8),
                () -> ring.offer(1, new byte[8], 0, 8, Duration.ofSeconds(1), WaitStrategy.BLOCKING),
                () -> ring.poll((type, buffer, offset, length) -> { }),
                () -> ring.poll((type, buffer, offset, length) -> { }, Duration.ofSeconds(1), WaitStrategy.BLOCKING),
                ring::size, ring::stats, ring::messageCount, ring::unblock, claim::commit)) {
            assertThatThrownBy(call).isInstanceOf(IllegalStateException.class).hasMessage(closed)
                    .cause().isInstanceOf(IllegalStateException.class).hasMessage("Already closed");
        }
    }

    /**
     * A claim's buffer (and so its segment) and the ring's {@code release()}, once the heap is closed, throw the
     * ring's closed message, as offer, poll and commit do: the buffer was handed out closed, so that the write into it
     * threw the JDK's bare "Already closed", and an MPMC ring's release() returned quietly.
     */
    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldSayWhichRingAClaimsBufferOrReleaseWasAfterItsHeapWasClosed(SharedRing.Kind kind) {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedRing ring = SharedRing.create(heap, "events", kind, 1024);
        RingClaim claim = new RingClaim();
        assertThat(ring.tryClaim(1, 8, claim)).isTrue();
        heap.close();
        String closed = "ring 'events' cannot be used: the heap or segment it lives in is closed";
        for (ThrowingCallable call : List.<ThrowingCallable>of(claim::buffer, claim::segment, ring::release,
                claim::tryCommit, claim::abort)) {
            assertThatThrownBy(call).isInstanceOf(IllegalStateException.class).hasMessage(closed);
        }
    }

    /**
     * A ring offered a closed source segment says it is the caller's segment, and which ring, where the JDK's bare
     * "Already closed" came out; the claim it made is given up, so the ring delivers the next message.
     */
    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldSayItIsTheCallersSourceSegmentThatIsClosedAndWhichRing(SharedRing.Kind kind) throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "events", kind, 1024);
            Arena arena = Arena.ofShared();
            MemorySegment closed = arena.allocate(8);
            arena.close();
            for (ThrowingCallable call : List.<ThrowingCallable>of(() -> ring.offer(1, closed, 0, 8),
                    () -> ring.offer(1, closed, 0, 8, Duration.ofSeconds(1), WaitStrategy.BLOCKING))) {
                assertThatThrownBy(call).isInstanceOf(IllegalStateException.class)
                        .hasMessage("ring 'events': the caller's source segment is closed")
                        .cause().hasMessage("Already closed");
            }
            assertThat(ring.offer(2, new byte[8], 0, 8)).isTrue();
            int[] types = new int[1];
            assertThat(ring.drain((type, buffer, offset, length) -> types[0] = type, 10)).isOne();
            assertThat(types[0]).as("the one message delivered").isEqualTo(2);
        }
    }

    @Test
    void shouldSayWhichListWasUsedAfterItsHeapWasClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 20);
        SharedList<Long> list = SharedList.create(heap, "names", Codec.longs(), Long.BYTES);
        list.add(1L);
        list.add(2L);
        heap.close();
        for (ThrowingCallable call : List.<ThrowingCallable>of(list::size, list::isEmpty, () -> list.get(0),
                () -> list.set(0, 3L), () -> list.add(4L), () -> list.add(0, 5L), () -> list.remove(0),
                list::removeLast, list::clear, list::recoveries, list::snapshot, list::iterator)) {
            assertClosed(call, "SharedList 'names'", heap);
        }
        assertThat(list.toString()).isEqualTo("SharedList 'names' (its heap is closed)");
    }

    @Test
    void shouldSayWhichMapWasUsedAfterItsHeapWasClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 20);
        MapSizing sizing = new MapSizing(64, 8, 8);
        SharedMap<Long, Long> map = SharedMap.create(heap, "prices", Codec.longs(), Codec.longs(), sizing);
        SharedLongMap<Long> longs = SharedLongMap.create(heap, "ids", Codec.longs(), sizing);
        map.put(1L, 1L);
        longs.set(1L, 1L);
        heap.close();
        MemorySegment target = MemorySegment.ofArray(new byte[8]);
        for (ThrowingCallable call : List.<ThrowingCallable>of(map::size, map::mappingCount, map::isEmpty,
                () -> map.containsKey(1L), () -> map.get(1L), () -> map.getInto(1L, target, 0),
                () -> map.put(2L, 2L), () -> map.putIfAbsent(2L, 2L), () -> map.replace(1L, 3L),
                () -> map.replace(1L, 1L, 3L), () -> map.remove(1L), () -> map.remove(1L, 1L),
                () -> map.compute(1L, (k, v) -> 4L), () -> map.computeIfAbsent(5L, k -> 5L),
                () -> map.computeIfPresent(1L, (k, v) -> 6L), () -> map.merge(1L, 7L, Long::sum), map::clear,
                () -> map.entrySet().iterator().next(), () -> map.entrySet().size())) {
            assertClosed(call, "SharedMap 'prices'", heap);
        }
        assertThatThrownBy(map::stats).isInstanceOf(IllegalStateException.class) // checked before any access
                .hasMessage("SharedMap 'prices' cannot be used: its " + heap + " is closed");
        for (ThrowingCallable call : List.<ThrowingCallable>of(() -> longs.containsKey(1L), () -> longs.get(1L),
                () -> longs.getInto(1L, target, 0), () -> longs.set(2L, 2L),
                () -> longs.setBytes(2L, target, 0, 8), () -> longs.delete(1L), longs::size,
                () -> longs.asMap().get(1L))) {
            assertClosed(call, "SharedLongMap 'ids'", heap); // it called itself SharedMap
        }
        assertThatThrownBy(longs::stats).isInstanceOf(IllegalStateException.class)
                .hasMessage("SharedLongMap 'ids' cannot be used: its " + heap + " is closed");
        Arena arena = Arena.ofShared();
        MemorySegment closed = arena.allocate(8);
        arena.close();
        for (ThrowingCallable call : List.<ThrowingCallable>of(() -> longs.setBytes(2L, closed, 0, 8),
                () -> longs.getInto(1L, closed, 0))) { // the caller's segment closed too: the map is named first
            assertClosed(call, "SharedLongMap 'ids'", heap); // setBytes threw the JDK's bare "Already closed"
        }
        assertClosed(() -> map.getInto(1L, closed, 0), "SharedMap 'prices'", heap);
    }

    /**
     * A caller's segment closed before a map copies into or out of it: the map says it is the caller's segment, and
     * which map, where the JDK's bare "Already closed" came out; the map stays usable.
     */
    @Test
    void shouldSayItIsTheCallersSegmentThatIsClosedAndWhichMap() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            MapSizing sizing = new MapSizing(64, 8, 8);
            SharedMap<Long, Long> map = SharedMap.create(heap, "prices", Codec.longs(), Codec.longs(), sizing);
            SharedLongMap<Long> longs = SharedLongMap.create(heap, "ids", Codec.longs(), sizing);
            map.put(1L, 1L);
            longs.set(1L, 1L);
            Arena arena = Arena.ofShared();
            MemorySegment closed = arena.allocate(8);
            arena.close();
            assertThatThrownBy(() -> longs.getInto(1L, closed, 0)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedLongMap 'ids' in " + heap + ": the caller's target segment is closed")
                    .cause().hasMessage("Already closed");
            assertThatThrownBy(() -> longs.setBytes(2L, closed, 0, 8)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedLongMap 'ids' in " + heap + ": the caller's source segment is closed")
                    .cause().hasMessage("Already closed");
            assertThatThrownBy(() -> map.getInto(1L, closed, 0)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedMap 'prices' in " + heap + ": the caller's target segment is closed")
                    .cause().hasMessage("Already closed");
            assertThat(longs.get(1L)).isEqualTo(1L);
            assertThat(longs.containsKey(2L)).as("nothing stored from a closed source").isFalse();
            assertThat(map.get(1L)).isEqualTo(1L);
        }
    }

    @Test
    void shouldSayWhichWrappedValueWasUsedAfterItsSegmentWasClosed() {
        Arena arena = Arena.ofShared();
        SharedLong value = SharedLong.wrap(arena.allocate(64, 8), 8);
        SharedIntArray array = SharedIntArray.wrap(arena.allocate(64, 8), 0, 16);
        arena.close();
        assertThatThrownBy(value::get).isInstanceOf(IllegalStateException.class)
                .hasMessage("SharedLong at offset 8 of a wrapped segment cannot be used: that segment is closed");
        assertThatThrownBy(() -> array.get(3)).hasMessageStartingWith("SharedIntArray at offset 0 of a wrapped");
    }

    @Test
    void shouldLeaveOtherIllegalStatesAlone() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue.create(heap, "typed", 1024, Codec.bytes());
            assertThatThrownBy(() -> SharedQueue.open(heap, "typed", Codec.longs()))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessage("queue 'typed' was created for messages "
                            + "of type 0x00000003, but its codec reads type 0x00000001");
            SharedRing.create(heap, "q", SharedRing.Kind.MPMC, 1024); // declares no type
            SharedQueue.open(heap, "q", Codec.bytes()).offer(new byte[3]);
            assertThatThrownBy(() -> SharedQueue.open(heap, "q", Codec.longs()).poll())
                    .isInstanceOf(IllegalStateException.class).hasNoCause()
                    .hasMessage("queue 'q' holds a message of type 0x00000003, but its codec reads type 0x00000001");
        }
    }

    private static void assertClosed(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String what,
                                     SharedHeap heap) {
        assertThatThrownBy(call).isInstanceOf(IllegalStateException.class)
                .hasMessage(what + " cannot be used: its " + heap + " is closed")
                .cause().isInstanceOf(IllegalStateException.class).hasMessage("Already closed");
    }
}
