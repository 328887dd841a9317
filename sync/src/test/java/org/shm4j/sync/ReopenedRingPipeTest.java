package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;
import static org.shm4j.sync.internal.SyncLayout.PIPE_FIRST_END_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.PIPE_MAGIC_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_CAPACITY_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMER_PROCESS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * What a process's close left in a ring or a pipe (a role, the MPMC consumers' turn, a claim, its producer slot, a
 * pipe end), once that process opens the heap again: the reopen renames it as a gone process's (the reopen sweep), so
 * it is taken over as after a death, in this process and in others. Before, a process's name was back in the attach
 * table and each of those was its own again, held by no call: an MPMC poll waited for the turn for ever, a claim held
 * every consumer up, and other processes were refused the roles and the end, or waited for the end's messages.
 */
@Timeout(300)
class ReopenedRingPipeTest {
    /** How long a call that must get through after the reopen may wait: it fails after this on the code before. */
    static final Duration REOPENED = Duration.ofSeconds(20);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    private final ExecutorService holder = Executors.newSingleThreadExecutor();
    private final ExecutorService other = Executors.newSingleThreadExecutor();

    @AfterEach
    void stopThreads() {
        holder.shutdownNow();
        other.shutdownNow();
    }

    @Test
    void shouldTakeOverTheMpmcTurnOfAPollTheCloseCutShortOnceThisProcessReopensTheHeap() throws Exception {
        String heapName = names.unique("reopen-turn");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, 1024);
        offer(ring, "one");
        offer(ring, "two");
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        List<String> handed = new CopyOnWriteArrayList<>();
        var cut = holder.submit(() -> ring.poll((type, buffer, offset, length) -> {
            handed.add(text(buffer, offset, length));
            inside.countDown();
            awaitBounded(closed);
        }));
        assertThat(inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the poll holds the turn").isTrue();
        heap.close();
        closed.countDown();
        assertThatThrownBy(() -> cut.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .hasCauseInstanceOf(IllegalStateException.class);
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedRing reopened = SharedRing.open(again, "ring");
            assertThat(on(other, () -> pollOne(reopened))).as("another thread: the message handed over again")
                    .isEqualTo("one");
            assertThat(on(holder, () -> pollOne(reopened))).as("the thread whose poll was cut short")
                    .isEqualTo("two");
            assertThat(reopened.stats().consumerTakeovers()).isEqualTo(1);
            assertThat(reopened.stats().consumerRecoveries()).isZero();
            assertThat(reopened.stats().skippedRecords()).isZero();
            assertThat(handed).containsExactly("one");
        }
    }

    @Test
    void shouldSkipAClaimTheCloseCutShortOnceThisProcessReopensTheHeap() throws Exception {
        String heapName = names.unique("reopen-claim");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
        RingClaim claim = new RingClaim();
        assertThat(on(holder, () -> ring.tryClaim(1, 8, claim))).isTrue();
        heap.close();
        assertThatThrownBy(claim::commit).isInstanceOf(IllegalStateException.class);
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedRing reopened = SharedRing.open(again, "ring");
            assertThat(on(other, () -> offer(reopened, "after"))).isTrue();
            assertThat(on(holder, () -> offer(reopened, "again"))).as("the thread whose claim was cut short").isTrue();
            assertThat(on(other, () -> pollOne(reopened))).as("past the claim, its producer gone").isEqualTo("after");
            assertThat(on(holder, () -> pollOne(reopened))).isEqualTo("again");
            assertThat(reopened.stats().skippedRecords()).isEqualTo(1);
            assertThat(reopened.isEmpty()).isTrue();
        }
    }

    /**
     * A claim the close cut short between its tail CAS and its mark is one never marked, which the stall rule skips
     * only below the orphan bound, raised when a producer slot is retired: this process's slot, renamed, is.
     */
    @Test
    void shouldSkipAClaimNeverMarkedThatTheCloseCutShortOnceThisProcessReopensTheHeap() throws Exception {
        String heapName = names.unique("reopen-unmarked");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024, Duration.ofMillis(200));
        offer(ring, "named"); // this process names itself in the producer table
        assertThat(pollOne(ring)).isEqualTo("named");
        MemorySegment block = heap.find("ring").orElseThrow().segment();
        long tail = block.get(JAVA_LONG, RING_TAIL_OFFSET);
        block.set(JAVA_LONG, RING_TAIL_OFFSET, tail + 16); // a claim whose tail CAS was made and its mark never
        heap.close();
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedRing reopened = SharedRing.open(again, "ring");
            assertThat(on(other, () -> offer(reopened, "after"))).isTrue();
            assertThat(on(holder, () -> pollOne(reopened))).as("past the claim never marked").isEqualTo("after");
            assertThat(reopened.stats().skippedRecords()).isEqualTo(1);
            assertThat(reopened.isEmpty()).isTrue();
        }
    }

    @Test
    void shouldLetAnotherProcessTakeOverWhatAChildsCloseLeftOnceItReopenedTheHeap() throws Exception {
        String heapName = names.unique("reopen-child");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedRing mpsc = SharedRing.create(heap, "mpsc", SharedRing.Kind.MPSC, 1024);
            SharedRing spsc = SharedRing.create(heap, "spsc", SharedRing.Kind.SPSC, 1024);
            SharedRing mpmc = SharedRing.create(heap, "mpmc", SharedRing.Kind.MPMC, 1024);
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1024);
            offer(mpmc, "turn");
            try (ChildJvm child = ChildJvm.start(Reopener.class, heapName)) {
                child.awaitLine("REOPENED", BOUND);
                assertThat(heap.attachedProcesses()).as("the child attached again").hasSize(2);

                assertThat(offer(mpsc, "m")).isTrue();
                assertThat(pollOne(mpsc)).as("the MPSC consumer's role").isEqualTo("m");
                assertThat(offer(spsc, "p")).as("the SPSC producer's role").isTrue();
                assertThat(pollOne(spsc)).isEqualTo("from the child");
                assertThat(pollOne(spsc)).isEqualTo("p");
                assertThat(pollOne(mpmc)).as("the MPMC turn, its message handed over again").isEqualTo("turn");
                assertThat(mpmc.stats().consumerTakeovers()).isEqualTo(1);

                SharedPipe.End second = pipe.second();
                assertThat(second.recv(REOPENED)).asString(StandardCharsets.UTF_8).isEqualTo("sent before the close");
                assertThatThrownBy(() -> second.recv(REOPENED)).isInstanceOf(PipeClosedException.class)
                        .hasMessage("first end of pipe 'pipe': its holder pid " + child.pid() + " is gone without"
                                + " closing it (it closed its heap and opened it again, or died and its pid was"
                                + " reused) (end of stream)")
                        .satisfies(e -> assertThat(((PipeClosedException) e).pid()).isEqualTo(child.pid()))
                        .satisfies(e -> assertThat(((PipeClosedException) e).holderDied()).isTrue());
                SharedPipe.End first = pipe.first(); // taken over
                assertThat(first.send("taken over".getBytes(StandardCharsets.UTF_8), REOPENED)).isTrue();
                assertThat(second.recv(REOPENED)).asString(StandardCharsets.UTF_8).isEqualTo("taken over");
                assertThat(child.output()).doesNotContain("Exception");
            }
        }
    }

    @Test
    void shouldLeaveHoldsThatNoCloseLeftAlone() throws Exception {
        String heapName = names.unique("reopen-kept");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedRing theirs = SharedRing.create(heap, "theirs", SharedRing.Kind.MPSC, 1024);
        SharedPipe.create(heap, "pipe", 1024);
        SharedRing mine = SharedRing.create(heap, "mine", SharedRing.Kind.MPSC, 1024);
        assertThat(claimConsumer(mine)).isZero(); // this process's consumer role
        RingClaim claim = new RingClaim();
        assertThat(mine.tryClaim(1, 8, claim)).isTrue();
        MemorySegment mineBlock = heap.find("mine").orElseThrow().segment();
        long mark = mineBlock.get(JAVA_LONG, RING_HEADER_SIZE);
        try (ChildJvm child = ChildJvm.start(Holder.class, heapName)) {
            child.awaitLine("HOLDING", BOUND);
            try (SharedHeap second = SharedHeap.open(heapName)) { // the first still open: no new slot, no sweep
                MemorySegment block = second.find("mine").orElseThrow().segment();
                assertThat(block.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).as("this process's role")
                        .isEqualTo(ProcessIdentity.currentToken());
                assertThat(block.get(JAVA_LONG, RING_HEADER_SIZE)).as("this process's claim mark").isEqualTo(mark);
                claim.commit(); // through the first view: its claim is still this process's
                assertThat(pollOne(SharedRing.open(second, "mine"))).isEqualTo("\0".repeat(8));
            }
            heap.close();
            try (SharedHeap again = SharedHeap.open(heapName)) { // a new slot: the sweep runs
                assertThatThrownBy(() -> claimConsumer(SharedRing.open(again, "theirs")))
                        .as("the child's live consumer role").isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("pid " + child.pid() + " (alive) is its consumer");
                assertThatThrownBy(() -> SharedPipe.open(again, "pipe").first()).as("the child's live end")
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("held by live pid " + child.pid());
                assertThat(child.output()).doesNotContain("Exception");
            }
        }
    }

    /**
     * A block the sweep cannot read as its kind is skipped, and the open goes on: a ring whose header is damaged and a
     * pipe whose magic is keep this process's words; a ring whose records are damaged gets its header's renamed (its
     * marks walk fails after them); an intact ring is swept.
     */
    @Test
    void shouldSkipDamagedBlocksAndSweepTheRest() throws Exception {
        String heapName = names.unique("reopen-damaged");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        for (String name : List.of("damaged", "records", "intact")) {
            assertThat(claimConsumer(SharedRing.create(heap, name, SharedRing.Kind.MPSC, 1024))).isZero();
        }
        SharedPipe.create(heap, "pipe", 1024).first();
        assertThat(offer(SharedRing.open(heap, "records"), "x")).isTrue();
        MemorySegment damaged = heap.find("damaged").orElseThrow().segment();
        MemorySegment records = heap.find("records").orElseThrow().segment();
        MemorySegment pipe = heap.find("pipe").orElseThrow().segment();
        damaged.set(JAVA_INT, RING_CAPACITY_OFFSET, 3);
        records.set(JAVA_LONG, RING_HEADER_SIZE, 0x7FFF_0000L); // a record length past the buffer's end
        pipe.set(JAVA_LONG, PIPE_MAGIC_OFFSET, 0L);
        heap.close();
        try (SharedHeap again = SharedHeap.open(heapName)) {
            long me = ProcessIdentity.currentToken();
            assertThat(roleOf(again, "damaged")).isEqualTo(me);
            assertThat(again.find("pipe").orElseThrow().segment().get(JAVA_LONG, PIPE_FIRST_END_OFFSET))
                    .isEqualTo(me);
            assertThat(roleOf(again, "records")).isEqualTo(ProcessIdentity.abandonedToken());
            assertThat(roleOf(again, "intact")).isEqualTo(ProcessIdentity.abandonedToken());
        }
    }

    private static long roleOf(SharedHeap heap, String ring) {
        return heap.find(ring).orElseThrow().segment().get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET);
    }

    /**
     * {@code main(heap)}: claims the consumer's role of ring {@code mpsc}, the producer's of {@code spsc} (offering
     * one message), the pipe's first end (sending one), and the turn of {@code mpmc} by a poll whose handler waits
     * until the heap is closed; closes the heap, opens it again, says {@code REOPENED}, and stays attached until
     * killed.
     */
    public static final class Reopener {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            assertThat(claimConsumer(SharedRing.open(heap, "mpsc"))).isZero();
            assertThat(offer(SharedRing.open(heap, "spsc"), "from the child")).isTrue();
            assertThat(SharedPipe.open(heap, "pipe").first().send("sent before the close"
                    .getBytes(StandardCharsets.UTF_8), BOUND)).isTrue();
            SharedRing mpmc = SharedRing.open(heap, "mpmc");
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch closed = new CountDownLatch(1);
            Thread poller = Thread.ofPlatform().daemon().start(() -> {
                try {
                    mpmc.poll((type, buffer, offset, length) -> {
                        inside.countDown();
                        awaitBounded(closed);
                    });
                } catch (IllegalStateException expected) {
                    Children.say("CUT SHORT");
                }
            });
            if (!inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("the poll did not start");
            }
            heap.close();
            closed.countDown();
            poller.join(BOUND.toMillis());
            try (SharedHeap again = SharedHeap.open(args[0])) {
                Children.say("REOPENED");
                new CountDownLatch(1).await(3 * BOUND.toSeconds(), TimeUnit.SECONDS); // killed before
            }
        }
    }

    /**
     * {@code main(heap)}: claims the consumer's role of ring {@code theirs} and the pipe's first end, says
     * {@code HOLDING}, and stays attached until killed.
     */
    public static final class Holder {
        public static void main(String[] args) throws Exception {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                assertThat(claimConsumer(SharedRing.open(heap, "theirs"))).isZero();
                SharedPipe.open(heap, "pipe").first();
                Children.say("HOLDING");
                new CountDownLatch(1).await(3 * BOUND.toSeconds(), TimeUnit.SECONDS); // killed before
            }
        }
    }

    static boolean offer(SharedRing ring, String message) {
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        return ring.offer(1, bytes, 0, bytes.length);
    }

    /** @return 0: a poll of the empty {@code ring}, which claims its consumer's role (SPSC, MPSC) */
    private static int claimConsumer(SharedRing ring) {
        return ring.poll((type, buffer, offset, length) -> { });
    }

    /** @return the next message of {@code ring}, waiting up to {@link #REOPENED}, or {@code "none"} */
    static String pollOne(SharedRing ring) throws InterruptedException {
        List<String> got = new CopyOnWriteArrayList<>();
        MessageHandler handler = (type, buffer, offset, length) -> got.add(text(buffer, offset, length));
        return ring.poll(handler, REOPENED, WaitStrategy.BLOCKING) == 1 ? got.getFirst() : "none";
    }

    private static String text(MemorySegment buffer, long offset, int length) {
        byte[] bytes = new byte[length];
        MemorySegment.copy(buffer, JAVA_BYTE, offset, bytes, 0, length);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static <T> T on(ExecutorService thread, Callable<T> task) throws Exception {
        return thread.submit(task).get(BOUND.toSeconds(), TimeUnit.SECONDS);
    }

    static void awaitBounded(CountDownLatch latch) {
        try {
            if (!latch.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("not released in time");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
