package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;

/**
 * The heap block types of {@code org.shm4j.sync} and the byte layouts of its structures, in one place. Each
 * structure's class Javadoc has the layout table; the constants here are the single source for the code.
 */
public final class SyncLayout {
    /** Every value and lock block is one cache line. */
    public static final long CACHE_LINE = 64;

    public static final BlockType INT = new BlockType(0x5348_0001, 1);
    public static final BlockType LONG = new BlockType(0x5348_0002, 1);
    public static final BlockType DOUBLE = new BlockType(0x5348_0003, 1);
    public static final BlockType INT_ARRAY = new BlockType(0x5348_0011, 1);
    public static final BlockType LONG_ARRAY = new BlockType(0x5348_0012, 1);
    public static final BlockType DOUBLE_ARRAY = new BlockType(0x5348_0013, 1);
    public static final BlockType BYTE_ARRAY = new BlockType(0x5348_0014, 1);
    public static final BlockType LOCK = new BlockType(0x5348_0021, 1);

    /** Array block: {@code length} (long) at 0, elements from {@link #ARRAY_ELEMENTS_OFFSET}. */
    public static final long ARRAY_LENGTH_OFFSET = 0;
    /** Array block: element size in bytes (int) at 8, so a reader can check it. */
    public static final long ARRAY_ELEMENT_SIZE_OFFSET = 8;
    /** Array block: the first element, one cache line in. */
    public static final long ARRAY_ELEMENTS_OFFSET = 64;

    /** Lock block: the futex word, 0 when free, else the owner pid with {@link #LOCK_WAITERS} maybe set. */
    public static final long LOCK_WORD_OFFSET = 0;
    /** Lock block: flags (int); {@link #LOCK_OWNER_DIED} set while the data is marked inconsistent. */
    public static final long LOCK_FLAGS_OFFSET = 4;
    /** Lock block: start time of the owner process, epoch ms (long), 0 when unknown or free. */
    public static final long LOCK_OWNER_START_OFFSET = 8;
    /** Lock block: Java thread id of the owner (long), 0 when free. */
    public static final long LOCK_OWNER_THREAD_OFFSET = 16;
    /** Lock block: epoch ms by which the current owner held the lock (long), set by the first waiter; 0 if none. */
    public static final long LOCK_HELD_SINCE_OFFSET = 24;
    /** Lock block: number of times the lock was taken over from a dead owner (long). */
    public static final long LOCK_RECOVERIES_OFFSET = 32;

    /** Lock word: pid bits. */
    public static final int LOCK_PID_MASK = 0x3FFF_FFFF;
    /** Lock word: set when a thread may be blocked in futex wait and the releaser must wake one. */
    public static final int LOCK_WAITERS = 0x4000_0000;
    /** Lock flags: the previous owner died holding the lock. */
    public static final int LOCK_OWNER_DIED = 1;

    private SyncLayout() {
    }
}
