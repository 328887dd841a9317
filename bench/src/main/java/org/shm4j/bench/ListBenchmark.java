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
import org.shm4j.core.SharedMemory;
import org.shm4j.sync.Codec;
import org.shm4j.sync.list.ShareableList;
import org.shm4j.sync.list.SharedList;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The list workload of issue 12, one thread: {@link SharedList SharedList<Long>} in an anonymous heap beside
 * {@link CopyOnWriteArrayList} and {@code Collections.synchronizedList(new ArrayList<>())}, each holding
 * {@value #SIZE} elements. {@code get} and {@code set} go to a random index ({@code set} stores one of two values in
 * turn); {@code append} adds an element at the end and removes it again, so that every list keeps its size (a
 * copy-on-write list copies its array twice).
 * {@link ShareableList} (CPython's fixed-length layout, {@value #SIZE} ints in an anonymous region) has get and set
 * only: the counterpart of Python's {@code ShareableList} in {@code bench/python}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ListBenchmark {
    private static final int SIZE = 1024;
    /** Two values, stored in turn: a copy-on-write list skips its copy when {@code set} stores the same object. */
    private static final Long[] VALUES = {42L, 43L};

    private final SplittableRandom random = new SplittableRandom();
    private final List<Long> cow = new CopyOnWriteArrayList<>();
    private final List<Long> synchronizedList = Collections.synchronizedList(new ArrayList<>());
    private SharedHeap heap;
    private SharedList<Long> shared;
    private SharedMemory region;
    private ShareableList shareable;
    private int turn;

    /** Creates the shared list and fills the three lists. */
    @Setup
    public void setUp() {
        heap = SharedHeap.anonymous(1 << 20);
        shared = SharedList.create(heap, "list", Codec.longs(), Long.BYTES);
        List<Long> items = new ArrayList<>();
        for (long i = 0; i < SIZE; i++) {
            items.add(i);
            shared.add(i);
            cow.add(i);
            synchronizedList.add(i);
        }
        region = SharedMemory.anonymous(ShareableList.byteSize(items));
        shareable = ShareableList.create(region, items);
    }

    /** Frees the heap and the region. */
    @TearDown
    public void tearDown() {
        heap.close();
        region.close();
    }

    private Long next() {
        turn ^= 1;
        return VALUES[turn];
    }

    /** @return the element at a random index */
    @Benchmark
    public Long sharedGet() {
        return shared.get(random.nextInt(SIZE));
    }

    /** Replaces the element at a random index. */
    @Benchmark
    public void sharedSet() {
        shared.set(random.nextInt(SIZE), next());
    }

    /** @return the element appended and removed again */
    @Benchmark
    public Long sharedAppend() {
        shared.add(next());
        return shared.removeLast();
    }

    /** @return the int at a random index */
    @Benchmark
    public long shareableGet() {
        return shareable.getLong(random.nextInt(SIZE));
    }

    /** Replaces the int at a random index. */
    @Benchmark
    public void shareableSet() {
        shareable.setLong(random.nextInt(SIZE), next());
    }

    /** @return the element at a random index */
    @Benchmark
    public Long copyOnWriteGet() {
        return cow.get(random.nextInt(SIZE));
    }

    /** @return the element replaced */
    @Benchmark
    public Long copyOnWriteSet() {
        return cow.set(random.nextInt(SIZE), next());
    }

    /** @return the element appended and removed again */
    @Benchmark
    public Long copyOnWriteAppend() {
        cow.add(next());
        return cow.removeLast();
    }

    /** @return the element at a random index */
    @Benchmark
    public Long synchronizedGet() {
        return synchronizedList.get(random.nextInt(SIZE));
    }

    /** @return the element replaced */
    @Benchmark
    public Long synchronizedSet() {
        return synchronizedList.set(random.nextInt(SIZE), next());
    }

    /** @return the element appended and removed again */
    @Benchmark
    public Long synchronizedAppend() {
        synchronizedList.add(next());
        return synchronizedList.removeLast();
    }
}
