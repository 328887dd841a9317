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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The non-miss cost of {@link SharedLongMap}'s hot paths, the reference beside {@link MapBenchmark}: the same
 * workload over only {@code keys} keys: 1,000 by default, about 200 KB, which stays in a core's second-level cache
 * (1 MB on the bench machine) and its TLB, so what a get or put costs besides its cache misses shows without their
 * noise; with {@code -p keys=10000} (about 2 MB) it reaches the shared third-level cache. {@link ConcurrentHashMap} is the
 * in-heap reference.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SmallMapBenchmark {
    /** Keys in the map: few enough that it fits this machine's caches. */
    @Param("1000")
    public int keys;

    private String name;
    private SharedHeap heap;
    private SharedLongMap<byte[]> shared;
    private final ConcurrentHashMap<Long, byte[]> chm = new ConcurrentHashMap<>();
    private final long[] all = MapWorkload.keys();

    /** Creates both maps and loads the same keys into them. */
    @Setup
    public void setUp() {
        name = "shm4j-bench-small-map-" + ProcessHandle.current().pid();
        heap = SharedHeap.create(name, 16L << 20);
        shared = SharedLongMap.create(heap, "map", Codec.bytes(), MapSizing.ofLongKeys(keys, MapWorkload.VALUE));
        byte[] value = new byte[MapWorkload.VALUE];
        for (int i = 0; i < keys; i++) {
            shared.set(all[i], value);
            chm.put(all[i], value);
        }
    }

    /** Unmaps and unlinks the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
        SharedHeap.unlink(name);
    }

    /** Copies a value into the thread's buffer: no allocation. */
    @Benchmark
    public int sharedGetInto(MapWorkload cursor) {
        return shared.getInto(all[cursor.next(keys)], cursor.buffer, 0);
    }

    /** Overwrites a value from the thread's buffer: no allocation. */
    @Benchmark
    public boolean sharedPut(MapWorkload cursor) {
        return shared.setBytes(all[cursor.next(keys)], cursor.buffer, 0, MapWorkload.VALUE);
    }

    /** Overwrites a value in the in-heap reference. */
    @Benchmark
    public byte[] chmPut(MapWorkload cursor) {
        return chm.put(all[cursor.next(keys)], cursor.value);
    }
}
