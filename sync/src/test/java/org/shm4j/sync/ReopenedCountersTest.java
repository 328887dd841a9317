package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedCounters;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.CountersLayout;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.locks.LockOwner;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.Children.BOUND;
import static org.shm4j.sync.Children.onNewThread;

/**
 * A process that closed its last view of a heap while a thread of it held a {@link SharedCounters} block's allocation
 * mutex (an allocate or free cut short by the close between its lock and its release: held here by the test, through
 * the mutex itself, because no user code runs in that window), then opens the heap again: the open's sweep renames
 * the hold as a gone holder's, and the next allocate, in any process and on any thread of this one, takes it over
 * (one recovery; nothing to repair: each change stores its state last). Before, the hold was this process's own
 * again: an allocate from another thread, in any process, failed after its 10 s ("held by" this pid), and one from
 * the thread that held it was told it held it already.
 */
@Timeout(180)
class ReopenedCountersTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param holderFirst true if the thread that held the mutex when the heap closed allocates first after the
     *                    reopen, false if another thread does
     */
    @ParameterizedTest(name = "holderFirst={0}")
    @ValueSource(booleans = {true, false})
    void shouldLetEveryThreadAllocateAfterTheCloseLeftTheMutexHeld(boolean holderFirst) throws Exception {
        String heapName = names.unique("reopened-counters");
        ExecutorService holder = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().factory());
        try {
            SharedHeap first = SharedHeap.create(heapName, 1 << 20);
            SharedCounters.create(first, "counters", 4);
            RobustMutex mutex = allocationMutex(first);
            holder.submit(() -> mutex.acquire(-1, false)).get(BOUND.toSeconds(), TimeUnit.SECONDS);
            first.close();
            try (SharedHeap again = SharedHeap.open(heapName)) {
                SharedCounters counters = SharedCounters.open(again, "counters");
                Callable<Integer> byHolder = () -> counters.allocate("by the holder").id();
                Callable<Integer> byOther = () -> counters.allocate("by another thread").id();
                assertThat(holderFirst ? holder.submit(byHolder).get(BOUND.toSeconds(), TimeUnit.SECONDS)
                        : onNewThread(byOther).get(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero();
                assertThat(holderFirst ? onNewThread(byOther).get(BOUND.toSeconds(), TimeUnit.SECONDS)
                        : holder.submit(byHolder).get(BOUND.toSeconds(), TimeUnit.SECONDS)).isOne();
                assertThat(allocationMutex(again).recoveries()).isOne();
                assertThat(allocationMutex(again).isHeld()).isFalse();
            }
        } finally {
            holder.shutdownNow();
        }
    }

    /** A child holds the mutex, closes its heap, opens it again and stays attached: the parent allocates. */
    @Test
    void shouldAllocateAfterAnotherProcessesCloseLeftTheMutexHeldOnceItOpenedTheHeapAgain() throws Exception {
        String heapName = names.unique("reopened-counters-child");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedCounters counters = SharedCounters.create(heap, "counters", 4);
            try (ChildJvm child = ChildJvm.start(ReopeningHolder.class, heapName)) {
                child.awaitLine("REOPENED", BOUND);
                assertThat(heap.attachedProcesses()).as("the child is attached again").hasSize(2);
                assertThat(onNewThread(() -> counters.allocate("parent").id())
                        .get(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero();
                assertThat(allocationMutex(heap).recoveries()).isOne();
                assertThat(child.output()).doesNotContain("Exception");
            }
        }
    }

    /** This process closes its last view and opens the heap again while a child holds the mutex: it stays held. */
    @Test
    void shouldLeaveAnotherProcesssLiveHoldAloneWhenItOpensTheHeapAgain() throws Exception {
        String heapName = names.unique("counters-beside-holder");
        SharedHeap first = SharedHeap.create(heapName, 1 << 20);
        SharedCounters.create(first, "counters", 4);
        SharedLong.create(first, "go");
        try (ChildJvm child = ChildJvm.start(LiveHolder.class, heapName)) {
            child.awaitLine("HOLDING", BOUND);
            first.close();
            try (SharedHeap again = SharedHeap.open(heapName)) {
                assertHeldBy(allocationMutex(again), child.pid());
                SharedLong.open(again, "go").set(1);
                child.awaitLine("RELEASED", BOUND);
                assertThat(onNewThread(() -> SharedCounters.open(again, "counters").allocate("parent").id())
                        .get(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero();
                assertThat(allocationMutex(again).recoveries()).isZero();
            }
        }
    }

    /** A second view opened while the first is open claims no new slot: no sweep, the hold stays its thread's. */
    @Test
    void shouldLeaveThisProcesssHoldAloneWhenASecondViewOpens() throws Exception {
        String heapName = names.unique("counters-second-view");
        ExecutorService holder = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().factory());
        try (SharedHeap first = SharedHeap.create(heapName, 1 << 20)) {
            SharedCounters.create(first, "counters", 4);
            RobustMutex mutex = allocationMutex(first);
            holder.submit(() -> mutex.acquire(-1, false)).get(BOUND.toSeconds(), TimeUnit.SECONDS);
            try (SharedHeap second = SharedHeap.open(heapName)) {
                assertHeldBy(allocationMutex(second), ProcessHandle.current().pid());
                assertThat(holder.submit(() -> mutex.isHeldByCurrentThread()).get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("still the holder's").isTrue();
                holder.submit(() -> mutex.release(false, "test")).get(BOUND.toSeconds(), TimeUnit.SECONDS);
                assertThat(SharedCounters.open(second, "counters").allocate("after").id()).isZero();
                assertThat(allocationMutex(second).recoveries()).isZero();
            }
        } finally {
            holder.shutdownNow();
        }
    }

    /** Checks that {@code mutex} is held by a live process {@code pid}: a take-over of a gone holder's refused. */
    private static void assertHeldBy(RobustMutex mutex, long pid) throws Exception {
        assertThat(mutex.owner()).map(LockOwner::pid).contains(pid);
        assertThat(onNewThread(mutex::takeOverIfOwnerDead).get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .as("its holder is not gone").isFalse();
    }

    /** @return the allocation mutex of the block "counters" in {@code heap} (as its allocate and free take it) */
    static RobustMutex allocationMutex(SharedHeap heap) {
        return new RobustMutex(heap.find("counters").orElseThrow().segment(), CountersLayout.MUTEX_OFFSET,
                "counters allocation mutex");
    }

    /**
     * {@code main(heap)}: holds the counters' allocation mutex from a thread that waits for ever, closes the heap from
     * the main thread, opens it again, says so and stays attached until killed.
     */
    public static final class ReopeningHolder {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            SharedCounters.open(heap, "counters");
            RobustMutex mutex = allocationMutex(heap);
            CountDownLatch holding = new CountDownLatch(1);
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    mutex.acquire(-1, false);
                    holding.countDown();
                    new CountDownLatch(1).await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            if (!holding.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("the holder did not start");
            }
            heap.close();
            SharedHeap again = SharedHeap.open(args[0]);
            Children.say("REOPENED " + again);
            new CountDownLatch(1).await(3 * BOUND.toSeconds(), TimeUnit.SECONDS); // outlives the parent: killed
        }
    }

    /**
     * {@code main(heap)}: holds the counters' allocation mutex, says HOLDING, releases it on the parent's {@code go}
     * and says RELEASED.
     */
    public static final class LiveHolder {
        public static void main(String[] args) throws Exception {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLong go = SharedLong.open(heap, "go");
                SharedCounters.open(heap, "counters");
                RobustMutex mutex = allocationMutex(heap);
                mutex.acquire(-1, false);
                Children.say("HOLDING");
                Children.awaitTrue("the parent's go", () -> go.get() == 1);
                mutex.release(false, "test");
                Children.say("RELEASED");
            }
        }
    }
}
