package org.shm4j.bench.latency;

import org.HdrHistogram.Histogram;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Lock hand-off through the blocking path, between two threads: the holder takes the lock, lets the waiter block on
 * it for {@link #HOLD_NANOS} (long enough to go past spinning and yielding into the futex or park), then releases;
 * the latency is from the holder's {@code unlock()} to the waiter's {@code lock()} returning. The waiter's CPU time
 * while it waited, over the hold time, is its CPU use while blocked.
 */
public final class LockHandoff {
    /** How long the holder keeps the lock each round while the waiter blocks. */
    static final long HOLD_NANOS = 2_000_000;
    private static final int WARMUP_ROUNDS = 100;
    private static final long ROUND_LIMIT_NANOS = 10_000_000_000L;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Hand-off latency percentiles in nanoseconds, and the waiter's CPU use while blocked in percent. */
    public record Result(String lock, long count, long p50, long p99, long p999, double waiterCpuPercent) {
    }

    private LockHandoff() {
    }

    /** @param args {@code --full} for more rounds */
    public static void main(String[] args) throws InterruptedException {
        run(List.of(args).contains("--full")).forEach(System.out::println);
    }

    /**
     * @param full 2000 measured rounds per lock instead of 400 (after 100 warm-up rounds of each)
     * @return one result each for {@link SharedLock}, {@link SharedFairLock} and {@link ReentrantLock}
     */
    public static List<Result> run(boolean full) throws InterruptedException {
        return run(full ? 2000 : 400);
    }

    /**
     * @param rounds the measured rounds per lock (after 100 warm-up rounds of each)
     * @return as {@link #run(boolean)}
     */
    static List<Result> run(int rounds) throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            List<Lock> locks = List.of(SharedLock.create(heap, "lock"), SharedFairLock.create(heap, "fair"),
                    new ReentrantLock());
            for (Lock lock : locks) {
                measure(lock, WARMUP_ROUNDS); // class loading, the futex's downcall handle and JIT out of the way
            }
            return List.of(result("SharedLock", measure(locks.get(0), rounds)),
                    result("SharedFairLock", measure(locks.get(1), rounds)),
                    result("ReentrantLock", measure(locks.get(2), rounds)));
        }
    }

    /** The latencies and CPU use of one measurement. */
    private record Measurement(Histogram latencies, double waiterCpuPercent) {
    }

    private static Result result(String label, Measurement m) {
        Histogram h = m.latencies();
        return new Result(label, h.getTotalCount(), h.getValueAtPercentile(50), h.getValueAtPercentile(99),
                h.getValueAtPercentile(99.9), m.waiterCpuPercent());
    }

    private static Measurement measure(Lock lock, int rounds) throws InterruptedException {
        Histogram latencies = new Histogram(3);
        AtomicInteger held = new AtomicInteger(-1);
        AtomicInteger waiting = new AtomicInteger(-1);
        AtomicInteger done = new AtomicInteger(-1);
        long[] releasedAt = new long[1];
        long[] waiterCpu = new long[1];
        Thread waiter = Thread.ofPlatform().daemon().name("handoff-waiter").start(() -> {
            for (int round = 0; round < rounds; round++) {
                awaitValue(held, round);
                long cpu = THREADS.getCurrentThreadCpuTime();
                waiting.set(round);
                lock.lock();
                long acquired = System.nanoTime();
                waiterCpu[0] += THREADS.getCurrentThreadCpuTime() - cpu;
                // releasedAt was written before the holder's unlock: the lock orders it before this read
                latencies.recordValue(Math.max(0, acquired - releasedAt[0]));
                lock.unlock();
                done.set(round);
            }
        });
        long heldNanos = 0;
        for (int round = 0; round < rounds; round++) {
            lock.lock();
            held.set(round);
            awaitValue(waiting, round);
            long start = System.nanoTime();
            while (System.nanoTime() - start < HOLD_NANOS) {
                Thread.onSpinWait();
            }
            releasedAt[0] = System.nanoTime();
            heldNanos += releasedAt[0] - start;
            lock.unlock();
            awaitValue(done, round);
        }
        waiter.join(ROUND_LIMIT_NANOS / 1_000_000); // join orders the waiter's records before the reads below
        return new Measurement(latencies, 100.0 * waiterCpu[0] / heldNanos);
    }

    private static void awaitValue(AtomicInteger value, int expected) {
        long deadline = System.nanoTime() + ROUND_LIMIT_NANOS;
        while (value.get() < expected) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("hand-off round " + expected + " took over 10 s");
            }
            Thread.onSpinWait();
        }
    }
}
