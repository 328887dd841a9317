package org.shm4j.sync.list;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.ReopenSweep;
import org.shm4j.sync.internal.RobustMutex;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.list.ListLayout.LIST;
import static org.shm4j.sync.list.ListLayout.LIST_CODEC_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_INDEX_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_OP_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_PROGRESS_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_JOURNAL_SIZE_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_MAGIC;
import static org.shm4j.sync.list.ListLayout.LIST_MAGIC_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_MAX_ELEMENT_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_MUTEX_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SCRATCH_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SEQ_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SIZE_OFFSET;
import static org.shm4j.sync.list.ListLayout.LIST_SLOT_BYTES_OFFSET;
import static org.shm4j.sync.list.ListLayout.MAX_CHUNKS;
import static org.shm4j.sync.list.ListLayout.MAX_ELEMENT_BYTES;
import static org.shm4j.sync.list.ListLayout.OP_INSERT;
import static org.shm4j.sync.list.ListLayout.slotBytes;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_SIZE;

/**
 * Making, finding and checking the header block of a {@link SharedList}, and taking its writers' mutex (finishing a
 * dead writer's change on the way).
 */
final class ListHeaders {
    /** The longest list name: a heap name is at most 92 UTF-8 bytes, and the chunk names add {@code ".chunk23"}. */
    private static final int MAX_NAME_BYTES = 92 - ".chunk".length() - 2;

    static {
        // before any list exists in this process: its open of a heap again renames the mutex hold its close left
        ReopenSweep.addMutexes(LIST, ListHeaders::mutexSites);
    }

    private ListHeaders() {
    }

    static ListStore create(SharedHeap heap, String name, int typeId, int maxElementBytes) {
        checkArguments(name, maxElementBytes);
        MemorySegment header = Blocks.create(heap, name, LIST, LIST_SCRATCH_OFFSET + slotBytes(maxElementBytes),
                s -> format(s, typeId, maxElementBytes));
        return new ListStore(heap, name, header, maxElementBytes, slotBytes(maxElementBytes));
    }

    static ListStore open(SharedHeap heap, String name) {
        return check(heap, name, Blocks.open(heap, name, LIST));
    }

    static ListStore openOrCreate(SharedHeap heap, String name, int typeId, int maxElementBytes) {
        checkArguments(name, maxElementBytes);
        return check(heap, name, Blocks.openOrCreate(heap, name, LIST,
                LIST_SCRATCH_OFFSET + slotBytes(maxElementBytes), s -> format(s, typeId, maxElementBytes)));
    }

    /** Takes the writers' mutex; after a take-over from a dead writer, finishes its change first. */
    static void lock(ListStore store) {
        try {
            store.mutex.acquire(-1, false);
        } catch (InterruptedException e) {
            throw new AssertionError("an uninterruptible acquire was interrupted", e);
        }
        try {
            if (!store.mutex.isConsistent()) {
                store.recover();
                store.mutex.markConsistent();
            }
        } catch (RuntimeException | Error e) { // a view closed under the holder: see RobustMutex.releaseAfter
            try {
                store.mutex.releaseAfter(e, false, store.what());
            } catch (StackOverflowError again) { // a recovery cut short by one overflows here too: see SharedList
                store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
            }
            throw e;
        }
    }

    private static void checkArguments(String name, int maxElementBytes) {
        if (Objects.requireNonNull(name, "name").getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("SharedList name=" + name + " (expected: at most " + MAX_NAME_BYTES
                    + " UTF-8 bytes, so that its chunk blocks' names fit the heap's catalog)");
        }
        if (maxElementBytes < 0 || maxElementBytes > MAX_ELEMENT_BYTES) {
            throw new IllegalArgumentException("SharedList '" + name + "': maxElementBytes=" + maxElementBytes
                    + " (expected: 0.." + MAX_ELEMENT_BYTES + ")");
        }
    }

    private static void format(MemorySegment header, int typeId, int maxElementBytes) {
        header.set(JAVA_INT, LIST_CODEC_OFFSET, typeId); // plain: the heap publishes the block after this
        header.set(JAVA_INT, LIST_MAX_ELEMENT_OFFSET, maxElementBytes);
        header.set(JAVA_INT, LIST_SLOT_BYTES_OFFSET, slotBytes(maxElementBytes));
        header.set(JAVA_LONG, LIST_MAGIC_OFFSET, LIST_MAGIC);
    }

    /** @throws ShmFormatException if a header field holds a value no list has (checked before any is used) */
    private static ListStore check(SharedHeap heap, String name, MemorySegment header) {
        int max = checkHeader(header, "SharedList '" + name + "'");
        ListStore store = new ListStore(heap, name, header, max, slotBytes(max));
        int size = store.size();
        if (size > 0) { // a chunk exists before a size covers it: the last element's chunk opens, as a read would
            store.slotSegment(size - 1);
        }
        return store;
    }

    /**
     * The writers' mutex of the list header block {@code header} named {@code name}, for the sweep of a heap this
     * process opens again ({@link ReopenSweep}): a hold of it that names this process then was left by its close (a
     * write, or a reader fallen back to the mutex, that the close cut short), and the sweep renames it as a gone
     * holder's by {@code RobustMutex.abandon}'s CAS from this process's own word (a hold of another process is left
     * alone). The next writer or locking reader, in any process and on any thread of this one (the one cut short
     * too), takes it over as after a dead writer: {@link SharedList#recoveries()} counts one, and the change the
     * journal records is finished (a committed one) or dropped (one not committed: the list is as before the cut-short
     * call). The header is checked first, as an open checks it.
     *
     * @return the mutex, a slice of the header that begins with it
     * @throws ShmFormatException if the header is not a list's (damaged): nothing is renamed
     */
    static List<MemorySegment> mutexSites(MemorySegment header, String name, ReopenSweep.OtherBlocks heap) {
        checkHeader(header, "SharedList '" + name + "'");
        return List.of(header.asSlice(LIST_MUTEX_OFFSET, MUTEX_SIZE));
    }

    /**
     * @return the header's maxElementBytes, once every header field holds a value a list has (each checked before any
     *         is used to size or index anything)
     * @throws ShmFormatException if one does not
     */
    private static int checkHeader(MemorySegment header, String what) {
        if (header.byteSize() < LIST_SCRATCH_OFFSET) { // before any field is read: the fixed part must be there
            throw Blocks.corrupt(what, "block size", header.byteSize(), ">= " + LIST_SCRATCH_OFFSET
                    + ", its fixed header");
        }
        long magic = header.get(JAVA_LONG, LIST_MAGIC_OFFSET); // plain: the heap published the block
        if (magic != LIST_MAGIC) {
            throw Blocks.corrupt(what, "magic", "0x" + Long.toHexString(magic), "0x" + Long.toHexString(LIST_MAGIC)
                    + ", \"SHM4JLST\"");
        }
        int max = header.get(JAVA_INT, LIST_MAX_ELEMENT_OFFSET);
        if (max < 0 || max > MAX_ELEMENT_BYTES) {
            throw Blocks.corrupt(what, "maxElementBytes", max, "0.." + MAX_ELEMENT_BYTES);
        }
        int slot = header.get(JAVA_INT, LIST_SLOT_BYTES_OFFSET);
        if (slot != slotBytes(max)) {
            throw Blocks.corrupt(what, "slotBytes", slot, slotBytes(max) + " for maxElementBytes=" + max);
        }
        if (header.byteSize() != LIST_SCRATCH_OFFSET + slot) {
            throw Blocks.corrupt(what, "block size", header.byteSize(), String.valueOf(LIST_SCRATCH_OFFSET + slot));
        }
        Blocks.requireZero(header, LIST_SLOT_BYTES_OFFSET + Integer.BYTES, LIST_MUTEX_OFFSET, what);
        RobustMutex.check(header, LIST_MUTEX_OFFSET, what + "'s mutex");
        Blocks.requireZero(header, LIST_MUTEX_OFFSET + MUTEX_SIZE, LIST_SEQ_OFFSET, what);
        Blocks.requireZero(header, LIST_JOURNAL_OP_OFFSET + Integer.BYTES, LIST_JOURNAL_INDEX_OFFSET, what);
        Blocks.requireZero(header, LIST_JOURNAL_SIZE_OFFSET + Long.BYTES, LIST_SCRATCH_OFFSET, what);
        RobustMutex.checkNotNegative(header, LIST_SEQ_OFFSET, "seq", what);
        long most = ListStore.slotsIn(MAX_CHUNKS);
        checkRange(header, LIST_SIZE_OFFSET, "size", most, what);
        int op = header.get(JAVA_INT, LIST_JOURNAL_OP_OFFSET); // plain: a check; the mutex orders the real reads
        if (op < 0 || op > OP_INSERT) {
            throw Blocks.corrupt(what, "journal op", op, "0..3");
        }
        checkRange(header, LIST_JOURNAL_INDEX_OFFSET, "journal index", most, what);
        checkRange(header, LIST_JOURNAL_PROGRESS_OFFSET, "journal progress", most, what);
        checkRange(header, LIST_JOURNAL_SIZE_OFFSET, "journal size", most - 1, what);
        return max;
    }

    private static void checkRange(MemorySegment header, long offset, String field, long most, String what) {
        long value = header.get(JAVA_LONG, offset); // plain: a check; the mutex orders the real reads
        if (value < 0 || value > most) {
            throw Blocks.corrupt(what, field, value, "0.." + most);
        }
    }
}
