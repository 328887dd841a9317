package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.shm4j.core.internal.HeapLayout;

import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;

/** The layout tables in the {@link SharedHeap} Javadoc are a spec: this pins every number they state. */
class HeapLayoutTest {
    @Test
    void shouldMatchTheDocumentedHeaderTable() {
        assertThat(HeapLayout.MAGIC_OFFSET).isEqualTo(0);
        assertThat(HeapLayout.LAYOUT_VERSION_OFFSET).isEqualTo(8);
        assertThat(HeapLayout.HEADER_LENGTH_OFFSET).isEqualTo(12);
        assertThat(HeapLayout.HEAP_SIZE_OFFSET).isEqualTo(16);
        assertThat(HeapLayout.CATALOG_OFFSET_OFFSET).isEqualTo(24);
        assertThat(HeapLayout.CATALOG_CAPACITY_OFFSET).isEqualTo(32);
        assertThat(HeapLayout.ENTRY_LENGTH_OFFSET).isEqualTo(36);
        assertThat(HeapLayout.DATA_OFFSET_OFFSET).isEqualTo(40);
        assertThat(HeapLayout.CREATOR_PID_OFFSET).isEqualTo(48);
        assertThat(HeapLayout.CREATOR_START_OFFSET).isEqualTo(56);
        assertThat(HeapLayout.HEAP_ID_OFFSET).isEqualTo(64);
        assertThat(HeapLayout.ATTACH_OFFSET_OFFSET).isEqualTo(72);
        assertThat(HeapLayout.ATTACH_CAPACITY_OFFSET).isEqualTo(80);
        assertThat(HeapLayout.ATTACH_SLOT_LENGTH_OFFSET).isEqualTo(84);
        assertThat(HeapLayout.FLAGS_OFFSET).isEqualTo(88);
        assertThat(HeapLayout.HEADER_CHECKSUM_OFFSET).isEqualTo(92);
        assertThat(HeapLayout.CREATOR_PID_NAMESPACE_OFFSET).isEqualTo(96);
        assertThat(HeapLayout.PREVIOUS_PID_NAMESPACE_OFFSET).isEqualTo(104);
        assertThat(HeapLayout.ALLOC_LOCK_OFFSET).isEqualTo(128);
        assertThat(HeapLayout.ALLOC_TOP_OFFSET).isEqualTo(136);
        assertThat(HeapLayout.ENTRY_COUNT_OFFSET).isEqualTo(144);
        assertThat(HeapLayout.REMOVAL_OFFSET).isEqualTo(152);
        assertThat(HeapLayout.HEADER_LENGTH).isEqualTo(256);
        assertThat(HeapLayout.LAYOUT_VERSION).isEqualTo(3);
    }

    @Test
    void shouldMatchTheDocumentedAttachTable() {
        assertThat(HeapLayout.attachOffset()).isEqualTo(256);
        assertThat(HeapLayout.ATTACH_CAPACITY).isEqualTo(64);
        assertThat(HeapLayout.SLOT_TOKEN_OFFSET).isEqualTo(0);
        assertThat(HeapLayout.SLOT_START_STAMP_OFFSET).isEqualTo(8);
        assertThat(HeapLayout.SLOT_ATTACHMENTS_OFFSET).isEqualTo(16);
        assertThat(HeapLayout.SLOT_FLOCK_TOKEN_OFFSET).isEqualTo(24);
        assertThat(HeapLayout.ATTACH_SLOT_LENGTH).isEqualTo(32);
        assertThat(HeapLayout.slotOffset(63)).isEqualTo(256 + 63 * 32);
        assertThat(HeapLayout.catalogOffset()).isEqualTo(2304);
        assertThat(HeapLayout.FLAG_UNLINK_ON_LAST_DETACH).isEqualTo(1);
    }

    @Test
    void shouldMatchTheDocumentedEntryTable() {
        assertThat(HeapLayout.ENTRY_TYPE_TAG_OFFSET).isEqualTo(0);
        assertThat(HeapLayout.ENTRY_LAYOUT_VERSION_OFFSET).isEqualTo(4);
        assertThat(HeapLayout.ENTRY_OFFSET_OFFSET).isEqualTo(8);
        assertThat(HeapLayout.ENTRY_BYTE_SIZE_OFFSET).isEqualTo(16);
        assertThat(HeapLayout.ENTRY_ALIGNMENT_OFFSET).isEqualTo(24);
        assertThat(HeapLayout.ENTRY_NAME_LENGTH_OFFSET).isEqualTo(28);
        assertThat(HeapLayout.ENTRY_NAME_OFFSET).isEqualTo(32);
        assertThat(HeapLayout.ENTRY_CHECKSUM_OFFSET).isEqualTo(124);
        assertThat(HeapLayout.ENTRY_LENGTH).isEqualTo(128);
        assertThat(HeapLayout.MAX_NAME_BYTES).isEqualTo(92);
        assertThat(HeapLayout.dataOffset(64)).isEqualTo(2304 + 64 * 128);
        assertThat(HeapLayout.dataOffset(3)).isEqualTo(2688);
    }

    @Test
    void shouldSpellTheMagicInAscii() {
        byte[] bytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(HeapLayout.MAGIC).array();
        assertThat(new String(bytes, StandardCharsets.US_ASCII)).isEqualTo("SHM4JHEP");
    }
}
