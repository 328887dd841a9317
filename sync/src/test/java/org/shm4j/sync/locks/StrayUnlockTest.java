package org.shm4j.sync.locks;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.internal.FairWord;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Thread ids repeat across JVMs: a thread of another process whose id equals the holder's, unlocking a lock it does
 * not hold in a loop, must get {@link IllegalMonitorStateException} every time and leave the holder's lock + unlock
 * rounds untouched (it used to clear the owner thread field and put it back, which failed the holder's unlock in that
 * instant, and could leave the lock held by nobody's thread). And right after a take-over's CAS from a dead owner,
 * before the new owner recorded its thread, a thread of the taking-over process with the dead owner's thread id
 * must not count as the holder (it did while the field held bare thread ids).
 * <ul>
 * <li>FORBIDDEN: an unlock of the holder that throws; a stray unlock that succeeds; the dead owner's field matching
 * a thread of the taking-over process.</li>
 * </ul>
 */
@Timeout(120)
class StrayUnlockTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final long ROUNDS_NANOS = Duration.ofSeconds(2).toNanos();

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"lock", "fair", "write"})
    void shouldKeepTheHoldersRoundsWhileAThreadOfTheSameIdInAnotherProcessUnlocks(String kind) throws Exception {
        String heapName = names.unique("stray-unlock");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            Lock lock = lockOf(heap, kind, true);
            AtomicLong rounds = new AtomicLong();
            FutureTask<Void> holder = new FutureTask<>(() -> {
                long end = System.nanoTime() + ROUNDS_NANOS;
                while (System.nanoTime() - end < 0) {
                    lock.lock();
                    lock.unlock(); // throws if the stray's unlock got in the way
                    rounds.incrementAndGet();
                }
                return null;
            });
            Thread holderThread = new Thread(holder); // made first: its id, above this JVM's first ids, for the child
            try (ChildJvm stray = ChildJvm.start(Stray.class, heapName, kind, Long.toString(holderThread.threadId()))) {
                stray.awaitLine("UNLOCKING", BOUND);
                holderThread.start();
                holder.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                stray.kill();
                assertThat(stray.output()).as("the stray's unlocks").doesNotContain("UNLOCKED");
            }
            assertThat(rounds.get()).isPositive();
            assertThat(lock.tryLock()).as("the lock is free").isTrue();
            lock.unlock();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"lock", "fair", "write"})
    void shouldNotTakeADeadOwnersThreadForTheHolderRightAfterATakeOver(String kind) throws Exception {
        String heapName = names.unique("take-over-window");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            Lock lock = lockOf(heap, kind, true);
            lock.lock(); // claims this process's slot in the fair lock
            lock.unlock();
            MemorySegment block = heap.lookup("lock", kind.equals("lock") ? SyncLayout.LOCK
                    : kind.equals("fair") ? SyncLayout.FAIR_LOCK : SyncLayout.READ_WRITE_LOCK).segment();
            FutureTask<String> taker = new FutureTask<>(() -> {
                boolean held = kind.equals("lock") ? ((SharedLock) lock).isHeldByCurrentThread()
                        : kind.equals("fair") ? ((SharedFairLock) lock).isHeldByCurrentThread()
                        : SharedReadWriteLock.open(heap, "lock").isWriteLockedByCurrentThread();
                try {
                    lock.unlock();
                    return "held " + held + ", unlocked";
                } catch (IllegalMonitorStateException expected) {
                    return "held " + held + ", refused";
                }
            });
            Thread takerThread = new Thread(taker); // made first: its id, above this JVM's first ids, for the child
            try (ChildJvm owner = ChildJvm.start(Owner.class, heapName, kind, Long.toString(takerThread.threadId()))) {
                owner.awaitLine("LOCKED", BOUND);
                owner.kill();
            }
            // what a take-over's CAS leaves until the next store: the word this process's, the owner field the dead's
            long wordOffset = kind.equals("lock") ? SyncLayout.MUTEX_WORD
                    : kind.equals("fair") ? SyncLayout.FAIR_WORD_OFFSET : SyncLayout.RW_WRITER_OFFSET;
            long ours = kind.equals("fair") ? takenByThisProcess(block, block.get(JAVA_LONG, wordOffset))
                    : (ProcessIdentity.currentStartStamp() & 0xFFFF_FFFFL) << 32 | ProcessHandle.current().pid()
                            | SyncLayout.LOCK_WAITERS;
            block.set(JAVA_LONG, wordOffset, ours);
            takerThread.start();
            assertThat(taker.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo("held false, refused");
            assertThat(block.get(JAVA_LONG, wordOffset)).as("the word is left alone").isEqualTo(ours);
        }
    }

    /** @return the fair lock's ticket word {@code word}, taken by the dead owner, as this process's take leaves it */
    private static long takenByThisProcess(MemorySegment block, long word) {
        assertThat(FairWord.taken(word)).as("the dead owner's turn").isTrue();
        int slot = new ProcessSlots(block, SyncLayout.FAIR_PROCESSES_OFFSET, "fair lock").claim(); // this process's
        return FairWord.takenBy(word & ~FairWord.owner(word), FairWord.ownerBits(slot, ProcessIdentity.currentToken()));
    }

    private static Lock lockOf(SharedHeap heap, String kind, boolean create) {
        if (kind.equals("lock")) {
            return create ? SharedLock.create(heap, "lock") : SharedLock.open(heap, "lock");
        }
        if (kind.equals("fair")) {
            return create ? SharedFairLock.create(heap, "lock") : SharedFairLock.open(heap, "lock");
        }
        return (create ? SharedReadWriteLock.create(heap, "lock") : SharedReadWriteLock.open(heap, "lock"))
                .writeLock();
    }

    /**
     * {@code main(heap, kind, threadId)}: makes a thread with the given id (ids are handed out in order as threads
     * are made) and has it unlock the heap's "lock" in a loop, printing UNLOCKED if an unlock ever succeeds.
     */
    public static final class Stray {
        public static void main(String[] args) throws InterruptedException {
            Lock lock = lockOf(SharedHeap.open(args[0]), args[1], false);
            runAs(Long.parseLong(args[2]), () -> {
                System.out.println("UNLOCKING");
                System.out.flush();
                while (true) {
                    try {
                        lock.unlock();
                        System.out.println("UNLOCKED");
                        System.out.flush();
                    } catch (IllegalMonitorStateException expected) {
                        // the lock is another process's
                    }
                }
            });
        }
    }

    /**
     * {@code main(heap, kind, threadId)}: locks the heap's "lock" in a thread with the given id, prints LOCKED and
     * waits to be killed.
     */
    public static final class Owner {
        public static void main(String[] args) throws InterruptedException {
            Lock lock = lockOf(SharedHeap.open(args[0]), args[1], false);
            runAs(Long.parseLong(args[2]), () -> {
                lock.lock();
                System.out.println("LOCKED");
                System.out.flush();
                try {
                    Thread.sleep(Long.MAX_VALUE); // holds the lock until the parent kills this process
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
    }

    /** Runs {@code task} in a thread whose id is {@code id} and waits for it; prints why if this JVM cannot. */
    private static void runAs(long id, Runnable task) throws InterruptedException {
        Thread thread = new Thread(task);
        while (thread.threadId() < id) { // a Thread takes its id when it is made, started or not
            thread = new Thread(task);
        }
        if (thread.threadId() != id) {
            System.out.println("NO THREAD WITH ID " + id + " (this JVM's ids passed it)");
            return;
        }
        thread.start();
        thread.join();
    }
}
