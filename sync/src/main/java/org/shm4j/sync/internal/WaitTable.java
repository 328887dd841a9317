package org.shm4j.sync.internal;

import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.WaitLayout.ENTRIES;
import static org.shm4j.sync.internal.WaitLayout.ENTRIES_OFFSET;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_KIND;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_LOCK;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_NAME;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_NAME_LENGTH;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_SEQUENCE;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_SINCE;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_SIZE;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_THREAD;
import static org.shm4j.sync.internal.WaitLayout.ENTRY_TOKEN;
import static org.shm4j.sync.internal.WaitLayout.HEADER_SIZE;
import static org.shm4j.sync.internal.WaitLayout.KIND_FAIR;
import static org.shm4j.sync.internal.WaitLayout.KIND_LOCK;
import static org.shm4j.sync.internal.WaitLayout.KIND_WRITE;
import static org.shm4j.sync.internal.WaitLayout.MAGIC;
import static org.shm4j.sync.internal.WaitLayout.MAGIC_OFFSET;
import static org.shm4j.sync.internal.WaitLayout.MAX_NAME_BYTES;
import static org.shm4j.sync.internal.WaitLayout.REFUSED_OFFSET;
import static org.shm4j.sync.internal.WaitLayout.SEQUENCE_OFFSET;
import static org.shm4j.sync.internal.WaitLayout.SIZE;
import static org.shm4j.sync.internal.WaitLayout.TABLE;
import static org.shm4j.sync.internal.WaitLayout.VERSION_OFFSET;

/**
 * A heap's wait table: the block {@value WaitLayout#BLOCK_NAME} in which a thread blocked on a lock for longer than
 * the deadlock-detection threshold publishes what it waits for, so that the waiters of every process can follow the
 * wait-for graph. Created by the first waiter that needs it; read-only readers never create it.
 *
 * <h2>Layout (heap block type {@code 0x53480091} v1, {@value WaitLayout#SIZE} bytes, native byte order)</h2>
 * <table class="striped">
 * <caption>Wait table block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic {@code "SHM4JWAI"}</td><td>written once by the heap's initializer</td></tr>
 * <tr><td>8</td><td>4</td><td>layout version, 1</td><td>written once</td></tr>
 * <tr><td>12</td><td>4</td><td>entries, {@value WaitLayout#ENTRIES}</td><td>written once</td></tr>
 * <tr><td>16</td><td>8</td><td>last sequence number handed out</td><td>atomic add</td></tr>
 * <tr><td>24</td><td>8</td><td>publications refused for a full table, a count (diagnostics: the tool shows it;
 *     zero in a table of an earlier shm4j, which kept these bytes zero)</td><td>atomic add</td></tr>
 * <tr><td>32</td><td>32</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>64 × 128</td><td>entries, each: owner token of the waiter's process (long, 0 = free; pid in
 *     bits 63..32, low 32 bits of its start stamp), sequence number of the wait (long, 0 = not
 *     published), waiter's thread id (long), offset of the awaited lock from the heap's start (long), epoch ms the
 *     wait began (long), lock kind (int: 1 lock, 2 fair lock, 3 write side of a read-write lock), thread name length
 *     (int), thread name (80 bytes UTF-8, cut)</td>
 *     <td>all volatile but the name's bytes (plain). A waiter claims a free entry by CAS on the token, writes the
 *     fields, and publishes them by writing a fresh sequence number last; it clears the sequence number first and
 *     the token last. A reader reads the sequence number before and after the fields (a load-load fence after the
 *     name) and keeps the entry only if both are the same non-zero number (sequence numbers are never reused, so
 *     this is a seqlock without ABA)</td></tr>
 * </table>
 * A process that dies while published leaves its entry; readers skip it (a dead process waits for nothing, so the
 * graph and its cycles never show it), and the next waiter that finds the table full (at most one scan per 100 ms in
 * each process), and the waiters that find a cycle, drop entries of dead processes.
 */
public final class WaitTable {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final String WHAT = "wait table '" + WaitLayout.BLOCK_NAME + "'";
    /** The shortest time between two scans of full tables for dead waiters by {@link #publish}, in this process. */
    private static final long RECLAIM_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final AtomicLong NEXT_RECLAIM = new AtomicLong(System.nanoTime());

    private final SharedHeap heap;
    private final MemorySegment table;
    private final MemorySegment memory; // the whole heap: awaited locks are read at their offsets in it

    private WaitTable(SharedHeap heap, MemorySegment table) {
        this.heap = heap;
        this.table = table;
        this.memory = heap.memory().segment();
        check(table);
    }

    /**
     * @return the heap's wait table, created (by exactly one of racing callers) if there is none yet
     * @throws org.shm4j.core.ShmException if the heap cannot hold it, or its block is not a valid wait table
     */
    public static WaitTable openOrCreate(SharedHeap heap) {
        return new WaitTable(heap, heap.allocateOrLookup(WaitLayout.BLOCK_NAME, TABLE, SIZE, SyncLayout.CACHE_LINE,
                WaitTable::format).segment());
    }

    /**
     * @return the heap's wait table, if a waiter ever created one; never changes the heap
     * @throws org.shm4j.core.ShmException if the block exists but is not a valid wait table
     */
    public static Optional<WaitTable> find(SharedHeap heap) {
        if (heap.find(WaitLayout.BLOCK_NAME).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new WaitTable(heap, Blocks.open(heap, WaitLayout.BLOCK_NAME, TABLE, SIZE, "wait table")));
    }

    /** @return the heap this table is in */
    public SharedHeap heap() {
        return heap;
    }

    /** @return the offset of {@code lock}, memory of this heap, from the heap's start */
    public static long offsetOf(SharedHeap heap, MemorySegment lock) {
        return lock.address() - heap.memory().segment().address();
    }

    private static void format(MemorySegment block) {
        INT.setVolatile(block, VERSION_OFFSET, TABLE.layoutVersion());
        INT.setVolatile(block, ENTRIES_OFFSET, ENTRIES);
        LONG.setVolatile(block, MAGIC_OFFSET, MAGIC);
    }

    private static void check(MemorySegment block) {
        long magic = (long) LONG.getVolatile(block, MAGIC_OFFSET);
        if (magic != MAGIC) {
            throw Blocks.corrupt(WHAT, "magic", "0x" + Long.toHexString(magic), "0x" + Long.toHexString(MAGIC));
        }
        int version = (int) INT.getVolatile(block, VERSION_OFFSET);
        if (version != TABLE.layoutVersion()) {
            throw Blocks.corrupt(WHAT, "layout version", version, String.valueOf(TABLE.layoutVersion()));
        }
        int entries = (int) INT.getVolatile(block, ENTRIES_OFFSET);
        if (entries != ENTRIES) {
            throw Blocks.corrupt(WHAT, "entries", entries, String.valueOf(ENTRIES));
        }
    }

    /**
     * Publishes the current thread as waiting for the lock at {@code lockOffset}.
     *
     * @return the entry's slot, or -1 if every entry is taken by a live process
     */
    public int publish(long lockOffset, int kind, long sinceMillis) {
        int slot = claim();
        if (slot < 0) {
            if (mayReclaim()) {
                reclaimDead();
            }
            slot = claim();
            if (slot < 0) {
                LONG.getAndAdd(table, REFUSED_OFFSET, 1L);
                return -1;
            }
        }
        long at = entry(slot);
        Thread me = Thread.currentThread();
        LONG.setVolatile(table, at + ENTRY_THREAD, me.threadId());
        LONG.setVolatile(table, at + ENTRY_LOCK, lockOffset);
        LONG.setVolatile(table, at + ENTRY_SINCE, sinceMillis);
        INT.setVolatile(table, at + ENTRY_KIND, kind);
        byte[] name = cut(me.getName());
        MemorySegment.copy(name, 0, table, JAVA_BYTE, at + ENTRY_NAME, name.length); // plain: the sequence publishes it
        INT.setVolatile(table, at + ENTRY_NAME_LENGTH, name.length);
        long sequence = (long) LONG.getAndAdd(table, SEQUENCE_OFFSET, 1L) + 1;
        LONG.setVolatile(table, at + ENTRY_SEQUENCE, sequence); // publishes the fields above
        return slot;
    }

    /** @return how many times a waiter found this table full (a waiter refused tries again later) */
    public long refused() {
        return (long) LONG.getVolatile(table, REFUSED_OFFSET);
    }

    /** @return the sequence number of the wait published in {@code slot} (0 if none) */
    public long sequence(int slot) {
        return (long) LONG.getVolatile(table, entry(slot) + ENTRY_SEQUENCE);
    }

    /** Ends the current thread's wait published in {@code slot}. */
    public void clear(int slot) {
        long at = entry(slot);
        LONG.setVolatile(table, at + ENTRY_SEQUENCE, 0L); // first: readers drop the entry from now on
        LONG.setVolatile(table, at + ENTRY_TOKEN, 0L);
    }

    /** @return every published, well-formed entry, each read consistently (seqlock) */
    public List<Entry> entries() {
        List<Entry> entries = new ArrayList<>();
        for (int slot = 0; slot < ENTRIES; slot++) {
            Entry e = read(slot);
            if (e != null) {
                entries.add(e);
            }
        }
        return entries;
    }

    /** @return true if {@code e} is still published, unchanged */
    public boolean isCurrent(Entry e) {
        return sequence(e.slot()) == e.sequence();
    }

    /**
     * @return the thread holding the lock {@code e} waits for, read from the lock's own memory now; empty if it is
     *         free or its holder has not recorded its thread yet
     */
    public Optional<Holder> holder(Entry e) {
        long at = e.lockOffset();
        if (e.kind() == KIND_FAIR) {
            long word = (long) LONG.getVolatile(memory, at + SyncLayout.FAIR_WORD_OFFSET);
            if (!FairWord.taken(word)) {
                return Optional.empty();
            }
            return holder(FairWord.holderToken(memory, at, word),
                    (long) LONG.getVolatile(memory, at + SyncLayout.FAIR_OWNER_THREAD_OFFSET));
        }
        long word = (long) LONG.getVolatile(memory, at + SyncLayout.MUTEX_WORD) & ~SyncLayout.LOCK_WAITERS;
        long token = RobustMutex.ownerToken(word);
        return holder(token, (long) LONG.getVolatile(memory, at + SyncLayout.MUTEX_OWNER_THREAD));
    }

    private static Optional<Holder> holder(long token, long threadKey) {
        return token <= SyncLayout.FAIR_ABANDONED || threadKey == 0 ? Optional.empty()
                : Optional.of(new Holder(token, ThreadKeys.threadId(threadKey, ProcessIdentity.pid(token))));
    }

    /**
     * @return true unless the process of {@code token} died or closed its last view of the heap (see
     *         {@link HeapMappings#isPresent}): then it waits for nothing and holds nothing here any more
     */
    public boolean isPresent(long token) {
        return HeapMappings.isPresent(table, token);
    }

    /** Drops the entries of processes that died (or closed their last view of the heap) while published. */
    public void reclaimDead() {
        for (int slot = 0; slot < ENTRIES; slot++) {
            long at = entry(slot);
            long token = (long) LONG.getVolatile(table, at + ENTRY_TOKEN);
            if (token != 0) {
                reclaimIfGone(at, token);
            }
        }
    }

    /**
     * Drops the entry at {@code at} if its process, {@code token}'s, is gone; counted as a take-over (see {@link
     * HeapMappings#beginTakeOver}) until its CASes, so that this process, had it closed its heap and opened it again
     * meanwhile, cannot publish in the entry between the judgment and the CASes (its new wait would be dropped).
     */
    private void reclaimIfGone(long at, long token) {
        MemorySegment takingOver = HeapMappings.beginTakeOver(table, token);
        if (takingOver == null) {
            return;
        }
        try {
            long sequence = (long) LONG.getVolatile(table, at + ENTRY_SEQUENCE);
            // the token again: if another reclaimer freed the entry meanwhile and a live waiter claimed it, the
            // sequence read was that waiter's (sequences are unique, so a CAS of the dead one's cannot hit it)
            if ((long) LONG.getVolatile(table, at + ENTRY_TOKEN) == token
                    && LONG.compareAndSet(table, at + ENTRY_SEQUENCE, sequence, 0L)) {
                LONG.compareAndSet(table, at + ENTRY_TOKEN, token, 0L);
            }
        } finally {
            HeapMappings.endTakeOver(takingOver);
        }
    }

    /**
     * Renames the entries of this process in the wait table {@code table} as a gone process's
     * ({@link ProcessIdentity#abandonedToken()}), for a process that opens again a heap it had closed (see
     * {@code ReopenSweep}): a thread whose wait was published when the close cut it short could not clear its entry
     * through the closed heap, and this process's name back in the attach table showed that entry as its live wait
     * (in every process's wait-for graph, and to deadlock detection) and kept it from every reclaim. Renamed, readers
     * skip it and the next reclaim drops it, as a dead waiter's; so too an entry claimed and not yet published, or
     * cleared but for its token. The header and size are checked first as an open checks them, so a damaged block
     * throws {@link org.shm4j.core.ShmFormatException} and is left alone. A CAS (volatile) from this process's token,
     * which no other process changes while this one is attached; a reader that read the token just before sees the
     * wait once more, no later.
     */
    static void abandon(MemorySegment table) {
        if (table.byteSize() != SIZE) {
            throw Blocks.corrupt(WHAT, "block size", table.byteSize(), String.valueOf(SIZE));
        }
        check(table);
        long me = ProcessIdentity.currentToken();
        for (int slot = 0; slot < ENTRIES; slot++) {
            LONG.compareAndSet(table, entry(slot) + ENTRY_TOKEN, me, ProcessIdentity.abandonedToken());
        }
    }

    /**
     * @return true at most once per {@link #RECLAIM_NANOS} in this process: the waiters a full table refused try
     *         again once a second each, and a scan for dead waiters probes up to 64 processes
     */
    private static boolean mayReclaim() {
        long now = System.nanoTime();
        long next = NEXT_RECLAIM.get();
        return now - next >= 0 && NEXT_RECLAIM.compareAndSet(next, now + RECLAIM_NANOS);
    }

    private int claim() {
        long me = ProcessIdentity.currentToken();
        for (int slot = 0; slot < ENTRIES; slot++) {
            long at = entry(slot) + ENTRY_TOKEN;
            // volatile read first: a full table costs a scan of loads, not of failed CASes on every entry's line
            if ((long) LONG.getVolatile(table, at) == 0 && LONG.compareAndSet(table, at, 0L, me)) {
                return slot;
            }
        }
        return -1;
    }

    private Entry read(int slot) {
        long at = entry(slot);
        long sequence = (long) LONG.getVolatile(table, at + ENTRY_SEQUENCE);
        if (sequence == 0) {
            return null;
        }
        long token = (long) LONG.getVolatile(table, at + ENTRY_TOKEN);
        long thread = (long) LONG.getVolatile(table, at + ENTRY_THREAD);
        long lock = (long) LONG.getVolatile(table, at + ENTRY_LOCK);
        long since = (long) LONG.getVolatile(table, at + ENTRY_SINCE);
        int kind = (int) INT.getVolatile(table, at + ENTRY_KIND);
        int nameLength = (int) INT.getVolatile(table, at + ENTRY_NAME_LENGTH);
        if (nameLength < 0 || nameLength > MAX_NAME_BYTES || !wellFormed(token, lock, kind)) {
            return null; // damaged: a wait nobody can follow
        }
        if (!isPresent(token)) {
            return null; // its process was killed (or left the heap) while published: it waits for nothing
        }
        byte[] name = new byte[nameLength];
        MemorySegment.copy(table, JAVA_BYTE, at + ENTRY_NAME, name, 0, nameLength); // plain: checked below
        VarHandle.loadLoadFence(); // the name's plain loads before the re-read: a volatile load does not order them
        if ((long) LONG.getVolatile(table, at + ENTRY_SEQUENCE) != sequence) {
            return null; // changed while read: ended or replaced
        }
        return new Entry(slot, sequence, token, thread, new String(name, StandardCharsets.UTF_8), lock, kind, since);
    }

    private boolean wellFormed(long token, long lock, int kind) {
        long size = kind == KIND_FAIR ? SyncLayout.FAIR_SIZE : SyncLayout.MUTEX_SIZE;
        return ProcessIdentity.pid(token) > 0 && (kind == KIND_LOCK || kind == KIND_FAIR || kind == KIND_WRITE)
                && lock >= 0 && lock % Long.BYTES == 0 && lock <= memory.byteSize() - size;
    }

    private static byte[] cut(String name) {
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= MAX_NAME_BYTES) {
            return utf8;
        }
        int end = MAX_NAME_BYTES;
        while ((utf8[end] & 0xC0) == 0x80) { // do not split a character
            end--;
        }
        return Arrays.copyOf(utf8, end);
    }

    private static long entry(int slot) {
        return HEADER_SIZE + slot * ENTRY_SIZE;
    }

    /** The name of the lock at {@code lockOffset} of the heap, from the catalog: e.g. {@code lock 'orders'}. */
    public String lockName(long lockOffset, int kind) {
        for (HeapBlock block : heap.blocks()) {
            if (lockOffset >= block.offset() && lockOffset < block.offset() + block.byteSize()) {
                return switch (kind) {
                    case KIND_FAIR -> "fair lock '" + block.name() + "'";
                    case KIND_WRITE -> "read-write lock '" + block.name() + "' (write)";
                    default -> (block.type().tag() == SyncLayout.REENTRANT_LOCK.tag() ? "reentrant lock '"
                            : "lock '") + block.name() + "'";
                };
            }
        }
        return "lock at heap offset " + lockOffset;
    }

    /**
     * One published wait.
     *
     * @param slot        its entry
     * @param sequence    its sequence number, unique to this wait
     * @param token       the waiter's process (owner token)
     * @param threadId    the waiter's Java thread id
     * @param threadName  the waiter's thread name, maybe cut
     * @param lockOffset  offset of the awaited lock's memory from the heap's start
     * @param kind        the awaited lock's kind, {@link WaitLayout#KIND_LOCK} etc.
     * @param sinceMillis epoch ms the wait began
     */
    public record Entry(int slot, long sequence, long token, long threadId, String threadName, long lockOffset,
                        int kind, long sinceMillis) {
        /** @return true if this wait's thread is the holder {@code h} */
        public boolean is(Holder h) {
            return h.token() == token && h.threadId() == threadId;
        }
    }

    /**
     * The thread that holds a lock.
     *
     * @param token    its process (owner token)
     * @param threadId its Java thread id
     */
    public record Holder(long token, long threadId) {
    }
}
