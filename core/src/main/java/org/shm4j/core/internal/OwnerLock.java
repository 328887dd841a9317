package org.shm4j.core.internal;

import org.shm4j.core.ShmException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A spin lock on a 64-bit word in shared memory that holds the {@linkplain ProcessIdentity owner token} of the process
 * holding it, or 0 when free. A waiter that finds the owner process dead (or detached from the heap, see {@link
 * HeapMappings}) takes the lock over with a CAS from the dead token. Meant for short, rare critical sections (heap
 * allocation), not for hot paths: waiting backs off to 1 ms parks.
 *
 * <p>The word names a process, not a thread. A thread of this process that took it and then lost its view of the heap
 * (another thread closed it, and no other view was open to release it through) leaves it holding this process's
 * token; others take it over once this process has left the heap, but a process that opens the heap again would be a
 * live holder of it for ever. So this process counts, per heap, its threads between their first look at the word and
 * their {@link #unlock()} ({@link #AT_THE_WORD}): the word holding this process's token while the caller is the only
 * one is such a leftover, which {@link #lock} takes and {@link #releaseLeftover()} (on every open) gives back.
 *
 * <p>Memory ordering: acquiring is a volatile CAS (acquire semantics for the protected data); releasing is a CAS back
 * to 0 (release semantics), so data written while holding the lock is visible to the next holder.
 */
public final class OwnerLock {
    // VarHandle mechanics
    private static final VarHandle WORD = JAVA_LONG.varHandle();

    private static final long LIVENESS_CHECK_NANOS = 1_000_000;
    /**
     * Per heap id, how many threads of this process are between their first look at the word and their unlock (or
     * their failure to lock): every thread that may hold the word through any view is counted. Changed and read only
     * by the map's atomic methods (merge, compute, computeIfPresent), so a check of the word made inside one of them
     * sees no thread of this process arrive at the word or leave it meanwhile.
     */
    private static final ConcurrentHashMap<Long, Integer> AT_THE_WORD = new ConcurrentHashMap<>();

    private final MemorySegment segment;
    private final long offset;
    private final long heapId;

    /**
     * @param segment memory holding the lock word
     * @param offset  offset of the 8-byte aligned lock word
     * @param heapId  the heap's id: the views of one heap in this process share their count of threads at the word
     */
    public OwnerLock(MemorySegment segment, long offset, long heapId) {
        this.segment = segment;
        this.offset = Checks.aligned("lock offset", offset, Long.BYTES);
        this.heapId = heapId;
    }

    /**
     * Gives back the word if it holds this process's token while no thread of this process is at it: the leftover of
     * a thread whose view was closed under it (see the class comment), which would make this process, attached again,
     * a live holder for every other process. Called when a view opens; does nothing if the view is closed.
     */
    public void releaseLeftover() {
        long me = ProcessIdentity.currentToken();
        try {
            // atomic for this heap id with every count's change: no thread of this process comes to the word meanwhile
            AT_THE_WORD.compute(heapId, (id, threads) -> {
                if (threads == null) { // none at the word: no hold of this process's is in progress
                    WORD.compareAndSet(segment, offset, me, 0L); // fails if free, or another process's
                }
                return threads;
            });
        } catch (IllegalStateException closedMeanwhile) {
            // nothing to give back through this view
        }
    }

    /**
     * Takes the word as this process's leftover if the caller, counted at the word, is the only thread of this
     * process there and the word still holds this process's token: checked atomically with every change of the count
     * (a read of the word, then of the count, let a holder release and leave in between: the caller then went on
     * holding a free word).
     *
     * @return true if the word is the caller's now
     */
    private boolean tookLeftover(long me) {
        boolean[] took = new boolean[1]; // allocates only on a liveness check, once per millisecond of waiting
        AT_THE_WORD.compute(heapId, (id, threads) -> {
            took[0] = threads == 1 && (long) WORD.getVolatile(segment, offset) == me;
            return threads;
        });
        return took[0];
    }

    /**
     * Takes the lock, taking it over from a dead owner if need be, or from this process's own leftover (see the class
     * comment). Every call that returns is to be followed by {@link #unlock()}, which ends its count.
     *
     * @param timeout how long to wait for a live owner
     * @param what    what the lock guards, for the exception message
     * @throws ShmException if a live owner holds it longer than {@code timeout}
     */
    public void lock(Duration timeout, String what) {
        long me = ProcessIdentity.currentToken();
        long start = System.nanoTime();
        long nextLivenessCheck = start + LIVENESS_CHECK_NANOS;
        int step = 0;
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        boolean locked = false;
        AT_THE_WORD.merge(heapId, 1, Integer::sum); // counted until unlock(), or until this call fails
        try {
            while (true) {
                long owner = (long) WORD.getVolatile(segment, offset);
                if (owner == 0) {
                    if (WORD.compareAndSet(segment, offset, 0L, me)) {
                        locked = true;
                        return;
                    }
                    continue;
                }
                long now = System.nanoTime();
                if (now - nextLivenessCheck >= 0) {
                    nextLivenessCheck = now + LIVENESS_CHECK_NANOS;
                    if (owner == me && tookLeftover(me)) {
                        locked = true;
                        return;
                    }
                    if (!HeapMappings.isPresent(segment, owner) && WORD.compareAndSet(segment, offset, owner, me)) {
                        // from a dead owner, or one that closed the heap: its half-done work was never published
                        locked = true;
                        return;
                    }
                    if (now - start > Timeouts.nanos(timeout)) {
                        throw new ShmException("timed out after " + timeout.toMillis() + " ms waiting for the lock of "
                                + what + ", held by live " + ProcessIdentity.describe(owner));
                    }
                }
                interrupted |= Backoff.takeInterrupt(); // not interruptible: else each park would return at once
                step = Backoff.idle(step, Long.MAX_VALUE);
            }
        } finally {
            if (!locked) {
                leave();
            }
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * Releases the lock, held by the current thread. If another thread closed this heap view under the holder and this
     * process keeps another view of the heap open, releases it through that view (at the same offset), and still
     * throws: else this process, attached through the other view, was taken for a live holder for as long as that
     * view stayed open, and every wait for the lock, in every process, timed out. What the holder left half done was
     * never published (see the class comment), as for a dead owner. The word names a process, not a thread: this is
     * sound only if callers let one thread of this process at a time reach the word through any view of the heap
     * (SharedHeap takes its attach period's JVM-local lock first), so that the word still holding this process's
     * token means the caller's own hold.
     *
     * @throws IllegalStateException        if this view's memory is closed
     * @throws IllegalMonitorStateException if this process does not hold it
     */
    public void unlock() {
        try {
            release(segment, offset);
        } catch (IllegalStateException closed) {
            // if every other view closed too, others take the lock over as a gone owner's
            HeapMappings.throughAnotherOpenView(segment, view -> releaseIfStillHeld(view, offset));
            throw closed;
        } finally {
            leave(); // given back, or left to be taken over: this thread no longer holds it
        }
    }

    /** Counts a thread of this process that was at the word leaving it (see {@link #AT_THE_WORD}). */
    private void leave() {
        AT_THE_WORD.computeIfPresent(heapId, (id, threads) -> threads == 1 ? null : threads - 1);
    }

    /**
     * Releases through {@code view} a hold whose release through another view a close cut short: the word still
     * holding this process's token is the caller's hold (see {@link #unlock}); not holding it, the cut-short CAS
     * took effect before its failure was reported.
     *
     * @return true
     */
    private static boolean releaseIfStillHeld(MemorySegment view, long offset) {
        try {
            release(view, offset);
        } catch (IllegalMonitorStateException releasedAlready) {
            // the word is free, or another process's since: nothing of the caller's to release
        }
        return true;
    }

    private static void release(MemorySegment segment, long offset) {
        long me = ProcessIdentity.currentToken();
        if (!WORD.compareAndSet(segment, offset, me, 0L)) {
            throw new IllegalMonitorStateException("lock at offset " + offset + " is not held by this process");
        }
    }
}
