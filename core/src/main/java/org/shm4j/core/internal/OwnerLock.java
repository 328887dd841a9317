package org.shm4j.core.internal;

import org.shm4j.core.ShmException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A spin lock on a 64-bit word in shared memory that holds the {@linkplain ProcessIdentity owner token} of the process
 * holding it, or 0 when free. A waiter that finds the owner process dead (or detached from the heap, see {@link
 * HeapMappings}) takes the lock over with a CAS from the dead token. Meant for short, rare critical sections (heap
 * allocation), not for hot paths: waiting backs off to 1 ms parks.
 *
 * <p>Memory ordering: acquiring is a volatile CAS (acquire semantics for the protected data); releasing is a CAS back
 * to 0 (release semantics), so data written while holding the lock is visible to the next holder.
 */
public final class OwnerLock {
    // VarHandle mechanics
    private static final VarHandle WORD = JAVA_LONG.varHandle();

    private static final long LIVENESS_CHECK_NANOS = 1_000_000;

    private final MemorySegment segment;
    private final long offset;

    /**
     * @param segment memory holding the lock word
     * @param offset  offset of the 8-byte aligned lock word
     */
    public OwnerLock(MemorySegment segment, long offset) {
        this.segment = segment;
        this.offset = Checks.aligned("lock offset", offset, Long.BYTES);
    }

    /**
     * Takes the lock, taking it over from a dead owner if need be.
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
        try {
            while (true) {
                long owner = (long) WORD.getVolatile(segment, offset);
                if (owner == 0) {
                    if (WORD.compareAndSet(segment, offset, 0L, me)) {
                        return;
                    }
                    continue;
                }
                long now = System.nanoTime();
                if (now - nextLivenessCheck >= 0) {
                    nextLivenessCheck = now + LIVENESS_CHECK_NANOS;
                    if (!HeapMappings.isPresent(segment, owner) && WORD.compareAndSet(segment, offset, owner, me)) {
                        // from a dead owner, or one that closed the heap: its half-done work was never published
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
        }
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
