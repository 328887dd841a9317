package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
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
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Signallers of {@link SharedCountDownLatch}es and {@link SharedEvent}s SIGKILLed at random moments of their loops,
 * wave after wave, while threads of this process wait on the same objects. Victims count down (or set) one one-shot
 * signal after another, each only once every waiter of this process waits on it, and after a random moment more (so
 * that the waiters are blocked); so kills land before a signal, inside it (between its CAS and its wake) and after
 * it. {@link SemaphoreKillTest} and {@link BarrierKillTest} do the same for the other coordination types.
 * <ul>
 * <li>FORBIDDEN: a waiter not released within {@link #BOUND} (every signal is opened in the end, by this process
 *     after the waves); a waiter of an opened signal still waiting {@link #WAKE_BOUND} after another waiter of it
 *     returned; a waiter released while its signal is not open.</li>
 * <li>ACCEPTABLE: a wake-up that comes only at a waiter's next 50 ms re-check (its waker was killed before
 *     waking).</li>
 * </ul>
 */
@Timeout(180)
class CoordinationKillTest {
    private static final Duration BOUND = Children.BOUND;
    /** How long after one waiter of an opened signal returned every other waiter of it must have returned. */
    private static final Duration WAKE_BOUND = Duration.ofSeconds(5);
    private static final int WAVES = 5;
    private static final int PER_WAVE = 2;
    /** A victim is killed up to this long after it reported its loop running. */
    private static final long KILL_JITTER_NANOS = 100_000_000;

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
                long first = Long.MAX_VALUE;
                long last = Long.MIN_VALUE;
                for (long[] waiter : returned) {
                    first = Math.min(first, waiter[k]);
                    last = Math.max(last, waiter[k]);
                }
                assertThat(last - first).as("%s %d: the last waiter's return after the first's (seed %d)", kind, k,
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

    /**
     * A one-shot signal: a latch of {@link #LATCH_COUNT} or an event, one after another in the signals block.
     *
     * @param signaller counts the latch down, or sets the event
     * @param opened    true if the latch is at zero, or the event set
     * @param waiter    the latch's or event's timed {@code await}
     */
    private record Signal(Runnable signaller, BooleanSupplier opened, Await waiter) {
        /** A latch's or event's timed {@code await}. */
        interface Await {
            boolean await(long timeout, TimeUnit unit) throws InterruptedException;
        }

        void signal() {
            signaller.run();
        }

        boolean isOpen() {
            return opened.getAsBoolean();
        }

        boolean await(long timeout, TimeUnit unit) throws InterruptedException {
            return waiter.await(timeout, unit);
        }

        /** @return the signals laid out in {@code block} ({@code format}: laid out now, else wrapped) */
        static Signal[] all(String kind, MemorySegment block, boolean format) {
            Signal[] signals = new Signal[SIGNALS];
            for (int k = 0; k < SIGNALS; k++) {
                long at = k * SIGNAL_SIZE;
                if (kind.equals("latch")) {
                    SharedCountDownLatch latch = format ? SharedCountDownLatch.format(block, at, LATCH_COUNT)
                            : SharedCountDownLatch.wrap(block, at);
                    signals[k] = new Signal(latch::countDown, () -> latch.getCount() == 0, latch::await);
                } else {
                    SharedEvent event = format ? SharedEvent.format(block, at) : SharedEvent.wrap(block, at);
                    signals[k] = new Signal(event::set, event::isSet, event::await);
                }
            }
            return signals;
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
