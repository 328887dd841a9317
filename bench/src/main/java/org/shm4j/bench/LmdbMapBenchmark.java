package org.shm4j.bench;

import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;
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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * The peer of {@link MapBenchmark}: LmdbJava (LMDB through JNR-FFI), one database in an environment file in
 * {@code /dev/shm} opened with {@code MDB_NOSYNC} and {@code MDB_WRITEMAP} (no flush to disk: the closest to a shared
 * memory map), on the same workload ({@link MapWorkload}), 8-byte keys and 64-byte values in direct buffers. A get
 * uses the thread's read transaction, opened once and kept for the trial (LMDB's fastest read: no transaction per
 * get, and no copy: the value is a view of the map); a put is a write transaction of its own, committed. LmdbJava
 * needs {@code --add-opens} of {@code java.nio} and {@code sun.nio.ch} (without them: {@code Unable to make field
 * long java.nio.Buffer.address accessible}) and native access for its JNR stubs; only this class's forks get them.
 * {@link ContendedLmdbMapBenchmark} runs it with two threads.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = {
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LmdbMapBenchmark {
    /** Room for the entries, the copy-on-write pages of the puts and the B-tree: far more than they take. */
    private static final long MAP_BYTES = 256L << 20;

    private final long[] keys = MapWorkload.keys();
    /** The read transactions the threads opened, closed before the environment. */
    private final Queue<Txn<ByteBuffer>> readers = new ConcurrentLinkedQueue<>();
    private Path file;
    private Env<ByteBuffer> env;
    private Dbi<ByteBuffer> db;

    /** A thread's key and value buffers, and its read transaction once it has one. */
    @State(Scope.Thread)
    public static class Buffers {
        final ByteBuffer key = ByteBuffer.allocateDirect(Long.BYTES).order(ByteOrder.nativeOrder());
        final ByteBuffer value = ByteBuffer.allocateDirect(MapWorkload.VALUE);
        Txn<ByteBuffer> read;
    }

    /** Creates the environment and its database and loads the keys in one transaction. */
    @Setup
    public void setUp() {
        file = MapWorkload.shmFile("lmdb");
        env = Env.create().setMapSize(MAP_BYTES).setMaxDbs(1)
                .open(file.toFile(), EnvFlags.MDB_NOSUBDIR, EnvFlags.MDB_NOSYNC, EnvFlags.MDB_WRITEMAP);
        db = env.openDbi("map", DbiFlags.MDB_CREATE);
        ByteBuffer key = ByteBuffer.allocateDirect(Long.BYTES).order(ByteOrder.nativeOrder());
        ByteBuffer value = ByteBuffer.allocateDirect(MapWorkload.VALUE);
        try (Txn<ByteBuffer> txn = env.txnWrite()) {
            for (long k : keys) {
                db.put(txn, key.putLong(0, k), value);
            }
            txn.commit();
        }
    }

    /** Closes the read transactions and the environment, and deletes its files. */
    @TearDown
    public void tearDown() throws IOException {
        readers.forEach(Txn::close);
        env.close();
        Files.deleteIfExists(file);
        Files.deleteIfExists(Path.of(file + "-lock"));
    }

    /** Gets a value in the thread's read transaction: a view of the map, no copy. */
    @Benchmark
    public ByteBuffer lmdbGet(MapWorkload cursor, Buffers buffers) {
        if (buffers.read == null) {
            buffers.read = env.txnRead(); // once per thread and trial, on the thread that uses it (LMDB's rule)
            readers.add(buffers.read);
        }
        return db.get(buffers.read, buffers.key.putLong(0, keys[cursor.next()]));
    }

    /** Overwrites a value in a write transaction of its own. */
    @Benchmark
    public boolean lmdbPut(MapWorkload cursor, Buffers buffers) {
        try (Txn<ByteBuffer> txn = env.txnWrite()) {
            boolean put = db.put(txn, buffers.key.putLong(0, keys[cursor.next()]), buffers.value);
            txn.commit();
            return put;
        }
    }
}
