package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A read-only open of a file that another process truncates meanwhile either maps the file as it then is or says, in
 * the region's terms, that the file shrank under it: never the JDK's bare I/O failure.
 */
class TruncatedWhileOpeningTest {
    /**
     * helper-183: a read-only map of a file shorter than the size read a moment before fails in the JDK ("Channel not
     * open for writing - cannot extend file to required size"); 594 to 669 of 20,000 opens against a writer toggling
     * the file between 64 KiB and 4 KiB threw "cannot open FILE: java.io.IOException: ...".
     */
    @Test
    void shouldSayTheFileShrankWhenAReadOnlyOpenRacesATruncation(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("region");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(1 << 16);
        }
        AtomicBoolean stop = new AtomicBoolean();
        Thread truncator = Thread.ofPlatform().start(() -> {
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                while (!stop.get()) {
                    f.setLength(4096);
                    f.setLength(1 << 16);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        List<String> refusals = new ArrayList<>();
        try {
            for (int i = 0; i < 3_000; i++) {
                try (SharedMemory region = SharedMemory.openReadOnly(file)) {
                    assertThat(region.byteSize()).isIn(4096L, 1L << 16);
                } catch (ShmException e) {
                    refusals.add(e.getMessage());
                }
            }
        } finally {
            stop.set(true);
            truncator.join(10_000);
        }
        assertThat(refusals).allSatisfy(message -> assertThat(message)
                .startsWith(file + " shrank below the 65536 bytes read while it was being mapped, twice in a row")
                .endsWith("another process is truncating it"));
    }
}
