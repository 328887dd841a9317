package org.shm4j.core.internal;

import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmException;
import org.shm4j.testing.Unshare;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * A region's file gets its blocks when it is created ({@link FileSpace}): on a file system with room for one heap
 * but not two, the second creation is refused with {@link ShmException} and the first heap can be written whole,
 * where sparse files let both be created and a later first touch of a page fault (SIGBUS). Each case runs a child
 * JVM in a mount namespace of its own, over a 16 MiB tmpfs, through {@code posix_fallocate} and through the
 * fallback that writes zeros.
 */
@EnabledOnOs(OS.LINUX)
class FileSpaceTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int MIB = 1 << 20;

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
                .contains("reserve 32 MiB: " + noSpace + " for 33554432 bytes ("
                        + (fallocate ? "posix_fallocate: no space left on device" : "No space left on device"))
                .contains("second heap: ShmException: " + noSpace)
                .contains("first heap: 10 blocks of 1 MiB written")
                .contains("left behind: [first.heap]");
    }

    /** In the small tmpfs at args[0]; args[1]: whether posix_fallocate may be used. */
    public static final class SmallFileSystem {
        public static void main(String[] args) throws IOException {
            Path dir = Path.of(args[0]);
            if (!Boolean.parseBoolean(args[1])) {
                System.setProperty("shm4j.fallocate", "false"); // before FileSpace is initialised
            }
            System.out.println("fallback " + FileSpace.fallbackReason().orElse("none"));
            Path direct = dir.resolve("direct");
            try (FileChannel channel = FileChannel.open(direct, CREATE_NEW, READ, WRITE)) {
                FileSpace.reserve(direct, channel, 32 * MIB);
                System.out.println("reserve 32 MiB: done");
            } catch (ShmException e) {
                System.out.println("reserve 32 MiB: " + e.getMessage());
            }
            Files.delete(direct);
            try (SharedHeap first = SharedHeap.create(dir.resolve("first.heap"), 12 * MIB)) {
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
            try (Stream<Path> left = Files.list(dir)) {
                System.out.println("left behind: " + left.map(p -> p.getFileName().toString()).sorted().toList());
            }
        }
    }
}
