package org.shm4j.sync.list;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedList} writer killed in the middle of a shift, then the writer that takes its mutex over killed in
 * the middle of replaying that shift (each child SIGKILLed at an exact step by a debugger, {@link KilledAtCall}):
 * the third process finds the list as the first writer's change left whole, and both deaths counted.
 * <ul>
 * <li>ACCEPTABLE: the list with the first writer's insert or remove done, exactly; 2 recoveries.</li>
 * <li>FORBIDDEN: an element lost, doubled or out of place; the repairer's own change (an added "tail") in the list;
 *     the mutex held, or the list unreadable, after the third process's write.</li>
 * </ul>
 */
@Timeout(120)
class ListRepairerKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int SIZE = 10;
    private static final int AT = 2;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param op            "insert" (add at {@value #AT}: 8 slot copies, then the scratch copy and the size) or
     *                      "remove" (at {@value #AT}: 7 slot copies, then the size)
     * @param writerStep    where the first writer dies: a {@code ListStore} method entered from {@code redo}
     * @param writerHit     at its n-th entry
     * @param repairerClass the class of the method where the repairer dies
     * @param repairerStep  that method, {@code @} its caller
     * @param repairerHit   at its n-th entry
     */
    @ParameterizedTest(name = "{0}: writer killed at {1} #{2}, repairer at {4} #{5}")
    @CsvSource({
            "insert, copySlot, 3, ListStore, copySlot@redo, 4",
            "insert, copySlot, 8, ListStore, copyScratchTo@redo, 1",
            "insert, copyScratchTo, 1, ListStore, setSize@redo, 1",
            "insert, setSize, 1, ListStore, endWrite@recover, 1",
            "remove, copySlot, 1, ListStore, copySlot@redo, 6",
            "remove, setSize, 1, RobustMutex, markConsistent@lock, 1",
    })
    void shouldFinishTheFirstWritersShiftWhenItsRepairerIsKilledPartway(String op, String writerStep, int writerHit,
            String repairerClass, String repairerStep, int repairerHit) throws Exception {
        String heapName = names.unique("list-repairer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedList<String> list = SharedList.create(heap, "list", Codec.utf8(), 64);
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < SIZE; i++) {
                list.add("e" + i);
                expected.add("e" + i);
            }
            if (op.equals("insert")) {
                expected.add(AT, "new");
            } else {
                expected.remove(AT);
            }
            String store = ListStore.class.getName();
            try (KilledAtCall writer = KilledAtCall.start(new KilledAtCall.Step(store, writerStep, "redo", writerHit),
                    Writer.class, heapName, op)) {
                writer.awaitKilled(BOUND);
            }
            String[] step = repairerStep.split("@");
            String type = repairerClass.equals("RobustMutex") ? RobustMutex.class.getName() : store;
            try (KilledAtCall repairer = KilledAtCall.start(new KilledAtCall.Step(type, step[0], step[1],
                    repairerHit), Repairer.class, heapName)) {
                repairer.awaitKilled(BOUND);
            }
            list.set(0, "e0"); // the third process's write: takes the mutex over, finishes the shift
            assertThat(list.snapshot()).isEqualTo(expected);
            assertThat(list.recoveries()).as("the writer's and the repairer's deaths").isEqualTo(2);
            list.add("after");
            assertThat(list.size()).isEqualTo(expected.size() + 1);
        }
    }

    /** {@code main(heap, op)}: inserts "new" at {@value #AT}, or removes the element there (killed partway). */
    public static final class Writer {
        public static void main(String[] args) {
            SharedList<String> list = SharedList.open(SharedHeap.open(args[0]), "list", Codec.utf8());
            if (args[1].equals("insert")) {
                list.add(AT, "new");
            } else {
                list.remove(AT);
            }
            System.out.println("ERROR: the change finished");
        }
    }

    /** {@code main(heap)}: adds "tail", which takes the dead writer's mutex over first (killed partway). */
    public static final class Repairer {
        public static void main(String[] args) {
            SharedList.open(SharedHeap.open(args[0]), "list", Codec.utf8()).add("tail");
            System.out.println("ERROR: the repair finished");
        }
    }
}
