package org.shm4j.sync.list;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.internal.RobustMutex;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_INDEX_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_OP_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_PROGRESS_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_SIZE_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_MUTEX_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SCRATCH_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SIZE_OFFSET;
import static org.shm4j.sync.list.ListLayout.OP_INSERT;
import static org.shm4j.sync.list.ListLayout.OP_REMOVE;

/**
 * A writer that died with its insert or remove committed to the journal but not yet run: the next writer replays
 * the whole shift while lock-free readers keep reading, and no reader ever gets an element half copied, or a
 * snapshot that is neither the list before the change nor the list after it.
 */
class SharedListRecoveryTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Elements: chunks 0 to 5 hold 4032 slots, so an insert needs no new chunk. */
    private static final int SIZE = 4000;
    /** Bytes per element: a shift copies about 4 MB, long enough for readers to run into it. */
    private static final int BYTES = 1024;
    /** Ids of the elements the dead writers insert; those of the list's own elements are 0 to SIZE - 1. */
    private static final long INSERTED = 1_000_000;
    private static final int ROUNDS = 16;
    /**
     * A lock word naming a pid no process has (the pid field is 30 bits), with start stamp bits 1, so the owner is
     * dead.
     */
    private static final long DEAD_OWNER = 1L << 32 | 0x3FFF_FFFFL;

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    @Test
    void shouldKeepReadersFromSeeingAReplayedShiftHalfDone() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(16 << 20)) {
            SharedList<byte[]> list = SharedList.create(heap, "l", Codec.bytes(), BYTES);
            for (int id = 0; id < SIZE; id++) {
                list.add(element(id));
            }
            MemorySegment header = heap.lookup("l", ListLayout.LIST).segment();
            AtomicBoolean running = new AtomicBoolean(true);
            ExecutorService readers = Executors.newFixedThreadPool(2);
            try {
                Future<Long> snapshots = readers.submit(() -> count(running, () -> checkList(list.snapshot())));
                Future<Long> gets = readers.submit(() -> count(running, () -> {
                    int index = ThreadLocalRandom.current().nextInt(SIZE);
                    checkAt(index, list.get(index));
                }));
                for (int round = 0; round < ROUNDS; round++) {
                    boolean insert = round % 2 == 0;
                    dieWithJournalCommitted(header, insert, INSERTED + round);
                    int last = insert ? SIZE : SIZE - 1;
                    list.set(last, element(SIZE - 1)); // takes the mutex over, replays the shift, sets the same
                    assertThat(list.size()).isEqualTo(last + 1);
                }
                running.set(false);
                assertThat(snapshots.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isPositive();
                assertThat(gets.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isPositive();
            } finally {
                running.set(false);
                readers.shutdownNow();
                assertThat(readers.awaitTermination(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            }
            assertThat(list.recoveries()).isEqualTo(ROUNDS);
            checkList(list.snapshot());
        }
    }

    /**
     * As a writer killed right after its journal's commit, before its seqlock section: takes the writers' mutex,
     * journals an insert of element {@code id} at index 0 (or a remove at 0), and leaves the mutex to a dead owner.
     */
    private static void dieWithJournalCommitted(MemorySegment header, boolean insert, long id)
            throws InterruptedException {
        assertThat(new RobustMutex(header, LIST_MUTEX_OFFSET, "list mutex").acquire(BOUND.toNanos(), false)).isTrue();
        long size = header.get(JAVA_LONG, LIST_SIZE_OFFSET);
        byte[] value = element(id);
        header.set(JAVA_INT, LIST_SCRATCH_OFFSET, value.length);
        MemorySegment.copy(value, 0, header, JAVA_BYTE, LIST_SCRATCH_OFFSET + Integer.BYTES, value.length);
        header.set(JAVA_LONG, LIST_JOURNAL_INDEX_OFFSET, 0L);
        header.set(JAVA_LONG, LIST_JOURNAL_PROGRESS_OFFSET, insert ? size : 0L);
        header.set(JAVA_LONG, LIST_JOURNAL_SIZE_OFFSET, size);
        INT.setRelease(header, LIST_JOURNAL_OP_OFFSET, insert ? OP_INSERT : OP_REMOVE); // the commit point
        LONG.setVolatile(header, LIST_MUTEX_OFFSET, DEAD_OWNER); // the writer is gone
    }

    /** @return how many times {@code check} ran until {@code running} turned false */
    private static long count(AtomicBoolean running, Runnable check) {
        long runs = 0;
        while (running.get()) {
            check.run();
            runs++;
        }
        return runs;
    }

    /** Checks that {@code list} is the list before a change ({@code 0..SIZE-1}) or after an insert at 0. */
    private static void checkList(List<byte[]> list) {
        int shift = list.size() - SIZE;
        assertThat(shift).as("size %d", list.size()).isBetween(0, 1);
        if (shift == 1) {
            assertThat(idOf(list.getFirst())).as("the element inserted at 0").isGreaterThanOrEqualTo(INSERTED);
        }
        for (int i = shift; i < list.size(); i++) {
            assertThat(idOf(list.get(i))).as("element %d of a snapshot of %d", i, list.size()).isEqualTo(i - shift);
        }
    }

    /** Checks that {@code value} is whole and is what index {@code index} holds before or after an insert at 0. */
    private static void checkAt(int index, byte[] value) {
        long id = idOf(value);
        if (id != index && id != index - 1) {
            assertThat(index).as("element %d has id %d", index, id).isZero();
            assertThat(id).isGreaterThanOrEqualTo(INSERTED);
        }
    }

    /** @return the element of id {@code id}: its id, then bytes that depend on the id and their position */
    private static byte[] element(long id) {
        byte[] bytes = new byte[BYTES];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(id);
        for (int i = Long.BYTES; i < BYTES; i++) {
            bytes[i] = filler(id, i);
        }
        return bytes;
    }

    /** @return the id of {@code value}, after checking that every byte is the one {@link #element} wrote */
    private static long idOf(byte[] value) {
        assertThat(value).hasSize(BYTES);
        long id = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getLong();
        for (int i = Long.BYTES; i < BYTES; i++) {
            if (value[i] != filler(id, i)) {
                throw new AssertionError("element of id " + id + " is torn at byte " + i);
            }
        }
        return id;
    }

    private static byte filler(long id, int i) {
        return (byte) (id * 31 + i * 7);
    }
}
