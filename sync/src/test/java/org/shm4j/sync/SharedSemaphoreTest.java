package org.shm4j.sync;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.SharedSemaphore.Kind;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;

/** {@link SharedSemaphore} in one process and across child JVMs, including holders killed with SIGKILL. */
class SharedSemaphoreTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldCountPermitsLikeASemaphore() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 3);
            assertThat(sem.tryAcquire(2)).isTrue();
            assertThat(sem.tryAcquire(2)).isFalse();
            assertThat(sem.availablePermits()).isEqualTo(1);
            assertThat(sem.tryAcquire(2, 20, TimeUnit.MILLISECONDS)).as("times out").isFalse();
            sem.release(5);
            assertThat(sem.availablePermits()).as("unbounded: grows past the initial permits").isEqualTo(6);
            SharedSemaphore other = SharedSemaphore.open(heap, "sem");
            assertThat(other.tryAcquire(6)).isTrue();
            assertThat(sem.availablePermits()).isZero();
            assertThat(other.kind()).isEqualTo(Kind.UNBOUNDED);
            assertThat(other.initialPermits()).isEqualTo(3);
        }
    }

    /** Semaphore's drainPermits and acquireUninterruptibly (helper-133: missing), for each kind. */
    @Test
    void shouldDrainPermitsAndAcquireUninterruptibly() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            for (Kind kind : Kind.values()) {
                SharedSemaphore sem = SharedSemaphore.create(heap, "sem-" + kind, 3, kind);
                assertThat(sem.tryAcquire()).isTrue();
                assertThat(sem.drainPermits()).as(kind.toString()).isEqualTo(2);
                assertThat(sem.drainPermits()).isZero();
                assertThat(sem.availablePermits()).isZero();
                sem.release(3);
                Thread.currentThread().interrupt();
                sem.acquireUninterruptibly(2);
                assertThat(Thread.interrupted()).as("the interrupt kept").isTrue();
                assertThat(sem.availablePermits()).isOne();
                sem.release(2);
            }
            SharedSemaphore undo = SharedSemaphore.open(heap, "sem-UNDO");
            assertThat(undo.drainPermits()).isEqualTo(3);
            assertThat(undo.heldByThisProcess()).as("drained permits are this process's").isEqualTo(3);
            SharedSemaphore empty = SharedSemaphore.open(heap, "sem-UNBOUNDED");
            empty.drainPermits();
            AtomicBoolean acquiredInterrupted = new AtomicBoolean();
            Thread waiter = Thread.ofPlatform().start(() -> {
                empty.acquireUninterruptibly();
                acquiredInterrupted.set(Thread.currentThread().isInterrupted());
            });
            waiter.interrupt(); // while it waits, or before: either way it goes on waiting
            empty.release();
            waiter.join(BOUND.toMillis());
            assertThat(acquiredInterrupted).as("acquired after the release, the interrupt kept").isTrue();
            assertThat(empty.availablePermits()).isZero();
        }
    }

    @Test
    void shouldRefuseAReleaseAboveTheBound() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 2, Kind.BOUNDED);
            sem.release(0);
            assertThat(sem.tryAcquire()).isTrue();
            sem.release();
            assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class)
                    .hasMessage("semaphore 'sem' released too many times: 2 available + 1 released (expected: at "
                            + "most 2)");
            assertThatThrownBy(() -> sem.acquire(3)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("semaphore 'sem': n=3 (expected: 0..2)");
            assertThatThrownBy(() -> sem.release(-1)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void shouldSayTheRangeOfNWhenAnUnboundedSemaphoreRefusesANegativeCount() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 2);
            for (ThrowingCallable call : List.<ThrowingCallable>of(() -> sem.acquire(-1), () -> sem.tryAcquire(-1),
                    () -> sem.tryAcquire(-1, 1, TimeUnit.SECONDS), () -> sem.acquireUninterruptibly(-1),
                    () -> sem.release(-1))) {
                assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("semaphore 'sem': n=-1 (expected: >= 0)");
            }
            assertThat(sem.availablePermits()).isEqualTo(2);
        }
    }

    @Test
    void shouldLetOnlyTheHolderProcessReleaseAnUndoSemaphore() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 2, Kind.UNDO);
            assertThatThrownBy(sem::release).isInstanceOf(IllegalStateException.class)
                    .hasMessage("semaphore 'sem' (undo): this process holds 0 permits and cannot release 1");
            assertThat(sem.tryAcquire(2)).isTrue();
            assertThat(sem.tryAcquire()).isFalse();
            assertThat(sem.heldByThisProcess()).isEqualTo(2);
            assertThat(sem.availablePermits()).isZero();
            sem.release(2);
            assertThat(sem.availablePermits()).isEqualTo(2);
        }
    }

    @Test
    void shouldCheckParametersAndHeaders() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> SharedSemaphore.create(heap, "s", 0, Kind.BOUNDED))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("semaphore 's': permits=0 (expected: 1..2147483647 for a BOUNDED semaphore)");
            assertThatThrownBy(() -> SharedSemaphore.create(heap, "s", -1))
                    .isInstanceOf(IllegalArgumentException.class);
            SharedSemaphore.openOrCreate(heap, "s", 4, Kind.UNDO);
            assertThat(SharedSemaphore.openOrCreate(heap, "s", 4, Kind.UNDO).kind()).isEqualTo(Kind.UNDO);
            assertThatThrownBy(() -> SharedSemaphore.openOrCreate(heap, "s", 4, Kind.BOUNDED))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("semaphore 's' exists as UNDO with 4 permits (asked: BOUNDED with 4)");

            MemorySegment raw = arena.allocate(SharedSemaphore.requiredBytes() + 64, 64);
            assertThatThrownBy(() -> SharedSemaphore.wrap(raw, 64)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("is not a coordination block: magic=0x0");
            SharedSemaphore formatted = SharedSemaphore.format(raw, 64, 5, Kind.BOUNDED);
            assertThat(formatted.tryAcquire(5)).isTrue();
            SharedSemaphore wrapped = SharedSemaphore.wrap(raw, 64);
            assertThat(wrapped.kind()).isEqualTo(Kind.BOUNDED);
            wrapped.release(5);
            assertThat(formatted.availablePermits()).isEqualTo(5);
            assertThatThrownBy(() -> SharedSemaphore.format(raw, 4, 1, Kind.UNBOUNDED))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: a multiple of 8");
            assertThatThrownBy(() -> SharedSemaphore.format(raw, 128, 1, Kind.UNBOUNDED))
                    .isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void shouldNotFailATryAcquireWhilePermitsAreLeftThoughAnotherThreadWinsTheRace() throws Exception {
        for (Kind kind : Kind.values()) {
            try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
                SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 10_000_000, kind);
                int perThread = 1_000_000; // two threads take at most 2,000,000: 8,000,000 stay free throughout
                AtomicInteger refused = new AtomicInteger();
                CyclicBarrier start = new CyclicBarrier(2);
                Thread[] threads = new Thread[2];
                for (int t = 0; t < threads.length; t++) {
                    boolean timed = t == 1;
                    threads[t] = new Thread(() -> {
                        try {
                            start.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                            for (int i = 0; i < perThread; i++) {
                                if (!(timed ? sem.tryAcquire(1, 0, TimeUnit.SECONDS) : sem.tryAcquire())) {
                                    refused.incrementAndGet();
                                }
                            }
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    });
                    threads[t].start();
                }
                for (Thread thread : threads) {
                    thread.join(BOUND.toMillis());
                    assertThat(thread.isAlive()).isFalse();
                }
                assertThat(refused.get()).as(kind + ": tries refused with permits left").isZero();
                assertThat(sem.availablePermits()).as(kind.toString()).isEqualTo(10_000_000 - 2 * perThread);
            }
        }
    }

    @Test
    void shouldWakeABlockedAcquirerOnRelease() throws Exception {
        for (Kind kind : Kind.values()) {
            try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
                SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 1, kind);
                assertThat(sem.tryAcquire()).isTrue();
                CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
                    try {
                        return SharedSemaphore.open(heap, "sem").tryAcquire(BOUND.toSeconds(), TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                MemorySegment block = heap.lookup("sem", SyncLayout.SEMAPHORE).segment();
                Children.awaitTrue("the waiter announced itself", // the waiters bit of the futex word
                        () -> block.get(ValueLayout.JAVA_INT, SyncLayout.COORD_WORD_OFFSET) < 0);
                sem.release();
                assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as(kind.toString()).isTrue();
                assertThat(sem.availablePermits()).isZero();
            }
        }
    }

    @Test
    void shouldNeverLetMoreThanItsPermitsInAcrossFourProcesses() throws Exception {
        for (Kind kind : new Kind[] {Kind.UNBOUNDED, Kind.UNDO}) {
            String heapName = names.unique("sem-bound");
            try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
                SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 2, kind);
                SharedInt inside = SharedInt.create(heap, "inside");
                SharedInt most = SharedInt.create(heap, "most");
                SharedInt rounds = SharedInt.create(heap, "rounds");
                Children.runAll(4, i -> ChildJvm.start(Bounded.class, heapName, "2000"));
                assertThat(rounds.get()).isEqualTo(4 * 2000);
                assertThat(most.get()).as(kind + ": most holders at once").isBetween(1, 2);
                assertThat(inside.get()).isZero();
                assertThat(sem.availablePermits()).isEqualTo(2);
            }
        }
    }

    @Test
    void shouldReturnThePermitsOfAKilledHolderOfAnUndoSemaphore() throws Exception {
        String heapName = names.unique("sem-undo");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 2, Kind.UNDO);
            try (ChildJvm holder = ChildJvm.start(Holder.class, heapName, "2")) {
                holder.awaitLine("HOLDING", BOUND);
                assertThat(sem.availablePermits()).isZero();
                holder.kill();
            }
            long start = System.nanoTime();
            assertThat(sem.tryAcquire(2, 10, TimeUnit.SECONDS)).as("the dead holder's permits come back").isTrue();
            assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(5));
            sem.release(2);
            assertThat(sem.availablePermits()).isEqualTo(2);
        }
    }

    /**
     * helper-135: drainPermits on an undo semaphore counted a dead holder's permits as held and never took them back,
     * so a caller that only drains lost them for good. A drain loop gets every permit of the killed holders back.
     */
    @Test
    void shouldDrainThePermitsOfAKilledHolderOfAnUndoSemaphore() throws Exception {
        String heapName = names.unique("sem-drain");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 5, Kind.UNDO);
            try (ChildJvm holder = ChildJvm.start(Holder.class, heapName, "2")) {
                holder.awaitLine("HOLDING", BOUND);
                holder.kill();
            }
            int drained = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (drained < 5) {
                assertThat(System.nanoTime() - deadline).as("drained %d of 5", drained).isNegative();
                drained += sem.drainPermits();
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
            assertThat(drained).isEqualTo(5);
            assertThat(sem.heldByThisProcess()).isEqualTo(5);
        }
    }

    @Test
    void shouldLoseNoPermitOfAnUndoSemaphoreWhenItsUserIsKilledMidLoop() throws Exception {
        String heapName = names.unique("sem-loop");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 2, Kind.UNDO);
            SharedInt rounds = SharedInt.create(heap, "rounds");
            try (ChildJvm a = ChildJvm.start(Looper.class, heapName); ChildJvm b = ChildJvm.start(Looper.class,
                    heapName)) {
                a.awaitLine("LOOPING", BOUND);
                b.awaitLine("LOOPING", BOUND);
                int seen = rounds.get();
                Children.awaitTrue("more rounds", () -> rounds.get() > seen + 5000);
                a.kill(); // at whatever instruction it was: inside the mutex, between acquire and release...
                b.kill();
            }
            assertThat(sem.tryAcquire(2, 10, TimeUnit.SECONDS)).as("all permits come back, none duplicated")
                    .isTrue();
            assertThat(sem.availablePermits()).isZero();
            sem.release(2);
            assertThat(sem.availablePermits()).isEqualTo(2);
        }
    }

    /**
     * An undo semaphore's available permits are its bound minus the holdings of each process's slot, summed without
     * its mutex: a sum taken across a release in one process and an acquire in another counted a permit twice (-1,
     * once -2, about once a second in helper-112's runs).
     */
    @Test
    void shouldReportAnUndoSemaphoresAvailablePermitsWithinZeroAndItsBoundWhileProcessesUseIt() throws Exception {
        String heapName = names.unique("sem-available");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 2, Kind.UNDO);
            SharedInt rounds = SharedInt.create(heap, "rounds");
            try (ChildJvm a = ChildJvm.start(Looper.class, heapName, "3"); ChildJvm b = ChildJvm.start(Looper.class,
                    heapName, "3")) {
                a.awaitLine("LOOPING", BOUND);
                b.awaitLine("LOOPING", BOUND);
                long reads = 0;
                int lowest = Integer.MAX_VALUE;
                int highest = Integer.MIN_VALUE;
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
                while (System.nanoTime() < end) {
                    int available = sem.availablePermits();
                    lowest = Math.min(lowest, available);
                    highest = Math.max(highest, available);
                    reads++;
                }
                assertThat(rounds.get()).as("the children took turns meanwhile").isGreaterThan(1000);
                assertThat(lowest).as("lowest of %d reads", reads).isGreaterThanOrEqualTo(0);
                assertThat(highest).as("highest of %d reads", reads).isLessThanOrEqualTo(2);
            }
        }
    }

    @Test
    void shouldLoseThePermitsOfAKilledHolderOfAPlainSemaphoreAsDocumented() throws Exception {
        String heapName = names.unique("sem-plain");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedSemaphore sem = SharedSemaphore.create(heap, "sem", 1);
            try (ChildJvm holder = ChildJvm.start(Holder.class, heapName, "1")) {
                holder.awaitLine("HOLDING", BOUND);
                holder.kill();
            }
            assertThat(sem.tryAcquire(200, TimeUnit.MILLISECONDS)).as("no owner: the permit is gone").isFalse();
            sem.release();
            assertThat(sem.tryAcquire()).isTrue();
        }
    }

    /** {@code main(heap, rounds)}: acquire, count holders inside, release; {@code rounds} times. */
    public static final class Bounded {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedSemaphore sem = SharedSemaphore.open(heap, "sem");
                SharedInt inside = SharedInt.open(heap, "inside");
                SharedInt most = SharedInt.open(heap, "most");
                SharedInt rounds = SharedInt.open(heap, "rounds");
                for (int i = Integer.parseInt(args[1]); i > 0; i--) {
                    if (!sem.tryAcquire(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                        throw new AssertionError("no permit within " + BOUND);
                    }
                    most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                    Thread.onSpinWait();
                    inside.decrementAndGet();
                    rounds.incrementAndGet();
                    sem.release();
                }
            }
        }
    }

    /** {@code main(heap, n)}: acquires {@code n} permits and waits to be killed. */
    public static final class Holder {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedSemaphore.open(heap, "sem").acquire(Integer.parseInt(args[1]));
                Children.say("HOLDING");
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            }
        }
    }

    /** {@code main(heap[, threads])}: acquires and releases one permit in a loop in each thread until killed. */
    public static final class Looper {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedSemaphore sem = SharedSemaphore.open(heap, "sem");
                SharedInt rounds = SharedInt.open(heap, "rounds");
                Children.say("LOOPING");
                long deadline = System.nanoTime() + BOUND.toNanos();
                List<Thread> threads = new ArrayList<>();
                for (int t = args.length > 1 ? Integer.parseInt(args[1]) : 1; t > 1; t--) {
                    threads.add(Thread.ofPlatform().start(() -> loop(sem, rounds, deadline)));
                }
                loop(sem, rounds, deadline);
                for (Thread thread : threads) {
                    thread.join();
                }
            }
        }

        static void loop(SharedSemaphore sem, SharedInt rounds, long deadline) {
            while (System.nanoTime() < deadline) { // killed long before this ends
                try {
                    sem.acquire();
                } catch (InterruptedException e) {
                    return;
                }
                rounds.incrementAndGet();
                sem.release();
            }
        }
    }
}
