package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
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
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.Children.BOUND;
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
    private static final Duration REOPENED = Duration.ofSeconds(20);

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

    private static boolean offer(SharedRing ring, String message) {
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        return ring.offer(1, bytes, 0, bytes.length);
    }

    /** @return the next message of {@code ring}, waiting up to {@link #REOPENED}, or {@code "none"} */
    private static String pollOne(SharedRing ring) throws InterruptedException {
        List<String> got = new CopyOnWriteArrayList<>();
        MessageHandler handler = (type, buffer, offset, length) -> got.add(text(buffer, offset, length));
        return ring.poll(handler, REOPENED, WaitStrategy.BLOCKING) == 1 ? got.getFirst() : "none";
    }

    private static String text(MemorySegment buffer, long offset, int length) {
        byte[] bytes = new byte[length];
        MemorySegment.copy(buffer, JAVA_BYTE, offset, bytes, 0, length);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static <T> T on(ExecutorService thread, Callable<T> task) throws Exception {
        return thread.submit(task).get(BOUND.toSeconds(), TimeUnit.SECONDS);
    }
}
