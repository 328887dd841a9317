package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.locks.AnotherThread.inAnotherThread;

/**
 * The read holds of each thread, counted in its process beside the per-process count in the heap: a read unlock by
 * a thread that holds none is refused (it released another thread's hold), a reader takes the lock again while a
 * writer waits (it was turned away, and waited for the writer that waited for it), and a reader asking for the write
 * lock is refused (it waited for its own hold).
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // the old behaviours waited for ever
class ReadHoldsTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final String NOT_HELD = "read-write lock 'rw' (read) is not held by this thread";
    private static final String NO_UPGRADE = "read-write lock 'rw' (write) cannot be taken by a thread holding the "
            + "read lock (no upgrade: it would wait for its own read hold)";

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldRefuseAReadUnlockByAThreadThatHoldsNoneAndKeepTheHoldersHold() throws Exception {
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            SharedReadWriteLock view = SharedReadWriteLock.open(heap, "rw");
            assertThat(reader.submit(() -> rw.readLock().tryLock()).get(30, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(() -> rw.readLock().unlock()).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessage(NOT_HELD);
            assertThatThrownBy(() -> view.readLock().unlock()).as("through another view")
                    .isInstanceOf(IllegalMonitorStateException.class).hasMessage(NOT_HELD);
            assertThat(rw.readerPids()).as("the reader's hold is still counted").hasSize(1);
            assertThat(rw.writeLock().tryLock()).as("and still keeps writers out").isFalse();
            assertThat(rw.getReadHoldCount()).isZero();
            assertThat(reader.submit(view::getReadHoldCount).get(30, TimeUnit.SECONDS)).isEqualTo(1);
            reader.submit(() -> view.readLock().unlock()).get(30, TimeUnit.SECONDS); // released through a view
            assertThat(rw.readerPids()).isEmpty();
            assertThat(rw.writeLock().tryLock()).isTrue();
            rw.writeLock().unlock();
        } finally {
            reader.shutdownNow();
        }
    }

    @Test
    void shouldLetAReaderTakeTheReadLockAgainWhileAWriterWaitsForIt() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            rw.readLock().lock();
            AtomicBoolean written = new AtomicBoolean();
            Thread writer = Thread.ofPlatform().start(() -> writeOnce(rw, written));
            awaitWriterWord(rw);
            assertThat(inAnotherThread(() -> rw.readLock().tryLock())).as("a new reader waits").isFalse();
            assertThat(rw.readLock().tryLock()).as("the holder reenters at once").isTrue();
            rw.readLock().lock();
            assertThat(rw.readLock().tryLock(0, TimeUnit.SECONDS)).isTrue();
            assertThat(rw.getReadHoldCount()).isEqualTo(4);
            for (int i = 0; i < 3; i++) {
                rw.readLock().unlock();
            }
            assertThat(written).as("one hold left").isFalse();
            rw.readLock().unlock();
            writer.join(BOUND.toMillis());
            assertThat(written).isTrue();
            assertThat(rw.getReadHoldCount()).isZero();
            assertThatThrownBy(() -> rw.readLock().unlock()).isInstanceOf(IllegalMonitorStateException.class);
        }
    }

    @Test
    void shouldRefuseTheWriteLockToAThreadHoldingTheReadLock() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            rw.readLock().lock();
            assertThatThrownBy(() -> rw.writeLock().lock()).hasMessage(NO_UPGRADE)
                    .isInstanceOf(IllegalMonitorStateException.class);
            assertThatThrownBy(() -> rw.writeLock().tryLock()).hasMessage(NO_UPGRADE);
            assertThatThrownBy(() -> rw.writeLock().tryLock(1, TimeUnit.SECONDS)).hasMessage(NO_UPGRADE);
            assertThatThrownBy(() -> rw.writeLock().lockInterruptibly()).hasMessage(NO_UPGRADE);
            assertThat(rw.writer()).as("the refused writer backed out").isEmpty();
            assertThat(inAnotherThread(() -> readOnce(rw))).as("no flag left for readers").isTrue();

            // a writer of another thread takes the word and waits for this hold: this thread's write lock is refused
            // before it waits for that writer (which would wait for this thread: a deadlock)
            AtomicBoolean written = new AtomicBoolean();
            Thread writer = Thread.ofPlatform().start(() -> writeOnce(rw, written));
            awaitWriterWord(rw);
            assertThatThrownBy(() -> rw.writeLock().lock()).hasMessage(NO_UPGRADE);
            assertThatThrownBy(() -> rw.writeLock().tryLock()).hasMessage(NO_UPGRADE);
            assertThat(written).isFalse();
            rw.readLock().unlock();
            writer.join(BOUND.toMillis());
            assertThat(written).isTrue();
        }
    }

    /**
     * helper-140: counted per mapping, a hold taken through a view whose heap object was then closed (the process
     * keeping another open) could be released through neither, and kept every writer out; a read holder asking for
     * the write lock through another mapping waited for itself.
     */
    @Test
    void shouldCountAThreadsHoldsAcrossEveryMappingOfTheHeap() throws Exception {
        String name = names.unique("read-holds");
        try (SharedHeap first = SharedHeap.create(name, 1 << 16)) {
            SharedReadWriteLock one = SharedReadWriteLock.create(first, "rw");
            SharedHeap second = SharedHeap.open(name);
            SharedReadWriteLock other = SharedReadWriteLock.open(second, "rw");
            other.readLock().lock();
            assertThat(one.getReadHoldCount()).isEqualTo(1);
            assertThatThrownBy(() -> one.writeLock().tryLock(1, TimeUnit.SECONDS)).hasMessage(NO_UPGRADE);
            second.close();
            assertThat(one.readerPids()).as("this process still maps the heap: its hold stays").hasSize(1);
            one.readLock().unlock(); // released through the view still open
            assertThat(one.readerPids()).isEmpty();
            assertThat(one.getReadHoldCount()).isZero();
            assertThat(one.writeLock().tryLock()).isTrue();
            one.writeLock().unlock();
        }
    }

    /**
     * helper-141: keyed by heap id alone, a thread's count outlived every view of the heap: after the process closed
     * them all (when other processes may drop its holds) and opened the heap again, the thread's unlock ended another
     * thread's hold, and a writer came in beside that reader.
     */
    @Test
    void shouldForgetAThreadsCountOnceTheProcessClosedEveryViewOfTheHeap() throws Exception {
        String name = names.unique("read-holds-again");
        SharedHeap first = SharedHeap.create(name, 1 << 16);
        SharedReadWriteLock before = SharedReadWriteLock.create(first, "rw");
        before.readLock().lock();
        first.close();
        ExecutorService other = Executors.newSingleThreadExecutor();
        try (SharedHeap again = SharedHeap.open(name)) {
            SharedReadWriteLock rw = SharedReadWriteLock.open(again, "rw");
            assertThat(rw.getReadHoldCount()).as("counted in a period that is over").isZero();
            assertThat(other.submit(() -> rw.readLock().tryLock()).get(30, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(() -> rw.readLock().unlock()).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessage(NOT_HELD);
            assertThat(other.submit(rw::getReadHoldCount).get(30, TimeUnit.SECONDS)).isEqualTo(1);
            other.submit(() -> rw.readLock().unlock()).get(30, TimeUnit.SECONDS);
        } finally {
            other.shutdownNow();
        }
    }

    /** helper-141: two copies of one heap file share a heap id, but not their locks' counts. */
    @Test
    void shouldCountTheLocksOfACopiedHeapFileApart(@TempDir Path dir) throws Exception {
        Path original = dir.resolve("a.heap");
        Path copy = dir.resolve("b.heap");
        try (SharedHeap heap = SharedHeap.create(original, 1 << 16)) {
            SharedReadWriteLock.create(heap, "rw");
        }
        Files.copy(original, copy);
        try (SharedHeap a = SharedHeap.open(original); SharedHeap b = SharedHeap.open(copy)) {
            SharedReadWriteLock inA = SharedReadWriteLock.open(a, "rw");
            SharedReadWriteLock inB = SharedReadWriteLock.open(b, "rw");
            inA.readLock().lock();
            assertThat(inB.getReadHoldCount()).isZero();
            assertThat(inB.writeLock().tryLock()).isTrue();
            inB.writeLock().unlock();
            inA.readLock().unlock();
            assertThat(inA.readerPids()).isEmpty();
            assertThat(inA.writeLock().tryLock()).isTrue();
            inA.writeLock().unlock();
        }
    }

    /**
     * helper-142: a heap file created through one path and opened through another (relative, or through a linked
     * folder) counted apart, and a copy moved over an open heap's path counted with it: a heap is known by its file's
     * key now, not its path.
     */
    @Test
    void shouldCountAcrossPathsToOneHeapFileAndApartForACopyMovedOverIt(@TempDir Path dir) throws Exception {
        Path real = Files.createDirectory(dir.resolve("real"));
        Path linked = Files.createSymbolicLink(dir.resolve("linked"), real);
        try (SharedHeap created = SharedHeap.create(linked.resolve("a.heap"), 1 << 16);
             SharedHeap opened = SharedHeap.open(real.resolve("a.heap"))) {
            SharedReadWriteLock one = SharedReadWriteLock.create(created, "rw");
            SharedReadWriteLock other = SharedReadWriteLock.open(opened, "rw");
            one.readLock().lock();
            assertThat(other.getReadHoldCount()).isEqualTo(1);
            other.readLock().unlock();
            assertThat(one.readerPids()).isEmpty();

            Path copy = Files.copy(real.resolve("a.heap"), dir.resolve("copy.heap"));
            one.readLock().lock();
            Files.move(copy, real.resolve("a.heap"), StandardCopyOption.REPLACE_EXISTING);
            try (SharedHeap moved = SharedHeap.open(real.resolve("a.heap"))) {
                SharedReadWriteLock inCopy = SharedReadWriteLock.open(moved, "rw");
                assertThat(inCopy.getReadHoldCount()).as("another file, though the same heap id").isZero();
                assertThatThrownBy(() -> inCopy.readLock().unlock()).isInstanceOf(IllegalMonitorStateException.class);
            }
            one.readLock().unlock();
        }
    }

    /** helper-142: a thread's counters were searched one by one; thousands of locks, each through a new object. */
    @Test
    void shouldCountThousandsOfLocksOfOneThread() {
        int locks = 3_000;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate((long) locks * SyncLayout.RW_SIZE, 64);
            for (int i = 0; i < locks; i++) {
                SharedReadWriteLock.wrap(memory, (long) i * SyncLayout.RW_SIZE).readLock().lock();
            }
            for (int i = 0; i < locks; i++) {
                SharedReadWriteLock rw = SharedReadWriteLock.wrap(memory, (long) i * SyncLayout.RW_SIZE);
                assertThat(rw.getReadHoldCount()).isOne();
                rw.readLock().unlock();
                assertThat(rw.getReadHoldCount()).isZero();
            }
        }
    }

    /**
     * CI c5: a thread's counter held the scope of the memory a lock was wrapped over, so an automatic arena's memory
     * was never freed (jcstress, with a lock per state object, ran out of direct memory). Held weakly now.
     */
    @Test
    void shouldLetTheMemoryOfAWrappedLockBeCollected() {
        WeakReference<MemorySegment.Scope> memory = lockedAndUnlockedInAutoMemory();
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (memory.get() != null) {
            assertThat(System.nanoTime() - deadline).as("the memory collected").isNegative();
            System.gc(); // a full collection, whose end the loop checks: no sleep between
        }
    }

    /** @return the scope of the memory a lock was taken and released in: freed with the memory once unreachable */
    private static WeakReference<MemorySegment.Scope> lockedAndUnlockedInAutoMemory() {
        MemorySegment memory = Arena.ofAuto().allocate(SyncLayout.RW_SIZE, 64);
        SharedReadWriteLock rw = SharedReadWriteLock.wrap(memory, 0);
        rw.readLock().lock();
        rw.readLock().unlock();
        return new WeakReference<>(memory.scope());
    }

    /** helper-141: a view wrapped over a heap's memory counts with the views the heap opens. */
    @Test
    void shouldCountAWrappedViewOverAHeapsMemoryWithItsOtherViews() throws Exception {
        String name = names.unique("read-holds-wrap");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            long offset = heap.lookup("rw", SyncLayout.READ_WRITE_LOCK).offset();
            SharedReadWriteLock wrapped = SharedReadWriteLock.wrap(heap.memory().segment(), offset);
            rw.readLock().lock();
            assertThat(wrapped.getReadHoldCount()).isEqualTo(1);
            assertThatThrownBy(() -> wrapped.writeLock().tryLock()).isInstanceOf(IllegalMonitorStateException.class);
            wrapped.readLock().unlock();
            assertThat(rw.getReadHoldCount()).isZero();
            assertThat(rw.readerPids()).isEmpty();
        }
    }

    /**
     * helper-139: when the process's holds were dropped under a thread's hold (its heap closed and the process taken
     * for gone), the thread kept counting it: every unlock was refused for good, and its next read lock took the
     * reentrant path, which adds no check for a writer, so it read while a writer held the lock.
     */
    @Test
    void shouldForgetAThreadsHoldsOnceTheProcesssHoldsWereDropped() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(SyncLayout.RW_SIZE, 64);
            SharedReadWriteLock rw = SharedReadWriteLock.wrap(memory, 0);
            for (boolean unlockFirst : new boolean[]{true, false}) {
                rw.readLock().lock();
                long holds = WriterFlagTest.holdsOffset(memory);
                memory.set(JAVA_INT, holds, 0); // dropped, as a reclaim of a gone process's slot drops them
                if (unlockFirst) {
                    assertThatThrownBy(() -> rw.readLock().unlock()).isInstanceOf(IllegalMonitorStateException.class)
                            .hasMessageContaining("this process holds no read lock");
                    assertThat(rw.getReadHoldCount()).isZero();
                }
                ExecutorService writer = Executors.newSingleThreadExecutor();
                try {
                    assertThat(writer.submit(() -> rw.writeLock().tryLock()).get(30, TimeUnit.SECONDS)).isTrue();
                    assertThat(rw.readLock().tryLock()).as("a writer holds: no read, reentered or not").isFalse();
                    assertThat(rw.getReadHoldCount()).isZero();
                    writer.submit(() -> rw.writeLock().unlock()).get(30, TimeUnit.SECONDS);
                } finally {
                    writer.shutdownNow();
                }
                assertThat(rw.readLock().tryLock()).isTrue();
                rw.readLock().unlock();
                assertThat(memory.get(JAVA_INT, holds)).isZero();
            }
        }
    }

    private static boolean readOnce(SharedReadWriteLock rw) {
        if (!rw.readLock().tryLock()) {
            return false;
        }
        rw.readLock().unlock();
        return true;
    }

    private static void writeOnce(SharedReadWriteLock rw, AtomicBoolean written) {
        rw.writeLock().lock();
        try {
            written.set(true);
        } finally {
            rw.writeLock().unlock();
        }
    }

    /** Waits until a writer holds the lock's word: it has the writer's mutex and waits for the readers to leave. */
    private static void awaitWriterWord(SharedReadWriteLock rw) throws InterruptedException {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (rw.writer().isEmpty()) {
            assertThat(System.nanoTime() - deadline).as("a writer took the word").isNegative();
            Thread.onSpinWait();
        }
    }
}
