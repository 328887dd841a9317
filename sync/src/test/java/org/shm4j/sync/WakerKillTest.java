package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.Await;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.internal.SyncLayout.COORD_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.COORD_WORD_OFFSET;

/**
 * The waker of a latch, an event and a plain semaphore killed between the CAS that releases the waiters (and clears
 * their waiters bit) and its futex wake of them (stopped there by a debugger, {@link KilledAtCall}, and SIGKILLed),
 * while a thread of this process is blocked in an {@code await} or {@code acquire} without a timeout.
 * {@code CoordinationKillTest} kills counters and setters at random moments, which seldom land between the two.
 * <ul>
 * <li>ACCEPTABLE: the blocked thread returns at its next liveness slice (about 50 ms), with the release the dead
 *     waker made: the latch open, the event set, the permit there once.</li>
 * <li>FORBIDDEN: the thread asleep past {@link #BOUND} (a wake lost for good); a permit lost or counted twice.</li>
 * </ul>
 */
@Timeout(120)
class WakerKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"latch", "event", "semaphore"})
    void shouldWakeAThreadBlockedWithoutTimeoutWhenItsWakerIsKilledBeforeTheWake(String kind) throws Exception {
        String heapName = names.unique("waker-" + kind);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            CompletableFuture<Void> blocked = switch (kind) {
                case "latch" -> {
                    SharedCountDownLatch latch = SharedCountDownLatch.create(heap, kind, 1);
                    yield run(latch::await);
                }
                case "event" -> {
                    SharedEvent event = SharedEvent.create(heap, kind);
                    yield run(event::await);
                }
                default -> {
                    SharedSemaphore semaphore = SharedSemaphore.create(heap, kind, 0);
                    yield run(semaphore::acquire);
                }
            };
            MemorySegment block = heap.find(kind).orElseThrow().segment();
            Await.until("the waiter announced in the word", BOUND,
                    () -> (block.get(JAVA_INT, COORD_WORD_OFFSET) & COORD_WAITERS) != 0);
            KilledAtCall.Step step = new KilledAtCall.Step(Waits.class.getName(), "wakeAllIfAnnounced",
                    kind.equals("semaphore") ? "release" : "updateAndWakeAll");
            try (KilledAtCall waker = KilledAtCall.start(step, Waker.class, heapName, kind)) {
                waker.awaitKilled(BOUND);
            }
            blocked.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            switch (kind) {
                case "latch" -> assertThat(SharedCountDownLatch.open(heap, kind).getCount()).isZero();
                case "event" -> assertThat(SharedEvent.open(heap, kind).isSet()).isTrue();
                default -> assertThat(SharedSemaphore.open(heap, kind).availablePermits()).as("the one permit taken")
                        .isZero();
            }
        }
    }

    /** A blocking call of the waiting side. */
    private interface Wait {
        void run() throws InterruptedException;
    }

    private CompletableFuture<Void> run(Wait wait) {
        return CompletableFuture.runAsync(() -> {
            try {
                wait.run();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, threads);
    }

    /** {@code main(heap, kind)}: counts the latch down, sets the event or releases a permit; killed before the wake. */
    public static final class Waker {
        public static void main(String[] args) {
            SharedHeap heap = SharedHeap.open(args[0]);
            switch (args[1]) {
                case "latch" -> SharedCountDownLatch.open(heap, args[1]).countDown();
                case "event" -> SharedEvent.open(heap, args[1]).set();
                default -> SharedSemaphore.open(heap, args[1]).release();
            }
            System.out.println("ERROR: the release returned");
        }
    }
}
