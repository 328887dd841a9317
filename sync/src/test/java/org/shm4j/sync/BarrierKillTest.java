package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parties of a {@link SharedBarrier} SIGKILLed at random moments, wave after wave, while two threads of this process
 * go on awaiting it. It has {@link #PARTIES} parties: the two survivors and the two victims of the wave. A victim
 * registers (so that its death breaks the generation even before it arrives), then loops await, and now and then
 * resets the barrier unasked; every party that gets {@link BrokenBarrierException} resets the barrier if it is still
 * broken; every party's view has a barrier action that spins a little. So kills land just after registering, while
 * arriving (between the arrival CAS and the slot write), waiting, tripping, running the action (or between counting
 * itself in as the last party and writing its slot), and inside {@code reset()} (the generation broken, the next not
 * started).
 * <ul>
 * <li>ACCEPTABLE: {@link BrokenBarrierException} for the generation a victim was killed in, or that a reset broke;
 *     the barrier left broken by a victim killed inside {@code reset()}, until a survivor resets it.</li>
 * <li>FORBIDDEN: a survivor's await that neither returns nor throws {@link BrokenBarrierException} within
 *     {@link #BOUND} (a timeout: a dead party went unnoticed, or a broken barrier could not be reset); after each
 *     wave, the dead victims not noticed within {@link #NOTICE_BOUND} (see {@link #awaitNoticed}); an arrival index
 *     outside {@code 0..PARTIES-1}; once the victims are dead and the barrier reset, registrations left, or a
 *     generation of {@link #PARTIES} live parties that does not trip with each index once.</li>
 * </ul>
 */
@Timeout(180)
class BarrierKillTest {
    private static final Duration BOUND = Children.BOUND;
    private static final int PARTIES = 4;
    private static final int SURVIVORS = 2;
    private static final int WAVES = 6;
    /** A victim is killed up to this long after its first trip. */
    private static final long KILL_JITTER_NANOS = 100_000_000;
    /** The barrier action of every party spins up to this long. */
    private static final long ACTION_NANOS = 200_000;
    /** A victim resets the barrier unasked before one await in this many. */
    private static final int RESET_ONE_IN = 8;
    /** How soon after the last victim of a wave is killed the survivors must have noticed (by about 50 ms). */
    private static final Duration NOTICE_BOUND = Duration.ofSeconds(10);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldBreakResetAndGoOnWhileAwaitingAndResettingPartiesAreKilled() throws Exception {
        String heapName = names.unique("barrier-kill");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16);
             ExecutorService threads = Executors.newFixedThreadPool(PARTIES)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", PARTIES);
            AtomicBoolean running = new AtomicBoolean(true);
            List<Future<Long>> survivors = new ArrayList<>();
            SharedBarrier acting = withAction(barrier);
            for (int s = 0; s < SURVIVORS; s++) {
                survivors.add(threads.submit(() -> loop(acting, running::get, null)));
            }
            try {
                for (int wave = 0; wave < WAVES; wave++) {
                    RandomKills.wave(random, KILL_JITTER_NANOS, PARTIES - SURVIVORS, "TRIPPED",
                            () -> ChildJvm.start(Victim.class, heapName));
                    awaitNoticed(barrier, seed);
                }
            } catch (Throwable failed) {
                threads.shutdownNow(); // a survivor waiting for parties that will not come stops at once
                throw failed;
            } finally {
                running.set(false);
            }
            long trips = 0;
            for (Future<Long> survivor : survivors) {
                trips += stop(barrier, survivor);
            }
            assertThat(trips).as("survivor trips (seed %d)", seed).isPositive();
            barrier.reset();
            assertThat(barrier.getRegisteredParties()).as("registrations of the killed victims freed").isZero();
            List<Future<Integer>> last = new ArrayList<>();
            for (int p = 0; p < PARTIES; p++) {
                last.add(threads.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)));
            }
            Set<Integer> indices = new HashSet<>();
            for (Future<Integer> party : last) {
                indices.add(party.get(BOUND.toSeconds(), TimeUnit.SECONDS));
            }
            assertThat(indices).as("one generation of live parties after the kills").hasSize(PARTIES)
                    .allMatch(i -> i >= 0 && i < PARTIES);
            assertThat(barrier.isBroken()).isFalse();
            System.out.println("barrier kills (seed " + seed + "): " + WAVES * (PARTIES - SURVIVORS)
                    + " victims, " + trips + " survivor trips");
        }
    }

    /** @return a view of {@code barrier} whose action spins up to {@link #ACTION_NANOS}, so that kills land in it */
    private static SharedBarrier withAction(SharedBarrier barrier) {
        return barrier.withAction(() -> RandomKills.spin(ThreadLocalRandom.current().nextLong(ACTION_NANOS)));
    }

    /**
     * Waits until the survivors noticed that every victim of a wave is dead: the generation they arrived in broken
     * (so that no more than the survivors wait) and reset (which frees the victims' registrations). A dead party
     * left unnoticed would keep the survivors waiting for the next wave's parties instead.
     */
    private static void awaitNoticed(SharedBarrier barrier, long seed) {
        long deadline = System.nanoTime() + NOTICE_BOUND.toNanos();
        while (barrier.getRegisteredParties() > 0 || barrier.getNumberWaiting() > SURVIVORS) {
            assertThat(System.nanoTime() - deadline).as("the killed victims noticed within %s: %s (seed %d)",
                    NOTICE_BOUND, barrier, seed).isNegative();
            Thread.yield();
        }
    }

    /**
     * Stops a survivor after {@code running} turned false: it may be waiting for parties that will not come, so the
     * barrier is reset until it returns.
     *
     * @return its trips
     */
    private static long stop(SharedBarrier barrier, Future<Long> survivor) throws Exception {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (true) {
            barrier.reset(); // a waiting survivor gets BrokenBarrierException and sees running false
            try {
                return survivor.get(100, TimeUnit.MILLISECONDS);
            } catch (TimeoutException stillWaiting) {
                assertThat(System.nanoTime() - deadline).as("survivor stopped within " + BOUND).isNegative();
            }
        }
    }

    /**
     * Awaits the barrier in {@link #round}s while {@code goOn} holds.
     *
     * @return the trips
     */
    static long loop(SharedBarrier barrier, BooleanSupplier goOn, Random random) throws Exception {
        long trips = 0;
        while (goOn.getAsBoolean()) {
            if (round(barrier, random)) {
                trips++;
            }
        }
        return trips;
    }

    /**
     * Awaits the barrier once (with {@code random}, after resetting it unasked now and then), and resets it if it
     * broke and is still broken.
     *
     * @return true if the generation tripped
     * @throws TimeoutException if the await lasted {@link #BOUND} (the generation is then broken)
     */
    static boolean round(SharedBarrier barrier, Random random) throws Exception {
        if (random != null && random.nextInt(RESET_ONE_IN) == 0) {
            barrier.reset(); // a kill inside leaves the generation broken, the next not started
        }
        try {
            int index = barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS);
            if (index < 0 || index >= PARTIES) {
                throw new AssertionError("arrival index " + index + " of " + PARTIES + " parties");
            }
            return true;
        } catch (BrokenBarrierException e) {
            if (barrier.isBroken()) {
                barrier.reset();
            }
            return false;
        }
    }

    /**
     * {@code main(heap)}: registers (never deregistering: its death must be noticed), then awaits in
     * {@link #round}s with random resets until killed; prints TRIPPED after its first trip.
     */
    public static final class Victim {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedBarrier barrier = withAction(SharedBarrier.open(heap, "barrier"));
                long deadline = System.nanoTime() + BOUND.toNanos();
                register(barrier, deadline);
                Random random = new Random();
                while (!round(barrier, random)) {
                    assertThat(System.nanoTime() - deadline).as("a trip within " + BOUND).isNegative();
                }
                RandomKills.say("TRIPPED");
                loop(barrier, () -> System.nanoTime() - deadline < 0, random);
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }

        /** Registers, resetting the barrier (which frees the registrations of dead victims) while all are taken. */
        private static void register(SharedBarrier barrier, long deadline) {
            while (true) {
                try {
                    barrier.register();
                    return;
                } catch (IllegalStateException allTaken) {
                    if (System.nanoTime() - deadline > 0) {
                        throw allTaken;
                    }
                    barrier.reset();
                }
            }
        }
    }
}
