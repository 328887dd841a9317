package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.testing.Await;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Signallers of a {@link SharedCondition} SIGKILLed, one after another, while a thread of this process waits on the
 * condition for one round after another. A victim loops: lock, publish the round the waiter waits for (its value and
 * when), {@code signal()}, unlock. One is killed at a random moment of that loop (before the state change, between
 * it and the signal, inside the signal between its compare-and-set and its futex wake, or after it), and on demand
 * ({@link #STOPS}) one after publishing and before signalling, one after signalling, both holding the lock. After
 * each kill this process repairs as a careful user does: it takes the lock and,
 * if taken over from the dead victim, signals every waiter and marks the lock consistent.
 * {@link ConditionKillTest} kills the waiters; {@link CoordinationKillTest} the signallers of latches and events.
 * <ul>
 * <li>FORBIDDEN: the waiter still waiting {@link #WAKE_BOUND} after the state it waits for was published (a wake-up
 *     lost, or a lock not taken over); a round skipped or seen twice.</li>
 * <li>ACCEPTABLE: a wake-up that comes at the waiter's next 50 ms slice (its signaller was killed before waking);
 *     the lock taken over from a victim by the waiter or by this process's repair.</li>
 * </ul>
 */
@Timeout(180)
class SignallerKillTest {
    private static final Duration BOUND = Children.BOUND;
    /** How long after the state it waits for was published the waiter must have returned. */
    private static final Duration WAKE_BOUND = Duration.ofSeconds(5);
    private static final int WAVES = 3;
    /** A victim is killed up to this long after it reported its loop running. */
    private static final long KILL_JITTER_NANOS = 200_000_000;
    /** A victim waits up to this long before each round, so that the waiter is blocked when the signal comes. */
    private static final long ROUND_GAP_NANOS = 1_000_000;
    /** A victim holds the lock up to this long between publishing and signalling, and after signalling. */
    private static final long HOLD_NANOS = 2_000_000;
    /**
     * Where a victim is killed: at a random moment of its loop, or on demand holding the lock, after it published a
     * round and before it signalled, or after it signalled.
     */
    private static final String[] STOPS = {"random", "published", "signalled"};
    /** Indexes of the shared state: the round the waiter waits for, the round published, when it was published. */
    private static final int WANTED = 0;
    private static final int PUBLISHED = 1;
    private static final int PUBLISHED_AT = 2;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldWakeAConditionWaiterWhoseSignallersAreKilledHoldingTheLock() throws Exception {
        String heapName = names.unique("signaller-kill");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16);
             ExecutorService thread = Executors.newSingleThreadExecutor()) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition changed = SharedCondition.create(heap, "changed", lock);
            SharedLongArray state = SharedLongArray.create(heap, "state", 3);
            AtomicBoolean running = new AtomicBoolean(true);
            Future<Long> waiter = thread.submit(() -> awaitRounds(lock, changed, state, running));
            long rounds;
            try {
                for (int wave = 0; wave < WAVES; wave++) {
                    killOne(heapName, STOPS[wave % STOPS.length], random);
                    repair(lock, changed);
                    awaitWoken(waiter, state);
                }
                running.set(false);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (!waiter.isDone() && System.nanoTime() - deadline < 0) { // this process signals the last rounds
                    lock.lock();
                    try {
                        if (state.get(PUBLISHED) < state.get(WANTED)) {
                            publish(state);
                            changed.signal();
                        }
                    } finally {
                        lock.unlock();
                    }
                    Thread.onSpinWait();
                }
                rounds = waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            } finally {
                thread.shutdownNow(); // after a failed check the waiter may still wait: interrupted
            }
            assertThat(rounds).as("rounds (seed %d)", seed).isEqualTo(state.get(PUBLISHED)).isGreaterThan(WAVES);
            System.out.println("condition signaller kills (seed " + seed + "): " + WAVES + " killed, " + rounds
                    + " rounds, " + lock.recoveries() + " take-overs of the lock");
        }
    }

    /** Starts a victim and kills it where {@code stop} says: at a random moment of its loop, or at that stop. */
    private static void killOne(String heapName, String stop, Random random) throws InterruptedException {
        if (stop.equals("random")) {
            RandomKills.wave(random, KILL_JITTER_NANOS, 1, "SIGNALLING",
                    () -> ChildJvm.start(Signaller.class, heapName, stop));
            return;
        }
        try (ChildJvm victim = ChildJvm.start(Signaller.class, heapName, stop)) {
            victim.awaitLine(stop.toUpperCase(Locale.ROOT), BOUND);
            victim.kill();
        }
    }

    /**
     * Waits until the waiter returned from every round published (it then wants one more), failing at once with the
     * waiter's own failure, or after {@link #WAKE_BOUND} with a lost wake-up.
     */
    private static void awaitWoken(Future<Long> waiter, SharedLongArray state) throws Exception {
        long published = state.get(PUBLISHED);
        Await.until("the waiter woken for round " + published + " (a lost wake-up?)", WAKE_BOUND,
                () -> waiter.isDone() || state.get(WANTED) > published);
        if (waiter.isDone()) {
            waiter.get(); // throws what failed it
        }
    }

    /** Takes the lock; if it was taken over from a killed signaller, wakes every waiter and marks it consistent. */
    private static void repair(SharedLock lock, SharedCondition changed) {
        lock.lock();
        try {
            if (!lock.isConsistent()) {
                changed.signalAll(); // the dead holder may have changed the state without signalling
                lock.markConsistent();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Publishes the round the waiter waits for, with the time: called holding the lock. */
    private static void publish(SharedLongArray state) {
        state.set(PUBLISHED_AT, System.nanoTime()); // CLOCK_MONOTONIC: comparable across processes
        state.set(PUBLISHED, state.get(WANTED));
    }

    /**
     * The waiter: waits for round 1, 2, ... in turn until {@code running} is false and the round it waits for came,
     * checking each comes within {@link #WAKE_BOUND} of its publication.
     *
     * @return the rounds seen
     */
    private static long awaitRounds(SharedLock lock, SharedCondition changed, SharedLongArray state,
                                    AtomicBoolean running) throws InterruptedException {
        long round = 0;
        boolean more = true;
        while (more) {
            more = running.get(); // read before waiting: the round published after the waves is the last
            round++;
            lock.lock();
            try {
                markIfTakenOver(lock);
                state.set(WANTED, round);
                while (state.get(PUBLISHED) < round) {
                    boolean signalled = changed.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                    markIfTakenOver(lock);
                    assertThat(signalled || state.get(PUBLISHED) >= round).as("round %d signalled", round).isTrue();
                }
                long late = System.nanoTime() - state.get(PUBLISHED_AT);
                assertThat(state.get(PUBLISHED)).as("round published").isEqualTo(round);
                assertThat(late).as("round %d returned %d ms after it was published", round, late / 1_000_000)
                        .isLessThan(WAKE_BOUND.toNanos());
            } finally {
                lock.unlock();
            }
        }
        return round;
    }

    /** The victims never leave the state half-written (two words, either order is a round), so it is intact. */
    private static void markIfTakenOver(SharedLock lock) {
        if (!lock.isConsistent()) {
            lock.markConsistent();
        }
    }

    /**
     * {@code main(heap, stop)}: until killed, takes the lock, publishes the round the waiter waits for (if not yet)
     * and signals, then unlocks and waits a random moment; prints SIGNALLING after its first round, or stops where
     * {@code stop} says (see {@link #STOPS}), holding the lock.
     */
    public static final class Signaller {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock lock = SharedLock.open(heap, "lock");
                SharedCondition changed = SharedCondition.open(heap, "changed", lock);
                SharedLongArray state = SharedLongArray.open(heap, "state");
                Random random = new Random();
                long deadline = System.nanoTime() + BOUND.toNanos();
                boolean said = false;
                while (System.nanoTime() - deadline < 0) {
                    RandomKills.spin(random.nextLong(ROUND_GAP_NANOS));
                    lock.lock();
                    try {
                        if (state.get(PUBLISHED) < state.get(WANTED)) {
                            publish(state);
                            stopIf(args[1], "published"); // a kill lands here, holding the lock
                            RandomKills.spin(random.nextLong(HOLD_NANOS));
                            changed.signal();
                            stopIf(args[1], "signalled"); // or here: signalled, still holding it
                            RandomKills.spin(random.nextLong(HOLD_NANOS));
                        }
                    } finally {
                        lock.unlock();
                    }
                    if (!said) {
                        RandomKills.say("SIGNALLING");
                        said = true;
                    }
                }
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }

        /** At the stop named by the victim's argument: says so and spins (holding the lock) until killed. */
        private static void stopIf(String stop, String here) {
            if (stop.equals(here)) {
                RandomKills.say(here.toUpperCase(Locale.ROOT));
                RandomKills.spin(BOUND.toNanos());
            }
        }
    }
}
