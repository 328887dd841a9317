package org.shm4j.core.internal;

import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmException;
import org.shm4j.testing.Unshare;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * A region's file gets its blocks when it is created ({@link FileSpace}): on a file system with room for one heap
 * but not two, the second creation is refused with {@link ShmException} and the first heap can be written whole,
 * where sparse files let both be created and a later first touch of a page fault (SIGBUS); the existing heap still
 * opens through {@code openOrCreate}, racing {@code openOrCreate} callers all open the one heap that fits, and a
 * stale one is replaced, however little room is left. Each case runs a child
 * JVM in a mount namespace of its own, over a 16 MiB tmpfs, through {@code posix_fallocate} and through the
 * fallback that writes zeros.
 */
@EnabledOnOs(OS.LINUX)
class FileSpaceTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int MIB = 1 << 20;
    private static final int RACERS = 4;
    private static final int RACES = 40;

    @TempDir
    Path mountPoint;

    @ParameterizedTest(name = "posix_fallocate: {0}")
    @ValueSource(booleans = {true, false})
    void shouldRefuseAtCreationARegionTheFileSystemHasNoRoomFor(boolean fallocate) throws Exception {
        List<String> smallTmpfs = List.of("--mount", "--propagation", "private", "sh", "-c",
                "mount -t tmpfs -o size=16m tmpfs \"$0\" && exec \"$@\"", mountPoint.toString());
        assumeThat(Unshare.works(smallTmpfs.toArray(String[]::new))).as("needs root, unshare and mount").isTrue();
        String output = Unshare.awaitOutput(Unshare.java(smallTmpfs, SmallFileSystem.class, mountPoint.toString(),
                String.valueOf(fallocate)), BOUND);
        String noSpace = "not enough space in " + mountPoint;
        assertThat(output).contains(fallocate ? "fallback none" : "fallback turned off by -Dshm4j.fallocate=false")
                .contains("reserve 32 MiB: false")
                .contains("openOrCreate of the first: opened 12582912")
                .contains("second heap: ShmException: " + noSpace + " for second.heap: 12582912 bytes (usable=")
                .contains("first heap: 10 blocks of 1 MiB written")
                .contains("stale heap replaced")
                .containsPattern("too big beside a live-looking temporary file: refused in \\d+ ms")
                .contains("racing openOrCreate: " + RACERS * RACES + " of " + RACERS * RACES + " opened, 0 refused")
                .contains("left behind: [stale.heap]");
        Matcher refusal = Pattern.compile("refused in (\\d+) ms").matcher(output);
        assertThat(refusal.find() && Long.parseLong(refusal.group(1)) < 2_500).as("a creation with its turn"
                + " retries about 1 s beside a live-looking temporary file (5 s without its turn): %s", output)
                .isTrue();
    }

    /** A heap whose creator died, taking 12 MiB of the 16: replaced by a create that asks for it. */
    private static void replaceStale(Path file) throws Exception {
        Process maker = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "-cp",
                System.getProperty("java.class.path"), StaleMaker.class.getName(), file.toString())
                .inheritIO().start();
        if (!maker.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)) {
            maker.destroyForcibly();
            throw new IllegalStateException("the stale heap's maker did not end");
        }
        try (SharedHeap heap = SharedHeap.create(file, 12 * MIB, HeapOptions.defaults().withReplaceStale(true))) {
            System.out.println("stale heap " + (heap.blocks().isEmpty() ? "replaced" : "kept"));
        }
    }

    /**
     * {@link #RACERS} threads call {@code openOrCreate} of one 12 MiB heap together, {@link #RACES} times (no room for
     * a second): every one opens the heap one of them made, none is refused for the room another's reservation held.
     */
    private static void race(Path file) throws Exception {
        ExecutorService racers = Executors.newFixedThreadPool(RACERS);
        CyclicBarrier start = new CyclicBarrier(RACERS);
        int opened = 0;
        List<String> refusals = new ArrayList<>();
        try {
            for (int race = 0; race < RACES; race++) {
                List<Future<SharedHeap>> heaps = new ArrayList<>();
                for (int i = 0; i < RACERS; i++) {
                    heaps.add(racers.submit(() -> {
                        start.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                        return SharedHeap.openOrCreate(file, 12 * MIB);
                    }));
                }
                for (Future<SharedHeap> heap : heaps) {
                    try (SharedHeap open = heap.get(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                        opened++;
                    } catch (ExecutionException e) {
                        refusals.add(e.getCause().toString());
                    }
                }
                Files.delete(file);
            }
        } finally {
            racers.shutdownNow();
        }
        System.out.println("racing openOrCreate: " + opened + " of " + RACERS * RACES + " opened, " + refusals.size()
                + " refused " + refusals);
    }

    /**
     * A creation refused for room with its turn retries for about 1 s, not 5, while a temporary file that looks alive
     * lies in the folder (helper-109: an older version's name with pid 1, which anyone may plant in /dev/shm); it
     * prints how long the refusal took.
     */
    private static void refuseAtOnceWithItsTurn(Path dir) throws Exception {
        Path planted = Files.createFile(dir.resolve(".shm4j-1-1.tmp"));
        long start = System.nanoTime();
        try (SharedHeap tooBig = SharedHeap.create(dir.resolve("too-big.heap"), 32 * MIB)) {
            System.out.println("too big: created " + tooBig);
        } catch (ShmException e) {
            System.out.println("too big beside a live-looking temporary file: refused in "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms");
        }
        Files.delete(planted);
    }

    /** Creates a 12 MiB heap with a block at args[0], then dies without closing it. */
    public static final class StaleMaker {
        public static void main(String[] args) {
            SharedHeap heap = SharedHeap.create(Path.of(args[0]), 12 * MIB);
            heap.allocate("left", new BlockType(0x7001, 1), 64);
            Runtime.getRuntime().halt(0);
        }
    }

    /** In the small tmpfs at args[0]; args[1]: whether posix_fallocate may be used. */
    public static final class SmallFileSystem {
        public static void main(String[] args) throws Exception {
            Path dir = Path.of(args[0]);
            if (!Boolean.parseBoolean(args[1])) {
                System.setProperty("shm4j.fallocate", "false"); // before FileSpace is initialised
            }
            System.out.println("fallback " + FileSpace.fallbackReason().orElse("none"));
            Path direct = dir.resolve("direct");
            try (FileChannel channel = FileChannel.open(direct, CREATE_NEW, READ, WRITE)) {
                System.out.println("reserve 32 MiB: " + FileSpace.reserve(direct, channel, 32 * MIB));
            }
            Files.delete(direct);
            Path firstFile = dir.resolve("first.heap");
            try (SharedHeap first = SharedHeap.create(firstFile, 12 * MIB)) {
                try (SharedHeap again = SharedHeap.openOrCreate(firstFile, 12 * MIB)) { // no room for a second one
                    System.out.println("openOrCreate of the first: opened " + again.byteSize());
                }
                try (SharedHeap second = SharedHeap.create(dir.resolve("second.heap"), 12 * MIB)) {
                    System.out.println("second heap: created " + second);
                } catch (ShmException e) {
                    System.out.println("second heap: " + e.getClass().getSimpleName() + ": " + e.getMessage());
                }
                int blocks = 10;
                for (int i = 0; i < blocks; i++) {
                    first.allocate("block" + i, new BlockType(0x7001, 1), MIB).segment().fill((byte) 7);
                }
                System.out.println("first heap: " + blocks + " blocks of 1 MiB written");
            }
            Files.delete(firstFile);
            race(dir.resolve("raced.heap"));
            refuseAtOnceWithItsTurn(dir);
            replaceStale(dir.resolve("stale.heap"));
            try (Stream<Path> left = Files.list(dir)) {
                System.out.println("left behind: " + left.map(p -> p.getFileName().toString()).sorted().toList());
            }
        }
    }
}
