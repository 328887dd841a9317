package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the README's {@code sync} examples and checks that the README shows them verbatim. */
class ReadmeExamplesTest {
    @Test
    void valueWithLock() throws InterruptedException {
        // README:begin
        try (SharedHeap heap = SharedHeap.openOrCreate("demo-sync", 1 << 20)) {
            SharedLong hits = SharedLong.openOrCreate(heap, "hits", 0);
            hits.incrementAndGet();                                   // atomic across processes

            SharedLong total = SharedLong.create(heap, "total", 0, true);  // with its own SharedLock
            total.withLock(v -> v + 5);                                // plain read-modify-write under the lock

            SharedLock lock = total.lock();
            lock.lock(Duration.ofSeconds(5));                          // LockTimeoutException names the holder
            try {
                if (!lock.isConsistent()) {                            // a previous owner died holding it
                    total.setPlain(0);                                 // repair, then say so
                    lock.markConsistent();
                }
                total.setPlain(total.getPlain() * 2);
            } finally {
                lock.unlock();
            }
            assertThat(total.get()).isEqualTo(10);
            assertThat(hits.get()).isEqualTo(1);
        } finally {
            SharedHeap.unlink("demo-sync");
        }
        // README:end
    }

    @Test
    void arrays() {
        // README:begin
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedLongArray histogram = SharedLongArray.create(heap, "histogram", 16);
            histogram.incrementAndGet(3);
            histogram.copyFrom(new long[] {7, 8}, 0, 14, 2);
            assertThat(histogram.toArray()).containsExactly(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 8);
        }
        // README:end
    }

    @Test
    void shouldShowTheseExamplesVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/ReadmeExamplesTest.java"), 2);
    }
}
