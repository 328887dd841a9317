package org.shm4j.core.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * How a handler of a closed view finds the same bytes in another open view of its heap, and whether a holder has the
 * heap open ({@link HeapMappings}).
 */
class HeapMappingsTest {
    private static final BlockType WORD = new BlockType(0x100, 1);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * A handler got the first other open view; when that one closed too before the handler was done, it gave up,
     * although a third view was open: the hold it was to release stayed this process's. Now it goes on to the third.
     */
    @Test
    void shouldGoOnToAThirdViewWhenTheOtherViewFoundClosesToo() {
        String name = names.unique("views");
        SharedHeap first = SharedHeap.create(name, 1 << 16);
        SharedHeap second = SharedHeap.open(name);
        try (SharedHeap third = SharedHeap.open(name)) {
            HeapBlock block = first.allocate("word", WORD, 8);
            third.lookup("word", WORD).segment().set(JAVA_LONG, 0, 42L);
            first.close();
            List<Long> seen = new ArrayList<>();
            boolean done = HeapMappings.throughAnotherOpenView(block.segment(), view -> {
                if (seen.isEmpty()) {
                    seen.add(-1L);
                    second.close(); // the view found closes under the handler
                }
                seen.add(view.get(JAVA_LONG, 0)); // through the second view: throws
                return true;
            });
            assertThat(done).as("done through the third view").isTrue();
            assertThat(seen).containsExactly(-1L, 42L);
        } finally {
            second.close();
        }
    }

    @Test
    void shouldGiveUpWhenNoOtherViewIsOpen() {
        String name = names.unique("alone");
        try (SharedHeap only = SharedHeap.create(name, 1 << 16)) {
            MemorySegment word = only.allocate("word", WORD, 8).segment();
            only.close();
            assertThat(HeapMappings.throughAnotherOpenView(word, view -> true)).isFalse();
        }
    }

    /**
     * {@link HeapMappings#hasOpen} through a view opened read-only (as {@code shm4j inspect} opens a heap), of a named
     * and of a file heap: this process (attached through another view) has it open, a process that never opened it
     * has not, nor has token 0, which names no process: it answered true for 0, the token of every free slot of the
     * attach table, so the tool showed a read lock's holder whose slot a reclaimer had just freed as
     * {@code pid=0 alive=false attached=true}.
     */
    @Test
    void shouldTellWhetherAHolderHasTheHeapOpenThroughAReadOnlyView(@TempDir Path dir) {
        String name = names.unique("has-open");
        Path file = dir.resolve("heap");
        try (SharedHeap named = SharedHeap.create(name, 1 << 16);
             SharedHeap namedReadOnly = SharedHeap.openReadOnly(name);
             SharedHeap fileHeap = SharedHeap.create(file, 1 << 16);
             SharedHeap fileReadOnly = SharedHeap.openReadOnly(file)) {
            named.allocate("word", WORD, 8);
            fileHeap.allocate("word", WORD, 8);
            long me = ProcessIdentity.currentToken();
            long never = ProcessIdentity.token(1, 12_345); // pid 1 never opened it
            for (SharedHeap view : List.of(namedReadOnly, fileReadOnly)) {
                MemorySegment word = view.lookup("word", WORD).segment();
                assertThat(HeapMappings.hasOpen(word, me)).as("this process, %s", view).isTrue();
                assertThat(HeapMappings.hasOpen(word, never)).as("a process that never opened %s", view).isFalse();
                assertThat(HeapMappings.hasOpen(word, 0)).as("token 0, %s", view).isFalse();
            }
        }
    }
}
