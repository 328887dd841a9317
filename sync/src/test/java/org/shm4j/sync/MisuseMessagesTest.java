package org.shm4j.sync;

import org.assertj.core.api.AbstractThrowableAssert;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.process.WorkerProcess;
import org.shm4j.sync.atomic.SharedCounter;
import org.shm4j.sync.atomic.SharedCounters;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.list.ShareableList;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Misuse an outside review found answered with the JDK's bare words ("Already closed", "Range [3, 3 + 2) out of
 * bounds for length 4", a helpful NPE from inside the library) or not answered at all: each now names the structure,
 * the argument or the side, and the limit.
 */
class MisuseMessagesTest {
    private static final BlockType TYPE = new BlockType(0x5348_7777, 1);

    /** A record for the record codec: public, so that the library can reach it without a lookup. */
    public record Point(int x, String label) {
    }

    @Test
    void shouldNameTheHeapOrTheStructureOnceTheHeapIsClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 20);
        SharedLock lock = SharedLock.create(heap, "l");
        SharedFairLock fair = SharedFairLock.create(heap, "f");
        SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
        SharedCounters counters = SharedCounters.create(heap, "stats", 4);
        SharedCounter hits = counters.allocate("hits");
        SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
        SharedPipe.End first = pipe.first();
        heap.close();
        String closedHeap = heap + " is closed";
        for (ThrowingCallable call : List.<ThrowingCallable>of(() -> heap.allocate("x", TYPE, 8),
                () -> heap.lookup("l", TYPE), () -> heap.find("l"), heap::blocks, heap::freeBytes,
                heap::attachedProcesses, heap::creator, heap::isStale, () -> SharedLong.create(heap, "v"))) {
            closed(call).hasMessage(closedHeap);
        }
        for (ThrowingCallable call : List.<ThrowingCallable>of(lock::isLocked, lock::owner, lock::isConsistent,
                lock::recoveries, lock::isHeldByCurrentThread, lock::newCondition)) {
            closed(call).hasMessage("lock 'l' cannot be used: the heap or segment it lives in is closed");
        }
        for (ThrowingCallable call : List.<ThrowingCallable>of(fair::queueLength, fair::owner, fair::isLocked)) {
            closed(call).hasMessageStartingWith("fair lock 'f' cannot be used");
        }
        for (ThrowingCallable call : List.<ThrowingCallable>of(rw::writer, rw::readerPids, rw::isConsistent,
                rw::isWriteLockedByCurrentThread, rw::recoveries)) {
            closed(call).hasMessage("read-write lock 'rw' cannot be used: the heap or segment it lives in is closed");
        }
        for (ThrowingCallable call : List.<ThrowingCallable>of(() -> counters.allocate("x"), counters::snapshot,
                () -> counters.find("hits"), hits::free, hits::get, hits::incrementAndGet, () -> hits.set(1),
                () -> hits.compareAndSet(0, 1), hits::getOpaque)) {
            closed(call).hasMessageContaining("'stats'").hasMessageEndingWith("cannot be used: its heap is closed");
        }
        closed(first::close).hasMessageStartingWith("SharedPipe 'p' cannot be used: its heap ");
        closed(pipe::close).hasMessageStartingWith("SharedPipe 'p' cannot be used: its heap ");
        SharedMemory region = SharedMemory.anonymous(4096);
        region.close();
        closed(() -> ShareableList.create(region, List.of(1L))).hasMessageEndingWith(": the region is closed");
        closed(() -> ShareableList.wrap(region)).hasMessageEndingWith(": the region is closed");
    }

    /**
     * helper-247: a null heap met the first lookup of a joinable queue's or a pipe's factory ("Cannot invoke
     * SharedHeap.find(String) because heap is null"), a joinable queue's {@code open} looked its blocks up before its
     * codec was checked (ShmNotFoundException for a null codec), and a ring's {@code offer} read a null source
     * ("Cannot read the array length because source is null"): each null is named, as a queue's factories name it.
     */
    @Test
    void shouldNameANullHeapCodecOrSourceOfAQueuePipeOrRing() {
        for (ThrowingCallable call : List.<ThrowingCallable>of(
                () -> SharedJoinableQueue.create(null, "j", 1024, Codec.longs()),
                () -> SharedJoinableQueue.open(null, "j", Codec.longs()),
                () -> SharedJoinableQueue.openOrCreate(null, "j", 1024, Codec.longs()),
                () -> SharedPipe.create(null, "p", 1024), () -> SharedPipe.openOrCreate(null, "p", 1024))) {
            assertThatThrownBy(call).isInstanceOf(NullPointerException.class).hasMessage("heap");
        }
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            assertThatThrownBy(() -> SharedJoinableQueue.open(heap, "j", null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("codec");
            SharedRing ring = SharedRing.create(heap, "r", SharedRing.Kind.MPMC, 1024);
            assertThatThrownBy(() -> ring.offer(1, (byte[]) null, 0, 1)).isInstanceOf(NullPointerException.class)
                    .hasMessage("source");
            assertThatThrownBy(() -> ring.offer(1, (MemorySegment) null, 0, 1)).isInstanceOf(NullPointerException.class)
                    .hasMessage("source");
        }
    }

    /** helper-87: a write whose heap is closed under it met the closed memory in its unlock, unnamed. */
    @Test
    void shouldNameTheMapWhenItsHeapIsClosedDuringAWrite() {
        SharedHeap heap = SharedHeap.anonymous(1 << 20);
        SharedMap<Long, Long> map = SharedMap.create(heap, "m", Codec.longs(), Codec.longs(), new MapSizing(64, 8, 8));
        assertThatThrownBy(() -> map.compute(1L, (k, v) -> {
            heap.close(); // inside the segment's lock, as another thread's close may come
            return 2L;
        })).isInstanceOf(IllegalStateException.class).hasMessageStartingWith("SharedMap 'm' cannot be used: ")
                .cause().hasMessage("Already closed");
        SharedHeap other = SharedHeap.anonymous(1 << 20);
        SharedLongMap<byte[]> blobs = SharedLongMap.create(other, "b", Codec.bytes(), MapSizing.ofLongKeys(64, 8));
        other.close();
        closed(() -> blobs.setBytes(1L, MemorySegment.ofArray(new byte[8]), 0, 8))
                .hasMessageStartingWith("SharedLongMap 'b' cannot be used: ");
        closed(() -> blobs.delete(1L)).hasMessageStartingWith("SharedLongMap 'b' cannot be used: ");
    }

    @Test
    void shouldNameTheArrayAndTheSideOfABadCopyRange() {
        SharedHeap heap = SharedHeap.anonymous(1 << 20);
        SharedLongArray longs = SharedLongArray.create(heap, "longs", 4);
        try (heap) {
            SharedIntArray ints = SharedIntArray.create(heap, "ints", 4);
            assertThatThrownBy(() -> longs.copyFrom(new long[4], 3, 0, 2))
                    .isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("SharedLongArray 'longs': source array elements [3, 5) outside its 4 elements");
            assertThatThrownBy(() -> ints.copyTo(0, new int[4], -1, 1))
                    .hasMessage("SharedIntArray 'ints': target array elements [-1, 0) outside its 4 elements");
            assertThatThrownBy(() -> longs.copyFrom(MemorySegment.ofArray(new long[4]), 24, 0, 2))
                    .hasMessage("SharedLongArray 'longs': source segment bytes [24, 40) outside its 32 bytes");
            assertThatThrownBy(() -> longs.copyTo(0, MemorySegment.ofArray(new long[8]), Long.MAX_VALUE - 4, 2))
                    .hasMessage("SharedLongArray 'longs': target segment bytes [9223372036854775803, 2^63) outside"
                            + " its 64 bytes");
            assertThatThrownBy(() -> SharedIntArray.create(heap, "none", 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("array 'none': length=0 (expected: 1..1099511627776)");
            assertThatThrownBy(() -> SharedLongArray.openOrCreate(heap, "minus", -5))
                    .hasMessage("array 'minus': length=-5 (expected: 1..1099511627776)");
            assertThatThrownBy(() -> longs.copyFrom(new long[4], 0, 3, 2)).as("this array's side, as before")
                    .hasMessageStartingWith("SharedLongArray 'longs': Range [3, 3 + 2)");
            assertThatThrownBy(() -> longs.copyFrom((long[]) null, 0, 0, 1)).hasMessage("source");
        }
        closed(() -> longs.copyFrom(new long[1], 0, 0, 1)).hasMessageStartingWith("SharedLongArray 'longs' cannot be "
                + "used: its heap ");
        closed(() -> longs.copyTo(0, new long[1], 0, 1)).hasMessageStartingWith("SharedLongArray 'longs' cannot be ");
    }

    @Test
    void shouldNameTheMapTheRingAndTheCodecOfABadSegmentRange() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 22)) {
            MemorySegment eight = MemorySegment.ofArray(new byte[8]);
            SharedMap<String, Long> map = SharedMap.create(heap, "m", Codec.utf8(), Codec.longs(),
                    new MapSizing(100, 8, 8));
            map.put("a", 1L);
            assertThatThrownBy(() -> map.getInto("a", eight, -1)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageStartingWith("SharedMap 'm' in ")
                    .hasMessageEndingWith(": target bytes [-1, -1) outside the 8-byte target segment");
            assertThatThrownBy(() -> map.getInto("a", eight, 9)).hasMessageEndingWith("target bytes [9, 9) outside "
                    + "the 8-byte target segment");
            assertThatThrownBy(() -> map.getInto("a", null, 0)).isInstanceOf(NullPointerException.class)
                    .hasMessage("target");
            SharedLongMap<byte[]> longs = SharedLongMap.create(heap, "lm", Codec.bytes(), MapSizing.ofLongKeys(100, 8));
            assertThatThrownBy(() -> longs.setBytes(2, eight, 6, 4))
                    .hasMessageEndingWith("'lm' in " + heap
                            + ": source bytes [6, 10) outside the 8-byte source segment");
            SharedRing ring = SharedRing.create(heap, "events", SharedRing.Kind.MPMC, 1024);
            assertThatThrownBy(() -> ring.offer(1, MemorySegment.ofArray(new byte[16]), 14, 4))
                    .isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("ring 'events': source bytes [14, 18) outside the 16-byte segment");
            assertThatThrownBy(() -> Codec.utf8().decode(MemorySegment.ofArray(new byte[4]), 0, -1))
                    .hasMessage("Codec.utf8(): message bytes [0, -1) outside the 4-byte segment");
            assertThatThrownBy(() -> Codec.bytes().decode(MemorySegment.ofArray(new byte[4]), 2, 3))
                    .hasMessage("Codec.bytes(): message bytes [2, 5) outside the 4-byte segment");
            assertThatThrownBy(() -> Codec.record(Point.class).decode(MemorySegment.ofArray(new byte[16]), 0, 100))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageStartingWith("record codec ")
                    .hasMessageEndingWith(": message bytes [0, 100) outside the 16-byte segment");
            assertThat(ring.offer(1, MemorySegment.ofArray(new byte[16]), 12, 4)).as("the edge is inside").isTrue();
        }
    }

    @Test
    void shouldRefuseWhatNoCallCanUseAndSayWhy() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            for (int type : new int[] {0, -5}) {
                assertThatThrownBy(() -> SharedRing.create(heap, "r", SharedRing.Kind.MPMC, 1024, type))
                        .isInstanceOf(IllegalArgumentException.class).hasMessage("ring 'r': messageType=" + type
                                + " (expected: >= 1, the type every message of the ring has)");
                assertThatThrownBy(() -> SharedRing.openOrCreate(heap, "r", SharedRing.Kind.MPMC, 1024, type))
                        .isInstanceOf(IllegalArgumentException.class);
            }
            SharedRing ring = SharedRing.create(heap, "r", SharedRing.Kind.MPMC, 1024);
            assertThatThrownBy(() -> ring.offer(0, new byte[1], 0, 1))
                    .hasMessage("ring 'r': message type=0 (expected: >= 1)");
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1024);
            pipe.first().close();
            assertThatThrownBy(pipe::first).isInstanceOf(IllegalStateException.class)
                    .hasMessage("first end of pipe 'pipe' is closed");
            assertThatThrownBy(() -> SharedLong.create(heap, "m".repeat(88), 0, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("value (created with a lock) name '" + "m".repeat(88) + "' is 88 UTF-8 bytes"
                            + " (expected: at most 87, so that the block '<name>.lock' beside it fits the heap's"
                            + " 92-byte block names)");
            assertThatThrownBy(() -> SharedPipe.create(heap, "p".repeat(90), 1024))
                    .hasMessageStartingWith("pipe name '").hasMessageContaining("(expected: at most 89,");
            assertThat(heap.blocks()).as("nothing made: no lock, no rings").extracting(HeapBlock::name)
                    .containsExactly("r", "pipe.ab", "pipe.ba", "pipe");
        }
    }

    @Test
    void shouldNameTheStructureWhoseArgumentIsOutOfItsLimit() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            assertThatThrownBy(() -> SharedQueue.create(heap, "q", 1000, Codec.longs()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue 'q': capacity=1000 (expected: a power of 2 from 1024 to 1073741824)");
            assertThatThrownBy(() -> SharedQueue.openOrCreate(heap, "q", 512, Codec.longs()))
                    .hasMessageStartingWith("queue 'q': capacity=512 ");
            assertThatThrownBy(() -> SharedPipe.create(heap, "p", 1000)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("pipe 'p': capacity=1000 ");
            assertThatThrownBy(() -> SharedPipe.openOrCreate(heap, "p", 3000))
                    .hasMessageStartingWith("pipe 'p': capacity=3000 ");
            assertThatThrownBy(() -> SharedRing.openOrCreate(heap, "r", SharedRing.Kind.SPSC, 0))
                    .hasMessageStartingWith("ring 'r': capacity=0 ");
            assertThatThrownBy(() -> SharedCountDownLatch.openOrCreate(heap, "l", -2))
                    .hasMessage("latch 'l': count=-2 (expected: >= 0)");
            assertThatThrownBy(() -> SharedBarrier.openOrCreate(heap, "b", 2000))
                    .hasMessage("barrier 'b': parties=2000 (expected: 1..1024)");
            assertThat(heap.blocks()).as("nothing made").isEmpty();
        }
        String name = "shm4j-misuse-" + ProcessHandle.current().pid();
        assertThatThrownBy(() -> SharedHeap.create(name, 64)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("heap '" + name + "': size=64 (expected: >= ");
        assertThatThrownBy(() -> ShareableList.create(name, List.of("ok", "a\0")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("ShareableList '" + name + "' item 1: a String ending in a NUL byte");
        assertThat(SharedMemory.exists(name)).as("nothing made").isFalse();
    }

    @Test
    void shouldSayInTheCallersTermsWhatAStructureExistsWith() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedLongArray.create(heap, "hist", 4);
            assertThatThrownBy(() -> SharedLongArray.openOrCreate(heap, "hist", 5))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("array 'hist' exists with length 4 (asked: 5)");
            SharedList.create(heap, "names", Codec.utf8(), 16);
            assertThatThrownBy(() -> SharedList.openOrCreate(heap, "names", Codec.utf8(), 32))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageEndingWith(" exists with maxElementBytes=16 (asked: 32)");
        }
    }

    @Test
    void shouldSayHowLongALockNameMayBeForItsCondition() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            String longName = "l".repeat(92); // the longest block name: no room for ".condition"
            SharedLock lock = SharedLock.create(heap, longName);
            assertThatThrownBy(lock::newCondition).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("lock (with a condition) name '" + longName + "' is 92 UTF-8 bytes")
                    .hasMessageContaining("at most 82");
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "r".repeat(83));
            assertThatThrownBy(() -> rw.writeLock().newCondition())
                    .hasMessageStartingWith("read-write lock (with a condition) name");
            assertThat(SharedLock.create(heap, "m".repeat(82)).newCondition()).isNotNull();
        }
    }

    @Test
    void shouldNameANullArgument() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedLock lock = SharedLock.create(heap, "l");
            assertThatThrownBy(() -> lock.lock((Duration) null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("timeout");
            assertThatThrownBy(() -> lock.tryLock(1, null)).hasMessage("unit");
            SharedRing ring = SharedRing.create(heap, "r", SharedRing.Kind.MPMC, 1024);
            assertThatThrownBy(() -> ring.tryClaim(1, 8, null)).hasMessage("claim");
            assertThatThrownBy(() -> ring.setStallTimeout(null)).hasMessage("stallTimeout");
            byte[] one = {1};
            // also when no wait is needed (helper-95: accepted then, an NPE from inside the ring once one was)
            assertThatThrownBy(() -> ring.offer(1, one, 0, 1, Duration.ofSeconds(1), null)).hasMessage("strategy");
            assertThatThrownBy(() -> ring.offer(1, one, 0, 1, null, WaitStrategy.BLOCKING)).hasMessage("timeout");
            assertThatThrownBy(() -> ring.tryClaim(1, 8, new RingClaim(), Duration.ofSeconds(1), null))
                    .hasMessage("strategy");
            assertThat(ring.offer(1, one, 0, 1)).isTrue();
            assertThatThrownBy(() -> ring.poll((type, buffer, offset, length) -> { }, Duration.ofSeconds(1), null))
                    .hasMessage("strategy");
            assertThatThrownBy(() -> ring.take((type, buffer, offset, length) -> { }, null)).hasMessage("strategy");
            assertThat(ring.messageCount()).as("nothing was taken").isEqualTo(1);
            SharedQueue<Long> queue = SharedQueue.create(heap, "q", 1024, Codec.longs());
            assertThatThrownBy(() -> queue.poll(1, (TimeUnit) null)).hasMessage("unit");
            SharedLong counted = SharedLong.create(heap, "counted", 0, true);
            assertThatThrownBy(() -> counted.withLock(null)).hasMessage("update");
            assertThat(counted.lock().isLocked()).as("checked before the lock is taken").isFalse();
            assertThatThrownBy(() -> lock.withLock((Runnable) null)).hasMessage("action");
            assertThatThrownBy(() -> lock.withLock((Supplier<?>) null)).hasMessage("action");
            assertThat(lock.isLocked()).as("checked before the lock is taken").isFalse();
            SharedCondition condition = lock.newCondition();
            assertThatThrownBy(() -> SharedCondition.create(null, "c", lock)).hasMessage("heap");
            assertThatThrownBy(() -> SharedCondition.openOrCreate(null, "c", lock)).hasMessage("heap");
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment memory = arena.allocate(SharedCondition.requiredBytes(), 64);
                memory.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
                assertThatThrownBy(() -> SharedCondition.format(memory, 0, null)).hasMessage("lock");
                assertThat(memory.get(ValueLayout.JAVA_BYTE, 0)).as("checked before the bytes are zeroed").isOne();
            }
            lock.lock();
            try {
                assertThatThrownBy(() -> condition.awaitUntil(null)).hasMessage("deadline");
                assertThatThrownBy(() -> condition.awaitFor(null, 1, TimeUnit.SECONDS)).hasMessage("predicate");
            } finally {
                lock.unlock();
            }
            try (SharedMemory region = SharedMemory.anonymous(1024)) {
                assertThatThrownBy(() -> ShareableList.create(region, null)).hasMessage("items");
            }
        }
        assertThatThrownBy(() -> SharedHeap.anonymous(1 << 20, (HeapOptions) null)).hasMessage("options");
        assertThatThrownBy(() -> WorkerProcess.joinAll(null, Duration.ofSeconds(1))).hasMessage("workers");
        assertThatThrownBy(() -> WorkerProcess.startAll(1, null)).hasMessage("workers"); // helper-153: the JDK's
        assertThatThrownBy(() -> WorkerProcess.startAll(1, i -> null)).isInstanceOf(NullPointerException.class)
                .hasMessage("WorkerProcess.startAll: workers.apply(0) returned null");
    }

    /** @return the assertion on the {@link IllegalStateException} {@code call} throws, not the JDK's bare one */
    private static AbstractThrowableAssert<?, ? extends Throwable> closed(ThrowingCallable call) {
        return assertThatThrownBy(call).isInstanceOf(IllegalStateException.class)
                .satisfies(e -> assertThat(e.getMessage()).isNotEqualTo("Already closed"));
    }
}
