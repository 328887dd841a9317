package org.shm4j.sync.internal;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapLayout;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The turns of the threads of this process at a pipe's two ends: one lock for sending and one for receiving per end,
 * the same for every pipe object of this process that views that pipe (through any view of its heap), since each end
 * has one producer and one consumer ring beneath it. A pipe is known by its heap's random id and the offset of its
 * end-state block; the turns of a pipe stay for the life of the process (a few hundred bytes per pipe used).
 */
public final class PipeTurns {
    private static final ConcurrentHashMap<String, PipeTurns> BY_PIPE = new ConcurrentHashMap<>();

    private final ReentrantLock[] sending = {new ReentrantLock(), new ReentrantLock()};
    private final ReentrantLock[] receiving = {new ReentrantLock(), new ReentrantLock()};

    private PipeTurns() {
    }

    /** @return the turns of the pipe whose end-state block is {@code block} in {@code heap} */
    public static PipeTurns of(SharedHeap heap, MemorySegment block) {
        MemorySegment memory = heap.memory().segment();
        // plain: the heap id is written once, before the heap was published
        long heapId = memory.get(JAVA_LONG, HeapLayout.HEAP_ID_OFFSET);
        return BY_PIPE.computeIfAbsent(heapId + "/" + (block.address() - memory.address()), key -> new PipeTurns());
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
