package org.shm4j.core.internal;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The byte layout of a {@link org.shm4j.core.SharedHeap}: header, attach table, catalog entry and their constants, in
 * one place.
 * The offsets are taken from the {@link StructLayout}s, so code and layout cannot drift apart; the table in the
 * {@code SharedHeap} Javadoc is checked against them by a test.
 */
public final class HeapLayout {
    /** {@code "SHM4JHEP"} read as a little-endian long. */
    public static final long MAGIC = 0x5045_484A_344D_4853L;
    /** Version of this layout; a heap with another version is refused. */
    public static final int LAYOUT_VERSION = 3;
    /** Default alignment of blocks: one cache line. */
    public static final long CACHE_LINE = 64;
    /** Data area alignment: two cache lines, against adjacent-line prefetch. */
    public static final long DATA_ALIGNMENT = 128;
    /** Largest block alignment. */
    public static final long MAX_ALIGNMENT = 1L << 30;
    /** Largest number of catalog entries. */
    public static final int MAX_CATALOG_CAPACITY = 1 << 16;
    /** Longest block name in UTF-8 bytes. */
    public static final int MAX_NAME_BYTES = 92;
    /** Number of slots of the attach table: how many processes can have a heap open at once. */
    public static final int ATTACH_CAPACITY = 64;
    /** Flag bit: the process that detaches last removes the heap's name. */
    public static final int FLAG_UNLINK_ON_LAST_DETACH = 1;
    /** Every flag bit this layout defines; a header with another bit set is refused. */
    public static final int KNOWN_FLAGS = FLAG_UNLINK_ON_LAST_DETACH;

    /** The heap header, at offset 0. */
    public static final StructLayout HEADER = MemoryLayout.structLayout(
            JAVA_LONG.withName("magic"),
            JAVA_INT.withName("layoutVersion"),
            JAVA_INT.withName("headerLength"),
            JAVA_LONG.withName("heapSize"),
            JAVA_LONG.withName("catalogOffset"),
            JAVA_INT.withName("catalogCapacity"),
            JAVA_INT.withName("entryLength"),
            JAVA_LONG.withName("dataOffset"),
            JAVA_LONG.withName("creatorPid"),
            JAVA_LONG.withName("creatorStartStamp"),
            JAVA_LONG.withName("heapId"),
            JAVA_LONG.withName("attachOffset"),
            JAVA_INT.withName("attachCapacity"),
            JAVA_INT.withName("attachSlotLength"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("headerChecksum"),
            JAVA_LONG.withName("creatorPidNamespace"),
            JAVA_LONG.withName("previousPidNamespace"),
            MemoryLayout.paddingLayout(16),
            JAVA_LONG.withName("allocLock"),
            JAVA_LONG.withName("allocTop"),
            JAVA_INT.withName("entryCount"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("removal"),
            MemoryLayout.paddingLayout(96));

    /** One slot of the attach table. */
    public static final StructLayout ATTACH_SLOT = MemoryLayout.structLayout(
            JAVA_LONG.withName("token"),
            JAVA_LONG.withName("startStamp"),
            JAVA_LONG.withName("attachments"),
            JAVA_LONG.withName("flockToken"));

    /** One catalog entry. */
    public static final StructLayout ENTRY = MemoryLayout.structLayout(
            JAVA_INT.withName("typeTag"),
            JAVA_INT.withName("layoutVersion"),
            JAVA_LONG.withName("offset"),
            JAVA_LONG.withName("byteSize"),
            JAVA_INT.withName("alignment"),
            JAVA_INT.withName("nameLength"),
            MemoryLayout.sequenceLayout(MAX_NAME_BYTES, JAVA_BYTE).withName("name"),
            JAVA_INT.withName("checksum"));

    public static final long MAGIC_OFFSET = header("magic");
    public static final long LAYOUT_VERSION_OFFSET = header("layoutVersion");
    public static final long HEADER_LENGTH_OFFSET = header("headerLength");
    public static final long HEAP_SIZE_OFFSET = header("heapSize");
    public static final long CATALOG_OFFSET_OFFSET = header("catalogOffset");
    public static final long CATALOG_CAPACITY_OFFSET = header("catalogCapacity");
    public static final long ENTRY_LENGTH_OFFSET = header("entryLength");
    public static final long DATA_OFFSET_OFFSET = header("dataOffset");
    public static final long CREATOR_PID_OFFSET = header("creatorPid");
    public static final long CREATOR_START_OFFSET = header("creatorStartStamp");
    public static final long HEAP_ID_OFFSET = header("heapId");
    public static final long ATTACH_OFFSET_OFFSET = header("attachOffset");
    public static final long ATTACH_CAPACITY_OFFSET = header("attachCapacity");
    public static final long ATTACH_SLOT_LENGTH_OFFSET = header("attachSlotLength");
    public static final long FLAGS_OFFSET = header("flags");
    public static final long HEADER_CHECKSUM_OFFSET = header("headerChecksum");
    public static final long CREATOR_PID_NAMESPACE_OFFSET = header("creatorPidNamespace");
    public static final long PREVIOUS_PID_NAMESPACE_OFFSET = header("previousPidNamespace");
    public static final long ALLOC_LOCK_OFFSET = header("allocLock");
    public static final long ALLOC_TOP_OFFSET = header("allocTop");
    public static final long ENTRY_COUNT_OFFSET = header("entryCount");
    public static final long REMOVAL_OFFSET = header("removal");
    public static final long HEADER_LENGTH = HEADER.byteSize();

    public static final long SLOT_TOKEN_OFFSET = slot("token");
    public static final long SLOT_START_STAMP_OFFSET = slot("startStamp");
    public static final long SLOT_ATTACHMENTS_OFFSET = slot("attachments");
    public static final long SLOT_FLOCK_TOKEN_OFFSET = slot("flockToken");
    public static final long ATTACH_SLOT_LENGTH = ATTACH_SLOT.byteSize();

    public static final long ENTRY_TYPE_TAG_OFFSET = entry("typeTag");
    public static final long ENTRY_LAYOUT_VERSION_OFFSET = entry("layoutVersion");
    public static final long ENTRY_OFFSET_OFFSET = entry("offset");
    public static final long ENTRY_BYTE_SIZE_OFFSET = entry("byteSize");
    public static final long ENTRY_ALIGNMENT_OFFSET = entry("alignment");
    public static final long ENTRY_NAME_LENGTH_OFFSET = entry("nameLength");
    public static final long ENTRY_NAME_OFFSET = entry("name");
    public static final long ENTRY_CHECKSUM_OFFSET = entry("checksum");
    public static final long ENTRY_LENGTH = ENTRY.byteSize();

    private HeapLayout() {
    }

    /** @return the offset of the attach table: right after the header */
    public static long attachOffset() {
        return HEADER_LENGTH;
    }

    /** @return the offset of attach slot {@code index} */
    public static long slotOffset(int index) {
        return attachOffset() + index * ATTACH_SLOT_LENGTH;
    }

    /** @return the offset of the catalog: right after the attach table */
    public static long catalogOffset() {
        return slotOffset(ATTACH_CAPACITY);
    }

    /** @return the offset of catalog entry {@code index} */
    public static long entryOffset(long index) {
        return catalogOffset() + index * ENTRY_LENGTH;
    }

    /** @return the offset of the data area of a heap with {@code catalogCapacity} entries */
    public static long dataOffset(int catalogCapacity) {
        return Checks.alignUp(entryOffset(catalogCapacity), DATA_ALIGNMENT);
    }

    private static long header(String field) {
        return HEADER.byteOffset(PathElement.groupElement(field));
    }

    private static long slot(String field) {
        return ATTACH_SLOT.byteOffset(PathElement.groupElement(field));
    }

    private static long entry(String field) {
        return ENTRY.byteOffset(PathElement.groupElement(field));
    }
}
