package org.shm4j.sync;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedMutex;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.Lock;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Waiters of two {@link SharedCondition}s ({@code notEmpty}, {@code notFull} of a bounded buffer) SIGKILLed at
 * random moments, many times, while surviving producer and consumer processes go on through the same buffer with
 * {@code signal()} (wake one) only. The victims loop lock, timed {@code awaitNanos}, unlock on either condition, so
 * kills land everywhere in {@code await}: counted as a waiter but not yet blocked, blocked, woken and re-taking the
 * lock, holding it. Run with a {@link SharedLock}, with a {@link SharedReentrantLock} that every process holds twice
 * around its waits (an await releases both holds and must give both back: survivors check their hold count after
 * each wait, take-overs from victims killed at either depth included), and with a {@link SharedFairLock}, whose
 * signalled waiters queue for their turn again.
 * <ul>
 * <li>FORBIDDEN: a lost wake-up among the survivors (a survivor's wait that sees no progress for
 *     {@link Children#BOUND}, or a survivor that does not finish within it); an item lost or consumed twice (the
 *     consumers' count and sum must be exactly the producers'); a survivor that fails.</li>
 * <li>ACCEPTABLE: a victim's stale waiter count (each costs later signals a sequence bump and a wasted futex wake);
 *     the lock taken over from a victim killed holding it (the buffer is unchanged: victims never write it).</li>
 * </ul>
 */
@Timeout(240)
class ConditionKillTest {
    private static final Duration BOUND = Children.BOUND;
    private static final int CAPACITY = 4;
    private static final int PRODUCERS = 2;
    private static final int CONSUMERS = 2;
    private static final int WAVES = 4;
    private static final int PER_WAVE = 2;
    private static final long KILL_JITTER_NANOS = 200_000_000;
    /** A victim holds the lock up to this long, waits up to twice as long, then idles up to this long. */
    private static final long HOLD_NANOS = 1_000_000;
    /** Items of producer {@code p} are {@code p * ITEM_BASE + 1, + 2, ...}: unique, with a known sum per count. */
    private static final long ITEM_BASE = 1L << 32;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest
    @ValueSource(strings = {"plain", "reentrant", "fair"})
    void shouldLoseNoWakeUpAmongSurvivorsWhileWaitersAreKilled(String kind) throws Exception {
        String heapName = names.unique("cond-kill");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            switch (kind) {
                case "plain" -> SharedLock.create(heap, "lock");
                case "reentrant" -> SharedReentrantLock.create(heap, "lock");
                default -> SharedFairLock.create(heap, "lock");
            }
            Lock lock = openLock(heap, kind);
            SharedCondition notEmpty = condition(heap, "notEmpty", lock);
            SharedCondition notFull = condition(heap, "notFull", lock);
            SharedLongArray.create(heap, "buffer", CAPACITY);
            for (String name : List.of("head", "tail", "stop", "producersDone", "takenCount", "takenSum")) {
                SharedLong.create(heap, name);
            }
            SharedLongArray produced = SharedLongArray.create(heap, "produced", PRODUCERS);
            List<ChildJvm> survivors = new ArrayList<>();
            int kills = 0;
            try {
                for (int p = 0; p < PRODUCERS; p++) {
                    survivors.add(ChildJvm.start(Survivor.class, heapName, kind, "produce", Integer.toString(p)));
                }
                for (int c = 0; c < CONSUMERS; c++) {
                    survivors.add(ChildJvm.start(Survivor.class, heapName, kind, "consume", "0"));
                }
                for (ChildJvm survivor : survivors) {
                    survivor.awaitLine("RUNNING", BOUND);
                }
                for (int wave = 0; wave < WAVES; wave++) {
                    kills += RandomKills.wave(random, KILL_JITTER_NANOS, PER_WAVE, "WAITING",
                            () -> ChildJvm.start(Victim.class, heapName, kind)).size();
                }
                SharedLong.open(heap, "stop").set(1);
                for (ChildJvm survivor : survivors) {
                    survivor.awaitSuccess(BOUND);
                }
            } finally {
                survivors.forEach(ChildJvm::close);
            }
            long count = 0;
            long sum = 0;
            for (int p = 0; p < PRODUCERS; p++) {
                long n = produced.get(p);
                assertThat(n).as("producer %d went on while waiters were killed (seed %d)", p, seed).isPositive();
                count += n;
                sum += n * (p * ITEM_BASE) + n * (n + 1) / 2;
            }
            assertThat(SharedLong.open(heap, "takenCount").get()).as("seed %d", seed).isEqualTo(count);
            assertThat(SharedLong.open(heap, "takenSum").get()).as("each item once (seed %d)", seed).isEqualTo(sum);
            assertThat(kills).isEqualTo(WAVES * PER_WAVE);
            int leftovers = waiting(notEmpty) + waiting(notFull);
            assertThat(leftovers).as("stale waiter counts, one at most per victim killed inside await")
                    .isBetween(0, kills);
            lock.lock(); // leftovers cost a wasted wake each, never a hang
            try {
                notEmpty.signalAll();
                notFull.signal();
            } finally {
                lock.unlock();
            }
            System.out.println("condition kills (" + kind + " lock, seed " + seed + "): " + kills + " waiters killed, "
                    + count + " items, " + leftovers + " stale waiter counts, " + recoveries(lock)
                    + " lock take-overs");
        }
    }

    private static int waiting(SharedCondition condition) {
        String text = condition.toString(); // "condition 'x' (n waiting)"
        return Integer.parseInt(text.substring(text.lastIndexOf('(') + 1, text.indexOf(" waiting)")));
    }

    /** Marks the data consistent after a victim died holding the lock: victims never write it, so it is intact. */
    static void repairIfTakenOver(Lock lock) {
        if (lock instanceof SharedFairLock fair && !fair.isConsistent()) {
            fair.markConsistent();
        } else if (lock instanceof SharedMutex mutex && !mutex.isConsistent()) {
            mutex.markConsistent();
        }
    }

    private static long recoveries(Lock lock) {
        return lock instanceof SharedFairLock fair ? fair.recoveries() : ((SharedMutex) lock).recoveries();
    }

    /** @return the lock of this kind ({@code "plain"}, {@code "reentrant"} or {@code "fair"}) named {@code "lock"} */
    static Lock openLock(SharedHeap heap, String kind) {
        return switch (kind) {
            case "plain" -> SharedLock.open(heap, "lock");
            case "reentrant" -> SharedReentrantLock.open(heap, "lock");
            default -> SharedFairLock.open(heap, "lock");
        };
    }

    /** @return the condition named {@code name} of {@code lock}, made if it is not there yet */
    static SharedCondition condition(SharedHeap heap, String name, Lock lock) {
        return lock instanceof SharedFairLock fair ? SharedCondition.openOrCreate(heap, name, fair)
                : SharedCondition.openOrCreate(heap, name, (SharedMutex) lock);
    }

    /** Takes {@code lock}: once if plain or fair, twice if reentrant. */
    static void enter(Lock lock) {
        lock.lock();
        if (lock instanceof SharedReentrantLock) {
            lock.lock();
        }
    }

    /** Gives back what {@link #enter} took. */
    static void exit(Lock lock) {
        if (lock instanceof SharedReentrantLock) {
            lock.unlock();
        }
        lock.unlock();
    }

    /**
     * {@code main(heap, kind, "produce"|"consume", id)}: a producer puts items {@code id * ITEM_BASE + 1, ...} into the
     * buffer until {@code stop}, then records its count and counts itself done; a consumer takes items until the
     * producers are done and the buffer is empty, then adds its count and sum. Both wait with {@code signal()} only,
     * failing if a wait sees no progress within the bound.
     */
    public static final class Survivor {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                Lock lock = openLock(heap, args[1]);
                SharedCondition notEmpty = condition(heap, "notEmpty", lock);
                SharedCondition notFull = condition(heap, "notFull", lock);
                SharedLongArray buffer = SharedLongArray.open(heap, "buffer");
                SharedLong head = SharedLong.open(heap, "head");
                SharedLong tail = SharedLong.open(heap, "tail");
                SharedLong done = SharedLong.open(heap, "producersDone");
                Children.say("RUNNING");
                if (args[2].equals("produce")) {
                    int id = Integer.parseInt(args[3]);
                    SharedLong stop = SharedLong.open(heap, "stop");
                    long n = 0;
                    while (stop.get() == 0) {
                        enter(lock);
                        try {
                            repairIfTakenOver(lock);
                            awaitWhile(() -> tail.getPlain() - head.getPlain() == CAPACITY, notFull, lock);
                            buffer.setPlain((int) (tail.getPlain() % CAPACITY), id * ITEM_BASE + ++n);
                            tail.setPlain(tail.getPlain() + 1);
                            notEmpty.signal();
                        } finally {
                            exit(lock);
                        }
                    }
                    SharedLongArray.open(heap, "produced").set(id, n);
                    lock.lock();
                    try {
                        repairIfTakenOver(lock);
                        done.setPlain(done.getPlain() + 1);
                        notEmpty.signalAll(); // consumers waiting on an empty buffer see the end
                    } finally {
                        lock.unlock();
                    }
                } else {
                    consume(heap, lock, notEmpty, notFull, buffer, head, tail, done);
                }
            }
        }

        private static void consume(SharedHeap heap, Lock lock, SharedCondition notEmpty,
                                    SharedCondition notFull, SharedLongArray buffer, SharedLong head, SharedLong tail,
                                    SharedLong done) throws InterruptedException {
            long count = 0;
            long sum = 0;
            while (true) {
                enter(lock);
                try {
                    repairIfTakenOver(lock);
                    awaitWhile(() -> tail.getPlain() == head.getPlain() && done.getPlain() < PRODUCERS, notEmpty,
                            lock);
                    if (tail.getPlain() == head.getPlain()) {
                        break; // every producer is done and the buffer is empty
                    }
                    sum += buffer.getPlain((int) (head.getPlain() % CAPACITY));
                    count++;
                    head.setPlain(head.getPlain() + 1);
                    notFull.signal();
                } finally {
                    exit(lock);
                }
            }
            SharedLong.open(heap, "takenCount").getAndAdd(count);
            SharedLong.open(heap, "takenSum").getAndAdd(sum);
        }

        /** Waits on {@code condition} while {@code blocked}; fails if no wake-up ends the wait within the bound. */
        private static void awaitWhile(BooleanSupplier blocked, SharedCondition condition, Lock lock)
                throws InterruptedException {
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (blocked.getAsBoolean()) {
                long left = condition.awaitNanos(deadline - System.nanoTime());
                if (lock instanceof SharedReentrantLock reentrant && reentrant.getHoldCount() != 2) {
                    throw new AssertionError("a wait gave back " + reentrant.getHoldCount() + " holds of 2");
                }
                repairIfTakenOver(lock);
                if (left <= 0 && blocked.getAsBoolean()) {
                    throw new AssertionError("lost wake-up: no progress within " + BOUND);
                }
            }
        }
    }

    /**
     * {@code main(heap, kind)}: loops until killed: takes the lock and holds it a moment, waits on {@code notEmpty} or
     * {@code notFull} for up to 2 ms (woken by the survivors' signals, or by its timeout), releases the lock and
     * idles a moment; prints {@code WAITING} once it has waited. It never writes the buffer.
     */
    public static final class Victim {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                Lock lock = openLock(heap, args[1]);
                List<SharedCondition> conditions = List.of(condition(heap, "notEmpty", lock),
                        condition(heap, "notFull", lock));
                ThreadLocalRandom random = ThreadLocalRandom.current();
                long deadline = System.nanoTime() + BOUND.toNanos();
                for (long round = 0; System.nanoTime() - deadline < 0; round++) {
                    enter(lock);
                    try {
                        repairIfTakenOver(lock);
                        RandomKills.spin(random.nextLong(HOLD_NANOS)); // a kill here leaves the lock to take over
                        conditions.get(random.nextInt(2)).awaitNanos(random.nextLong(1, 2 * HOLD_NANOS));
                        repairIfTakenOver(lock);
                    } finally {
                        exit(lock);
                    }
                    if (round == 0) {
                        RandomKills.say("WAITING");
                    }
                    RandomKills.spin(random.nextLong(HOLD_NANOS));
                }
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }
    }
}
