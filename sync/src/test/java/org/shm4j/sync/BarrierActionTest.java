package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;

/**
 * {@link SharedBarrier#withAction}: the barrier action runs once a generation, in the last party, before any party is
 * released; its exception breaks the generation; timeouts and interrupts of waiters while it runs wait for its end; a
 * party of the next generation waits before it arrives; the death of the action's process (or of a last party before
 * it wrote its slot) breaks the generation. And {@link SharedBarrier#abort()}.
 */
@Timeout(300)
class BarrierActionTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldRunTheActionOnceAGenerationInTheLastPartyBeforeAnyIsReleased() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier plain = SharedBarrier.create(heap, "b", 3);
            SharedLong trips = SharedLong.create(heap, "trips");
            AtomicReference<Thread> runner = new AtomicReference<>();
            SharedBarrier barrier = plain.withAction(() -> {
                runner.set(Thread.currentThread());
                trips.incrementAndGet();
            });
            int generations = 200;
            List<String> failures = inThreads(3, () -> {
                for (int g = 0; g < generations; g++) {
                    int index = barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                    if (trips.get() != 2L * g + 1) {
                        return "round " + g + " released before its action ran: trips=" + trips.get();
                    }
                    if ((index == 0) != (runner.get() == Thread.currentThread())) {
                        return "round " + g + ": index " + index + " but the action ran in " + runner.get();
                    }
                    // nobody runs ahead to the next check: its generation's action waits for the other two
                    barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                }
                return "";
            });
            assertThat(failures).containsOnly("");
            assertThat(trips.get()).as("one action per generation through the action's view, 2 per round")
                    .isEqualTo(2L * generations);
            assertThat(plain.isBroken()).isFalse();
        }
    }

    @Test
    void shouldBreakTheGenerationAndPassTheActionsExceptionToTheLastParty() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "b", 2);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Integer> waiter = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the first party waits", () -> barrier.getNumberWaiting() == 1);
                SharedBarrier failing = barrier.withAction(() -> {
                    throw new IllegalStateException("the action failed");
                });
                assertThatThrownBy(() -> failing.await(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .isInstanceOf(IllegalStateException.class).hasMessage("the action failed");
                assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .hasCauseInstanceOf(BrokenBarrierException.class);
                assertThat(barrier.isBroken()).isTrue();
                barrier.reset();
                Future<Integer> next = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the next party waits", () -> barrier.getNumberWaiting() == 1);
                assertThat(barrier.withAction(() -> { }).await(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero();
                assertThat(next.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(1);

                // a checked exception thrown sneakily, and one the barrier's memory checks would take for theirs
                for (Exception thrown : List.of(new IOException("sneaky"), new IllegalArgumentException("bad"))) {
                    Future<Integer> other = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                    Children.awaitTrue("the other party waits", () -> barrier.getNumberWaiting() == 1);
                    assertThatThrownBy(() -> barrier.withAction(() -> sneakyThrow(thrown))
                            .await(BOUND.toSeconds(), TimeUnit.SECONDS)).isSameAs(thrown);
                    assertThatThrownBy(() -> other.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                            .hasCauseInstanceOf(BrokenBarrierException.class);
                    barrier.reset();
                }
            } finally {
                pool.shutdownNow();
            }
            assertThatThrownBy(() -> barrier.withAction(null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("action");
        }
    }

    @Test
    void shouldLetTheActionDecideWhenAWaitersTimeoutOrInterruptComesWhileItRuns() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "b", 3);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                long timeoutMillis = 1_000; // long enough for this thread to arrive before it passes
                AtomicReference<Thread> interruptible = new AtomicReference<>();
                AtomicLong timedStart = new AtomicLong();
                Future<String> timed = pool.submit(() -> {
                    long start = System.nanoTime();
                    timedStart.set(start);
                    int index = barrier.await(timeoutMillis, TimeUnit.MILLISECONDS);
                    return index + " after " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms";
                });
                Future<String> interrupted = pool.submit(() -> {
                    interruptible.set(Thread.currentThread());
                    int index = barrier.await();
                    return index + " interrupted=" + Thread.currentThread().isInterrupted();
                });
                Children.awaitTrue("two parties wait", () -> barrier.getNumberWaiting() == 2);
                int last = barrier.withAction(() -> {
                    interruptible.get().interrupt();
                    // the action outlasts the timed party's timeout, by design of this test
                    Children.awaitTrue("the timeout passed", () -> System.nanoTime() - timedStart.get()
                            > TimeUnit.MILLISECONDS.toNanos(2 * timeoutMillis));
                }).await(BOUND.toSeconds(), TimeUnit.SECONDS);
                assertThat(last).isZero();
                String timedResult = timed.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                assertThat(timedResult).as("released by the trip, not its timeout").matches("[12] after \\d+ ms");
                assertThat(Long.parseLong(timedResult.split(" ")[2])).isGreaterThan(timeoutMillis);
                assertThat(interrupted.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("returns, the interrupt kept")
                        .matches("[12] interrupted=true");
                assertThat(barrier.isBroken()).isFalse();
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldKeepAPartyOfTheNextGenerationWaitingUntilTheActionEnds() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "b", 2);
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                Future<Integer> first = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the first party waits", () -> barrier.getNumberWaiting() == 1);
                AtomicReference<Future<Integer>> early = new AtomicReference<>();
                AtomicReference<Future<Integer>> impatient = new AtomicReference<>();
                barrier.withAction(() -> {
                    early.set(pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)));
                    impatient.set(pool.submit(() -> barrier.await(50, TimeUnit.MILLISECONDS)));
                    assertThatThrownBy(() -> impatient.get().get(BOUND.toSeconds(), TimeUnit.SECONDS))
                            .as("a party that waited to arrive past its timeout").hasCauseInstanceOf(
                                    TimeoutException.class).hasMessageContaining("did not arrive");
                    assertThat(barrier.getNumberWaiting()).as("all arrived, nobody of the next").isEqualTo(2);
                }).await(BOUND.toSeconds(), TimeUnit.SECONDS);
                assertThat(first.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(1);
                Children.awaitTrue("the early party arrived in the next generation",
                        () -> barrier.getNumberWaiting() == 1);
                assertThat(barrier.isBroken()).as("a party that did not arrive breaks nothing").isFalse();
                assertThat(barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero();
                assertThat(early.get().get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(1);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldBreakForEveryoneUntilResetWhenAborted() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "b", 3);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<Future<Integer>> waiters = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    waiters.add(pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)));
                }
                Children.awaitTrue("two parties wait", () -> barrier.getNumberWaiting() == 2);
                barrier.abort();
                for (Future<Integer> waiter : waiters) {
                    assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                            .hasCauseInstanceOf(BrokenBarrierException.class);
                }
                assertThat(barrier.isBroken()).isTrue();
                assertThatThrownBy(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)).as("a later arrival")
                        .isInstanceOf(BrokenBarrierException.class).hasMessageStartingWith("barrier 'b' is broken (");
                barrier.abort(); // already broken: nothing
                barrier.reset();
                assertThat(barrier.isBroken()).isFalse();
                barrier.abort(); // nobody arrived: broken all the same, as Python's abort()
                assertThat(barrier.isBroken()).isTrue();
                barrier.reset();
                for (int i = 0; i < 2; i++) {
                    waiters.set(i, pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)));
                }
                Children.awaitTrue("two parties wait again", () -> barrier.getNumberWaiting() == 2);
                assertThat(barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero();
                for (Future<Integer> waiter : waiters) {
                    assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isIn(1, 2);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldBreakWhenTheProcessRunningTheActionIsKilled() throws Exception {
        String heapName = names.unique("barrier-action");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Integer> waiter = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the first party waits", () -> barrier.getNumberWaiting() == 1);
                try (ChildJvm child = ChildJvm.start(ActionParty.class, heapName)) {
                    child.awaitLine("ACTION", BOUND);
                    assertThat(barrier.getNumberWaiting()).as("both counted while the action runs").isEqualTo(2);
                    child.kill();
                }
                long killed = System.nanoTime();
                assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .hasCauseInstanceOf(BrokenBarrierException.class);
                assertThat(System.nanoTime() - killed).as("broken by the death, well before any timeout")
                        .isLessThan(TimeUnit.SECONDS.toNanos(10));
            } finally {
                pool.shutdownNow();
            }
            barrier.reset();
            assertThat(barrier.isBroken()).isFalse();
        }
    }

    @Test
    void shouldBreakWhenTheLastPartyCountedItselfInButNeverWroteItsSlot() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "step", 3);
            MemorySegment block = heap.find("step").orElseThrow().segment();
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<Integer> waiter = pool.submit(() -> barrier.await());
                Children.awaitTrue("the first party waits", () -> barrier.getNumberWaiting() == 1);
                // what a last party killed between its CAS and its slot leaves: 3 of 3, slot 2 of another generation
                SharedBarrierTest.setArrived(block, 3);
                Future<Integer> next = pool.submit(() -> barrier.await());
                long start = System.nanoTime();
                assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("an untimed waiter")
                        .hasCauseInstanceOf(BrokenBarrierException.class);
                assertThatThrownBy(() -> next.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("one waiting to arrive")
                        .hasCauseInstanceOf(BrokenBarrierException.class);

                assertThat(System.nanoTime() - start).as("about a second").isLessThan(TimeUnit.SECONDS.toNanos(10));
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldBreakAGenerationWithoutARunnerForAPartyThatOnlyWaitsShortly() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "step", 2);
            SharedBarrierTest.setArrived(heap.find("step").orElseThrow().segment(), 2); // no runner's slot
            long start = System.nanoTime();
            int timeouts = 0;
            while (true) { // 100 ms waits, each shorter than the second a runner gets: they add up
                try {
                    barrier.await(100, TimeUnit.MILLISECONDS);
                    throw new AssertionError("a generation without a runner tripped");
                } catch (TimeoutException stillWaiting) {
                    timeouts++;
                    assertThat(System.nanoTime() - start).as("broken within the bound").isLessThan(BOUND.toNanos());
                } catch (BrokenBarrierException | InterruptedException broken) {
                    break;
                }
            }
            assertThat(timeouts).as("waits before the break").isPositive();
            assertThat(barrier.isBroken()).isTrue();
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void sneakyThrow(Throwable t) throws E {
        throw (E) t;
    }

    /** Runs {@code body} in {@code count} threads. @return what each returned */
    private static List<String> inThreads(int count, Callable<String> body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(count);
        try {
            List<Future<String>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                futures.add(pool.submit(body));
            }
            List<String> results = new ArrayList<>();
            for (Future<String> future : futures) {
                results.add(future.get(BOUND.toSeconds(), TimeUnit.SECONDS));
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    /** {@code main(heap)}: arrives last at "barrier" through a view whose action says ACTION and waits to be killed. */
    public static final class ActionParty {
        public static void main(String[] args) throws Exception {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                AtomicLong never = new AtomicLong();
                SharedBarrier.open(heap, "barrier").withAction(() -> {
                    Children.say("ACTION");
                    try {
                        Thread.sleep(BOUND.toMillis()); // killed long before this ends
                    } catch (InterruptedException e) {
                        never.incrementAndGet();
                    }
                }).await();
            }
        }
    }
}
