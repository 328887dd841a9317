package org.shm4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.locks.SharedLock;

import java.util.concurrent.TimeUnit;

/**
 * The cost of deadlock detection on the uncontended path: {@link SharedLock} lock + unlock around a plain increment
 * with detection on (the default) and off ({@code -Dshm4j.deadlockDetection=false} in the second benchmark's forks).
 * Detection runs only on the slow path of a waiter blocked past the threshold, so the two should match (ratio ~1.0).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DeadlockDetectionBenchmark {
    private SharedHeap heap;
    private SharedLock lock;
    private long counter;

    /** Creates the lock in an anonymous heap. */
    @Setup
    public void setUp() {
        heap = SharedHeap.anonymous(1 << 16);
        lock = SharedLock.create(heap, "lock");
    }

    /** Frees the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
    }

    /** @return the counter; detection on (the default) */
    @Benchmark
    @Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
    public long detectionOn() {
        return locked();
    }

    /** @return the counter; detection off for the whole JVM */
    @Benchmark
    @Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Dshm4j.deadlockDetection=false"})
    public long detectionOff() {
        return locked();
    }

    private long locked() {
        lock.lock();
        try {
            return ++counter;
        } finally {
            lock.unlock();
        }
    }
}
