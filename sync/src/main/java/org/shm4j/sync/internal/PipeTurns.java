package org.shm4j.sync.internal;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapLayout;

import java.lang.foreign.MemorySegment;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The turns of the threads of this process at a pipe's two ends: one lock for sending and one for receiving per end,
 * the same for every pipe object of this process that views that pipe (through any view of its heap), since each end
 * has one producer and one consumer ring beneath it. A pipe is known by its heap's random id and the offset of its
 * end-state block. The turns are held weakly here and strongly by each pipe object that uses them
 * ({@code PipeEnds}), so they go once no pipe object of theirs is reachable: then no thread can hold or wait for one
 * of their locks, and the next pipe object of that pipe gets new ones. Their entries are dropped as new pipes are
 * looked up, so a process that makes and drops pipes for days keeps only the turns of the pipes it still uses.
 */
public final class PipeTurns {
    /** The turns of each pipe some pipe object of this process uses, by {@link #key}. */
    private static final ConcurrentHashMap<String, Entry> BY_PIPE = new ConcurrentHashMap<>();
    /** The entries of {@link #BY_PIPE} whose turns are gone. */
    private static final ReferenceQueue<PipeTurns> GONE = new ReferenceQueue<>();

    private final ReentrantLock[] sending = {new Turn(), new Turn()};
    private final ReentrantLock[] receiving = {new Turn(), new Turn()};

    private PipeTurns() {
    }

    /**
     * A lock of these turns, which keeps them reachable: a thread that holds or waits for it has it, so the turns
     * stay while any thread of this process is at the pipe, even if the pipe object it came from is unreachable.
     */
    private final class Turn extends ReentrantLock {
        @java.io.Serial
        private static final long serialVersionUID = 1L;
    }

    /** A pipe's turns, held weakly, and its key in {@link #BY_PIPE}. */
    private static final class Entry extends WeakReference<PipeTurns> {
        final String key;

        Entry(String key, PipeTurns turns) {
            super(turns, GONE);
            this.key = key;
        }
    }

    /**
     * @return the turns of the pipe whose end-state block is {@code block} in {@code heap}; the caller keeps them
     *         (see the class comment)
     */
    public static PipeTurns of(SharedHeap heap, MemorySegment block) {
        dropGone();
        MemorySegment memory = heap.memory().segment();
        // plain: the heap id is written once, before the heap was published
        long heapId = memory.get(JAVA_LONG, HeapLayout.HEAP_ID_OFFSET);
        String key = heapId + "/" + (block.address() - memory.address());
        PipeTurns[] found = new PipeTurns[1];
        BY_PIPE.compute(key, (k, entry) -> {
            found[0] = entry == null ? null : entry.get();
            if (found[0] != null) {
                return entry;
            }
            found[0] = new PipeTurns();
            return new Entry(k, found[0]);
        });
        return found[0];
    }

    /** @return the number of pipes whose turns this process keeps, once the entries of turns gone are dropped */
    static int pipesKept() {
        dropGone();
        return BY_PIPE.size();
    }

    private static void dropGone() {
        for (Entry gone; (gone = (Entry) GONE.poll()) != null; ) {
            BY_PIPE.remove(gone.key, gone); // only that entry: a newer one of the same pipe stays
        }
    }

    /** @return the lock that the sending threads of end {@code end} ({@link PipeEnds#FIRST} or second) take turns at */
    public ReentrantLock sending(int end) {
        return sending[end];
    }

    /** @return the lock that the receiving threads of end {@code end} take turns at */
    public ReentrantLock receiving(int end) {
        return receiving[end];
    }
}
