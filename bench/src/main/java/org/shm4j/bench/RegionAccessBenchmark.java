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
import org.shm4j.core.SharedMemory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Is an atomic add on a mapped {@link SharedMemory} region as fast as on the Java heap? {@code getAndAdd} on a named
 * region's segment beside {@link AtomicLong#getAndAdd}, one thread.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(2)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class RegionAccessBenchmark {
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final AtomicLong atomic = new AtomicLong();
    private String name;
    private SharedMemory region;
    private MemorySegment segment;

    /** Maps a fresh named region. */
    @Setup
    public void setUp() {
        name = "shm4j-bench-" + ProcessHandle.current().pid();
        region = SharedMemory.create(name, 4096);
        segment = region.segment();
    }

    /** Unmaps and unlinks the region. */
    @TearDown
    public void tearDown() {
        region.close();
        SharedMemory.unlink(name);
    }

    /** @return the previous value of the shared counter */
    @Benchmark
    public long sharedMemoryGetAndAdd() {
        return (long) LONG.getAndAdd(segment, 0L, 1L);
    }

    /** @return the previous value of the heap counter */
    @Benchmark
    public long atomicLongGetAndAdd() {
        return atomic.getAndAdd(1L);
    }
}
