package org.shm4j.sync.list;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.Codec;
import org.shm4j.sync.OddStepsWriter;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A {@link SharedList} read through a heap opened read-only, whose reader cannot take the writers' mutex: while a
 * writer shifts 4 MB of slots (removes and inserts at 0), every {@code get} and {@code snapshot} returns, where they
 * threw "cannot be written here" once their 64 optimistic tries failed; {@code indexOf} and {@code contains} work,
 * where they took the mutex and threw so at once; and a change a dead writer left half done makes a read fail,
 * within a bound, naming the list and saying why.
 */
@Timeout(60)
class SharedListReadOnlyReaderTest {
    /** Elements of 1 KB: a shift at 0 copies 4 MB, far longer than 64 optimistic tries. */
    private static final int SIZE = 4000;
    private static final int BYTES = 1024;
    private static final int SHIFTS = 100;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldReadThroughAReadOnlyHeapWhileAWriterShifts() throws Exception {
        String name = names.unique("list-read-only");
        try (SharedHeap writable = SharedHeap.create(name, 16 << 20);
             SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
            SharedList<byte[]> list = SharedList.create(writable, "l", Codec.bytes(), BYTES);
            for (int i = 0; i < SIZE; i++) {
                list.add(filled(1));
            }
            SharedList<byte[]> reading = SharedList.open(readOnly, "l", Codec.bytes());
            AtomicBoolean running = new AtomicBoolean(true);
            Semaphore readsDone = new Semaphore(0);
            ExecutorService reader = Executors.newSingleThreadExecutor();
            try {
                Future<Long> reads = reader.submit(() -> {
                    long n = 0;
                    while (running.get()) {
                        assertThat(reading.get(SIZE - 2)).isEqualTo(filled(1)); // SIZE - 1 between a remove and an add
                        assertThat(reading.snapshot().size()).isBetween(SIZE - 1, SIZE);
                        assertThat(reading.contains(filled(2))).isFalse(); // a look at every element
                        n++;
                        readsDone.release();
                    }
                    return n;
                });
                for (int round = 0; round < SHIFTS && !reads.isDone(); round++) {
                    readsDone.drainPermits();
                    list.remove(0);
                    list.add(0, filled(1));
                    // then a read's turn: shifts back to back leave a reader that cannot lock no window to read in
                    // (a snapshot copies 4 MB), and it gives up after its second, as it would on a dead writer
                    while (!readsDone.tryAcquire(10, TimeUnit.MILLISECONDS) && !reads.isDone()) {
                        Thread.onSpinWait(); // the reader is still reading, within the test's timeout
                    }
                }
                running.set(false);
                assertThat(reads.get(30, TimeUnit.SECONDS)).isPositive();
            } finally {
                running.set(false);
                reader.shutdownNow();
                assertThat(reader.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
            }
        }
    }

    @Test
    void shouldSayWhyAReadThroughAReadOnlyHeapFailsAfterAWriterDiedMidChange() {
        String name = names.unique("list-read-only-dead");
        try (SharedHeap writable = SharedHeap.create(name, 1 << 20);
             SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
            SharedList.create(writable, "l", Codec.bytes(), BYTES).add(filled(1));
            SharedList<byte[]> reading = SharedList.open(readOnly, "l", Codec.bytes());
            ListStore store = ListHeaders.open(writable, "l");
            store.beginWrite(); // as a writer killed in its seqlock section leaves it
            long start = System.nanoTime();
            assertThatThrownBy(() -> reading.get(0)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("SharedList 'l' has been in the middle of a change for 1000 ms")
                    .hasMessageContaining("an access through a heap opened read-write will");
            assertThatThrownBy(reading::snapshot).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("SharedList 'l' has been in the middle of a change");
            assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)).as("bounded").isLessThan(30);
            store.endWrite();
            assertThat(reading.get(0)).isEqualTo(filled(1));
        }
    }

    /**
     * Writers that keep the list changing through the reader's second (here: the seq word stepped from one odd value
     * to the next, a change ending and the next beginning with no even value between) are not taken for a dead
     * writer: the message said "has been in the middle of a change ... its writer died, or is that slow", from its
     * one look at the end, as when a writer shifting back to back starved a reader.
     */
    @Test
    void shouldNotTakeWritersThatKeptChangingTheListForADeadOne() throws Exception {
        assertThat(readOnlyGet("list-read-only-busy", (name, writable, word, offset, read)
                -> OddStepsWriter.readWhileWritersKeepChanging(word, offset, read)))
                .hasMessageStartingWith("SharedList 'l' gave no consistent read for 1000 ms (writers kept changing it,"
                        + " one is in the middle of a change now)");
    }

    /**
     * A writer process killed in the middle of a change after the read-only reader began retrying, its last change
     * later than the reader's first retry, is reported as a writer that died mid-change: the word has stayed odd and
     * unchanged for the whole second since its last change. Before, the verdict compared the word with the one
     * value noted at the first retry, and said "writers kept changing it".
     */
    @Test
    void shouldNameAWriterThatDiedMidChangeAfterTheReaderBeganRetrying() throws Exception {
        assertThat(readOnlyGet("list-read-only-late-death", OddStepsWriter::readWhileTheWriterDiesMidChange))
                .hasMessageStartingWith("SharedList 'l' has been in the middle of a change for 1000 ms (its writer"
                        + " died, or is that slow)");
    }

    /**
     * A list of one element, opened again through a heap opened read-only; {@code stepping} steps the list's seq
     * word while the read-only view gets the element.
     *
     * @return what the read threw, checked to be an {@link IllegalStateException}
     */
    private Throwable readOnlyGet(String prefix, OddStepsWriter.Stepping stepping) throws Exception {
        String name = names.unique(prefix);
        try (SharedHeap writable = SharedHeap.create(name, 1 << 20);
             SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
            SharedList.create(writable, "l", Codec.bytes(), BYTES).add(filled(1));
            SharedList<byte[]> reading = SharedList.open(readOnly, "l", Codec.bytes());
            MemorySegment header = ListHeaders.open(writable, "l").header;
            Throwable thrown = stepping.readWhileStepping(name, writable, header, ListLayout.LIST_SEQ_OFFSET,
                    () -> reading.get(0));
            assertThat(thrown).isInstanceOf(IllegalStateException.class);
            return thrown;
        }
    }

    @Test
    void shouldFindElementsThroughAReadOnlyHeap() {
        String name = names.unique("list-read-only-find");
        try (SharedHeap writable = SharedHeap.create(name, 1 << 20);
             SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
            SharedList<byte[]> list = SharedList.create(writable, "l", Codec.bytes(), BYTES);
            list.add(filled(1));
            list.add(filled(2));
            SharedList<byte[]> reading = SharedList.open(readOnly, "l", Codec.bytes());
            assertThat(reading.indexOf(filled(2))).isEqualTo(1);
            assertThat(reading.contains(filled(1))).isTrue();
            assertThat(reading.contains(filled(3))).isFalse();
            ListStore store = ListHeaders.open(writable, "l");
            store.beginWrite(); // as a writer killed in its seqlock section leaves it
            assertThatThrownBy(() -> reading.contains(filled(1))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("SharedList 'l' has been in the middle of a change for 1000 ms");
            store.endWrite();
            assertThat(reading.indexOf(filled(1))).isZero();
        }
    }

    /**
     * A slot whose length word is out of range with no writer in (damage: a stray write into the heap) is reported
     * through a heap opened read-only as through the mutex, naming the element: a consistent read that found it was
     * retried as if torn, and after a second get, snapshot and indexOf said "gave no consistent read for 1000 ms
     * (writers kept changing it)", sending a user after writers that were not there.
     */
    @Test
    void shouldReportADamagedElementThroughAReadOnlyHeapAsDamage() {
        String name = names.unique("list-read-only-damaged");
        try (SharedHeap writable = SharedHeap.create(name, 1 << 20);
             SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
            SharedList<byte[]> list = SharedList.create(writable, "l", Codec.bytes(), BYTES);
            list.addAll(List.of(filled(1), filled(2), filled(3)));
            SharedList<byte[]> reading = SharedList.open(readOnly, "l", Codec.bytes());
            ListStore store = ListHeaders.open(writable, "l");
            store.slotSegment(1).set(JAVA_INT, store.slotOffset(1), BYTES + 1); // a stray write, no writer in
            String damaged = "SharedList 'l' is corrupted: length of element 1=" + (BYTES + 1) + " (expected: 0.."
                    + BYTES + ")";
            assertThatThrownBy(() -> list.get(1)).isInstanceOf(ShmFormatException.class).hasMessage(damaged);
            assertThatThrownBy(() -> reading.get(1)).isInstanceOf(ShmFormatException.class).hasMessage(damaged);
            assertThatThrownBy(reading::snapshot).isInstanceOf(ShmFormatException.class).hasMessage(damaged);
            assertThatThrownBy(() -> reading.indexOf(filled(3))).isInstanceOf(ShmFormatException.class)
                    .hasMessage(damaged);
            assertThat(reading.get(2)).isEqualTo(filled(3));
            assertThat(reading.indexOf(filled(1))).as("found before the damaged slot").isZero();
        }
    }

    private static byte[] filled(int value) {
        byte[] bytes = new byte[BYTES];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }
}
