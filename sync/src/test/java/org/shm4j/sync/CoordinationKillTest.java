package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.SharedSemaphore.Kind;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Users of an undo {@link SharedSemaphore} and signallers of {@link SharedCountDownLatch}es and {@link SharedEvent}s
 * SIGKILLed at random moments of their loops, wave after wave, while threads of this process go on using the same
 * objects. {@link BarrierKillTest} does the same for {@link SharedBarrier}.
 * <ul>
 * <li>Semaphore: victims and survivors acquire, hold a moment, release; kills land in the mutex, blocked, while
 *     reclaiming a dead holder's slot (several survivors reclaim at once), holding, and between the release and its
 *     wake. FORBIDDEN: more holders alive than permits (counted exactly, see {@link Holders}); a survivor's acquire
 *     not granted within {@link #BOUND}; a permit not back once the victims are dead.</li>
 * <li>Latch and event: victims count down (or set) one one-shot signal after another, each only once every waiter
 *     of this process waits on it; kills land before, inside (between the CAS and the wake) and after it.
 *     FORBIDDEN: a waiter not released within {@link #BOUND} (every signal is opened in the end); a waiter of an
 *     opened signal still waiting {@link #WAKE_BOUND} after another waiter of it returned.</li>
 * <li>ACCEPTABLE: a wake-up that comes only at a waiter's next 50 ms re-check (its waker was killed before waking);
 *     a killed holder's permits unavailable until a blocked acquirer finds it dead.</li>
 * </ul>
 */
@Timeout(240)
class CoordinationKillTest {
    private static final Duration BOUND = Children.BOUND;
    /** How long after one waiter of an opened signal returned every other waiter of it must have returned. */
    private static final Duration WAKE_BOUND = Duration.ofSeconds(5);
    private static final int WAVES = 3;
    private static final int PER_WAVE = 2;
    /** A victim is killed up to this long after it reported its loop running. */
    private static final long KILL_JITTER_NANOS = 100_000_000;

    private static final int PERMITS = 2;
    private static final int SURVIVORS = 3;
    /** A holder holds up to this long, then idles up to this long. */
    private static final long HOLD_NANOS = 200_000;
    /** Bits of one process's holders in the holders word: 16 processes, this one at bits 0..3. */
    private static final int HOLDER_BITS = 4;

    /** One-shot signals, more than the victims can open in the waves (so the test opens the rest). */
    private static final int SIGNALS = 4096;
    private static final long SIGNAL_SIZE = Math.max(SharedCountDownLatch.requiredBytes(),
            SharedEvent.requiredBytes());
    private static final BlockType SIGNALS_TYPE = new BlockType(0x7E57_0001, 1);
    private static final int WAITERS = 2;
    private static final int LATCH_COUNT = 2;
    /** A victim waits up to this long between its signals, so that the waiters are blocked when one comes. */
    private static final long SIGNAL_GAP_NANOS = 10_000_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNeverAdmitMoreLiveHoldersThanPermitsToAnUndoSemaphoreWhileHoldersAreKilled() throws Exception {
        String heapName = names.unique("sem-kill");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16);
             ExecutorService threads = Executors.newFixedThreadPool(SURVIVORS)) {
            SharedSemaphore semaphore = SharedSemaphore.create(heap, "sem", PERMITS, Kind.UNDO);
            Holders holders = Holders.create(heap);
            holders.register(0);
            AtomicBoolean running = new AtomicBoolean(true);
            List<Future<Long>> survivors = new ArrayList<>();
            for (int t = 0; t < SURVIVORS; t++) {
                Random mine = new Random(seed + t);
                survivors.add(threads.submit(() -> holders.loop(semaphore, 0, running::get, mine)));
            }
            AtomicInteger victims = new AtomicInteger();
            try {
                for (int wave = 0; wave < WAVES; wave++) {
                    RandomKills.wave(random, KILL_JITTER_NANOS, PER_WAVE, "LOOPING", () -> ChildJvm.start(
                            SemaphoreVictim.class, heapName, Integer.toString(victims.incrementAndGet())));
                }
            } finally {
                running.set(false);
            }
            long rounds = 0;
            for (Future<Long> survivor : survivors) {
                rounds += survivor.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            }
            assertThat(victims.get()).isEqualTo(WAVES * PER_WAVE);
            assertThat(holders.counts().get() & (1 << HOLDER_BITS) - 1).as("this process's holders").isZero();
            assertThat(semaphore.tryAcquire(PERMITS, BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("every permit back from the killed holders (seed %d)", seed).isTrue();
            semaphore.release(PERMITS);
            assertThat(semaphore.availablePermits()).isEqualTo(PERMITS);
            System.out.println("undo semaphore kills (seed " + seed + "): " + victims.get() + " victims, " + rounds
                    + " survivor rounds");
        }
    }

    /**
     * The holders of the semaphore, counted per process in one word so that one read is a snapshot of them all:
     * process {@code p} (0 this one, 1..15 the victims) writes its token at {@code owners[p]}, then adds 1 at bits
     * {@code 4p..4p+3} after each acquire returns and takes it away before it releases.
     */
    private record Holders(SharedLong counts, SharedLongArray owners) {
        static Holders create(SharedHeap heap) {
            return new Holders(SharedLong.create(heap, "holders"), SharedLongArray.create(heap, "owners",
                    Long.SIZE / HOLDER_BITS));
        }

        static Holders open(SharedHeap heap) {
            return new Holders(SharedLong.open(heap, "holders"), SharedLongArray.open(heap, "owners"));
        }

        void register(int process) {
            owners.set(process, ProcessIdentity.currentToken());
        }

        /** @return the rounds done until {@code goOn} turned false */
        long loop(SharedSemaphore semaphore, int process, BooleanSupplier goOn, Random random)
                throws InterruptedException {
            long rounds = 0;
            while (goOn.getAsBoolean()) {
                round(semaphore, process, random);
                rounds++;
                RandomKills.spin(random.nextLong(HOLD_NANOS));
            }
            return rounds;
        }

        /** Acquires (failing after the bound), counts itself, checks the live holders, holds a moment, releases. */
        void round(SharedSemaphore semaphore, int process, Random random) throws InterruptedException {
            if (!semaphore.tryAcquire(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("no permit within " + BOUND + ": " + semaphore);
            }
            long unit = 1L << process * HOLDER_BITS;
            try {
                long snapshot = counts.addAndGet(unit);
                int live = liveHolders(snapshot);
                if (live > PERMITS) {
                    throw new AssertionError(live + " live holders of " + PERMITS + " permits: holders word 0x"
                            + Long.toHexString(snapshot));
                }
                RandomKills.spin(random.nextLong(HOLD_NANOS));
            } finally {
                counts.addAndGet(-unit);
                semaphore.release();
            }
        }

        /**
         * @return the holders that {@code snapshot} counts for processes alive now. Liveness is the semaphore's own
         *         test: a process alive now was alive at the snapshot, so its permits were not reclaimed then and it
         *         held at least what it counted; a process dead now is left out (its count is stale once its permits
         *         are reclaimed). So with a correct semaphore this is never above the permits.
         */
        private int liveHolders(long snapshot) {
            int live = 0;
            for (int p = 0; p < Long.SIZE / HOLDER_BITS; p++) {
                int count = (int) (snapshot >>> p * HOLDER_BITS) & (1 << HOLDER_BITS) - 1;
                if (count > 0 && ProcessIdentity.isAlive(owners.get(p))) {
                    live += count;
                }
            }
            return live;
        }
    }

    /** {@code main(heap, process)}: runs {@link Holders#round} until killed; prints LOOPING after the first. */
    public static final class SemaphoreVictim {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedSemaphore semaphore = SharedSemaphore.open(heap, "sem");
                Holders holders = Holders.open(heap);
                int process = Integer.parseInt(args[1]);
                holders.register(process);
                Random random = new Random();
                holders.round(semaphore, process, random);
                RandomKills.say("LOOPING");
                long deadline = System.nanoTime() + BOUND.toNanos();
                holders.loop(semaphore, process, () -> System.nanoTime() - deadline < 0, random);
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }
    }

    @Test
    void shouldReleaseEveryWaiterOfEachLatchWhileItsCountersAreKilled() throws Exception {
        survive("latch");
    }

    @Test
    void shouldWakeEveryWaiterOfEachEventWhileItsSettersAreKilled() throws Exception {
        survive("event");
    }

    /** Runs the waves of signalling victims of one kind against this process's waiters, then opens the rest. */
    private void survive(String kind) throws Exception {
        String heapName = names.unique(kind + "-kill");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
             ExecutorService threads = Executors.newFixedThreadPool(WAITERS)) {
            Signal[] signals = Signal.all(kind, heap.allocate("signals", SIGNALS_TYPE, SIGNALS * SIGNAL_SIZE)
                    .segment(), true);
            SharedLongArray arrived = SharedLongArray.create(heap, "arrived", WAITERS);
            long[][] returned = new long[WAITERS][SIGNALS];
            List<Future<?>> waiters = new ArrayList<>();
            for (int w = 0; w < WAITERS; w++) {
                int waiter = w;
                waiters.add(threads.submit(() -> awaitEach(signals, arrived, waiter, returned[waiter])));
            }
            int openedByVictims;
            try {
                for (int wave = 0; wave < WAVES; wave++) {
                    RandomKills.wave(random, KILL_JITTER_NANOS, PER_WAVE, "SIGNALLING",
                            () -> ChildJvm.start(SignalVictim.class, heapName, kind));
                }
                openedByVictims = firstClosed(signals);
                for (int k = openedByVictims; k < SIGNALS; k++) {
                    int at = k;
                    Children.awaitTrue("every waiter at signal " + k, () -> everyWaiterAt(arrived, at));
                    while (!signals[k].isOpen()) {
                        signals[k].signal();
                    }
                }
                for (Future<?> waiter : waiters) {
                    waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                }
            } finally {
                threads.shutdownNow();
            }
            // each victim signalled at least once, each time the first signal not open: one opens per wave at least
            assertThat(openedByVictims).as("signals opened by the victims (seed %d)", seed).isBetween(WAVES, SIGNALS);
            for (int k = 0; k < SIGNALS; k++) {
                long first = Math.min(returned[0][k], returned[1][k]);
                long last = Math.max(returned[0][k], returned[1][k]);
                assertThat(last - first).as("%s %d: the second waiter's return after the first's (seed %d)", kind, k,
                        seed).isLessThan(WAKE_BOUND.toNanos());
            }
            System.out.println(kind + " kills (seed " + seed + "): " + WAVES * PER_WAVE + " signallers killed, "
                    + openedByVictims + " signals opened by them");
        }
    }

    /** One waiter: waits on each signal in turn, first saying it is there; fails if one is not opened in time. */
    private static Void awaitEach(Signal[] signals, SharedLongArray arrived, int waiter, long[] returned)
            throws InterruptedException {
        for (int k = 0; k < SIGNALS; k++) {
            arrived.set(waiter, k + 1); // volatile: a victim opens k only once every waiter is waiting on it
            if (!signals[k].await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("signal " + k + " not opened within " + BOUND);
            }
            returned[k] = System.nanoTime();
            assertThat(signals[k].isOpen()).as("signal %d open once a waiter returned", k).isTrue();
        }
        return null;
    }

    private static boolean everyWaiterAt(SharedLongArray arrived, int k) {
        for (int w = 0; w < WAITERS; w++) {
            if (arrived.get(w) <= k) {
                return false;
            }
        }
        return true;
    }

    private static int firstClosed(Signal[] signals) {
        int k = 0;
        while (k < SIGNALS && signals[k].isOpen()) {
            k++;
        }
        return k;
    }

    /** A one-shot signal: a latch of {@link #LATCH_COUNT} or an event, one after another in the signals block. */
    private interface Signal {
        /** Counts the latch down, or sets the event. */
        void signal();

        /** @return true if the latch is at zero, or the event set */
        boolean isOpen();

        /** @return true if it opened within the timeout */
        boolean await(long timeout, TimeUnit unit) throws InterruptedException;

        /** @return the signals laid out in {@code block} ({@code format}: laid out now, else wrapped) */
        static Signal[] all(String kind, MemorySegment block, boolean format) {
            Signal[] signals = new Signal[SIGNALS];
            for (int k = 0; k < SIGNALS; k++) {
                long at = k * SIGNAL_SIZE;
                signals[k] = kind.equals("latch") ? latch(format ? SharedCountDownLatch.format(block, at, LATCH_COUNT)
                        : SharedCountDownLatch.wrap(block, at))
                        : event(format ? SharedEvent.format(block, at) : SharedEvent.wrap(block, at));
            }
            return signals;
        }

        private static Signal latch(SharedCountDownLatch latch) {
            return new Signal() {
                @Override
                public void signal() {
                    latch.countDown();
                }

                @Override
                public boolean isOpen() {
                    return latch.getCount() == 0;
                }

                @Override
                public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
                    return latch.await(timeout, unit);
                }
            };
        }

        private static Signal event(SharedEvent event) {
            return new Signal() {
                @Override
                public void signal() {
                    event.set();
                }

                @Override
                public boolean isOpen() {
                    return event.isSet();
                }

                @Override
                public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
                    return event.await(timeout, unit);
                }
            };
        }
    }

    /**
     * {@code main(heap, latch|event)}: until killed, finds the first signal not open, waits until every waiter waits
     * on it, waits a random moment more (so that they block) and signals it; prints SIGNALLING after its first
     * signal (or once every signal is open, then idles until killed).
     */
    public static final class SignalVictim {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                Signal[] signals = Signal.all(args[1], heap.lookup("signals", SIGNALS_TYPE).segment(), false);
                SharedLongArray arrived = SharedLongArray.open(heap, "arrived");
                Random random = new Random();
                long deadline = System.nanoTime() + BOUND.toNanos();
                boolean said = false;
                for (int k = 0; k < SIGNALS && System.nanoTime() - deadline < 0; ) {
                    if (signals[k].isOpen()) {
                        k++;
                    } else if (!everyWaiterAt(arrived, k)) {
                        Thread.onSpinWait();
                    } else {
                        RandomKills.spin(random.nextLong(SIGNAL_GAP_NANOS));
                        signals[k].signal(); // a kill lands before, between its CAS and its wake, or after it
                        if (!said) {
                            RandomKills.say("SIGNALLING");
                            said = true;
                        }
                    }
                }
                if (!said) {
                    RandomKills.say("SIGNALLING");
                }
                Thread.sleep(BOUND.toMillis()); // nothing left to signal: killed long before this ends
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }
    }
}
