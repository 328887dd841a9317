package org.shm4j.sync.tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.HeapProcess;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.core.internal.AttachTable;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.Await;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * A heap's opener, closer and remover killed at exact steps of attach, detach and the removal of the name (stopped
 * there by a debugger, {@link KilledAtCall}, and SIGKILLed), then what this process and a new open find.
 * {@code AttachKillTest} kills openers and closers at random moments, which seldom land between two of these stores.
 * <ul>
 * <li>ACCEPTABLE: the killed process's slot shown dead until the next open reclaims it; the blocks and their bytes
 *     as before; a heap that unlinks on the last detach removed by the last live process's close, and one whose
 *     remover died before removing the name opened again with its blocks, and removed by the next last close.</li>
 * <li>FORBIDDEN: the killed process shown alive, or left in the table after an open; the heap called stale while
 *     this process has it open; a name left behind by the last live close of an unlink-on-last-detach heap; an open
 *     that fails or waits past the bound.</li>
 * </ul>
 */
@Timeout(120)
class HeapAttachKilledAtStepTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final long HEAP_SIZE = 1 << 16;
    private static final BlockType TYPE = new BlockType(0x7E57_0243, 1);
    private static final long PATTERN = 0x0A77_AC4E_D5EEL;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param step   where the child is killed: after the CAS that claims its attach slot and before it fills the slot
     *               (mid-open), or after its close zeroed its count and before the CAS that frees its slot
     *               (mid-close)
     * @param unlink whether the heap removes its name when the last process detaches
     */
    @ParameterizedTest(name = "killed {0}, unlink on last detach {1}")
    @CsvSource({"mid-open, false", "mid-open, true", "mid-close, false", "mid-close, true"})
    void shouldReclaimTheSlotOfAProcessKilledMidAttachOrMidDetach(String step, boolean unlink) throws Exception {
        String name = names.unique("attach-step");
        long me = ProcessHandle.current().pid();
        SharedHeap heap = SharedHeap.create(name, HEAP_SIZE, HeapOptions.defaults().withUnlinkOnLastDetach(unlink));
        heap.allocate("data", TYPE, 8, 8, block -> block.set(JAVA_LONG, 0, PATTERN));
        KilledAtCall.Step at = step.equals("mid-open")
                ? new KilledAtCall.Step(AttachTable.class.getName(), "fillClaimed", "attach")
                : KilledAtCall.Step.atLine(AttachTable.class, "free", "me, 0L); // volatile: frees the slot", 1);
        long pid;
        try (KilledAtCall child = KilledAtCall.start(at, step.equals("mid-open") ? Opener.class : Closer.class,
                name)) {
            pid = child.pid();
            child.awaitKilled(BOUND);
        }
        assertThat(heap.attachedProcesses()).filteredOn(p -> p.pid() == pid).extracting(HeapProcess::alive)
                .containsExactly(false);
        assertThat(heap.isStale()).as("this process has it open").isFalse();
        assertThat(SharedHeap.unlinkIfStale(name)).isFalse();
        try (SharedHeap again = SharedHeap.open(name)) {
            assertThat(again.attachedProcesses()).as("the dead slot reclaimed by the open")
                    .extracting(HeapProcess::pid, HeapProcess::attachments, HeapProcess::alive)
                    .containsExactly(tuple(me, 2L, true));
            assertThat(data(again)).isEqualTo(PATTERN);
        }
        heap.close();
        if (unlink) {
            assertThat(SharedMemory.exists(name)).as("removed by the last live close").isFalse();
            return;
        }
        try (SharedHeap view = SharedHeap.openReadOnly(name)) { // a read-only open takes no slot
            assertThat(view.attachedProcesses()).as("no process has it open").isEmpty();
            assertThat(data(view)).isEqualTo(PATTERN);
        }
    }

    /**
     * The last process of an unlink-on-last-detach heap killed in its close after it claimed the removal word and
     * found no live process attached, before it removes the name: the heap is still at its name, whole, and the next
     * open takes the dead remover's word back (its close then removes the name).
     */
    @Test
    void shouldOpenAndThenRemoveAHeapWhoseLastCloserWasKilledRemovingIt() throws Exception {
        String name = names.unique("remover-step");
        long me = ProcessHandle.current().pid();
        SharedHeap heap = SharedHeap.create(name, HEAP_SIZE, HeapOptions.defaults().withUnlinkOnLastDetach(true));
        heap.allocate("data", TYPE, 8, 8, block -> block.set(JAVA_LONG, 0, PATTERN));
        try (KilledAtCall remover = KilledAtCall.start(new KilledAtCall.Step("java.nio.file.Files", "deleteIfExists",
                "tryRemove"), LastCloser.class, name)) {
            remover.awaitLine("OPEN", BOUND);
            heap.close(); // the child lives: the name stays
            assertThat(SharedMemory.exists(name)).isTrue();
            remover.awaitKilled(BOUND);
        }
        assertThat(SharedMemory.exists(name)).as("the remover died before removing it").isTrue();
        try (SharedHeap again = SharedHeap.open(name)) {
            assertThat(again.attachedProcesses()).extracting(HeapProcess::pid, HeapProcess::alive)
                    .containsExactly(tuple(me, true));
            assertThat(data(again)).isEqualTo(PATTERN);
        }
        assertThat(SharedMemory.exists(name)).as("removed by this process's last close").isFalse();
    }

    private static long data(SharedHeap heap) {
        MemorySegment block = heap.lookup("data", TYPE).segment();
        return block.get(JAVA_LONG, 0);
    }

    /** {@code main(heap)}: opens the heap; killed before the open returns. */
    public static final class Opener {
        public static void main(String[] args) {
            SharedHeap.open(args[0]);
            System.out.println("ERROR: the open returned");
        }
    }

    /** {@code main(heap)}: opens and closes the heap; killed before the close returns. */
    public static final class Closer {
        public static void main(String[] args) {
            SharedHeap heap = SharedHeap.open(args[0]);
            System.out.println("OPEN");
            heap.close();
            System.out.println("ERROR: the close returned");
        }
    }

    /**
     * {@code main(heap)}: opens the heap, waits until it is its last process, then closes it; killed before the close
     * returns.
     */
    public static final class LastCloser {
        public static void main(String[] args) {
            SharedHeap heap = SharedHeap.open(args[0]);
            System.out.println("OPEN");
            System.out.flush();
            Await.until("the other processes gone", BOUND, () -> heap.attachedProcesses().size() == 1);
            heap.close();
            System.out.println("ERROR: the close returned");
        }
    }
}
