package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the README's {@code SharedMap} example and checks that the README shows it verbatim. */
class SharedMapReadmeTest {
    @Test
    void sharedMap() {
        // README:begin
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedMap<String, Long> hits = SharedMap.openOrCreate(heap, "hits", Codec.utf8(), Codec.longs(),
                    new MapSizing(1_000, 16, 8));             // entries, average key and value bytes
            hits.merge("/index.html", 1L, Long::sum);          // atomic across processes
            hits.computeIfAbsent("/about.html", page -> 0L);
            assertThat(hits).containsEntry("/index.html", 1L).hasSize(2);

            SharedLongMap<byte[]> blobs = SharedLongMap.create(heap, "blobs", Codec.bytes(),
                    MapSizing.ofLongKeys(1_000, 64));
            blobs.set(42, new byte[64]);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buffer = arena.allocate(64);
                assertThat(blobs.getInto(42, buffer, 0)).isEqualTo(64);   // no allocation, no lock
            }
            assertThat(hits.stats().fullestSegment()).isLessThan(0.1);
        }
        // README:end
    }

    @Test
    void shouldShowThisExampleVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/map/SharedMapReadmeTest.java"), 1);
    }
}
