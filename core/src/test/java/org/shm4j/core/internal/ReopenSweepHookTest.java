package org.shm4j.core.internal;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.HeapProcess;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * When the attach runs the sweep of holds left by a close ({@link AttachTable#onReopen}): only when this process
 * claims a new slot in a heap it had a slot in before, once per such claim, with the heap's blocks listed, before the
 * open returns; a sweep that fails frees the slot, fails the open, and runs again at the next open.
 */
@Timeout(60)
class ReopenSweepHookTest {
    private static final BlockType BLOCK = new BlockType(0x100, 1);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /** The block names each sweep was given, one list per sweep. */
    private final List<List<String>> sweeps = new ArrayList<>();

    @AfterEach
    void unregister() {
        AttachTable.onReopen(null); // the core module registers none: the sync module's is the only one
    }

    @Test
    void shouldSweepOnlyWhenThisProcessOpensAgainAHeapItHadClosed() {
        AttachTable.onReopen((heap, blocks) -> sweeps.add(blocks.stream().map(HeapCatalog.Entry::name).toList()));
        String name = names.unique("reopen-sweep");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            heap.allocate("a", BLOCK, 8);
            try (SharedHeap second = SharedHeap.open(name)) {
                assertThat(second.blocks()).hasSize(1);
            }
            assertThat(sweeps).as("a second view joins the slot: nothing was left by a close").isEmpty();
        }
        try (SharedHeap again = SharedHeap.open(name)) {
            assertThat(sweeps).as("the heap closed by this process, then opened again").containsExactly(List.of("a"));
            again.allocate("b", BLOCK, 8);
            try (SharedHeap second = SharedHeap.open(name)) {
                assertThat(second.blocks()).hasSize(2);
            }
        }
        try (SharedHeap third = SharedHeap.open(name)) {
            assertThat(sweeps).as("once per new slot").containsExactly(List.of("a"), List.of("a", "b"));
        }
    }

    @Test
    void shouldSweepWhatThisProcessWrappedOverTheHeapsMemoryBesideTheCatalogsBlocks() {
        List<HeapCatalog.Entry> given = new ArrayList<>();
        AttachTable.onReopen((heap, blocks) -> given.addAll(blocks));
        String name = names.unique("reopen-wrapped");
        long offset;
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            HeapBlock block = heap.allocate("a", BLOCK, 128);
            offset = block.offset() + 16;
            HeapMappings.noteWrapped(block.segment().asSlice(16, 64), new BlockType(0x200, 2));
            HeapMappings.noteWrapped(MemorySegment.ofArray(new byte[8]), new BlockType(0x300, 1)); // no heap's
        }
        try (SharedHeap again = SharedHeap.open(name)) {
            assertThat(given).extracting(HeapCatalog.Entry::name).containsExactly("a", "(wrapped)");
            HeapCatalog.Entry wrapped = given.get(1);
            assertThat(List.of(wrapped.typeTag(), wrapped.layoutVersion())).containsExactly(0x200, 2);
            assertThat(List.of(wrapped.offset(), wrapped.byteSize())).containsExactly(offset, 64L);
        }
    }

    @Test
    void shouldNotSweepAHeapThisProcessNeverHadASlotIn() {
        String name = names.unique("reopen-first");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            heap.allocate("a", BLOCK, 8);
        }
        AttachTable.onReopen((heap, blocks) -> sweeps.add(List.of()));
        String other = names.unique("reopen-other");
        try (SharedHeap heap = SharedHeap.create(other, 1 << 16)) {
            assertThat(sweeps).as("created: a new heap").isEmpty();
        }
        try (SharedHeap heap = SharedHeap.open(name)) {
            assertThat(sweeps).as("opened again").hasSize(1);
        }
    }

    @Test
    void shouldFreeTheSlotAndFailTheOpenWhenTheSweepFailsAndSweepAgainAtTheNextOpen() {
        String name = names.unique("reopen-fails");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            heap.allocate("a", BLOCK, 8);
        }
        AttachTable.onReopen((heap, blocks) -> {
            sweeps.add(List.of());
            if (sweeps.size() == 1) {
                throw new StackOverflowError("cut short midway");
            }
        });
        assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(StackOverflowError.class)
                .hasMessage("cut short midway");
        try (SharedHeap reader = SharedHeap.openReadOnly(name)) {
            assertThat(reader.attachedProcesses()).as("the failed open's slot was freed").isEmpty();
        }
        try (SharedHeap heap = SharedHeap.open(name)) {
            assertThat(sweeps).as("swept again").hasSize(2);
            assertThat(heap.attachedProcesses()).extracting(HeapProcess::pid)
                    .containsExactly(ProcessHandle.current().pid());
        }
    }

    @Test
    void shouldOpenAHeapWhoseCatalogCannotBeListedSweepingNoneOfItsBlocks() {
        String name = names.unique("reopen-damaged");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            MemorySegment memory = heap.memory().segment();
            heap.allocate("a", BLOCK, 8);
            // the entry's offset moved before the data area: the catalog's listing refuses it
            memory.set(JAVA_LONG, HeapLayout.entryOffset(0) + HeapLayout.ENTRY_OFFSET_OFFSET, 8L);
        }
        AttachTable.onReopen((heap, blocks) -> sweeps.add(blocks.stream().map(HeapCatalog.Entry::name).toList()));
        try (SharedHeap heap = SharedHeap.open(name)) {
            assertThat(sweeps).as("the catalog's blocks unknown: only what this process wrapped (nothing)")
                    .containsExactly(List.of());
        }
    }
}
