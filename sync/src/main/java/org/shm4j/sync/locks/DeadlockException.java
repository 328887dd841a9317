package org.shm4j.sync.locks;

import org.shm4j.core.ShmException;

import java.io.Serial;
import java.util.List;

/**
 * Thrown to one waiter of a cycle of lock waits across threads and processes (a deadlock), to break it: the waiter
 * did not acquire the lock, and the locks it already holds are still held. Release them (as {@code finally} blocks
 * around each {@code lock()} do while the exception unwinds), so that the other members of the cycle proceed. The
 * message and {@link #cycle()} name every member: process, thread and the lock it waited for.
 */
public class DeadlockException extends ShmException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** The cycle, starting with this thread's own wait. */
    private final List<WaitForGraph.Edge> cycle;

    /**
     * @param lock  the lock this thread waited for, for the message
     * @param cycle the cycle, starting with this thread's own wait
     */
    public DeadlockException(String lock, List<WaitForGraph.Edge> cycle) {
        super(lock + " not acquired: deadlock of " + cycle.size() + " waiters, broken here (the member with the "
                + "highest pid, then thread id, gives up): " + WaitForGraph.describe(cycle));
        this.cycle = List.copyOf(cycle);
    }

    /** @return the cycle, starting with this thread's own wait; each edge's holder is the next edge's waiter */
    public List<WaitForGraph.Edge> cycle() {
        return cycle;
    }
}
