package org.shm4j.sync.map;

import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.Settling;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.shm4j.sync.map.MapLayout.CHECKED_FROM;
import static org.shm4j.sync.map.MapLayout.ENTRY_HEADER;
import static org.shm4j.sync.map.MapLayout.E_CHECKSUM;
import static org.shm4j.sync.map.MapLayout.E_HASH;
import static org.shm4j.sync.map.MapLayout.E_KEY_LENGTH;
import static org.shm4j.sync.map.MapLayout.E_STAMP;
import static org.shm4j.sync.map.MapLayout.E_STATE;
import static org.shm4j.sync.map.MapLayout.E_VALUE_LENGTH;
import static org.shm4j.sync.map.MapLayout.EMPTY;
import static org.shm4j.sync.map.MapLayout.OFFSET_MASK;
import static org.shm4j.sync.map.MapLayout.SLOT_SHIFT;
import static org.shm4j.sync.map.MapLayout.STATE_LIVE;
import static org.shm4j.sync.map.MapLayout.STATE_MARK;
import static org.shm4j.sync.map.MapLayout.S_COMPACTIONS;
import static org.shm4j.sync.map.MapLayout.S_COUNT;
import static org.shm4j.sync.map.MapLayout.S_LOCAL_DEPTH;
import static org.shm4j.sync.map.MapLayout.S_PATTERN;
import static org.shm4j.sync.map.MapLayout.S_SPLIT_STATE;
import static org.shm4j.sync.map.MapLayout.S_SPLIT_TARGET;
import static org.shm4j.sync.map.MapLayout.S_MUTEX;
import static org.shm4j.sync.map.MapLayout.S_REPAIRS;
import static org.shm4j.sync.map.MapLayout.S_SEQUENCE;
import static org.shm4j.sync.map.MapLayout.S_SLOTS;
import static org.shm4j.sync.map.MapLayout.S_TOMBSTONES;
import static org.shm4j.sync.map.MapLayout.S_USED_BYTES;
import static org.shm4j.sync.map.MapLayout.TAG_MASK;
import static org.shm4j.sync.map.MapLayout.TOMBSTONE;

/**
 * One segment of a map: its slot table and entry arena, written under its robust mutex and read optimistically
 * under its sequence counter (see {@link MapLayout}).
 *
 * <p>Reads: {@link #tryRead} loads the sequence (acquire); if even, checks that the segment's local depth and
 * pattern cover the hash ({@link #MOVED} if not), probes and copies the value with plain loads,
 * every offset checked against the segment first, then an acquire fence and a second load of the sequence: a change
 * means a writer interfered and the result is dropped (a torn offset that still slips past the checks throws
 * {@link IndexOutOfBoundsException}, caught and dropped too). After {@link #OPTIMISTIC_TRIES} failures, or while a
 * writer's odd sequence stays, the reader takes the mutex, which also takes the segment over from a dead writer.
 *
 * <p>Writes: between {@link #lock()} and {@link #unlock()}; every change of shared bytes sits between
 * {@link #beginWrite()} (odd sequence) and {@link #endWrite(long)} (even). A new value always goes to a new chunk
 * (see {@link SegmentArena}), published by one slot store; so a writer that dies leaves an odd sequence, and the
 * next locker rebuilds the segment from its checksummed chunks ({@link SegmentArena#rebuild()}).
 */
final class MapSegment {
    /** {@link #tryRead}: the key is not in the segment. */
    static final int ABSENT = -1;
    /** {@link #tryRead}: a writer interfered; read again. */
    static final int RETRY = -2;
    /** {@link #read}: the segment does not hold the hash's keys (a split moved them); look it up again. */
    static final int MOVED = -3;
    /** {@link #probe}: a checked offset or length was out of bounds. */
    static final long TORN = Long.MIN_VALUE;
    /** {@link #probe}: absent, and no slot free to insert it. */
    static final long NO_ROOM = Long.MIN_VALUE + 1;
    /** Optimistic reads tried before a reader takes the mutex. */
    static final int OPTIMISTIC_TRIES = 64;
    /** How long a reader that cannot take the mutex (its heap opened read-only) keeps trying optimistic reads. */
    static final long READ_ONLY_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    final MemorySegment memory;
    final int index;
    final MapCore map;
    final int mask;
    final long arenaStart;
    final long end;
    final SegmentArena arena;
    private final RobustMutex mutex;
    /** For messages, built once: an unlock names the segment without allocating. */
    private final String description;

    MapSegment(MapCore map, MemorySegment memory, int number, MapGeometry geometry) {
        this.map = map;
        this.memory = memory;
        this.index = number;
        this.mask = geometry.slots() - 1;
        this.arenaStart = S_SLOTS + 8L * geometry.slots();
        this.end = memory.byteSize();
        this.description = map.describe(this);
        this.mutex = new RobustMutex(memory, S_MUTEX, description);
        this.arena = new SegmentArena(this, geometry.arenaSize());
        RobustMutex.check(memory, S_MUTEX, description); // once per segment and view, as a structure's open checks
    }

    /**
     * Looks a key up without writing shared memory unless writers keep the segment busy.
     *
     * @return the value's length, its bytes copied to {@code target} if it is at most {@code capacity};
     *         {@link #ABSENT}; or {@link #MOVED} if the segment's local depth and pattern do not cover {@code hash}
     */
    int read(long hash, MemorySegment key, long keyOffset, int keyLength, MemorySegment target, long targetOffset,
             long capacity) {
        try {
            for (int i = 0; i < OPTIMISTIC_TRIES; i++) {
                int result = tryRead(hash, key, keyOffset, keyLength, target, targetOffset, capacity);
                if (result != RETRY) {
                    return result;
                }
                Thread.onSpinWait();
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw map.closed(e);
        }
        return readLocked(hash, key, keyOffset, keyLength, target, targetOffset, capacity);
    }

    /**
     * For a reader of a heap opened read-only whose optimistic tries all failed: it cannot take the lock (to wait
     * for a writer, or to repair a dead one's change), so it tries again after each {@link Settling} step for up to
     * {@link #READ_ONLY_WAIT_NANOS} (up to twice that if a change that began meanwhile is still under way then).
     *
     * @param attempt one optimistic read: its result, or null if a writer interfered
     * @return the first result
     * @throws IllegalStateException naming the segment if no attempt succeeded in that time: a writer died in the
     *                               middle of a change (the sequence odd, and unchanged for that whole time; the
     *                               next access through a heap opened read-write repairs it), or writers kept
     *                               changing the segment, or its bytes are damaged
     */
    <T> T readWithoutLock(Supplier<T> attempt) {
        Settling settling = null;
        try {
            while (true) {
                T result = attempt.get();
                if (result != null) {
                    return result;
                }
                long sequence = sequenceAcquire();
                if (Settling.waited(settling, READ_ONLY_WAIT_NANOS, sequence)) {
                    throw Settling.readOnlyGaveUp(description, settling, sequence, READ_ONLY_WAIT_NANOS, true);
                }
                settling = Settling.pause(settling, sequence);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw map.closed(e);
        } finally {
            Settling.end(settling);
        }
    }

    /**
     * {@link #read} under the lock, for a reader whose optimistic tries all failed; on a heap opened read-only,
     * which cannot lock, optimistic reads for a while more ({@link #readWithoutLock}).
     *
     * @return as {@link #read}
     */
    int readLocked(long hash, MemorySegment key, long keyOffset, int keyLength, MemorySegment target,
                   long targetOffset, long capacity) {
        if (memory.isReadOnly()) { // it cannot lock: optimistic reads again, for a while
            return readWithoutLock(() -> {
                int result = tryRead(hash, key, keyOffset, keyLength, target, targetOffset, capacity);
                return result == RETRY ? null : result;
            });
        }
        lock();
        try {
            if (!covers(hash)) { // the lock's repair may have finished a dead writer's split
                return MOVED;
            }
            long found = find(hash, key, keyOffset, keyLength);
            return found < 0 ? ABSENT : copyValue(chunk((int) found), target, targetOffset, capacity);
        } finally {
            unlock();
        }
    }

    /** One optimistic read; see {@link #read}. @return as {@link #read}, or {@link #RETRY} */
    int tryRead(long hash, MemorySegment key, long keyOffset, int keyLength, MemorySegment target,
                long targetOffset, long capacity) {
        long stamp = (long) LONG.getAcquire(memory, S_SEQUENCE);
        if ((stamp & 1) != 0) {
            return RETRY;
        }
        if (!covers(hash)) { // a split moved the key, or a stale hint led here: validated, so not a torn read
            return validate(stamp) ? MOVED : RETRY;
        }
        int result;
        try {
            long found = probe(hash, key, keyOffset, keyLength);
            if (found == TORN) {
                return RETRY;
            }
            long chunk = found < 0 ? 0 : chunk((int) found); // the slot may have changed since the probe: check
            if (found >= 0 && checkedKeyLength(chunk) < 0) {
                return RETRY;
            }
            result = found < 0 ? ABSENT : copyValue(chunk, target, targetOffset, capacity);
        } catch (IndexOutOfBoundsException torn) {
            return RETRY;
        }
        VarHandle.acquireFence(); // the loads above complete before the validating load below
        return (long) LONG.getOpaque(memory, S_SEQUENCE) == stamp ? result : RETRY;
    }

    /**
     * Finds a key with plain loads, checking every chunk offset and length it follows.
     *
     * @return the slot index of the key; if absent, {@code -(slot to insert at) - 1} or {@link #NO_ROOM}; or
     *         {@link #TORN} if a check failed
     */
    long probe(long hash, MemorySegment key, long keyOffset, int keyLength) {
        long tag = hash & TAG_MASK;
        int i = (int) (hash >>> SLOT_SHIFT) & mask;
        int free = -1;
        for (int n = 0; n <= mask; n++, i = (i + 1) & mask) {
            long slot = memory.get(JAVA_LONG, S_SLOTS + 8L * i); // plain: validated by the sequence or the lock
            if (slot == EMPTY) {
                return -(free >= 0 ? free : i) - 1L;
            }
            if (slot == TOMBSTONE) {
                free = free >= 0 ? free : i;
            } else if ((slot & TAG_MASK) == tag) {
                long chunk = slot & OFFSET_MASK;
                int length = checkedKeyLength(chunk);
                if (length < 0) {
                    return TORN;
                }
                if (length == keyLength && (length == Long.BYTES // one load compares the common 8-byte key
                        ? memory.get(JAVA_LONG, chunk + ENTRY_HEADER) == key.get(JAVA_LONG_UNALIGNED, keyOffset)
                        : MemorySegment.mismatch(memory, chunk + ENTRY_HEADER, chunk + ENTRY_HEADER + length, key,
                        keyOffset, keyOffset + length) < 0)) {
                    return i;
                }
            }
        }
        return free >= 0 ? -free - 1L : NO_ROOM;
    }

    /**
     * Takes the mutex, taking it over from a dead owner and repairing what that owner left half done.
     *
     * @throws IllegalStateException if the heap was opened read-only (nothing can be written)
     */
    void lock() {
        if (memory.isReadOnly()) {
            throw new IllegalStateException(description + " is read-only here: its heap was opened read-only");
        }
        try {
            mutex.acquire(-1, false);
        } catch (InterruptedException notInterruptible) {
            throw new AssertionError(notInterruptible);
        } catch (IllegalMonitorStateException heldHere) {
            throw new IllegalMonitorStateException(description + " is locked by this thread already: a compute or "
                    + "merge function must not change other keys of the map (segment locks are not reentrant)");
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw map.closed(e);
        }
        try {
            repairIfHalfDone();
        } catch (RuntimeException | Error e) {
            // the sequence stays odd: every later lock() tries the repair again and says why it fails; or this view
            // was closed under the holder: released through another view of the heap, if this process has one
            try {
                mutex.releaseAfter(e, false, description);
            } catch (StackOverflowError again) { // a repair cut short by one overflows here too: see unlock()
                mutex.leaked = true; // a store, not a call: a call would overflow the stack again
            }
            throw e;
        }
    }

    /** Under the lock, just taken: repairs what a dead owner left half done, if it did. */
    private void repairIfHalfDone() {
        long sequence = (long) LONG.getOpaque(memory, S_SEQUENCE); // opaque: the lock orders it
        // odd: a dead owner was changing the segment (a live one leaves it even, but for a split that met damaged
        // bytes and threw ShmFormatException, whose segment the rebuild below is what it needs)
        if ((sequence & 1) != 0) {
            arena.rebuild();
            SegmentSplit.recover(map, this);
            SegmentCompaction.recover(map, this);
            LONG.setOpaque(memory, S_REPAIRS, (long) LONG.getOpaque(memory, S_REPAIRS) + 1); // opaque: stats
            endWrite(sequence);
        }
        if (!mutex.isConsistent()) {
            mutex.markConsistent();
        }
    }

    /**
     * Takes the mutex only if it is free and the segment needs no repair: for a thread that holds another segment's
     * lock, which must not wait for a second one (two such threads would deadlock).
     *
     * @return true if the current thread now holds it
     */
    boolean tryLock() {
        if (memory.isReadOnly() || !mutex.tryAcquire()) {
            return false;
        }
        boolean sound;
        try {
            sound = (sequence() & 1) == 0 && mutex.isConsistent();
        } catch (RuntimeException | Error e) { // this view closed under the holder: see lock()
            mutex.releaseAfter(e, false, description);
            throw e;
        }
        if (sound) {
            return true;
        }
        unlock(); // left by a dead writer: for its next lock() to repair
        return false;
    }

    /**
     * Releases the mutex. A {@link StackOverflowError} that cuts the release short (it runs in a {@code finally}, at
     * about the depth where a function or codec overflowed) leaves it held by no thread that will release it: noted
     * for this view's next lock to take over (see {@link RobustMutex#leaked}), which repairs the segment if the write
     * stopped midway (its sequence odd), as after a dead holder.
     */
    void unlock() {
        try {
            mutex.release(false, description);
        } catch (StackOverflowError e) {
            mutex.leaked = true; // a store, not a call: a call would overflow the stack again
            throw e;
        }
    }

    /** Under the lock: {@link #probe}, a failed check meaning corrupted memory. */
    long find(long hash, MemorySegment key, long keyOffset, int keyLength) {
        long found = probe(hash, key, keyOffset, keyLength);
        if (found == TORN) {
            throw corrupted("an entry's offset or lengths lie outside the segment");
        }
        return found;
    }

    /**
     * Under the lock: writes the entry whose key and value {@code scratch} holds after its header space, and points
     * the key's slot at it; frees the chunk of the value it replaces.
     *
     * @param found what {@link #find} returned for the key
     * @return false if the segment has no room (its slots or its arena); nothing changed then
     */
    boolean tryStore(long found, long hash, Scratch scratch, int keyLength, int valueLength) {
        long size = (long) ENTRY_HEADER + keyLength + valueLength;
        int sizeClass = map.checkEntrySize(size, keyLength, valueLength);
        if (found < 0) {
            int count = count();
            if (count + 1 > map.maxLoad()) {
                return false;
            }
            if (count + tombstones() + 1 > map.maxLoad() || found == NO_ROOM) {
                purgeTombstones();
                found = find(hash, scratch.entrySegment, ENTRY_HEADER, keyLength);
            }
        }
        if (!arena.canAllocate(sizeClass)) {
            return false;
        }
        long stamp = beginWrite();
        try {
            long chunk = arena.allocate(sizeClass);
            writeEntry(chunk, arena.sizeClassOf(chunk), keyLength, valueLength, hash, stamp, scratch);
            long word = hash & TAG_MASK | chunk;
            if (found < 0) {
                int slot = (int) (-found - 1);
                if (slotWord(slot) == TOMBSTONE) {
                    memory.set(JAVA_INT, S_TOMBSTONES, tombstones() - 1); // plain: under the sequence
                }
                LONG.setOpaque(memory, S_SLOTS + 8L * slot, word); // opaque: one atomic store publishes it
                INT.setOpaque(memory, S_COUNT, count() + 1); // opaque: size() reads it without the lock
            } else {
                long old = chunk((int) found);
                LONG.setOpaque(memory, S_SLOTS + 8L * found, word); // opaque: one atomic store swings the key
                arena.free(old);
            }
        } catch (RuntimeException | Error e) {
            endBrokenWrite(stamp, e); // whatever broke mid-change, leave the segment consistent
            throw e;
        }
        endWrite(stamp);
        return true;
    }

    /** Under the lock: removes the entry in slot {@code slot} (found by {@link #find}). */
    void delete(int slot) {
        long stamp = beginWrite();
        try {
            long chunk = chunk(slot);
            if (slotWord((slot + 1) & mask) == EMPTY) {
                LONG.setOpaque(memory, S_SLOTS + 8L * slot, EMPTY); // opaque: one atomic store; no probe passes
            } else {
                LONG.setOpaque(memory, S_SLOTS + 8L * slot, TOMBSTONE); // opaque: one atomic store
                memory.set(JAVA_INT, S_TOMBSTONES, tombstones() + 1); // plain: under the sequence
            }
            int left = count() - 1;
            INT.setOpaque(memory, S_COUNT, left); // opaque: size() reads it without the lock
            arena.free(chunk);
            if (left == 0) {
                empty(); // free chunks of one size class never merge: an empty segment starts its arena again
            }
        } catch (RuntimeException | Error e) {
            endBrokenWrite(stamp, e);
            throw e;
        }
        endWrite(stamp);
    }

    /** Under the lock: removes every entry. */
    void clear() {
        long stamp = beginWrite();
        try {
            empty();
        } catch (RuntimeException | Error e) {
            endBrokenWrite(stamp, e);
            throw e;
        }
        endWrite(stamp);
    }

    /**
     * Under the lock and the odd sequence: empties the slots and the arena. A writer killed in the middle leaves no
     * live entry unreachable: the slots are emptied before the count and the arena, and a repair rebuilds the free
     * lists from the chunks below {@code arenaTop}.
     */
    void empty() {
        memory.asSlice(S_SLOTS, arenaStart - S_SLOTS).fill((byte) 0);
        memory.set(JAVA_INT, S_TOMBSTONES, 0); // plain: under the sequence
        INT.setOpaque(memory, S_COUNT, 0); // opaque: size() reads it without the lock
        arena.reset();
    }

    /** @return the chunk the occupied slot {@code slot} points at */
    long chunk(int slot) {
        return slotWord(slot) & OFFSET_MASK;
    }

    /** @return the word of slot {@code slot} (plain: under the lock or the sequence) */
    long slotWord(int slot) {
        return memory.get(JAVA_LONG, S_SLOTS + 8L * slot);
    }

    /** @return the value bytes' offset in the segment of the entry in {@code chunk} */
    long valueOffset(long chunk) {
        // plain: under the lock, or validated by the sequence
        return chunk + ENTRY_HEADER + memory.get(JAVA_INT, chunk + E_KEY_LENGTH);
    }

    /** @return the value length of the entry in {@code chunk} */
    int valueLength(long chunk) {
        // plain: under the lock, or validated by the sequence
        return memory.get(JAVA_INT, chunk + E_VALUE_LENGTH);
    }

    /** @return live entries (opaque: may lag a concurrent writer) */
    int count() {
        return (int) INT.getOpaque(memory, S_COUNT);
    }

    /**
     * @return live entries, read between two equal even sequences, so that a split of this segment is counted
     *         wholly before or wholly after it drops the keys it moved; if a writer stays in its write section for
     *         {@link #OPTIMISTIC_TRIES} reads (descheduled, or dead), under the lock, as reads fall back to it (which
     *         waits for a live writer and repairs a dead one's segment). Never called under a lock whose segment's
     *         sequence is odd: writers' own code paths count with {@link #count()}
     */
    int stableCount() {
        for (int i = 0; i < OPTIMISTIC_TRIES; i++) {
            long stamp = sequenceAcquire();
            if ((stamp & 1) == 0) {
                int count = count();
                if (validate(stamp)) {
                    return count;
                }
            }
            Thread.onSpinWait();
        }
        if (memory.isReadOnly()) {
            return readWithoutLock(() -> {
                long stamp = sequenceAcquire();
                int count = count();
                return (stamp & 1) == 0 && validate(stamp) ? count : null;
            });
        }
        lock();
        try {
            return count();
        } finally {
            unlock();
        }
    }

    /** @return slots marked deleted (opaque: stats may read it without the lock) */
    int tombstones() {
        return (int) INT.getOpaque(memory, S_TOMBSTONES);
    }

    /** @return times this segment was rebuilt after a writer died (opaque: stats) */
    long repairs() {
        return (long) LONG.getOpaque(memory, S_REPAIRS);
    }

    /** @return times this segment was compacted (opaque: stats) */
    long compactions() {
        return (long) LONG.getOpaque(memory, S_COMPACTIONS);
    }

    /** Under the lock: counts a compaction (opaque: stats read it without the lock). */
    void countCompaction() {
        LONG.setOpaque(memory, S_COMPACTIONS, compactions() + 1);
    }

    /** @return times this segment's mutex was taken over from a dead owner */
    long takeOvers() {
        return mutex.recoveries();
    }

    /** @return the low hash bits all keys of this segment share (opaque: iterators read it without the lock) */
    int localDepth() {
        return (int) INT.getOpaque(memory, S_LOCAL_DEPTH);
    }

    /**
     * @return true if the low {@code localDepth} bits of {@code hash} equal the segment's pattern: the segment holds
     *         the key if the map does (plain loads: under the lock, or validated by the sequence)
     */
    boolean covers(long hash) {
        int depth = memory.get(JAVA_INT, S_LOCAL_DEPTH);
        return depth >= 0 && depth < Integer.SIZE
                && ((int) hash & ((1 << depth) - 1)) == memory.get(JAVA_INT, S_PATTERN);
    }

    /** @return the value of those bits */
    int pattern() {
        return (int) INT.getOpaque(memory, S_PATTERN);
    }

    /** Under the sequence: sets the local depth and pattern (opaque: iterators read them without the lock). */
    void setDepth(int depth, int pattern) {
        INT.setOpaque(memory, S_LOCAL_DEPTH, depth);
        INT.setOpaque(memory, S_PATTERN, pattern);
    }

    /** @return the split word: state in bits 7..0, the depth being split at in bits 15..8 */
    int splitWord() {
        return memory.get(JAVA_INT, S_SPLIT_STATE); // plain: under the lock
    }

    /** @return the number of the segment this one splits or last split into, or -1 */
    int splitTarget() {
        return memory.get(JAVA_INT, S_SPLIT_TARGET) - 1; // plain: under the lock
    }

    /** @return the split word, for stats (opaque: read without the lock; a writer may be changing it) */
    int splitWordOpaque() {
        return (int) INT.getOpaque(memory, S_SPLIT_STATE);
    }

    /** @return the split target, for stats, or -1 (opaque: read without the lock, as {@link #splitWordOpaque}) */
    int splitTargetOpaque() {
        return (int) INT.getOpaque(memory, S_SPLIT_TARGET) - 1;
    }

    /** Under the sequence: records the split in progress. */
    void setSplit(int word, int target) {
        memory.set(JAVA_INT, S_SPLIT_TARGET, target + 1); // plain: under the sequence
        memory.set(JAVA_INT, S_SPLIT_STATE, word);
    }

    /**
     * Under the lock, with no split or compaction in progress: keeps segment number {@code number} (just handed out
     * to it, or taken over from another segment; -1: none) for its next split or compaction (plain: only a lock
     * holder reads it).
     */
    void keepSpare(int number) {
        memory.set(JAVA_INT, S_SPLIT_TARGET, number + 1);
    }

    /** @return the sequence (opaque: the caller holds the lock, or only compares it) */
    long sequence() {
        return (long) LONG.getOpaque(memory, S_SEQUENCE);
    }

    /** Under the lock, before a change: raises the sequence to at least {@code floor} (even), keeping stamps rising. */
    void raiseSequence(long floor) {
        LONG.setOpaque(memory, S_SEQUENCE, Math.max(sequence(), floor + (floor & 1))); // opaque: under the lock
    }

    /** Under the sequence: sets the count of live entries (opaque: size() reads it without the lock). */
    void setCount(int count) {
        INT.setOpaque(memory, S_COUNT, count);
    }

    /** @return live chunk bytes (opaque: stats) */
    int usedBytes() {
        return (int) INT.getOpaque(memory, S_USED_BYTES);
    }

    /** @return the sequence, for a reader's snapshot (acquire: pairs with {@link #endWrite}) */
    long sequenceAcquire() {
        return (long) LONG.getAcquire(memory, S_SEQUENCE);
    }

    /** @return true if the sequence is still {@code stamp} after the reader's loads (acquire fence first) */
    boolean validate(long stamp) {
        VarHandle.acquireFence(); // the reader's loads complete before the validating load below
        return (long) LONG.getOpaque(memory, S_SEQUENCE) == stamp;
    }

    /**
     * @return the key length of the entry in {@code chunk}, or -1 if the chunk or its key and value do not lie
     *         inside the segment
     */
    int checkedKeyLength(long chunk) {
        if (chunk < arenaStart || chunk > end - ENTRY_HEADER || (chunk & 7) != 0) {
            return -1;
        }
        // plain: under the lock, or validated by the sequence (so checked before use: they may be torn)
        int keyLength = memory.get(JAVA_INT, chunk + E_KEY_LENGTH);
        int valueLength = memory.get(JAVA_INT, chunk + E_VALUE_LENGTH);
        if (keyLength < 0 || valueLength < 0 || (long) keyLength + valueLength > end - chunk - ENTRY_HEADER) {
            return -1;
        }
        return keyLength;
    }

    /**
     * Under the lock: the chunk an occupied slot word points at.
     *
     * @throws ShmFormatException if it names no entry inside the segment (damaged while open: changes run under the
     *                            lock, so nothing is torn)
     */
    long checkedEntry(long word) {
        long chunk = word & OFFSET_MASK;
        if (checkedKeyLength(chunk) < 0) {
            throw corrupted("slot word 0x" + Long.toHexString(word) + " names no entry inside the segment");
        }
        return chunk;
    }

    /** @return a {@link ShmFormatException} naming this segment and what is wrong */
    ShmFormatException corrupted(String what) {
        return new ShmFormatException(description + " is corrupted: " + what);
    }

    private int copyValue(long chunk, MemorySegment target, long targetOffset, long capacity) {
        int length = valueLength(chunk);
        if (length <= capacity) {
            MemorySegment.copy(memory, valueOffset(chunk), target, targetOffset, length);
        }
        return length;
    }

    private void writeEntry(long chunk, int sizeClass, int keyLength, int valueLength, long hash, long stamp,
                            Scratch scratch) {
        int size = ENTRY_HEADER + keyLength + valueLength;
        MemorySegment image = scratch.entrySegment;
        image.set(JAVA_INT_UNALIGNED, E_STATE, STATE_MARK | sizeClass);
        image.set(JAVA_INT_UNALIGNED, E_KEY_LENGTH, keyLength);
        image.set(JAVA_INT_UNALIGNED, E_VALUE_LENGTH, valueLength);
        image.set(JAVA_LONG_UNALIGNED, E_HASH, hash);
        image.set(JAVA_LONG_UNALIGNED, E_STAMP, stamp);
        scratch.crc.reset();
        scratch.crc.update(scratch.entry, CHECKED_FROM, size - CHECKED_FROM);
        image.set(JAVA_INT_UNALIGNED, E_CHECKSUM, (int) scratch.crc.getValue());
        MemorySegment.copy(image, 0, memory, chunk, size);
        // release: the entry's bytes before its live bit, so a repair never takes an old image for a new entry
        INT.setRelease(memory, chunk + E_STATE, STATE_MARK | STATE_LIVE | sizeClass);
        arena.addUsed(MapLayout.chunkSize(sizeClass));
    }

    private void purgeTombstones() {
        long stamp = beginWrite();
        try {
            arena.retain(word -> true);
        } catch (RuntimeException | Error e) {
            endBrokenWrite(stamp, e);
            throw e;
        }
        endWrite(stamp);
    }

    /** Starts a change: the sequence turns odd. @return the odd sequence, for {@link #endWrite} */
    long beginWrite() {
        long odd = (long) LONG.getOpaque(memory, S_SEQUENCE) + 1; // opaque: only the lock holder writes it
        LONG.setOpaque(memory, S_SEQUENCE, odd);
        VarHandle.releaseFence(); // the odd sequence is visible before any data store below
        return odd;
    }

    /**
     * Ends a change that threw {@code failure} part-way: rebuilds the segment from its entries (as a take-over's
     * repair does) and turns the sequence even. If the rebuild throws too (added to {@code failure} as suppressed),
     * the sequence stays odd: readers never take the half-done change for a stable one, and the next {@link #lock()}
     * repairs it or says why it cannot.
     */
    private void endBrokenWrite(long odd, Throwable failure) {
        try {
            arena.rebuild();
        } catch (RuntimeException | Error again) {
            failure.addSuppressed(again);
            return;
        }
        endWrite(odd);
    }

    /** Ends the change {@link #beginWrite} started: the sequence turns even. */
    void endWrite(long odd) {
        LONG.setRelease(memory, S_SEQUENCE, odd + 1); // release: every data store before the even sequence
    }
}
