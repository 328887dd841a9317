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
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.locks.SharedReentrantLock;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Uncontended lock + unlock around a plain increment: shm4j's locks beside {@link ReentrantLock},
 * {@code synchronized} and a minimal CAS spin lock on shared memory (the floor); and a nested hold of
 * {@link SharedReentrantLock} beside one of {@code ReentrantLock}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LocksBenchmark {
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final ReentrantLock reentrant = new ReentrantLock();
    private final Object monitor = new Object();
    private SharedHeap heap;
    private SharedLock shared;
    private SharedReentrantLock sharedReentrant;
    private SharedFairLock fair;
    private Lock write;
    private MemorySegment spin;
    private long counter;

    /** Creates the locks in an anonymous heap. */
    @Setup
    public void setUp() {
        heap = SharedHeap.anonymous(1 << 16);
        shared = SharedLock.create(heap, "lock");
        sharedReentrant = SharedReentrantLock.create(heap, "reentrant");
        fair = SharedFairLock.create(heap, "fair");
        write = SharedReadWriteLock.create(heap, "rw").writeLock();
        spin = heap.allocate("spin", new org.shm4j.core.BlockType(0x7001, 1), 64).segment();
    }

    /** Frees the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
    }

    /** @return the counter */
    @Benchmark
    public long sharedLock() {
        return locked(shared);
    }

    /** @return the counter */
    @Benchmark
    public long sharedReentrantLock() {
        return locked(sharedReentrant);
    }

    /** A hold inside another, as a reentrant lock is used: lock, lock, unlock, unlock. @return the counter */
    @Benchmark
    public long sharedReentrantLockNested() {
        return nested(sharedReentrant);
    }

    /** @return the counter */
    @Benchmark
    public long sharedFairLock() {
        return locked(fair);
    }

    /** @return the counter */
    @Benchmark
    public long sharedWriteLock() {
        return locked(write);
    }

    /** @return the counter */
    @Benchmark
    public long reentrantLock() {
        return locked(reentrant);
    }

    /** The nested reference: {@link #sharedReentrantLockNested()} on a {@link ReentrantLock}. @return the counter */
    @Benchmark
    public long reentrantLockNested() {
        return nested(reentrant);
    }

    /** @return the counter */
    @Benchmark
    public long synchronizedBlock() {
        synchronized (monitor) {
            return ++counter;
        }
    }

    /** @return the counter */
    @Benchmark
    public long casSpinLock() {
        while (!INT.compareAndSet(spin, 0L, 0, 1)) {
            Thread.onSpinWait();
        }
        try {
            return ++counter;
        } finally {
            INT.setRelease(spin, 0L, 0);
        }
    }

    private long locked(Lock lock) {
        lock.lock();
        try {
            return ++counter;
        } finally {
            lock.unlock();
        }
    }

    private long nested(Lock lock) {
        lock.lock();
        try {
            return locked(lock);
        } finally {
            lock.unlock();
        }
    }
}
