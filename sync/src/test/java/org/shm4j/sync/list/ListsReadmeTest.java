package org.shm4j.sync.list;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedMemory;
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
            list.setDouble(1, 3.75);                                // Python sees it: no lock, as in Python
            list.set(4, "ACME.L");                                  // fits the 8-byte slot "ACME" was given
            assertThat(list.get(4)).isEqualTo("ACME.L");
            assertThat(list.capacity(4)).isEqualTo(8);              // a longer value: IllegalArgumentException
        } finally {
            SharedMemory.unlink("shm4j-readme-prices");             // its creator unlinks it, nobody else
        }
        // README:end
    }

    @Test
    void shouldShowTheseExamplesVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/list/ListsReadmeTest.java"), 1);
    }
}
