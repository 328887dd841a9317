package org.shm4j.core;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Type mismatches name the kinds of structure when their tags were given names, and the tags always. */
class BlockTypeNamesTest {
    private static final BlockType GAUGE = BlockType.named("TestGauge", 0x7E51, 1);
    private static final BlockType METER = BlockType.named("TestMeter", 0x7E52, 1);
    private static final BlockType UNNAMED = new BlockType(0x7E53, 1);

    @Test
    void shouldNameBothKindsOnAMismatch() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("total", GAUGE, 64);
            assertThatThrownBy(() -> heap.lookup("total", METER)).isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("block 'total' in " + heap + " is a TestGauge, type 0x7e51 v1 (expected: a TestMeter,"
                            + " type 0x7e52 v1)");
            assertThatThrownBy(() -> heap.allocateOrLookup("total", METER, 64, 64, s -> { }))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("is a TestGauge");
        }
    }

    /** helper-95: a lookup asking for a larger alignment than the block has silently got the misaligned block. */
    @Test
    void shouldRefuseAnExistingBlockAtAnOffsetOfAnotherAlignment() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("first", GAUGE, 64);
            HeapBlock block = heap.allocate("total", GAUGE, 64, 64, s -> { });
            assertThat(block.offset() % 4096).as("not at a page boundary, after the first block").isNotZero();
            assertThatThrownBy(() -> heap.allocateOrLookup("total", GAUGE, 64, 4096, s -> { }))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessage("block 'total' in " + heap
                            + " has offset=" + block.offset() + " (alignment 64; expected: a multiple of 4096)");
            assertThat(heap.allocateOrLookup("total", GAUGE, 64, 16, s -> { }).offset())
                    .as("a smaller alignment that the offset also has").isEqualTo(block.offset());
        }
    }

    @Test
    void shouldFallBackToTheTagForAnUnnamedKind() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("raw", UNNAMED, 64);
            heap.allocate("gauge", GAUGE, 64);
            assertThatThrownBy(() -> heap.lookup("raw", GAUGE)).hasMessage("block 'raw' in " + heap
                    + " is type 0x7e53 v1 (expected: a TestGauge, type 0x7e51 v1)");
            assertThatThrownBy(() -> heap.lookup("gauge", UNNAMED)).hasMessage("block 'gauge' in " + heap
                    + " is a TestGauge, type 0x7e51 v1 (expected: type 0x7e53 v1)");
        }
    }

    @Test
    void shouldNameAnotherLayoutVersionOfTheSameKind() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("old", new BlockType(0x7E51, 2), 64);
            assertThatThrownBy(() -> heap.lookup("old", GAUGE)).hasMessageEndingWith(
                    "is a TestGauge, type 0x7e51 v2 (expected: a TestGauge, type 0x7e51 v1)");
        }
    }

    @Test
    void shouldKeepTheFirstNameAndEqualityByTagAndVersion() {
        BlockType renamed = BlockType.named("Other", 0x7E51, 1);
        assertThat(renamed).isEqualTo(GAUGE).isEqualTo(new BlockType(0x7E51, 1));
        assertThat(renamed.kindName()).contains("TestGauge");
        assertThat(UNNAMED.kindName()).isEmpty();
        assertThat(GAUGE.toString()).isEqualTo("type 0x7e51 v1");
        assertThatThrownBy(() -> BlockType.named(" ", 0x7E54, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("kind is blank");
        assertThatThrownBy(() -> BlockType.named("X", 0x7E54, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("layoutVersion=0 (expected: >= 1)");
    }
}
