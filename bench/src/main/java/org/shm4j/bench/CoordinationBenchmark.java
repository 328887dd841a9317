package org.shm4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.SharedSemaphore;
import org.shm4j.sync.locks.SharedLock;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The coordination types beside their {@code java.util.concurrent} counterparts: uncontended semaphore acquire +
 * release ({@link SharedSemaphore} unbounded and undo, {@link Semaphore}), and a signal/await hand-off between two
 * threads ({@link SharedLock#newCondition()}, {@link ReentrantLock#newCondition()}): each operation waits for its
 * turn on the condition, passes the turn and signals the other thread, so a score is hand-offs per µs per thread.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class CoordinationBenchmark {
    /** A waiting hand-off thread gives up after this, so that the end of an iteration cannot strand it. */
    private static final long TURN_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    /** Semaphores with one permit each, in an anonymous heap. */
    @State(Scope.Thread)
    public static class Semaphores {
        SharedHeap heap;
        SharedSemaphore shared;
        SharedSemaphore undo;
        final Semaphore jdk = new Semaphore(1);

        /** Creates the shared semaphores. */
        @Setup
        public void setUp() {
            heap = SharedHeap.anonymous(1 << 16);
            shared = SharedSemaphore.create(heap, "sem", 1);
            undo = SharedSemaphore.create(heap, "undo", 1, SharedSemaphore.Kind.UNDO);
        }

        /** Frees the heap. */
        @TearDown
        public void tearDown() {
            heap.close();
        }
    }

    /** A lock, its condition and whose turn it is, shared by the two threads of a hand-off group. */
    public abstract static class Handoff {
        Lock lock;
        Condition condition;
        long turn; // guarded by the lock

        /**
         * Waits for {@code me}'s turn (at most {@link #TURN_TIMEOUT_NANOS}), gives the turn to the other thread and
         * signals it.
         *
         * @return the turn count
         */
        long pass(long me) throws InterruptedException {
            lock.lock();
            try {
                long nanos = TURN_TIMEOUT_NANOS;
                while ((turn & 1) != me && nanos > 0) {
                    nanos = condition.awaitNanos(nanos);
                }
                turn++;
                condition.signal();
                return turn;
            } finally {
                lock.unlock();
            }
        }
    }

    /** {@link Handoff} over a {@link SharedLock} and its condition. */
    @State(Scope.Group)
    public static class SharedHandoff extends Handoff {
        SharedHeap heap;

        /** Creates the lock in an anonymous heap. */
        @Setup
        public void setUp() {
            heap = SharedHeap.anonymous(1 << 16);
            lock = SharedLock.create(heap, "lock");
            condition = lock.newCondition();
        }

        /** Frees the heap. */
        @TearDown
        public void tearDown() {
            heap.close();
        }
    }

    /** {@link Handoff} over a {@link ReentrantLock} and its condition. */
    @State(Scope.Group)
    public static class JdkHandoff extends Handoff {
        /** Creates the lock. */
        @Setup
        public void setUp() {
            lock = new ReentrantLock();
            condition = lock.newCondition();
        }
    }

    /** @return true */
    @Benchmark
    public boolean sharedSemaphore(Semaphores s) throws InterruptedException {
        s.shared.acquire();
        s.shared.release();
        return true;
    }

    /** @return true */
    @Benchmark
    public boolean sharedUndoSemaphore(Semaphores s) throws InterruptedException {
        s.undo.acquire();
        s.undo.release();
        return true;
    }

    /** @return true */
    @Benchmark
    public boolean jdkSemaphore(Semaphores s) throws InterruptedException {
        s.jdk.acquire();
        s.jdk.release();
        return true;
    }

    /** @return the turn count */
    @Benchmark
    @Group("sharedCondition")
    @GroupThreads(1)
    public long sharedConditionEven(SharedHandoff h) throws InterruptedException {
        return h.pass(0);
    }

    /** @return the turn count */
    @Benchmark
    @Group("sharedCondition")
    @GroupThreads(1)
    public long sharedConditionOdd(SharedHandoff h) throws InterruptedException {
        return h.pass(1);
    }

    /** @return the turn count */
    @Benchmark
    @Group("jdkCondition")
    @GroupThreads(1)
    public long jdkConditionEven(JdkHandoff h) throws InterruptedException {
        return h.pass(0);
    }

    /** @return the turn count */
    @Benchmark
    @Group("jdkCondition")
    @GroupThreads(1)
    public long jdkConditionOdd(JdkHandoff h) throws InterruptedException {
        return h.pass(1);
    }
}
