package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs the README's {@code core} examples, and checks that the README shows them exactly as they are here, so that
 * no example in the README rots. Each example sits between {@code // README:begin} and {@code // README:end}.
 */
class ReadmeExamplesTest {
    @TempDir
    Path dir;

    @Test
    void namedRegion() {
        // README:begin
        try (SharedMemory region = SharedMemory.create("demo-region", 4096)) {  // /dev/shm/demo-region, mode 0600
            try (SharedMemory other = SharedMemory.open("demo-region")) {       // as another process would
                region.segment().set(ValueLayout.JAVA_INT, 0, 42);
                assertThat(other.segment().get(ValueLayout.JAVA_INT, 0)).isEqualTo(42);
            } finally {
                SharedMemory.unlink("demo-region");   // only its creator removes it, never someone else's
            }
        }
        // README:end
    }

    @Test
    void heapWithNamedBlocks() {
        // README:begin
        BlockType stats = new BlockType(0x1234, 1);   // your structure's type tag and layout version
        HeapOptions options = HeapOptions.defaults()
                .withReplaceStale(true)          // a heap left by a killed run is replaced; one in use never is
                .withUnlinkOnLastDetach(true);   // the last process to close it removes /dev/shm/demo-heap
        try (SharedHeap heap = SharedHeap.openOrCreate("demo-heap", 1 << 20, options)) {
            HeapBlock block = heap.allocateOrLookup("stats", stats, 64, 64,
                    init -> init.set(ValueLayout.JAVA_LONG, 0, 1L));  // runs once, before anyone can see it
            try (SharedHeap other = SharedHeap.open("demo-heap")) {
                MemorySegment seen = other.lookup("stats", stats).segment();
                assertThat(seen.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(1L);
                assertThat(seen.address()).isNotEqualTo(block.segment().address()); // another mapping, same bytes
                assertThat(heap.attachedProcesses()).hasSize(1);   // this process, with 2 attachments
            }
        }
        assertThat(SharedMemory.exists("demo-heap")).isFalse();
        // README:end
    }

    @Test
    void persistentFile() {
        Path file = dir.resolve("counters.heap");
        // README:begin
        for (int run = 1; run <= 3; run++) {                             // three runs of a program
            try (SharedHeap heap = SharedHeap.openOrCreate(file, 1 << 16)) {
                MemorySegment boots = heap.allocateOrLookup("boot-count", new BlockType(0x1235, 1), 8, 8,
                        fresh -> { }).segment();                         // made zero in the first run only
                boots.set(ValueLayout.JAVA_LONG, 0, boots.get(ValueLayout.JAVA_LONG, 0) + 1);
                heap.memory().force();                                   // msync to disk
            }
        }
        try (SharedHeap heap = SharedHeap.open(file)) {                  // later, in any process
            long bootCount = heap.lookup("boot-count", new BlockType(0x1235, 1)).segment()
                    .get(ValueLayout.JAVA_LONG, 0);
            assertThat(bootCount).isEqualTo(3L);
        }
        // README:end
    }

    @Test
    void shouldShowTheseExamplesVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/core/ReadmeExamplesTest.java"), 3);
    }
}
