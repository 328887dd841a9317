package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.atomic.SharedCounters;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.CountersLayout;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.BiConsumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A lock word that names a live pid with start stamp bits 0, such as one damaged byte (0x01) in a free word makes
 * ("pid 1, start 0"): no process writes such a word, since a process whose start stamp is unknown, or whose low 32
 * bits are 0, writes {@code ProcessIdentity.UNKNOWN_START_BITS} there. So opening a structure that holds one refuses
 * it, naming the structure; and a word damaged so after opening is taken over as a dead owner's, so that no untimed
 * wait waits for ever on pid 1, which never dies. Every wait here is bounded by the timeout.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // the bug was a wait for ever
class LockWordCorruptionTest {
    /** The word one damaged byte 0x01 makes of a free lock word: pid 1, start stamp bits 0. */
    private static final long PID_1_NO_START = 1L;
    /** A process slot token naming pid 1 with start stamp bits 0. */
    private static final long PID_1_NO_START_TOKEN = 1L << 32;

    /**
     * A structure holding a lock word or a process token.
     *
     * @param block  the heap block holding it
     * @param offset where the word is in the block
     * @param word   the damaged word
     * @param open   opens the structure named "s"
     * @param refusal the message the open throws
     */
    record Subject(String label, BiConsumer<SharedHeap, String> create, String block, long offset, long word,
                   BiConsumer<SharedHeap, String> open, String refusal) {
        @Override
        public String toString() {
            return label;
        }
    }

    private static final String LOCK_WORD = "lock word=0x1 (expected: 0, or a pid in bits 0..29, bit 31 clear and "
            + "start stamp bits 32..63 not all 0)";

    static List<Subject> subjects() {
        return List.of(
                new Subject("SharedLong's lock", (heap, name) -> SharedLong.create(heap, name, 5, true), "s.lock",
                        SyncLayout.MUTEX_WORD, PID_1_NO_START, SharedLong::open,
                        "lock 's.lock' is corrupted: " + LOCK_WORD),
                new Subject("SharedLock", SharedLock::create, "s", SyncLayout.MUTEX_WORD, PID_1_NO_START,
                        SharedLock::open, "lock 's' is corrupted: " + LOCK_WORD),
                new Subject("SharedReadWriteLock writer", SharedReadWriteLock::create, "s",
                        SyncLayout.RW_WRITER_OFFSET + SyncLayout.MUTEX_WORD, PID_1_NO_START, SharedReadWriteLock::open,
                        "read-write lock 's' writer is corrupted: " + LOCK_WORD.replace("clear", "the entering bit")),
                new Subject("MPMC ring consumers' mutex",
                        (heap, name) -> SharedRing.create(heap, name, SharedRing.Kind.MPMC, SharedRing.MIN_CAPACITY),
                        "s", SyncLayout.RING_CONSUMER_MUTEX_OFFSET, PID_1_NO_START, SharedRing::open,
                        "ring 's' consumers' mutex is corrupted: " + LOCK_WORD),
                new Subject("SharedCounters mutex", (heap, name) -> SharedCounters.create(heap, name, 4), "s",
                        CountersLayout.MUTEX_OFFSET, PID_1_NO_START, SharedCounters::open,
                        "SharedCounters 's' mutex is corrupted: " + LOCK_WORD),
                new Subject("undo SharedSemaphore mutex",
                        (heap, name) -> SharedSemaphore.create(heap, name, 3, SharedSemaphore.Kind.UNDO), "s",
                        SyncLayout.SEM_MUTEX_OFFSET, PID_1_NO_START, SharedSemaphore::open,
                        "semaphore 's' is corrupted: " + LOCK_WORD),
                new Subject("SharedReadWriteLock process slot", SharedReadWriteLock::create, "s",
                        SyncLayout.RW_SLOTS_OFFSET + ProcessSlots.TOKEN, PID_1_NO_START_TOKEN,
                        SharedReadWriteLock::open, "read-write lock 's' is corrupted: process slot 0 token=0x100000000 "
                        + "(expected: 0, or a pid in bits 62..32 and start stamp bits 31..0 not all 0)"),
                new Subject("SharedFairLock process slot", SharedFairLock::create, "s",
                        SyncLayout.FAIR_PROCESSES_OFFSET + ProcessSlots.TOKEN, PID_1_NO_START_TOKEN,
                        SharedFairLock::open, "fair lock 's' is corrupted: process slot 0 token=0x100000000 "
                        + "(expected: 0, or a pid in bits 62..32 and start stamp bits 31..0 not all 0)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("subjects")
    void shouldRefuseAtOpenAWordNamingAPidWithoutAStartStamp(Subject subject) {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            subject.create().accept(heap, "s");
            heap.find(subject.block()).orElseThrow().segment().set(JAVA_LONG, subject.offset(), subject.word());
            assertThatThrownBy(() -> subject.open().accept(heap, "s")).isInstanceOf(ShmFormatException.class)
                    .hasMessage(subject.refusal());
        }
    }

    /** The reviewer's reproducer: byte 0x01 at offset 0 of {@code total.lock}; withLock waited for ever. */
    @Test
    void shouldTakeOverALockWordDamagedAfterOpen() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedLong total = SharedLong.create(heap, "total", 5, true);
            MemorySegment lockBlock = heap.find("total.lock").orElseThrow().segment();
            lockBlock.set(JAVA_BYTE, 0, (byte) 1);
            assertThat(total.lock().owner()).hasValueSatisfying(owner -> assertThat(owner.pid()).isEqualTo(1));
            assertThat(total.withLock(v -> v + 1)).as("taken over, as from a dead owner").isEqualTo(6);
            assertThat(total.lock().isConsistent()).isFalse();
            assertThat(total.lock().recoveries()).isEqualTo(1);
            assertThat(total.lock().owner()).isEmpty();
        }
    }

    @Test
    void shouldLetReadersAndWritersPastAWriterWordDamagedAfterOpen() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            MemorySegment block = heap.find("rw").orElseThrow().segment();
            long word = SyncLayout.RW_WRITER_OFFSET + SyncLayout.MUTEX_WORD;
            block.set(JAVA_LONG, word, PID_1_NO_START);
            rw.readLock().lock(); // clears the word, as a dead writer's
            rw.readLock().unlock();
            block.set(JAVA_LONG, word, PID_1_NO_START);
            rw.writeLock().lock();
            assertThat(rw.isConsistent()).isFalse();
            assertThat(rw.recoveries()).isEqualTo(2);
            rw.markConsistent();
            rw.writeLock().unlock();
        }
    }
}
