package org.shm4j.sync;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The header checks {@link BlockCorruptionTest} fuzzes, one state each, with the exact message: the structure, the
 * field and the value found.
 */
class HeaderChecksTest extends RawMemoryTest {
    @Test
    void shouldRefuseARingWhoseSegmentEndsBeforeItsCapacity() {
        SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 2048);
        assertThatThrownBy(() -> SharedRing.wrap(raw.asSlice(0, 2048), 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("ring at " + at + " is corrupted: capacity=2048 (expected: <= the 1024 bytes after the "
                        + "header in the segment)");
        assertThatThrownBy(() -> SharedRing.wrap(raw.asSlice(0, 1000), 0))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("ring at " + at + ": 1024 bytes at offset 0 (expected: inside the segment of 1000 bytes)");
    }

    /** A wrap over closed memory names the structure; the JDK's own "Already closed" named nothing (helper-145). */
    @Test
    void shouldNameTheStructureWrappedOverClosedMemory() {
        MemorySegment closed;
        try (Arena gone = Arena.ofShared()) {
            closed = gone.allocate(4096, 64);
            SharedRing.format(closed, 0, SharedRing.Kind.SPSC, 1024);
        }
        for (var wrap : List.<Map.Entry<String, ThrowingCallable>>of(
                Map.entry("lock", () -> SharedLock.wrap(closed, 0)),
                Map.entry("SharedLong", () -> SharedLong.wrap(closed, 8)),
                Map.entry("semaphore", () -> SharedSemaphore.wrap(closed, 0)),
                Map.entry("ring", () -> SharedRing.wrap(closed, 0)))) {
            long offset = wrap.getKey().equals("SharedLong") ? 8 : 0;
            assertThatThrownBy(wrap.getValue()).isInstanceOf(IllegalStateException.class)
                    .hasMessage(wrap.getKey() + " at 0x" + Long.toHexString(closed.address() + offset)
                            + ": the segment's memory is closed");
        }
    }

    @Test
    void shouldCheckTheMagicBeforeTheCapacity() {
        raw.set(JAVA_INT, SyncLayout.RING_CAPACITY_OFFSET, 1 << 30);
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessageStartingWith("ring at " + at + " is not a ring: magic=0x0");
    }

    @Test
    void shouldRefuseRingPositionsNoRingHas() {
        SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        raw.set(JAVA_LONG, SyncLayout.RING_TAIL_OFFSET, 1032);
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("ring at " + at + " is corrupted: tail=1032 (expected: head 0 to head + capacity 1024)");
        raw.set(JAVA_LONG, SyncLayout.RING_TAIL_OFFSET, 12);
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("ring at " + at + " is corrupted: tail=12 (expected: a multiple of 8, >= 0)");
    }

    @Test
    void shouldRefuseReservedBytesThatAreNotZero() {
        SharedRing.format(raw, 0, SharedRing.Kind.MPMC, 1024);
        raw.set(JAVA_LONG, SyncLayout.RING_TAIL_OFFSET + 64, -1L); // between tail and orphanBound
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("ring at " + at + " is corrupted: reserved byte 192=-1 (expected: 0)");
        SharedCountDownLatch.format(raw, 0, 2);
        raw.set(JAVA_INT, 40, 7);
        assertThatThrownBy(() -> SharedCountDownLatch.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("latch at " + at + " is corrupted: reserved byte 40=7 (expected: 0)");
        SharedCountDownLatch.format(raw, 0, 2);
        raw.set(JAVA_INT, SyncLayout.COORD_PARAM2_OFFSET, 7); // a second parameter the latch does not use
        assertThatThrownBy(() -> SharedCountDownLatch.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("latch at " + at + " is corrupted: reserved byte 20=7 (expected: 0)");
        SharedBarrier.format(raw, 0, 2);
        raw.set(JAVA_INT, SyncLayout.COORD_PARAM2_OFFSET, 7);
        assertThatThrownBy(() -> SharedBarrier.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("barrier at " + at + " is corrupted: reserved byte 20=7 (expected: 0)");
        SharedEvent.format(raw, 0);
        raw.set(JAVA_INT, SyncLayout.COORD_PARAM1_OFFSET, 7); // the event uses neither parameter
        assertThatThrownBy(() -> SharedEvent.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("event at " + at + " is corrupted: reserved byte 16=7 (expected: 0)");
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLongArray.create(heap, "a", 4);
            heap.find("a").orElseThrow().segment().set(JAVA_INT, 12, 1);
            assertThatThrownBy(() -> SharedLongArray.open(heap, "a")).isInstanceOf(ShmFormatException.class)
                    .hasMessage("array 'a' is corrupted: reserved byte 12=1 (expected: 0)");
        }
    }

    @Test
    void shouldRefuseALockWordWithoutAPid() {
        raw.set(JAVA_LONG, SyncLayout.MUTEX_WORD, 0x1234L << 32);
        assertThatThrownBy(() -> SharedLock.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("lock at " + at + " is corrupted: lock word=0x123400000000 (expected: 0, or a pid in "
                        + "bits 0..29, bit 31 clear and start stamp bits 32..63 not all 0)");
    }

    @Test
    void shouldAcceptALockWordNamingAnyPid() {
        raw.set(JAVA_LONG, SyncLayout.MUTEX_WORD, 0x1234L << 32 | 77);
        assertThat(SharedLock.wrap(raw, 0).owner()).hasValueSatisfying(owner -> assertThat(owner.pid()).isEqualTo(77));
    }

    @Test
    void shouldRefuseATakenFairTurnWithNoTicketOut() {
        raw.set(JAVA_INT, SyncLayout.FAIR_NEXT_TICKET_OFFSET, 5);
        raw.set(JAVA_INT, SyncLayout.FAIR_SERVING_OFFSET, 5 | SyncLayout.FAIR_TAKEN);
        assertThatThrownBy(() -> SharedFairLock.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("fair lock at " + at + " is corrupted: tickets out (next ticket 5 - serving)=0 "
                        + "(expected: 1..64)");
        raw.set(JAVA_INT, SyncLayout.FAIR_SERVING_OFFSET, 5);
        assertThat(SharedFairLock.wrap(raw, 0).tryLock()).isTrue();
    }

    @Test
    void shouldRefuseANegativeReadHoldCount() {
        raw.set(JAVA_INT, SyncLayout.RW_SLOTS_OFFSET + 3 * ProcessSlots.SLOT_SIZE + ProcessSlots.FIRST, -1);
        assertThatThrownBy(() -> SharedReadWriteLock.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessage("read-write lock at " + at + " is corrupted: process slot 3 first counter=-1 "
                        + "(expected: >= 0)");
    }

    @Test
    void shouldRefuseAHeapLockBlockOfAnotherSize() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("small", SyncLayout.LOCK, 16);
            assertThatThrownBy(() -> SharedLock.open(heap, "small")).isInstanceOf(ShmFormatException.class)
                    .hasMessage("lock 'small' is corrupted: block size=16 (expected: 64)");
        }
    }
}
