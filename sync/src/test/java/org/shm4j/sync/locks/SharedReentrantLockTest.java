package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SharedReentrantLock}: holds counted by the owner and dropped one by one, other threads and processes kept out
 * until the last, a condition's wait releasing every hold and restoring them, a take-over from an owner killed
 * holding it several times, and its block checked as its own kind.
 */
class SharedReentrantLockTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldCountHoldsAndFreeTheLockOnTheLastUnlock() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReentrantLock lock = SharedReentrantLock.create(heap, "r");
            assertThat(lock.getHoldCount()).isZero();
            lock.lock();
            lock.lock();
            assertThat(lock.tryLock()).isTrue();
            assertThat(lock.tryLock(10, TimeUnit.MILLISECONDS)).isTrue();
            lock.lockInterruptibly();
            assertThat(lock.getHoldCount()).isEqualTo(5);
            assertThat(lock.toString()).startsWith("reentrant lock 'r' held by pid " + ProcessHandle.current().pid())
                    .endsWith(", 5 holds");
            for (int holds = 4; holds >= 1; holds--) {
                lock.unlock();
                assertThat(lock.getHoldCount()).isEqualTo(holds);
                assertThat(lock.isHeldByCurrentThread()).isTrue();
                assertThat(inOtherThread(lock::tryLock).booleanValue()).as("another thread, %d holds left", holds)
                        .isFalse();
            }
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
            assertThat(lock.getHoldCount()).isZero();
            assertThat(lock.toString()).isEqualTo("reentrant lock 'r' (free)");
            assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessage("reentrant lock 'r' is not held by this thread; held by nobody");
            assertThat(inOtherThread(() -> lock.withLock(lock::getHoldCount)).intValue()).isEqualTo(1);
        }
    }

    @Test
    void shouldRefuseAnotherThreadsUnlockAndKeepTheOwnersHolds() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReentrantLock lock = SharedReentrantLock.create(heap, "r");
            lock.lock();
            lock.lock();
            AtomicReference<Throwable> refused = new AtomicReference<>();
            inOtherThread(() -> {
                try {
                    lock.unlock();
                } catch (IllegalMonitorStateException e) {
                    refused.set(e);
                }
                return lock.getHoldCount();
            });
            assertThat(refused.get()).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessageContaining("reentrant lock 'r' is not held by this thread; held by pid "
                            + ProcessHandle.current().pid() + ", thread " + Thread.currentThread().threadId());
            assertThat(lock.getHoldCount()).as("the owner's count untouched").isEqualTo(2);
            lock.unlock();
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
        }
    }

    @Test
    void shouldKeepOtherThreadsOutUntilTheLastHold() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReentrantLock lock = SharedReentrantLock.create(heap, "r");
            SharedLong counter = SharedLong.create(heap, "c");
            int threads = 4;
            int rounds = 10_000;
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                workers.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < rounds; i++) {
                        lock.lock();
                        try {
                            long before = counter.getPlain();
                            lock.lock(); // nested: the other threads must stay out across it
                            try {
                                counter.setPlain(before + 1);
                            } finally {
                                lock.unlock();
                            }
                            counter.setPlain(counter.getPlain() + 1);
                        } finally {
                            lock.unlock();
                        }
                    }
                }));
            }
            for (Thread worker : workers) {
                worker.join(BOUND.toMillis());
                assertThat(worker.isAlive()).isFalse();
            }
            assertThat(counter.get()).isEqualTo(2L * threads * rounds);
        }
    }

    @Test
    void shouldReleaseEveryHoldWhileAwaitingAndRestoreThem() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReentrantLock lock = SharedReentrantLock.create(heap, "r");
            SharedCondition condition = lock.newCondition();
            SharedLong state = SharedLong.create(heap, "state");
            CountDownLatch waiting = new CountDownLatch(1);
            AtomicInteger holdsAfter = new AtomicInteger(-1);
            Thread waiter = Thread.ofPlatform().start(() -> {
                lock.lock();
                lock.lock();
                lock.lock();
                try {
                    waiting.countDown();
                    assertThat(condition.awaitFor(() -> state.get() == 1, BOUND.toMillis(), TimeUnit.MILLISECONDS))
                            .isTrue();
                    holdsAfter.set(lock.getHoldCount());
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                } finally {
                    lock.unlock();
                    lock.unlock();
                    lock.unlock();
                }
            });
            assertThat(waiting.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            // the waiter holds the lock three times until its await releases all three
            assertThat(lock.tryLock(10, TimeUnit.SECONDS)).as("in while it waits").isTrue();
            lock.lock();
            state.set(1);
            condition.signalAll();
            lock.unlock();
            assertThat(lock.getHoldCount()).isEqualTo(1);
            lock.unlock();
            waiter.join(BOUND.toMillis());
            assertThat(holdsAfter.get()).as("holds restored after the wait").isEqualTo(3);
            assertThat(lock.isLocked()).isFalse();

            lock.lock();
            lock.lock();
            assertThat(condition.awaitNanos(TimeUnit.MILLISECONDS.toNanos(5))).as("timed out").isNotPositive();
            assertThat(lock.getHoldCount()).as("restored after a timeout").isEqualTo(2);
            lock.unlock();
            lock.unlock();
        }
    }

    @Test
    void shouldOpenOnlyAsItsOwnKind() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock.create(heap, "plain");
            SharedReentrantLock reentrant = SharedReentrantLock.create(heap, "reentrant");
            assertThatThrownBy(() -> SharedReentrantLock.open(heap, "plain"))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("SharedLock");
            assertThatThrownBy(() -> SharedLock.open(heap, "reentrant"))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("SharedReentrantLock");
            SharedCondition.create(heap, "c", reentrant);
            assertThat(SharedCondition.open(heap, "c", SharedReentrantLock.open(heap, "reentrant"))).isNotNull();
            assertThatThrownBy(() -> SharedCondition.open(heap, "c", SharedLock.open(heap, "plain")))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageContaining("made for the lock 'reentrant', not for lock 'plain'");
            assertThat(SharedReentrantLock.openOrCreate(heap, "reentrant").isLocked()).isFalse();
        }
    }

    @Test
    void shouldWriteTheDocumentedLayoutAndRefuseBytesNoReentrantLockHas() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(64, 64);
            SharedReentrantLock lock = SharedReentrantLock.wrap(raw, 0);
            lock.lock();
            lock.lock();
            long pid = ProcessHandle.current().pid();
            assertThat(raw.get(JAVA_LONG, SyncLayout.MUTEX_WORD) & SyncLayout.LOCK_PID_MASK).isEqualTo(pid);
            assertThat(raw.get(JAVA_LONG, SyncLayout.MUTEX_OWNER_THREAD))
                    .isEqualTo(Thread.currentThread().threadId() ^ pid << SyncLayout.OWNER_THREAD_PID_SHIFT);
            assertThat(raw.get(JAVA_INT, 40)).as("holds at 40").isEqualTo(2);
            lock.unlock();
            lock.unlock();
            assertThat(raw.get(JAVA_LONG, 0)).isZero();
            assertThat(raw.get(JAVA_INT, 40)).as("0 once free").isZero();

            MemorySegment block = heap.allocate("damaged", SyncLayout.REENTRANT_LOCK, 64).segment();
            block.set(JAVA_INT, 40, -1);
            assertThatThrownBy(() -> SharedReentrantLock.open(heap, "damaged")).isInstanceOf(ShmFormatException.class)
                    .hasMessage("reentrant lock 'damaged' is corrupted: holds=-1 (expected: >= 0)");
            block.set(JAVA_INT, 40, 0);
            block.set(JAVA_INT, 44, 7);
            assertThatThrownBy(() -> SharedReentrantLock.open(heap, "damaged")).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("reentrant lock 'damaged'");
        }
    }

    @Test
    void shouldRefuseAHoldPastTheLargestCountAndKeepTheLockUsable() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(64, 64);
            SharedReentrantLock lock = SharedReentrantLock.wrap(raw, 0);
            lock.lock();
            raw.set(JAVA_INT, SyncLayout.REENTRANT_HOLDS_OFFSET, Integer.MAX_VALUE); // 2^31 - 1 holds, taken fast
            String message = "reentrant lock at 0x" + Long.toHexString(raw.address())
                    + ": already held 2147483647 times by this thread, the most a reentrant lock counts";
            assertThatThrownBy(lock::lock).isInstanceOf(IllegalStateException.class).hasMessage(message);
            assertThatThrownBy(lock::tryLock).isInstanceOf(IllegalStateException.class).hasMessage(message);
            assertThat(lock.getHoldCount()).isEqualTo(Integer.MAX_VALUE);
            lock.unlock();
            assertThat(lock.getHoldCount()).isEqualTo(Integer.MAX_VALUE - 1);
            raw.set(JAVA_INT, SyncLayout.REENTRANT_HOLDS_OFFSET, 1);
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();
        }
    }

    @Test
    void shouldTakeOverFromAChildKilledHoldingItThreeTimes() throws Exception {
        String heapName = names.unique("rlock-killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReentrantLock lock = SharedReentrantLock.create(heap, "r");
            SharedLong data = SharedLong.create(heap, "data");
            try (ChildJvm child = ChildJvm.start(Holder.class, heapName)) {
                child.awaitLine("HOLDING", BOUND);
                assertThat(lock.owner()).get().extracting(LockOwner::pid).isEqualTo(child.pid());
                assertThat(lock.toString()).endsWith(", 3 holds");
                child.kill();
            }
            lock.lock(Duration.ofSeconds(10));
            assertThat(lock.getHoldCount()).as("one hold: the dead owner's three are dropped").isEqualTo(1);
            assertThat(lock.isConsistent()).isFalse();
            assertThat(lock.recoveries()).isEqualTo(1);
            assertThat(data.get()).as("the child's half-done update").isEqualTo(-1);
            data.set(0);
            lock.markConsistent();
            lock.unlock();
            assertThat(lock.isLocked()).as("free after one unlock").isFalse();
            runAdders(heapName, 2, 2_000);
            assertThat(data.get()).isEqualTo(2 * 2_000 * 2);
        }
    }

    @Test
    void shouldTakeOverAtOneHoldThroughTryLockAndGiveAWaiterItsHoldsBackThroughATakeOver() throws Exception {
        String heapName = names.unique("rlock-try");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReentrantLock lock = SharedReentrantLock.create(heap, "r");
            SharedCondition condition = lock.newCondition();
            SharedLong data = SharedLong.create(heap, "data");
            try (ChildJvm child = ChildJvm.start(Holder.class, heapName)) {
                child.awaitLine("HOLDING", BOUND);
                child.kill();
            }
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (!lock.tryLock()) { // tries only: the take-over comes through tryLock's own check of the owner
                assertThat(System.nanoTime() - deadline).as("taken over by tryLock").isNegative();
                Thread.onSpinWait();
            }
            assertThat(lock.getHoldCount()).as("one hold: the dead owner's three are dropped").isEqualTo(1);
            assertThat(lock.isConsistent()).isFalse();
            data.set(0);
            lock.markConsistent();
            lock.unlock();
            assertThat(lock.isLocked()).isFalse();

            // a waiter holding it twice, signalled by a child that is killed before it unlocks
            CountDownLatch waiting = new CountDownLatch(1);
            AtomicReference<String> after = new AtomicReference<>();
            Thread waiter = Thread.ofPlatform().start(() -> {
                lock.lock();
                lock.lock();
                try {
                    waiting.countDown();
                    boolean signalled = condition.awaitFor(() -> data.get() == 1, BOUND.toMillis(),
                            TimeUnit.MILLISECONDS);
                    after.set(signalled + " " + lock.getHoldCount() + " " + lock.isConsistent());
                    lock.markConsistent();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                } finally {
                    lock.unlock();
                    lock.unlock();
                }
            });
            assertThat(waiting.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            try (ChildJvm child = ChildJvm.start(Signaller.class, heapName)) {
                child.awaitLine("SIGNALLED", BOUND);
                child.kill();
            }
            waiter.join(BOUND.toMillis());
            assertThat(after.get()).as("signalled, holds restored, taken over from the dead signaller")
                    .isEqualTo("true 2 false");
            assertThat(lock.isLocked()).isFalse();
            assertThat(lock.recoveries()).isEqualTo(2);
        }
    }

    @Test
    void shouldHandOffThroughItsConditionAcrossProcessesWithNestedHolds() throws Exception {
        String heapName = names.unique("rlock-cond");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReentrantLock lock = SharedReentrantLock.create(heap, "r");
            SharedCondition turn = lock.newCondition();
            SharedLong data = SharedLong.create(heap, "data");
            int rounds = 200;
            try (ChildJvm child = ChildJvm.start(PingPong.class, heapName, String.valueOf(rounds), "1")) {
                PingPong.play(lock, turn, data, rounds, 0);
                child.awaitSuccess(BOUND);
            }
            assertThat(data.get()).isEqualTo(2L * rounds);
        }
    }

    private static <T> T inOtherThread(Callable<T> action) throws Exception {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Exception> failure = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().start(() -> {
            try {
                result.set(action.call());
            } catch (Exception e) {
                failure.set(e);
            }
        });
        thread.join(BOUND.toMillis());
        assertThat(thread.isAlive()).isFalse();
        if (failure.get() != null) {
            throw failure.get();
        }
        return result.get();
    }

    /** Runs {@code count} {@link Adder}s of {@code rounds} rounds each and waits for them to succeed. */
    private static void runAdders(String heapName, int count, int rounds) throws InterruptedException {
        List<ChildJvm> children = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                children.add(ChildJvm.start(Adder.class, heapName, String.valueOf(rounds)));
            }
            for (ChildJvm child : children) {
                child.awaitSuccess(BOUND);
            }
        } finally {
            children.forEach(ChildJvm::close);
        }
    }

    /** {@code main(heap)}: takes the lock three times, writes half an update (-1) and waits to be killed. */
    public static final class Holder {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedReentrantLock lock = SharedReentrantLock.open(heap, "r");
                lock.lock();
                lock.lock();
                lock.lock();
                SharedLong.open(heap, "data").set(-1);
                System.out.println("HOLDING");
                System.out.flush();
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            }
        }
    }

    /** {@code main(heap)}: takes the lock, sets {@code data} to 1, signals its condition and waits to be killed. */
    public static final class Signaller {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedReentrantLock lock = SharedReentrantLock.open(heap, "r");
                lock.lock();
                SharedLong.open(heap, "data").set(1);
                lock.newCondition().signalAll();
                System.out.println("SIGNALLED");
                System.out.flush();
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            }
        }
    }

    /** {@code main(heap, rounds)}: adds 2 to {@code data} per round, plainly, 1 under one hold and 1 under two. */
    public static final class Adder {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedReentrantLock lock = SharedReentrantLock.open(heap, "r");
                SharedLong data = SharedLong.open(heap, "data");
                for (int i = Integer.parseInt(args[1]); i > 0; i--) {
                    lock.lock();
                    try {
                        data.setPlain(data.getPlain() + 1);
                        lock.lock();
                        try {
                            data.setPlain(data.getPlain() + 1);
                        } finally {
                            lock.unlock();
                        }
                    } finally {
                        lock.unlock();
                    }
                }
            }
        }
    }

    /**
     * {@code main(heap, rounds, parity)}: the player whose turn it is ({@code data % 2 == parity}) adds 1, holding
     * the lock twice while it waits for its turn through the lock's condition.
     */
    public static final class PingPong {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedReentrantLock lock = SharedReentrantLock.open(heap, "r");
                play(lock, lock.newCondition(), SharedLong.open(heap, "data"), Integer.parseInt(args[1]),
                        Integer.parseInt(args[2]));
            }
        }

        static void play(SharedReentrantLock lock, SharedCondition turn, SharedLong data, int rounds, int parity)
                throws InterruptedException {
            for (int i = 0; i < rounds; i++) {
                lock.lock();
                lock.lock();
                try {
                    if (!turn.awaitFor(() -> data.get() % 2 == parity, BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
                        throw new AssertionError("no turn within " + BOUND + " (data " + data.get() + ")");
                    }
                    if (lock.getHoldCount() != 2) {
                        throw new AssertionError("holds after the wait: " + lock.getHoldCount());
                    }
                    data.set(data.get() + 1);
                    turn.signalAll();
                } finally {
                    lock.unlock();
                    lock.unlock();
                }
            }
        }
    }
}
