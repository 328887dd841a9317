package org.shm4j.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The map workload of issue 11, one per thread, shared by {@link MapBenchmark}, {@link ChronicleMapBenchmark} and
 * {@link LmdbMapBenchmark}: the same {@value #KEYS} random {@code long} keys in every fork and class (preloaded by
 * each benchmark's setup with {@value #VALUE}-byte values; {@link SmallMapBenchmark} takes only the first ones),
 * visited in a random order of the thread's own, and the thread's value buffers (a segment and an array) for the
 * allocation-free paths.
 */
@State(Scope.Thread)
public class MapWorkload {
    /** The number of keys every map is preloaded with. */
    static final int KEYS = 100_000;
    /** The length of every value. */
    static final int VALUE = 64;
    private static final long KEY_SEED = 11;

    private final Arena arena = Arena.ofConfined();
    /** The thread's value buffer, for {@code getInto} and {@code setBytes}. */
    final MemorySegment buffer = arena.allocate(VALUE, 8);
    /** The thread's value array, for the peers' puts and Chronicle Map's {@code getUsing}. */
    final byte[] value = new byte[VALUE];
    private final SplittableRandom random = new SplittableRandom();

    /** @return the keys every map benchmark preloads, the same in every fork */
    static long[] keys() {
        SplittableRandom random = new SplittableRandom(KEY_SEED);
        long[] keys = new long[KEYS];
        for (int i = 0; i < KEYS; i++) {
            keys[i] = random.nextLong();
        }
        return keys;
    }

    /**
     * @param peer what the file is for
     * @return a path in {@code /dev/shm} (the temporary directory where there is none) that no other fork uses;
     *     the caller deletes it
     */
    static Path shmFile(String peer) {
        Path dir = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty(
                "java.io.tmpdir"));
        try {
            Path file = Files.createTempFile(dir, "shm4j-bench-" + peer + "-" + ProcessHandle.current().pid() + "-",
                    ".db");
            Files.delete(file); // only the unique name is wanted: the peers create their files themselves
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return a random index into the keys */
    int next() {
        return next(KEYS);
    }

    /** @return a random index into the first {@code keys} keys */
    int next(int keys) {
        return random.nextInt(keys);
    }

    /** Frees the buffer. */
    @TearDown(Level.Trial)
    public void close() {
        arena.close();
    }
}
