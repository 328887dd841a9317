package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.WaitLayout;
import org.shm4j.sync.internal.WaitTable;
import org.shm4j.testing.Await;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Lock;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Deadlock detection across processes and threads: lock-order cycles of two and three members, of every exclusive
 * lock kind and of mixed kinds, are broken by exactly one {@link DeadlockException} (thrown to the member with the
 * highest pid, then thread id) that names every member, within a bound; the others acquire. A stress run of
 * consistent lock orders with long waits sees none.
 */
class DeadlockDetectionTest {
    private static final Duration BOUND = Duration.ofSeconds(90);
    /** Detection takes about threshold + two check periods; the bound allows for a loaded machine. */
    private static final long DETECTION_BOUND_MILLIS = 10_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest
    @ValueSource(strings = {"lock", "reentrant", "fair", "write"})
    void shouldBreakATwoProcessCycleWithExactlyOneDeadlockException(String kind) throws Exception {
        String heapName = names.unique("dl2");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 17)) {
            SharedLong.create(heap, "ready");
            DeadlockMember.create(heap, kind, "A");
            DeadlockMember.create(heap, kind, "B");
            List<String> outcomes = runChildren(heapName, List.of(
                    new String[] {kind, "2", "A", "B"}, new String[] {kind, "2", "B", "A"}));
            assertOneDeadlock(outcomes, kind.equals("reentrant") ? List.of("reentrant lock 'A'", "reentrant lock 'B'")
                    : List.of("'A'", "'B'"));
            assertThat(WaitForGraph.snapshot(heap).edges()).as("every wait ended").isEmpty();
        }
    }

    @Test
    void shouldBreakAThreeProcessRingOfMixedLockKinds() throws Exception {
        String heapName = names.unique("dl3");
        String[] kinds = {"lock", "fair", "write"};
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 17)) {
            SharedLong.create(heap, "ready");
            for (int i = 0; i < 3; i++) {
                DeadlockMember.create(heap, kinds[i], "L" + i);
            }
            List<String[]> args = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int next = (i + 1) % 3;
                args.add(new String[] {kinds[i] + "/" + kinds[next], "3", "L" + i, "L" + next});
            }
            assertOneDeadlock(runChildren(heapName, args), List.of("lock 'L0'", "fair lock 'L1'",
                    "read-write lock 'L2' (write)"));
        }
    }

    @Test
    void shouldBreakARingOfTwoThreadsOfThisProcessAndOneChild() throws Exception {
        String heapName = names.unique("dlmix");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 17)) {
            SharedLong.create(heap, "ready");
            for (String name : List.of("A", "B", "C")) {
                SharedLock.create(heap, name);
            }
            try (ChildJvm child = ChildJvm.start(DeadlockMember.class, heapName, "cycle", "lock", "3", "B", "C")) {
                List<String> outcomes = new ArrayList<>(inThreads(
                        () -> DeadlockMember.cycle(heap, "lock", 3, "A", "B"),
                        () -> DeadlockMember.cycle(heap, "lock", 3, "C", "A")));
                outcomes.add(child.awaitLine("", BOUND));
                child.awaitSuccess(BOUND);
                String deadlock = single(outcomes);
                assertThat(deadlock).contains("pid " + ProcessHandle.current().pid(), "pid " + child.pid(),
                        "lock 'A'", "lock 'B'", "lock 'C'", "pool-");
            }
        }
    }

    @Test
    void shouldBreakACycleOfTwoThreadsAndNameItInTheException() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLong.create(heap, "ready");
            SharedLock.create(heap, "A");
            SharedFairLock.create(heap, "B");
            String deadlock = single(inThreads(() -> DeadlockMember.cycle(heap, "lock/fair", 2, "A", "B"),
                    () -> DeadlockMember.cycle(heap, "fair/lock", 2, "B", "A")));
            assertThat(deadlock).contains("lock 'A'", "fair lock 'B'", "deadlock of 2 waiters");
        }
    }

    /**
     * helper-151: a cycle whose waits passed the threshold while the wait table was full (64 waits published on
     * another lock) was never detected: a refused wait did not try again, and its threads hung for good once the
     * table had room.
     */
    @Test
    void shouldBreakACycleThatFormedWhileTheWaitTableWasFull() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedLong.create(heap, "ready");
            SharedLock.create(heap, "A");
            SharedLock.create(heap, "B");
            SharedLock busy = SharedLock.create(heap, "busy");
            ExecutorService threads = Executors.newFixedThreadPool(WaitLayout.ENTRIES + 2);
            try {
                List<Future<Boolean>> fillers = new ArrayList<>();
                List<Future<String>> members;
                busy.lock();
                try {
                    for (int i = 0; i < WaitLayout.ENTRIES; i++) {
                        fillers.add(threads.submit(() -> busy.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)
                                && unlocked(busy)));
                    }
                    Await.until("the wait table full", BOUND, () -> WaitForGraph.snapshot(heap).edges().size()
                            == WaitLayout.ENTRIES);
                    members = List.of(threads.submit(() -> DeadlockMember.cycle(heap, "lock", 2, "A", "B")),
                            threads.submit(() -> DeadlockMember.cycle(heap, "lock", 2, "B", "A")));
                    Await.until("a member's wait refused", BOUND,
                            () -> WaitTable.find(heap).orElseThrow().refused() > 0);
                } finally {
                    busy.unlock();
                }
                for (Future<Boolean> filler : fillers) {
                    assertThat(filler.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                }
                List<String> outcomes = new ArrayList<>();
                for (Future<String> member : members) {
                    outcomes.add(member.get(BOUND.toSeconds(), TimeUnit.SECONDS));
                }
                assertThat(single(outcomes)).contains("lock 'A'", "lock 'B'");
            } finally {
                threads.shutdownNow();
            }
        }
    }

    /**
     * helper-156: a thread that waited for a ticket of a fair lock whose 64 turns were out (holder and 63 queued)
     * took no part, so a cycle through it was never found and its members waited for ever.
     */
    @Test
    void shouldBreakACycleThroughAThreadWaitingForAFairLockTicket() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedLock a = SharedLock.create(heap, "A");
            SharedFairLock b = SharedFairLock.create(heap, "B");
            SharedFairLock queued = SharedFairLock.open(heap, "B");
            queued.setDeadlockDetection(false); // the queue's waits stay out of the wait table (64 entries)
            ExecutorService threads = Executors.newFixedThreadPool(SyncLayout.FAIR_QUEUE + 1);
            try {
                CountDownLatch holdingB = new CountDownLatch(1);
                CountDownLatch holdingA = new CountDownLatch(1);
                CountDownLatch go = new CountDownLatch(1);
                Future<String> holderOfB = threads.submit(() -> member(b, a, holdingB, go));
                assertThat(holdingB.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                List<Future<Boolean>> queue = new ArrayList<>();
                for (int i = 1; i < SyncLayout.FAIR_QUEUE; i++) {
                    queue.add(threads.submit(() -> queued.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)
                            && unlocked(queued)));
                }
                Await.until("every turn of B out", BOUND, () -> b.queueLength() == SyncLayout.FAIR_QUEUE);
                Future<String> ticketWaiter = threads.submit(() -> member(a, b, holdingA, go));
                assertThat(holdingA.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                go.countDown();
                List<String> outcomes = new ArrayList<>();
                for (Future<String> member : List.of(holderOfB, ticketWaiter)) {
                    outcomes.add(member.get(BOUND.toSeconds(), TimeUnit.SECONDS));
                }
                assertThat(single(outcomes)).contains("lock 'A'", "fair lock 'B'");
                for (Future<Boolean> waiter : queue) {
                    assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                }
            } finally {
                threads.shutdownNow();
            }
        }
    }

    /**
     * Holds {@code first}, then, once {@code go} opens, tries {@code second} for as long as detection may take.
     *
     * @return {@code "ACQUIRED"}, {@code "TIMED OUT"}, or {@code "DEADLOCK <ms> <message>"}
     */
    private static String member(Lock first, Lock second, CountDownLatch holding, CountDownLatch go)
            throws Exception {
        first.lock();
        try {
            holding.countDown();
            assertThat(go.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            long start = System.nanoTime();
            try {
                if (!second.tryLock(DETECTION_BOUND_MILLIS, TimeUnit.MILLISECONDS)) {
                    return "TIMED OUT";
                }
            } catch (DeadlockException e) {
                return "DEADLOCK " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " " + e.getMessage();
            }
            second.unlock();
            return "ACQUIRED";
        } finally {
            first.unlock();
        }
    }

    private static boolean unlocked(Lock lock) {
        lock.unlock();
        return true;
    }

    @Test
    void shouldNotDetectWhenTurnedOffForTheLocks() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock a = SharedLock.create(heap, "A");
            SharedLock b = SharedLock.create(heap, "B");
            a.setDeadlockDetection(false);
            b.setDeadlockDetection(false);
            assertThat(a.isDeadlockDetectionEnabled()).isFalse();
            AtomicInteger holding = new AtomicInteger();
            // no DeadlockException (it would fail inThreads); the first to time out lets the other through
            assertThat(inThreads(() -> takeBoth(a, b, holding), () -> takeBoth(b, a, holding))).as("acquired")
                    .contains(false);
            assertThat(WaitForGraph.snapshot(heap).edges()).isEmpty();
            assertThat(heap.find("shm4j.waits")).as("no wait was published").isEmpty();
        }
    }

    /** Takes {@code first}, meets the other thread, then tries {@code second} for 1.5 s (detection needs ~0.2 s). */
    private static boolean takeBoth(SharedLock first, SharedLock second, AtomicInteger holding) throws Exception {
        first.lock();
        try {
            holding.incrementAndGet();
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (holding.get() < 2 && System.nanoTime() - deadline < 0) {
                Thread.yield();
            }
            boolean acquired = second.tryLock(1500, TimeUnit.MILLISECONDS);
            if (acquired) {
                second.unlock();
            }
            return acquired;
        } finally {
            first.unlock();
        }
    }

    @Test
    void shouldShowALongWaitInTheSnapshotWithItsHolder() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "busy");
            lock.lock();
            Thread waiter = Thread.ofPlatform().name("snapshot-waiter").start(() -> lock.withLock(() -> { }));
            try {
                long deadline = System.nanoTime() + BOUND.toNanos();
                List<WaitForGraph.Edge> edges = List.of();
                while (edges.isEmpty() && System.nanoTime() - deadline < 0) {
                    Thread.yield();
                    edges = WaitForGraph.snapshot(heap).edges();
                }
                long pid = ProcessHandle.current().pid();
                assertThat(edges).singleElement().satisfies(e -> {
                    assertThat(e.waiterPid()).isEqualTo(pid);
                    assertThat(e.waiterThreadId()).isEqualTo(waiter.threadId());
                    assertThat(e.waiterThreadName()).isEqualTo("snapshot-waiter");
                    assertThat(e.lock()).isEqualTo("lock 'busy'");
                    assertThat(e.holderPid()).isEqualTo(pid);
                    assertThat(e.holderThreadId()).isEqualTo(Thread.currentThread().threadId());
                });
                assertThat(WaitForGraph.snapshot(heap).cycles()).isEmpty();
            } finally {
                lock.unlock();
            }
            waiter.join(BOUND.toMillis());
            assertThat(waiter.isAlive()).isFalse();
            assertThat(WaitForGraph.snapshot(heap).edges()).as("the wait ended").isEmpty();
        }
    }

    @Test
    void shouldSeeNoDeadlockInAStressRunOfConsistentLockOrders() throws Exception {
        String heapName = names.unique("dlstress");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 17)) {
            SharedLock.create(heap, "A");
            SharedFairLock.create(heap, "B");
            SharedReadWriteLock.create(heap, "C");
            SharedLong acquisitions = SharedLong.create(heap, "acquisitions");
            SharedLong deadlocks = SharedLong.create(heap, "deadlocks");
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicInteger mostEdges = new AtomicInteger();
            Thread sampler = Thread.ofPlatform().start(() -> {
                while (running.get()) {
                    mostEdges.accumulateAndGet(WaitForGraph.snapshot(heap).edges().size(), Math::max);
                    Thread.onSpinWait();
                }
            });
            List<ChildJvm> children = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) { // every wait past the first check (50 ms) is published
                    children.add(ChildJvm.start(List.of("-Dshm4j.deadlockThresholdMillis=0"), DeadlockMember.class,
                            heapName, "stress", "3", "2500"));
                }
                for (ChildJvm child : children) {
                    assertThat(child.awaitLine("STRESS", BOUND)).endsWith(" 0");
                    child.awaitSuccess(BOUND);
                }
            } finally {
                running.set(false);
                children.forEach(ChildJvm::close);
                sampler.join(BOUND.toMillis());
            }
            assertThat(deadlocks.get()).isZero();
            assertThat(acquisitions.get()).isPositive();
            assertThat(mostEdges.get()).as("waits were published, so detection ran").isPositive();
        }
    }

    /** @return the results of {@code tasks}, run in threads of their own, in order */
    @SafeVarargs
    private static <T> List<T> inThreads(Callable<T>... tasks) throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(tasks.length);
        try {
            List<Future<T>> futures = Stream.of(tasks).map(threads::submit).toList();
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(BOUND.toSeconds(), TimeUnit.SECONDS));
            }
            return results;
        } finally {
            threads.shutdownNow();
        }
    }

    /** Runs one cycle member per argument list in child JVMs; returns their outcome lines. */
    private static List<String> runChildren(String heapName, List<String[]> args) throws InterruptedException {
        List<ChildJvm> children = new ArrayList<>();
        List<String> outcomes = new ArrayList<>();
        try {
            for (String[] a : args) {
                children.add(ChildJvm.start(DeadlockMember.class, heapName, "cycle", a[0], a[1], a[2], a[3]));
            }
            for (ChildJvm child : children) {
                outcomes.add("pid " + child.pid() + ": " + child.awaitLine("", BOUND));
                child.awaitSuccess(BOUND);
            }
        } finally {
            children.forEach(ChildJvm::close);
        }
        return outcomes;
    }

    /** Checks: one member broke the cycle, the one with the highest pid, naming every member and lock. */
    private static void assertOneDeadlock(List<String> outcomes, List<String> locks) {
        String deadlock = single(outcomes);
        long highestPid = outcomes.stream().mapToLong(o -> Long.parseLong(o.substring(4, o.indexOf(':'))))
                .max().orElseThrow();
        assertThat(deadlock).as("the victim").startsWith("pid " + highestPid + ": ");
        for (String o : outcomes) {
            assertThat(deadlock).contains(o.substring(0, o.indexOf(':')) + " thread");
        }
        assertThat(deadlock).contains(locks);
    }

    /**
     * @return the one outcome that is a deadlock, after checking every other member acquired and the deadlock came
     *         within the bound
     */
    private static String single(List<String> outcomes) {
        List<String> deadlocks = outcomes.stream().filter(o -> o.contains("DEADLOCK")).toList();
        assertThat(deadlocks).as("outcomes %s", outcomes).hasSize(1);
        assertThat(outcomes.stream().filter(o -> o.endsWith("ACQUIRED")).count()).as("outcomes %s", outcomes)
                .isEqualTo(outcomes.size() - 1);
        String deadlock = deadlocks.getFirst();
        String[] words = deadlock.substring(deadlock.indexOf("DEADLOCK")).split(" ");
        assertThat(Long.parseLong(words[1])).as("ms to detect").isLessThan(DETECTION_BOUND_MILLIS);
        return deadlock;
    }
}
