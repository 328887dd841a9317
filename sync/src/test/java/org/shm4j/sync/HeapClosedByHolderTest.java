package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.locks.WaitForGraph;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;
import static org.shm4j.sync.Children.onNewThread;

/**
 * A process that closes its heap while its threads hold a lock, a role or permits in it, and then lives on: it can no
 * longer touch the heap (the close unmapped it before the process left the attach table), so other processes take
 * what it held over as from a dead process, instead of waiting until it exits. Before, a lock held so stayed held by
 * a live process: an untimed lock or a map write elsewhere waited for ever, and a ring's consumer role was refused.
 */
@Timeout(180)
class HeapClosedByHolderTest {
    private static final String KEY = "k";

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldTakeOverWhatAProcessHeldWhenItClosedItsHeapAndLivesOn() throws Exception {
        takeOverWhatTheHolderLeft(names.unique("closed-by-holder"), "away");
    }

    /**
     * The same, but the holder opens the heap again before this process looks: before the reopen's sweep, each of
     * those holds named a live attached process again, and every take-over below waited for ever.
     */
    @Test
    void shouldTakeOverWhatAProcessHeldWhenItClosedItsHeapEvenOnceItOpenedItAgain() throws Exception {
        takeOverWhatTheHolderLeft(names.unique("reopened-by-holder"), "reopen");
    }

    /** @param then what the holder does after its close: {@code away} (nothing) or {@code reopen} */
    private void takeOverWhatTheHolderLeft(String heapName, String then) throws Exception {
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedFairLock fair = SharedFairLock.create(heap, "fair");
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            SharedSemaphore undo = SharedSemaphore.create(heap, "undo", 2, SharedSemaphore.Kind.UNDO);
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1024);
            SharedMap<String, String> map = SharedMap.create(heap, "map", Codec.utf8(), Codec.utf8(),
                    new MapSizing(64, 8, 16));
            map.put(KEY, "before");
            SharedLock parents = SharedLock.create(heap, "parents");
            SharedLong go = SharedLong.create(heap, "go");
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            parents.lock();
            try (ChildJvm holder = ChildJvm.start(Holder.class, heapName, then)) {
                holder.awaitLine("HOLDING", BOUND);
                Children.awaitTrue("the child's published wait", () -> WaitForGraph.snapshot(heap).edges().stream()
                        .anyMatch(edge -> edge.waiterPid() == holder.pid()));
                go.set(1);
                holder.awaitLine("CLOSED", BOUND);
                assertThat(WaitForGraph.snapshot(heap).edges()).as("a wait through the closed heap is over")
                        .noneMatch(edge -> edge.waiterPid() == holder.pid());
                parents.unlock();
                assertThatThrownBy(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("the holder's registered party can never arrive")
                        .isInstanceOf(BrokenBarrierException.class);
                assertThat(heap.attachedProcesses()).as("the holder left the attach table (and came back)")
                        .hasSize(then.equals("reopen") ? 2 : 1);

                assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("lock").isTrue();
                assertThat(lock.isConsistent()).as("taken over from a holder that was inside").isFalse();
                assertThat(lock.recoveries()).isEqualTo(1);
                lock.markConsistent();
                lock.unlock();
                assertThat(fair.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("fair lock").isTrue();
                assertThat(fair.isConsistent()).isFalse();
                fair.unlock();
                assertThat(rw.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("write lock, the holder having held a read lock").isTrue();
                rw.writeLock().unlock();
                assertThat(undo.tryAcquire(2, BOUND.toSeconds(), TimeUnit.SECONDS)).as("UNDO permits").isTrue();

                byte[] one = {1};
                assertThat(ring.offer(1, one, 0, 1)).isTrue();
                List<Integer> lengths = new ArrayList<>();
                assertThat(ring.poll((type, buffer, offset, length) -> lengths.add(length)))
                        .as("the consumer role of a process that closed its heap").isEqualTo(1);
                assertThat(lengths).containsExactly(1);

                SharedPipe.End second = pipe.second();
                assertThat(second.recv(BOUND)).asString(StandardCharsets.UTF_8).isEqualTo("sent before the close");
                assertThatThrownBy(() -> second.recv(BOUND)).isInstanceOf(PipeClosedException.class)
                        .hasMessageContaining(then.equals("reopen") ? "closed its heap and opened it again"
                                : "closed its heap without closing it")
                        .satisfies(e -> assertThat(((PipeClosedException) e).pid()).isEqualTo(holder.pid()));

                String put = CompletableFuture.supplyAsync(() -> map.put(KEY, "after"))
                        .get(BOUND.toSeconds(), TimeUnit.SECONDS);
                assertThat(put).as("the compute of the closed heap never wrote").isEqualTo("before");
                assertThat(map.get(KEY)).isEqualTo("after");
                assertThat(holder.output()).doesNotContain("Exception");
            }
        }
    }

    @Test
    void shouldLeaveTheLockToAHolderThatStillHasAnotherViewOfTheHeapOpen() throws Exception {
        String heapName = names.unique("closed-one-view");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedLong go = SharedLong.create(heap, "go");
            try (ChildJvm holder = ChildJvm.start(TwoViews.class, heapName)) {
                holder.awaitLine("CLOSED_ONE", BOUND);
                assertThat(lock.tryLock(300, TimeUnit.MILLISECONDS))
                        .as("its process still has the heap mapped: it may still be inside").isFalse();
                go.set(1);
                holder.awaitLine("CLOSED_BOTH", BOUND);
                assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(lock.isConsistent()).isFalse();
            }
        }
    }

    @Test
    void shouldFreeAMapSegmentWhoseWriterLostItsViewWhileItsProcessKeepsAnother() throws Exception {
        String heapName = names.unique("closed-writer-view");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedMap<String, String> map = SharedMap.create(heap, "map", Codec.utf8(), Codec.utf8(),
                    new MapSizing(64, 8, 16));
            map.put(KEY, "before");
            SharedLong go = SharedLong.create(heap, "go");
            try (ChildJvm child = ChildJvm.start(MapWriterOfTwoViews.class, heapName)) {
                child.awaitLine("CLOSED_ONE", BOUND);
                assertThat(child.output()).contains("WRITER refused: SharedMap 'map' cannot be used");
                // before: the segment stayed locked by the child, which has the heap open, until it closed the other
                CompletableFuture<String> put = CompletableFuture.supplyAsync(() -> map.put(KEY, "after"));
                assertThat(put.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the cut-short compute wrote nothing")
                        .isEqualTo("before");
                assertThat(map.get(KEY)).isEqualTo("after");
                go.set(1);
                child.awaitLine("CLOSED_BOTH", BOUND);
            }
        }
    }

    /**
     * A close stops listing its view before it unmaps it, and waits (up to 1 s) while a thread of the process uses
     * the memory; a map opened through the view in that instant lay in no listed heap, so its segments' locks had no
     * other view to be released through: the put through the kept view below waited for ever (its bound here).
     */
    @Test
    void shouldFreeAMapSegmentOfAMapOpenedThroughAViewWhileItClosed() throws Exception {
        String heapName = names.unique("opened-while-closing");
        try (SharedHeap kept = SharedHeap.create(heapName, 1 << 20)) {
            SharedMap<String, String> mapKept = SharedMap.create(kept, "map", Codec.utf8(), Codec.utf8(),
                    new MapSizing(64, 8, 16));
            mapKept.put(KEY, "before");
            SharedHeap closing = SharedHeap.open(heapName);
            MemorySegment buffer = closing.allocate("buffer", new BlockType(0x7E57, 1), 1 << 18).segment();
            try (Pipe.SourceChannel source = holdInAPipeWrite(buffer)) {
                CompletableFuture<Void> close = onNewThread(() -> {
                    closing.close();
                    return null;
                });
                Children.awaitTrue("the close has stopped listing the view", // it waits for the pipe write then
                        () -> HeapMappings.placeOf(buffer) == null);
                SharedMap<String, String> map = SharedMap.open(closing, "map", Codec.utf8(), Codec.utf8());
                CountDownLatch inside = new CountDownLatch(1);
                CountDownLatch closed = new CountDownLatch(1);
                CompletableFuture<String> compute = onNewThread(() -> map.compute(KEY, (k, old) -> {
                    inside.countDown();
                    MapWriterOfTwoViews.awaitBounded(closed);
                    return "written by the cut-short compute";
                }));
                assertThat(inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the compute holds the lock").isTrue();
                drain(source, buffer.byteSize()); // the pipe write ends, and with it the close's wait
                close.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                closed.countDown();
                assertThatThrownBy(() -> compute.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .hasRootCauseInstanceOf(IllegalStateException.class);
            }
            CompletableFuture<String> put = onNewThread(() -> mapKept.put(KEY, "after"));
            // 10 s: at once now; before, for ever
            assertThat(put.get(10, TimeUnit.SECONDS)).as("the cut-short compute wrote nothing").isEqualTo("before");
        }
    }

    /**
     * @return the read end of a pipe that a thread writes {@code buffer}'s bytes to, once that thread is in the
     *         native call of its write (which blocks: the buffer is larger than the pipe), holding the heap's memory
     *         from then on (a close started before the write had closed the memory at once, under load, and the
     *         writer failed "Already closed")
     */
    private static Pipe.SourceChannel holdInAPipeWrite(MemorySegment buffer) throws IOException {
        Pipe pipe = Pipe.open();
        Thread writer = Thread.ofPlatform().daemon().start(() -> {
            try (Pipe.SinkChannel sink = pipe.sink()) {
                ByteBuffer bytes = buffer.asByteBuffer();
                while (bytes.hasRemaining()) {
                    sink.write(bytes); // holds the heap's memory while it blocks: the close waits for it
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        Children.awaitTrue("the writer blocked in a write of the heap's memory",
                () -> inNativeWrite(writer.getStackTrace()));
        return pipe.source();
    }

    /**
     * @return true if {@code stack} is a thread's in the native call of a channel write from a buffer, which the JDK
     *         makes after it acquired the buffer's memory (IOUtil.writeFromNativeBuffer)
     */
    private static boolean inNativeWrite(StackTraceElement[] stack) {
        return stack.length > 0 && stack[0].isNativeMethod() && Arrays.stream(stack)
                .anyMatch(frame -> frame.getMethodName().equals("writeFromNativeBuffer"));
    }

    private static void drain(Pipe.SourceChannel source, long bytes) throws IOException {
        ByteBuffer into = ByteBuffer.allocate(1 << 16);
        for (long read = 0; read < bytes; into.clear()) {
            int n = source.read(into);
            if (n < 0) {
                throw new EOFException("the pipe closed after " + read + " of " + bytes + " bytes");
            }
            read += n;
        }
    }

    /**
     * {@code main(heap)}: opens the heap twice; a thread computes the map's key through the first view with a
     * function that waits until the main thread closed that view; says how the compute ended and keeps the second
     * view open until the parent's {@code go}.
     */
    public static final class MapWriterOfTwoViews {
        public static void main(String[] args) throws Exception {
            SharedHeap first = SharedHeap.open(args[0]);
            SharedHeap second = SharedHeap.open(args[0]);
            SharedMap<String, String> map = SharedMap.open(first, "map", Codec.utf8(), Codec.utf8());
            SharedLong go = SharedLong.open(second, "go");
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch closed = new CountDownLatch(1);
            CompletableFuture<String> writer = new CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    map.compute(KEY, (key, old) -> {
                        inside.countDown();
                        awaitBounded(closed);
                        return "written by the writer";
                    });
                    writer.complete("wrote");
                } catch (IllegalStateException refused) {
                    writer.complete("refused: " + refused.getMessage());
                }
            });
            if (!inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("the writer did not start");
            }
            first.close();
            closed.countDown();
            Children.say("WRITER " + writer.get(BOUND.toSeconds(), TimeUnit.SECONDS));
            Children.say("CLOSED_ONE");
            Children.awaitTrue("the parent's go", () -> go.get() == 1);
            second.close();
            Children.say("CLOSED_BOTH");
        }

        private static void awaitBounded(CountDownLatch latch) {
            try {
                if (!latch.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                    throw new AssertionError("not closed in time");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * {@code main(heap, then)}: holds a lock, a fair lock, a read lock and two UNDO permits, the ring's consumer role
     * and the pipe's first end, a barrier registration, and a map segment's lock (a compute whose function waits),
     * each held by a thread that waits for ever, and blocks a thread on the parent's lock; then, on the parent's
     * {@code go}, closes the heap from the main thread, opens it again if {@code then} is {@code reopen}, says so, and
     * lives on until killed.
     */
    public static final class Holder {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            SharedLock lock = SharedLock.open(heap, "lock");
            SharedFairLock fair = SharedFairLock.open(heap, "fair");
            SharedReadWriteLock rw = SharedReadWriteLock.open(heap, "rw");
            SharedMap<String, String> map = SharedMap.open(heap, "map", Codec.utf8(), Codec.utf8());
            SharedLock parents = SharedLock.open(heap, "parents");
            SharedLong go = SharedLong.open(heap, "go");
            CountDownLatch never = new CountDownLatch(1);
            CountDownLatch holding = new CountDownLatch(4);
            List<Runnable> holds = List.of(lock::lock, fair::lock, () -> rw.readLock().lock(),
                    () -> map.compute(KEY, (key, old) -> {
                        holding.countDown();
                        awaitQuietly(never);
                        return "written by the holder";
                    }));
            for (Runnable hold : holds) {
                Thread.ofPlatform().daemon().start(() -> {
                    hold.run();
                    holding.countDown();
                    awaitQuietly(never);
                });
            }
            SharedSemaphore.open(heap, "undo").acquire(2);
            SharedBarrier.open(heap, "barrier").register();
            SharedRing.open(heap, "ring").poll((type, buffer, offset, length) -> { });
            SharedPipe.open(heap, "pipe").first().send("sent before the close".getBytes(StandardCharsets.UTF_8),
                    BOUND);
            if (!holding.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("the holding threads did not start");
            }
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    parents.lock(); // blocks: the parent holds it; throws once the heap is closed
                } catch (IllegalStateException closed) {
                    // expected
                }
            });
            Children.say("HOLDING");
            Children.awaitTrue("the parent's go", () -> go.get() == 1);
            heap.close();
            SharedHeap again = args[1].equals("reopen") ? SharedHeap.open(args[0]) : null; // kept open
            Children.say("CLOSED" + (again == null ? "" : " and opened again"));
            never.await(3 * BOUND.toSeconds(), TimeUnit.SECONDS); // outlives the parent's waits: killed before
        }

        private static void awaitQuietly(CountDownLatch latch) {
            try {
                latch.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * {@code main(heap)}: opens the heap twice, holds the lock through the first view from a thread that waits for
     * ever, closes that view, waits for the parent's {@code go} through the second, closes it too, and lives on.
     */
    public static final class TwoViews {
        public static void main(String[] args) throws Exception {
            SharedHeap first = SharedHeap.open(args[0]);
            SharedHeap second = SharedHeap.open(args[0]);
            SharedLock lock = SharedLock.open(first, "lock");
            SharedLong go = SharedLong.open(second, "go");
            CountDownLatch never = new CountDownLatch(1);
            CountDownLatch holding = new CountDownLatch(1);
            Thread.ofPlatform().daemon().start(() -> {
                lock.lock();
                holding.countDown();
                Holder.awaitQuietly(never);
            });
            if (!holding.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("the holding thread did not start");
            }
            first.close();
            Children.say("CLOSED_ONE");
            Children.awaitTrue("the parent's go", () -> go.get() == 1);
            second.close();
            Children.say("CLOSED_BOTH");
            never.await(3 * BOUND.toSeconds(), TimeUnit.SECONDS); // outlives the parent's waits: killed before
        }
    }
}
