package org.shm4j.sync.internal;

import org.shm4j.core.internal.HeapMappings;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.LOCK_ENTERING;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_FLAGS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_RECOVERIES;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WORD;

/**
 * Gives up a structure's internal mutex (a map segment's, a list's, a ring's consumers' turn, an allocation or UNDO
 * mutex) that a thread of this process held through a view of a heap another of its threads closed, when this process
 * keeps another view of that heap open.
 *
 * <p>Without it the hold outlived the thread's operation: the closed view can no longer release it, and while this
 * process has the heap open no one takes it for gone (see {@code SharedHeap.close()}), so every later operation on
 * that segment or list, in every process, waited until this process closed its last view or exited. A library and an
 * application each opening the same heap, one closing it while its threads still worked on a shared map, left the map
 * blocked for the other. Now the holder's failed release releases the mutex through the other view, at the same
 * offset in the heap, marked inconsistent as a dead holder's take-over marks it: the operation was cut short, so the
 * next holder repairs what it may have left half done, as after the holder's death.
 *
 * <p>A user's lock ({@code SharedLock} and its kin) is not given up this way: its holder decides when its critical
 * section ends, and the heap's close documents that such a hold stays while the process keeps another view.
 */
final class ClosedViewRelease {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private ClosedViewRelease() {
    }

    /**
     * Releases the mutex at {@code mutex} (its 40 bytes, in a view that is now closed) through another open view of
     * the same heap, if the current thread holds it and this process has such a view.
     *
     * @param place       where the mutex's view lay when the mutex object was made, or null if not in a listed heap
     * @param mutex       the mutex's memory in the closed view
     * @param wakeAll     wake every waiter rather than one
     * @param what        the mutex, for messages
     * @return true if it was released
     */
    static boolean release(HeapMappings.Place place, MemorySegment mutex, boolean wakeAll, String what) {
        if (place == null || mutex.scope().isAlive()) {
            return false; // not in an attached heap, or not closed: the failure was another
        }
        MemorySegment view = HeapMappings.openViewOf(place.period());
        if (view == null) {
            return false; // no view left: this process left the attach table, so others take it over as a dead one's
        }
        long base = mutex.address() - place.base();
        try {
            if (!RobustMutex.isHeldByCurrentThread(view, base)) {
                return false;
            }
            // a holder that had not entered (a writer waiting for readers) changed nothing: no repair is due
            if (((long) LONG.getVolatile(view, base + MUTEX_WORD) & LOCK_ENTERING) == 0) {
                INT.getAndBitwiseOr(view, base + MUTEX_FLAGS, LOCK_OWNER_DIED);
                LONG.getAndAdd(view, base + MUTEX_RECOVERIES, 1L);
            }
            RobustMutex.release(view, base, wakeAll, what);
            return true;
        } catch (IllegalStateException alsoClosed) { // that view closed meanwhile: maybe the last one, as above
            return false;
        }
    }
}
