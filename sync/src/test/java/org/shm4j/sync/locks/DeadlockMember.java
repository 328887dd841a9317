package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;

/**
 * What one member (a thread of a test or the main of a child JVM) of the deadlock tests does: take a lock, meet the
 * others, take the next lock; or take locks in a consistent order for a stress run. Outcomes are printed (child) or
 * returned (thread) as one line.
 *
 * <p>Child arguments: {@code heapName cycle kind parties first second} or {@code heapName stress threads millis}.
 */
public final class DeadlockMember {
    /** The bound on every wait of a member. */
    static final long BOUND_SECONDS = 60;

    private DeadlockMember() {
    }

    /** Runs a child's part and prints its outcome. */
    public static void main(String[] args) throws Exception {
        try (SharedHeap heap = SharedHeap.open(args[0])) {
            if (args[1].equals("cycle")) {
                say(cycle(heap, args[2], Integer.parseInt(args[3]), args[4], args[5]));
            } else {
                say(stress(heap, Integer.parseInt(args[2]), Long.parseLong(args[3])));
            }
        }
    }

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
        if (line.startsWith("FAILED")) {
            System.exit(2);
        }
    }

    /** @return a view of the lock {@code name} of kind {@code lock}, {@code reentrant}, {@code fair}, {@code write} */
    static Lock open(SharedHeap heap, String kind, String name) {
        return switch (kind) {
            case "lock" -> SharedLock.open(heap, name);
            case "reentrant" -> SharedReentrantLock.open(heap, name);
            case "fair" -> SharedFairLock.open(heap, name);
            case "write" -> SharedReadWriteLock.open(heap, name).writeLock();
            default -> throw new IllegalArgumentException("kind=" + kind);
        };
    }

    /** Creates the lock {@code name} of kind {@code kind}. */
    static void create(SharedHeap heap, String kind, String name) {
        switch (kind) {
            case "lock" -> SharedLock.create(heap, name);
            case "reentrant" -> SharedReentrantLock.create(heap, name);
            case "fair" -> SharedFairLock.create(heap, name);
            case "write" -> SharedReadWriteLock.create(heap, name);
            default -> throw new IllegalArgumentException("kind=" + kind);
        }
    }

    /**
     * Takes {@code first}, waits (bounded) until all {@code parties} hold their first lock (counter {@code ready}),
     * then takes {@code second} ({@code kind} may be {@code kind1/kind2} for locks of two kinds).
     *
     * @return {@code DEADLOCK <ms> <message>}, {@code ACQUIRED} or {@code FAILED ...}
     */
    static String cycle(SharedHeap heap, String kind, int parties, String first, String second)
            throws InterruptedException {
        String[] kinds = kind.split("/");
        Lock a = open(heap, kinds[0], first);
        Lock b = open(heap, kinds[kinds.length - 1], second);
        SharedLong ready = SharedLong.open(heap, "ready");
        a.lock();
        try {
            ready.incrementAndGet();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS);
            while (ready.get() < parties) {
                if (System.nanoTime() - deadline > 0) {
                    return "FAILED the others never took their first lock";
                }
                Thread.yield();
            }
            long start = System.nanoTime();
            try {
                if (!b.tryLock(BOUND_SECONDS, TimeUnit.SECONDS)) {
                    return "FAILED timed out on " + second;
                }
            } catch (DeadlockException e) {
                return "DEADLOCK " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " " + e.getMessage();
            }
            b.unlock();
            return "ACQUIRED";
        } finally {
            a.unlock();
        }
    }

    /**
     * Runs {@code threads} threads for {@code millis} ms, each taking a random ordered subset of the locks
     * {@code A} (lock), {@code B} (fair lock) and {@code C} (write lock), holding them a few ms.
     *
     * @return {@code STRESS <acquisitions> <deadlock exceptions>}
     */
    static String stress(SharedHeap heap, int threads, long millis) throws InterruptedException {
        Lock[] locks = {open(heap, "lock", "A"), open(heap, "fair", "B"), open(heap, "write", "C")};
        SharedLong acquisitions = SharedLong.open(heap, "acquisitions");
        SharedLong deadlocks = SharedLong.open(heap, "deadlocks");
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            long seed = ProcessHandle.current().pid() * 31 + t;
            workers[t] = Thread.ofPlatform().name("stress-" + t).start(() -> {
                Random random = new Random(seed);
                while (System.nanoTime() - deadline < 0) {
                    try {
                        takeInOrder(locks, 1 + random.nextInt(7), random);
                        acquisitions.incrementAndGet();
                    } catch (DeadlockException e) {
                        deadlocks.incrementAndGet();
                        System.err.println("false positive: " + e.getMessage());
                    }
                }
            });
        }
        for (Thread w : workers) {
            w.join(TimeUnit.SECONDS.toMillis(BOUND_SECONDS));
            if (w.isAlive()) {
                return "FAILED a stress thread never finished";
            }
        }
        return "STRESS " + acquisitions.get() + " " + deadlocks.get();
    }

    /** Takes the locks whose bit is set in {@code mask}, in index order, holds them 2..10 ms, releases them. */
    private static void takeInOrder(Lock[] locks, int mask, Random random) {
        int taken = 0;
        try {
            for (int i = 0; i < locks.length; i++) {
                if ((mask & 1 << i) != 0) {
                    locks[i].lock();
                    taken |= 1 << i;
                }
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2 + random.nextInt(9))); // the work: holds them
        } finally {
            for (int i = locks.length - 1; i >= 0; i--) {
                if ((taken & 1 << i) != 0) {
                    locks[i].unlock();
                }
            }
        }
    }
}
