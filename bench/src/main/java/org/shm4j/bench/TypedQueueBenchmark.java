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
import org.shm4j.sync.Codec;
import org.shm4j.sync.SharedQueue;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One producer and one consumer thread passing {@code Long}s: {@link SharedQueue} with {@link Codec#longs()} (SPSC
 * ring of 64 KiB in a named region) beside {@link ArrayBlockingQueue} of 4096 slots. Both box the values they pass
 * (counting up from {@code 1 << 20}, outside the {@code Long} cache), so both allocate. Compare the {@code polled}
 * rates of groups {@code sharedQueue} and {@code arrayBlockingQueue}.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TypedQueueBenchmark {
    private String name;
    private SharedHeap heap;
    private SharedQueue<Long> shared;
    private final ArrayBlockingQueue<Long> blocking = new ArrayBlockingQueue<>(4096);
    private long next = 1 << 20;

    /** Maps the queue in a named heap. */
    @Setup
    public void setUp() {
        name = "shm4j-bench-queue-" + ProcessHandle.current().pid();
        heap = SharedHeap.create(name, 1 << 18);
        shared = SharedQueue.create(heap, "queue", 1 << 16, Codec.longs());
    }

    /** Unmaps and unlinks the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
        SharedHeap.unlink(name);
    }

    /** Offers one value. */
    @Benchmark
    @Group("sharedQueue")
    public void sharedOffer(RingCounters counters) {
        counters.countOffer(shared.offer(next++));
    }

    /** Polls one value. */
    @Benchmark
    @Group("sharedQueue")
    public Long sharedPoll(RingCounters counters) {
        Long value = shared.poll();
        counters.countPoll(value == null ? 0 : 1);
        return value;
    }

    /** Offers one value. */
    @Benchmark
    @Group("arrayBlockingQueue")
    public void blockingOffer(RingCounters counters) {
        counters.countOffer(blocking.offer(next++));
    }

    /** Polls one value. */
    @Benchmark
    @Group("arrayBlockingQueue")
    public Long blockingPoll(RingCounters counters) {
        Long value = blocking.poll();
        counters.countPoll(value == null ? 0 : 1);
        return value;
    }
}
