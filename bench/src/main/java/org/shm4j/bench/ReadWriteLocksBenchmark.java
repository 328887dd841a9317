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
import org.shm4j.sync.locks.SharedReadWriteLock;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.StampedLock;

/**
 * Uncontended read lock + unlock around a plain read, and write lock + unlock around a plain increment, in one
 * thread: {@link SharedReadWriteLock} beside {@link ReentrantReadWriteLock}, with {@link StampedLock}'s optimistic
 * read ({@code tryOptimisticRead} + {@code validate}, no write to shared state at all) as the floor of a read.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ReadWriteLocksBenchmark {
    private final ReentrantReadWriteLock reentrant = new ReentrantReadWriteLock();
    private final StampedLock stamped = new StampedLock();
    private SharedHeap heap;
    private Lock sharedRead;
    private Lock sharedWrite;
    private long counter;

    /** Creates the lock in an anonymous heap. */
    @Setup
    public void setUp() {
        heap = SharedHeap.anonymous(1 << 16);
        SharedReadWriteLock shared = SharedReadWriteLock.create(heap, "rw");
        sharedRead = shared.readLock();
        sharedWrite = shared.writeLock();
    }

    /** Frees the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
    }

    /** @return the counter, read under {@link SharedReadWriteLock}'s read lock */
    @Benchmark
    public long sharedReadLock() {
        return read(sharedRead);
    }

    /** @return the counter, read under {@link ReentrantReadWriteLock}'s read lock */
    @Benchmark
    public long reentrantReadLock() {
        return read(reentrant.readLock());
    }

    /** @return the counter, read optimistically under {@link StampedLock} (again under its read lock after a write) */
    @Benchmark
    public long stampedOptimisticRead() {
        long stamp = stamped.tryOptimisticRead();
        long value = counter;
        if (stamped.validate(stamp)) {
            return value;
        }
        stamp = stamped.readLock();
        try {
            return counter;
        } finally {
            stamped.unlockRead(stamp);
        }
    }

    /** @return the counter, incremented under {@link SharedReadWriteLock}'s write lock */
    @Benchmark
    public long sharedWriteLock() {
        return write(sharedWrite);
    }

    /** @return the counter, incremented under {@link ReentrantReadWriteLock}'s write lock */
    @Benchmark
    public long reentrantWriteLock() {
        return write(reentrant.writeLock());
    }

    private long read(Lock lock) {
        lock.lock();
        try {
            return counter;
        } finally {
            lock.unlock();
        }
    }

    private long write(Lock lock) {
        lock.lock();
        try {
            return ++counter;
        } finally {
            lock.unlock();
        }
    }
}
