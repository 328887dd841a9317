package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.Codec;
import org.shm4j.testing.ChildJvm;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A map in a file-backed heap outlives the processes that wrote it, and reopening it checks its codecs. */
class SharedMapPersistenceTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @Test
    void shouldKeepItsEntriesInAFileAcrossProcessesAndRefuseOtherCodecs() throws Exception {
        Path file = dir.resolve("prices.heap");
        try (ChildJvm writer = ChildJvm.start(Writer.class, file.toString())) { // fills, grows and forces it
            writer.awaitSuccess(BOUND);
        }
        try (SharedHeap heap = SharedHeap.open(file)) { // a later process: the writer is gone
            SharedMap<Long, String> prices = SharedMap.open(heap, "prices", Codec.longs(), Codec.utf8());
            assertThat(prices).hasSize(2_000);
            for (long key = 0; key < 2_000; key++) {
                assertThat(prices.get(key)).isEqualTo("price " + key);
            }
            assertThat(prices.stats().repairs()).isZero();
            assertThatThrownBy(() -> SharedMap.open(heap, "prices", Codec.utf8(), Codec.utf8()))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("keys");
        }
    }

    /**
     * helper-182: layout 5 moved the segments (the map block holds one more, and extension block 1 one fewer), so a
     * map a release of layout 4 left in a kept heap is refused on open naming both versions, not misread.
     */
    @Test
    void shouldRefuseAMapOfTheLayoutBeforeTheSpareInItsBlock() {
        try (SharedHeap heap = SharedHeap.create(dir.resolve("old.heap"), 1 << 20)) {
            heap.allocate("prices", new BlockType(MapLayout.MAP.tag(), 4), new MapSizing(100, 8, 16).byteSize());
            assertThatThrownBy(() -> SharedMap.open(heap, "prices", Codec.longs(), Codec.utf8()))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("prices")
                    .hasMessageContaining("block 'prices'").hasMessageContaining("is a SharedMap, type 0x53480051 v4 "
                            + "(expected: a SharedMap, type 0x53480051 v5)");
        }
    }

    /** {@code main(file)}: creates a file heap with a small map, fills it past its sizing, forces it to disk. */
    public static final class Writer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.create(Path.of(args[0]), 1 << 22)) {
                SharedMap<Long, String> prices = SharedMap.create(heap, "prices", Codec.longs(), Codec.utf8(),
                        new MapSizing(100, 8, 16));
                for (long key = 0; key < 2_000; key++) {
                    prices.put(key, "price " + key);
                }
                heap.memory().force();
            }
        }
    }
}
