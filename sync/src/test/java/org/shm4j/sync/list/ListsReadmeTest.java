package org.shm4j.sync.list;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.sync.Codec;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the README's examples of the lists and checks that the README shows them verbatim. */
class ListsReadmeTest {
    @Test
    void shareableList() {
        // README:begin
        try (ShareableList list = ShareableList.create("shm4j-readme-prices",
                Arrays.asList(42L, 3.5, true, null, "ACME", new byte[]{1, 2}))) {
            try {                                                   // made it: so it is ours to unlink
                list.setDouble(1, 3.75);                            // Python sees it: no lock, as in Python
                list.set(4, "ACME.L");                              // fits the 8-byte slot "ACME" was given
                assertThat(list.get(4)).isEqualTo("ACME.L");
                assertThat(list.capacity(4)).isEqualTo(8);          // a longer value: IllegalArgumentException
            } finally {
                SharedMemory.unlink("shm4j-readme-prices");         // its creator unlinks it, nobody else
            }
        }
        // README:end
    }

    @Test
    void sharedList() {
        // README:begin
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<String> jobs = SharedList.openOrCreate(heap, "jobs", Codec.utf8(), 64); // 64 bytes a value
            jobs.add("resize");                                     // any thread of any process that opens "jobs"
            jobs.add(0, "first");                                   // O(size - index), like remove(index)
            jobs.set(1, "resize 2x");
            assertThat(jobs.get(1)).isEqualTo("resize 2x");         // no lock: a seqlock read
            assertThat(jobs.snapshot()).containsExactly("first", "resize 2x");
            assertThat(jobs.removeLast()).isEqualTo("resize 2x");
        }
        // README:end
    }

    @Test
    void shouldShowTheseExamplesVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/list/ListsReadmeTest.java"), 2);
    }
}
