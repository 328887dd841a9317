package org.shm4j.core;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Damaged heap bytes give a clear {@link ShmException} or a heap that still works: never a crash, an out-of-bounds
 * read, another exception type, or a hang. About 1000 trials each of bit flips, random bytes and truncations.
 */
class CorruptionTest {
    private static final int TRIALS = 1000;
    private static final int HEAP_SIZE = 1 << 15;
    private static final int CAPACITY = 16;
    private static final String[] NAMES = {"alpha", "beta", "gamma", "δέλτα", "e", "final-block"};
    private static final BlockType TYPE = new BlockType(0xC0DE, 1);
    private static final HeapOptions QUICK = HeapOptions.defaults().withInitTimeout(Duration.ofMillis(20));

    @TempDir
    Path dir;

    private byte[] image;
    private int catalogEnd;

    @BeforeEach
    void buildImage() {
        Path file = dir.resolve("pristine.heap");
        try (SharedHeap heap = SharedHeap.create(file, HEAP_SIZE, HeapOptions.defaults()
                .withCatalogCapacity(CAPACITY))) {
            for (int i = 0; i < NAMES.length; i++) {
                heap.allocate(NAMES[i], TYPE, 8 + i * 100, 8L << i, s -> s.fill((byte) 1));
            }
            image = heap.memory().segment().toArray(JAVA_BYTE);
        }
        catalogEnd = 2304 + NAMES.length * 128;
    }

    @Test
    @Timeout(120)
    void shouldSurviveBitFlipsInHeaderAndCatalog() throws IOException {
        Random random = new Random(1);
        int valid = 0;
        for (int trial = 0; trial < TRIALS; trial++) {
            byte[] bytes = image.clone();
            int flips = 1 + random.nextInt(8);
            for (int f = 0; f < flips; f++) {
                int at = random.nextInt(catalogEnd);
                bytes[at] ^= (byte) (1 << random.nextInt(8));
            }
            valid += openAndUse(bytes, trial) ? 1 : 0;
        }
        assertThat(valid).as("some damage is harmless (padding, reserved bytes)").isBetween(1, TRIALS - 1);
    }

    @Test
    @Timeout(120)
    void shouldSurviveRandomBytesInHeaderAndCatalog() throws IOException {
        Random random = new Random(2);
        for (int trial = 0; trial < TRIALS; trial++) {
            byte[] bytes = image.clone();
            int start = random.nextInt(catalogEnd);
            int length = 1 + random.nextInt(16);
            for (int i = start; i < Math.min(catalogEnd, start + length); i++) {
                bytes[i] = (byte) random.nextInt(256);
            }
            openAndUse(bytes, trial);
        }
    }

    @Test
    @Timeout(120)
    void shouldSurviveDamageToTheNewHeaderFieldsAndTheAttachTable() throws IOException {
        Random random = new Random(4);
        int[] words = {64, 72, 80, 88, 152}; // heapId, attachOffset, attachCapacity+slotLength, flags, removal
        for (int trial = 0; trial < TRIALS; trial++) {
            byte[] bytes = image.clone();
            ByteBuffer view = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            boolean inTable = trial % 2 == 0;
            int at = inTable ? 256 + 8 * random.nextInt(2048 / 8) : words[random.nextInt(words.length)];
            long value = switch (random.nextInt(4)) {
                case 0 -> random.nextLong();
                case 1 -> 0L;
                case 2 -> ProcessHandle.current().pid() << 32 | random.nextInt(2); // this pid: bits 0 (damaged), 1
                default -> ProcessIdentity.token(random.nextInt(1 << 22), 0); // some pid, start time unknown
            };
            view.putLong(at, value);
            openAndUse(bytes, trial);
        }
    }

    @Test
    @Timeout(120)
    void shouldSurviveTruncation() throws IOException {
        Random random = new Random(3);
        for (int trial = 0; trial < TRIALS; trial++) {
            int length = trial < 300 ? random.nextInt(catalogEnd + 64) : random.nextInt(image.length);
            assertThat(openAndUse(Arrays.copyOf(image, length), trial)).as("truncated to %d bytes", length).isFalse();
        }
    }

    @Test
    void shouldRefuseAnEntryRewrittenWithAValidChecksumToOverlapTheBlockBeforeIt() throws IOException {
        Path file = dir.resolve("forged.heap");
        Files.write(file, image);
        try (SharedHeap heap = SharedHeap.open(file, QUICK)) {
            long alpha = heap.lookup("alpha", TYPE).offset();
            MemorySegment beta = heap.memory().segment().asSlice(HeapLayout.entryOffset(1), HeapLayout.ENTRY_LENGTH);
            beta.set(JAVA_LONG, HeapLayout.ENTRY_OFFSET_OFFSET, alpha); // beta's bytes would be alpha's
            CRC32C crc = new CRC32C();
            crc.update(beta.asSlice(0, HeapLayout.ENTRY_CHECKSUM_OFFSET).asByteBuffer());
            beta.set(JAVA_INT, HeapLayout.ENTRY_CHECKSUM_OFFSET, (int) crc.getValue());

            String overlap = "has a corrupted catalog entry 1: block 'beta' at offset=" + alpha
                    + " overlaps the block before it, which ends at " + (alpha + 8);
            assertThat(heap.lookup("alpha", TYPE).byteSize()).isEqualTo(8);
            assertThatThrownBy(() -> heap.lookup("beta", TYPE)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining(overlap);
            assertThatThrownBy(() -> heap.find("final-block")).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining(overlap);
            assertThatThrownBy(heap::blocks).isInstanceOf(ShmFormatException.class).hasMessageContaining(overlap);
            assertThatThrownBy(() -> heap.allocate("added", TYPE, 16)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining(overlap);
        }
    }

    /** @return true if the damaged heap opened and every use of it either worked or threw a ShmException */
    private boolean openAndUse(byte[] bytes, int trial) throws IOException {
        Path file = dir.resolve("trial-" + trial + ".heap");
        Files.write(file, bytes);
        try {
            try (SharedHeap heap = SharedHeap.open(file, QUICK)) {
                for (String name : NAMES) {
                    useQuietly(() -> heap.lookup(name, TYPE).segment().get(JAVA_BYTE, 0));
                }
                useQuietly(heap::blocks);
                useQuietly(heap::freeBytes);
                useQuietly(() -> heap.allocate("added", TYPE, 16));
                useQuietly(() -> heap.find("added"));
                return true;
            } catch (ShmException expected) {
                assertThat(expected.getMessage()).isNotBlank();
                return false;
            }
        } finally {
            Files.delete(file);
        }
    }

    private static void useQuietly(Runnable use) {
        try {
            use.run();
        } catch (ShmException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
    }
}
