package org.shm4j.sync.list;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.Settling;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.list.ListLayout.FIRST_CHUNK;
import static org.shm4j.sync.list.ListLayout.LIST_CHUNK;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_INDEX_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_OP_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_PROGRESS_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_SIZE_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_MUTEX_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SCRATCH_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SEQ_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SIZE_OFFSET;
import static org.shm4j.sync.list.ListLayout.MAX_CHUNKS;
import static org.shm4j.sync.list.ListLayout.OP_INSERT;
import static org.shm4j.sync.list.ListLayout.OP_NONE;
import static org.shm4j.sync.list.ListLayout.OP_REMOVE;
import static org.shm4j.sync.list.ListLayout.OP_SET;

/**
 * The slots of a {@link SharedList} and the writers' protocol over them: chunk lookup and growth, the seqlock, the
 * redo journal and its recovery after a writer died. Every method that changes memory is called with the writers'
 * mutex held, except the reads, which validate against the seqlock.
 */
final class ListStore {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle INT = JAVA_INT.varHandle();
    /** How long a reader through a heap opened read-only retries a read writers interfere with (as a map's). */
    static final long READ_ONLY_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);

    final MemorySegment header;
    final RobustMutex mutex;
    final int slotBytes;
    final int maxElementBytes;
    private final SharedHeap heap;
    private final String name;
    private final String what;
    /** Chunks mapped so far; a racy cache: a missing entry is looked up again, a segment is safely published. */
    private final MemorySegment[] chunks = new MemorySegment[MAX_CHUNKS];

    ListStore(SharedHeap heap, String name, MemorySegment header, int maxElementBytes, int slotBytes) {
        this.heap = heap;
        this.name = name;
        this.what = "SharedList '" + name + "'";
        ElementBuffer.initialize(); // here, shallow: a read must not be the first to initialize it
        this.header = header;
        this.mutex = new RobustMutex(header, LIST_MUTEX_OFFSET, what + " mutex");
        this.maxElementBytes = maxElementBytes;
        this.slotBytes = slotBytes;
    }

    /** @return the heap name of chunk {@code k} */
    static String chunkName(String list, int k) {
        return list + ".chunk" + k;
    }

    /** @return the slots of all chunks up to {@code chunks}: {@code FIRST_CHUNK * (2^chunks - 1)} */
    static long slotsIn(int chunks) {
        return (long) FIRST_CHUNK * ((1L << chunks) - 1);
    }

    String what() {
        return what;
    }

    /**
     * @return what a public method of the list throws for {@code e}, caught around its body only (the hot path pays
     *         nothing); see {@link Blocks#closedOr}
     */
    RuntimeException closed(RuntimeException e) {
        return Blocks.closedOr(e, header.scope(), Blocks.closedMessage("SharedList", name, heap));
    }

    // ---- reads (seqlock) ----

    /** @return the seqlock counter, acquire: the reads after it see what the writer before it published */
    long beginRead() {
        return (long) LONG.getAcquire(header, LIST_SEQ_OFFSET);
    }

    /** @return true if no writer changed anything since {@code seq} (even) was read by {@link #beginRead} */
    boolean validate(long seq) {
        VarHandle.loadLoadFence(); // the plain slot reads before must not move after the check below
        return (long) LONG.getOpaque(header, LIST_SEQ_OFFSET) == seq; // opaque: ordered by the fence above
    }

    /**
     * @return the size; acquire: a reader that sees a size then finds the chunks below it in the heap's catalog (a
     *         writer makes a chunk before its release store of the size covers it); validated by the seqlock, or
     *         read under the mutex
     * @throws org.shm4j.core.ShmFormatException if it lies outside 0..the most slots the chunks hold (the word was
     *                                           damaged while the list is open; open checks it too)
     */
    int size() {
        long size = (long) LONG.getAcquire(header, LIST_SIZE_OFFSET);
        if (size < 0 || size > slotsIn(MAX_CHUNKS)) {
            throw Blocks.corrupt(what, "size", size, "0.." + slotsIn(MAX_CHUNKS));
        }
        return (int) size;
    }

    /**
     * @return a copy of the element bytes in slot {@code index} ({@code index} below a size read in the same seqlock
     *         section, so its chunk exists), or null if the length read is out of range (a torn read, or damage)
     */
    byte[] copy(int index) {
        int length = lengthAt(index);
        return length < 0 ? null : chunkOf(index, false).asSlice(offsetIn(index) + Integer.BYTES, length)
                .toArray(JAVA_BYTE); // plain: validated by the seqlock, or read under the mutex
    }

    /**
     * Copies the element bytes in slot {@code index} (as {@link #copy(int)} reads them) into {@code buffer}.
     *
     * @return their length, or -1 if the length read is out of range (a torn read, or damage)
     */
    int copyInto(int index, ElementBuffer buffer) {
        int length = lengthAt(index);
        if (length >= 0) { // plain: as in copy
            MemorySegment.copy(chunkOf(index, false), offsetIn(index) + Integer.BYTES, buffer.reserve(length), 0,
                    length);
        }
        return length;
    }

    /**
     * @return the first slot below {@code size} (read in the same seqlock section) whose length word is out of range,
     *         or -1; plain reads, validated by the caller's seqlock section
     */
    int firstDamaged(int size) {
        for (int i = 0; i < size; i++) {
            if (lengthAt(i) < 0) {
                return i;
            }
        }
        return -1;
    }

    /** @return the length word of slot {@code index}, or -1 if it is out of range (a torn read, or damage) */
    private int lengthAt(int index) {
        int length = chunkOf(index, false).get(JAVA_INT, offsetIn(index)); // plain: as in copy
        return length < 0 || length > maxElementBytes ? -1 : length;
    }

    /**
     * For a reader whose optimistic tries all failed: one that can write takes the mutex instead (null); one through
     * a heap opened read-only cannot, so it waits a {@link Settling} step and reads again, for up to
     * {@link #READ_ONLY_WAIT_NANOS} (up to twice that if a change that began meanwhile is still under way then).
     *
     * @param settling null on the first retry, then what the last call returned
     * @return null if the caller is to take the mutex, else the retries' state for the next call
     * @throws IllegalStateException naming the list once that time is over: a writer died in the middle of a change
     *                               (the next access through a heap opened read-write finishes it) or is that slow
     *                               (seq odd, and unchanged for that whole time), or writers kept changing the list
     */
    Settling settleReadOnly(Settling settling) {
        if (!header.isReadOnly()) {
            return null;
        }
        long seq = beginRead();
        if (Settling.waited(settling, READ_ONLY_WAIT_NANOS, seq)) {
            // a damaged length or size throws at once (throwIfDamaged), so damage is never why the retries end
            throw Settling.readOnlyGaveUp(what, settling, seq, READ_ONLY_WAIT_NANOS, false);
        }
        return Settling.pause(settling, seq);
    }

    /** @return the exception for a length word out of range, read under the mutex */
    ShmFormatException damagedSlot(int index) {
        return Blocks.corrupt(what, "length of element " + index, chunkOf(index, false).get(JAVA_INT,
                offsetIn(index)), "0.." + maxElementBytes);
    }

    // ---- writes (mutex held) ----

    /** Makes slot {@code index} exist, allocating its chunk if needed. @throws ShmFullException with the figures */
    void ensureSlot(int index) {
        chunkOf(index, true);
    }

    /** @return the segment and offset of slot {@code index}'s bytes, for the codec to write into */
    MemorySegment slotSegment(int index) {
        return chunkOf(index, false);
    }

    /** @return the offset of slot {@code index} in {@link #slotSegment(int)} */
    long slotOffset(int index) {
        return offsetIn(index);
    }

    /** The scratch slot's length word is written here; its bytes follow. */
    long scratchOffset() {
        return LIST_SCRATCH_OFFSET;
    }

    /** Starts a change: the seqlock goes odd before any slot or the size is touched. */
    void beginWrite() {
        long seq = (long) LONG.getOpaque(header, LIST_SEQ_OFFSET); // opaque: only the mutex holder writes it
        LONG.setOpaque(header, LIST_SEQ_OFFSET, seq | 1); // |1: a recovered odd value stays odd once
        VarHandle.storeStoreFence(); // the odd value is visible before any slot store below
    }

    /** Ends a change: the seqlock goes even, with release, so a reader that sees it sees every store before. */
    void endWrite() {
        long seq = (long) LONG.getOpaque(header, LIST_SEQ_OFFSET); // opaque: only the mutex holder writes it
        LONG.setRelease(header, LIST_SEQ_OFFSET, (seq | 1) + 1);
    }

    /** Publishes the size; release: the slot stores before it are visible to a reader that sees it. */
    void setSize(long size) {
        LONG.setRelease(header, LIST_SIZE_OFFSET, size);
    }

    /** Writes the journal, then commits it (release: its fields and the scratch slot are in memory first). */
    private void journal(int op, long index, long progress, long size) {
        header.set(JAVA_LONG, LIST_JOURNAL_INDEX_OFFSET, index); // plain: published by the op's release below
        LONG.setRelease(header, LIST_JOURNAL_PROGRESS_OFFSET, progress);
        header.set(JAVA_LONG, LIST_JOURNAL_SIZE_OFFSET, size); // plain: published by the op's release below
        INT.setRelease(header, LIST_JOURNAL_OP_OFFSET, op); // the commit point of a set, insert or remove
    }

    /** Commits a set, insert or remove to the journal and runs it inside a seqlock section. */
    void apply(int op, long index, long progress, long size) {
        journal(op, index, progress, size);
        beginWrite();
        redo();
        endWrite();
    }

    /** Runs the journaled change to its end: the normal path and recovery after a writer died are the same. */
    void redo() {
        int op = (int) INT.getOpaque(header, LIST_JOURNAL_OP_OFFSET); // opaque: only the mutex holder writes it
        long index = header.get(JAVA_LONG, LIST_JOURNAL_INDEX_OFFSET); // plain: written before op by this holder
        long size = header.get(JAVA_LONG, LIST_JOURNAL_SIZE_OFFSET); // plain: as above
        long progress = (long) LONG.getOpaque(header, LIST_JOURNAL_PROGRESS_OFFSET); // opaque: as above
        switch (op) {
            case OP_SET -> copyScratchTo(index);
            case OP_REMOVE -> {
                for (long j = progress; j < size - 1; j++) {
                    copySlot(j + 1, j);
                    LONG.setRelease(header, LIST_JOURNAL_PROGRESS_OFFSET, j + 1); // after the copy: redo resumes here
                }
                setSize(size - 1);
            }
            case OP_INSERT -> {
                for (long j = progress; j > index; j--) {
                    copySlot(j - 1, j);
                    LONG.setRelease(header, LIST_JOURNAL_PROGRESS_OFFSET, j - 1); // after the copy: redo resumes here
                }
                copyScratchTo(index);
                setSize(size + 1);
            }
            default -> { }
        }
        INT.setRelease(header, LIST_JOURNAL_OP_OFFSET, OP_NONE); // release: the change is in memory before
    }

    /**
     * After a take-over from a dead writer: finishes its journaled change inside a seqlock section, so readers
     * running meanwhile retry rather than see slots mid-shift. The writer may have died before its
     * {@link #beginWrite} (with its journal committed, so the sequence is even) or after it (odd, kept odd).
     */
    void recover() {
        beginWrite();
        redo();
        endWrite();
    }

    private void copyScratchTo(long index) {
        int length = header.get(JAVA_INT, LIST_SCRATCH_OFFSET); // plain: written before the journal's release
        MemorySegment chunk = chunkOf((int) index, false);
        MemorySegment.copy(header, LIST_SCRATCH_OFFSET, chunk, offsetIn((int) index), Integer.BYTES + length);
    }

    private void copySlot(long from, long to) {
        MemorySegment source = chunkOf((int) from, false);
        int length = source.get(JAVA_INT, offsetIn((int) from)); // plain: mutex held
        MemorySegment.copy(source, offsetIn((int) from), chunkOf((int) to, false), offsetIn((int) to),
                Integer.BYTES + Math.clamp(length, 0, maxElementBytes));
    }

    // ---- chunks ----

    private static int chunkIndex(int index) {
        return 63 - Long.numberOfLeadingZeros((long) index / FIRST_CHUNK + 1);
    }

    private long offsetIn(int index) {
        return (index - slotsIn(chunkIndex(index))) * slotBytes;
    }

    private MemorySegment chunkOf(int index, boolean create) {
        int k = chunkIndex(index);
        MemorySegment chunk = chunks[k];
        if (chunk != null) {
            return chunk;
        }
        long bytes = ((long) FIRST_CHUNK << k) * slotBytes;
        String chunkName = chunkName(name, k);
        if (create) {
            try {
                chunk = Blocks.openOrCreate(heap, chunkName, LIST_CHUNK, bytes, s -> { });
            } catch (ShmFullException e) {
                // the heap's message says which of its limits the chunk met: its catalog, or its free bytes
                throw new ShmFullException(what + " is full: size=" + size() + ", capacity=" + slotsIn(k)
                        + " elements; its next chunk of " + (FIRST_CHUNK << k) + " elements needs " + bytes
                        + " bytes and a catalog entry, and " + e.getMessage(), e);
            } catch (ShmTypeMismatchException e) {
                ShmTypeMismatchException taken = new ShmTypeMismatchException(what + " cannot grow past "
                        + slotsIn(k) + " elements: the name of its next chunk, '" + chunkName
                        + "', is taken by another block (" + e.getMessage() + "); a list's chunks are named "
                        + "<list>.chunk<k>, so no other block may take such a name");
                taken.initCause(e);
                throw taken;
            }
        } else {
            try {
                chunk = Blocks.open(heap, chunkName, LIST_CHUNK);
            } catch (ShmNotFoundException e) { // a chunk is made before the size covers its slots, and never freed
                throw new ShmFormatException(what + " is corrupted: its size covers element " + index + ", but the "
                        + "heap holds no block '" + chunkName + "' for it (the size word was damaged past the "
                        + slotsIn(k) + " slots of the chunks the list made)", e);
            }
        }
        if (chunk.byteSize() != bytes) {
            throw Blocks.corrupt(what, "size of chunk " + k, chunk.byteSize(), String.valueOf(bytes));
        }
        chunks[k] = chunk;
        return chunk;
    }
}
