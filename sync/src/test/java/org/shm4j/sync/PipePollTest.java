package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SharedPipe.End#poll(Duration)}, Python's {@code Connection.poll(timeout)}: it waits for a message or the end
 * of stream, sent by a thread or a process, takes none, and gives up after its timeout.
 */
@Timeout(120)
class PipePollTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    private final ExecutorService pool = Executors.newCachedThreadPool();
    private String heapName;
    private SharedHeap heap;
    private SharedPipe pipe;

    @BeforeEach
    void createPipe() {
        heapName = names.unique("pipepoll");
        heap = SharedHeap.create(heapName, 1 << 16);
        pipe = SharedPipe.create(heap, "pipe", 1 << 12);
    }

    @AfterEach
    void close() throws InterruptedException {
        pool.shutdownNow();
        assertThat(pool.awaitTermination(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        heap.close();
    }

    @Test
    void shouldReturnFalseAfterItsTimeoutWhenNothingComes() throws Exception {
        SharedPipe.End first = pipe.first();
        long start = System.nanoTime();
        assertThat(first.poll(Duration.ofMillis(80))).isFalse();
        assertThat(System.nanoTime() - start).as("waited its timeout").isGreaterThanOrEqualTo(80_000_000L);
        assertThat(first.poll(Duration.ZERO)).isFalse();
        assertThat(first.poll(Duration.ofSeconds(-1))).as("a negative timeout is a look").isFalse();
    }

    @Test
    void shouldWakeWhenAnotherThreadSendsAndLeaveTheMessageThere() throws Exception {
        SharedPipe.End first = pipe.first();
        SharedPipe.End second = pipe.second();
        for (int round = 0; round < 20; round++) {
            Future<Boolean> polled = pool.submit(() -> first.poll(BOUND));
            awaitBlocked(SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET, "pipe.ba", round);
            assertThat(second.send(("m" + round).getBytes(), BOUND)).isTrue();
            assertThat(polled.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(first.poll()).as("poll took nothing").isTrue();
            assertThat(first.recv(BOUND)).isEqualTo(("m" + round).getBytes());
        }
        assertThat(second.send(42L, Codec.longs(), BOUND)).isTrue();
        assertThat(first.poll(BOUND)).as("a message already there: at once").isTrue();
        assertThat(first.recv(Codec.longs(), BOUND)).isEqualTo(42L);
    }

    @Test
    void shouldSayTrueForMessagesThenForTheEndOfStreamOfAPeerProcessThatClosed() throws Exception {
        SharedPipe.End first = pipe.first();
        try (ChildJvm child = ChildJvm.start(SharedPipeEndTest.PipeChild.class, heapName, "3", "close")) {
            for (int i = 0; i < 3; i++) {
                assertThat(first.poll(BOUND)).isTrue();
                assertThat(first.recv(BOUND)).isEqualTo(("m" + i).getBytes());
            }
            assertThat(first.poll(BOUND)).as("the end of stream").isTrue();
            assertThatThrownBy(() -> first.recv(BOUND)).isInstanceOf(PipeClosedException.class);
            child.awaitSuccess(BOUND);
        }
    }

    @Test
    void shouldEndItsWaitWhenThePeerProcessIsKilledWhileItWaits() throws Exception {
        SharedPipe.End first = pipe.first();
        try (ChildJvm child = ChildJvm.start(SharedPipeEndTest.PipeChild.class, heapName, "0", "hang")) {
            child.awaitLine("SENT", BOUND);
            Future<Boolean> polled = pool.submit(() -> first.poll(BOUND));
            awaitBlocked(SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET, "pipe.ba", 0);
            child.kill();
            assertThat(polled.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the end of stream").isTrue();
        }
        assertThatThrownBy(() -> first.recv(BOUND)).isInstanceOf(PipeClosedException.class)
                .hasMessageContaining("died without closing it");
    }

    @Test
    void shouldSayTrueOnceAPeerKilledInTheMiddleOfASendIsFoundDead() throws Exception {
        SharedPipe.End first = pipe.first();
        try (ChildJvm child = ChildJvm.start(SharedPipeEndTest.PipeChild.class, heapName, "1", "claim")) {
            child.awaitLine("CLAIMED", BOUND);
            child.kill();
        }
        assertThat(first.poll(BOUND)).isTrue();
        assertThat(first.recv(BOUND)).isEqualTo("m0".getBytes());
        assertThat(first.poll(BOUND)).as("only the dead sender's claim is left: ended").isTrue();
        assertThatThrownBy(() -> first.recv(BOUND)).isInstanceOf(PipeClosedException.class);
    }

    /**
     * helper-122: a send whose codec failed leaves padding in the ring; once the sender closed its end, poll() said
     * false for good (the padding made the ring not empty) while a receive said end of stream at once.
     */
    @Test
    void shouldSayTrueForTheEndOfStreamAfterAnAbortedSend() throws Exception {
        SharedPipe.End first = pipe.first();
        SharedPipe.End second = pipe.second();
        Codec<Long> failing = new Codec<>() {
            @Override
            public int typeId() {
                return 1;
            }

            @Override
            public int encodedLength(Long value) {
                return Long.BYTES;
            }

            @Override
            public void encode(Long value, MemorySegment target, long offset) {
                throw new IllegalStateException("no");
            }

            @Override
            public Long decode(MemorySegment source, long offset, int length) {
                throw new IllegalStateException("never sent");
            }
        };
        assertThatThrownBy(() -> second.send(1L, failing, BOUND)).hasMessage("no");
        second.close();
        assertThat(first.poll()).as("the end of stream").isTrue();
        assertThat(first.poll(BOUND)).isTrue();
        assertThatThrownBy(() -> first.recv(BOUND)).isInstanceOf(PipeClosedException.class);
    }

    @Test
    void shouldThrowWhenInterruptedOrClosedOrGivenNoTimeout() throws Exception {
        SharedPipe.End first = pipe.first();
        CompletableFuture<Thread> waiter = new CompletableFuture<>();
        Future<Throwable> polled = pool.submit(() -> {
            waiter.complete(Thread.currentThread());
            try {
                first.poll(BOUND);
                return null;
            } catch (InterruptedException e) {
                return e;
            }
        });
        awaitBlocked(SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET, "pipe.ba", 0);
        waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS).interrupt();
        assertThat(polled.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        assertThatThrownBy(() -> first.poll(null)).isInstanceOf(NullPointerException.class).hasMessage("timeout");
        first.close();
        assertThatThrownBy(() -> first.poll(BOUND)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("first end of pipe 'pipe'");
    }

    /**
     * Waits until a receiver announced itself blocked on the ring {@code ringName} (the waiting bit of its waiters
     * word at {@code offset}), which each round's send then clears.
     */
    private void awaitBlocked(long offset, String ringName, int round) {
        MemorySegment block = heap.find(ringName).orElseThrow().segment();
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (((int) JAVA_INT.varHandle().getVolatile(block, offset) & SyncLayout.RING_WAITING) == 0) {
            assertThat(System.nanoTime() - deadline).as("a receiver blocked in round " + round).isNegative();
            Thread.onSpinWait();
        }
    }
}
