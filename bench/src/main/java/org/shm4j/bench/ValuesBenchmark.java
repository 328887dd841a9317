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
import org.shm4j.sync.atomic.SharedLong;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Is a {@link SharedLong} as fast as {@link AtomicLong}, and as the raw VarHandle on the same mapping (the floor)?
 * One thread ({@link ContendedValuesBenchmark} runs the same with two); Agrona's {@code AtomicBuffer} is in
 * {@link AgronaValuesBenchmark}, which needs JVM flags of its own.
 *
 * <p>The {@code constantSegment} rows are a reference, not an API: a segment in a {@code static final}, which the JIT
 * treats as a constant, so its bounds, alignment and class checks fold away and only the liveness check of its arena
 * is left. The gap between them and the {@code rawVarHandle} rows (a segment in a field, as every per-value object
 * holds it) is what FFM's checks cost when they cannot be folded.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ValuesBenchmark {
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    /** Lives as long as the fork: a static segment cannot be closed in a per-trial tear-down. */
    private static final MemorySegment CONSTANT = Arena.ofShared().allocate(64, 64);

    private final AtomicLong atomic = new AtomicLong();
    private String name;
    private SharedHeap heap;
    private SharedLong shared;
    private MemorySegment raw;

    /** Maps a named heap with a SharedLong, and a raw long beside it. */
    @Setup
    public void setUp() {
        name = "shm4j-bench-values-" + ProcessHandle.current().pid();
        heap = SharedHeap.create(name, 1 << 16);
        shared = SharedLong.create(heap, "value");
        raw = heap.allocate("raw", new org.shm4j.core.BlockType(0x7000, 1), 64).segment();
    }

    /** Unmaps and unlinks the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
        SharedHeap.unlink(name);
    }

    /** @return the previous value */
    @Benchmark
    public long sharedLongGetAndAdd() {
        return shared.getAndAdd(1);
    }

    /** @return the previous value */
    @Benchmark
    public long atomicLongGetAndAdd() {
        return atomic.getAndAdd(1);
    }

    /** @return the previous value */
    @Benchmark
    public long rawVarHandleGetAndAdd() {
        return (long) LONG.getAndAdd(raw, 0L, 1L);
    }

    /** @return the previous value */
    @Benchmark
    public long constantSegmentGetAndAdd() {
        return (long) LONG.getAndAdd(CONSTANT, 0L, 1L);
    }

    /** @return the value */
    @Benchmark
    public long sharedLongGet() {
        return shared.get();
    }

    /** @return the value */
    @Benchmark
    public long atomicLongGet() {
        return atomic.get();
    }

    /** @return the value */
    @Benchmark
    public long rawVarHandleGet() {
        return (long) LONG.getVolatile(raw, 0L);
    }

    /** @return the value */
    @Benchmark
    public long constantSegmentGet() {
        return (long) LONG.getVolatile(CONSTANT, 0L);
    }

    /** Volatile store. */
    @Benchmark
    public void sharedLongSet() {
        shared.set(42);
    }

    /** Volatile store. */
    @Benchmark
    public void atomicLongSet() {
        atomic.set(42);
    }

    /** Volatile store. */
    @Benchmark
    public void rawVarHandleSet() {
        LONG.setVolatile(raw, 0L, 42L);
    }

    /** @return true if the CAS succeeded */
    @Benchmark
    public boolean sharedLongCompareAndSet() {
        long v = shared.get();
        return shared.compareAndSet(v, v + 1);
    }

    /** @return true if the CAS succeeded */
    @Benchmark
    public boolean atomicLongCompareAndSet() {
        long v = atomic.get();
        return atomic.compareAndSet(v, v + 1);
    }
}
