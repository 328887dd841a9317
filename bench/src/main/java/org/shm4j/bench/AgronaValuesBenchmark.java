package org.shm4j.bench;

import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * The peer of {@link ValuesBenchmark}: Agrona's {@code AtomicBuffer} on direct memory. Agrona 2.x needs
 * {@code --add-opens java.base/jdk.internal.misc=ALL-UNNAMED}, passed to this class's forks only; shm4j needs none.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class AgronaValuesBenchmark {
    private UnsafeBuffer buffer;

    /** Allocates 64 aligned bytes of direct memory. */
    @Setup
    public void setUp() {
        buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(128), 64, 64);
    }

    /** @return the previous value */
    @Benchmark
    public long agronaGetAndAdd() {
        return buffer.getAndAddLong(0, 1);
    }

    /** @return the value */
    @Benchmark
    public long agronaGet() {
        return buffer.getLongVolatile(0);
    }

    /** Volatile store. */
    @Benchmark
    public void agronaSet() {
        buffer.putLongVolatile(0, 42);
    }

    /** @return true if the CAS succeeded */
    @Benchmark
    public boolean agronaCompareAndSet() {
        long v = buffer.getLongVolatile(0);
        return buffer.compareAndSetLong(0, v, v + 1);
    }
}
