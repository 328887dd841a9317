package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Date;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;

/** {@link SharedCondition} in one process and across child JVMs, with waiters and lock holders killed. */
class SharedConditionTest {
    private static final int CAPACITY = 4;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    @Timeout(60)
    void shouldRequireTheLockAndTimeOutHoldingItAgain() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            assertThatThrownBy(condition::await).isInstanceOf(IllegalMonitorStateException.class)
                    .hasMessageStartingWith("condition 'lock.condition': the current thread does not hold lock 'lock'");
            assertThatThrownBy(condition::signal).isInstanceOf(IllegalMonitorStateException.class);
            lock.lock();
            try {
                assertThat(condition.await(20, TimeUnit.MILLISECONDS)).isFalse();
                assertThat(lock.isHeldByCurrentThread()).isTrue();
                assertThat(condition.awaitNanos(-1)).isNotPositive();
                // the wait left overflowed to about 292 years (this test's @Timeout ends such a hang)
                assertThat(condition.awaitUntil(new Date(Long.MIN_VALUE))).isFalse();
                assertThat(condition.awaitUntil(new Date(0))).isFalse();
                Thread.currentThread().interrupt();
                assertThatThrownBy(condition::await).isInstanceOf(InterruptedException.class);
                assertThat(lock.isHeldByCurrentThread()).isTrue();
                condition.signalAll(); // nobody waits: a no-op
            } finally {
                lock.unlock();
            }
            SharedLock other = SharedLock.open(heap, "lock");
            assertThat(other.newCondition().toString()).as("each lock object's first newCondition(): the same one")
                    .isEqualTo(condition.toString());
            assertThat(other.newCondition()).as("its second: a condition of its own")
                    .hasToString("condition 'lock.condition.2' (0 waiting)");
        }
    }

    /**
     * {@code awaitFor} evaluates its predicate holding the lock, and says so by throwing without it, as every
     * {@code Condition} method does: it returned the predicate's first answer unchecked when that was true, or when
     * the timeout was 0, and evaluated the predicate outside the lock.
     */
    @Test
    void shouldRequireTheLockForAwaitForWhateverThePredicateSaysFirst() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            int[] evaluated = {0};
            BooleanSupplier holds = () -> ++evaluated[0] > 0;
            BooleanSupplier fails = () -> ++evaluated[0] < 0;
            for (BooleanSupplier predicate : List.of(holds, fails)) {
                for (long timeout : new long[] {0, 10}) {
                    assertThatThrownBy(() -> condition.awaitFor(predicate, timeout, TimeUnit.MILLISECONDS))
                            .isInstanceOf(IllegalMonitorStateException.class)
                            .hasMessage("condition 'lock.condition': the current thread does not hold lock 'lock' "
                                    + "(free)");
                }
            }
            assertThat(evaluated[0]).as("predicates evaluated without the lock").isZero();
            lock.lock();
            try {
                assertThat(condition.awaitFor(() -> true, 0, TimeUnit.MILLISECONDS)).isTrue();
                assertThat(condition.awaitFor(() -> false, 0, TimeUnit.MILLISECONDS)).isFalse();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * {@code awaitNanos} of a negative timeout answers what {@code ReentrantLock}'s conditions answer: at most the
     * argument, {@code Long.MIN_VALUE} when the time spent is less than the argument's size. It answered minus the time
     * spent, more than the argument (-1 h gave about -50 us).
     */
    @Test
    void shouldAnswerAwaitNanosOfANegativeTimeoutAsReentrantLocksConditionsDo() throws Exception {
        ReentrantLock jdkLock = new ReentrantLock();
        Condition jdk = jdkLock.newCondition();
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            long hour = -TimeUnit.HOURS.toNanos(1);
            for (Lock held : List.of(jdkLock, lock)) {
                Condition tested = held == lock ? condition : jdk;
                String who = held == lock ? "SharedCondition" : "ReentrantLock's condition";
                held.lock();
                try {
                    assertThat(tested.awaitNanos(-1)).as(who + ": -1").isNegative();
                    assertThat(tested.awaitNanos(hour)).as(who + ": -1 h").isEqualTo(Long.MIN_VALUE);
                    assertThat(tested.awaitNanos(Long.MIN_VALUE)).as(who + ": MIN_VALUE").isEqualTo(Long.MIN_VALUE);
                } finally {
                    held.unlock();
                }
            }
        }
    }

    /**
     * Two conditions of one lock from {@code newCondition()} (helper-133): a signal of one does not wake a waiter of
     * the other, as with {@code ReentrantLock}. They were one condition, so a bounded buffer's
     * {@code notEmpty.signal()} could wake a producer waiting for room instead of the consumer it was for.
     */
    /**
     * Code that calls {@code newCondition()} for each wait fills the heap with conditions; the refusal names the lock,
     * the condition's number and that cause, and the lock and its conditions stay usable.
     */
    @Test
    void shouldNameTheLockWhenItsConditionsFillTheHeap() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16, HeapOptions.defaults().withCatalogCapacity(4))) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition first = lock.newCondition();
            lock.newCondition();
            lock.newCondition();
            assertThatThrownBy(lock::newCondition).isInstanceOf(ShmFullException.class)
                    .hasMessageStartingWith("lock 'lock' cannot make its condition 4 ('lock.condition.4'): catalog of")
                    .hasMessageContaining("keep the one it returns");
            lock.lock();
            try {
                first.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    @Test
    void shouldKeepTheWaitersOfEachNewConditionApart() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition notFull = lock.newCondition();
            SharedCondition notEmpty = lock.newCondition();
            CountDownLatch holding = new CountDownLatch(1);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Boolean> producer = pool.submit(() -> {
                    lock.lock();
                    try {
                        holding.countDown();
                        return notFull.await(1, TimeUnit.SECONDS);
                    } finally {
                        lock.unlock();
                    }
                });
                assertThat(holding.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                lock.lock(); // once the producer waits: its await released the lock
                try {
                    notEmpty.signal();
                } finally {
                    lock.unlock();
                }
                assertThat(producer.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("not woken by notEmpty").isFalse();
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldWakeAWaiterOnSignal() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition ready = SharedCondition.create(heap, "ready", lock);
            SharedInt flag = SharedInt.create(heap, "flag");
            CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
                lock.lock();
                try {
                    return ready.awaitFor(() -> flag.getPlain() == 1, BOUND.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                } finally {
                    lock.unlock();
                }
            });
            Children.awaitTrue("the waiter waits", () -> ready.toString().endsWith("(1 waiting)"));
            lock.withLock(() -> {
                flag.setPlain(1);
                ready.signal();
            });
            assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(ready.toString()).endsWith("(0 waiting)");
        }
    }

    @Test
    void shouldGiveTheWriteLockOfAReadWriteLockACondition() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            Condition condition = rw.writeLock().newCondition();
            assertThatThrownBy(() -> rw.readLock().newCondition()).isInstanceOf(UnsupportedOperationException.class);
            rw.writeLock().lock();
            try {
                assertThat(condition.await(10, TimeUnit.MILLISECONDS)).isFalse();
                assertThat(rw.isWriteLockedByCurrentThread()).isTrue();
            } finally {
                rw.writeLock().unlock();
            }
        }
    }

    /**
     * The write lock of a read-write lock has named conditions made by {@code create} and found by {@code open}, as
     * the other locks' do: before, only {@code openOrCreate} took a read-write lock.
     */
    @Test
    void shouldCreateAndOpenANamedConditionOfAReadWriteLock() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            SharedCondition created = SharedCondition.create(heap, "ready", rw);
            assertThatThrownBy(() -> SharedCondition.create(heap, "ready", rw))
                    .isInstanceOf(ShmAlreadyExistsException.class);
            assertThatThrownBy(() -> SharedCondition.open(heap, "absent", rw)).isInstanceOf(ShmNotFoundException.class);
            SharedReadWriteLock other = SharedReadWriteLock.create(heap, "other");
            assertThatThrownBy(() -> SharedCondition.open(heap, "ready", other))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("condition 'ready' was made for the lock 'rw', not for read-write lock 'other' (write) "
                            + "(a condition is used with the lock it was made for)");
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition.create(heap, "mutex's", lock);
            assertThatThrownBy(() -> SharedCondition.open(heap, "mutex's", rw))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("made for the lock 'lock'");
            assertThatThrownBy(() -> SharedCondition.open(heap, "lock", rw))
                    .as("a block of another kind").isInstanceOf(ShmTypeMismatchException.class);
            assertThatThrownBy(() -> SharedCondition.create(heap, "c", (SharedReadWriteLock) null)).hasMessage("lock");
            assertThatThrownBy(() -> SharedCondition.open(heap, "ready", (SharedReadWriteLock) null))
                    .hasMessage("lock");
            assertThatThrownBy(() -> SharedCondition.open(null, "ready", rw)).hasMessage("heap");
            SharedCondition opened = SharedCondition.open(heap, "ready", SharedReadWriteLock.open(heap, "rw"));
            assertThat(opened.toString()).isEqualTo(created.toString());
            rw.readLock().lock();
            try {
                assertThatThrownBy(opened::signal).as("the read lock is not the write lock")
                        .isInstanceOf(IllegalMonitorStateException.class);
            } finally {
                rw.readLock().unlock();
            }
            rw.writeLock().lock();
            try {
                assertThat(opened.await(1, TimeUnit.MILLISECONDS)).isFalse();
                assertThat(rw.isWriteLockedByCurrentThread()).isTrue();
            } finally {
                rw.writeLock().unlock();
            }
        }
    }

    /** A waiter in a child JVM on a condition it opened with a read-write lock is woken by this process's signal. */
    @Test
    void shouldWakeAWaiterOfAnotherProcessOnANamedConditionOfAReadWriteLock() throws Exception {
        String heapName = names.unique("cond-rw");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            SharedCondition ready = SharedCondition.create(heap, "ready", rw);
            SharedInt flag = SharedInt.create(heap, "flag");
            try (ChildJvm waiter = ChildJvm.start(ReadWriteFlagWaiter.class, heapName)) {
                waiter.awaitLine("WAITING", BOUND);
                Children.awaitTrue("the child waits", () -> ready.toString().endsWith("(1 waiting)"));
                rw.writeLock().lock();
                try {
                    flag.setPlain(1);
                    ready.signal();
                } finally {
                    rw.writeLock().unlock();
                }
                assertThat(waiter.awaitLine("DONE", BOUND)).isEqualTo("DONE true");
                waiter.awaitSuccess(BOUND);
            }
            assertThat(ready.toString()).endsWith("(0 waiting)");
        }
    }

    @Test
    void shouldRefuseToOpenAConditionWithAnotherLockThanItWasMadeFor() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedLock other = SharedLock.create(heap, "other");
            SharedCondition.create(heap, "ready", lock);
            assertThat(SharedCondition.open(heap, "ready", SharedLock.open(heap, "lock"))).isNotNull();
            assertThatThrownBy(() -> SharedCondition.open(heap, "ready", other))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("condition 'ready' was made for the lock 'lock', not for lock 'other' (a condition is"
                            + " used with the lock it was made for)");
            assertThatThrownBy(() -> SharedCondition.openOrCreate(heap, "ready", other))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("made for the lock 'lock'");
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            assertThatThrownBy(() -> SharedCondition.openOrCreate(heap, "ready", rw))
                    .hasMessageContaining("not for read-write lock 'rw' (write)");
            assertThat(rw.writeLock().newCondition()).isNotNull();
            assertThatThrownBy(() -> SharedCondition.openOrCreate(heap, "rw.condition", lock))
                    .hasMessageContaining("was made for the lock 'rw'");
            try (Arena arena = Arena.ofConfined()) {
                SharedLock elsewhere = SharedLock.wrap(arena.allocate(64, 64), 0);
                assertThatThrownBy(() -> SharedCondition.open(heap, "ready", elsewhere))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageStartingWith("condition 'ready' in " + heap + " cannot be used with lock at 0x");
            }
        }
    }

    /**
     * helper-156: a lock of another mapping of the condition's heap in this process (the heap opened twice) was taken
     * for a lock outside the heap: a condition created with it recorded none, and every process then found it made
     * for "a lock outside its heap", the right lock included; one created with the lock's own mapping refused that
     * lock through the other ("made for the lock 'lock', not for lock 'lock'").
     */
    @Test
    void shouldTakeALockOfAnotherMappingOfTheSameHeapForTheLockThere() {
        String heapName = names.unique("cond-mappings");
        try (SharedHeap first = SharedHeap.create(heapName, 1 << 16); SharedHeap second = SharedHeap.open(heapName)) {
            SharedLock lock = SharedLock.create(first, "lock");
            SharedLock other = SharedLock.create(first, "other");
            SharedCondition.create(second, "made-through-second", lock);
            assertThat(SharedCondition.open(first, "made-through-second", lock)).isNotNull();
            assertThat(SharedCondition.open(second, "made-through-second", SharedLock.open(second, "lock")))
                    .isNotNull();
            SharedCondition.create(first, "made-through-first", lock);
            assertThat(SharedCondition.open(second, "made-through-first", lock)).isNotNull();
            assertThatThrownBy(() -> SharedCondition.open(second, "made-through-first", other))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageStartingWith("condition 'made-through-first' was made for the lock 'lock', not for");
        }
    }

    @Test
    void shouldLayConditionsOutOverRawMemory() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(256, 64);
            SharedLock lock = SharedLock.wrap(raw, 0);
            assertThatThrownBy(lock::newCondition).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("SharedCondition.format(segment, offset, lock)");
            assertThatThrownBy(() -> SharedCondition.wrap(raw, 128, lock)).isInstanceOf(ShmFormatException.class);
            SharedCondition.format(raw, 128, lock);
            SharedCondition condition = SharedCondition.wrap(raw, 128, lock);
            lock.lock();
            try {
                assertThat(condition.await(1, TimeUnit.MILLISECONDS)).isFalse();
            } finally {
                lock.unlock();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"named", "newCondition"})
    void shouldPassEveryItemThroughABoundedBufferBetweenFourProcesses(String conditions) throws Exception {
        String heapName = names.unique("cond-buffer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            if (conditions.equals("named")) {
                SharedCondition.create(heap, "notEmpty", lock);
                SharedCondition.create(heap, "notFull", lock);
            }
            SharedLongArray.create(heap, "buffer", CAPACITY);
            SharedLong.create(heap, "head");
            SharedLong.create(heap, "tail");
            SharedLong sum = SharedLong.create(heap, "sum");
            SharedLong taken = SharedLong.create(heap, "taken");
            int items = 3000;
            String count = Integer.toString(items);
            Children.runAll(4, i -> i < 2
                    ? ChildJvm.start(BufferUser.class, heapName, "produce", Integer.toString(i), count, conditions)
                    : ChildJvm.start(BufferUser.class, heapName, "consume", "0", count, conditions));
            long n = 2L * items;
            assertThat(taken.get()).isEqualTo(n);
            assertThat(sum.get()).as("each item 1..%d exactly once", n).isEqualTo(n * (n + 1) / 2);
        }
    }

    @Test
    void shouldWakeTheLiveWaiterAfterAnotherWaiterIsKilled() throws Exception {
        String heapName = names.unique("cond-waiter");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            SharedInt flag = SharedInt.create(heap, "flag");
            try (ChildJvm doomed = ChildJvm.start(FlagWaiter.class, heapName);
                 ChildJvm survivor = ChildJvm.start(FlagWaiter.class, heapName)) {
                for (ChildJvm child : List.of(doomed, survivor)) {
                    child.awaitLine("WAITING", BOUND);
                }
                Children.awaitTrue("both wait", () -> condition.toString().endsWith("(2 waiting)"));
                doomed.kill();
                lock.withLock(() -> {
                    flag.setPlain(1);
                    condition.signalAll();
                });
                assertThat(survivor.awaitLine("DONE", BOUND)).isEqualTo("DONE true");
                survivor.awaitSuccess(BOUND);
            }
            lock.withLock(() -> condition.signal()); // a dead waiter's count costs a wasted wake, no hang
        }
    }

    @Test
    void shouldTakeTheLockOverForAWaiterWhenTheSignallerDiesHoldingIt() throws Exception {
        String heapName = names.unique("cond-holder");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            CompletableFuture<Boolean> waiter = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> {
                try { // completed only once the lock is released, so the test closes the heap after that
                    boolean signalledAndTakenOver;
                    lock.lock();
                    try {
                        signalledAndTakenOver = condition.await(BOUND.toSeconds(), TimeUnit.SECONDS)
                                && !lock.isConsistent();
                    } finally {
                        lock.markConsistent();
                        lock.unlock();
                    }
                    waiter.complete(signalledAndTakenOver);
                } catch (Throwable t) {
                    waiter.completeExceptionally(t);
                }
            });
            Children.awaitTrue("the waiter waits", () -> condition.toString().endsWith("(1 waiting)"));
            try (ChildJvm signaller = ChildJvm.start(SignalAndDie.class, heapName)) {
                signaller.awaitLine("SIGNALLED", BOUND); // it still holds the lock the woken waiter needs
                signaller.kill();
            }
            assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("signalled, then got the dead signaller's lock marked inconsistent").isTrue();
            assertThat(lock.recoveries()).isEqualTo(1);
        }
    }

    /**
     * {@code main(heap, "produce"|"consume", id, items, "named"|"newCondition")}: puts items {@code id * items + 1 ..}
     * into the shared bounded buffer, or takes {@code items} items and adds them to {@code sum}; waits with
     * {@code signal()} only.
     */
    public static final class BufferUser {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock lock = SharedLock.open(heap, "lock");
                boolean named = args[4].equals("named"); // else the lock's, in the same order in every process
                Condition notEmpty = named ? SharedCondition.open(heap, "notEmpty", lock) : lock.newCondition();
                Condition notFull = named ? SharedCondition.open(heap, "notFull", lock) : lock.newCondition();
                SharedLongArray buffer = SharedLongArray.open(heap, "buffer");
                SharedLong head = SharedLong.open(heap, "head");
                SharedLong tail = SharedLong.open(heap, "tail");
                boolean produce = args[1].equals("produce");
                long first = Long.parseLong(args[2]) * Long.parseLong(args[3]) + 1;
                long sum = 0;
                for (int i = 0; i < Integer.parseInt(args[3]); i++) {
                    lock.lock();
                    try {
                        if (produce) {
                            awaitWhile(() -> tail.getPlain() - head.getPlain() == CAPACITY, notFull);
                            buffer.setPlain((int) (tail.getPlain() % CAPACITY), first + i);
                            tail.setPlain(tail.getPlain() + 1);
                            notEmpty.signal();
                        } else {
                            awaitWhile(() -> tail.getPlain() == head.getPlain(), notEmpty);
                            sum += buffer.getPlain((int) (head.getPlain() % CAPACITY));
                            head.setPlain(head.getPlain() + 1);
                            notFull.signal();
                        }
                    } finally {
                        lock.unlock();
                    }
                }
                SharedLong.open(heap, "sum").getAndAdd(sum);
                SharedLong.open(heap, "taken").getAndAdd(produce ? 0 : Long.parseLong(args[3]));
            }
        }

        private static void awaitWhile(BooleanSupplier blocked, Condition condition)
                throws InterruptedException {
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (blocked.getAsBoolean()) {
                if (condition.awaitNanos(deadline - System.nanoTime()) <= 0 && blocked.getAsBoolean()) {
                    throw new AssertionError("no wake-up within " + BOUND);
                }
            }
        }
    }

    /** {@code main(heap)}: waits on the lock's condition until {@code flag} is 1; prints {@code DONE <result>}. */
    public static final class FlagWaiter {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock lock = SharedLock.open(heap, "lock");
                SharedCondition condition = lock.newCondition();
                SharedInt flag = SharedInt.open(heap, "flag");
                lock.lock();
                try {
                    Children.say("WAITING");
                    boolean done = condition.awaitFor(() -> flag.getPlain() == 1, BOUND.toSeconds(), TimeUnit.SECONDS);
                    Children.say("DONE " + done);
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /**
     * {@code main(heap)}: opens the condition {@code ready} with the read-write lock {@code rw} and waits on it,
     * holding the write lock, until {@code flag} is 1; prints {@code DONE <result>}.
     */
    public static final class ReadWriteFlagWaiter {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedReadWriteLock rw = SharedReadWriteLock.open(heap, "rw");
                SharedCondition ready = SharedCondition.open(heap, "ready", rw);
                SharedInt flag = SharedInt.open(heap, "flag");
                rw.writeLock().lock();
                try {
                    Children.say("WAITING");
                    boolean done = ready.awaitFor(() -> flag.getPlain() == 1, BOUND.toSeconds(), TimeUnit.SECONDS);
                    Children.say("DONE " + done);
                } finally {
                    rw.writeLock().unlock();
                }
            }
        }
    }

    /** {@code main(heap)}: takes the lock, signals its condition and waits, holding the lock, to be killed. */
    public static final class SignalAndDie {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                Lock lock = SharedLock.open(heap, "lock");
                lock.lock();
                lock.newCondition().signal();
                Children.say("SIGNALLED");
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            }
        }
    }
}
