package org.shm4j.sync;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A pipe end learns that the other end is gone: closed by its holder, or its holder process killed. Every message
 * sent before is received first; then {@code recv} throws {@link PipeClosedException}, within a bound.
 */
class SharedPipeEndTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Generous on a loaded machine; the documented bound is about 100 ms. Far below {@link #BOUND}. */
    private static final long NOTICE_MILLIS = 10_000;
    private static final int CAPACITY = 1 << 14;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    private String heapName;
    private SharedHeap heap;
    /** The pipe {@code "pipe"} in {@link #heap}, which {@link PipeChild} opens. */
    private SharedPipe pipe;

    @BeforeEach
    void createPipe() {
        heapName = names.unique("pipeend");
        heap = SharedHeap.create(heapName, 1 << 16);
        pipe = SharedPipe.create(heap, "pipe", CAPACITY);
    }

    @AfterEach
    void closeHeap() {
        heap.close();
    }

    @Test
    void shouldReceiveEverythingThenEndOfStreamWhenThePeerProcessCloses() throws Exception {
        SharedPipe.End end = pipe.first();
        try (ChildJvm child = ChildJvm.start(PipeChild.class, heapName, "2000", "close")) {
            for (int i = 0; i < 2000; i++) {
                assertThat(end.recv(BOUND)).isEqualTo(("m" + i).getBytes());
            }
            PipeClosedException eof = catchGone(() -> end.recv(BOUND));
            assertThat(eof.holderDied()).isFalse();
            assertThat(eof.pid()).isEqualTo(child.pid());
            assertThat(eof.endName()).isEqualTo("second");
            assertThat(eof.pipeName()).isEqualTo("pipe");
            assertThat(eof).hasMessage("second end of pipe 'pipe' was closed by pid " + child.pid()
                    + " (end of stream)");
            assertThatThrownBy(() -> end.recv(BOUND)).as("end of stream stays").isInstanceOf(
                    PipeClosedException.class);
            assertThatThrownBy(() -> end.send(new byte[1], BOUND)).isInstanceOf(PipeClosedException.class)
                    .hasMessageEndingWith("(broken pipe)");
            assertThatThrownBy(pipe::second).as("closed ends are not reopened")
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("never reopened");
            child.awaitSuccess(BOUND);
        }
    }

    @Test
    void shouldReceiveEverythingThenEndOfStreamWhenThePeerProcessIsKilledAndLetTheEndBeReclaimed()
            throws Exception {
        SharedPipe.End first = pipe.first();
        long childPid;
        try (ChildJvm child = ChildJvm.start(PipeChild.class, heapName, "500", "hang")) {
            child.awaitLine("SENT", BOUND);
            childPid = child.pid();
            child.kill();
        }
        for (int i = 0; i < 500; i++) {
            assertThat(first.recv(BOUND)).isEqualTo(("m" + i).getBytes());
        }
        long start = System.nanoTime();
        PipeClosedException eof = catchGone(() -> first.recv(BOUND));
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(NOTICE_MILLIS);
        assertThat(eof.holderDied()).isTrue();
        assertThat(eof.pid()).isEqualTo(childPid);
        assertThat(eof).hasMessage("second end of pipe 'pipe': its holder pid " + childPid
                + " died without closing it (end of stream)");

        SharedPipe.End second = pipe.second(); // the dead child's end, taken over
        assertThat(first.send("again".getBytes(), BOUND)).isTrue();
        assertThat(second.recv(BOUND)).isEqualTo("again".getBytes());
        assertThat(second.send("back".getBytes(), BOUND)).isTrue();
        assertThat(first.recv(BOUND)).as("the end lives again").isEqualTo("back".getBytes());
        assertThat(first.recv(Duration.ofMillis(30))).isNull();
    }

    /**
     * helper-124 (found on the joinable queue, which makes its blocks the same way): a create refused because the heap
     * had no room for the last block left the ones before it, since a heap frees no block.
     */
    @Test
    void shouldMakeNothingWhenTheHeapHasNoRoomForEveryBlock() {
        try (SharedHeap small = SharedHeap.anonymous(1 << 14)) {
            // room for the two rings and all but the last line of the end-state block
            small.allocate("filler", new BlockType(0x7E57, 1),
                    small.freeBytes() - 2 * SharedRing.requiredBytes(1024) - SyncLayout.PIPE_SIZE + 64);
            int blocks = small.blocks().size();
            assertThatThrownBy(() -> SharedPipe.create(small, "p", 1024)).isInstanceOf(ShmFullException.class)
                    .hasMessageStartingWith("pipe 'p' needs 3 catalog entries and "
                            + (2 * SharedRing.requiredBytes(1024) + SyncLayout.PIPE_SIZE) + " bytes")
                    .hasMessageEndingWith("(nothing was made)");
            assertThatThrownBy(() -> SharedPipe.openOrCreate(small, "p", 1024)).isInstanceOf(ShmFullException.class);
            assertThat(small.blocks()).as("nothing left behind").hasSize(blocks);
        }
        try (SharedHeap exact = SharedHeap.anonymous(1 << 14)) { // exactly the room: made
            exact.allocate("filler", new BlockType(0x7E57, 1),
                    exact.freeBytes() - 2 * SharedRing.requiredBytes(1024) - SyncLayout.PIPE_SIZE);
            assertThat(SharedPipe.create(exact, "p", 1024).first()).isNotNull();
            assertThat(exact.freeBytes()).isZero();
        }
    }

    /** helper-119: a pipe opened again in the process that closed an end handed that closed end out again. */
    @Test
    void shouldRefuseAnEndThisProcessClosedThroughAnotherPipeObject() {
        pipe.first().close();
        assertThatThrownBy(() -> SharedPipe.open(heap, "pipe").first()).isInstanceOf(IllegalStateException.class)
                .hasMessage("first end of pipe 'pipe' was closed by pid " + ProcessHandle.current().pid()
                        + " (a closed end is never reopened)");
        assertThatThrownBy(pipe::first).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(SharedPipe.open(heap, "pipe").second()).as("the other end is still there").isNotNull();
    }

    /** helper-109: poll() stayed false for good after a peer killed in a send; recv said end of stream at once. */
    @Test
    void shouldPollTrueOnceAPeerKilledInTheMiddleOfASendIsFoundDead() throws Exception {
        SharedPipe.End first = pipe.first();
        try (ChildJvm child = ChildJvm.start(PipeChild.class, heapName, "3", "claim")) {
            child.awaitLine("CLAIMED", BOUND);
            child.kill();
        }
        for (int i = 0; i < 3; i++) {
            assertThat(first.poll()).isTrue();
            assertThat(first.recv(BOUND)).isEqualTo(("m" + i).getBytes());
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(NOTICE_MILLIS);
        while (!first.poll()) { // false until the liveness check finds the sender dead
            assertThat(System.nanoTime() - deadline).as("poll() true within %d ms", NOTICE_MILLIS).isNegative();
            Thread.onSpinWait();
        }
        assertThat(catchGone(() -> first.recv(BOUND)).holderDied()).isTrue();
    }

    @Test
    void shouldEndAWaitingRecvWhenThePeerProcessIsKilledAndRefuseAnEndALiveProcessHolds() throws Exception {
        SharedPipe.End first = pipe.first();
        try (ChildJvm child = ChildJvm.start(PipeChild.class, heapName, "0", "hang")) {
            child.awaitLine("SENT", BOUND);
            assertThatThrownBy(pipe::second).isInstanceOf(IllegalStateException.class)
                    .hasMessage("second end of pipe 'pipe' is held by live pid " + child.pid()
                            + " (expected: unclaimed, or held by a process that died)");
            CountDownLatch receiving = new CountDownLatch(1);
            CompletableFuture<PipeClosedException> waited = CompletableFuture.supplyAsync(() -> {
                receiving.countDown();
                return catchGone(() -> first.recv(BOUND));
            });
            assertThat(receiving.await(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            long killedAt = System.nanoTime();
            child.kill(); // lands while recv waits, in all but freak schedules; the outcome is the same anyway
            PipeClosedException eof = waited.get(BOUND.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt)).isLessThan(NOTICE_MILLIS);
            assertThat(eof.pid()).isEqualTo(child.pid());
            assertThat(eof.holderDied()).isTrue();
        }
    }

    /** helper-108: poll() was false at the end of stream, so a loop waiting for it spun after the peer left. */
    @Test
    void shouldPollTrueAtTheEndOfStreamAsPythonsConnectionDoes() throws Exception {
        SharedPipe.End first = pipe.first();
        SharedPipe.End second = pipe.second();
        assertThat(second.poll()).as("nothing sent, the other end open").isFalse();
        assertThat(first.send(new byte[] {1}, BOUND)).isTrue();
        first.close();
        assertThat(second.poll()).as("a message waits").isTrue();
        assertThat(second.recv(BOUND)).containsExactly(1);
        assertThat(second.poll()).as("the end of stream: recv would not wait").isTrue();
        assertThatThrownBy(() -> second.recv(BOUND)).isInstanceOf(PipeClosedException.class)
                .hasMessageEndingWith("(end of stream)");
        int longest = second.maxMessageLength();
        assertThatThrownBy(() -> second.send(new byte[longest + 1], BOUND)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("second end of pipe 'pipe': message length=" + (longest + 1) + " (expected: 0.." + longest
                        + ", capacity " + (8 * (longest + 8)) + " / 8 - 8; a capacity of " + (16 * (longest + 8))
                        + " takes it)");
    }

    @Test
    void shouldWakeAWaitingRecvWhenTheOtherEndClosesInThisProcess() throws Exception {
        SharedPipe.End first = pipe.first();
        SharedPipe.End second = pipe.second();
        CountDownLatch gotFirst = new CountDownLatch(1);
        CompletableFuture<PipeClosedException> waited = CompletableFuture.supplyAsync(() -> {
            assertThat(interruptible(() -> second.recv(BOUND))).isEqualTo(new byte[] {7});
            gotFirst.countDown();
            return catchGone(() -> second.recv(BOUND));
        });
        assertThat(first.send(new byte[] {7}, BOUND)).isTrue();
        assertThat(gotFirst.await(BOUND.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        long closedAt = System.nanoTime();
        first.close();
        PipeClosedException eof = waited.get(BOUND.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closedAt)).isLessThan(NOTICE_MILLIS);
        assertThat(eof.holderDied()).isFalse();
        assertThat(eof.pid()).isEqualTo(ProcessHandle.current().pid());
        assertThat(eof.endName()).isEqualTo("first");

        first.close(); // idempotent
        assertThatThrownBy(() -> first.send(new byte[1], BOUND)).isInstanceOf(IllegalStateException.class)
                .hasMessage("first end of pipe 'pipe' is closed");
        assertThatThrownBy(() -> first.recv(BOUND)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> second.send(new byte[1], BOUND)).isInstanceOf(PipeClosedException.class)
                .hasMessage("first end of pipe 'pipe' was closed by pid " + ProcessHandle.current().pid()
                        + " (broken pipe)");
        pipe.close(); // closes the second end too, which this object handed out
        assertThatThrownBy(second::poll).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shouldSendAndReceiveBeforeThePeerClaimsItsEndAndTimeOutAsBefore() throws Exception {
        SharedPipe.End first = SharedPipe.open(heap, "pipe").first();
        assertThat(first.recv(Duration.ofMillis(30))).as("no peer yet: a plain timeout").isNull();
        assertThat(first.send(new byte[] {1}, BOUND)).isTrue();
        byte[] filler = new byte[first.maxMessageLength()];
        int sent = 1;
        while (first.send(filler, Duration.ZERO)) {
            sent++;
        }
        // a 16-byte record, then records of maxMessageLength + 8 bytes: as many as fit in the rest
        assertThat(sent).isEqualTo(1 + (CAPACITY - 16) / (first.maxMessageLength() + 8));
        assertThat(first.send(filler, Duration.ofMillis(30))).as("full, peer not gone: a plain timeout").isFalse();
        assertThat(SharedPipe.open(heap, "pipe").second().recv(BOUND)).isEqualTo(new byte[] {1});
    }

    @Test
    void shouldRefuseAPipeWithoutItsEndStateBlockOrWithAForeignOne() {
        SharedRing.create(heap, "old.ab", SharedRing.Kind.SPSC, 1024);
        SharedRing.create(heap, "old.ba", SharedRing.Kind.SPSC, 1024);
        assertThatThrownBy(() -> SharedPipe.open(heap, "old")).isInstanceOf(ShmNotFoundException.class)
                .hasMessageContaining("no end-state block 'old'");
        assertThatThrownBy(() -> SharedPipe.open(heap, "none")).isInstanceOf(ShmNotFoundException.class);
        heap.allocate("zeros", SyncLayout.PIPE, SyncLayout.PIPE_SIZE);
        assertThatThrownBy(() -> SharedPipe.open(heap, "zeros")).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("magic=0x0");
        assertThatThrownBy(() -> SharedPipe.create(heap, "bad", 1000)).isInstanceOf(IllegalArgumentException.class);
        assertThat(heap.find("bad")).as("nothing made for a refused capacity").isEmpty();
    }

    @Test
    void shouldFinishAPipeWhoseCreatorWasKilledBeforeItsEndStateBlockAndRefuseToOpenItUntilThen() throws Exception {
        // what a creator killed after its first ring, and after both, leaves
        SharedRing.create(heap, "one.ab", SharedRing.Kind.SPSC, 1024);
        SharedRing.create(heap, "two.ab", SharedRing.Kind.SPSC, 1024);
        SharedRing.create(heap, "two.ba", SharedRing.Kind.SPSC, 1024);
        for (String name : List.of("one", "two")) {
            assertThatThrownBy(() -> SharedPipe.open(heap, name)).isInstanceOf(ShmNotFoundException.class)
                    .hasMessage("pipe '" + name + "' has ring '" + name + ".ab' of capacity 1024 but no end-state "
                            + "block '" + name + "': its creator was killed before finishing it (create(heap, \""
                            + name + "\", 1024) finishes it), or a shm4j whose pipes did not track their ends made it");
        }
        for (ThrowingCallable other : List.<ThrowingCallable>of(() -> SharedPipe.create(heap, "one", 2048),
                () -> SharedPipe.openOrCreate(heap, "one", 2048))) {
            assertThatThrownBy(other).as("a ring of another capacity").isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageStartingWith("pipe 'one' has ring 'one.ab' of capacity 1024 but no end-state block")
                    .hasMessageEndingWith("(create(heap, \"one\", 1024) finishes it), or a shm4j whose pipes did not "
                            + "track their ends made it (asked: capacity 2048)");
        }
        for (String name : List.of("one", "two")) {
            SharedPipe finished = SharedPipe.create(heap, name, 1024);
            assertThat(finished.first().send("hi".getBytes(), BOUND)).isTrue();
            assertThat(SharedPipe.open(heap, name).second().recv(BOUND)).isEqualTo("hi".getBytes());
            assertThatThrownBy(() -> SharedPipe.create(heap, name, 1024)).as("whole now")
                    .isInstanceOf(ShmAlreadyExistsException.class).hasMessageStartingWith("block '" + name + "'");
        }
    }

    @Test
    void shouldLetExactlyOneOfRacingCreatorsMakeThePipeAndRacingOpenOrCreateShareIt() throws Exception {
        try (SharedHeap roomy = SharedHeap.anonymous(1 << 20);
             ExecutorService creators = Executors.newFixedThreadPool(2)) {
            for (int round = 0; round < 10; round++) {
                String name = "race" + round;
                assertThat(raceTwice(creators, () -> {
                    try {
                        SharedPipe.create(roomy, name, 1024);
                        return true;
                    } catch (ShmAlreadyExistsException lost) {
                        return false;
                    }
                })).as("round %d", round).containsExactlyInAnyOrder(true, false);
            }
            for (int round = 0; round < 10; round++) { // open or create: both get one pipe (3 blocks each)
                String name = "peers" + round;
                List<SharedPipe> both = raceTwice(creators, () -> SharedPipe.openOrCreate(roomy, name, 1024));
                SharedPipe.End a = both.get(0).first();
                SharedPipe.End b = both.get(1).second();
                assertThat(a.send(new byte[] {(byte) round}, Duration.ZERO)).isTrue();
                assertThat(b.recv(Duration.ofSeconds(10))).as("round %d: one pipe", round).containsExactly(round);
            }
            assertThatThrownBy(() -> SharedPipe.openOrCreate(roomy, "peers0", 2048))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("pipe 'peers0' exists with capacity 1024 (asked: 2048)");
        }
    }

    /** @return what two threads of {@code threads} got from {@code call}, started together */
    private static <T> List<T> raceTwice(ExecutorService threads, Callable<T> call) throws Exception {
        CyclicBarrier start = new CyclicBarrier(2);
        Callable<T> started = () -> {
            start.await(10, TimeUnit.SECONDS);
            return call.call();
        };
        Future<T> first = threads.submit(started);
        Future<T> second = threads.submit(started);
        return List.of(first.get(10, TimeUnit.SECONDS), second.get(10, TimeUnit.SECONDS));
    }

    @Test
    void shouldLayOutTheEndStateBlockAsItsTableSays() {
        StructLayout end = MemoryLayout.structLayout(JAVA_LONG.withName("owner"), JAVA_INT.withName("state"),
                MemoryLayout.paddingLayout(52));
        StructLayout block = MemoryLayout.structLayout(JAVA_LONG.withName("magic"), JAVA_INT.withName("version"),
                MemoryLayout.paddingLayout(52), end.withName("first"), end.withName("second"));
        assertThat(SyncLayout.PIPE_MAGIC_OFFSET).isEqualTo(block.byteOffset(groupElement("magic")));
        assertThat(SyncLayout.PIPE_VERSION_OFFSET).isEqualTo(block.byteOffset(groupElement("version")));
        assertThat(SyncLayout.PIPE_FIRST_END_OFFSET).isEqualTo(block.byteOffset(groupElement("first")));
        assertThat(SyncLayout.PIPE_FIRST_END_OFFSET + SyncLayout.PIPE_END_STRIDE)
                .isEqualTo(block.byteOffset(groupElement("second")));
        assertThat(SyncLayout.PIPE_END_OWNER).isEqualTo(end.byteOffset(groupElement("owner")));
        assertThat(SyncLayout.PIPE_END_STATE).isEqualTo(end.byteOffset(groupElement("state")));
        assertThat(SyncLayout.PIPE_SIZE).isEqualTo(block.byteSize()).isEqualTo(192);
        assertThat(new String(MemorySegment.ofArray(new long[] {SyncLayout.PIPE_MAGIC}).toArray(JAVA_BYTE)))
                .isEqualTo("SHM4JPIP");
        MemorySegment made = heap.find("pipe").orElseThrow().segment();
        assertThat(made.get(JAVA_LONG, SyncLayout.PIPE_MAGIC_OFFSET)).isEqualTo(SyncLayout.PIPE_MAGIC);
        assertThat(made.get(JAVA_INT, SyncLayout.PIPE_VERSION_OFFSET)).isEqualTo(SyncLayout.PIPE.layoutVersion());
        pipe.first();
        assertThat(made.get(JAVA_LONG, SyncLayout.PIPE_FIRST_END_OFFSET + SyncLayout.PIPE_END_OWNER) >>> 32)
                .as("owner token: pid in the high half").isEqualTo(ProcessHandle.current().pid());
    }

    private static PipeClosedException catchGone(Receive receive) {
        try {
            byte[] got = receive.run();
            throw new AssertionError("expected end of stream, got " + (got == null ? "a timeout" : got.length
                    + " bytes"));
        } catch (PipeClosedException expected) {
            return expected;
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] interruptible(Receive receive) {
        try {
            return receive.run();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void shouldLetThreadsSendAndReceiveThroughOneEndWithoutLosingOrRepeatingAMessage() throws Exception {
        int threads = 4;
        int perThread = 5_000;
        Set<String> received = ConcurrentHashMap.newKeySet();
        AtomicInteger repeated = new AtomicInteger();
        AtomicInteger left = new AtomicInteger(threads * perThread);
        try (ExecutorService pool = Executors.newFixedThreadPool(2 * threads)) {
            List<Future<?>> all = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int sender = t;
                // one end object shared by two threads, and another pipe object's for the other two: one turn
                SharedPipe.End first = (t % 2 == 0 ? pipe : SharedPipe.open(heap, "pipe")).first();
                SharedPipe.End second = (t % 2 == 0 ? pipe : SharedPipe.open(heap, "pipe")).second();
                all.add(pool.submit(() -> {
                    for (int i = 0; i < perThread; i++) {
                        assertThat(first.send(("s" + sender + "-" + i).getBytes(StandardCharsets.UTF_8), BOUND))
                                .isTrue();
                    }
                    return null;
                }));
                all.add(pool.submit(() -> {
                    while (left.getAndDecrement() > 0) {
                        byte[] got = second.recv(BOUND);
                        assertThat(got).isNotNull();
                        if (!received.add(new String(got, StandardCharsets.UTF_8))) {
                            repeated.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> each : all) {
                each.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            }
        }
        assertThat(repeated).hasValue(0);
        assertThat(received).hasSize(threads * perThread).contains("s0-0", "s3-4999");
        assertThat(pipe.second().poll()).isFalse();
    }

    @FunctionalInterface
    private interface Receive {
        byte[] run() throws InterruptedException;
    }

    /**
     * {@code main(heap, count, mode)}: claims the pipe's second end, sends {@code m0}..{@code m<count-1>}, prints
     * {@code SENT}, then closes the end and exits ({@code close}) or waits to be killed ({@code hang}).
     */
    public static final class PipeChild {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedPipe.End end = SharedPipe.open(heap, "pipe").second();
                for (int i = 0; i < Integer.parseInt(args[1]); i++) {
                    if (!end.send(("m" + i).getBytes(), BOUND)) {
                        throw new IllegalStateException("no room for m" + i + " within " + BOUND);
                    }
                }
                System.out.println("SENT");
                if (args[2].equals("close")) {
                    end.close();
                } else if (args[2].equals("claim")) { // killed in a send: room claimed, never committed
                    RingClaim claim = new RingClaim();
                    if (!SharedRing.open(heap, "pipe.ba").tryClaim(1, 8, claim)) {
                        throw new IllegalStateException("no room for the claim");
                    }
                    System.out.println("CLAIMED");
                    Thread.sleep(BOUND.toMillis()); // idle until killed
                } else {
                    Thread.sleep(BOUND.toMillis()); // idle until killed; the test's kill is its only way out
                }
            }
        }
    }
}
