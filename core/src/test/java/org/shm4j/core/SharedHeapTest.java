package org.shm4j.core;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.HeapRemoval;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.testing.Await;
import org.shm4j.testing.ShmNames;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SharedHeapTest {
    private static final BlockType COUNTER = new BlockType(0x100, 1);
    private static final BlockType OTHER = new BlockType(0x200, 1);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @TempDir
    Path dir;

    @Test
    void shouldGiveBackTheSpaceOfAnAllocatorKilledBetweenMovingTheTopAndPublishingItsBlock() {
        String name = names.unique("top");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16); SharedMemory raw = SharedMemory.open(name)) {
            HeapBlock first = heap.allocate("first", COUNTER, 100);
            long free = heap.freeBytes();
            // what an allocator killed between its store of allocTop and its store of entryCount leaves
            raw.segment().set(JAVA_LONG, HeapLayout.ALLOC_TOP_OFFSET, first.offset() + 100 + 4096);
            assertThat(heap.freeBytes()).as("the room the next allocation takes").isEqualTo(free);
            HeapBlock second = heap.allocate("second", COUNTER, 8);
            assertThat(second.offset()).as("right after the last published block")
                    .isEqualTo(first.offset() + 128);
            assertThat(heap.freeBytes()).isEqualTo(free - 28 - 8);
            raw.segment().set(JAVA_LONG, HeapLayout.ALLOC_TOP_OFFSET, second.offset()); // below a block: damaged
            assertThatThrownBy(() -> heap.allocate("third", COUNTER, 8)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("allocTop=" + second.offset() + " below the end of its last block");
        }
    }

    @Test
    void shouldAllocateAndFindBlocksFromAnotherMapping() {
        String name = names.unique("heap");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16); SharedHeap other = SharedHeap.open(name)) {
            HeapBlock block = heap.allocate("counter", COUNTER, 8);
            block.segment().set(JAVA_LONG, 0, 99L);
            HeapBlock seen = other.lookup("counter", COUNTER);
            assertThat(seen.segment().get(JAVA_LONG, 0)).isEqualTo(99L);
            assertThat(seen.offset()).isEqualTo(block.offset());
            assertThat(seen.byteSize()).isEqualTo(8);
            assertThat(seen.type()).isEqualTo(COUNTER);
            assertThat(seen.alignment()).isEqualTo(64);
            assertThat(other.find("absent")).isEmpty();
            assertThat(other.blocks()).extracting(HeapBlock::name).containsExactly("counter");
        }
    }

    @Test
    void shouldAlignBlocksAsAsked() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("one", COUNTER, 3);
            HeapBlock page = heap.allocate("page", COUNTER, 100, 4096, s -> { });
            HeapBlock packed = heap.allocate("packed", COUNTER, 1, 1, s -> { });
            assertThat(page.offset() % 4096).isZero();
            assertThat(page.segment().address() % 4096).isZero();
            assertThat(packed.offset()).isEqualTo(page.offset() + 100);
            HeapBlock line = heap.allocate("line", COUNTER, 8);
            assertThat(line.offset() % 64).isZero();
            assertThat(line.offset()).isGreaterThan(packed.offset());
        }
    }

    @Test
    void shouldRunInitializerBeforePublishing() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            HeapBlock block = heap.allocate("init", COUNTER, 16, 64, s -> s.set(JAVA_LONG, 8, 7L));
            assertThat(block.segment().get(JAVA_LONG, 8)).isEqualTo(7L);
            assertThat(block.segment().get(JAVA_LONG, 0)).isZero();
        }
    }

    @Test
    void shouldPublishNothingWhenInitializerThrows() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            long free = heap.freeBytes();
            assertThatThrownBy(() -> heap.allocate("bad", COUNTER, 64, 64, s -> {
                s.set(JAVA_LONG, 0, -1L);
                throw new IllegalStateException("boom");
            })).isInstanceOf(IllegalStateException.class).hasMessage("boom");
            assertThat(heap.find("bad")).isEmpty();
            assertThat(heap.freeBytes()).isEqualTo(free);
            HeapBlock again = heap.allocate("bad", COUNTER, 64);
            assertThat(again.segment().get(JAVA_LONG, 0)).as("space reused and zeroed").isZero();
        }
    }

    @Test
    void shouldRefuseAllocationFromInitializer() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            assertThatThrownBy(() -> heap.allocate("outer", COUNTER, 8, 8, s -> heap.allocate("inner", COUNTER, 8)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("from an initializer");
        }
    }

    @Test
    void shouldRefuseAllocationFromInitializerThroughAnotherViewOfTheHeap() {
        String name = names.unique("views");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16); SharedHeap other = SharedHeap.open(name)) {
            assertThatThrownBy(() -> heap.allocate("outer", COUNTER, 8, 8, s -> other.allocate("inner", COUNTER, 8)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("from an initializer");
        }
    }

    /**
     * The JVM-local allocation lock was per view object: a thread allocating through a second view of a heap went on
     * to the shared word, whose value (the process token) names no thread, while a thread of this process held it
     * through the first view; a release through another view after a close (OwnerLock.unlock) could then free that
     * thread's hold. All views of the heap in this process now share one: B waits on it, not on the word.
     */
    @Test
    void shouldMakeAllocatorsThroughTwoViewsOfAHeapWaitOnOneJvmLock() throws Exception {
        String name = names.unique("views");
        CountDownLatch inInitializer = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (SharedHeap first = SharedHeap.create(name, 1 << 16); SharedHeap second = SharedHeap.open(name)) {
            FutureTask<HeapBlock> a = new FutureTask<>(() -> first.allocate("a", COUNTER, 8, 8, s -> {
                inInitializer.countDown();
                assertThat(awaitQuietly(release)).isTrue();
            }));
            FutureTask<HeapBlock> b = new FutureTask<>(() -> second.allocate("b", COUNTER, 8));
            Thread.ofPlatform().start(a);
            try {
                assertThat(inInitializer.await(10, TimeUnit.SECONDS)).as("A in its initializer").isTrue();
                Thread waiter = Thread.ofPlatform().start(b);
                Await.until("B waiting on the JVM-local lock", Duration.ofSeconds(10),
                        () -> LockSupport.getBlocker(waiter) instanceof AbstractQueuedSynchronizer);
                assertThat(b.isDone()).isFalse();
            } finally {
                release.countDown();
            }
            assertThat(a.get(10, TimeUnit.SECONDS).name()).isEqualTo("a");
            assertThat(b.get(10, TimeUnit.SECONDS).name()).isEqualTo("b");
        }
    }

    private static boolean awaitQuietly(CountDownLatch latch) {
        try {
            return latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Test
    void shouldRefuseDuplicateNameOnAllocate() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("x", COUNTER, 8);
            assertThatThrownBy(() -> heap.allocate("x", COUNTER, 8))
                    .isInstanceOf(ShmAlreadyExistsException.class).hasMessageContaining("block 'x' already exists");
        }
    }

    @Test
    void shouldAllocateOrLookupOnce() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            int[] runs = {0};
            HeapBlock first = heap.allocateOrLookup("x", COUNTER, 16, 64, s -> runs[0]++);
            HeapBlock second = heap.allocateOrLookup("x", COUNTER, 16, 64, s -> runs[0]++);
            assertThat(second.offset()).isEqualTo(first.offset());
            assertThat(runs[0]).isEqualTo(1);
            assertThatThrownBy(() -> heap.allocateOrLookup("x", OTHER, 16, 64, s -> { }))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("block 'x' in heap " + heap.memory() + " is type 0x100 v1 (expected: type 0x200 v1)");
            assertThatThrownBy(() -> heap.allocateOrLookup("x", COUNTER, 32, 64, s -> { }))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("byteSize=16 (expected: 32)");
        }
    }

    @Test
    void shouldReportMissingBlockAndWrongType() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("x", COUNTER, 8);
            assertThatThrownBy(() -> heap.lookup("y", COUNTER)).isInstanceOf(ShmNotFoundException.class)
                    .hasMessageContaining("no block named 'y'");
            assertThatThrownBy(() -> heap.lookup("x", OTHER)).isInstanceOf(ShmTypeMismatchException.class);
            assertThatThrownBy(() -> heap.lookup("x", new BlockType(0x100, 2)))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("type 0x100 v1");
        }
    }

    @Test
    void shouldReportFullCatalog() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16, HeapOptions.defaults().withCatalogCapacity(3))) {
            heap.allocate("a", COUNTER, 8);
            heap.allocate("b", COUNTER, 8);
            heap.allocate("c", COUNTER, 8);
            assertThatThrownBy(() -> heap.allocate("d", COUNTER, 8)).isInstanceOf(ShmFullException.class)
                    .hasMessageContaining("catalog").hasMessageContaining("full: 3 blocks; cannot add 'd'");
            assertThat(heap.catalogCapacity()).isEqualTo(3);
        }
    }

    @Test
    void shouldReportFullHeap() {
        try (SharedHeap heap = SharedHeap.anonymous(16_384)) {
            long free = heap.freeBytes();
            assertThat(free).isEqualTo(16_384 - 10_496);
            heap.allocate("most", COUNTER, free - 100);
            assertThatThrownBy(() -> heap.allocate("more", COUNTER, 200)).isInstanceOf(ShmFullException.class)
                    .hasMessageContaining("is full: block 'more' needs byteSize=200");
            assertThatThrownBy(() -> heap.allocate("huge", COUNTER, Long.MAX_VALUE))
                    .isInstanceOf(ShmFullException.class);
            assertThat(heap.find("more")).isEmpty();
            heap.allocate("fits", COUNTER, 64);
        }
    }

    @Test
    void shouldRejectBadArguments() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            assertThatThrownBy(() -> heap.allocate("a", COUNTER, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(heap + ": block 'a': byteSize=0 (expected: > 0)");
            assertThatThrownBy(() -> heap.allocate("a", COUNTER, 8, 3, s -> { }))
                    .isInstanceOf(IllegalArgumentException.class)
                            .hasMessage(heap + ": block 'a': alignment=3 (expected: a positive power of 2)");
            assertThatThrownBy(() -> heap.allocateOrLookup("a", COUNTER, 8, 1L << 31, s -> { }))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(heap + ": block 'a': alignment=2147483648 (expected: 1..1073741824)");
            assertThatThrownBy(() -> heap.allocate("", COUNTER, 8)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(heap + ": block name UTF-8 length=0 (expected: 1..92)");
            assertThatThrownBy(() -> heap.allocate("n".repeat(93), COUNTER, 8))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("length=93 (expected: 1..92)");
            assertThatThrownBy(() -> heap.find("n".repeat(93))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(heap + ": block name UTF-8 length=93 (expected: 1..92)");
            assertThatThrownBy(() -> heap.allocate("new\nline", COUNTER, 8))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("control character");
            assertThatThrownBy(() -> heap.allocate("lone\uD800", COUNTER, 8))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lone surrogate");
            assertThatThrownBy(() -> new BlockType(1, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SharedHeap.anonymous(8_000)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("anonymous heap: size=8000 (expected: >= 10560");
            assertThatThrownBy(() -> HeapOptions.defaults().withCatalogCapacity(0))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> HeapOptions.defaults().withCatalogCapacity(65_537))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> HeapOptions.defaults().withInitTimeout(Duration.ofSeconds(-1)))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void shouldNotLeaveAFileWhenSizeIsTooSmall() {
        String name = names.unique("small");
        assertThatThrownBy(() -> SharedHeap.create(name, 100)).isInstanceOf(IllegalArgumentException.class);
        assertThat(SharedMemory.exists(name)).isFalse();
    }

    @Test
    void shouldAcceptUnicodeBlockNames() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("zähler-計数", COUNTER, 8);
            assertThat(heap.lookup("zähler-計数", COUNTER).name()).isEqualTo("zähler-計数");
            heap.allocate("é".repeat(46), COUNTER, 8); // 92 UTF-8 bytes
        }
    }

    @Test
    void shouldOpenReadOnlyHeap() {
        String name = names.unique("ro");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            heap.allocate("x", COUNTER, 8).segment().set(JAVA_LONG, 0, 5L);
            try (SharedHeap ro = SharedHeap.openReadOnly(name)) {
                assertThat(ro.lookup("x", COUNTER).segment().get(JAVA_LONG, 0)).isEqualTo(5L);
                assertThatThrownBy(() -> ro.allocate("y", COUNTER, 8))
                        .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("read-only");
            }
        }
    }

    @Test
    void shouldSayAFileWasTruncatedOrExtendedSinceItWasMade() throws IOException {
        Path file = dir.resolve("cut.bin");
        try (SharedHeap heap = SharedHeap.create(file, 1 << 16)) {
            heap.allocate("kept", COUNTER, 8);
        }
        for (long length : new long[] {1 << 15, 1 << 17}) {
            try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
                raw.setLength(length);
            }
            assertThatThrownBy(() -> SharedHeap.open(file)).isInstanceOf(ShmFormatException.class)
                    .hasMessageEndingWith(" has heapSize=65536 in its header, but " + length + " bytes are mapped (a"
                            + " file truncated or extended since it was made, or a damaged header)");
        }
    }

    @Test
    void shouldPersistFileBackedHeap() {
        Path file = dir.resolve("heap.bin");
        try (SharedHeap heap = SharedHeap.create(file, 1 << 16)) {
            heap.allocate("kept", COUNTER, 8).segment().set(JAVA_LONG, 0, 1234L);
            heap.memory().force();
        }
        try (SharedHeap heap = SharedHeap.open(file)) {
            assertThat(heap.lookup("kept", COUNTER).segment().get(JAVA_LONG, 0)).isEqualTo(1234L);
        }
        try (SharedHeap heap = SharedHeap.openOrCreate(file, 1 << 20)) {
            assertThat(heap.byteSize()).isEqualTo(1 << 16);
            heap.allocate("more", COUNTER, 8);
        }
        try (SharedHeap heap = SharedHeap.openReadOnly(file)) {
            assertThat(heap.blocks()).extracting(HeapBlock::name).containsExactly("kept", "more");
        }
        Path fresh = dir.resolve("fresh.bin");
        try (SharedHeap heap = SharedHeap.openOrCreate(fresh, 1 << 16)) {
            assertThat(heap.blocks()).isEmpty();
        }
    }

    @Test
    void shouldOpenOrCreateNamedHeap() {
        String name = names.unique("ooc");
        try (SharedHeap a = SharedHeap.openOrCreate(name, 1 << 16);
             SharedHeap b = SharedHeap.openOrCreate(name, 1 << 20)) {
            a.allocate("x", COUNTER, 8);
            assertThat(b.byteSize()).isEqualTo(1 << 16);
            assertThat(b.find("x")).isPresent();
        }
    }

    @Test
    void shouldRefuseAZeroRegionAtOnce() {
        String name = names.unique("zero");
        SharedMemory.create(name, 1 << 16).close(); // e.g. Python's SharedMemory(create=True): all zero
        long start = System.nanoTime();
        assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("has no magic (zero): not a shm4j heap");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("no wait for a creator: the name comes last")
                .isLessThan(HeapOptions.defaults().initTimeout().dividedBy(2));
    }

    @Test
    void shouldRefuseARegionTooSmallForAHeader() {
        String name = names.unique("tiny");
        SharedMemory.create(name, 100).close();
        assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("too small for a heap header: size=100 (expected: >= 256)");
    }

    @Test
    void shouldRefuseForeignBytes() {
        String name = names.unique("foreign");
        try (SharedMemory region = SharedMemory.create(name, 1 << 16)) {
            region.segment().fill((byte) 'x');
        }
        assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("magic 0x7878787878787878").hasMessageContaining("not a shm4j heap");
    }

    /** A version below 1, which no shm4j wrote (damaged bytes), was called "made by an older shm4j" too. */
    @ParameterizedTest
    @ValueSource(ints = {4, 0, -974484175})
    void shouldRefuseUnknownLayoutVersion(int version) {
        String name = heapOfLayoutVersion(version);
        assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(ShmFormatException.class)
                .hasMessageEndingWith("layout version " + version + " (expected: 3)");
    }

    @Test
    void shouldRefuseAHeapOfAnOlderLayoutVersionWithAHint() {
        String name = heapOfLayoutVersion(2);
        assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("layout version 2 (expected: 3; made by an older shm4j");
        assertThatThrownBy(() -> SharedHeap.unlinkIfStale(name)).isInstanceOf(ShmFormatException.class);
        assertThat(SharedMemory.exists(name)).isTrue();
    }

    /** @return the name of a new heap whose layout version field was then overwritten with {@code version} */
    private String heapOfLayoutVersion(int version) {
        String name = names.unique("version-" + version);
        SharedHeap.create(name, 1 << 16).close();
        try (SharedMemory region = SharedMemory.open(name)) {
            region.segment().set(java.lang.foreign.ValueLayout.JAVA_INT, 8, version);
        }
        return name;
    }

    @Test
    void shouldThrowIllegalStateAfterClose() {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        HeapBlock block = heap.allocate("x", COUNTER, 8);
        heap.close();
        heap.close();
        assertThatThrownBy(() -> block.segment().get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> heap.allocate("y", COUNTER, 8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> heap.find("x")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shouldGiveEachNameOneBlockWhenThreadsRace() throws Exception {
        int threads = 4;
        int blocksPerThread = 40;
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20, HeapOptions.defaults().withCatalogCapacity(64));
             ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<List<Long>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                results.add(pool.submit(() -> {
                    start.await();
                    List<Long> offsets = new ArrayList<>();
                    for (int i = 0; i < blocksPerThread; i++) {
                        HeapBlock block = heap.allocateOrLookup("b" + i, COUNTER, 64, 64,
                                s -> s.set(JAVA_LONG, 0, 1L));
                        offsets.add(block.offset());
                        assertThat(block.segment().get(JAVA_LONG, 0)).isEqualTo(1L);
                    }
                    return offsets;
                }));
            }
            start.countDown();
            List<Long> first = results.get(0).get(30, TimeUnit.SECONDS);
            for (Future<List<Long>> result : results) {
                assertThat(result.get(30, TimeUnit.SECONDS)).isEqualTo(first);
            }
            assertThat(heap.blocks()).hasSize(blocksPerThread);
            assertThat(first).doesNotHaveDuplicates();
        }
    }

    @Test
    void shouldLeaveTheAttachTableOnCloseThroughASecondMappingAndNeverAnotherHeapAtTheName() {
        String name = names.unique("close-order");
        SharedHeap first = SharedHeap.create(name, 1 << 16);
        SharedHeap second = SharedHeap.open(name);
        assertThat(first.attachedProcesses()).singleElement().extracting(HeapProcess::attachments).isEqualTo(2L);
        assertThat(first.attachedProcesses()).as("unmodifiable, as blocks()").isUnmodifiable();
        second.close();
        assertThat(first.attachedProcesses()).as("one attachment left").singleElement()
                .extracting(HeapProcess::attachments).isEqualTo(1L);
        assertThatThrownBy(second::blocks).isInstanceOf(IllegalStateException.class);

        assertThat(SharedHeap.unlink(name)).isTrue();
        try (SharedHeap replacement = SharedHeap.create(name, 1 << 16)) {
            first.close(); // its name now leads to another heap: detaches through its own mapping, before unmapping
            assertThat(replacement.attachedProcesses()).as("the new heap's table is untouched").singleElement()
                    .extracting(HeapProcess::attachments).isEqualTo(1L);
        }
        assertThat(SharedHeap.unlink(name)).isTrue();
    }

    @Test
    void shouldCloseAHeapWhoseNameWasRemovedAndAFileHeap(@TempDir Path dir) {
        String name = names.unique("close-unlinked");
        SharedHeap heap = SharedHeap.create(name, 1 << 16);
        assertThat(SharedHeap.unlink(name)).isTrue();
        heap.close(); // cannot map it again: detaches before unmapping, as before
        assertThatThrownBy(heap::blocks).isInstanceOf(IllegalStateException.class);

        Path file = dir.resolve("heap.shm");
        try (SharedHeap created = SharedHeap.create(file, 1 << 16)) {
            SharedHeap view = SharedHeap.open(file);
            view.close();
            assertThat(created.attachedProcesses()).singleElement().extracting(HeapProcess::attachments)
                    .isEqualTo(1L);
        }
    }
    /**
     * A thread with its interrupt pending (a cancelled task's cleanup) opened through FileChannel, which threw
     * ClosedByInterruptException: "cannot open ...". Opening and creating work now, and leave the interrupt set.
     */
    @Test
    void shouldOpenAndCreateWithTheInterruptPendingAndLeaveItSet() {
        String name = names.unique("interrupted");
        Path file = dir.resolve("interrupted.shm");
        Thread.currentThread().interrupt();
        try {
            try (SharedHeap created = SharedHeap.create(name, 1 << 16);
                 SharedHeap opened = SharedHeap.open(name);
                 SharedHeap either = SharedHeap.openOrCreate(file, 1 << 16);
                 SharedHeap again = SharedHeap.openOrCreate(file, 1 << 16);
                 SharedMemory raw = SharedMemory.create(names.unique("interrupted-raw"), 64);
                 SharedMemory rawFile = SharedMemory.open(file)) {
                created.allocate("counter", COUNTER, 8);
                assertThat(opened.find("counter")).isPresent();
                assertThat(again.attachedProcesses()).singleElement().extracting(HeapProcess::attachments)
                        .isEqualTo(2L);
                assertThat(raw.segment().byteSize()).isEqualTo(64);
                assertThat(rawFile.segment().byteSize()).isEqualTo(1 << 16);
            }
            assertThat(SharedHeap.unlink(name)).isTrue();
            assertThat(SharedHeap.unlinkIfStale(file)).as("its creator lives").isFalse(); // reads its heap id
            assertThat(Thread.currentThread().isInterrupted()).as("the interrupt is still pending").isTrue();
        } finally {
            Thread.interrupted();
        }
    }

    /**
     * An interrupt that arrived while a region or heap was being opened closed the channel (size, map, or the heap id
     * read): the open failed, "cannot open ...: ClosedByInterruptException" (or "cannot read the heap id of ..."),
     * about one in eight under a stream of interrupts, though opening is not interruptible. It is taken too, and the
     * file opened again.
     */
    @Test
    void shouldOpenWhileInterruptsArriveAndKeepThem() throws Exception {
        String name = names.unique("interrupts");
        String raw = names.unique("interrupts-raw");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16); SharedMemory region = SharedMemory.create(raw, 64)) {
            List<Throwable> failures = new ArrayList<>();
            CountDownLatch done = new CountDownLatch(1);
            boolean[] pendingAtEnd = new boolean[1];
            Thread opener = new Thread(() -> {
                try {
                    for (int i = 0; i < 200; i++) {
                        try (SharedMemory opened = SharedMemory.open(raw); SharedHeap again = SharedHeap.open(name)) {
                            assertThat(opened.byteSize()).isEqualTo(64);
                            // as an opener's and a remover's look at the name do
                            assertThat(HeapRemoval.idAt(SharedMemory.SHM_DIR.resolve(name))).isNotZero();
                        } catch (RuntimeException | AssertionError e) {
                            failures.add(e);
                        }
                    }
                    pendingAtEnd[0] = Thread.interrupted();
                } finally {
                    done.countDown();
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            opener.start();
            while (!done.await(20, TimeUnit.MICROSECONDS) && System.nanoTime() - deadline < 0) {
                opener.interrupt();
            }
            opener.join(TimeUnit.SECONDS.toMillis(20));
            assertThat(opener.isAlive()).as("200 opens done in 20 s").isFalse();
            assertThat(failures).isEmpty();
            assertThat(pendingAtEnd[0]).as("the interrupt kept").isTrue();
            assertThat(heap.attachedProcesses()).singleElement().extracting(HeapProcess::attachments).isEqualTo(1L);
        }
    }

    /**
     * FileChannel.map throws ClosedByInterruptException for an interrupt that arrives after its mmap and never unmaps:
     * each open that took one and opened again left a mapping of the file for the life of the process (a driver saw
     * 84 after 3,000 heap opens under a stream of interrupts). The map runs on a thread nobody interrupts now.
     */
    @Test
    void shouldLeaveNoMappingOfTheFileAfterOpensUnderInterrupts() throws Exception {
        String name = names.unique("interrupted-maps");
        Path file = SharedMemory.SHM_DIR.resolve(name);
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            long before = mappingsOf(file);
            CountDownLatch done = new CountDownLatch(1);
            List<Throwable> failures = new ArrayList<>();
            Thread opener = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 400; i++) {
                        try (SharedMemory region = SharedMemory.open(name); SharedHeap again = SharedHeap.open(name)) {
                            assertThat(region.byteSize()).isEqualTo(again.byteSize());
                        }
                    }
                } catch (RuntimeException | AssertionError e) {
                    failures.add(e);
                } finally {
                    done.countDown();
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!done.await(20, TimeUnit.MICROSECONDS) && System.nanoTime() - deadline < 0) {
                opener.interrupt();
            }
            opener.join(TimeUnit.SECONDS.toMillis(20));
            assertThat(opener.isAlive()).as("400 opens done in 20 s").isFalse();
            assertThat(failures).isEmpty();
            assertThat(mappingsOf(file)).as("mappings of %s left by 400 closed opens", file).isEqualTo(before);
        }
    }

    /** @return how many lines of /proc/self/maps map {@code file} */
    private static long mappingsOf(Path file) throws IOException {
        try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
            return maps.filter(line -> line.endsWith(" " + file)).count();
        }
    }

    /**
     * HeapRemoval's two waits for a live remover (a remover's, an opener's) idled through parks that return at once
     * while the thread's interrupt is pending: they spun a core until the timeout. They take it and set it again.
     */
    @Test
    void shouldWaitForALiveRemoverWithoutSpinningWhileTheInterruptIsPending() {
        String name = names.unique("remover");
        Duration timeout = Duration.ofMillis(300);
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16); SharedMemory raw = SharedMemory.open(name)) {
            MemorySegment segment = raw.segment();
            long heapId = segment.get(JAVA_LONG, HeapLayout.HEAP_ID_OFFSET);
            Path path = raw.path().orElseThrow();
            segment.set(JAVA_LONG, HeapLayout.REMOVAL_OFFSET, ProcessIdentity.currentToken()); // a live remover
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            for (ThrowingCallable wait : List.<ThrowingCallable>of(
                    () -> HeapRemoval.remove(segment, heapId, path, HeapRemoval.Condition.UNUSED, timeout, name),
                    () -> HeapRemoval.confirmAttached(segment, heapId, path, timeout, name))) {
                Thread.currentThread().interrupt();
                long cpu = threads.getCurrentThreadCpuTime();
                try {
                    assertThatThrownBy(wait).isInstanceOf(ShmException.class).hasMessageContaining("still undecided");
                    assertThat(Thread.currentThread().isInterrupted()).as("set again").isTrue();
                } finally {
                    Thread.interrupted();
                }
                assertThat(threads.getCurrentThreadCpuTime() - cpu).as("CPU time of a %d ms wait", timeout.toMillis())
                        .isLessThan(timeout.toNanos() / 3);
            }
            segment.set(JAVA_LONG, HeapLayout.REMOVAL_OFFSET, 0L);
        }
    }
}
