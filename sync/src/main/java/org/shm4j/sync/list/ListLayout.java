package org.shm4j.sync.list;

import org.shm4j.core.BlockType;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The byte layouts of {@link ShareableList} (CPython's, fixed by {@code multiprocessing.shared_memory}) and of
 * {@link SharedList} (shm4j's), in one place. The tables are in each class's Javadoc; these constants are the single
 * source for the code.
 */
final class ListLayout {
    // ---- CPython's ShareableList (3.11 to 3.13), native byte order ----

    /** Python: alignment of item slots, and the size of the count, of each offset and of each format. */
    static final int PY_WORD = 8;
    /** Python: offset of the item count N ({@code q}). */
    static final long PY_COUNT_OFFSET = 0;
    /** Python: offset of the N + 1 data-area offsets ({@code q} each). */
    static final long PY_OFFSETS_OFFSET = PY_COUNT_OFFSET + PY_WORD;
    /** Python: the largest slot whose {@code "<n>s"} format fits the 8 format bytes, rounded down to 8. */
    static final int PY_MAX_SLOT = 9_999_992;
    /** Python: back-transform code of an int, float or bool. */
    static final byte PY_CODE_VALUE = 0;
    /** Python: back-transform code of a str. */
    static final byte PY_CODE_STR = 1;
    /** Python: back-transform code of a bytes. */
    static final byte PY_CODE_BYTES = 2;
    /** Python: back-transform code of None. */
    static final byte PY_CODE_NONE = 3;
    /** Python: format of an int, {@code "q"}, as the 8 format bytes read as a native long. */
    static final long PY_FORMAT_LONG = format("q");
    /** Python: format of a float, {@code "d"}. */
    static final long PY_FORMAT_DOUBLE = format("d");
    /** Python: format of a bool, {@code "xxxxxxx?"}: the value in byte 7. */
    static final long PY_FORMAT_BOOLEAN = format("xxxxxxx?");
    /** Python: format of None, {@code "xxxxxx?x"}: 8 zero bytes. */
    static final long PY_FORMAT_NONE = format("xxxxxx?x");
    /** Python: the byte of a bool's slot that holds it. */
    static final int PY_BOOLEAN_BYTE = 7;

    // ---- shm4j's SharedList header block ----

    /** SharedList header block (elements live in chunk blocks named {@code <name>.chunk<k>}). */
    static final BlockType LIST = BlockType.named("SharedList", 0x5348_0071, 2);
    /** SharedList chunk block: element slots. */
    static final BlockType LIST_CHUNK = BlockType.named("SharedList chunk", 0x5348_0072, 1);
    /** SharedList: the magic, the ASCII bytes {@code "SHM4JLST"} read as a little-endian long. */
    static final long LIST_MAGIC = 0x5453_4C4A_344D_4853L;
    /** SharedList: the journal's "nothing pending". */
    static final int OP_NONE = 0;
    /** SharedList: the journal's "copy the scratch slot to slot index" (set). */
    static final int OP_SET = 1;
    /** SharedList: the journal's "shift slots index+1.. down by one" (remove). */
    static final int OP_REMOVE = 2;
    /** SharedList: the journal's "shift slots index.. up by one, then copy the scratch slot to index" (insert). */
    static final int OP_INSERT = 3;
    /** SharedList: slots in chunk 0; chunk k holds {@code FIRST_CHUNK << k}. */
    static final int FIRST_CHUNK = 64;
    /** SharedList: the most chunks, so the most slots are {@code FIRST_CHUNK * (2^MAX_CHUNKS - 1)}. */
    static final int MAX_CHUNKS = 24;
    /** SharedList: the largest encoded element. */
    static final int MAX_ELEMENT_BYTES = 1 << 20;

    /** The SharedList header, as a struct: the offsets below are its members' byte offsets (checked by a test). */
    static final StructLayout LIST_HEADER = MemoryLayout.structLayout(
            JAVA_LONG.withName("magic"),
            JAVA_INT.withName("codecTypeId"),
            JAVA_INT.withName("maxElementBytes"),
            JAVA_INT.withName("slotBytes"),
            MemoryLayout.paddingLayout(44),
            MemoryLayout.sequenceLayout(5, JAVA_LONG).withName("mutex"),
            MemoryLayout.paddingLayout(24),
            JAVA_LONG.withName("seq"),
            JAVA_LONG.withName("size"),
            JAVA_INT.withName("journalOp"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("journalIndex"),
            JAVA_LONG.withName("journalProgress"),
            JAVA_LONG.withName("journalSize"),
            MemoryLayout.paddingLayout(80)).withName("SharedListHeader");

    static final long LIST_MAGIC_OFFSET = 0;
    static final long LIST_CODEC_OFFSET = LIST_MAGIC_OFFSET + Long.BYTES;
    static final long LIST_MAX_ELEMENT_OFFSET = LIST_CODEC_OFFSET + Integer.BYTES;
    static final long LIST_SLOT_BYTES_OFFSET = LIST_MAX_ELEMENT_OFFSET + Integer.BYTES;
    /** Writers' robust mutex (40 bytes), on its own cache line. */
    static final long LIST_MUTEX_OFFSET = 64;
    /** Seqlock counter: odd while a writer changes slots or size, on the second cache line with the size. */
    static final long LIST_SEQ_OFFSET = 128;
    static final long LIST_SIZE_OFFSET = LIST_SEQ_OFFSET + Long.BYTES;
    static final long LIST_JOURNAL_OP_OFFSET = LIST_SIZE_OFFSET + Long.BYTES;
    static final long LIST_JOURNAL_INDEX_OFFSET = LIST_JOURNAL_OP_OFFSET + Long.BYTES;
    static final long LIST_JOURNAL_PROGRESS_OFFSET = LIST_JOURNAL_INDEX_OFFSET + Long.BYTES;
    static final long LIST_JOURNAL_SIZE_OFFSET = LIST_JOURNAL_PROGRESS_OFFSET + Long.BYTES;
    /** The scratch slot, where set and insert write the new element before the journal commits it. */
    static final long LIST_SCRATCH_OFFSET = 256;

    private ListLayout() {
    }

    /** @return the bytes of a slot for elements of up to {@code maxElementBytes}: length int, bytes, padding to 8 */
    static int slotBytes(int maxElementBytes) {
        return (Integer.BYTES + maxElementBytes + 7) & ~7;
    }

    /** @return the 8 NUL-padded ASCII bytes of a struct format, read as a native-order long */
    static long format(String format) {
        byte[] ascii = format.getBytes(StandardCharsets.US_ASCII);
        long word = 0;
        for (int i = 0; i < ascii.length; i++) {
            int shift = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 8 * i : 8 * (7 - i);
            word |= (ascii[i] & 0xFFL) << shift;
        }
        return word;
    }
}
