package org.shm4j.core.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/** How a handler of a closed view finds the same bytes in another open view of its heap ({@link HeapMappings}). */
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
}
