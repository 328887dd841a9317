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

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The floor of any slot-then-entry map over a given footprint, the reference row beside {@link MapBenchmark}'s get:
 * a {@code /dev/shm} mapping of {@value MapWorkload#KEYS} &times; {@code bytesPerKey} bytes (4 KiB pages, as a
 * heap's), read the way a get must read it at least. {@code floor} loads an 8-byte word at a random place (the slot)
 * and copies the {@value MapWorkload#VALUE} bytes at the random cache line that word names (the entry, on one line),
 * so the second miss waits for the first; {@code floorWithHeader} also loads a word at a third random place,
 * independent of the other two (a segment header's sequence when it is not on the slot's page). For 100,000 keys of
 * 64-byte values {@link org.shm4j.sync.map.SharedLongMap} allocates about 194 bytes per key (it touches about 150:
 * slots and live chunks), Chronicle Map's file has about 108, and 80 is the payload (8 + 64) and one slot: about
 * 8 MB, the reach of this CPU's second-level TLB with 4 KiB pages.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MapFloorBenchmark {
    /** Bytes of the mapping per key. */
    @Param({"194", "108", "80"})
    public int bytesPerKey;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate(MapWorkload.VALUE, 8);
    private final SplittableRandom random = new SplittableRandom();
    private MemorySegment region;
    private long[] slots;
    private long[] headers;

    /** Maps and fills the region: each key's slot word names a random line. */
    @Setup
    public void setUp() throws IOException {
        long bytes = (long) MapWorkload.KEYS * bytesPerKey;
        Path file = MapWorkload.shmFile("floor");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            region = channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
        } finally {
            Files.deleteIfExists(file); // the mapping stays valid until the arena closes
        }
        SplittableRandom seeded = new SplittableRandom(11);
        slots = new long[MapWorkload.KEYS];
        headers = new long[MapWorkload.KEYS];
        long words = bytes / Long.BYTES;
        long lines = (bytes - MapWorkload.VALUE) / 64;
        for (int i = 0; i < MapWorkload.KEYS; i++) {
            slots[i] = seeded.nextLong(words) * Long.BYTES;
            headers[i] = seeded.nextLong(words) * Long.BYTES;
            region.set(JAVA_LONG, slots[i], seeded.nextLong(lines) * 64);
        }
    }

    /** Unmaps the region. */
    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** A slot load, then a copy of the value its word names: two dependent misses. */
    @Benchmark
    public long floor() {
        long entry = region.get(JAVA_LONG, slots[random.nextInt(MapWorkload.KEYS)]);
        MemorySegment.copy(region, entry, buffer, 0, MapWorkload.VALUE);
        return entry;
    }

    /** {@link #floor} plus an independent load from a third random place (a segment's sequence). */
    @Benchmark
    public long floorWithHeader() {
        int i = random.nextInt(MapWorkload.KEYS);
        long sequence = region.get(JAVA_LONG, headers[i]);
        long entry = region.get(JAVA_LONG, slots[i]);
        MemorySegment.copy(region, entry, buffer, 0, MapWorkload.VALUE);
        return entry + sequence;
    }
}
