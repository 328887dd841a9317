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
import org.openjdk.jmh.annotations.Warmup;
import org.shm4j.sync.map.SharedLongMap;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The workload of issue 11 ({@link MapWorkload}): 100,000 preloaded random {@code long} keys with 64-byte values,
 * random access, every get hits and every put overwrites. {@link SharedLongMap} in a named heap ({@code getInto} and
 * {@code setBytes}: no allocation; {@code get}: decodes a {@code byte[]}) beside
 * {@link ConcurrentHashMap ConcurrentHashMap<Long, byte[]>} (in-heap reference; its put stores a preallocated array).
 * Chronicle Map and LmdbJava run the same workload in {@link ChronicleMapBenchmark} and {@link LmdbMapBenchmark},
 * whose JVM flags their own forks get; {@link ContendedMapBenchmark} runs this class with two threads.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MapBenchmark extends LongMapFixture {
    /** Creates both maps and loads the same keys into them. */
    @Setup
    public void setUp() {
        load("map", 64L << 20, MapWorkload.KEYS);
    }

    /** Copies a value into the thread's buffer: no allocation. */
    @Benchmark
    public int sharedGetInto(MapWorkload cursor) {
        return shared.getInto(keys[cursor.next()], cursor.buffer, 0);
    }

    /** Gets a value as a new {@code byte[]}. */
    @Benchmark
    public byte[] sharedGet(MapWorkload cursor) {
        return shared.get(keys[cursor.next()]);
    }

    /** Overwrites a value from the thread's buffer: no allocation. */
    @Benchmark
    public boolean sharedPut(MapWorkload cursor) {
        return shared.setBytes(keys[cursor.next()], cursor.buffer, 0, MapWorkload.VALUE);
    }

    /** Gets a value from the in-heap reference. */
    @Benchmark
    public byte[] chmGet(MapWorkload cursor) {
        return chm.get(keys[cursor.next()]);
    }

    /** Overwrites a value in the in-heap reference. */
    @Benchmark
    public byte[] chmPut(MapWorkload cursor) {
        return chm.put(keys[cursor.next()], cursor.value);
    }
}
