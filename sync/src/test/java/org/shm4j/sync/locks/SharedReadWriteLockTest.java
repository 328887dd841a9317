package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.SyncLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.locks.AnotherThread.inAnotherThread;

class SharedReadWriteLockTest {
    @Test
    void shouldShareReadsAndExcludeWrites() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            rw.readLock().lock();
            rw.readLock().lock();
            assertThat(rw.readerPids()).containsExactly(ProcessHandle.current().pid());
            assertThat(rw.getReadHoldCount()).isEqualTo(2);
            assertThat(inAnotherThread(() -> rw.writeLock().tryLock())).isFalse();
            assertThat(inAnotherThread(() -> rw.writeLock().tryLock(20, TimeUnit.MILLISECONDS))).isFalse();
            rw.readLock().unlock();
            rw.readLock().unlock();
            assertThat(rw.getReadHoldCount()).isZero();
            assertThat(rw.readerPids()).isEmpty();
            assertThat(rw.writeLock().tryLock()).isTrue();
            assertThat(rw.writer()).get().extracting(LockOwner::threadId).isEqualTo(Thread.currentThread().threadId());
            // in another thread: the writer's own is refused (shouldRefuseAReadLockUnderThisThreadsWriteLock)
            assertThat(inAnotherThread(() -> rw.readLock().tryLock())).isFalse();
            assertThat(inAnotherThread(() -> rw.readLock().tryLock(20, TimeUnit.MILLISECONDS))).isFalse();
            rw.writeLock().unlock();
            assertThat(rw.readLock().tryLock()).isTrue();
            rw.readLock().unlock();
            assertThat(rw.isConsistent()).isTrue();
            assertThat(rw.recoveries()).isZero();
            assertThat(SharedReadWriteLock.open(heap, "rw").toString()).contains("readers []");
        }
    }

    /**
     * No downgrade: the thread holding the write lock that asks for the read lock gets an exception (readers take no
     * part in deadlock detection, so a wait would last for ever), its read hold backed out, the write lock still its.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // the bug was a wait for ever
    void shouldRefuseAReadLockUnderThisThreadsWriteLock() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            rw.readLock().lock(); // claims this process's slot
            rw.readLock().unlock();
            rw.writeLock().lock();
            String refused = "read-write lock 'rw' (read) cannot be taken under this thread's write lock (no "
                    + "downgrade)";
            assertThatThrownBy(() -> rw.readLock().lock()).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessage(refused);
            assertThatThrownBy(() -> rw.readLock().lockInterruptibly())
                    .isInstanceOf(IllegalMonitorStateException.class).hasMessage(refused);
            assertThatThrownBy(() -> rw.readLock().tryLock()).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessage(refused);
            assertThatThrownBy(() -> rw.readLock().tryLock(500, TimeUnit.MILLISECONDS))
                    .isInstanceOf(IllegalMonitorStateException.class).hasMessage(refused);
            assertThat(rw.isWriteLockedByCurrentThread()).isTrue();
            assertThat(rw.readerPids()).as("every refused read hold backed out").isEmpty();
            rw.writeLock().unlock();
            assertThat(rw.readLock().tryLock()).isTrue();
            rw.readLock().unlock();
        }
    }

    @Test
    void shouldCountTheReadHoldsOfOneProcessInOneSlotWhateverObjectIsUsed() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock first = SharedReadWriteLock.create(heap, "rw");
            SharedReadWriteLock second = SharedReadWriteLock.open(heap, "rw");
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            AtomicInteger failures = new AtomicInteger();
            for (int t = 0; t < 4; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                        for (int i = 0; i < 1_000; i++) {
                            first.readLock().lock();
                            second.readLock().unlock(); // the same process's hold, through the other object
                        }
                    } catch (InterruptedException | IllegalMonitorStateException e) {
                        failures.incrementAndGet();
                    }
                }));
            }
            start.countDown();
            for (Thread thread : threads) {
                thread.join(60_000);
            }
            assertThat(failures).hasValue(0);
            assertThat(first.readerPids()).isEmpty();
        }
    }

    @Test
    void shouldRefuseUnlockWithoutHold() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.openOrCreate(heap, "rw");
            assertThatThrownBy(() -> rw.readLock().unlock()).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessage("read-write lock 'rw' (read) is not held by this thread");
            assertThatThrownBy(() -> rw.writeLock().unlock()).isInstanceOf(IllegalMonitorStateException.class);
            assertThatThrownBy(rw::markConsistent).isInstanceOf(IllegalMonitorStateException.class);
            assertThatThrownBy(() -> rw.readLock().newCondition()).isInstanceOf(UnsupportedOperationException.class);
            assertThatThrownBy(() -> rw.writeLock().newCondition().await())
                    .isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessageEndingWith("does not hold read-write lock 'rw' (write) (free)");
        }
    }

    @Test
    void shouldSayInEachSidesToStringWhoHoldsItAsTheJdksLocksDo() {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
        long pid = ProcessHandle.current().pid();
        assertThat(rw.writeLock()).hasToString("read-write lock 'rw' (write) (free)");
        assertThat(rw.readLock()).hasToString("read-write lock 'rw' (read) (no read holds)");
        rw.writeLock().lock();
        assertThat(rw.writeLock()).hasToString("read-write lock 'rw' (write) held by " + rw.writer().orElseThrow());
        assertThat(rw.writeLock().toString()).startsWith("read-write lock 'rw' (write) held by pid " + pid + ",");
        rw.writeLock().unlock();
        rw.readLock().lock();
        rw.readLock().lock();
        assertThat(rw.readLock()).hasToString("read-write lock 'rw' (read) held by pids [" + pid + "]");
        assertThat(rw.writeLock()).hasToString("read-write lock 'rw' (write) (free)");
        rw.readLock().unlock();
        rw.readLock().unlock();
        heap.close();
        assertThat(rw.writeLock()).hasToString("read-write lock 'rw' (write) (its heap is closed)");
        assertThat(rw.readLock()).hasToString("read-write lock 'rw' (read) (its heap is closed)");
    }

    @Test
    void shouldRefuseAReadHoldPastTheMostAProcessCountsAndKeepTheLockUsable() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(SyncLayout.RW_SIZE, 64);
            SharedReadWriteLock rw = SharedReadWriteLock.wrap(memory, 0);
            rw.readLock().lock();
            long holds = WriterFlagTest.holdsOffset(memory);
            int most = SyncLayout.RW_MAX_READ_HOLDS * SyncLayout.RW_READ_HOLD;
            // as if this process's threads held the most read holds it counts (a loop that leaks them gets there in
            // about 2 s; at 2^30 the word reached its sign bit, and the next reentry said "holds no read lock")
            memory.set(ValueLayout.JAVA_INT, holds, most);
            String refusal = "read-write lock at 0x" + Long.toHexString(memory.address()) + " (read): this process"
                    + " already counts " + SyncLayout.RW_MAX_READ_HOLDS + " read holds, the most a read-write lock"
                    + " counts per process (read locks taken without their unlocks, or the lock's bytes damaged)";
            assertThatThrownBy(() -> rw.readLock().lock()).as("a reentry")
                    .isInstanceOf(IllegalStateException.class).hasMessage(refusal);
            assertThat(inAnotherThread(() -> {
                SharedReadWriteLock fresh = SharedReadWriteLock.wrap(memory, 0); // its first read lock is checked
                return catching(() -> fresh.readLock().tryLock(10, TimeUnit.MILLISECONDS));
            })).as("a first hold that took the slow path").isEqualTo(refusal);
            assertThat(memory.get(ValueLayout.JAVA_INT, holds)).as("nothing counted").isEqualTo(most);
            assertThat(rw.getReadHoldCount()).isOne();

            memory.set(ValueLayout.JAVA_INT, holds, SyncLayout.RW_READ_HOLD); // this thread's one hold again
            rw.readLock().lock();
            assertThat(rw.getReadHoldCount()).isEqualTo(2);
            rw.readLock().unlock();
            rw.readLock().unlock();
            assertThat(memory.get(ValueLayout.JAVA_INT, holds)).isZero();
            assertThat(rw.writeLock().tryLock()).isTrue();
            rw.writeLock().unlock();
        }
    }

    /** @return the message of what {@code call} threw, or what it returned */
    private static Object catching(Callable<?> call) {
        try {
            return call.call();
        } catch (Exception e) {
            return e.getMessage();
        }
    }

    @Test
    void shouldLetAWaitingWriterInBeforeNewReaders() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            rw.readLock().lock();
            CountDownLatch writerGotIt = new CountDownLatch(1);
            Thread writer = Thread.ofPlatform().start(() -> {
                rw.writeLock().lock();
                writerGotIt.countDown();
                rw.writeLock().unlock();
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (rw.writer().isEmpty()) { // the writer took the word and waits for us to leave
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.onSpinWait();
            }
            Thread reader = Thread.ofPlatform().start(() -> {
                assertThat(rw.readLock().tryLock()).as("a new reader waits behind the writer").isFalse();
            });
            reader.join(10_000);
            rw.readLock().unlock();
            assertThat(writerGotIt.await(30, TimeUnit.SECONDS)).isTrue();
            writer.join(10_000);
        }
    }

    @Test
    void shouldLetTheNextWriterInBeforeTheReadersThatWaitedForThePreviousOne() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(SyncLayout.RW_SIZE, 64);
            SharedReadWriteLock rw = SharedReadWriteLock.wrap(memory, 0);
            AtomicInteger turn = new AtomicInteger();
            rw.writeLock().lock();
            FutureTask<Integer> writer = new FutureTask<>(() -> {
                rw.writeLock().lock();
                int mine = turn.incrementAndGet();
                rw.writeLock().unlock();
                return mine;
            });
            Thread.ofPlatform().start(writer);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (memory.get(ValueLayout.JAVA_INT, SyncLayout.RW_WAITING_WRITERS_OFFSET) == 0) {
                assertThat(System.nanoTime()).as("the second writer counted as waiting").isLessThan(deadline);
                Thread.onSpinWait();
            }
            FutureTask<Integer> reader = new FutureTask<>(() -> {
                rw.readLock().lock();
                int mine = turn.incrementAndGet();
                rw.readLock().unlock();
                return mine;
            });
            Thread.ofPlatform().start(reader);
            WakeWords.awaitSleepers(memory, 2, Duration.ofSeconds(30)); // both blocked behind this thread's hold
            rw.writeLock().unlock();
            assertThat(writer.get(30, TimeUnit.SECONDS)).as("the waiting writer's turn").isEqualTo(1);
            assertThat(reader.get(30, TimeUnit.SECONDS)).as("the reader that waited, after it").isEqualTo(2);
        }
    }

    @Test
    void shouldNeverShowATornWriteToReaderThreads() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            SharedLongArray record = SharedLongArray.create(heap, "record", 8);
            AtomicInteger torn = new AtomicInteger();
            List<Thread> threads = new ArrayList<>();
            threads.add(Thread.ofPlatform().start(() -> {
                for (long k = 1; k <= 5_000; k++) {
                    rw.writeLock().lock();
                    try {
                        for (int i = 0; i < 8; i++) {
                            record.setPlain(i, k);
                        }
                    } finally {
                        rw.writeLock().unlock();
                    }
                }
            }));
            for (int r = 0; r < 3; r++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    for (int n = 0; n < 5_000; n++) {
                        rw.readLock().lock();
                        try {
                            long first = record.getPlain(0);
                            for (int i = 1; i < 8; i++) {
                                if (record.getPlain(i) != first) {
                                    torn.incrementAndGet();
                                }
                            }
                        } finally {
                            rw.readLock().unlock();
                        }
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join(120_000);
                assertThat(thread.isAlive()).isFalse();
            }
            assertThat(torn).hasValue(0);
            assertThat(record.get(7)).isEqualTo(5_000);
        }
    }

    @Test
    void shouldDropTheWaitingWritersOfADeadProcessAndMarkReaderSlots() throws Exception {
        long dead = ProcessIdentity.token(ProcessHandle.current().pid(), ProcessIdentity.currentStartStamp() + 1);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(SyncLayout.RW_SIZE, 64);
            long slot = SyncLayout.RW_SLOTS_OFFSET + 3 * ProcessSlots.SLOT_SIZE;
            memory.set(ValueLayout.JAVA_LONG, slot + ProcessSlots.TOKEN, dead);
            memory.set(ValueLayout.JAVA_INT, slot + ProcessSlots.SECOND, 1);
            memory.set(ValueLayout.JAVA_INT, SyncLayout.RW_WAITING_WRITERS_OFFSET, 1 << 3);
            SharedReadWriteLock rw = SharedReadWriteLock.wrap(memory, 0);
            assertThat(rw.readLock().tryLock()).as("a new reader reads the writer word alone").isTrue();
            rw.readLock().unlock();
            rw.writeLock().lock(); // a reader that comes now waits, and then also for the writer of slot 3
            ExecutorService readerThread = Executors.newSingleThreadExecutor(); // its read hold is its own to release
            try {
                Future<Boolean> reader = readerThread.submit(() -> rw.readLock().tryLock(30, TimeUnit.SECONDS));
                WakeWords.awaitSleepers(memory, 1, Duration.ofSeconds(30));
                rw.writeLock().unlock();
                assertThat(reader.get(30, TimeUnit.SECONDS)).as("the waiting writer's process is dead").isTrue();
                assertThat(memory.get(ValueLayout.JAVA_INT, SyncLayout.RW_WAITING_WRITERS_OFFSET)).isZero();
                int mine = new ProcessSlots(memory, SyncLayout.RW_SLOTS_OFFSET, "rw").claim();
                assertThat(memory.get(ValueLayout.JAVA_INT, SyncLayout.RW_READER_SLOTS_OFFSET)).isEqualTo(1 << mine);
                assertThat(rw.readerPids()).containsExactly(ProcessHandle.current().pid());
                assertThat(rw.writeLock().tryLock()).isFalse();
                readerThread.submit(() -> rw.readLock().unlock()).get(30, TimeUnit.SECONDS);
                assertThat(rw.writeLock().tryLock()).isTrue();
                rw.writeLock().unlock();
            } finally {
                readerThread.shutdownNow();
            }
        }
    }

    @Test
    void shouldTurnAReaderAwayFromAHeldWriteLockAndRefuseAnotherThreadsWriteUnlock() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(SyncLayout.RW_SIZE, 64);
            SharedReadWriteLock rw = SharedReadWriteLock.wrap(memory, 0);
            rw.readLock().lock(); // claims this process's slot
            rw.readLock().unlock();
            long holds = SyncLayout.RW_SLOTS_OFFSET + ProcessSlots.SLOT_SIZE
                    * Integer.numberOfTrailingZeros(memory.get(ValueLayout.JAVA_INT, SyncLayout.RW_READER_SLOTS_OFFSET))
                    + ProcessSlots.FIRST;
            rw.writeLock().lock();
            assertThat(inAnotherThread(() -> rw.readLock().tryLock())).isFalse();
            assertThat(memory.get(ValueLayout.JAVA_INT, holds)).as("read holds backed out, the writer's flag set")
                    .isEqualTo(SyncLayout.RW_WRITER_FLAG);
            List<Throwable> thrown = new ArrayList<>();
            Thread other = Thread.ofPlatform().start(() -> {
                try {
                    rw.writeLock().unlock();
                } catch (RuntimeException e) {
                    thrown.add(e);
                }
            });
            other.join(30_000);
            assertThat(other.isAlive()).isFalse();
            assertThat(thrown).singleElement().isInstanceOf(IllegalMonitorStateException.class)
                    .extracting(Throwable::getMessage).asString().contains("(write) is not held");
            assertThat(rw.isWriteLockedByCurrentThread()).isTrue();
            rw.writeLock().unlock();
            assertThat(rw.readLock().tryLock()).isTrue();
            rw.readLock().unlock();
        }
    }
}
