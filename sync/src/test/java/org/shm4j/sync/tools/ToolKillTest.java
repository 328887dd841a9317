package org.shm4j.sync.tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.atomic.SharedCounter;
import org.shm4j.sync.atomic.SharedCounters;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code shm4j} tool ({@code inspect}, {@code ls}, {@code gc} dry runs) run over and over against file heaps
 * while child processes that lock, count, write a map, a list and a ring, allocate blocks and create and close
 * other heaps in the same folder are SIGKILLed at random moments. FORBIDDEN: a run that throws, hangs past a bound,
 * exits with an error or prints output that is not JSON. At the end {@code gc --force} removes exactly the heaps
 * whose processes all died.
 */
@Timeout(180)
class ToolKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int WAVES = 3;
    private static final int PER_WAVE = 2;
    private static final long KILL_JITTER_NANOS = 60_000_000;
    /** The type of the workers' own blocks. */
    private static final BlockType MARK = new BlockType(0x70011, 1);

    @TempDir
    Path dir;

    @Test
    void shouldInspectListAndCollectWithoutAnErrorWhileWorkersAreKilled() throws Exception {
        Path heapPath = dir.resolve("busy");
        Random random = new Random(61);
        try (SharedHeap heap = SharedHeap.create(heapPath, 4 << 20, HeapOptions.defaults().withCatalogCapacity(1024))) {
            SharedLock.create(heap, "lock");
            SharedCounters.create(heap, "stats", 16, Duration.ZERO);
            SharedMap.create(heap, "map", Codec.longs(), Codec.longs(), new MapSizing(16, 8, 8));
            SharedList.create(heap, "list", Codec.longs(), Long.BYTES);
            SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, SharedRing.MIN_CAPACITY);
            AtomicBoolean running = new AtomicBoolean(true);
            CompletableFuture<Long> tool = CompletableFuture.supplyAsync(() -> runTool(heapPath, running));
            try {
                for (int wave = 0; wave < WAVES; wave++) {
                    RandomKills.wave(random, KILL_JITTER_NANOS, PER_WAVE, "WORKING",
                            () -> ChildJvm.start(Worker.class, heapPath.toString()));
                }
            } finally {
                running.set(false);
            }
            assertThat(tool.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("tool runs").isPositive();
            Shm4jToolTest.Result gc = Shm4jToolTest.run("gc", "--dir", dir.toString(), "--force", "--json");
            assertThat(gc.code()).as(gc.err()).isZero();
            assertThat(gc.out()).as("this process has the busy heap open").doesNotContain(heapPath.toString());
            Shm4jToolTest.Result ls = Shm4jToolTest.run("ls", "--dir", dir.toString(), "--json");
            assertThat(ls.code()).as(ls.err()).isZero();
            assertThat(ls.out()).as("every side heap was stale: removed").doesNotContain("side-");
        }
    }

    /**
     * Until {@code running} turns false: runs inspect, ls and a gc dry run, each bounded, each successful with JSON
     * output.
     *
     * @return how many runs
     */
    private static long runTool(Path heapPath, AtomicBoolean running) {
        List<String[]> commands = List.of(new String[] {"inspect", heapPath.toString(), "--json"},
                new String[] {"ls", "--dir", heapPath.getParent().toString(), "--json"},
                new String[] {"gc", "--dir", heapPath.getParent().toString(), "--json"});
        long runs = 0;
        while (running.get()) {
            for (String[] command : commands) {
                long start = System.nanoTime();
                Shm4jToolTest.Result result = Shm4jToolTest.run(command);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as(command[0]).isLessThan(BOUND);
                assertThat(result.code()).as("%s: %s", command[0], result.err()).isZero();
                assertThat(JsonReader.parse(result.out())).as(command[0]).isNotNull();
                runs++;
            }
        }
        return runs;
    }

    /**
     * {@code main(heapPath)}: until killed, takes and releases the lock, allocates and frees a counter, writes the
     * map, the list and the ring and polls the ring, allocates a block now and then, and creates and closes a side
     * heap in the same folder; prints WORKING after the first round, ERROR and the exception if anything fails.
     */
    public static final class Worker {
        public static void main(String[] args) {
            Path path = Path.of(args[0]);
            long pid = ProcessHandle.current().pid();
            try (SharedHeap heap = SharedHeap.open(path)) {
                SharedLock lock = SharedLock.open(heap, "lock");
                SharedCounters counters = SharedCounters.open(heap, "stats");
                SharedMap<Long, Long> map = SharedMap.open(heap, "map", Codec.longs(), Codec.longs());
                SharedList<Long> list = SharedList.open(heap, "list", Codec.longs());
                SharedRing ring = SharedRing.open(heap, "ring");
                byte[] message = new byte[24];
                for (long n = 0; ; n++) {
                    lock.lock();
                    lock.markConsistent(); // a killed worker may have held it: nothing to repair
                    lock.unlock();
                    SharedCounter counter = counters.allocate("worker-" + pid);
                    counter.incrementAndGet();
                    counter.free();
                    map.put(n % 256, n);
                    list.add(n);
                    if (list.size() > 32) {
                        list.remove(0);
                    }
                    ring.offer(1, message, 0, message.length);
                    ring.poll((type, buffer, offset, length) -> { });
                    if (n % 64 == 0) {
                        heap.allocate("block-" + pid + "-" + n, MARK, 64);
                        try (SharedHeap side = SharedHeap.openOrCreate(path.resolveSibling("side-" + pid + "-" + n),
                                1 << 16)) {
                            side.allocate("mark", MARK, 64);
                        }
                    }
                    if (n == 0) {
                        RandomKills.say("WORKING");
                    }
                }
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }
    }
}
