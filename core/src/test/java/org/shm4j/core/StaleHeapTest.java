package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Heaps left behind by killed processes, across real child JVMs: the attach table shows who is alive, a heap whose
 * processes are all dead is stale and can be removed or replaced, one with a live process never is, and the last
 * close removes a heap created with {@link HeapOptions#unlinkOnLastDetach()}.
 */
@Timeout(120)
class StaleHeapTest {
    static final Duration BOUND = Duration.ofSeconds(60);
    static final long SIZE = 1 << 14;
    static final BlockType MARK = new BlockType(0x57A1E, 1);
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldShowAttachedProcessesAndReclaimAKilledOne() throws Exception {
        String name = names.unique("table");
        long me = ProcessHandle.current().pid();
        SharedHeap heap = SharedHeap.create(name, SIZE, HeapOptions.defaults().withUnlinkOnLastDetach(true));
        try (ChildJvm child = ChildJvm.start(Holder.class, name, "-")) {
            child.awaitLine("ATTACHED", BOUND);
            assertThat(heap.attachedProcesses()).extracting(HeapProcess::pid, HeapProcess::attachments,
                    HeapProcess::alive).containsExactly(tuple(me, 1L, true), tuple(child.pid(), 1L, true));
            child.kill();
            assertThat(heap.attachedProcesses()).extracting(HeapProcess::pid, HeapProcess::alive)
                    .containsExactly(tuple(me, true), tuple(child.pid(), false));
        }
        try (SharedHeap again = SharedHeap.open(name)) {
            assertThat(again.attachedProcesses()).as("the killed child's entry is reclaimed by the next open")
                    .extracting(HeapProcess::pid, HeapProcess::attachments).containsExactly(tuple(me, 2L));
        }
        heap.close();
        assertThat(SharedMemory.exists(name)).as("last close, the other process dead: removed").isFalse();
    }

    @Test
    void shouldRemoveOrReplaceOnlyHeapsWhoseProcessesAreAllDead() throws Exception {
        String base = names.unique("stale");
        HeapOptions replace = HeapOptions.defaults().withReplaceStale(true);
        try (ChildJvm creator = ChildJvm.start(Creator.class, base, "4");
             ChildJvm holder = startHolder(creator, base + "-0")) {
            creator.kill();
            try (SharedHeap view = SharedHeap.openReadOnly(base + "-0")) {
                assertThat(view.attachedProcesses()).extracting(HeapProcess::pid, HeapProcess::alive)
                        .containsExactly(tuple(creator.pid(), false), tuple(holder.pid(), true));
            }
            assertThat(SharedHeap.unlinkIfStale(base + "-0")).as("a live child has it open").isFalse();
            assertThatThrownBy(() -> SharedHeap.create(base + "-0", SIZE, replace))
                    .isInstanceOf(ShmAlreadyExistsException.class).hasMessageContaining("is not stale");
            assertThat(SharedHeap.unlinkIfStale(base + "-1")).isTrue();
            assertThat(SharedMemory.exists(base + "-1")).isFalse();
            assertThatThrownBy(() -> SharedHeap.create(base + "-2", SIZE))
                    .isInstanceOf(ShmAlreadyExistsException.class)
                    .hasMessage(SharedMemory.SHM_DIR.resolve(base + "-2") + " already exists: a stale heap (its creator"
                            + " and every process attached are dead); HeapOptions.withReplaceStale(true) replaces it,"
                            + " SharedHeap.unlinkIfStale removes it");
            assertThatThrownBy(() -> SharedHeap.create(base + "-0", SIZE)).as("a live process holds it")
                    .isInstanceOf(ShmAlreadyExistsException.class)
                    .hasMessage(SharedMemory.SHM_DIR.resolve(base + "-0") + " already exists");
            try (SharedHeap fresh = SharedHeap.create(base + "-2", SIZE, replace);
                 SharedHeap opened = SharedHeap.openOrCreate(base + "-3", SIZE, replace)) {
                assertThat(fresh.find("original")).isEmpty();
                assertThat(opened.find("original")).isEmpty();
                assertThat(fresh.attachedProcesses()).extracting(HeapProcess::pid)
                        .containsExactly(ProcessHandle.current().pid());
            }
            holder.kill();
            assertThat(SharedHeap.unlinkIfStale(base + "-0")).as("now its last process is dead").isTrue();
        } finally {
            for (int i = 0; i < 4; i++) {
                SharedMemory.unlink(base + "-" + i);
            }
        }
    }

    @Test
    void shouldRemoveAHeapWhenTheLastOfTwoProcessesCloses() throws Exception {
        String name = names.unique("last");
        try (SharedMemory control = SharedMemory.create(names.unique("last-control"), 64)) {
            SharedHeap heap = SharedHeap.create(name, SIZE, HeapOptions.defaults().withUnlinkOnLastDetach(true));
            try (ChildJvm child = ChildJvm.start(Holder.class, name, control.name().orElseThrow())) {
                child.awaitLine("ATTACHED", BOUND);
                heap.close();
                assertThat(SharedMemory.exists(name)).as("the child still has it open").isTrue();
                LONG.setVolatile(control.segment(), 0L, 1L);
                child.awaitSuccess(BOUND);
                assertThat(child.output()).contains("CLOSED");
            }
            assertThat(SharedMemory.exists(name)).as("the child closed last").isFalse();
        }
    }

    private static ChildJvm startHolder(ChildJvm creator, String name) throws InterruptedException {
        creator.awaitLine("READY", BOUND);
        ChildJvm holder = ChildJvm.start(Holder.class, name, "-");
        holder.awaitLine("ATTACHED", BOUND);
        return holder;
    }

    private static org.assertj.core.groups.Tuple tuple(Object... values) {
        return org.assertj.core.groups.Tuple.tuple(values);
    }

    /** Waits (bounded) until the long at {@code offset} of {@code segment} is at least {@code value}. */
    static void awaitAtLeast(MemorySegment segment, long offset, long value) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while ((long) LONG.getVolatile(segment, offset) < value) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("timed out waiting for " + value + " at offset " + offset);
            }
            Thread.onSpinWait();
        }
    }

    /** Creates heaps {@code <base>-0..<count-1>}, each with a block "original", keeps them open, waits to be killed. */
    public static final class Creator {
        public static void main(String[] args) throws InterruptedException {
            int count = Integer.parseInt(args[1]);
            for (int i = 0; i < count; i++) {
                SharedHeap.create(args[0] + "-" + i, SIZE).allocate("original", MARK, 8);
            }
            System.out.println("READY");
            System.out.flush();
            Thread.sleep(TimeUnit.SECONDS.toMillis(60)); // killed long before
        }
    }

    /**
     * Opens heap {@code args[0]} and prints ATTACHED; with a control region name in {@code args[1]}, closes the heap
     * once its first long is 1 and prints CLOSED; with {@code "-"}, waits to be killed.
     */
    public static final class Holder {
        public static void main(String[] args) throws InterruptedException {
            SharedHeap heap = SharedHeap.open(args[0]);
            System.out.println("ATTACHED");
            System.out.flush();
            if (args[1].equals("-")) {
                Thread.sleep(TimeUnit.SECONDS.toMillis(60));
                return;
            }
            try (SharedMemory control = SharedMemory.open(args[1])) {
                awaitAtLeast(control.segment(), 0, 1);
            }
            heap.close();
            System.out.println("CLOSED");
        }
    }
}
