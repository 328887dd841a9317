package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Membarrier;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.shm4j.sync.locks.AnotherThread.inAnotherThread;

/**
 * A read-write lock call cut short by the close of its heap view, when the JDK reports the close after the access
 * took effect (a late report, which no test can bring about: the access's effect is made here by hand, then the
 * call meets the closed view). The process keeps another view of the heap open, so no other process drops what it
 * counts: what the cut-short call counted must be set right through that view.
 */
@Timeout(60)
class SharedReadWriteLockClosedViewTest {
    /** How long a lock call that should succeed at once may wait: it does at once unless a count is left wrong. */
    private static final long CALL_WAIT_MILLIS = 1_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * A waiting writer's count added, reported late: the count was left 1 (its bit then set), and readers that wait
     * were held back for as long as the process lived.
     */
    @Test
    void shouldLeaveNoWaitingWriterCountedWhenTheCloseIsReportedAfterTheAdd() throws Exception {
        try (Views views = views("rw-late-add")) {
            SharedReadWriteLock keptLock = views.keptLock();
            MemorySegment block = views.block();
            int me = new ProcessSlots(block, SyncLayout.RW_SLOTS_OFFSET, "rw").claim();
            SharedReadWriteLock closingLock = views.closingLock();
            addToWaitingWriters(block, me, 1); // the writer's add, done, then reported
            views.closing().close();
            assertThatThrownBy(() -> closingLock.countWaitingWriter(me, 1)).isInstanceOf(IllegalStateException.class);
            assertThat(waitingWriters(block, me)).as("this process's waiting writers").isZero();
            assertThat(block.get(JAVA_INT, SyncLayout.RW_WAITING_WRITERS_OFFSET)).as("waitingWriters").isZero();
            assertThat(inAnotherThread(() -> readOnce(keptLock))).as("a reader that checks for waiting writers")
                    .isTrue();
        }
    }

    /**
     * A waiting writer's uncount done, reported late: the handler subtracted again, which dropped the count of
     * another writer of this process that still waited, and cleared its bit (readers passed it).
     */
    @Test
    void shouldKeepAnotherWaitingWriterCountedWhenTheCloseIsReportedAfterTheSubtract() {
        try (Views views = views("rw-late-sub")) {
            SharedReadWriteLock keptLock = views.keptLock();
            MemorySegment block = views.block();
            int me = new ProcessSlots(block, SyncLayout.RW_SLOTS_OFFSET, "rw").claim();
            SharedReadWriteLock closingLock = views.closingLock();
            closingLock.countWaitingWriter(me, 1); // a writer waiting through the view that closes
            keptLock.countWaitingWriter(me, 1); // one waiting through the kept view
            addToWaitingWriters(block, me, -1); // the first one's uncount, done, then reported
            views.closing().close();
            assertThatThrownBy(() -> closingLock.countWaitingWriter(me, -1))
                    .isInstanceOf(IllegalStateException.class);
            assertThat(waitingWriters(block, me)).as("this process's waiting writers").isEqualTo(1);
            assertThat(block.get(JAVA_INT, SyncLayout.RW_WAITING_WRITERS_OFFSET)).as("waitingWriters")
                    .isEqualTo(1 << me);
            keptLock.countWaitingWriter(me, -1);
            assertThat(waitingWriters(block, me)).isZero();
            assertThat(block.get(JAVA_INT, SyncLayout.RW_WAITING_WRITERS_OFFSET)).isZero();
        }
    }

    /**
     * A read lock's add, reported late (the call threw, its thread holds nothing): the hold stayed counted, and
     * every writer waited for it while the process lived. A read call meeting the closed view now recounts.
     */
    @Test
    void shouldLeaveNoReadHoldCountedWhenTheCloseIsReportedAfterTheAdd() throws Exception {
        assumeTrue(Membarrier.isAvailable(), "the recount needs membarrier");
        ExecutorService holder = Executors.newSingleThreadExecutor(); // its hold is its own to release
        try (Views views = views("rw-read-late-add")) {
            SharedReadWriteLock keptLock = views.keptLock();
            MemorySegment block = views.block();
            SharedReadWriteLock closingLock = views.closingLock();
            assertThat(inAnotherThread(() -> readOnce(closingLock))).isTrue(); // its read lock has found its slot
            holder.submit(() -> keptLock.readLock().lock()).get(30, TimeUnit.SECONDS);
            long holds = holdsOffset(block);
            addToReadHolds(block, holds, 1); // the late add
            views.closing().close();
            assertThatThrownBy(() -> inAnotherThread(() -> closingLock.readLock().tryLock()))
                    .hasCauseInstanceOf(IllegalStateException.class);
            assertThat(SyncLayout.rwReadHolds(block.get(JAVA_INT, holds))).as("this process's read holds")
                    .isEqualTo(1);
            holder.submit(() -> keptLock.readLock().unlock()).get(30, TimeUnit.SECONDS);
            assertThat(inAnotherThread(() -> writeOnce(keptLock))).as("a writer once no thread reads").isTrue();
        } finally {
            holder.shutdownNow();
        }
    }

    /**
     * A read unlock's subtract, reported late: the call threw as if it had released nothing, so its thread still
     * counted the hold, and its retry through the other view (as a holder had to) subtracted again and ended another
     * thread's hold, letting a writer in while it read. A cut-short unlock releases: no retry, nothing ended twice.
     */
    @Test
    void shouldKeepAnotherThreadsReadHoldWhenTheCloseIsReportedAfterTheSubtract() throws Exception {
        assumeTrue(Membarrier.isAvailable(), "the recount needs membarrier");
        ExecutorService first = Executors.newSingleThreadExecutor();
        ExecutorService second = Executors.newSingleThreadExecutor();
        try (Views views = views("rw-read-late-sub")) {
            SharedReadWriteLock keptLock = views.keptLock();
            MemorySegment block = views.block();
            SharedReadWriteLock closingLock = views.closingLock();
            first.submit(() -> closingLock.readLock().lock()).get(30, TimeUnit.SECONDS);
            second.submit(() -> keptLock.readLock().lock()).get(30, TimeUnit.SECONDS);
            long holds = holdsOffset(block);
            addToReadHolds(block, holds, -1); // the first's, late
            views.closing().close();
            assertThatThrownBy(() -> first.submit(() -> closingLock.readLock().unlock()).get(30, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(IllegalStateException.class);
            assertThat(first.submit(keptLock::getReadHoldCount).get(30, TimeUnit.SECONDS)).as("the first's holds")
                    .isZero();
            assertThat(inAnotherThread(() -> keptLock.writeLock().tryLock())).as("a writer while the second reads")
                    .isFalse();
            second.submit(() -> keptLock.readLock().unlock()).get(30, TimeUnit.SECONDS);
            assertThat(inAnotherThread(() -> writeOnce(keptLock))).as("a writer once no thread reads").isTrue();
        } finally {
            first.shutdownNow();
            second.shutdownNow();
        }
    }

    /**
     * A read unlock's subtract, reported late, with a writer coming in before the recount: the recount gave the
     * unlocking thread its hold back (the call counted as having released nothing), and that thread, holding by its
     * count, took the read lock again at once as a reentry, beside the writer.
     */
    @Test
    void shouldNotReenterBesideAWriterAfterAnUnlockReportedLate() throws Exception {
        assumeTrue(Membarrier.isAvailable(), "the recount needs membarrier");
        ExecutorService reader = Executors.newSingleThreadExecutor();
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try (Views views = views("rw-read-late-reenter")) {
            SharedReadWriteLock keptLock = views.keptLock();
            MemorySegment block = views.block();
            SharedReadWriteLock closingLock = views.closingLock();
            reader.submit(() -> closingLock.readLock().lock()).get(30, TimeUnit.SECONDS);
            long holds = holdsOffset(block);
            addToReadHolds(block, holds, -1); // its unlock, late
            assertThat(writer.submit(() -> keptLock.writeLock().tryLock()).get(30, TimeUnit.SECONDS))
                    .as("a writer once the shared count has no reader").isTrue();
            views.closing().close();
            assertThatThrownBy(() -> reader.submit(() -> closingLock.readLock().unlock()).get(30, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(IllegalStateException.class);
            assertThat(reader.submit(() -> keptLock.readLock().tryLock()).get(30, TimeUnit.SECONDS))
                    .as("a read lock while the writer holds").isFalse();
            writer.submit(() -> keptLock.writeLock().unlock()).get(30, TimeUnit.SECONDS);
            assertThat(inAnotherThread(() -> writeOnce(keptLock))).as("a writer once no thread reads").isTrue();
        } finally {
            reader.shutdownNow();
            writer.shutdownNow();
        }
    }

    /** @return the offset of this process's read-hold word in {@code block}: the one slot announced */
    private static long holdsOffset(MemorySegment block) {
        int slot = Integer.numberOfTrailingZeros(block.get(JAVA_INT, SyncLayout.RW_READER_SLOTS_OFFSET));
        return SyncLayout.RW_SLOTS_OFFSET + slot * ProcessSlots.SLOT_SIZE + ProcessSlots.FIRST;
    }

    /** @return true if the write lock was taken (and given back) within {@link #CALL_WAIT_MILLIS} */
    private static boolean writeOnce(SharedReadWriteLock lock) throws InterruptedException {
        if (!lock.writeLock().tryLock(CALL_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
            return false;
        }
        lock.writeLock().unlock();
        return true;
    }

    /** @return true if a read lock was taken (and given back) within {@link #CALL_WAIT_MILLIS} */
    private static boolean readOnce(SharedReadWriteLock lock) throws InterruptedException {
        // a lock object's first read lock takes the checked rule, which waits while waitingWriters is not 0
        if (!lock.readLock().tryLock(CALL_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
            return false;
        }
        lock.readLock().unlock();
        return true;
    }

    private static long waitersOffset(int slot) {
        return SyncLayout.RW_SLOTS_OFFSET + slot * ProcessSlots.SLOT_SIZE + ProcessSlots.SECOND;
    }

    private static int waitingWriters(MemorySegment block, int slot) {
        return block.get(JAVA_INT, waitersOffset(slot));
    }

    private static void addToWaitingWriters(MemorySegment block, int slot, int delta) {
        block.set(JAVA_INT, waitersOffset(slot), waitingWriters(block, slot) + delta);
    }

    private static void addToReadHolds(MemorySegment block, long holds, int delta) {
        block.set(JAVA_INT, holds, block.get(JAVA_INT, holds) + delta * SyncLayout.RW_READ_HOLD);
    }

    /**
     * The lock {@code "rw"} through a kept view of a heap (its block there too) and through a second view, which the
     * test closes; closing this closes the kept one.
     */
    private record Views(SharedHeap kept, SharedReadWriteLock keptLock, MemorySegment block, SharedHeap closing,
                         SharedReadWriteLock closingLock) implements AutoCloseable {
        @Override
        public void close() {
            kept.close();
        }
    }

    private Views views(String label) {
        String name = names.unique(label);
        SharedHeap kept = SharedHeap.create(name, 1 << 20);
        SharedReadWriteLock keptLock = SharedReadWriteLock.openOrCreate(kept, "rw");
        MemorySegment block = kept.lookup("rw", SyncLayout.READ_WRITE_LOCK).segment();
        SharedHeap closing = SharedHeap.open(name);
        return new Views(kept, keptLock, block, closing, SharedReadWriteLock.openOrCreate(closing, "rw"));
    }
}
