package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.SharedSemaphore.Kind;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

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
 * Users of an {@link Kind#UNDO undo} {@link SharedSemaphore} SIGKILLed at random moments of their loops, wave after
 * wave, while threads of this process go on using it. Victims and survivors acquire, hold a moment, release; kills
 * land in the mutex, blocked, while reclaiming a dead holder's slot (several survivors reclaim at once, and each new
 * victim claims a slot), holding, and between a release and its wake.
 * <ul>
 * <li>FORBIDDEN: more holders alive than permits (counted exactly, see {@link Holders}); an acquire not granted
 *     within {@link #BOUND}; a permit of a killed holder not back once the victims are dead.</li>
 * <li>ACCEPTABLE: a killed holder's permits unavailable until a blocked acquirer finds it dead (about 50 ms); a
 *     wake-up that comes only at a waiter's next 50 ms re-check (its waker was killed before waking).</li>
 * </ul>
 */
@Timeout(180)
class SemaphoreKillTest {
    private static final Duration BOUND = Children.BOUND;
    private static final int WAVES = 5;
    private static final int PER_WAVE = 2;
    /** A victim is killed up to this long after it reported its loop running. */
    private static final long KILL_JITTER_NANOS = 100_000_000;
    private static final int PERMITS = 2;
    private static final int SURVIVORS = 3;
    /** A holder holds up to this long, then idles up to this long. */
    private static final long HOLD_NANOS = 200_000;
    /** Bits of one process's holders in the holders word: 16 processes, this one at bits 0..3. */
    private static final int HOLDER_BITS = 4;

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
}
