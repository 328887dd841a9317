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
import org.shm4j.sync.atomic.SharedByteArray;
import org.shm4j.sync.atomic.SharedLongArray;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * Bulk copy of {@code bytes} bytes from a Java array into shared memory: {@link SharedLongArray#copyFrom} and
 * {@link SharedByteArray#copyFrom} beside {@link MemorySegment#copy} onto the same mapping (the floor) and
 * {@link System#arraycopy} between heap arrays. One operation copies all {@code bytes}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class BulkCopyBenchmark {
    /** Bytes per copy. */
    @Param({"4096", "1048576"})
    public int bytes;

    private String name;
    private SharedHeap heap;
    private SharedLongArray sharedLongs;
    private SharedByteArray sharedBytes;
    private long[] longs;
    private long[] longsTarget;
    private byte[] bytesSource;
    private byte[] bytesTarget;

    /** Maps the arrays in a named heap. */
    @Setup
    public void setUp() {
        name = "shm4j-bench-bulk-" + ProcessHandle.current().pid();
        heap = SharedHeap.create(name, 2L * bytes + (1 << 16));
        sharedLongs = SharedLongArray.create(heap, "longs", bytes / Long.BYTES);
        sharedBytes = SharedByteArray.create(heap, "bytes", bytes);
        longs = new long[bytes / Long.BYTES];
        longsTarget = new long[longs.length];
        bytesSource = new byte[bytes];
        bytesTarget = new byte[bytes];
    }

    /** Unmaps and unlinks the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
        SharedHeap.unlink(name);
    }

    /** {@code long[]} into a {@link SharedLongArray}. */
    @Benchmark
    public void sharedLongArrayCopyFrom() {
        sharedLongs.copyFrom(longs, 0, 0, longs.length);
    }

    /** {@code long[]} into the same mapping with {@link MemorySegment#copy}. */
    @Benchmark
    public void segmentCopyLongs() {
        MemorySegment.copy(longs, 0, sharedLongs.segment(), ValueLayout.JAVA_LONG, 0, longs.length);
    }

    /** {@code long[]} into {@code long[]}. */
    @Benchmark
    public void arraycopyLongs() {
        System.arraycopy(longs, 0, longsTarget, 0, longs.length);
    }

    /** {@code byte[]} into a {@link SharedByteArray}. */
    @Benchmark
    public void sharedByteArrayCopyFrom() {
        sharedBytes.copyFrom(bytesSource, 0, 0, bytesSource.length);
    }

    /** {@code byte[]} into the same mapping with {@link MemorySegment#copy}. */
    @Benchmark
    public void segmentCopyBytes() {
        MemorySegment.copy(bytesSource, 0, sharedBytes.segment(), ValueLayout.JAVA_BYTE, 0, bytesSource.length);
    }

    /** {@code byte[]} into {@code byte[]}. */
    @Benchmark
    public void arraycopyBytes() {
        System.arraycopy(bytesSource, 0, bytesTarget, 0, bytesSource.length);
    }
}
