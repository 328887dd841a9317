package org.shm4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.shm4j.sync.map.SharedLongMap;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The non-miss cost of {@link SharedLongMap}'s hot paths, the reference beside {@link MapBenchmark}: the same
 * workload over only {@code entries} keys: 1,000 by default, about 200 KB, which stays in a core's second-level cache
 * (1 MB on the bench machine) and its TLB, so what a get or put costs besides its cache misses shows without their
 * noise; with {@code -p entries=10000} (about 2 MB) it reaches the shared third-level cache.
 * {@link ConcurrentHashMap} is the in-heap reference.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SmallMapBenchmark extends LongMapFixture {
    /** Keys in the map: few enough that it fits this machine's caches. */
    @Param("1000")
    public int entries;

    /** Creates both maps and loads the same keys into them. */
    @Setup
    public void setUp() {
        load("small-map", 16L << 20, entries);
    }

    /** Copies a value into the thread's buffer: no allocation. */
    @Benchmark
    public int sharedGetInto(MapWorkload cursor) {
        return shared.getInto(keys[cursor.next(entries)], cursor.buffer, 0);
    }

    /** Overwrites a value from the thread's buffer: no allocation. */
    @Benchmark
    public boolean sharedPut(MapWorkload cursor) {
        return shared.setBytes(keys[cursor.next(entries)], cursor.buffer, 0, MapWorkload.VALUE);
    }

    /** Overwrites a value in the in-heap reference. */
    @Benchmark
    public byte[] chmPut(MapWorkload cursor) {
        return chm.put(keys[cursor.next(entries)], cursor.value);
    }
}
