package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_WAITING;

/**
 * {@link SharedRing#awaitMessage}: waits for a committed message without taking it, past an open claim, and gives up
 * after its timeout; a consuming call, refused while another consuming call of the same object runs.
 */
@Timeout(120)
class RingAwaitMessageTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final byte[] MESSAGE = {1, 2, 3, 4, 5, 6, 7, 8};

    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldWaitForAMessageFromAnotherThreadAndLeaveItToThePoll(SharedRing.Kind kind) throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            long start = System.nanoTime();
            assertThat(ring.awaitMessage(Duration.ofMillis(50), WaitStrategy.BLOCKING)).isFalse();
            assertThat(System.nanoTime() - start).as("waited its timeout").isGreaterThanOrEqualTo(50_000_000L);
            for (int round = 1; round <= 10; round++) {
                Future<Boolean> waited = pool.submit(() -> ring.awaitMessage(BOUND, WaitStrategy.BLOCKING));
                awaitBlocked(ring, round);
                assertThat(ring.offer(round, MESSAGE, 0, MESSAGE.length)).isTrue();
                assertThat(waited.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(ring.awaitMessage(Duration.ZERO, WaitStrategy.BUSY_SPIN)).as("nothing taken").isTrue();
                int expected = round;
                assertThat(ring.poll((type, buffer, offset, length) -> assertThat(type).isEqualTo(expected)))
                        .isOne();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"MPSC", "MPMC"})
    void shouldFindAMessageCommittedBehindAClaimStillOpen(SharedRing.Kind kind) throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            RingClaim open = new RingClaim();
            assertThat(ring.tryClaim(1, 8, open)).isTrue();
            assertThat(ring.awaitMessage(Duration.ofMillis(20), WaitStrategy.BLOCKING)).as("only a claim").isFalse();
            assertThat(ring.offer(2, MESSAGE, 0, MESSAGE.length)).isTrue();
            assertThat(ring.awaitMessage(Duration.ZERO, WaitStrategy.BLOCKING)).isTrue();
            open.commit();
            assertThat(ring.drain((type, buffer, offset, length) -> { }, 10)).isEqualTo(2);
        }
    }

    /**
     * helper-122: padding at the consumer's position (an aborted claim leaves one) counts as committed for the look
     * before blocking but not as a message, so the wait never blocked: it spun for its whole timeout. It is freed now,
     * as a poll frees it on its way to the next message.
     */
    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldFreePaddingAtThePositionAndBlockInsteadOfSpinning(SharedRing.Kind kind) throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            RingClaim claim = new RingClaim();
            assertThat(ring.tryClaim(1, 8, claim)).isTrue();
            claim.abort();
            assertThat(ring.isEmpty()).as("the aborted claim's padding").isFalse();
            assertThat(ring.awaitMessage(Duration.ofMillis(50), WaitStrategy.BLOCKING)).isFalse();
            assertThat(ring.isEmpty()).as("the padding freed").isTrue();
            assertThat(ring.offer(2, MESSAGE, 0, MESSAGE.length)).isTrue();
            assertThat(ring.awaitMessage(Duration.ZERO, WaitStrategy.BLOCKING)).isTrue();
            assertThat(ring.poll((type, buffer, offset, length) -> assertThat(type).isEqualTo(2))).isOne();
        }
    }

    @Test
    void shouldRefuseAWaitWhileAPollOfTheSameObjectRunsAndStopWhenInterrupted() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
            assertThat(ring.offer(1, MESSAGE, 0, MESSAGE.length)).isTrue();
            ring.poll((type, buffer, offset, length) -> assertThatThrownBy(
                    () -> ring.awaitMessage(BOUND, WaitStrategy.BLOCKING)).isInstanceOf(IllegalStateException.class));
            CompletableFuture<Thread> waiter = new CompletableFuture<>();
            Future<Throwable> waited = pool.submit(() -> {
                waiter.complete(Thread.currentThread());
                try {
                    ring.awaitMessage(BOUND, WaitStrategy.BLOCKING);
                    return null;
                } catch (InterruptedException e) {
                    return e;
                }
            });
            awaitBlocked(ring, 1);
            waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS).interrupt();
            assertThat(waited.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
            assertThatThrownBy(() -> ring.awaitMessage(null, WaitStrategy.BLOCKING))
                    .isInstanceOf(NullPointerException.class).hasMessage("timeout");
            assertThatThrownBy(() -> ring.awaitMessage(BOUND, null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("strategy");
        } finally {
            pool.shutdownNow();
        }
    }

    /** Waits until a consumer announced itself blocked on {@code ring} (the waiting bit, cleared by each offer). */
    private static void awaitBlocked(SharedRing ring, int round) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (((int) JAVA_INT.varHandle().getVolatile(ring.block, RING_NOT_EMPTY_WAITERS_OFFSET) & RING_WAITING)
                == 0) {
            assertThat(System.nanoTime() - deadline).as("a consumer blocked in round " + round).isNegative();
            Thread.onSpinWait();
        }
    }
}
