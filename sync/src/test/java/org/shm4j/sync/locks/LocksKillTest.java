package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
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
import java.util.concurrent.locks.Lock;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Users of a {@link SharedFairLock}, of a {@link SharedReadWriteLock} and of a {@link SharedReentrantLock}
 * SIGKILLed at random moments, many times, while two threads of this process go on using the same lock. Victims and
 * survivors all run the same loop over two shared longs {@code a} and {@code b}: a holder of the (write) lock checks
 * {@code a == b}, adds 1 to {@code a}, spins a little and adds 1 to {@code b}; a reader checks {@code a == b} under
 * the read lock; a holder of the reentrant lock takes it 0 to 2 more times between the two adds, a reader the read
 * lock 0 to 2 more times before its spin (while writers wait), and each checks that it holds it once after the nested
 * unlocks (a take-over must drop a dead owner's holds, every one of a dead reader's). So kills land while
 * holding, in the middle of an update, while taking a ticket or publishing it, while queued, blocked, reclaiming a dead
 * process's slot, and while starting (claiming a process slot freed a moment before).
 * <ul>
 * <li>ACCEPTABLE: {@code a != b} left by a victim killed mid-update, seen by the next holder with
 *     {@code isConsistent()} false, which repairs it ({@code b = a}) and marks the lock consistent.</li>
 * <li>FORBIDDEN: {@code a != b} while the lock says consistent (a lost owner-died mark, or a writer inside while a
 *     reader reads: a live reader's hold dropped); a survivor's lock not granted within {@link #BOUND}; any exception
 *     in a survivor or a victim; tickets left out once everyone is done.</li>
 * </ul>
 */
@Timeout(300)
class LocksKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int WAVES = 6;
    private static final int PER_WAVE = 2;
    /** A victim is killed up to this long after it reported its loop running. */
    private static final long KILL_JITTER_NANOS = 100_000_000;
    /** A holder spins up to this long between its two writes. */
    private static final long HOLD_NANOS = 20_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldKeepTheFairLockGoingAndItsDataCheckedWhileItsUsersAreKilled() throws Exception {
        survive("fair", WAVES * PER_WAVE);
    }

    @Test
    void shouldKeepTheReadWriteLockExclusiveWhileItsReadersAndWritersAreKilled() throws Exception {
        survive("rw", WAVES * PER_WAVE);
    }

    @Test
    void shouldKeepTheReentrantLockGoingWhileItsHoldersAreKilledAtAnyDepth() throws Exception {
        survive("reentrant", WAVES * PER_WAVE);
    }

    /** Runs the waves of victims of one lock kind against two surviving threads, then checks the lock and data. */
    private void survive(String kind, int victims) throws Exception {
        String heapName = names.unique("locks-kill-" + kind);
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16);
             ExecutorService threads = Executors.newFixedThreadPool(2)) {
            Users users = Users.create(heap, kind);
            AtomicBoolean running = new AtomicBoolean(true);
            List<Future<Long>> survivors = new ArrayList<>();
            for (String role : List.of("write", kind.equals("rw") ? "read" : "write")) {
                survivors.add(threads.submit(() -> users.loop(role, running, new Random(seed + 1))));
            }
            int killed = 0;
            try {
                for (int wave = 0; wave < WAVES; wave++) {
                    String role = wave % 2 == 0 ? "write" : "read";
                    killed += RandomKills.wave(random, KILL_JITTER_NANOS, PER_WAVE, "LOOPING",
                            () -> ChildJvm.start(Victim.class, heapName, kind, role)).size();
                }
            } finally {
                running.set(false);
            }
            for (Future<Long> survivor : survivors) {
                assertThat(survivor.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("rounds of a survivor (seed %d)", seed)
                        .isPositive();
            }
            assertThat(killed).isEqualTo(victims);
            users.round("write", new Random(seed));
            users.checkIdle();
        }
    }

    /**
     * One process's view of the lock under test and its data.
     *
     * @param fair      the fair lock, or null
     * @param rw        the read-write lock, or null; a reader's round takes the read lock 1 to 3 times
     * @param reentrant the reentrant lock, or null; a round takes it 1 to 3 times, the nested holds in the middle of
     *                  the update
     * @param data      {@code a} at 0, {@code b} at 1
     */
    private record Users(SharedFairLock fair, SharedReadWriteLock rw, SharedReentrantLock reentrant,
                         SharedLongArray data) {
        static Users create(SharedHeap heap, String kind) {
            return of(heap, kind, SharedLongArray.create(heap, "data", 2), true);
        }

        static Users open(SharedHeap heap, String kind) {
            return of(heap, kind, SharedLongArray.open(heap, "data"), false);
        }

        private static Users of(SharedHeap heap, String kind, SharedLongArray data, boolean create) {
            return switch (kind) {
                case "fair" -> new Users(create ? SharedFairLock.create(heap, "lock")
                        : SharedFairLock.open(heap, "lock"), null, null, data);
                case "rw" -> new Users(null, create ? SharedReadWriteLock.create(heap, "lock")
                        : SharedReadWriteLock.open(heap, "lock"), null, data);
                default -> new Users(null, null, create ? SharedReentrantLock.create(heap, "lock")
                        : SharedReentrantLock.open(heap, "lock"), data);
            };
        }

        /** @return the number of rounds done until {@code running} turned false */
        long loop(String role, AtomicBoolean running, Random random) {
            long rounds = 0;
            while (running.get()) {
                round(role, random);
                rounds++;
            }
            return rounds;
        }

        /** One lock, check (and write), unlock; fails if the lock is not granted within the bound. */
        void round(String role, Random random) {
            boolean write = role.equals("write");
            Lock lock = fair != null ? fair : rw != null ? write ? rw.writeLock() : rw.readLock() : reentrant;
            try {
                assertThat(lock.tryLock(BOUND.toMillis(), TimeUnit.MILLISECONDS)).as("%s lock granted", role).isTrue();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            try {
                boolean consistent = fair != null ? fair.isConsistent() : rw != null ? rw.isConsistent()
                        : reentrant.isConsistent();
                if (write && !consistent) { // a holder died mid-update: repair, then say so
                    data.set(1, data.get(0));
                    if (fair != null) {
                        fair.markConsistent();
                    } else if (rw != null) {
                        rw.markConsistent();
                    } else {
                        reentrant.markConsistent();
                    }
                    consistent = true;
                }
                if (consistent) {
                    assertThat(data.get(1)).as("b under a consistent %s lock", role).isEqualTo(data.get(0));
                }
                if (write) {
                    data.set(0, data.get(0) + 1);
                }
                boolean reenters = reentrant != null || rw != null && !write;
                int nested = reenters ? random.nextInt(3) : 0;
                for (int i = 0; i < nested; i++) {
                    lock.lock(); // its holder takes it again at once, whoever waits
                }
                RandomKills.spin(random.nextLong(HOLD_NANOS));
                if (write) {
                    data.set(1, data.get(1) + 1);
                }
                for (int i = 0; i < nested; i++) {
                    lock.unlock();
                }
                if (reenters) {
                    assertThat(reentrant != null ? reentrant.getHoldCount() : rw.getReadHoldCount())
                            .as("holds after the nested unlocks").isEqualTo(1);
                }
            } finally {
                lock.unlock();
            }
        }

        /** Checks that nobody holds or queues for the lock any more and that the data is whole. */
        void checkIdle() {
            if (fair != null) {
                assertThat(fair.isLocked()).isFalse();
                assertThat(fair.queueLength()).as("tickets out").isZero();
            } else if (rw != null) {
                assertThat(rw.writer()).isEmpty();
                assertThat(rw.readerPids()).as("processes holding read locks").isEmpty();
            } else {
                assertThat(reentrant.isLocked()).isFalse();
                assertThat(reentrant.getHoldCount()).isZero();
            }
            assertThat(data.get(1)).isEqualTo(data.get(0));
        }
    }

    /**
     * {@code main(heap, fair|rw|reentrant, write|read)}: runs {@link Users#round} in a loop until killed; prints
     * LOOPING after the first round, ERROR and the exception if anything fails.
     */
    public static final class Victim {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                Users users = Users.open(heap, args[1]);
                Random random = new Random();
                users.round(args[2], random);
                RandomKills.say("LOOPING");
                while (true) {
                    users.round(args[2], random);
                }
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }
    }
}
