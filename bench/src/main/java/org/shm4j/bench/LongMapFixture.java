package org.shm4j.bench;

import org.openjdk.jmh.annotations.TearDown;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The state of {@link MapBenchmark} and {@link SmallMapBenchmark}: a {@link SharedLongMap} in a named heap and the
 * in-heap {@link ConcurrentHashMap} reference, loaded with the same first keys of {@link MapWorkload#keys()}.
 */
abstract class LongMapFixture {
    /** The workload's keys, the same in every fork. */
    final long[] keys = MapWorkload.keys();
    /** The in-heap reference. */
    final ConcurrentHashMap<Long, byte[]> chm = new ConcurrentHashMap<>();
    /** The map under test. */
    SharedLongMap<byte[]> shared;
    private String name;
    private SharedHeap heap;

    /**
     * Creates a heap of {@code heapBytes} named after {@code what} and this process, and loads the first
     * {@code count} keys into both maps with {@value MapWorkload#VALUE}-byte values.
     */
    void load(String what, long heapBytes, int count) {
        name = "shm4j-bench-" + what + "-" + ProcessHandle.current().pid();
        heap = SharedHeap.create(name, heapBytes);
        shared = SharedLongMap.create(heap, "map", Codec.bytes(), MapSizing.ofLongKeys(count, MapWorkload.VALUE));
        byte[] value = new byte[MapWorkload.VALUE];
        for (int i = 0; i < count; i++) {
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
}
