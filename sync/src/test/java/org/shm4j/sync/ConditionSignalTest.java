package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SharedCondition#signal()} wakes exactly one waiter, as Python's {@code notify()} and {@code ReentrantLock}'s
 * conditions do (layout v3 let every waiter return within about 50 ms of any signal), and only one that waited when
 * it was called. Each check that no other waiter returned watches for {@link #QUIET}: several times the 50 ms slice
 * after which a v3 waiter returned.
 */
@Timeout(120)
class ConditionSignalTest {
    private static final Duration BOUND = Children.BOUND;
    private static final Duration QUIET = Duration.ofMillis(300);
    private static final long ITEMS = 20_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldWakeOneWaiterPerSignalAndEveryOneOnSignalAll() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            AtomicInteger woken = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Boolean>> waiters = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    waiters.add(pool.submit(() -> awaitOnce(lock, condition, woken)));
                }
                awaitWaiting(condition, 4);
                for (int k = 1; k <= 2; k++) {
                    lock.withLock(condition::signal);
                    awaitCount(woken::get, k, "waiters woken after " + k + " signals");
                    assertStays(woken::get, k, "no other waiter returns after signal " + k);
                }
                lock.withLock(condition::signalAll);
                for (Future<Boolean> waiter : waiters) {
                    assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("signalled, not timed out")
                            .isTrue();
                }
                assertThat(woken.get()).isEqualTo(4);
                assertThat(condition.toString()).endsWith("(0 waiting)");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /**
     * A one-slot buffer between two producer and two consumer threads, each side waiting on its own condition and
     * woken by {@code signal()} alone, as {@code ArrayBlockingQueue} does: with one wake-up per signal, a lost one
     * shows as a thread whose wait times out (a consumer and a producer may wait on the same condition's sibling at
     * once, so a signal that wakes the wrong side never happens here: each condition has one side's waiters only).
     * Afterwards no token is left without a waiter: one would be a wake-up no later waiter can take, which signals
     * that count it would then skip.
     */
    @Test
    void shouldPassEveryItemThroughAOneSlotBufferWokenBySignalAlone() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition notEmpty = SharedCondition.create(heap, "notEmpty", lock);
            SharedCondition notFull = SharedCondition.create(heap, "notFull", lock);
            long[] slot = new long[2]; // guarded by the lock: the item (0 if empty), the sum taken
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> threads = new ArrayList<>();
                for (int p = 0; p < 2; p++) {
                    long first = p * ITEMS + 1;
                    threads.add(pool.submit(() -> {
                        for (long item = first; item < first + ITEMS; item++) {
                            lock.lock();
                            try {
                                awaitOrFail(notFull, () -> slot[0] == 0);
                                slot[0] = item;
                                notEmpty.signal();
                            } finally {
                                lock.unlock();
                            }
                        }
                        return null;
                    }));
                }
                for (int c = 0; c < 2; c++) {
                    threads.add(pool.submit(() -> {
                        for (long i = 0; i < ITEMS; i++) {
                            lock.lock();
                            try {
                                awaitOrFail(notEmpty, () -> slot[0] != 0);
                                slot[1] += slot[0];
                                slot[0] = 0;
                                notFull.signal();
                            } finally {
                                lock.unlock();
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> thread : threads) {
                    thread.get(BOUND.toSeconds() * 2, TimeUnit.SECONDS);
                }
                long n = 2 * ITEMS;
                assertThat(lock.withLock(() -> slot[1])).as("each item once").isEqualTo(n * (n + 1) / 2);
                for (String name : List.of("notEmpty", "notFull")) {
                    MemorySegment block = heap.lookup(name, SyncLayout.CONDITION).segment();
                    assertThat(ushort(block, SyncLayout.COND_TOKENS_OFFSET))
                            .as("tokens of %s left with no waiter", name).isZero();
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** Holding the condition's lock: waits until {@code ready}; fails if no wake-up comes within the bound. */
    private static void awaitOrFail(SharedCondition condition, java.util.function.BooleanSupplier ready)
            throws InterruptedException {
        if (!condition.awaitFor(ready, BOUND.toSeconds(), TimeUnit.SECONDS)) {
            throw new AssertionError(condition + ": a lost wake-up, no signal within " + BOUND);
        }
    }

    @Test
    void shouldNotLetAThreadThatWaitsAfterASignalTakeItsWakeUp() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            AtomicInteger woken = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<Boolean> early = pool.submit(() -> awaitOnce(lock, condition, woken));
                awaitWaiting(condition, 1);
                Future<Boolean> late;
                lock.lock();
                try {
                    condition.signal();
                    late = pool.submit(() -> awaitOnce(lock, condition, woken)); // can only wait after this signal
                } finally {
                    lock.unlock();
                }
                assertThat(early.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the early waiter's signal").isTrue();
                awaitWaiting(condition, 1); // the late one, whichever took the lock first
                assertStays(woken::get, 1, "the late waiter is not woken by the earlier signal");
                lock.withLock(condition::signal);
                assertThat(late.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldReturnAsSignalledAWaiterWhoseTimeoutOrInterruptCameWithItsSignal() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            lock.lock();
            try {
                assertThat(condition.awaitNanos(0)).as("no wait, no signal").isLessThanOrEqualTo(0);
                assertThat(condition.toString()).endsWith("(0 waiting)");
            } finally {
                lock.unlock();
            }
            AtomicReference<Thread> waiter = new AtomicReference<>();
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Boolean> interrupted = pool.submit(() -> {
                    waiter.set(Thread.currentThread());
                    lock.lock();
                    try {
                        condition.await(); // returns normally: the signal came before the interrupt was seen
                        return Thread.currentThread().isInterrupted();
                    } finally {
                        lock.unlock();
                    }
                });
                awaitWaiting(condition, 1);
                lock.lock();
                try {
                    condition.signal();
                    waiter.get().interrupt(); // before or after it took its token: it returns as signalled
                } finally {
                    lock.unlock();
                }
                assertThat(interrupted.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("its interrupt is left set")
                        .isTrue();
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldWakeOneWaiterPerSignalAcrossProcesses() throws Exception {
        String heapName = names.unique("cond-one");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            SharedLong woken = SharedLong.create(heap, "woken");
            try (ChildJvm first = ChildJvm.start(Waiters.class, heapName, "2");
                 ChildJvm second = ChildJvm.start(Waiters.class, heapName, "2")) {
                awaitWaiting(condition, 4);
                for (int k = 1; k <= 3; k++) {
                    lock.withLock(condition::signal);
                    awaitCount(woken::get, k, "waiters woken after " + k + " signals");
                    assertStays(woken::get, k, "no other waiter returns after signal " + k);
                }
                lock.withLock(condition::signal);
                first.awaitSuccess(BOUND);
                second.awaitSuccess(BOUND);
            }
            assertThat(woken.get()).isEqualTo(4);
        }
    }

    /**
     * A signaller killed between its compare-and-set (the arrived waiter served, with a token) and its futex wake:
     * simulated by making that change to the word by hand, with no wake. The waiter, blocked in futex on the old
     * word, sees it changed when its 50 ms slice ends and takes the token.
     */
    @Test
    void shouldWakeAWaiterWhoseSignallerDiedBetweenItsTokenAndItsWake() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            MemorySegment block = heap.lookup("lock.condition", SyncLayout.CONDITION).segment();
            AtomicInteger woken = new AtomicInteger();
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Boolean> waiter = pool.submit(() -> awaitOnce(lock, condition, woken));
                awaitWaiting(condition, 1);
                lock.lock(); // as the dead signaller held it; its take-over is SharedLock's own concern
                try {
                    int epoch = ushort(block, SyncLayout.COND_EPOCH_OFFSET);
                    setWord(block, epoch + 1, 1, 1, 0); // no futex wake follows
                } finally {
                    lock.unlock();
                }
                assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("signalled, not timed out").isTrue();
                assertThat(block.get(ValueLayout.JAVA_SHORT, SyncLayout.COND_TOKENS_OFFSET)).as("token taken")
                        .isZero();
                assertThat(condition).hasToString("condition 'lock.condition' (0 waiting)");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldRefuseASignalWordWithMoreTokensThanWaitersAndNonZeroReservedBytes() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition.create(heap, "cond", lock);
            MemorySegment block = heap.lookup("cond", SyncLayout.CONDITION).segment();
            setWord(block, 0, 1, 0, 0); // 1 token, 0 served waiters
            assertThatThrownBy(() -> SharedCondition.open(heap, "cond", lock)).isInstanceOf(ShmFormatException.class)
                    .hasMessage("condition 'cond' is corrupted: tokens=1 (expected: 0..0, its served waiters)");
            setWord(block, 0, 1, 65_534, 1); // 65,535 waiters: valid
            assertThat(SharedCondition.open(heap, "cond", lock)).hasToString("condition 'cond' (65535 waiting)");
            setWord(block, 0, 1, 65_534, 2);
            assertThatThrownBy(() -> SharedCondition.open(heap, "cond", lock)).isInstanceOf(ShmFormatException.class)
                    .hasMessage("condition 'cond' is corrupted: waiters=65536 (expected: 0..65535, served and "
                            + "arrived)");
            setWord(block, 0, 0, 0, 0);
            block.set(ValueLayout.JAVA_BYTE, 100, (byte) 7);
            assertThatThrownBy(() -> SharedCondition.open(heap, "cond", lock)).isInstanceOf(ShmFormatException.class)
                    .hasMessage("condition 'cond' is corrupted: reserved byte 100=7 (expected: 0)");
        }
    }

    /**
     * A waiter that finds the most a condition counts (phantoms here: waiters killed while counted, which no signal
     * released) releases them all, as {@code signalAll} does, and counts itself alone: it is never refused.
     */
    @Test
    void shouldReleaseEveryCountedWaiterWhenAWaiterFindsTheMostAConditionCounts() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = SharedCondition.create(heap, "cond", lock);
            MemorySegment block = heap.lookup("cond", SyncLayout.CONDITION).segment();
            setWord(block, 7, 3, 65_000, 535); // 65,535 waiters
            lock.lock();
            try {
                assertThat(condition.await(1, TimeUnit.MILLISECONDS)).as("nobody signalled it").isFalse();
                assertThat(lock.isHeldByCurrentThread()).isTrue();
                assertThat(ushort(block, SyncLayout.COND_EPOCH_OFFSET)).as("released as by signalAll").isEqualTo(9);
                assertThat(condition).hasToString("condition 'cond' (0 waiting)");
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * helper-120: in layout v4 a waiter could take any token once the sequence had moved past its generation, so
     * waiters that arrived after a signal took that signal's token at the next one, and the waiter it was for, slow to
     * take it, went on waiting. Here that waiter is a phantom (counted by hand, as its thread would count itself, and
     * then never running): after the signal that serves it, two live waiters arrive, and each of the next two
     * signals wakes exactly one of them; the phantom is released with its group, so nothing stays counted.
     */
    @Test
    void shouldNotLetWaitersThatArriveAfterASignalTakeTheTokenOfAWaiterSlowToTakeIt() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = lock.newCondition();
            MemorySegment block = heap.lookup("lock.condition", SyncLayout.CONDITION).segment();
            AtomicInteger woken = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                lock.withLock(() -> setWord(block, 0, 0, 0, 1)); // the phantom counts itself at epoch 0
                lock.withLock(condition::signal); // serves it: epoch 1, its token handed out
                // a live phantom, however slow this machine is: its token dated an hour ahead, so that the hand-over
                // of tokens a dead waiter never takes (after a second) leaves it alone
                ValueLayout.JAVA_LONG.varHandle().setVolatile(block, SyncLayout.COND_TOKENS_SINCE_OFFSET,
                        System.nanoTime() + TimeUnit.HOURS.toNanos(1));
                assertThat(condition).hasToString("condition 'lock.condition' (1 waiting)");
                List<Future<Boolean>> late = List.of(pool.submit(() -> awaitOnce(lock, condition, woken)),
                        pool.submit(() -> awaitOnce(lock, condition, woken)));
                awaitWaiting(condition, 3);
                for (int k = 1; k <= 2; k++) {
                    lock.withLock(condition::signal);
                    awaitCount(woken::get, k, "late waiters woken after " + (k + 1) + " signals");
                    assertStays(woken::get, k, "no other waiter returns after signal " + (k + 1));
                }
                for (Future<Boolean> waiter : late) {
                    assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("signalled").isTrue();
                }
                assertThat(condition).as("the phantom was released").hasToString(
                        "condition 'lock.condition' (0 waiting)");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** Stores a condition's whole signal word at once: epoch, tokens, served and arrived waiters. */
    private static void setWord(MemorySegment block, int epoch, int tokens, int served, int arrived) {
        MemorySegment word = MemorySegment.ofArray(new long[1]);
        word.set(ValueLayout.JAVA_SHORT, SyncLayout.COND_EPOCH_OFFSET - SyncLayout.COND_WORD_OFFSET, (short) epoch);
        word.set(ValueLayout.JAVA_SHORT, SyncLayout.COND_TOKENS_OFFSET - SyncLayout.COND_WORD_OFFSET, (short) tokens);
        word.set(ValueLayout.JAVA_SHORT, SyncLayout.COND_SERVED_OFFSET - SyncLayout.COND_WORD_OFFSET, (short) served);
        word.set(ValueLayout.JAVA_SHORT, SyncLayout.COND_ARRIVED_OFFSET - SyncLayout.COND_WORD_OFFSET,
                (short) arrived);
        // volatile: one store of the word, as a signal's compare-and-set makes it
        ValueLayout.JAVA_LONG.varHandle().setVolatile(block, SyncLayout.COND_WORD_OFFSET,
                word.get(ValueLayout.JAVA_LONG, 0));
    }

    private static int ushort(MemorySegment block, long offset) {
        return Short.toUnsignedInt(block.get(ValueLayout.JAVA_SHORT, offset));
    }

    /** Takes the lock, waits once (up to the bound), counts itself woken. @return whether it was signalled */
    private static boolean awaitOnce(SharedLock lock, SharedCondition condition, AtomicInteger woken)
            throws InterruptedException {
        lock.lock();
        try {
            boolean signalled = condition.await(BOUND.toSeconds(), TimeUnit.SECONDS);
            woken.incrementAndGet();
            return signalled;
        } finally {
            lock.unlock();
        }
    }

    private static void awaitWaiting(SharedCondition condition, int waiters) throws InterruptedException {
        Children.awaitTrue(waiters + " waiting", () -> condition.toString().endsWith("(" + waiters + " waiting)"));
    }

    private static void awaitCount(LongSupplier count, long expected, String what) throws InterruptedException {
        Children.awaitTrue(what + " = " + expected, () -> count.getAsLong() >= expected);
        assertThat(count.getAsLong()).as(what).isEqualTo(expected);
    }

    /** Watches {@code count} for {@link #QUIET}: it must stay {@code expected}. */
    private static void assertStays(LongSupplier count, long expected, String what) throws InterruptedException {
        long end = System.nanoTime() + QUIET.toNanos();
        while (System.nanoTime() - end < 0) {
            assertThat(count.getAsLong()).as(what).isEqualTo(expected);
            Thread.sleep(5); // a watch over a fixed window, not a synchronisation: any change within it fails
        }
        assertThat(count.getAsLong()).as(what).isEqualTo(expected);
    }

    /** {@code main(heap, threads)}: that many threads each wait once on the lock's condition, counting themselves. */
    public static final class Waiters {
        public static void main(String[] args) throws Exception {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock lock = SharedLock.open(heap, "lock");
                SharedCondition condition = lock.newCondition();
                SharedLong woken = SharedLong.open(heap, "woken");
                List<Thread> threads = new ArrayList<>();
                List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
                for (int i = 0; i < Integer.parseInt(args[1]); i++) {
                    threads.add(Thread.ofPlatform().start(() -> {
                        try {
                            lock.lock();
                            try {
                                if (!condition.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                                    throw new AssertionError("timed out");
                                }
                                woken.incrementAndGet();
                            } finally {
                                lock.unlock();
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }));
                }
                for (Thread thread : threads) {
                    thread.join(BOUND.toMillis());
                }
                if (!failures.isEmpty()) {
                    throw new AssertionError(failures);
                }
            }
        }
    }
}
