package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.sync.testing.KilledAtCall.Step;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;
import static org.shm4j.sync.ReopenedRingPipeTest.REOPENED;
import static org.shm4j.sync.ReopenedRingPipeTest.awaitBounded;
import static org.shm4j.sync.ReopenedRingPipeTest.offer;
import static org.shm4j.sync.ReopenedRingPipeTest.on;
import static org.shm4j.sync.ReopenedRingPipeTest.pollOne;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * Review of the reopen sweep's ring part: the claim marks walk. It goes record by record from the consumer's position
 * to tail; a claim another producer never marked (killed between its tail CAS and its mark) has no length to step
 * over, and the walk stopped there, leaving a mark of this process beyond it named by this live process: once the
 * stall rule skipped the dead producer's claim, every consumer of every process stopped at that mark for as long as
 * this process lived.
 */
@Timeout(300)
class ReopenSweepRingReviewTest {
    /** How long a poll that must get through after the reopen may wait: it fails after this on the code before. */
    /** How many times {@link Sweeper} closes the heap (and opens it again). */
    private static final int CYCLES = 40;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    private final ExecutorService holder = Executors.newSingleThreadExecutor();
    private final ExecutorService other = Executors.newSingleThreadExecutor();

    @AfterEach
    void stopThreads() {
        holder.shutdownNow();
        other.shutdownNow();
    }

    /**
     * A child producer killed between its tail CAS and its mark (its claim made by hand: the tail moved, no mark), then
     * a claim of this process after it, cut short by this process's close: after the reopen both are skipped, and the
     * messages on either side of them are handed over exactly once.
     */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"MPSC", "MPMC"})
    void shouldRenameAMarkOfThisProcessBehindAClaimADeadProducerNeverMarked(SharedRing.Kind kind) throws Exception {
        String heapName = names.unique("review-walk");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedRing ring = SharedRing.create(heap, "ring", kind, 1024, Duration.ofMillis(200));
        RingClaim claim = new RingClaim();
        try (ChildJvm child = ChildJvm.start(UnmarkedClaimer.class, heapName)) {
            child.awaitLine("CLAIMED", BOUND);
            assertThat(on(holder, () -> ring.tryClaim(1, 8, claim))).as("this process's claim, after the child's")
                    .isTrue();
            child.kill();
        }
        heap.close();
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedRing reopened = SharedRing.open(again, "ring");
            assertThat(on(other, () -> offer(reopened, "after"))).isTrue();
            assertThat(on(other, () -> pollOne(reopened))).isEqualTo("from the child");
            assertThat(on(other, () -> pollOne(reopened))).as("past both claims").isEqualTo("after");
            assertThat(reopened.stats().skippedRecords()).isEqualTo(2);
            assertThat(reopened.isEmpty()).isTrue();
        }
    }

    /**
     * SPSC, both roles this process's: a claim cut short by the close is skipped after the reopen, and the thread that
     * made it produces again at once (the producer's role taken back), the messages before and after it handed over
     * exactly once.
     */
    @Test
    void shouldLetTheCutShortSpscProducerThreadOfferAgainAfterTheReopen() throws Exception {
        String heapName = names.unique("review-spsc");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
        assertThat(on(holder, () -> offer(ring, "zero"))).isTrue();
        assertThat(on(other, () -> pollOne(ring))).isEqualTo("zero");
        assertThat(on(holder, () -> offer(ring, "before"))).isTrue();
        RingClaim claim = new RingClaim();
        assertThat(on(holder, () -> ring.tryClaim(1, 8, claim))).isTrue();
        heap.close();
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedRing reopened = SharedRing.open(again, "ring");
            assertThat(on(holder, () -> offer(reopened, "after"))).as("the thread whose claim was cut short").isTrue();
            assertThat(on(other, () -> pollOne(reopened))).isEqualTo("before");
            assertThat(on(other, () -> pollOne(reopened))).as("past the claim").isEqualTo("after");
            assertThat(reopened.stats().skippedRecords()).isEqualTo(1);
            assertThat(reopened.isEmpty()).isTrue();
        }
    }

    /**
     * A pipe whose ends this process holds: a send whose encode the close cut short (its record claimed in place) is
     * skipped after the reopen; the thread that sent sends again through the end, taken back, and the other end
     * receives what was sent before and after, once each.
     */
    @Test
    void shouldLetTheCutShortPipeSenderSendAgainAfterTheReopen() throws Exception {
        String heapName = names.unique("review-pipe");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedPipe pipe = SharedPipe.create(heap, "pipe", 1024);
        SharedPipe.End first = pipe.first();
        pipe.second();
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        Codec<String> utf8 = Codec.utf8();
        Codec<String> slow = new Codec<>() {
            @Override
            public int typeId() {
                return utf8.typeId();
            }

            @Override
            public int encodedLength(String value) {
                return utf8.encodedLength(value);
            }

            @Override
            public void encode(String value, MemorySegment target, long offset) {
                inside.countDown();
                awaitBounded(closed);
                utf8.encode(value, target, offset);
            }

            @Override
            public String decode(MemorySegment source, long offset, int length) {
                return utf8.decode(source, offset, length);
            }
        };
        assertThat(on(holder, () -> first.send("before", utf8, BOUND))).isTrue();
        Future<Boolean> cut = holder.submit(() -> first.send("cut", slow, BOUND));
        assertThat(inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the send encodes in place").isTrue();
        heap.close();
        closed.countDown();
        assertThatThrownBy(() -> cut.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .hasCauseInstanceOf(IllegalStateException.class);
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedPipe reopened = SharedPipe.open(again, "pipe");
            assertThat(on(holder, () -> reopened.first().send("after", utf8, REOPENED)))
                    .as("the thread whose send was cut short").isTrue();
            SharedPipe.End second = reopened.second();
            assertThat(on(other, () -> second.recv(utf8, REOPENED))).isEqualTo("before");
            assertThat(on(other, () -> second.recv(utf8, REOPENED))).as("past the cut send").isEqualTo("after");
            assertThat(on(other, () -> second.poll())).as("nothing more").isEqualTo(false);
        }
    }

    /**
     * A joinable queue's consumer whose decode the close cut short, after the handler counted its task: after the
     * reopen the item is handed over again (the consumers' turn renamed, taken over), counted once, and join returns
     * once that second taker marks it done.
     */
    @Test
    void shouldHandAJoinableQueuesItemCutShortInItsDecodeOverAgainCountedOnce() throws Exception {
        String heapName = names.unique("review-joinable");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        Codec<String> utf8 = Codec.utf8();
        Codec<String> slow = new Codec<>() {
            @Override
            public int typeId() {
                return utf8.typeId();
            }

            @Override
            public int encodedLength(String value) {
                return utf8.encodedLength(value);
            }

            @Override
            public void encode(String value, MemorySegment target, long offset) {
                utf8.encode(value, target, offset);
            }

            @Override
            public String decode(MemorySegment source, long offset, int length) {
                inside.countDown();
                awaitBounded(closed);
                return utf8.decode(source, offset, length);
            }
        };
        SharedJoinableQueue<String> queue = SharedJoinableQueue.create(heap, "tasks", 1024, slow);
        assertThat(queue.offer("one")).isTrue();
        assertThat(queue.offer("two")).isTrue();
        Future<String> cut = holder.submit(() -> queue.poll());
        assertThat(inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the poll decodes in place").isTrue();
        heap.close();
        closed.countDown();
        assertThatThrownBy(() -> cut.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .hasCauseInstanceOf(IllegalStateException.class);
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedJoinableQueue<String> reopened = SharedJoinableQueue.open(again, "tasks", utf8);
            assertThat(on(other, () -> reopened.poll(REOPENED.toSeconds(), TimeUnit.SECONDS)))
                    .as("handed over again").isEqualTo("one");
            assertThat(on(holder, () -> reopened.poll(REOPENED.toSeconds(), TimeUnit.SECONDS))).isEqualTo("two");
            assertThat(reopened.unfinishedTasks()).as("two taken, \"one\" counted once, none queued").isEqualTo(2);
            reopened.taskDone();
            assertThat(reopened.join(10, TimeUnit.MILLISECONDS)).as("one task left").isFalse();
            reopened.taskDone();
            assertThat(reopened.join(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(reopened.isEmpty()).isTrue();
        }
    }

    /**
     * A child killed in its reopen's sweep of the ring (at the consumer's role's rename, at the marks walk's start, at
     * the rename of its claim's mark): whatever it renamed or not is a gone process's, so this process takes the
     * consumer's role over, skips the child's claim once, and gets the message behind it.
     */
    @ParameterizedTest
    @ValueSource(strings = {"role", "walk", "mark"})
    void shouldTakeOverTheRingOfAChildKilledInItsSweep(String where) throws Exception {
        String heapName = names.unique("review-killed");
        String ringPackage = SharedRing.class.getPackageName() + ".";
        Step step = switch (where) { // classes of the ring package, which it does not export
            case "role" -> new Step(ringPackage + "RingRoles", "abandon", "abandonHeld");
            case "walk" -> new Step(ringPackage + "RingProducer", "abandonMarks", "abandonMarks");
            default -> Step.atLine(Class.forName(ringPackage + "RingProducer"), "abandonMarks",
                    "LONG.compareAndSet(block, at, record", 1);
        };
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
            try (KilledAtCall child = KilledAtCall.start(step, ClaimingConsumer.class, heapName)) {
                child.awaitKilled(BOUND);
                assertThat(child.output()).contains("CLOSED").doesNotContain("REOPENED");
            }
            assertThat(offer(ring, "after")).isTrue();
            assertThat(on(other, () -> pollOne(ring))).as("the role taken over, past the dead child's claim")
                    .isEqualTo("after");
            assertThat(ring.stats().skippedRecords()).isEqualTo(1);
            assertThat(ring.isEmpty()).isTrue();
        }
    }

    /**
     * {@code main(heap)}: claims the consumer's role of MPSC ring {@code ring}, claims a record that it never
     * commits, closes the heap (saying {@code CLOSED}) and opens it again (its sweep runs), saying {@code REOPENED}.
     */
    public static final class ClaimingConsumer {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            SharedRing ring = SharedRing.open(heap, "ring");
            assertThat(ring.poll((type, buffer, offset, length) -> { })).isZero();
            assertThat(ring.tryClaim(1, 8, new RingClaim())).isTrue();
            heap.close();
            Children.say("CLOSED");
            try (SharedHeap again = SharedHeap.open(args[0])) {
                Children.say("REOPENED");
            }
        }
    }

    /**
     * The sweep racing live producers and consumers: a child opens the heap and closes it {@value #CYCLES} times,
     * leaving a claim cut short by every other close, so that each of its opens but the first walks the ring while
     * this process's two producers offer records of varied sizes (laps, padding, claims not yet marked) and its
     * consumers (MPMC: two) take them. Every record offered comes out exactly once (MPSC: in each producer's order),
     * and exactly the child's cut claims are skipped, while the child lives on.
     */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"MPSC", "MPMC"})
    void shouldHandEveryRecordOverOnceWhileAnotherProcessReopensAndSweeps(SharedRing.Kind kind) throws Exception {
        String heapName = names.unique("review-race");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024, Duration.ofSeconds(2));
            AtomicBoolean producing = new AtomicBoolean(true);
            AtomicBoolean consuming = new AtomicBoolean(true);
            int producers = 2;
            long[] offered = new long[producers];
            AtomicIntegerArray[] seen = {new AtomicIntegerArray(1 << 20), new AtomicIntegerArray(1 << 20)};
            long[] lastInOrder = {-1, -1};
            AtomicLong consumed = new AtomicLong();
            List<String> failures = new CopyOnWriteArrayList<>();
            MessageHandler handler = (type, buffer, offset, length) -> {
                long id = buffer.get(JAVA_LONG_UNALIGNED, offset);
                int producer = (int) (id >>> 32);
                int seq = (int) id;
                int times = seen[producer].incrementAndGet(seq);
                if (length != size(seq) || times != 1) {
                    failures.add("producer " + producer + " seq " + seq + " length " + length + " seen " + times);
                }
                if (kind == SharedRing.Kind.MPSC && lastInOrder[producer] + 1 != seq) { // one consumer thread
                    failures.add("producer " + producer + " seq " + seq + " after " + lastInOrder[producer]);
                }
                lastInOrder[producer] = seq;
                consumed.incrementAndGet();
            };
            List<CompletableFuture<Object>> threads = new ArrayList<>();
            for (int p = 0; p < producers; p++) {
                int producer = p;
                threads.add(Children.onNewThread(() -> {
                    byte[] bytes = new byte[size(0) + 6 * Long.BYTES];
                    for (int seq = 0; producing.get() && seq < seen[producer].length(); ) {
                        MemorySegment.ofArray(bytes).set(JAVA_LONG_UNALIGNED, 0, (long) producer << 32 | seq);
                        if (ring.offer(1, bytes, 0, size(seq))) {
                            offered[producer] = ++seq;
                        } else {
                            Thread.yield();
                        }
                    }
                    return null;
                }));
            }
            for (int c = 0; c < (kind == SharedRing.Kind.MPMC ? 2 : 1); c++) {
                SharedRing consumer = SharedRing.open(heap, "ring"); // a ring object per consumer thread
                threads.add(Children.onNewThread(() -> {
                    while (consuming.get()) {
                        consumer.poll(handler, Duration.ofMillis(20), WaitStrategy.BLOCKING);
                    }
                    return null;
                }));
            }
            try (ChildJvm child = ChildJvm.start(Sweeper.class, heapName)) {
                child.awaitLine("SWEPT", BOUND);
                producing.set(false);
                for (int p = 0; p < producers; p++) {
                    threads.get(p).get(BOUND.toSeconds(), TimeUnit.SECONDS);
                }
                long total = offered[0] + offered[1];
                Children.awaitTrue("every record offered consumed", () -> consumed.get() == total);
                // the child's last cut claim may lie after every record offered: the consumers skip it once they
                // look at its (renamed) producer
                Children.awaitTrue("the ring emptied", ring::isEmpty);
                consuming.set(false);
                for (CompletableFuture<Object> thread : threads) {
                    thread.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                }
                assertThat(failures).isEmpty();
                assertThat(child.output()).doesNotContain("Exception");
                assertThat(ring.stats().skippedRecords()).as("the child's cut claims").isEqualTo(CYCLES / 2);
                assertThat(consumed.get()).isEqualTo(total);
                assertThat(total).as("records offered while the child swept").isGreaterThan(1000);
            }
        }
    }

    /** @return the payload size of record {@code seq}: 8 to 56 bytes, so that records lap at varied places */
    private static int size(int seq) {
        return Long.BYTES * (1 + seq % 7);
    }

    /**
     * {@code main(heap)}: opens the heap and closes it {@value #CYCLES} times, each odd time with a claim (tryClaim,
     * never committed) that the close cuts short; then opens it once more (sweeping the last), closes it, says
     * {@code SWEPT} and lives on until killed (a claim of its left unrenamed would hold the consumers up meanwhile).
     */
    public static final class Sweeper {
        public static void main(String[] args) throws Exception {
            RingClaim claim = new RingClaim();
            for (int cycle = 0; cycle <= CYCLES; cycle++) {
                SharedHeap heap = SharedHeap.open(args[0]);
                SharedRing ring = SharedRing.open(heap, "ring");
                if (cycle % 2 == 1 && cycle < CYCLES) {
                    long deadline = System.nanoTime() + BOUND.toNanos();
                    while (!ring.tryClaim(1, 8, claim)) { // the ring may be full for a moment
                        if (System.nanoTime() - deadline > 0) {
                            throw new AssertionError("no room for a claim within " + BOUND);
                        }
                        Thread.yield();
                    }
                }
                heap.close();
            }
            Children.say("SWEPT");
            new CountDownLatch(1).await(3 * BOUND.toSeconds(), TimeUnit.SECONDS); // killed before
        }
    }

    /**
     * {@code main(heap)}: offers {@code "from the child"} to ring {@code ring} (naming its process in the producer
     * table), then moves tail by 16 bytes by hand (a claim whose tail CAS was made and its mark never, as by a
     * producer killed there), says {@code CLAIMED}, and stays attached until killed.
     */
    public static final class UnmarkedClaimer {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            assertThat(offer(SharedRing.open(heap, "ring"), "from the child")).isTrue();
            MemorySegment block = heap.find("ring").orElseThrow().segment();
            long tail = block.get(JAVA_LONG, RING_TAIL_OFFSET);
            block.set(JAVA_LONG, RING_TAIL_OFFSET, tail + 16);
            Children.say("CLAIMED");
            new CountDownLatch(1).await(3 * BOUND.toSeconds(), TimeUnit.SECONDS); // killed before
        }
    }
}
