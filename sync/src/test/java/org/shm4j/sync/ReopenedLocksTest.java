package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.sync.testing.KilledAtCall.Step;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.Children.BOUND;

/**
 * Locks, read holds and UNDO permits that a process's close left behind, when that process opens the heap again:
 * its name was back in the attach table, so each such hold was its own again, held by no call (another thread's or
 * process's lock waited for ever; the thread that had held it heard "already held"). The open now renames them as a
 * gone holder's, and the next taker, here or elsewhere, takes them over as after a holder's death: marked for repair,
 * one recovery counted.
 */
@Timeout(180)
class ReopenedLocksTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldLetAnotherThreadTakeOverALockHeldWhenTheHeapClosedOnceItIsOpenAgain() throws Exception {
        String heapName = names.unique("reopen-lock");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedLock lock = SharedLock.create(heap, "lock");
        SharedReentrantLock reentrant = SharedReentrantLock.create(heap, "reentrant");
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().daemon().start(() -> {
            lock.lock();
            reentrant.lock();
            reentrant.lock();
            held.countDown();
            awaitQuietly(never);
        });
        assertThat(held.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        heap.close(); // its last view: the holder's holds are left behind
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedLock reopened = SharedLock.open(again, "lock");
            SharedReentrantLock reopenedReentrant = SharedReentrantLock.open(again, "reentrant");
            CompletableFuture<String> other = CompletableFuture.supplyAsync(() -> {
                boolean locked = tryLock(reopened) && tryLock(reopenedReentrant);
                String state = locked + " " + reopened.isConsistent() + " " + reopened.recoveries() + " "
                        + reopenedReentrant.isConsistent() + " " + reopenedReentrant.getHoldCount();
                reopened.unlock();
                reopenedReentrant.unlock();
                return state;
            });
            assertThat(other.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("taken over as a dead holder's: locked, inconsistent, one recovery; a hold count of 1")
                    .isEqualTo("true false 1 false 1");
        } finally {
            never.countDown();
            holder.join(BOUND.toMillis());
        }
    }

    @Test
    void shouldLetTheThreadThatHeldALockWhenItClosedTheHeapLockItAgainAfterReopening() throws Exception {
        String heapName = names.unique("reopen-same-thread");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedLock.create(heap, "lock").lock();
        heap.close();
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedLock lock = SharedLock.open(again, "lock");
            assertThat(lock.isHeldByCurrentThread()).as("the hold was the closed heap's").isFalse();
            // before: IllegalMonitorStateException, locked by this thread already
            assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(lock.isConsistent()).isFalse();
            lock.markConsistent();
            lock.unlock();
            assertThat(lock.tryLock()).isTrue();
            assertThat(lock.isConsistent()).isTrue();
            lock.unlock();
        }
    }

    @Test
    void shouldGiveBackReadHoldsAndWriteHoldsAndUndoPermitsLeftByTheCloseOnceTheHeapIsOpenAgain() throws Exception {
        String heapName = names.unique("reopen-rw-undo");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedReadWriteLock readHeld = SharedReadWriteLock.create(heap, "read held");
        SharedReadWriteLock writeHeld = SharedReadWriteLock.create(heap, "write held");
        SharedSemaphore undo = SharedSemaphore.create(heap, "undo", 2, SharedSemaphore.Kind.UNDO);
        readHeld.readLock().lock();
        writeHeld.writeLock().lock();
        undo.acquire(2);
        heap.close();
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedReadWriteLock reads = SharedReadWriteLock.open(again, "read held");
            SharedReadWriteLock writes = SharedReadWriteLock.open(again, "write held");
            SharedSemaphore permits = SharedSemaphore.open(again, "undo");
            assertThat(reads.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("the write lock, the read hold dropped").isTrue();
            reads.writeLock().unlock();
            assertThat(reads.readerPids()).isEmpty();
            assertThat(writes.readLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("a read lock, the write hold taken over").isTrue();
            writes.readLock().unlock();
            assertThat(permits.tryAcquire(2, BOUND.toSeconds(), TimeUnit.SECONDS)).as("both UNDO permits").isTrue();
            permits.release(2);
        }
    }

    /**
     * Structures made with {@code wrap} (or {@code format}) over a block of the user's own are not in the catalog:
     * the reopen finds them by this process's record of each wrap. Before it, the lock stayed held (another thread
     * waited, the thread that held it heard "already held"), as did the read hold and the UNDO permit.
     */
    @Test
    void shouldTakeOverHoldsOfStructuresWrappedOverAUsersBlock() throws Exception {
        String heapName = names.unique("reopen-wrapped");
        BlockType users = new BlockType(0x7E57, 1);
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        long rwAt = 128;
        long semAt = rwAt + SyncLayout.RW_SIZE;
        MemorySegment block = heap.allocate("user's", users, semAt + SharedSemaphore.requiredBytes()).segment();
        SharedLock.wrap(block, 0).lock();
        SharedReadWriteLock.wrap(block, rwAt).readLock().lock();
        SharedSemaphore.format(block, semAt, 1, SharedSemaphore.Kind.UNDO).acquire();
        heap.close();
        try (SharedHeap again = SharedHeap.open(heapName)) {
            MemorySegment reopened = again.find("user's").orElseThrow().segment();
            SharedLock lock = SharedLock.wrap(reopened, 0);
            assertThat(onAnotherThread(() -> tryLock(lock) && unlocked(lock))).as("another thread's lock").isTrue();
            assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the thread that held it").isTrue();
            lock.unlock();
            SharedReadWriteLock rw = SharedReadWriteLock.wrap(reopened, rwAt);
            assertThat(rw.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the read hold dropped")
                    .isTrue();
            rw.writeLock().unlock();
            assertThat(SharedSemaphore.wrap(reopened, semAt).tryAcquire(1, BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("the UNDO permit given back").isTrue();
        }
    }

    @Test
    void shouldLeaveHoldsAloneThatNoCloseLeft() throws Exception {
        String heapName = names.unique("reopen-untouched");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedLock mine = SharedLock.create(heap, "mine");
            SharedLock.create(heap, "child's");
            SharedLock.create(heap, "left");
            mine.lock();
            try (ChildJvm child = ChildJvm.start(Holder.class, heapName, "child's", "stay")) {
                child.awaitLine("REOPENED", BOUND);
                try (SharedHeap second = SharedHeap.open(heapName)) { // this process's slot: no sweep
                    SharedLock mineAgain = SharedLock.open(second, "mine");
                    assertThat(mineAgain.isHeldByCurrentThread()).as("held through the first view").isTrue();
                    assertThat(onAnotherThread(() -> SharedLock.open(second, "child's").tryLock()))
                            .as("the child's lock, held after its own reopen").isFalse();
                }
                heap.close();
                try (SharedHeap again = SharedHeap.open(heapName)) { // swept: only this process's holds renamed
                    assertThat(SharedLock.open(again, "child's").tryLock(200, TimeUnit.MILLISECONDS))
                            .as("the child's lock").isFalse();
                    SharedLock left = SharedLock.open(again, "left");
                    assertThat(left.tryLock()).isTrue();
                    assertThat(left.isConsistent()).as("a free lock, not taken over").isTrue();
                    left.unlock();
                    assertThat(SharedLock.open(again, "mine").tryLock(BOUND.toSeconds(), TimeUnit.SECONDS))
                            .as("this process's own hold, left by its close").isTrue();
                }
            }
        }
    }

    @Test
    void shouldLetAnotherProcessTakeOverWhatAChildLeftByItsCloseAfterItOpenedTheHeapAgain() throws Exception {
        String heapName = names.unique("reopen-child");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            try (ChildJvm child = ChildJvm.start(Holder.class, heapName, "lock", "leave")) {
                child.awaitLine("REOPENED", BOUND);
                assertThat(heap.attachedProcesses()).as("the child has the heap open again").hasSize(2);
                // before: false, the child's live attached process named as the holder
                assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(lock.isConsistent()).isFalse();
                assertThat(lock.recoveries()).isEqualTo(1);
                lock.unlock();
            }
        }
    }

    /**
     * A child killed in its sweep, after it renamed the first of its two locks and before the second: both are a
     * gone process's (the second names the dead child itself), taken over at once.
     */
    @Test
    void shouldTakeOverBothLocksOfAChildKilledMidwayThroughItsSweep() throws Exception {
        String heapName = names.unique("reopen-killed");
        Step secondRename = Step.atLine(RobustMutex.class, "abandon", "if (!isThisProcess(w) ||", 2);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedLock first = SharedLock.create(heap, "first");
            SharedLock second = SharedLock.create(heap, "second");
            try (KilledAtCall child = KilledAtCall.start(secondRename, Holder.class, heapName, "first,second",
                    "leave")) {
                child.awaitKilled(BOUND);
                assertThat(child.output()).doesNotContain("REOPENED");
                for (SharedLock lock : new SharedLock[] {first, second}) {
                    assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                    assertThat(lock.isConsistent()).isFalse();
                    lock.unlock();
                }
                assertThat(heap.attachedProcesses()).as("the killed child's slot, reclaimed by a later open")
                        .allSatisfy(p -> assertThat(p.pid() == child.pid() && p.alive()).isFalse());
            }
        }
    }

    private static boolean tryLock(Lock lock) {
        try {
            return lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean unlocked(Lock lock) {
        lock.unlock();
        return true;
    }

    private static boolean onAnotherThread(BooleanSupplier call) throws Exception {
        return CompletableFuture.supplyAsync(call::getAsBoolean).get(BOUND.toSeconds(), TimeUnit.SECONDS);
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(3 * BOUND.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * {@code main(heap, locks, then)}: locks each of the comma-separated locks, closes the heap (its only view) and
     * opens it again; {@code then} = {@code stay} locks the first one again (a hold made anew, which no sweep may
     * touch), {@code leave} holds nothing anew; prints {@code REOPENED} and waits to be killed.
     */
    public static final class Holder {
        public static void main(String[] args) throws Exception {
            String[] locks = args[1].split(",");
            SharedHeap heap = SharedHeap.open(args[0]);
            for (String name : locks) {
                SharedLock.open(heap, name).lock();
            }
            heap.close();
            SharedHeap again = SharedHeap.open(args[0]);
            if (args[2].equals("stay") && !SharedLock.open(again, locks[0]).tryLock(BOUND.toSeconds(),
                    TimeUnit.SECONDS)) {
                throw new AssertionError("could not lock " + locks[0] + " again");
            }
            Children.say("REOPENED");
            new CountDownLatch(1).await(3 * BOUND.toSeconds(), TimeUnit.SECONDS);
        }
    }
}
