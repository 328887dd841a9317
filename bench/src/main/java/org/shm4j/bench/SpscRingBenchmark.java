package org.shm4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.MessageHandler;
import org.shm4j.sync.SharedRing;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * One producer thread and one consumer thread through a {@link SharedRing} (SPSC) of 64 KiB in a named region, for
 * 8, 64 and 256-byte messages. The peer, Agrona's {@code OneToOneRingBuffer}, is {@link AgronaSpscRingBenchmark}.
 * Compare the {@code polled} rates.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SpscRingBenchmark {
    /** Message payload size in bytes. */
    @Param({"8", "64", "256"})
    public int size;

    private String name;
    private SharedHeap heap;
    private SharedRing ring;
    private MemorySegment message;
    private final MessageHandler handler = (type, buffer, offset, length) -> { };

    /** Maps the ring in a named heap. */
    @Setup
    public void setUp() {
        name = "shm4j-bench-spsc-" + ProcessHandle.current().pid();
        heap = SharedHeap.create(name, 1 << 18);
        ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1 << 16);
        message = heap.allocate("message", new org.shm4j.core.BlockType(0x7002, 1), 256).segment();
    }

    /** Unmaps and unlinks the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
        SharedHeap.unlink(name);
    }

    /** Offers one message. */
    @Benchmark
    @Group("shm4j")
    @GroupThreads(1)
    public void offer(RingCounters counters) {
        if (ring.offer(1, message, 0, size)) {
            counters.offered++;
        } else {
            counters.failedOffers++;
        }
    }

    /** Polls one message. */
    @Benchmark
    @Group("shm4j")
    @GroupThreads(1)
    public void poll(RingCounters counters) {
        if (ring.poll(handler) == 1) {
            counters.polled++;
        } else {
            counters.failedPolls++;
        }
    }
}
