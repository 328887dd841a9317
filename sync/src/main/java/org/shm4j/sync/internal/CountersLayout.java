package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.ShmFormatException;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The byte layout of a {@link org.shm4j.sync.atomic.SharedCounters} block, in one place; the table with memory
 * orderings is in that class's Javadoc. Offsets are chained from the one before.
 */
public final class CountersLayout {
    /** Heap block type of a {@code SharedCounters}. */
    public static final BlockType COUNTERS = BlockType.named("SharedCounters", 0x5348_0081, 2);

    /** Header: magic (long), {@link #MAGIC}. */
    public static final long MAGIC_OFFSET = 0;
    /** Header: the ASCII bytes {@code "SHM4JCNT"} read as a little-endian long. */
    public static final long MAGIC = 0x544E_434A_344D_4853L;
    /** Header: layout version (int), {@link #COUNTERS}'s. */
    public static final long VERSION_OFFSET = MAGIC_OFFSET + Long.BYTES;
    /** Header: number of counter slots (int), fixed at creation. */
    public static final long CAPACITY_OFFSET = VERSION_OFFSET + Integer.BYTES;
    /** Header: milliseconds a freed slot waits before it is reused (long), fixed at creation. */
    public static final long REUSE_DELAY_OFFSET = CAPACITY_OFFSET + Integer.BYTES;
    /** Header: the last registration id handed out (long), written under the mutex. */
    public static final long LAST_ID_OFFSET = REUSE_DELAY_OFFSET + Long.BYTES;
    /** Header: end of the fields; the rest of the first line is zero. */
    public static final long HEADER_END = LAST_ID_OFFSET + Long.BYTES;
    /** The robust mutex serialising allocate and free, on the second cache line. */
    public static final long MUTEX_OFFSET = SyncLayout.CACHE_LINE;
    /** The first metadata record, after the mutex's line. */
    public static final long METADATA_OFFSET = MUTEX_OFFSET + SyncLayout.CACHE_LINE;
    /** Bytes per metadata record. */
    public static final long METADATA_LENGTH = 2 * SyncLayout.CACHE_LINE;
    /** Metadata: state (int), {@link #UNUSED}, {@link #ALLOCATED} or {@link #FREED}. */
    public static final long STATE = 0;
    /** Metadata: label length in bytes (int). */
    public static final long LABEL_LENGTH = STATE + Integer.BYTES;
    /** Metadata: registration id (long), unique among the block's allocations, 0 if never allocated. */
    public static final long REGISTRATION_ID = LABEL_LENGTH + Integer.BYTES;
    /** Metadata: epoch ms from which a freed slot may be reused (long). */
    public static final long FREE_DEADLINE = REGISTRATION_ID + Long.BYTES;
    /** Metadata: the label, UTF-8, zero-padded. */
    public static final long LABEL = FREE_DEADLINE + Long.BYTES;
    /** The longest label in UTF-8 bytes. */
    public static final int MAX_LABEL_BYTES = (int) (METADATA_LENGTH - LABEL);
    /** Bytes per counter value: the long and padding, two cache lines so no two counters share a line or its pair. */
    public static final long VALUE_LENGTH = 2 * SyncLayout.CACHE_LINE;
    /** The most counters one block holds. */
    public static final int MAX_CAPACITY = 1 << 16;

    /** State: never allocated. */
    public static final int UNUSED = 0;
    /** State: allocated, its value belongs to its label. */
    public static final int ALLOCATED = 1;
    /** State: freed; reusable from its free deadline. */
    public static final int FREED = 2;

    private CountersLayout() {
    }

    /** @return offset of the metadata record of slot {@code id} */
    public static long metadataOffset(int id) {
        return METADATA_OFFSET + id * METADATA_LENGTH;
    }

    /** @return offset of the value of slot {@code id} in a block of {@code capacity} slots */
    public static long valueOffset(int capacity, int id) {
        return METADATA_OFFSET + capacity * METADATA_LENGTH + id * VALUE_LENGTH;
    }

    /** @return the size of a block of {@code capacity} slots */
    public static long blockSize(int capacity) {
        return valueOffset(capacity, capacity);
    }

    /**
     * Checks the header of the counters block {@code block}, named {@code what} in messages, before anything is sized
     * from it.
     *
     * @return the capacity, once magic, version, capacity, block size, delay and mutex are valid
     * @throws ShmFormatException if one is not
     */
    public static int check(MemorySegment block, String what) {
        if (block.byteSize() < blockSize(1)) {
            throw Blocks.corrupt(what, "block size", block.byteSize(), ">= " + blockSize(1));
        }
        long magic = block.get(JAVA_LONG, MAGIC_OFFSET); // plain, as every header load: published with the block
        if (magic != MAGIC) {
            throw new ShmFormatException(what + " is not a SharedCounters block: magic=0x" + Long.toHexString(magic)
                    + " (expected: 0x" + Long.toHexString(MAGIC) + ", \"SHM4JCNT\")");
        }
        int version = block.get(JAVA_INT, VERSION_OFFSET);
        if (version != COUNTERS.layoutVersion()) {
            throw Blocks.corrupt(what, "layout version", version, String.valueOf(COUNTERS.layoutVersion()));
        }
        int capacity = block.get(JAVA_INT, CAPACITY_OFFSET);
        if (capacity < 1 || capacity > MAX_CAPACITY || blockSize(capacity) != block.byteSize()) {
            throw Blocks.corrupt(what, "capacity", capacity, "1 to " + MAX_CAPACITY + ", filling the block of "
                    + block.byteSize() + " bytes");
        }
        RobustMutex.checkNotNegative(block, REUSE_DELAY_OFFSET, "reuseDelayMillis", what);
        Blocks.requireZero(block, HEADER_END, MUTEX_OFFSET, what);
        RobustMutex.check(block, MUTEX_OFFSET, what + " mutex");
        return capacity;
    }

    /**
     * Renames this process's hold of the allocation mutex of the counters block {@code block} as a gone holder's, for
     * a process that opens again a heap it had closed ({@link ReopenSweep}): an allocate or free that the close cut
     * short between its lock and its release left it (held by no call), and the next allocate or free, in any
     * process, takes it over as a dead holder's. Nothing needs repair: each change stores its state last. The header
     * is checked first ({@link #check}); the rename is {@link RobustMutex#abandon}'s CAS from this process's word.
     *
     * @throws ShmFormatException if the header is not a counters block's (damaged): nothing is renamed
     */
    static void abandon(MemorySegment block) {
        check(block, "SharedCounters block");
        RobustMutex.abandon(block, MUTEX_OFFSET);
    }
}
