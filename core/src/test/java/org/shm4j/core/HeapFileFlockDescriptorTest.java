package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.internal.HeapFileFlock;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.testing.HeapHeaders;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The descriptors that hold a heap file's flock ({@code internal/HeapFileFlock}): every open, create and close, and
 * every refused open, gives back each descriptor it took, once.
 */
@EnabledOnOs(OS.LINUX)
class HeapFileFlockDescriptorTest {
    /** Enough that a descriptor kept by any call of a round shows as 100 past the slack of 2. */
    private static final int ROUNDS = 100;

    @TempDir
    Path dir;

    @Test
    void shouldLeaveNoDescriptorOpenAfterOpensClosesAndRefusals() throws IOException {
        Path file = dir.resolve("fd.heap");
        Path notAHeap = dir.resolve("zeros.heap");
        Files.write(notAHeap, new byte[1 << 16]);
        Path tooSmall = dir.resolve("small.heap");
        Files.write(tooSmall, new byte[8]);
        Path unlinking = dir.resolve("unlinking.heap");
        try (SharedHeap warm = SharedHeap.create(file, 1 << 16)) {
            warm.close();
        }
        long before = openDescriptors();
        for (int i = 0; i < ROUNDS; i++) {
            try (SharedHeap heap = SharedHeap.open(file); SharedHeap again = SharedHeap.openOrCreate(file, 1 << 16);
                 SharedHeap readOnly = SharedHeap.openReadOnly(file)) {
                assertThatThrownBy(() -> SharedHeap.create(file, 1 << 16))
                        .isInstanceOf(ShmAlreadyExistsException.class);
                heap.close();
            }
            assertThatThrownBy(() -> SharedHeap.open(notAHeap)).isInstanceOf(ShmException.class);
            assertThatThrownBy(() -> SharedHeap.open(tooSmall)).isInstanceOf(RuntimeException.class);
            assertThatThrownBy(() -> SharedHeap.open(dir.resolve("missing.heap")))
                    .isInstanceOf(ShmNotFoundException.class);
            SharedHeap.create(unlinking, 1 << 16, HeapOptions.defaults().withUnlinkOnLastDetach(true)).close();
            SharedHeap.anonymous(1 << 16).close();
        }
        assertThat(unlinking).doesNotExist();
        assertThat(openDescriptors()).isLessThanOrEqualTo(before + 2); // +2: slack for the JVM's own
    }

    @Test
    void shouldCloseNoOtherDescriptorWhenAdoptionIsRefused() throws Exception {
        Path file = dir.resolve("refused.heap");
        SharedHeap.create(file, 1 << 16).close();
        try (SharedMemory memory = SharedMemory.open(file)) {
            MemorySegment segment = memory.segment();
            // a live-looking process of the old namespace that holds no flock: adoption is refused at once
            long slot = HeapLayout.slotOffset(0);
            segment.set(JAVA_LONG, slot + HeapLayout.SLOT_TOKEN_OFFSET, ProcessIdentity.token(1, 12345));
            segment.set(JAVA_LONG, slot + HeapLayout.SLOT_ATTACHMENTS_OFFSET, 1L);
            segment.set(JAVA_LONG, slot + HeapLayout.SLOT_FLOCK_TOKEN_OFFSET, 0L);
            HeapHeaders.setCreatorPidNamespace(segment, ProcessIdentity.currentPidNamespace() + 1);
        }
        Path other = dir.resolve("other.bin");
        Files.write(other, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        assertReadsWhole(5, () -> {
            try (FileChannel channel = FileChannel.open(other, StandardOpenOption.READ)) {
                for (int i = 0; i < 20; i++) {
                    ByteBuffer bytes = ByteBuffer.allocate(8);
                    channel.read(bytes, 0);
                    if (bytes.get(7) != 8) {
                        throw new IOException("read another file's bytes");
                    }
                }
            }
        }, () -> assertThatThrownBy(() -> SharedHeap.open(file)).isInstanceOf(ShmException.class)
                .hasMessageContaining("holds no flock"));
    }

    @Test
    void shouldReplaceAStaleHeapThatAnotherRemoverIsLookingAt() throws Exception {
        Path file = dir.resolve("stale.heap");
        long heapId = staleHeap(file);
        // another process's stale check or removal holds the file's flock exclusive for a moment
        int exclusive = HeapFileFlock.exclusiveNow(file, heapId);
        assertThat(exclusive).isNotNegative();
        assertReplacedWhile(file, exclusive, 50);
    }

    /**
     * A remover that found the file locked looks whether the lock is exclusive with a shared lock of its own, held
     * for a moment: a third remover that found the file locked then saw only a shared lock, a process's that has the
     * heap open, and called a stale heap in use (helper-159). Only a shared lock held past such looks means that now.
     */
    @Test
    void shouldReplaceAStaleHeapWhileAnotherRemoverLooksWithASharedLock() throws Exception {
        Path file = dir.resolve("stale.heap");
        staleHeap(file);
        int look = HeapFileFlock.share(file, System.nanoTime());
        assertThat(look).isNotNegative();
        assertReplacedWhile(file, look, 1); // well within the 10 ms a remover watches a shared lock
    }

    /**
     * An opener whose thread has its interrupt pending, meeting the file's flock held exclusive for a moment (a
     * remover's or an adopter's), waits for its shared flock as any opener does: it gave up at once and went on
     * without it, a heap open with no flock on its file (which removal and adoption then cannot see).
     */
    @Test
    void shouldTakeItsFlockWithTheInterruptPendingWhenTheFileIsHeldAMoment() throws Exception {
        Path file = dir.resolve("interrupted.heap");
        SharedHeap.create(file, 1 << 16).close();
        long heapId;
        try (SharedMemory memory = SharedMemory.openReadOnly(file)) {
            heapId = memory.segment().get(JAVA_LONG, HeapLayout.HEAP_ID_OFFSET);
        }
        int exclusive = HeapFileFlock.exclusiveNow(file, heapId);
        assertThat(exclusive).isNotNegative();
        CompletableFuture<Void> released = CompletableFuture.runAsync(() -> HeapFileFlock.release(exclusive),
                CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS));
        Thread.currentThread().interrupt();
        try (SharedHeap heap = SharedHeap.open(file)) {
            assertThat(Thread.interrupted()).as("the interrupt is still pending").isTrue();
            released.get(60, TimeUnit.SECONDS);
            assertThat(HeapFileFlock.exclusiveNow(file, heapId)).as("%s holds its shared flock", heap)
                    .isEqualTo(HeapFileFlock.HELD);
        } finally {
            Thread.interrupted();
            released.get(60, TimeUnit.SECONDS);
        }
    }

    /** @return the heap id of a heap made at {@code file} whose creator is dead and that nobody has open */
    private static long staleHeap(Path file) {
        SharedHeap.create(file, 1 << 16).close();
        try (SharedMemory memory = SharedMemory.open(file)) {
            MemorySegment segment = memory.segment();
            segment.set(JAVA_LONG, HeapLayout.CREATOR_PID_OFFSET, 0x7FFF_FFF0L); // no such pid: the creator is dead
            HeapHeaders.setCreatorPidNamespace(segment, ProcessIdentity.currentPidNamespace()); // the checksum
            return segment.get(JAVA_LONG, HeapLayout.HEAP_ID_OFFSET);
        }
    }

    /** Creates a heap replacing the stale one at {@code file} while {@code held} keeps its lock a few ms. */
    private static void assertReplacedWhile(Path file, int held, long millis) throws Exception {
        CompletableFuture<Void> released = CompletableFuture.runAsync(() -> HeapFileFlock.release(held),
                CompletableFuture.delayedExecutor(millis, TimeUnit.MILLISECONDS));
        try (SharedHeap heap = SharedHeap.create(file, 1 << 16, HeapOptions.defaults().withReplaceStale(true))) {
            assertThat(heap.attachedProcesses()).singleElement().extracting(HeapProcess::pid)
                    .isEqualTo(ProcessHandle.current().pid());
        } finally {
            released.get(60, TimeUnit.SECONDS);
        }
    }

    @Test
    void shouldShowAReaderAHeapBeingAdoptedWhole() throws Exception {
        Path template = dir.resolve("template.heap");
        SharedHeap.create(template, 1 << 16).close();
        try (SharedMemory memory = SharedMemory.open(template)) {
            HeapHeaders.setCreatorPidNamespace(memory.segment(), ProcessIdentity.currentPidNamespace() + 1);
        }
        Path file = dir.resolve("adopted.heap");
        Path next = dir.resolve("next.heap");
        Files.copy(template, file);
        assertReadsWhole(3, () -> SharedHeap.openReadOnly(file).close(), () -> {
            Files.copy(template, next, StandardCopyOption.REPLACE_EXISTING);
            Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            SharedHeap.open(file).close(); // adopts it: a new namespace word and checksum
        });
    }

    /**
     * An adopter writes the namespace, then the checksum that covers it: one killed between the two left a header
     * whose checksum matched no namespace, corrupted for good. It now keeps the namespace it replaces beside it
     * first, and a header whose checksum covers that one is whole; the next adoption completes it.
     */
    @Test
    void shouldOpenAHeapWhoseAdopterDiedBetweenItsTwoHeaderWrites() {
        Path file = dir.resolve("cut.heap");
        SharedHeap.create(file, 1 << 16).close();
        long mine = ProcessIdentity.currentPidNamespace();
        try (SharedMemory memory = SharedMemory.open(file)) {
            MemorySegment header = memory.segment();
            // as an adopter of namespace mine + 1 killed after its namespace write, before its checksum write
            header.set(JAVA_LONG, HeapLayout.PREVIOUS_PID_NAMESPACE_OFFSET, mine);
            header.set(JAVA_LONG, HeapLayout.CREATOR_PID_NAMESPACE_OFFSET, mine + 1);
        }
        try (SharedHeap heap = SharedHeap.openReadOnly(file)) {
            assertThat(heap.byteSize()).as("a whole header").isEqualTo(1 << 16);
        }
        try (SharedHeap heap = SharedHeap.open(file)) { // adopts it: open nowhere, and of another namespace
            assertThat(heap.memory().segment().get(JAVA_LONG, HeapLayout.CREATOR_PID_NAMESPACE_OFFSET))
                    .isEqualTo(mine);
        }
        try (SharedMemory memory = SharedMemory.open(file)) {
            memory.segment().set(JAVA_LONG, HeapLayout.PREVIOUS_PID_NAMESPACE_OFFSET, 0L);
        }
        try (SharedHeap heap = SharedHeap.openReadOnly(file)) {
            assertThat(heap.byteSize()).as("the adoption wrote the checksum of its own namespace").isEqualTo(1 << 16);
        }
    }

    /**
     * The namespace an adoption replaced validates a header only where an adoption wrote it: a damaged namespace word
     * is still refused, of a heap of a known namespace and of one made where the namespace was unknown (0), whose
     * checksum with 0 in place would match any word (helper-160).
     */
    @Test
    void shouldRefuseADamagedNamespaceWordThatNoAdoptionWrote() {
        for (long namespace : new long[] {ProcessIdentity.currentPidNamespace(), 0}) {
            Path file = dir.resolve("damaged-" + namespace + ".heap");
            SharedHeap.create(file, 1 << 16).close();
            try (SharedMemory memory = SharedMemory.open(file)) {
                HeapHeaders.setCreatorPidNamespace(memory.segment(), namespace); // with its checksum
                memory.segment().set(JAVA_LONG, HeapLayout.CREATOR_PID_NAMESPACE_OFFSET, namespace + 12345);
            }
            assertThatThrownBy(() -> SharedHeap.openReadOnly(file)).as("namespace %d damaged", namespace)
                    .isInstanceOf(ShmFormatException.class).hasMessageContaining("checksum mismatch");
        }
    }

    /** A step of a test that may throw. */
    private interface Step {
        void run() throws Exception;
    }

    /**
     * Runs {@code read} over and over on another thread while this one runs {@code work} over and over for
     * {@code seconds} (or until a read fails), then asserts that reads completed and none failed.
     */
    private static void assertReadsWhole(long seconds, Step read, Step work) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger reads = new AtomicInteger();
        AtomicReference<Throwable> broken = new AtomicReference<>();
        Thread reader = new Thread(() -> {
            while (!stop.get()) {
                try {
                    read.run();
                    reads.incrementAndGet();
                } catch (Throwable t) {
                    broken.compareAndSet(null, t);
                }
            }
        });
        reader.start();
        try {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() < until && broken.get() == null) {
                work.run();
            }
        } finally {
            stop.set(true);
            assertThat(reader.join(Duration.ofSeconds(60))).as("the reader stopped").isTrue();
        }
        assertThat(reads.get()).isPositive();
        assertThat(broken.get()).isNull();
    }

    private static long openDescriptors() throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
