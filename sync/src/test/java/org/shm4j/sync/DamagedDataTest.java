package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.internal.SyncLayout.COORD_PARAM2_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMED_TO_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * Damaged bytes past a structure's header, in the data its operations walk (found by the helper-84 sweep, each of
 * which threw the JDK's bare exception): each gives {@link ShmFormatException} naming the structure, the value found
 * and where.
 */
class DamagedDataTest extends RawMemoryTest {
    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldNameARingRecordHeaderNoProducerWrites(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        for (int i = 0; i < 3; i++) {
            assertThat(ring.offer(7, new byte[4], 0, 4)).isTrue();
        }
        raw.set(JAVA_INT, RING_HEADER_SIZE, -1); // the first record's length: a claim mark of 1 byte
        String message = "ring at " + at + " is corrupted: record header 0x7ffffffff at 0 (capacity 1024)";
        assertThatThrownBy(ring::messageCount).isInstanceOf(ShmFormatException.class).hasMessage(message);
        assertThatThrownBy(ring::hasMessage).isInstanceOf(ShmFormatException.class).hasMessage(message);
        raw.set(JAVA_INT, RING_HEADER_SIZE, 2048); // a committed record longer than the buffer
        assertThatThrownBy(ring::messageCount).isInstanceOf(ShmFormatException.class)
                .hasMessage("ring at " + at + " is corrupted: record header 0x700000800 at 0 (capacity 1024)");
        raw.set(JAVA_INT, RING_HEADER_SIZE, 3); // shorter than its own header
        assertThatThrownBy(ring::hasMessage).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("record header 0x700000003 at 0");
    }

    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldKeepEveryAccessInsideTheRingWhenAPositionIsDamagedWhileOpen(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        assertThat(ring.offer(7, new byte[4], 0, 4)).isTrue();
        long position = kind == SharedRing.Kind.SPSC ? RING_HEAD_OFFSET : RING_CONSUMED_TO_OFFSET;
        raw.set(JAVA_LONG, position, 1023); // unaligned, at the buffer's last byte: a header read there would overrun
        raw.set(JAVA_LONG, RING_TAIL_OFFSET, 2047);
        for (int i = 0; i < 3; i++) {
            try {
                ring.poll((t, b, o, l) -> { });
                ring.offer(7, new byte[4], 0, 4);
            } catch (ShmFormatException named) {
                assertThat(named).hasMessageStartingWith("ring at " + at + " is corrupted: ");
            }
        }
    }

    @Test
    void shouldRefuseAListBlockTooSmallForItsHeader() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("l", SharedList.blockType(), 8); // another program may allocate so: the checksum holds
            assertThatThrownBy(() -> SharedList.open(heap, "l", Codec.utf8())).isInstanceOf(ShmFormatException.class)
                    .hasMessage("SharedList 'l' is corrupted: block size=8 (expected: >= 256, its fixed header)");
            assertThatThrownBy(() -> SharedList.sizeOf(heap, "l")).isInstanceOf(ShmFormatException.class);
        }
    }

    @Test
    void shouldRefuseASemaphoreWhosePermitsNoCallGives() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedSemaphore.create(heap, "s", 3, SharedSemaphore.Kind.BOUNDED);
            MemorySegment block = heap.find("s").orElseThrow().segment();
            block.set(JAVA_INT, COORD_PARAM2_OFFSET, -1);
            assertThatThrownBy(() -> SharedSemaphore.open(heap, "s")).isInstanceOf(ShmFormatException.class)
                    .hasMessage("semaphore 's' has a corrupted header: permits=-1 (expected: 1..2147483647 for a "
                            + "BOUNDED semaphore)");
            block.set(JAVA_INT, COORD_PARAM2_OFFSET, 1);
            assertThatThrownBy(() -> SharedSemaphore.open(heap, "s")).isInstanceOf(ShmFormatException.class)
                    .hasMessage("semaphore 's' is corrupted: 3 permits available, above its bound 1");
            block.set(JAVA_INT, COORD_PARAM2_OFFSET, 3);
            assertThat(SharedSemaphore.open(heap, "s").availablePermits()).isEqualTo(3);
        }
    }
}
