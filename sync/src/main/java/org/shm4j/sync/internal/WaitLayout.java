package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;

/**
 * The byte layout of a heap's wait table, the block {@value #BLOCK_NAME} in which lock waiters publish what they
 * wait for (see {@link WaitTable} for the table and its memory ordering). Constants only.
 */
public final class WaitLayout {
    /** The wait table's block type. */
    public static final BlockType TABLE = BlockType.named("shm4j wait table", 0x5348_0091, 1);
    /** The reserved name of a heap's wait table. */
    public static final String BLOCK_NAME = "shm4j.waits";
    /** Magic (long) at {@link #MAGIC_OFFSET}: the ASCII bytes {@code "SHM4JWAI"} read as a little-endian long. */
    public static final long MAGIC = 0x4941_574A_344D_4853L;

    /** Header: magic (long). */
    public static final long MAGIC_OFFSET = 0;
    /** Header: layout version (int), {@link #TABLE}'s. */
    public static final long VERSION_OFFSET = MAGIC_OFFSET + Long.BYTES;
    /** Header: number of entries (int), {@link #ENTRIES}. */
    public static final long ENTRIES_OFFSET = VERSION_OFFSET + Integer.BYTES;
    /** Header: the last wait sequence number handed out (long); every published wait takes the next one. */
    public static final long SEQUENCE_OFFSET = ENTRIES_OFFSET + Integer.BYTES;
    /**
     * Header: how many times a waiter found the table full (long; a diagnostic count, 0 in tables made before it
     * was kept, whose bytes here were zero).
     */
    public static final long REFUSED_OFFSET = SEQUENCE_OFFSET + Long.BYTES;
    /** Header size; entries start here. */
    public static final long HEADER_SIZE = 64;

    /** Number of entries: at most this many threads of all processes are published as waiting at once. */
    public static final int ENTRIES = 64;
    /** Size of an entry. */
    public static final long ENTRY_SIZE = 128;

    /** Entry: the waiter's process owner token (long; 0 = free slot), claimed by CAS from 0. */
    public static final long ENTRY_TOKEN = 0;
    /** Entry: the wait's sequence number (long; 0 = not published), written last to publish, first to clear. */
    public static final long ENTRY_SEQUENCE = ENTRY_TOKEN + Long.BYTES;
    /** Entry: the waiter's Java thread id (long). */
    public static final long ENTRY_THREAD = ENTRY_SEQUENCE + Long.BYTES;
    /** Entry: offset of the awaited lock's memory from the start of the heap (long), 8-aligned. */
    public static final long ENTRY_LOCK = ENTRY_THREAD + Long.BYTES;
    /** Entry: epoch ms at which the wait began (long). */
    public static final long ENTRY_SINCE = ENTRY_LOCK + Long.BYTES;
    /** Entry: the awaited lock's kind (int): {@link #KIND_LOCK}, {@link #KIND_FAIR} or {@link #KIND_WRITE}. */
    public static final long ENTRY_KIND = ENTRY_SINCE + Long.BYTES;
    /** Entry: length in bytes of the waiter's thread name (int). */
    public static final long ENTRY_NAME_LENGTH = ENTRY_KIND + Integer.BYTES;
    /** Entry: the waiter's thread name, UTF-8, cut to {@link #MAX_NAME_BYTES}. */
    public static final long ENTRY_NAME = ENTRY_NAME_LENGTH + Integer.BYTES;
    /** Entry: room for the thread name. */
    public static final int MAX_NAME_BYTES = (int) (ENTRY_SIZE - ENTRY_NAME);

    /** Total size of the table block. */
    public static final long SIZE = HEADER_SIZE + ENTRIES * ENTRY_SIZE;

    /** Kind: a {@code SharedLock} (its robust mutex at the lock's offset). */
    public static final int KIND_LOCK = 1;
    /** Kind: a {@code SharedFairLock}. */
    public static final int KIND_FAIR = 2;
    /** Kind: the write side of a {@code SharedReadWriteLock} (its writer's robust mutex at the lock's offset). */
    public static final int KIND_WRITE = 3;

    private WaitLayout() {
    }
}
