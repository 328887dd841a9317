package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.Await;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Deadlock detection with waiters SIGKILLed while their waits are published (or half-published, or being cleared):
 * <ul>
 * <li>the wait-for graph never shows a dead process's wait, so no cycle through a dead waiter is ever reported;</li>
 * <li>a dead waiter's entry is reclaimed: 64 live waiters (the table's size) all get published afterwards;</li>
 * <li>a thread that takes a lock over from a killed waiter that held it, while that waiter's wait for the thread's
 *     own lock is still in the table, acquires it with no {@link DeadlockException}.</li>
 * </ul>
 */
@Timeout(180)
class DeadlockKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Entries of the wait table ({@code WaitLayout.ENTRIES}). */
    private static final int TABLE_ENTRIES = 64;
    private static final List<String> PUBLISH_AT_ONCE = List.of("-Dshm4j.deadlockThresholdMillis=0");
    private static final long KILL_JITTER_NANOS = 200_000_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldForgetAndReclaimTheWaitsOfWaitersKilledAtRandom() throws Exception {
        String heapName = names.unique("dlkill");
        Random random = new Random(41);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 17)) {
            SharedLock busy = SharedLock.create(heap, "busy");
            busy.lock();
            Set<Long> dead = new HashSet<>();
            try {
                for (int wave = 0; wave < 3; wave++) {
                    List<ChildJvm> waiters = new ArrayList<>();
                    try {
                        for (int i = 0; i < 2; i++) {
                            waiters.add(ChildJvm.start(PUBLISH_AT_ONCE, Waiter.class, heapName, "busy", "-", "600"));
                        }
                        for (ChildJvm waiter : waiters) {
                            waiter.awaitLine("WAITING", BOUND);
                        }
                        Await.until("the waits are published", BOUND, () -> pidsIn(heap).size() >= waiters.size());
                        for (ChildJvm waiter : waiters) {
                            RandomKills.spin(random.nextLong(KILL_JITTER_NANOS));
                            waiter.kill();
                            dead.add(waiter.pid());
                        }
                    } finally {
                        waiters.forEach(ChildJvm::close);
                    }
                    assertThat(pidsIn(heap)).as("no dead process's wait in the graph")
                            .doesNotContainAnyElementsOf(dead);
                }
                assertThat(tableHoldsAllOf(heap, busy)).isTrue();
            } finally {
                busy.unlock();
            }
            Await.until("every wait ended", BOUND, () -> WaitForGraph.snapshot(heap).edges().isEmpty());
        }
    }

    @Test
    void shouldTakeOverFromAKilledWaiterWithNoDeadlockException() throws Exception {
        String heapName = names.unique("dlcross");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 17)) {
            SharedLock a = SharedLock.create(heap, "A");
            SharedLock b = SharedLock.create(heap, "B");
            a.lock();
            try (ChildJvm child = ChildJvm.start(PUBLISH_AT_ONCE, Waiter.class, heapName, "A", "B", "600")) {
                child.awaitLine("WAITING", BOUND);
                Await.until("the child's wait for A is published", BOUND, () -> pidsIn(heap).contains(child.pid()));
                child.kill(); // it holds B and waits for A, which this thread holds
                assertThat(WaitForGraph.snapshot(heap).cycles()).isEmpty();
                assertThat(b.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("taken over, no deadlock").isTrue();
                assertThat(b.isConsistent()).isFalse();
                b.markConsistent();
                assertThat(WaitForGraph.snapshot(heap).edges()).isEmpty();
                b.unlock();
            } finally {
                a.unlock();
            }
            assertThat(b.recoveries()).isEqualTo(1);
        }
    }

    /**
     * Starts {@value #TABLE_ENTRIES} threads of this process waiting for {@code busy} (held by the caller) and checks
     * that every one of them gets published, which needs the entries of the dead; then lets them go.
     *
     * @return true once checked
     */
    private static boolean tableHoldsAllOf(SharedHeap heap, SharedLock busy) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(TABLE_ENTRIES);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < TABLE_ENTRIES; i++) {
            threads.add(Thread.ofPlatform().name("table-filler-" + i).start(() -> {
                try {
                    if (busy.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                        busy.unlock();
                        done.countDown();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        long me = ProcessHandle.current().pid();
        Await.until("all " + TABLE_ENTRIES + " waits published", BOUND, () -> WaitForGraph.snapshot(heap).edges()
                .stream().filter(e -> e.waiterPid() == me).count() == TABLE_ENTRIES);
        assertThat(WaitForGraph.snapshot(heap).cycles()).isEmpty();
        busy.unlock();
        boolean all = done.await(BOUND.toSeconds(), TimeUnit.SECONDS);
        busy.lock();
        for (Thread t : threads) {
            t.join(BOUND.toMillis());
        }
        return all;
    }

    private static Set<Long> pidsIn(SharedHeap heap) {
        Set<Long> pids = new HashSet<>();
        WaitForGraph.snapshot(heap).edges().forEach(e -> pids.add(e.waiterPid()));
        return pids;
    }

    /**
     * {@code main(heap, awaited, held, millis)}: takes lock {@code held} (unless "-"), prints WAITING, then tries
     * lock {@code awaited} for {@code millis} ms again and again until killed.
     */
    public static final class Waiter {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock awaited = SharedLock.open(heap, args[1]);
                if (!args[2].equals("-")) {
                    SharedLock.open(heap, args[2]).lock();
                }
                System.out.println("WAITING");
                System.out.flush();
                long millis = Long.parseLong(args[3]);
                for (int i = 0; i < 1000; i++) { // bounded; killed long before
                    if (awaited.tryLock(millis, TimeUnit.MILLISECONDS)) {
                        awaited.unlock();
                    }
                }
            }
        }
    }
}
