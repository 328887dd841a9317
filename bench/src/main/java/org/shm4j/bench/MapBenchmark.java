package org.shm4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The workload of issue 11: 100,000 preloaded random {@code long} keys with 64-byte values, random access, every get
 * hits and every put overwrites. {@link SharedLongMap} in a named heap ({@code getInto} and {@code setBytes}: no
 * allocation; {@code get}: decodes a {@code byte[]}) beside {@link ConcurrentHashMap ConcurrentHashMap<Long, byte[]>}
 * (in-heap reference; its put stores a preallocated array). Chronicle Map and LmdbJava are not in this run: their
 * dependencies and JVM flags (RESEARCH-2 §4) are left for their own forks. Run with {@code -t 1} and {@code -t 2}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MapBenchmark {
    private static final int KEYS = 100_000;
    private static final int VALUE = 64;

    private String name;
    private SharedHeap heap;
    private SharedLongMap<byte[]> shared;
    private final ConcurrentHashMap<Long, byte[]> chm = new ConcurrentHashMap<>();
    private final long[] keys = new long[KEYS];

    /** Creates both maps and loads the same keys into them. */
    @Setup
    public void setUp() {
        name = "shm4j-bench-map-" + ProcessHandle.current().pid();
        heap = SharedHeap.create(name, 64L << 20);
        shared = SharedLongMap.create(heap, "map", Codec.bytes(), MapSizing.ofLongKeys(KEYS, VALUE));
        SplittableRandom random = new SplittableRandom(11);
        byte[] value = new byte[VALUE];
        for (int i = 0; i < KEYS; i++) {
            keys[i] = random.nextLong();
            shared.set(keys[i], value);
            chm.put(keys[i], value);
        }
    }

    /** Unmaps and unlinks the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
        SharedHeap.unlink(name);
    }

    /** A thread's random key order and its value buffer. */
    @State(Scope.Thread)
    public static class Cursor {
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment buffer = arena.allocate(VALUE, 8);
        private final byte[] value = new byte[VALUE];
        private final SplittableRandom random = new SplittableRandom();

        /** @return a random index into the keys */
        int next() {
            return random.nextInt(KEYS);
        }

        /** Frees the buffer. */
        @TearDown(Level.Trial)
        public void close() {
            arena.close();
        }
    }

    /** Copies a value into the thread's buffer: no allocation. */
    @Benchmark
    public int sharedGetInto(Cursor cursor) {
        return shared.getInto(keys[cursor.next()], cursor.buffer, 0);
    }

    /** Gets a value as a new {@code byte[]}. */
    @Benchmark
    public byte[] sharedGet(Cursor cursor) {
        return shared.get(keys[cursor.next()]);
    }

    /** Overwrites a value from the thread's buffer: no allocation. */
    @Benchmark
    public boolean sharedPut(Cursor cursor) {
        return shared.setBytes(keys[cursor.next()], cursor.buffer, 0, VALUE);
    }

    /** Gets a value from the in-heap reference. */
    @Benchmark
    public byte[] chmGet(Cursor cursor) {
        return chm.get(keys[cursor.next()]);
    }

    /** Overwrites a value in the in-heap reference. */
    @Benchmark
    public byte[] chmPut(Cursor cursor) {
        return chm.put(keys[cursor.next()], cursor.value);
    }
}
