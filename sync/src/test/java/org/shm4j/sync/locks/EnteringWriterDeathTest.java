package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A writer of a {@link SharedReadWriteLock} that dies after taking the writer's word but while it still waits for
 * readers to leave never held the lock: the reader or writer that clears its word leaves the lock consistent and
 * counts no recovery. A writer that dies after it entered is still a dead holder. The writer's word says which: its
 * entering bit ({@link SyncLayout#LOCK_ENTERING}).
 * <ul>
 * <li>ACCEPTABLE: the dead writer's word cleared by whichever of the next reader or writer checks first.</li>
 * <li>FORBIDDEN: {@code isConsistent()} false or a recovery counted for a writer that never entered; the dead
 *     writer's word kept for longer than {@link #BOUND}; a dead holder that had entered taken for an entering one.</li>
 * </ul>
 */
@Timeout(120)
class EnteringWriterDeathTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    /** A lock word no live process has: pid 2^30 - 1, start bits 1. */
    private static final long DEAD_WRITER = 1L << 32 | 0x3FFF_FFFFL;
    private static final long WRITER_WORD = SyncLayout.RW_WRITER_OFFSET + SyncLayout.MUTEX_WORD;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest(name = "the dead writer was entering: {0}")
    @ValueSource(booleans = {true, false})
    void shouldTakeADeadWritersWordOverAsARecoveryOnlyIfItHadEntered(boolean entering) throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(SyncLayout.RW_SIZE, 64);
            memory.set(JAVA_LONG, WRITER_WORD, DEAD_WRITER | (entering ? SyncLayout.LOCK_ENTERING : 0));
            SharedReadWriteLock rw = SharedReadWriteLock.wrap(memory, 0);
            assertThat(rw.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(rw.isConsistent()).isEqualTo(entering);
            assertThat(rw.recoveries()).isEqualTo(entering ? 0 : 1);
            assertThat(memory.get(JAVA_LONG, WRITER_WORD) & SyncLayout.LOCK_ENTERING).as("entered").isZero();
            rw.writeLock().unlock();
            assertThat(memory.get(JAVA_LONG, WRITER_WORD)).isZero();
        }
    }

    @Test
    void shouldAcceptTheEnteringBitOnlyInAReadWriteLocksWriterWord() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(SyncLayout.RW_SIZE, 64);
            memory.set(JAVA_LONG, WRITER_WORD, DEAD_WRITER | SyncLayout.LOCK_ENTERING);
            assertThat(SharedReadWriteLock.wrap(memory, 0).writer()).map(LockOwner::pid).contains(0x3FFF_FFFFL);
            assertThatThrownBy(() -> SharedLock.wrap(memory, SyncLayout.RW_WRITER_OFFSET))
                    .isInstanceOf(ShmFormatException.class).hasMessageContaining("lock word")
                    .hasMessageContaining("bit 31 clear");
        }
    }

    @Test
    void shouldRefuseTheEnteringWordOfLayoutVersion7() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(SyncLayout.RW_SIZE, 64);
            memory.set(JAVA_LONG, 48, DEAD_WRITER); // where version 7 kept an entering writer's word
            assertThatThrownBy(() -> SharedReadWriteLock.wrap(memory, 0))
                    .isInstanceOf(ShmFormatException.class).hasMessageContaining("48");
        }
    }

    @ParameterizedTest(name = "the next one in is a reader: {0}")
    @ValueSource(booleans = {true, false})
    void shouldLeaveTheLockConsistentWhenAWriterIsKilledWaitingForReadersToLeave(boolean readerFirst)
            throws Exception {
        String heapName = names.unique("entering-writer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            MemorySegment block = heap.lookup("rw", SyncLayout.READ_WRITE_LOCK).segment();
            rw.readLock().lock();
            try (ChildJvm child = ChildJvm.start(Writer.class, heapName)) {
                child.awaitLine("WRITING", BOUND);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while ((block.get(JAVA_LONG, WRITER_WORD) & SyncLayout.LOCK_ENTERING) == 0) {
                    assertThat(System.nanoTime() - deadline).as("the child waits for this reader").isNegative();
                    Thread.onSpinWait();
                }
                assertThat(rw.writer()).map(LockOwner::pid).contains(child.pid());
                child.kill();
            }
            Lock next = readerFirst ? rw.readLock() : rw.writeLock();
            if (!readerFirst) {
                rw.readLock().unlock();
            }
            assertThat(next.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the dead writer's word cleared").isTrue();
            assertThat(rw.isConsistent()).as("the dead writer never held the lock").isTrue();
            assertThat(rw.recoveries()).isZero();
            next.unlock();
            if (readerFirst) {
                rw.readLock().unlock();
            }
            assertThat(rw.writeLock().tryLock()).isTrue();
            assertThat(block.get(JAVA_LONG, WRITER_WORD) & SyncLayout.LOCK_ENTERING).isZero();
            rw.writeLock().unlock();
        }
    }

    /**
     * The reader that clears a dead entering writer's word takes it over, then releases it: killed between the two
     * (the child stopped by a debugger where {@code clearIfOwnerDead} calls {@code release}), it holds the word
     * without ever entering too. The next one in must not take that for a dead holder.
     */
    @Test
    void shouldLeaveTheLockConsistentWhenTheReaderClearingAnEnteringWritersWordIsKilledThere() throws Exception {
        String heapName = names.unique("entering-clearer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            MemorySegment block = heap.lookup("rw", SyncLayout.READ_WRITE_LOCK).segment();
            rw.readLock().lock();
            try (ChildJvm writer = ChildJvm.start(Writer.class, heapName)) {
                writer.awaitLine("WRITING", BOUND);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while ((block.get(JAVA_LONG, WRITER_WORD) & SyncLayout.LOCK_ENTERING) == 0) {
                    assertThat(System.nanoTime() - deadline).as("the child waits for this reader").isNegative();
                    Thread.onSpinWait();
                }
                writer.kill();
            }
            rw.readLock().unlock();
            KilledAtCall.Step beforeRelease = new KilledAtCall.Step(RobustMutex.class.getName(), "release",
                    "clearIfOwnerDead");
            try (KilledAtCall clearer = KilledAtCall.start(beforeRelease, Reader.class, heapName)) {
                clearer.awaitLine("READING", BOUND);
                String stack = clearer.awaitKilled(BOUND);
                assertThat(rw.writer()).as("the word the clearer took over, at:\n" + stack).map(LockOwner::pid)
                        .contains(clearer.pid());
            }
            assertThat(rw.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("taken over").isTrue();
            assertThat(rw.isConsistent()).as("neither the writer nor its clearer entered").isTrue();
            assertThat(rw.recoveries()).isZero();
            rw.writeLock().unlock();
            assertThat(block.get(JAVA_LONG, WRITER_WORD)).isZero();
        }
    }

    /** {@code main(heap)}: prints READING and read-locks the heap's "rw", then prints READ. */
    public static final class Reader {
        public static void main(String[] args) {
            SharedReadWriteLock rw = SharedReadWriteLock.open(SharedHeap.open(args[0]), "rw");
            System.out.println("READING");
            System.out.flush();
            rw.readLock().lock();
            System.out.println("READ");
        }
    }

    /** {@code main(heap)}: prints WRITING and write-locks the heap's "rw", waiting for the parent's read lock. */
    public static final class Writer {
        public static void main(String[] args) {
            SharedReadWriteLock rw = SharedReadWriteLock.open(SharedHeap.open(args[0]), "rw");
            System.out.println("WRITING");
            System.out.flush();
            rw.writeLock().lock(); // until killed: the parent never lets go of its read lock
        }
    }
}
