package org.shm4j.sync.atomic;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.nio.channels.FileChannel.MapMode.READ_WRITE;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SharedArraysTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldOperateOnLongElements() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLongArray a = SharedLongArray.create(heap, "a", 10);
            assertThat(a.length()).isEqualTo(10);
            assertThat(a.toArray()).containsOnly(0L);
            a.set(0, 5);
            a.setRelease(1, 6);
            a.setOpaque(2, 7);
            a.setPlain(3, 8);
            assertThat(new long[]{a.get(0), a.getAcquire(1), a.getOpaque(2), a.getPlain(3)})
                    .containsExactly(5, 6, 7, 8);
            assertThat(a.compareAndSet(0, 5, 50)).isTrue();
            assertThat(a.compareAndExchange(0, 1, 2)).isEqualTo(50);
            assertThat(a.getAndSet(0, 51)).isEqualTo(50);
            assertThat(a.getAndAdd(9, 3)).isZero();
            assertThat(a.addAndGet(9, 3)).isEqualTo(6);
            assertThat(a.incrementAndGet(9)).isEqualTo(7);
            assertThat(a.decrementAndGet(9)).isEqualTo(6);
            assertThat(a.getAndUpdate(9, x -> x * 10)).isEqualTo(6);
            assertThat(a.updateAndGet(9, x -> x + 1)).isEqualTo(61);
            assertThat(a.accumulateAndGet(9, 39, Long::sum)).isEqualTo(100);
            assertThat(SharedLongArray.open(heap, "a").get(9)).isEqualTo(100);
        }
    }

    /** helper-148: code ported from AtomicLongArray / AtomicIntegerArray did not compile without these. */
    @Test
    void shouldOfferTheAtomicArraysRemainingUpdates() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLongArray longs = SharedLongArray.create(heap, "longs", 2);
            assertThat(longs.getAndIncrement(1)).isZero();
            assertThat(longs.getAndDecrement(1)).isEqualTo(1);
            assertThat(longs.getAndAccumulate(1, 7, Long::sum)).isZero();
            assertThat(longs.get(1)).isEqualTo(7);
            SharedIntArray ints = SharedIntArray.create(heap, "ints", 2);
            assertThat(ints.getAndIncrement(0)).isZero();
            assertThat(ints.getAndDecrement(0)).isEqualTo(1);
            assertThat(ints.getAndAccumulate(0, 5, Math::max)).isZero();
            assertThat(ints.get(0)).isEqualTo(5);
            SharedDoubleArray doubles = SharedDoubleArray.create(heap, "doubles", 1);
            assertThat(doubles.getAndAccumulate(0, 2.5, Double::sum)).isZero();
            assertThat(doubles.getAndAccumulate(0, 2.0, Math::min)).isEqualTo(2.5);
            assertThat(doubles.get(0)).isEqualTo(2.0);
        }
    }

    /** helper-248: the weak compare-and-set forms and compareAndExchangeAcquire/Release, as AtomicLongArray's. */
    @Test
    void shouldOfferTheWeakAndOrderedCompareAndSetFormsPerElement() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLongArray longs = SharedLongArray.create(heap, "longs", 2);
            assertThat(longs.weakCompareAndSetVolatile(1, 5, 9)).isFalse();
            assertThat(SharedValuesTest.eventually(() -> longs.weakCompareAndSetPlain(1, 0, 1))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> longs.weakCompareAndSetVolatile(1, 1, 2))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> longs.weakCompareAndSetAcquire(1, 2, 3))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> longs.weakCompareAndSetRelease(1, 3, 4))).isTrue();
            assertThat(longs.compareAndExchangeAcquire(1, 4, 5)).isEqualTo(4);
            assertThat(longs.compareAndExchangeRelease(1, 5, 6)).isEqualTo(5);
            assertThat(longs.toArray()).containsExactly(0, 6);
            SharedIntArray ints = SharedIntArray.create(heap, "ints", 2);
            assertThat(SharedValuesTest.eventually(() -> ints.weakCompareAndSetPlain(0, 0, 1))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> ints.weakCompareAndSetVolatile(0, 1, 2))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> ints.weakCompareAndSetAcquire(0, 2, 3))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> ints.weakCompareAndSetRelease(0, 3, 4))).isTrue();
            assertThat(ints.compareAndExchangeAcquire(0, 4, 5)).isEqualTo(4);
            assertThat(ints.compareAndExchangeRelease(0, 5, 6)).isEqualTo(5);
            assertThat(ints.toArray()).containsExactly(6, 0);
            SharedDoubleArray doubles = SharedDoubleArray.create(heap, "doubles", 1);
            assertThat(SharedValuesTest.eventually(() -> doubles.weakCompareAndSetPlain(0, 0.0, 1.5))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> doubles.weakCompareAndSetVolatile(0, 1.5, 2.5))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> doubles.weakCompareAndSetAcquire(0, 2.5, 3.5))).isTrue();
            assertThat(SharedValuesTest.eventually(() -> doubles.weakCompareAndSetRelease(0, 3.5, 4.5))).isTrue();
            assertThat(doubles.compareAndExchangeAcquire(0, 4.5, 5.5)).isEqualTo(4.5);
            assertThat(doubles.compareAndExchangeRelease(0, 5.5, 6.5)).isEqualTo(5.5);
            assertThat(doubles.get(0)).isEqualTo(6.5);
            assertThatThrownBy(() -> ints.weakCompareAndSetVolatile(2, 0, 1))
                    .hasMessage("SharedIntArray 'ints': Index 2 out of bounds for length 2");
        }
    }

    /** helper-133: arrays printed Object's {@code SharedLongArray@9573584}; now their elements, as AtomicLongArray. */
    @Test
    void shouldShowTheirElements() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLongArray longs = SharedLongArray.create(heap, "longs", 3);
            longs.set(1, -5);
            assertThat(longs).hasToString("[0, -5, 0]");
            assertThat(SharedIntArray.create(heap, "ints", 1)).hasToString("[0]");
            SharedDoubleArray doubles = SharedDoubleArray.create(heap, "doubles", 2);
            doubles.set(0, 0.5);
            assertThat(doubles).hasToString("[0.5, 0.0]");
            SharedByteArray bytes = SharedByteArray.create(heap, "bytes", 40);
            bytes.set(39, (byte) 7);
            assertThat(bytes).hasToString("[" + "0, ".repeat(32) + "... (40 elements)]");
        }
    }

    @Test
    void shouldCopyInBulk() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            SharedLongArray a = SharedLongArray.create(heap, "a", 8);
            a.copyFrom(new long[]{1, 2, 3, 4}, 1, 2, 3);
            assertThat(a.toArray()).containsExactly(0, 0, 2, 3, 4, 0, 0, 0);
            long[] out = new long[5];
            a.copyTo(2, out, 1, 3);
            assertThat(out).containsExactly(0, 2, 3, 4, 0);
            MemorySegment buffer = arena.allocate(64, 8);
            a.copyTo(2, buffer, 8, 2);
            assertThat(buffer.get(JAVA_LONG, 8)).isEqualTo(2);
            buffer.set(JAVA_LONG, 0, 99);
            a.copyFrom(buffer, 0, 7, 1);
            assertThat(a.get(7)).isEqualTo(99);
            a.fill(-1);
            assertThat(a.toArray()).containsOnly(-1L);
            assertThatThrownBy(() -> a.copyFrom(new long[4], 0, 6, 4)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> a.copyTo(0, new long[2], 0, 3)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> a.copyFrom(buffer, 0, -1, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    /**
     * helper-248: a copy into a read-only target segment said the array's own memory was mapped read-only
     * (IllegalStateException "SharedLongArray 'a' cannot be written here: its memory is mapped read-only"), blaming
     * the array for the caller's segment; now the argument is refused, as SharedMap.getInto refuses it.
     */
    @Test
    void shouldRefuseAReadOnlyTargetSegmentAsTheCallersArgument() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            SharedLongArray a = SharedLongArray.create(heap, "a", 2);
            MemorySegment readOnly = arena.allocate(16, 8).asReadOnly();
            assertThatThrownBy(() -> a.copyTo(0, readOnly, 0, 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("SharedLongArray 'a': the target segment is read-only");
            a.set(0, 5);
            assertThat(a.toArray()).containsExactly(5, 0); // the array itself stays writable
        }
    }

    /**
     * helper-248: a copy from or to a segment whose arena the caller had closed threw FFM's bare "Already closed",
     * which every other access of the array uses only for its own heap's close, re-worded; now the side is named.
     */
    @Test
    void shouldSayThatTheCallersSegmentIsClosed() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedIntArray a = SharedIntArray.create(heap, "a", 2);
            Arena arena = Arena.ofConfined();
            MemorySegment closed = arena.allocate(8, 4);
            arena.close();
            assertThatThrownBy(() -> a.copyTo(0, closed, 0, 1)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedIntArray 'a': the target segment is closed")
                    .cause().hasMessage("Already closed");
            assertThatThrownBy(() -> a.copyFrom(closed, 0, 0, 1)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedIntArray 'a': the source segment is closed");
            a.set(1, 7);
            assertThat(a.toArray()).containsExactly(0, 7);
        }
    }

    /**
     * helper-248: an array of more elements than a Java array holds threw FFM's "Segment is too large to wrap as
     * byte[]. Size: 2147483656" from toArray, naming neither the array nor what to do instead.
     */
    @Test
    void shouldSayWhichArrayIsTooLongForAJavaArray(@TempDir Path dir) throws IOException {
        long length = (1L << 31) + 8; // a sparse file: nothing of it is touched
        try (FileChannel file = FileChannel.open(dir.resolve("big"), CREATE_NEW, READ, WRITE);
             Arena arena = Arena.ofConfined()) {
            SharedByteArray bytes = SharedByteArray.wrap(file.map(READ_WRITE, 0, length, arena), 0, length);
            assertThatThrownBy(bytes::toArray).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedByteArray at offset 0 of a wrapped segment: its 2147483656 elements do not "
                            + "fit in a Java array (at most 2147483647); copy ranges of it with copyTo");
        }
    }

    @Test
    void shouldOperateOnIntDoubleAndByteElements() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedIntArray ints = SharedIntArray.create(heap, "i", 3);
            assertThat(ints.addAndGet(2, 5)).isEqualTo(5);
            assertThat(ints.segment().byteSize()).isEqualTo(12);
            SharedDoubleArray doubles = SharedDoubleArray.create(heap, "d", 3);
            assertThat(doubles.addAndGet(1, 0.5)).isEqualTo(0.5);
            assertThat(doubles.getAndAdd(1, 0.25)).isEqualTo(0.5);
            assertThat(doubles.compareAndSet(1, 0.75, 1.0)).isTrue();
            doubles.copyFrom(new double[]{7.5}, 0, 2, 1);
            assertThat(doubles.toArray()).containsExactly(0.0, 1.0, 7.5);
            SharedByteArray bytes = SharedByteArray.create(heap, "b", 5);
            bytes.set(0, (byte) 1);
            bytes.setRelease(1, (byte) 2);
            bytes.setOpaque(2, (byte) 3);
            bytes.setPlain(3, (byte) 4);
            assertThat(new byte[]{bytes.get(0), bytes.getAcquire(1), bytes.getOpaque(2), bytes.getPlain(3)})
                    .containsExactly(1, 2, 3, 4);
            bytes.copyFrom("hello".getBytes(), 0, 0, 5);
            assertThat(new String(bytes.toArray())).isEqualTo("hello");
            bytes.fill((byte) 'z');
            assertThat(new String(SharedByteArray.open(heap, "b").toArray())).isEqualTo("zzzzz");
        }
    }

    @Test
    void shouldRejectBadIndicesLengthsAndTypes() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            SharedLongArray a = SharedLongArray.create(heap, "a", 4);
            assertThatThrownBy(() -> a.get(4)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessage("SharedLongArray 'a': Index 4 out of bounds for length 4");
            assertThatThrownBy(() -> a.set(-1, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageStartingWith("SharedLongArray 'a': ");
            assertThatThrownBy(() -> a.getAcquire(7)).hasMessageStartingWith("SharedLongArray 'a': ");
            assertThatThrownBy(() -> SharedByteArray.create(heap, "b", 5).get(5))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageStartingWith("SharedByteArray 'b': ");
            assertThatThrownBy(() -> SharedLongArray.wrap(arena.allocate(32, 8), 0, 4).get(4))
                    .hasMessageStartingWith("SharedLongArray at offset 0 of a wrapped segment: ");
            assertThatThrownBy(() -> SharedLongArray.create(heap, "zero", 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("length=0");
            assertThatThrownBy(() -> SharedLongArray.create(heap, "neg", -3))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SharedIntArray.open(heap, "a")).isInstanceOf(ShmTypeMismatchException.class);
            assertThatThrownBy(() -> SharedLongArray.openOrCreate(heap, "a", 5))
                    .isInstanceOf(ShmTypeMismatchException.class);
            assertThat(SharedLongArray.openOrCreate(heap, "a", 4).length()).isEqualTo(4);
            MemorySegment raw = arena.allocate(64, 8);
            assertThat(SharedLongArray.wrap(raw, 8, 7).length()).isEqualTo(7);
            assertThatThrownBy(() -> SharedLongArray.wrap(raw, 8, 8)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> SharedLongArray.wrap(raw, 4, 2)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SharedIntArray.wrap(raw, 2, 2)).isInstanceOf(IllegalArgumentException.class);
            assertThat(SharedByteArray.wrap(raw, 3, 5).length()).isEqualTo(5);
        }
    }

    @Test
    void shouldUpdateElementsExactlyFromThreads() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedIntArray a = SharedIntArray.create(heap, "a", 16);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 40_000; i++) {
                        a.incrementAndGet(i % 16);
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join(60_000);
            }
            for (int i = 0; i < 16; i++) {
                assertThat(a.get(i)).isEqualTo(10_000);
            }
        }
    }

    @Test
    void shouldHaveALockBesideItWhenCreatedWithOneLikePythonsGetLock() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            List<SharedArray> locked = List.of(SharedIntArray.create(heap, "i", 4, true),
                    SharedLongArray.create(heap, "l", 4, true), SharedDoubleArray.create(heap, "d", 4, true),
                    SharedByteArray.create(heap, "b", 4, true));
            List<SharedArray> opened = List.of(SharedIntArray.open(heap, "i"), SharedLongArray.open(heap, "l"),
                    SharedDoubleArray.openOrCreate(heap, "d", 4), SharedByteArray.open(heap, "b"));
            for (int k = 0; k < locked.size(); k++) {
                locked.get(k).lock().lock();
                assertThat(opened.get(k).lock().isLocked()).as("the same lock, found by open").isTrue();
                assertThat(opened.get(k).lock().isHeldByCurrentThread()).isTrue();
                locked.get(k).lock().unlock();
            }
            assertThat(heap.find("i.lock")).isPresent();
            SharedLongArray plain = SharedLongArray.create(heap, "plain", 4);
            assertThatThrownBy(plain::lock).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedLongArray 'plain' has no lock: it was created without one (no block of its "
                            + "name + '.lock' was beside it when it was opened)");
            assertThatThrownBy(() -> SharedIntArray.wrap(arena.allocate(64, 8), 0, 4).lock())
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("has no lock");
            assertThatThrownBy(() -> SharedIntArray.create(heap, "i", 4, true))
                    .hasMessageStartingWith("block 'i' ");
        }
    }

    /** helper-116: each of these failed creations left '<name>.lock', which later openers took for the value's. */
    @Test
    void shouldLeaveNoLockBehindWhenACreationWithOneIsRefused() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            assertThatThrownBy(() -> SharedLongArray.create(heap, "x", 0, true))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("array 'x': length");
            SharedLongArray.create(heap, "y", 4);
            assertThatThrownBy(() -> SharedLongArray.create(heap, "y", 4, true))
                    .isInstanceOf(ShmAlreadyExistsException.class).hasMessageStartingWith("block 'y' ");
            SharedLong.create(heap, "z");
            assertThatThrownBy(() -> SharedIntArray.create(heap, "z", 4, true))
                    .isInstanceOf(ShmAlreadyExistsException.class);
            assertThatThrownBy(() -> SharedLong.create(heap, "z", 0, true))
                    .isInstanceOf(ShmAlreadyExistsException.class);
            for (String name : List.of("x", "y", "z")) {
                assertThat(heap.find(name + ".lock")).as("a lock beside '%s'", name).isEmpty();
            }
            assertThatThrownBy(() -> SharedLongArray.open(heap, "y").lock()).isInstanceOf(IllegalStateException.class);
            assertThat(SharedLongArray.create(heap, "x", 4, true).lock().isLocked()).isFalse();
        }
    }

    @Test
    void shouldKeepSeveralElementsInStepUnderTheArraysLockAcrossProcesses() throws Exception {
        String heapName = names.unique("array-lock");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLongArray pair = SharedLongArray.create(heap, "pair", 2, true);
            int rounds = 5_000;
            List<ChildJvm> children = new ArrayList<>();
            try {
                for (int c = 0; c < 2; c++) {
                    children.add(ChildJvm.start(PairWorker.class, heapName, String.valueOf(rounds)));
                }
                for (ChildJvm child : children) {
                    child.awaitSuccess(Duration.ofSeconds(90));
                }
            } finally {
                children.forEach(ChildJvm::close);
            }
            assertThat(pair.get(0)).isEqualTo(2L * rounds);
            assertThat(pair.get(1)).isEqualTo(2L * rounds);
        }
    }

    /**
     * {@code main(heap, rounds)}: adds 1 to both elements of "pair" with plain accesses under its lock, checking that
     * they are equal first ({@code with pair.get_lock(): ...} in Python).
     */
    public static final class PairWorker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLongArray pair = SharedLongArray.open(heap, "pair");
                for (int i = Integer.parseInt(args[1]); i > 0; i--) {
                    pair.lock().withLock(() -> {
                        long first = pair.getPlain(0);
                        if (pair.getPlain(1) != first) {
                            throw new AssertionError("elements out of step: " + first + ", " + pair.getPlain(1));
                        }
                        pair.setPlain(0, first + 1);
                        pair.setPlain(1, first + 1);
                    });
                }
            }
        }
    }
}
