package org.shm4j.bench;

import net.openhft.chronicle.map.ChronicleMap;
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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The peer of {@link MapBenchmark}: Chronicle Map ({@code ChronicleMap<Long, byte[]>}, persisted to a file in
 * {@code /dev/shm}, sized for {@value MapWorkload#KEYS} entries of {@value MapWorkload#VALUE}-byte values, with
 * {@code putReturnsNull} so that a put does not decode the old value, as shm4j's {@code setBytes} does not) on the
 * same workload ({@link MapWorkload}). {@code get} decodes a new {@code byte[]}; {@code getUsing} reads into the
 * thread's array. Chronicle Map needs the module flags below on JDK 25 (without them: {@code
 * InaccessibleObjectException ... does not "opens java.lang"}) and {@code -Dchronicle.analytics.disable=true}
 * (without it, it tries to reach an analytics host at start-up); only this class's forks get them.
 * {@link ContendedChronicleMapBenchmark} runs it with two threads.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = {
        "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
        "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
        "--add-exports=java.base/jdk.internal.util=ALL-UNNAMED",
        "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
        "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
        "--add-opens=java.base/java.io=ALL-UNNAMED",
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
        "--add-opens=java.base/java.util=ALL-UNNAMED",
        "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
        "--enable-native-access=ALL-UNNAMED",
        "-Dchronicle.analytics.disable=true"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ChronicleMapBenchmark {
    private final long[] keys = MapWorkload.keys();
    private Path file;
    private ChronicleMap<Long, byte[]> map;

    /** Creates the map file and loads the keys. */
    @Setup
    public void setUp() throws IOException {
        file = MapWorkload.shmFile("chronicle");
        map = ChronicleMap.of(Long.class, byte[].class).name("shm4j-bench").entries(MapWorkload.KEYS)
                .averageValueSize(MapWorkload.VALUE).putReturnsNull(true).createPersistedTo(file.toFile());
        byte[] value = new byte[MapWorkload.VALUE];
        for (long key : keys) {
            map.put(key, value);
        }
    }

    /** Closes the map and deletes its file. */
    @TearDown
    public void tearDown() throws IOException {
        map.close();
        Files.deleteIfExists(file);
    }

    /** Gets a value as a new {@code byte[]}. */
    @Benchmark
    public byte[] chronicleGet(MapWorkload cursor) {
        return map.get(keys[cursor.next()]);
    }

    /** Reads a value into the thread's array. */
    @Benchmark
    public byte[] chronicleGetUsing(MapWorkload cursor) {
        return map.getUsing(keys[cursor.next()], cursor.value);
    }

    /** Overwrites a value from the thread's array. */
    @Benchmark
    public byte[] chroniclePut(MapWorkload cursor) {
        return map.put(keys[cursor.next()], cursor.value);
    }
}
