package org.shm4j.sync.list;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.Await;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.LongStream;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_INDEX_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_OP_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_PROGRESS_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_SIZE_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_MUTEX_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SEQ_OFFSET;
import static org.shm4j.sync.list.ListLayout.OP_NONE;
import static org.shm4j.sync.list.ListLayout.OP_REMOVE;

/**
 * {@link SharedList#clear()}, {@link SharedList#removeLast()} and {@link SharedList#remove(Object)} (of the first
 * element, the longest shift) killed with SIGKILL at each step of their window, made on demand: one child JVM takes the
 * mutexes of thirteen lists and leaves each as its writer would be at one step (the header stores of
 * {@code SharedList}'s and {@code ListStore}'s code, in their order, up to that step; the shift's copy of one slot
 * torn half way), then is killed; a reader blocked on the mutex of a fourteenth list, held mid-clear, is killed, and
 * one that took that mutex over is killed inside its codec. Then another child and this JVM read and write them all.
 * <ul>
 * <li>ACCEPTABLE: a lock-free read before any writer took a mutex over sees the list before the change, or after it
 *     once the change's journal is committed or its size stored.</li>
 * <li>FORBIDDEN: after a take-over, anything but the whole change (size stored, or journal committed) or none of it;
 *     an element torn, lost or twice; a read or write that does not return (bounded by the timeout); the sequence
 *     odd, a journal op or the mutex left behind; a later add, get, set or remove that fails.</li>
 * </ul>
 */
@Timeout(120)
class SharedListRemoveKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Elements per list: three chunks. */
    private static final int N = 400;
    /** The id of the element a survivor appends and removes again. */
    private static final long EXTRA = 1_000_000;
    private static final String READ = "r";

    /** Where a writer dies, and what its list holds once a take-over finished or dropped its change. */
    enum Step {
        CLEAR_LOCKED(Outcome.BEFORE), CLEAR_ODD(Outcome.BEFORE), CLEAR_SIZED(Outcome.EMPTY),
        CLEAR_ENDED(Outcome.EMPTY),
        LAST_JOURNALING(Outcome.BEFORE), LAST_COMMITTED(Outcome.NO_LAST), LAST_ODD(Outcome.NO_LAST),
        LAST_SIZED(Outcome.NO_LAST), LAST_DONE(Outcome.NO_LAST), LAST_ENDED(Outcome.NO_LAST),
        FIRST_COMMITTED(Outcome.NO_FIRST), FIRST_SHIFTING(Outcome.NO_FIRST), FIRST_SIZED(Outcome.NO_FIRST);

        final Outcome after;

        Step(Outcome after) {
            this.after = after;
        }
    }

    /** The ids a list holds: all of {@code 0..N-1}, none, all but the last, all but the first. */
    enum Outcome {
        BEFORE(0, N), EMPTY(0, 0), NO_LAST(0, N - 1), NO_FIRST(1, N);

        final List<Long> ids;

        Outcome(long from, long to) {
            this.ids = LongStream.range(from, to).boxed().toList();
        }
    }

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldFinishOrDropAClearOrRemoveKilledAtEachStepAndForgetReadersKilledMidRead() throws Exception {
        String heapName = names.unique("list-remove-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 16 << 20)) {
            for (Step step : Step.values()) {
                fill(SharedList.create(heap, step.name(), Codec.bytes(), IdElements.BYTES));
            }
            SharedList<byte[]> read = SharedList.create(heap, READ, Codec.bytes(), IdElements.BYTES);
            fill(read);
            MemorySegment readHeader = heap.lookup(READ, ListLayout.LIST).segment();
            try (ChildJvm writer = ChildJvm.start(Stepper.class, heapName)) {
                writer.awaitLine("STOPPED", BOUND);
                try (ChildJvm blocked = ChildJvm.start(Reader.class, heapName, "get")) {
                    blocked.awaitLine("READING", BOUND);
                    Await.until("the reader blocked on the mutex of a clear under way", BOUND,
                            () -> blockedOn(readHeader));
                    blocked.kill();
                }
                writer.kill();
            }
            try (ChildJvm stalled = ChildJvm.start(Reader.class, heapName, "stall")) {
                stalled.awaitLine("STALLED", BOUND); // took the mutex over, finished the clear, holds it in decode
                stalled.kill();
            }
            assertThat(ids(read.snapshot())).as("read lock-free past a reader killed holding the mutex")
                    .isEqualTo(Outcome.BEFORE.ids);
            try (ChildJvm survivor = ChildJvm.start(Survivor.class, heapName)) {
                survivor.awaitSuccess(BOUND);
            }
            for (Step step : Step.values()) {
                checkLeftClean(heap, step.name(), step.after, 1);
            }
            checkLeftClean(heap, READ, Outcome.BEFORE, 2);
        }
    }

    /**
     * Checks list {@code name} holds {@code outcome}, takes a change (a take-over from a reader that died holding the
     * mutex), and that nothing of a writer or reader is left: the sequence even, no journal op, the mutex free.
     */
    private static void checkLeftClean(SharedHeap heap, String name, Outcome outcome, long recoveries) {
        SharedList<byte[]> list = SharedList.open(heap, name, Codec.bytes());
        assertThat(ids(list.snapshot())).as(name).isEqualTo(outcome.ids);
        list.add(IdElements.of(EXTRA));
        assertThat(IdElements.idOf(list.removeLast())).isEqualTo(EXTRA);
        assertThat(ids(list.snapshot())).as(name).isEqualTo(outcome.ids);
        assertThat(list.size()).as(name).isEqualTo(outcome.ids.size());
        assertThat(list.recoveries()).as(name + ": take-overs").isEqualTo(recoveries);
        MemorySegment header = heap.lookup(name, ListLayout.LIST).segment();
        assertThat(header.get(JAVA_LONG, LIST_SEQ_OFFSET) & 1).as(name + ": seq").isZero();
        assertThat(header.get(JAVA_INT, LIST_JOURNAL_OP_OFFSET)).as(name + ": journal op").isEqualTo(OP_NONE);
        assertThat(header.get(JAVA_LONG, LIST_MUTEX_OFFSET)).as(name + ": lock word").isZero();
    }

    /** @return true if a waiter announced itself on the list's mutex: the waiters bit, or a count of sleepers */
    private static boolean blockedOn(MemorySegment header) {
        long word = header.get(JAVA_LONG, LIST_MUTEX_OFFSET); // plain: a poll, bounded by Await
        int wakes = header.get(JAVA_INT, LIST_MUTEX_OFFSET + SyncLayout.MUTEX_WAKES);
        return (word & SyncLayout.LOCK_WAITERS) != 0 || (wakes & SyncLayout.MUTEX_SLEEPERS_MASK) != 0;
    }

    private static void fill(SharedList<byte[]> list) {
        list.addAll(LongStream.range(0, N).mapToObj(IdElements::of).toList());
    }

    private static List<Long> ids(List<byte[]> values) {
        return values.stream().map(IdElements::idOf).toList();
    }

    /**
     * {@code main(heap)}: takes the mutex of each step's list and leaves it as that step's writer would be, takes the
     * read list's mutex mid-clear (the sequence odd), prints STOPPED and parks until killed.
     */
    static final class Stepper {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                for (Step step : Step.values()) {
                    stop(ListHeaders.open(heap, step.name()), step);
                }
                stop(ListHeaders.open(heap, READ), Step.CLEAR_ODD);
                RandomKills.say("STOPPED");
                while (true) {
                    LockSupport.park(); // until SIGKILL
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }

        /** What {@code clear()}, {@code removeLast()} or {@code remove(first)} stores up to {@code step}. */
        private static void stop(ListStore store, Step step) {
            ListHeaders.lock(store);
            String name = step.name();
            int at = step.ordinal() - (name.startsWith("CLEAR") ? Step.CLEAR_LOCKED.ordinal()
                    : name.startsWith("LAST") ? Step.LAST_JOURNALING.ordinal() : Step.FIRST_COMMITTED.ordinal());
            if (name.startsWith("CLEAR")) {
                if (at >= 1) {
                    store.beginWrite();
                }
                if (at >= 2) {
                    store.setSize(0);
                }
                if (at >= 3) {
                    store.endWrite();
                }
                return;
            }
            boolean last = name.startsWith("LAST");
            int steps = last ? at : at + 1; // a removeLast's steps from the journal's fields on
            long index = last ? N - 1 : 0;
            MemorySegment header = store.header;
            header.set(JAVA_LONG, LIST_JOURNAL_INDEX_OFFSET, index);
            header.set(JAVA_LONG, LIST_JOURNAL_PROGRESS_OFFSET, index);
            header.set(JAVA_LONG, LIST_JOURNAL_SIZE_OFFSET, N);
            if (steps >= 1) {
                header.set(JAVA_INT, LIST_JOURNAL_OP_OFFSET, OP_REMOVE);
            }
            if (steps >= 2) {
                store.beginWrite();
            }
            if (!last && steps >= 2) {
                shift(store, steps == 2 ? N / 2 : N - 1);
            }
            if (steps >= 3) {
                store.setSize(N - 1);
            }
            if (last && steps >= 4) {
                header.set(JAVA_INT, LIST_JOURNAL_OP_OFFSET, OP_NONE);
            }
            if (last && steps >= 5) {
                store.endWrite();
            }
        }

        /** Copies slots 1..{@code upTo} down by one, with progress, then half of the next copy (torn). */
        private static void shift(ListStore store, int upTo) {
            for (int j = 0; j < upTo; j++) {
                copy(store, j + 1, j, IdElements.BYTES + Integer.BYTES);
                store.header.set(JAVA_LONG, LIST_JOURNAL_PROGRESS_OFFSET, j + 1);
            }
            if (upTo < N - 1) {
                copy(store, upTo + 1, upTo, IdElements.BYTES / 2);
            }
        }

        private static void copy(ListStore store, int from, int to, int bytes) {
            MemorySegment.copy(store.slotSegment(from), store.slotOffset(from), store.slotSegment(to),
                    store.slotOffset(to), bytes);
        }
    }

    /**
     * {@code main(heap, "get"|"stall")}: reads element 0 of the read list: "get" prints READING first (it then
     * blocks on the mutex of the clear under way); "stall" with a codec that prints STALLED in decode and parks.
     */
    static final class Reader {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                boolean stall = args[1].equals("stall");
                SharedList<byte[]> list = SharedList.open(heap, READ, stall ? stalling() : Codec.bytes());
                RandomKills.say("READING");
                list.get(0);
                RandomKills.fail(new AssertionError("the read returned"));
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }

        private static Codec<byte[]> stalling() {
            Codec<byte[]> bytes = Codec.bytes();
            return new Codec<>() {
                @Override
                public int typeId() {
                    return bytes.typeId();
                }

                @Override
                public int encodedLength(byte[] value) {
                    return bytes.encodedLength(value);
                }

                @Override
                public void encode(byte[] value, MemorySegment target, long offset) {
                    bytes.encode(value, target, offset);
                }

                @Override
                public byte[] decode(MemorySegment source, long offset, int length) {
                    RandomKills.say("STALLED");
                    while (true) {
                        LockSupport.park(); // until SIGKILL
                    }
                }
            };
        }
    }

    /**
     * {@code main(heap)}: reads each list (before or after its change, lock-free), then changes it (taking the mutex
     * over and finishing or dropping the change) and reads it again: its outcome; exits 1 on any difference.
     */
    static final class Survivor {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                for (Step step : Step.values()) {
                    SharedList<byte[]> list = SharedList.open(heap, step.name(), Codec.bytes());
                    check(step, List.of(Outcome.BEFORE.ids, step.after.ids).contains(ids(list.snapshot())));
                    list.add(IdElements.of(EXTRA));
                    int last = step.after.ids.size();
                    check(step, IdElements.idOf(list.get(last)) == EXTRA && list.size() == last + 1);
                    list.set(last, IdElements.of(EXTRA + 1));
                    check(step, IdElements.idOf(list.remove(last)) == EXTRA + 1);
                    check(step, ids(list.snapshot()).equals(step.after.ids));
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }

        private static void check(Step step, boolean ok) {
            if (!ok) {
                throw new AssertionError("list " + step + " is neither before nor after its change");
            }
        }
    }
}
