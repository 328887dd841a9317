package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.BarrierGenerations;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.Await;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A party of a {@link SharedBarrier} SIGKILLed at an exact step of its arrival (the child stopped there by a debugger,
 * {@link KilledAtCall}): after the CAS that counts it and before it writes its arrival slot, or after that write and
 * before it starts waiting; then the remaining parties, in this process, arrive at once, the last of them before any
 * waiter's liveness check could run. The last arrival itself must find the dead party. Also the last party, with a
 * barrier action, killed after its slot write: before the action, or after it and before its trip; then only a
 * waiter, or a party waiting to arrive, can find it.
 * <ul>
 * <li>ACCEPTABLE: {@link BrokenBarrierException} for every live party of the generation, the last arrival included,
 *     well before their timeouts, the barrier action not run; for a party that did not register and died before its
 *     slot write (nothing names it), the trip the Javadoc describes.</li>
 * <li>FORBIDDEN: the trip of a generation a registered party died in, or of one whose dead party wrote its slot; a
 *     live party's await that times out; after {@code reset()}, the dead party's registration left, or live parties
 *     that do not trip the barrier with each arrival index once.</li>
 * </ul>
 */
@Timeout(120)
class BarrierArrivalKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    /** Much longer than a test's bound: a live party's timeout must never be what ends its generation. */
    private static final Duration LONG = BOUND.multipliedBy(4);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
    }

    /**
     * Two parties: the child registers, arrives first and is killed before its slot write; this process's party
     * arrives last, before anything else looked: its arrival must break the generation, not trip it.
     */
    @Test
    void shouldBreakForTheLastArrivalWhenARegisteredPartyIsKilledBeforeItsSlotWrite() throws Exception {
        String heapName = names.unique("arrival-slot");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            killArriving(heapName, beforeSlotWrite(), "registered", 0);
            assertThat(await(barrier, LONG)).isInstanceOf(BrokenBarrierException.class);
            assertThat(barrier.isBroken()).isTrue();
            assertResetAndTrips(barrier);
        }
    }

    /**
     * The same with a barrier action on the last party's view: the generation breaks before the action would run, and
     * the last party gets {@link BrokenBarrierException} rather than a trip.
     */
    @Test
    void shouldNotRunTheActionWhenARegisteredPartyIsKilledBeforeItsSlotWrite() throws Exception {
        String heapName = names.unique("arrival-action");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            killArriving(heapName, beforeSlotWrite(), "registered", 0);
            AtomicInteger runs = new AtomicInteger();
            assertThat(await(barrier.withAction(runs::incrementAndGet), LONG))
                    .isInstanceOf(BrokenBarrierException.class);
            assertThat(runs).as("action runs").hasValue(0);
            assertThat(barrier.isBroken()).isTrue();
            assertResetAndTrips(barrier);
        }
    }

    /**
     * Three parties: one of this process waits, the child registers, arrives second and is killed before its slot
     * write, and the third party, of this process, arrives at once: both live parties get
     * {@link BrokenBarrierException}, whoever of them finds the dead party first.
     */
    @Test
    void shouldBreakForEveryLivePartyWhenARegisteredPartyIsKilledBeforeItsSlotWrite() throws Exception {
        assertWaiterAndLateArrivalBreak(3, beforeSlotWrite(), "registered");
    }

    /**
     * Two parties: the child, not registered, arrives first and is killed after its slot write, before it waits; the
     * last arrival finds it by its slot and breaks the generation.
     */
    @Test
    void shouldBreakForTheLastArrivalWhenAPartyIsKilledAfterItsSlotWriteBeforeWaiting() throws Exception {
        String heapName = names.unique("arrival-written");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            killArriving(heapName, new KilledAtCall.Step(BarrierGenerations.class.getName(), "awaitTrip",
                    "arriveAndWait"), "unregistered", 0);
            AtomicInteger runs = new AtomicInteger();
            assertThat(await(barrier.withAction(runs::incrementAndGet), LONG))
                    .isInstanceOf(BrokenBarrierException.class);
            assertThat(runs).as("action runs").hasValue(0);
            assertResetAndTrips(barrier);
        }
    }

    /**
     * Two parties: the child, not registered, arrives first and is killed before its slot write. Nothing names its
     * process, so (as the class Javadoc says) it counts as arrived and the last arrival trips the generation.
     */
    @Test
    void shouldTripWhenAnUnregisteredPartyIsKilledBeforeItsSlotWrite() throws Exception {
        String heapName = names.unique("arrival-unknown");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            killArriving(heapName, beforeSlotWrite(), "unregistered", 0);
            assertThat(await(barrier, LONG)).isEqualTo(0);
            assertThat(barrier.isBroken()).isFalse();
            assertResetAndTrips(barrier);
        }
    }

    /**
     * Two parties: one of this process waits; the child arrives last with a barrier action and is killed after it
     * wrote its slot, before the action starts. The waiter's timeout does not end a wait on a running action, so
     * only the runner's slot can end it: the waiter finds the dead runner there and breaks the generation.
     */
    @Test
    void shouldBreakWhenTheActionsRunnerIsKilledBeforeTheAction() throws Exception {
        assertWaiterAndLateArrivalBreak(2, new KilledAtCall.Step(BarrierGenerations.class.getName(), "runAction",
                "runActionAndTrip"), "action");
    }

    /**
     * The same with the runner killed after its action ran, before the CAS that trips the generation (its third check
     * that the generation did not end meanwhile).
     */
    @Test
    void shouldBreakWhenTheActionsRunnerIsKilledBeforeItsTrip() throws Exception {
        assertWaiterAndLateArrivalBreak(2, new KilledAtCall.Step(BarrierGenerations.class.getName(), "ended",
                "runActionAndTrip", 3), "action");
    }

    /**
     * A barrier of {@code parties}: a party of this process waits, the child arrives second ({@code role}: as
     * {@link Arriving} takes it) and is killed at {@code step}; the waiter, and a party of this process that arrives
     * after the kill, get {@link BrokenBarrierException} within the bound (far shorter than the waiter's timeout).
     */
    private void assertWaiterAndLateArrivalBreak(int parties, KilledAtCall.Step step, String role) throws Exception {
        String heapName = names.unique("arrival-" + role);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", parties);
            CompletableFuture<Object> waiting = CompletableFuture.supplyAsync(() -> await(barrier, LONG), threads);
            Await.until("the first party waiting", BOUND, () -> barrier.getNumberWaiting() == 1);
            killArriving(heapName, step, role, 1);
            assertThat(await(barrier, LONG)).as("a party arriving after the kill")
                    .isInstanceOf(BrokenBarrierException.class);
            assertThat(waiting.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the waiter")
                    .isInstanceOf(BrokenBarrierException.class);
            assertResetAndTrips(barrier);
        }
    }

    /** @return the step after a party's arrival CAS and before its slot write */
    private static KilledAtCall.Step beforeSlotWrite() {
        return new KilledAtCall.Step(BarrierGenerations.class.getName(), "writeSlot", "arriveAndWait");
    }

    /** Runs {@link Arriving} in a child, which arrives after {@code waiting} parties, and kills it at {@code step}. */
    private static void killArriving(String heapName, KilledAtCall.Step step, String registration, int waiting)
            throws InterruptedException {
        try (KilledAtCall child = KilledAtCall.start(step, Arriving.class, heapName, registration,
                Integer.toString(waiting))) {
            child.awaitKilled(BOUND);
        }
    }

    /** Resets the barrier: the dead party's registration is freed, and as many live parties as it has trip it. */
    private void assertResetAndTrips(SharedBarrier barrier) throws Exception {
        barrier.reset();
        assertThat(barrier.getRegisteredParties()).as("registrations left").isZero();
        List<CompletableFuture<Object>> parties = new ArrayList<>();
        for (int i = 0; i < barrier.getParties(); i++) {
            parties.add(CompletableFuture.supplyAsync(() -> await(barrier, BOUND), threads));
        }
        List<Object> indices = new ArrayList<>();
        for (CompletableFuture<Object> party : parties) {
            indices.add(party.get(BOUND.toSeconds(), TimeUnit.SECONDS));
        }
        assertThat(indices).containsExactlyInAnyOrderElementsOf(
                IntStream.range(0, barrier.getParties()).boxed().toList());
    }

    /** @return the arrival index, or what the await, with {@code timeout}, threw */
    private static Object await(SharedBarrier barrier, Duration timeout) {
        try {
            return barrier.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return e;
        }
    }

    /**
     * {@code main(heap, registered|unregistered|action, waiting)}: registers a party (registered) or not, waits until
     * {@code waiting} parties wait, then arrives, through a view with an empty barrier action for {@code action};
     * killed before its await returns.
     */
    public static final class Arriving {
        public static void main(String[] args) throws Exception {
            SharedBarrier barrier = SharedBarrier.open(SharedHeap.open(args[0]), "barrier");
            if (args[1].equals("registered")) {
                barrier.register();
            }
            int waiting = Integer.parseInt(args[2]);
            Await.until(waiting + " parties waiting", BOUND, () -> barrier.getNumberWaiting() == waiting);
            (args[1].equals("action") ? barrier.withAction(() -> { }) : barrier).await();
            System.out.println("ERROR: the await returned");
        }
    }
}
