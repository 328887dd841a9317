package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.internal.AttachTable;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.testing.Await;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A take-over in flight ({@link AttachTable#markTakeOver}, counted in the high half of this process's attachments
 * word) against an attach that claims a new slot: the attach waits until the mark ends, or fails naming this process
 * once it outlasts the bound, freeing its slot; the count of opens beside the mark is reported unchanged, and a
 * detach with a mark held frees the slot.
 */
@Timeout(120)
class TakeOverMarkTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldMakeANewAttachWaitUntilTheMarkEnds() throws Exception {
        String name = names.unique("mark-wait");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            MemorySegment mark = AttachTable.markTakeOver(heap.memory().segment());
            assertThat(mark).as("this process's slot").isNotNull();
            try (ChildJvm child = ChildJvm.start(Opener.class, name)) {
                Await.until("the child's slot claimed", BOUND, () -> heap.attachedProcesses().stream()
                        .anyMatch(process -> process.pid() == child.pid()));
                assertThatThrownBy(() -> child.awaitLine("OPENED", Duration.ofSeconds(1)))
                        .as("its open, claimed, still waiting for the mark a second later (its bound is 5 s)")
                        .isInstanceOf(AssertionError.class);
                assertThat(child.output()).doesNotContain("FAILED");
                AttachTable.unmarkTakeOver(mark);
                assertThat(child.awaitLine("OPENED", BOUND)).isEqualTo("OPENED 2");
                child.awaitSuccess(BOUND);
            }
            assertThat(heap.attachedProcesses()).extracting(HeapProcess::pid)
                    .containsExactly(ProcessHandle.current().pid());
        }
    }

    @Test
    void shouldFailANewAttachNamingTheTakerOnceTheMarkOutlastsTheBound() throws Exception {
        String name = names.unique("mark-bound");
        long me = ProcessHandle.current().pid();
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            MemorySegment mark = AttachTable.markTakeOver(heap.memory().segment());
            try (ChildJvm child = ChildJvm.start(Opener.class, name)) {
                String failed = child.awaitLine("FAILED", BOUND); // after the bound, 5 s
                assertThat(failed).startsWith("FAILED " + ShmException.class.getName() + ": cannot attach to ")
                        .contains("pid " + me + " has been taking over a gone process's hold there for 5 s");
                assertThat(heap.attachedProcesses()).as("the child, alive, freed the slot it claimed")
                        .extracting(HeapProcess::pid).containsExactly(me);
            } finally {
                AttachTable.unmarkTakeOver(mark);
            }
        }
    }

    /**
     * A taker killed with its count held (between its judgment and its CAS) while an open waits for it counts no
     * more: that open goes on at once (with the taker alive it would fail after 5 s, as above). A taker killed before
     * an open begins is no matter either: the open reclaims its slot, count and all, before it claims its own.
     */
    @Test
    void shouldNotMakeAnAttachWaitForATakerKilledWithItsMark() throws Exception {
        String name = names.unique("mark-killed");
        long me = ProcessHandle.current().pid();
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            try (ChildJvm taker = ChildJvm.start(Marker.class, name)) {
                taker.awaitLine("MARKED", BOUND);
                assertOpenGoesOnOnceTheTakerIsKilled(heap, name, taker);
            }
            try (ChildJvm child = ChildJvm.start(Opener.class, name)) {
                assertThat(child.awaitLine("OPENED", BOUND)).as("the dead taker's slot reclaimed")
                        .isEqualTo("OPENED 2");
                child.awaitSuccess(BOUND);
            }
            assertThat(heap.attachedProcesses()).extracting(HeapProcess::pid).containsExactly(me);
        }
    }

    /** Starts an opener, sees its slot claimed (it waits for {@code taker}), kills the taker, sees the open done. */
    private static void assertOpenGoesOnOnceTheTakerIsKilled(SharedHeap heap, String name, ChildJvm taker)
            throws InterruptedException {
        try (ChildJvm child = ChildJvm.start(Opener.class, name)) {
            Await.until("the opener's slot claimed", BOUND, () -> heap.attachedProcesses().stream()
                    .anyMatch(process -> process.pid() == child.pid()));
            taker.kill();
            assertThat(child.awaitLine("OPENED", BOUND)).as("this process, the opener and the dead taker's slot")
                    .isEqualTo("OPENED 3");
            child.awaitSuccess(BOUND);
            assertThat(child.output()).doesNotContain("FAILED");
        }
    }

    @Test
    void shouldReportTheOpensBesideAMarkAndFreeTheSlotOnADetachWithAMarkHeld() {
        String name = names.unique("mark-count");
        long me = ProcessHandle.current().pid();
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            MemorySegment mark = AttachTable.markTakeOver(heap.memory().segment());
            try (SharedHeap second = SharedHeap.open(name)) {
                MemorySegment another = AttachTable.markTakeOver(second.memory().segment()); // the same slot
                assertThat(attachmentsWord(heap)).as("two marks in the high half, two opens in the low")
                        .isEqualTo(2L << 32 | 2);
                assertThat(heap.attachedProcesses()).as("the opens alone").containsExactly(
                        new HeapProcess(me, heap.attachedProcesses().getFirst().startMillis(), 2, true));
                AttachTable.unmarkTakeOver(another);
            }
            assertThat(heap.attachedProcesses()).extracting(HeapProcess::attachments).as("one open, one mark")
                    .containsExactly(1L);
            AttachTable.unmarkTakeOver(mark);
            MemorySegment held = AttachTable.markTakeOver(heap.memory().segment());
            heap.close(); // the last open, with a mark held
            assertThatThrownBy(() -> AttachTable.unmarkTakeOver(held)).as("the mark's view is closed")
                    .isInstanceOf(IllegalStateException.class);
        }
        try (SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
            assertThat(readOnly.attachedProcesses()).as("the slot freed, its mark with it").isEmpty();
        }
        try (SharedHeap again = SharedHeap.open(name)) {
            assertThat(again.attachedProcesses()).extracting(HeapProcess::attachments).containsExactly(1L);
        }
    }

    /** @return the attachments word of this process's slot in {@code heap}'s attach table */
    private static long attachmentsWord(SharedHeap heap) {
        MemorySegment segment = heap.memory().segment();
        for (int i = 0; i < HeapLayout.ATTACH_CAPACITY; i++) {
            if (segment.get(JAVA_LONG, HeapLayout.slotOffset(i) + HeapLayout.SLOT_TOKEN_OFFSET)
                    == ProcessIdentity.currentToken()) {
                return segment.get(JAVA_LONG, HeapLayout.slotOffset(i) + HeapLayout.SLOT_ATTACHMENTS_OFFSET);
            }
        }
        throw new AssertionError("no slot of this process in " + heap);
    }

    /** {@code main(heap)}: opens the heap, counts a take-over in flight, prints {@code MARKED}; stays until killed. */
    public static final class Marker {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                AttachTable.markTakeOver(heap.memory().segment());
                Opener.say("MARKED");
                new CountDownLatch(1).await(2 * BOUND.toSeconds(), TimeUnit.SECONDS); // killed by the test first
            }
        }
    }

    /**
     * {@code main(heap)}: opens the heap, printing {@code OPENED} and the processes attached, or {@code FAILED} and
     * the exception; after a failure, stays until killed (alive, so that its slot is not freed by its death).
     */
    public static final class Opener {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                say("OPENED " + heap.attachedProcesses().size());
            } catch (ShmException e) {
                say("FAILED " + e);
                new CountDownLatch(1).await(2 * BOUND.toSeconds(), TimeUnit.SECONDS); // killed by the test first
            }
        }

        static void say(String line) {
            System.out.println(line);
            System.out.flush();
        }
    }
}
