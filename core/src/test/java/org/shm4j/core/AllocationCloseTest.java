package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.testing.Await;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.lang.Thread.State;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A heap view closed while an allocation of this process holds the heap's allocation lock through it, then opened
 * again. Before the fix the close cut the allocation short: the lock word kept this process's token, and once the
 * process opened the heap again it counted as a live holder, so every allocation in every process timed out ("held
 * by live pid ...") for as long as it kept the heap open.
 */
@Timeout(120)
class AllocationCloseTest {
    private static final BlockType TYPE = new BlockType(0x100, 1);
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int ROUNDS = 40;
    // VarHandle mechanics
    private static final VarHandle MARK = JAVA_LONG.varHandle();
    private static final HeapOptions QUICK = HeapOptions.defaults().withInitTimeout(Duration.ofMillis(500));

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * The close comes while the allocation runs its initializer; the initializer writes its block once the closer is
     * seen inside the close (parked, or done). The close waits for the allocation, which publishes its block; then a
     * child JVM and this process allocate in the heap opened again, each waiting at most 500 ms for the lock.
     */
    @Test
    void shouldAllocateInEveryProcessAfterAReopenOnceACloseCameDuringAnAllocation() throws Exception {
        String name = names.unique("close-mid-alloc");
        SharedHeap.create(name, 1 << 16).close();
        SharedHeap heap = SharedHeap.open(name, QUICK);
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch closerStarted = new CountDownLatch(1);
        Thread[] closer = new Thread[1];
        ExecutorService allocator = Executors.newSingleThreadExecutor();
        try {
            Future<HeapBlock> during = allocator.submit(() -> heap.allocate("during", TYPE, 64, 64, block -> {
                inside.countDown();
                awaitBounded(closerStarted);
                Await.until("the closer inside the close", BOUND, () -> closer[0].getState() != State.RUNNABLE
                        && closer[0].getState() != State.NEW);
                block.set(JAVA_LONG, 0, 42L);
            }));
            assertThat(inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            closer[0] = Thread.ofPlatform().start(heap::close);
            closerStarted.countDown();
            assertThat(during.get(BOUND.toSeconds(), TimeUnit.SECONDS).name()).as("published before the close ended")
                    .isEqualTo("during");
            assertThat(closer[0].join(BOUND)).isTrue();
            assertThat(heap.memory().isClosed()).isTrue();
        } finally {
            allocator.shutdownNow();
        }
        try (SharedHeap again = SharedHeap.open(name, QUICK)) {
            try (ChildJvm other = ChildJvm.start(QuickAllocator.class, name, "theirs")) {
                other.awaitSuccess(BOUND); // before the fix: timed out, this process held the word
            }
            assertThat(again.allocate("next", TYPE, 64).name()).isEqualTo("next");
            assertThat(again.blocks()).extracting(HeapBlock::name).containsExactly("during", "theirs", "next");
            assertThat(again.lookup("during", TYPE).segment().get(JAVA_LONG, 0)).isEqualTo(42L);
        }
    }

    /** A close from the initializer would wait for itself: it is refused, and changes nothing. */
    @Test
    void shouldRefuseACloseFromTheInitializerOfAnAllocationThroughTheSameView() {
        String name = names.unique("close-in-init");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            assertThatThrownBy(() -> heap.allocate("self", TYPE, 64, 64, block -> heap.close()))
                    .isInstanceOf(IllegalStateException.class).hasMessage("heap '" + name + "' cannot be closed by "
                            + "the thread that holds its allocation lock (from a block's initializer): close it once "
                            + "the allocation has returned");
            assertThat(heap.memory().isClosed()).isFalse();
            assertThat(heap.allocate("next", TYPE, 64).name()).isEqualTo("next");
            assertThat(heap.blocks()).extracting(HeapBlock::name).containsExactly("next");
        }
    }

    /**
     * An allocation waiting for the lock that another process holds has not taken it: the close does not wait for
     * it (it would have waited 1 s, then refused to close), and the allocation fails as on a closed heap. Once that
     * process is killed, the lock is taken over from it.
     */
    @Test
    void shouldCloseWithoutWaitingForAnAllocationThatWaitsForAnotherProcess() throws Exception {
        String name = names.unique("close-waiter");
        try (SharedHeap keeper = SharedHeap.create(name, 1 << 16)) {
            SharedHeap heap = SharedHeap.open(name, HeapOptions.defaults().withInitTimeout(BOUND));
            try (ChildJvm holder = ChildJvm.start(Holder.class, name)) {
                holder.awaitLine("READY", BOUND);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread waiter = Thread.ofPlatform().start(() -> {
                    try {
                        heap.allocate("mine", TYPE, 64);
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                });
                Await.until("the allocation waiting for the child's lock", BOUND,
                        () -> waiter.getState() == State.TIMED_WAITING);
                heap.close();
                assertThat(heap.memory().isClosed()).isTrue();
                assertThat(waiter.join(BOUND)).isTrue();
                assertThat(failure.get()).isInstanceOf(IllegalStateException.class)
                        .hasMessage("heap '" + name + "' is closed");
                holder.kill();
            }
            assertThat(keeper.allocate("after", TYPE, 64).name()).as("taken over from the killed child")
                    .isEqualTo("after");
            assertThat(keeper.blocks()).extracting(HeapBlock::name).containsExactly("after");
        }
    }

    /**
     * Two processes open the heap, allocate and close it, {@value #ROUNDS} times each; every other round another
     * thread closes the heap while the initializer runs (on until the closer is seen waiting in the close). Each
     * initializer marks a word of a shared block with its pid while it runs (CAS from 0), so two processes in the
     * allocation at once would find the other's mark. Every allocation is published: the close waits for it.
     */
    @Test
    void shouldNeverLetTwoProcessesAllocateAtOnceAcrossClosesAndReopens() throws Exception {
        String name = names.unique("close-cycles");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 20, HeapOptions.defaults().withCatalogCapacity(256))) {
            HeapBlock marker = heap.allocate("marker", TYPE, 64);
            try (ChildJvm a = ChildJvm.start(Cycler.class, name); ChildJvm b = ChildJvm.start(Cycler.class, name)) {
                a.awaitSuccess(BOUND);
                b.awaitSuccess(BOUND);
                Set<String> expected = new HashSet<>(Set.of("marker"));
                for (ChildJvm child : List.of(a, b)) {
                    for (int i = 0; i < ROUNDS; i++) {
                        expected.add("c" + child.pid() + "-" + i);
                    }
                }
                assertThat(heap.blocks()).extracting(HeapBlock::name).containsExactlyInAnyOrderElementsOf(expected);
            }
            assertThat(marker.segment().get(JAVA_LONG, 0)).as("no mark left").isZero();
        }
    }

    /**
     * The lock holding the token of a live process that has closed the heap (what a close that cut an allocation
     * short left before the fix) was taken over at once; it no longer is: that process could open the heap again and
     * take the lock anew with the same token, and a taker that judged it gone and was descheduled before its CAS
     * would then take the lock from under it. It is taken over once the process is dead.
     */
    @Test
    void shouldTakeTheLockOverFromADeadProcessButNotFromALiveOneThatClosedTheHeap() throws Exception {
        String name = names.unique("detached-holder");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16, QUICK)) {
            try (ChildJvm detached = ChildJvm.start(OpenAndClose.class, name)) {
                detached.awaitLine("READY", BOUND);
                long token = ProcessIdentity.token(detached.pid(), ProcessIdentity.startStamp(detached.pid()));
                try (SharedMemory raw = SharedMemory.open(name)) {
                    raw.segment().set(JAVA_LONG, HeapLayout.ALLOC_LOCK_OFFSET, token);
                }
                assertThatThrownBy(() -> heap.allocate("while-alive", TYPE, 64)).isInstanceOf(ShmException.class)
                        .hasMessage("timed out after 500 ms waiting for the lock of heap '" + name + "', held by live "
                                + ProcessIdentity.describe(token));
                detached.kill();
            }
            assertThat(heap.allocate("once-dead", TYPE, 64).name()).isEqualTo("once-dead");
            assertThat(heap.blocks()).extracting(HeapBlock::name).containsExactly("once-dead");
        }
    }

    /**
     * The same close made on the heap's memory ({@code heap.memory().close()}, public) rather than on the heap: it
     * waits for the allocation too. Before the fix it cut the allocation short, the word kept the child's token, and
     * once the child had closed the heap (detached, alive) no other process took the word over any more (only a dead
     * holder's is): this process's allocation timed out, "held by live pid" of the child.
     */
    @Test
    void shouldLeaveTheLockFreeWhenTheHeapsMemoryIsClosedDuringAnAllocation() throws Exception {
        String name = names.unique("memory-close-mid-alloc");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16, QUICK)) {
            try (ChildJvm child = ChildJvm.start(MemoryCloser.class, name)) {
                child.awaitLine("READY", BOUND);
                assertThat(heap.allocate("mine", TYPE, 64).name()).isEqualTo("mine");
                assertThat(heap.blocks()).extracting(HeapBlock::name).containsExactly("during", "mine");
                assertThat(heap.lookup("during", TYPE).segment().get(JAVA_LONG, 0)).isEqualTo(42L);
            }
        }
    }

    /**
     * {@code main(heap)}: allocates a block while another thread closes the heap's memory (the initializer on until
     * that thread is seen inside the close), closes the heap, prints READY, then waits to be killed.
     */
    public static final class MemoryCloser {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0], QUICK);
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch closing = new CountDownLatch(1);
            Thread closer = Thread.ofPlatform().start(() -> {
                awaitBounded(inside);
                closing.countDown();
                heap.memory().close();
            });
            try {
                heap.allocate("during", TYPE, 64, 64, block -> {
                    inside.countDown();
                    awaitBounded(closing);
                    Await.until("the closer inside the close", BOUND, () -> closer.getState() != State.RUNNABLE
                            && closer.getState() != State.BLOCKED);
                    block.set(JAVA_LONG, 0, 42L);
                });
            } catch (IllegalStateException cutShort) {
                System.out.println("cut short: " + cutShort.getMessage());
            }
            if (!closer.join(BOUND)) {
                throw new AssertionError("the close did not end");
            }
            heap.close();
            System.out.println("READY");
            System.out.flush();
            awaitBounded(new CountDownLatch(1));
        }
    }

    /** {@code main(heap)}: opens and closes the heap, prints READY, then waits to be killed. */
    public static final class OpenAndClose {
        public static void main(String[] args) {
            SharedHeap.open(args[0]).close();
            System.out.println("READY");
            System.out.flush();
            awaitBounded(new CountDownLatch(1));
        }
    }

    /** {@code main(heap)}: allocates a block whose initializer prints READY, then waits to be killed. */
    public static final class Holder {
        public static void main(String[] args) throws InterruptedException {
            SharedHeap heap = SharedHeap.open(args[0]);
            CountDownLatch never = new CountDownLatch(1);
            heap.allocate("held", TYPE, 64, 64, block -> {
                System.out.println("READY");
                System.out.flush();
                awaitBounded(never);
            });
        }
    }

    /** {@code main(heap)}: {@value #ROUNDS} rounds of open, allocate (see the test) and close. */
    public static final class Cycler {
        public static void main(String[] args) throws Exception {
            long me = ProcessHandle.current().pid();
            for (int i = 0; i < ROUNDS; i++) {
                SharedHeap heap = SharedHeap.open(args[0], HeapOptions.defaults().withInitTimeout(BOUND));
                MemorySegment mark = heap.lookup("marker", TYPE).segment();
                CountDownLatch inside = new CountDownLatch(1);
                CountDownLatch closing = new CountDownLatch(1);
                Thread closer = i % 2 == 0 ? null : Thread.ofPlatform().start(() -> {
                    awaitBounded(inside);
                    closing.countDown();
                    heap.close();
                });
                heap.allocate("c" + me + "-" + i, TYPE, 64, 64, block -> {
                    long other = (long) MARK.compareAndExchange(mark, 0L, 0L, me);
                    if (other != 0) {
                        throw new AssertionError("pid " + me + " allocates while pid " + other + " does");
                    }
                    if (closer != null) { // on until the closer waits in the close (or, before the fix, is done)
                        inside.countDown();
                        awaitBounded(closing);
                        Await.until("the closer inside the close", BOUND, () -> closer.getState() != State.RUNNABLE
                                && closer.getState() != State.BLOCKED);
                    }
                    if (!MARK.compareAndSet(mark, 0L, me, 0L)) {
                        throw new AssertionError("pid " + me + "'s mark overwritten by another allocation");
                    }
                });
                if (closer == null) {
                    heap.close();
                } else if (!closer.join(BOUND)) {
                    throw new AssertionError("the close did not end");
                }
                if (!heap.memory().isClosed()) {
                    throw new AssertionError("the close under the allocation failed");
                }
            }
        }
    }

    private static void awaitBounded(CountDownLatch latch) {
        try {
            if (!latch.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("not counted down in time");
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** {@code main(heap, block)}: allocates the block, waiting at most 500 ms for the heap's allocation lock. */
    public static final class QuickAllocator {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0], QUICK)) {
                heap.allocate(args[1], TYPE, 64);
            }
        }
    }
}
