package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.CloseRaceInChild;
import org.shm4j.testing.InterruptedWaiter;
import org.shm4j.testing.FutexHolds;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Closing a heap or region while another thread of the process uses it (helper-138). A catalog scan checksummed
 * entries through a {@code ByteBuffer} over the heap, which holds the memory's session, so a close meanwhile failed
 * ("Session is acquired by 1 clients") after marking the region closed: it stayed mapped, attached and unclosable
 * (about 1 round in 15). A use that really holds the memory (a native call given the segment) is waited for up to
 * 1 s; past that, close fails and leaves everything as it was, to be closed again. The tests whose threads use
 * the memory when it closes run in a child JVM, which the JDK may crash: see {@link CloseRaceInChild}.
 */
@Timeout(120)
class CloseWhileInUseTest {
    private static final int ROUNDS = 200;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldCloseAHeapWhileAnotherThreadReadsItsCatalog() throws Exception {
        CloseRaceInChild.run(CloseWhileInUseTest.class, "catalogRounds", names.unique("close-in-use"));
    }

    /** The rounds, in a child JVM, on a heap named {@code args[0]}. */
    static void catalogRounds(String[] args) throws Exception {
        String name = args[0];
        SharedMemory.unlink(name); // left by an earlier attempt that the JDK crashed
        BlockType type = new BlockType(0x100, 1);
        try (SharedHeap keeper = SharedHeap.create(name, 1 << 22, HeapOptions.defaults().withCatalogCapacity(1024))) {
            for (int i = 0; i < 500; i++) {
                keeper.allocate("b" + i, type, 8);
            }
            for (int round = 0; round < ROUNDS; round++) {
                SharedHeap view = SharedHeap.open(name);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicReference<Throwable> unexpected = new AtomicReference<>();
                Thread reader = Thread.ofPlatform().start(() -> {
                    try {
                        while (!stop.get()) {
                            view.blocks();
                        }
                    } catch (IllegalStateException closed) {
                        // the view was closed under it: what a use after close gets
                    } catch (Throwable t) {
                        unexpected.set(t);
                    }
                });
                while (reader.isAlive() && view.blocks().isEmpty()) {
                    Thread.onSpinWait(); // the reader runs once this view answers
                }
                view.close();
                stop.set(true);
                reader.join(30_000);
                assertThat(view.memory().isClosed()).isTrue();
                assertThat(view.memory().segment().scope().isAlive()).as("round %d: unmapped", round).isFalse();
                assertThat(unexpected.get()).isNull();
                assertThat(keeper.attachedProcesses()).as("round %d: the view detached", round).hasSize(1);
            }
        }
    }

    /**
     * helper-179: a find that met the heap closed by another thread named it only if the closing thread had already
     * marked the region closed, which it does after the JDK's close returns; the finders fail before that, so about
     * two in three of them threw the JDK's bare "Already closed". The same for the other calls that read the heap's
     * memory: {@link SharedHeap#freeBytes()} (the catalog's last entry), {@link SharedHeap#creator()} (the header, and
     * so {@link SharedHeap#isStale()}) and {@link SharedHeap#attachedProcesses()} (the attach table), which had no
     * such wrap as find's.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"find", "freeBytes", "creator", "attachedProcesses"})
    void shouldNameTheHeapToEveryCallThatMeetsItsCloseMidway(String call) throws Exception {
        CloseRaceInChild.run(CloseWhileInUseTest.class, "findRounds", call);
    }

    /**
     * {@code args[0]}: "find", "freeBytes", "creator" or "attachedProcesses", the call the two threads repeat until
     * the heap is closed.
     */
    static void findRounds(String[] args) throws Exception {
        BlockType type = new BlockType(0x100, 1);
        for (int round = 0; round < 20; round++) {
            SharedHeap heap = SharedHeap.anonymous(1 << 16);
            heap.allocate("b", type, 8);
            BooleanSupplier call = switch (args[0]) {
                case "find" -> () -> heap.find("b").isPresent();
                case "freeBytes" -> () -> heap.freeBytes() > 0;
                case "creator" -> () -> heap.creator().pid() > 0;
                case "attachedProcesses" -> () -> heap.attachedProcesses() != null;
                default -> throw new IllegalArgumentException("call: " + args[0]);
            };
            AtomicInteger finds = new AtomicInteger();
            List<AtomicReference<Throwable>> failures = List.of(new AtomicReference<>(), new AtomicReference<>());
            List<Thread> finders = failures.stream().map(failure -> Thread.ofPlatform().start(() -> {
                try {
                    while (call.getAsBoolean()) {
                        finds.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            })).toList();
            while (finds.get() < 1_000 && finders.stream().allMatch(Thread::isAlive)) {
                Thread.onSpinWait(); // both finders run
            }
            heap.close();
            for (int i = 0; i < finders.size(); i++) {
                finders.get(i).join(10_000);
                assertThat(failures.get(i).get()).as("round %d, finder %d", round, i)
                        .isInstanceOf(IllegalStateException.class).hasMessage(heap + " is closed");
            }
        }
    }

    @Test
    void shouldWaitForANativeCallHoldingTheMemoryAndStayOpenIfItOutlastsTheWait() throws Throwable {
        SharedMemory region = SharedMemory.anonymous(4096);
        MemorySegment word = region.segment();
        Thread waiter = FutexHolds.waitIn(word);
        long start = System.nanoTime();
        assertThatThrownBy(region::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot be closed").hasMessageContaining("close it again");
        assertThat((System.nanoTime() - start) / 1_000_000).as("waited about 1 s").isBetween(900L, 9_000L);
        assertThat(region.isClosed()).isFalse();
        assertThat(region.segment().get(JAVA_LONG, 8)).as("still mapped and usable").isZero();
        FutexHolds.wake(word, waiter);
        region.close();
        assertThat(region.isClosed()).isTrue();
        assertThatThrownBy(() -> region.segment().get(JAVA_LONG, 8)).isInstanceOf(IllegalStateException.class);
    }

    /**
     * close() waits for a use that holds the memory with parks of 100 µs (a heap's, 1 ms, with a detach and an attach
     * each time); a park returns at once while the thread's interrupt is pending, so an interrupted closer spun that
     * second (a heap's close detached and attached again as fast as it could). It now takes the interrupt while it
     * waits, parks, and sets it again as it returns or throws.
     */
    @Test
    void shouldParkAnInterruptedCloserWaitingForANativeCallAndKeepItsInterrupt() throws Throwable {
        SharedMemory region = SharedMemory.anonymous(4096);
        MemorySegment word = region.segment();
        Thread waiter = FutexHolds.waitIn(word);
        InterruptedWaiter closer = InterruptedWaiter.run("closer", region::close);
        FutexHolds.wake(word, waiter);
        region.close();
        assertThat(closer.seenParked()).as("the interrupted closer was seen parked while it waited").isTrue();
        assertThat(closer.thrown()).isInstanceOf(IllegalStateException.class).hasMessageContaining("cannot be closed");
        assertThat(closer.keptInterrupt()).as("the closer kept its interrupt").isTrue();
    }

    /**
     * helper-139: a heap whose name no longer leads to it is detached before it is unmapped; when the unmap failed,
     * it stayed detached though mapped, so this process's own holds looked like a gone process's (a writer of this
     * process dropped a reader's hold and took the write lock). It is attached again now.
     */
    @Test
    void shouldStayAttachedWhenAHeapWhoseNameIsGoneCannotBeUnmapped() throws Throwable {
        String name = names.unique("close-unlinked");
        SharedHeap heap = SharedHeap.create(name, 1 << 16);
        assertThat(SharedHeap.unlink(name)).isTrue();
        MemorySegment word = heap.memory().segment().asSlice(heap.byteSize() - 64, 8);
        Thread waiter = FutexHolds.waitIn(word);
        assertThatThrownBy(heap::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot be closed");
        assertThat(heap.attachedProcesses()).singleElement()
                .satisfies(p -> assertThat(p.pid()).isEqualTo(ProcessHandle.current().pid()))
                .satisfies(p -> assertThat(p.attachments()).isOne());
        FutexHolds.wake(word, waiter);
        heap.close();
        assertThat(heap.memory().isClosed()).isTrue();
    }

    /**
     * A close of a view under an allocation through it cut the allocation short, leaving the heap's allocation word
     * to be released through another view; with no other view, it kept this process's token (see
     * AllocationCloseTest). Now the close waits for the allocation, and one that outlasts the wait leaves the view
     * open, allocating, and closable once the allocation is done.
     */
    @Test
    void shouldRefuseToCloseAViewUnderAnAllocationThatOutlastsTheWaitAndCloseItOnceItEnds() throws Exception {
        String name = names.unique("close-mid-allocation");
        BlockType type = new BlockType(0x100, 1);
        try (SharedHeap keeper = SharedHeap.create(name, 1 << 20)) {
            SharedHeap view = SharedHeap.open(name);
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch refused = new CountDownLatch(1);
            AtomicReference<Object> allocation = new AtomicReference<>();
            Thread allocator = Thread.ofPlatform().start(() -> {
                try {
                    allocation.set(view.allocate("slow", type, 8, 8, segment -> {
                        inside.countDown(); // the initializer runs under the heap's allocation lock
                        awaitBounded(refused);
                    }));
                } catch (Throwable t) {
                    allocation.set(t);
                }
            });
            assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
            try {
                assertThatThrownBy(view::close).isInstanceOf(IllegalStateException.class).hasMessage("heap '" + name
                        + "' cannot be closed: an allocation of this process (" + allocator + ") still holds its "
                        + "allocation lock after 1000 ms; it stays open: close it again once that allocation ends");
                assertThat(view.memory().isClosed()).isFalse();
            } finally {
                refused.countDown();
            }
            assertThat(allocator.join(Duration.ofSeconds(10))).isTrue();
            assertThat(allocation.get()).isInstanceOf(HeapBlock.class);
            assertThat(view.allocate("after-refusal", type, 8).name()).as("the view allocates again")
                    .isEqualTo("after-refusal");
            view.close();
            assertThat(view.memory().isClosed()).isTrue();
            assertThat(keeper.allocate("after", type, 8).name()).isEqualTo("after");
            assertThat(keeper.blocks()).extracting(HeapBlock::name).containsExactly("slow", "after-refusal", "after");
        }
    }

    private static void awaitBounded(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("not closed in time");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * An allocation through a view whose close is under way waits for the close's end without taking the lock: it
     * then fails as on a closed heap, or, the close failed, goes on. It timed out instead, once its wait for the lock
     * passed its bound during the close, naming the lock's holder "live" though that process was dead: here the holder
     * dies while the close waits for a native call that holds the memory, and the close fails after 1 s.
     */
    @Test
    void shouldGoOnAfterAFailedCloseWhenTheLocksHolderDiedDuringIt() throws Throwable {
        String name = names.unique("close-dead-holder");
        BlockType type = new BlockType(0x100, 1);
        try (SharedHeap keeper = SharedHeap.create(name, 1 << 16)) {
            // a bound below the close's 1 s wait, so that it passed during the close, and far above the few ms
            // from the allocation's start to the close's (a loaded CI host)
            SharedHeap view = SharedHeap.open(name, HeapOptions.defaults().withInitTimeout(Duration.ofMillis(950)));
            AtomicReference<Object> allocation = new AtomicReference<>();
            Thread allocator;
            Thread futexWaiter;
            AtomicReference<Throwable> close = new AtomicReference<>();
            Thread closer;
            try (ChildJvm holder = ChildJvm.start(AllocationCloseTest.OpenAndClose.class, name)) {
                holder.awaitLine("READY", Duration.ofSeconds(60));
                long token = ProcessIdentity.token(holder.pid(), ProcessIdentity.startStamp(holder.pid()));
                keeper.memory().segment().set(JAVA_LONG, HeapLayout.ALLOC_LOCK_OFFSET, token); // a live holder's
                allocator = Thread.ofPlatform().start(() -> {
                    try {
                        allocation.set(view.allocate("mine", type, 8));
                    } catch (Throwable t) {
                        allocation.set(t);
                    }
                });
                awaitState(allocator, Thread.State.TIMED_WAITING);
                futexWaiter = FutexHolds.waitIn(view.memory().segment().asSlice(view.byteSize() - 64, 8));
                closer = Thread.ofPlatform().start(() -> {
                    try {
                        view.close();
                    } catch (Throwable t) {
                        close.set(t);
                    }
                });
                awaitState(closer, Thread.State.TIMED_WAITING); // waiting for the native call
                holder.kill();
            }
            closer.join(30_000);
            assertThat(close.get()).as("the close failed: the native call held the memory").isNotNull()
                    .hasMessageContaining("cannot be closed");
            allocator.join(30_000);
            assertThat(allocation.get()).as("taken over from the dead holder once the close failed")
                    .isInstanceOf(HeapBlock.class);
            FutexHolds.wake(view.memory().segment().asSlice(view.byteSize() - 64, 8), futexWaiter);
            view.close();
            assertThat(keeper.blocks()).extracting(HeapBlock::name).containsExactly("mine");
        }
    }

    private static void awaitState(Thread thread, Thread.State state) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (thread.getState() != state) {
            assertThat(System.nanoTime() - deadline).as(thread + " " + state).isNegative();
            Thread.onSpinWait();
        }
    }

    /**
     * helper-139: a heap that removes itself on its last detach read the heap id at its name through a plain open,
     * which waited for ever on a FIFO put there meanwhile.
     */
    @Test
    void shouldCloseAHeapWhoseNameNowLeadsToAFifo() throws Exception {
        String name = names.unique("close-fifo");
        SharedHeap heap = SharedHeap.create(name, 1 << 16, HeapOptions.defaults().withUnlinkOnLastDetach(true));
        Path path = SharedMemory.SHM_DIR.resolve(name);
        Files.delete(path);
        Process mkfifo = new ProcessBuilder("mkfifo", path.toString()).inheritIO().start();
        assertThat(mkfifo.waitFor(30, TimeUnit.SECONDS)).isTrue();
        Thread closer = Thread.ofPlatform().daemon().start(heap::close);
        closer.join(30_000);
        assertThat(closer.isAlive()).as("close returned").isFalse();
        assertThat(heap.memory().isClosed()).isTrue();
        assertThat(path).as("not removed: not this heap").exists();
    }
}
