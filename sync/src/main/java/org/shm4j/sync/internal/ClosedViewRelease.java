package org.shm4j.sync.internal;

import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.HeapMappings;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.LOCK_ENTERING;
import static org.shm4j.sync.internal.SyncLayout.LOCK_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_OWNER_THREAD;
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
 * <p>The same holds for an acquire that the close cut short right after its CAS took the word, before the thread
 * recorded itself as the holder (or before a take-over marked the data): the acquire throws, so its caller holds
 * nothing and releases nothing, and the word named this process but no thread of it. {@link #releaseTaken} records
 * the thread through the other view, by a CAS from the field as the CAS left it (a watch of the same word, below,
 * may have named its own thread first: the word is then that thread's), and releases; a name it finds on a word no
 * longer its own (that watch freed it meantime) it takes back to 0, as a release leaves a free word. A structure
 * whose lock method meets the closed view after the acquire (reading its repair state) releases through
 * {@link RobustMutex#releaseAfter} before it throws.
 *
 * <p>A user's lock ({@code SharedLock} and its kin) that its holder took is not given up this way: its holder decides
 * when its critical section ends, and the heap's close documents that such a hold stays while the process keeps
 * another view. Only a lock call that threw, whose caller thus holds nothing, releases as above.
 *
 * <p>The JDK may report a close after the access that met it took effect. The word names this process, not a
 * thread, so once a release's freeing access (its store, CAS or swap of the word) may have run, another thread B of
 * this process may have taken the word through another view and not yet named itself in the owner field (its claim
 * is its next store after its CAS): naming the releaser there and releasing would free B's hold (two holders). So a
 * close met before that access names the releaser again at once ({@link #nameHolderAgain}): no thread can take a
 * held word. One met at it ({@link #nameHolderOnceSettled}) first watches the word and the owner field through
 * another view for {@link RobustMutex#SETTLE_NANOS}, and names the releaser only if the field stayed 0 and the word
 * this process's, changed by nothing but a waiter's bit. While the access has not run, nothing else changes them: no
 * thread of this process can release the word (the field is 0, so its release throws {@link
 * IllegalMonitorStateException}), no thread takes a held word, no other process takes over a live process's word,
 * and waiters only add their bit. So a change means the access ran: the word is free or someone else's and is left
 * alone (the releaser's call threw, but it holds nothing). If it ran and B took the word, B names itself within the
 * bound, a few nanoseconds after its CAS. Residual: a B descheduled between its CAS and its claim for longer than
 * the bound (or caught in that window by the watch's last look) is taken for the releaser's hold and freed: two
 * holders. The bound costs only a release that met the close at that access, and there the close usually came
 * before the access ran (7 of 8 such releases in 8 runs of the cut-short lock calls' test waited out the bound):
 * naming no one there would leave the word held by no thread until the process closed its last view or exited.
 *
 * <p>An acquire's CAS that met the close may likewise have taken the word: the call throws without knowing it did,
 * so the word would stay this process's with no thread named. {@link #releaseIfTakenUnnamed} watches it the same way
 * and, if it stays so for the bound, names the caller and releases it. So does a take-over's CAS from a dead owner
 * that met the close: the owner field then still holds the dead owner's key (read before the CAS, with the word
 * still the dead owner's after it), which names no thread here; released marked, as the take-over marks. The same
 * residual holds (a B descheduled between CAS and claim), and so does one more: a release cut short at its freeing
 * access watches that word too; of the two watches, the first to end names its thread (the other then finds the
 * field taken, or the word freed). Either way the word is not left held by no thread. A watch that named its thread
 * only after the other had named its own and freed the word (between its last look and its naming CAS) finds the
 * release not done, or the word no longer this process's, and takes its name back to 0 ({@link #releaseNamed},
 * {@link #nameIfStillHeld}); so does a release's watch whose naming ran in a view that then closed, when the next
 * view shows the word freed ({@code nameHolderIn}). One order still leaves a name on a freed word: the other watch
 * clears the field, this one's naming CAS lands, its re-check still sees the word held, and the other then frees
 * the word; the next take in this process whose claim a close cuts short then stays taken. Closing it needs one
 * lock within the process around each watch's naming and release; it is left, as it needs two watches of one word
 * with one past its 100 ms bound.
 */
final class ClosedViewRelease {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private ClosedViewRelease() {
    }

    /**
     * Releases the mutex at {@code mutex} (its 40 bytes, in a view that is now closed) through another open view of
     * the same heap, if the current thread holds it and this process has such a view.
     *
     * @param mutex       the mutex's memory in the closed view
     * @param wakeAll     wake every waiter rather than one
     * @param what        the mutex, for messages
     * @param closed      what the caller met and will throw; a failure of this release other than a close is added
     *                    to it as suppressed
     * @return true if it was released
     */
    static boolean release(MemorySegment mutex, boolean wakeAll, String what, IllegalStateException closed) {
        // its 40 bytes in each open view in turn while they close (none left: maybe the last one, as above)
        return HeapMappings.throughAnotherOpenView(mutex, view -> releaseIn(view, wakeAll, what, true, closed));
    }

    /**
     * Releases the mutex at {@code mutex} whose word the current thread's CAS took through a view that closed before
     * the thread could record itself as the holder (or finish a take-over's marks): the word is this process's, no
     * other process takes it from a process that has the heap open, and no thread of this process would ever release
     * it. Records the thread through another open view of the same heap, unless another thread of this process named
     * itself there meantime (a watch of the same word, past its bound: the word is then left to that thread, which
     * takes it for its own and releases it), then releases as {@link #release} does (a name on a word that is not
     * the thread's, freed by such a watch meantime, goes back to 0: a release's field, which the next take expects);
     * marked inconsistent only for a take-over from a holder that had entered, whose own mark may have been cut short:
     * the thread that took the word entered nothing (a user's lock call threw), so the data is as it was. Works through
     * each open view in turn while they close, as {@link #release}: a close met while recording the thread records it
     * again in the next view (nothing has freed the word: it is still the caller's, as at the first try); one met in
     * the release runs the release again in the next view, without recording the thread again (the release cut short
     * named the caller again itself where the word was still its; recorded once more, it could name the caller over the
     * next owner of a word that release had freed). A take-over's mark may then count twice.
     *
     * @param mutex      the mutex's memory in the closed view
     * @param unnamed    the owner field as the CAS left it: 0 after a free word, the dead owner's after a take-over
     * @param what       the mutex, for messages
     * @param takingOver the word was taken over from a dead holder that had entered
     * @param closed     what the caller met and will throw; a failure of this release other than a close is added
     *                   to it as suppressed
     * @return true if it was released
     */
    static boolean releaseTaken(MemorySegment mutex, long unnamed, String what, boolean takingOver,
                                IllegalStateException closed) {
        boolean[] recorded = new boolean[1]; // in a view that then closed: the next one holds the same field
        // its 40 bytes in each open view in turn while they close (none left: maybe the last one, as above)
        return HeapMappings.throughAnotherOpenView(mutex, view -> {
            long me = ThreadKeys.current();
            if (!recorded[0]) {
                // volatile CAS, not a store: a watch past its bound names its thread by a CAS too (nameHolderIn,
                // releaseIfTakenUnnamed), so of the two exactly one names itself and no one frees the other's hold
                recorded[0] = LONG.compareAndSet(view, MUTEX_OWNER_THREAD, unnamed, me)
                        || (long) LONG.getVolatile(view, MUTEX_OWNER_THREAD) == me; // the claim's store had run
                if (!recorded[0]) {
                    return false; // another thread of this process named itself: the word is left to it
                }
            }
            return releaseNamed(view, me, what, takingOver, closed);
        });
    }

    /**
     * Releases the mutex in {@code view} (marked as {@link #releaseThrough} marks) for the current thread, whose key
     * {@code me} a CAS of {@link #releaseTaken} or {@link #releaseIfTakenUnnamed} put in the owner field after the
     * take; if the release does not happen (another thread's watch named its own thread and freed the word between
     * the look that found it this process's and that CAS), takes the name back by a CAS from {@code me} to 0: left on
     * a free word, it would fail the CAS from 0 of the next take whose claim a close cut short, which then left the
     * word taken and named by a thread that holds nothing.
     *
     * @param closed what the caller met and will throw; a failure other than a close is added to it as suppressed
     * @return true if it was released
     * @throws IllegalStateException if {@code view} is closed too (for {@link HeapMappings#throughAnotherOpenView})
     */
    static boolean releaseNamed(MemorySegment view, long me, String what, boolean mayHaveEntered,
                                IllegalStateException closed) {
        // readers may wait for a writer's mutex: wake them all
        if (releaseIn(view, true, what, mayHaveEntered, closed)) {
            return true;
        }
        takeNameBack(view, MUTEX_OWNER_THREAD, me);
        return false;
    }

    /**
     * {@link #releaseThrough} for a handler run through {@link HeapMappings#throughAnotherOpenView}: a release cut
     * short after it cleared the owner field named the caller again there (nameHolderAgain, or once the word settled),
     * so it is run again in the next view after a close, and releaseThrough checks that the caller still holds it.
     *
     * @param closed what the caller met and will throw; a failure other than a close is added to it as suppressed
     */
    private static boolean releaseIn(MemorySegment view, boolean wakeAll, String what, boolean mayHaveEntered,
                                     IllegalStateException closed) {
        try {
            return releaseThrough(view, wakeAll, what, mayHaveEntered);
        } catch (IllegalStateException alsoClosed) { // for throughAnotherOpenView: it tries the next view
            throw alsoClosed;
        } catch (RuntimeException failed) { // the owner field changed after the check: the caller's close stays
            closed.addSuppressed(failed);
            return false;
        }
    }

    /**
     * For an acquire whose CAS on the word of the mutex at {@code mutex} (its 40 bytes, in a view that is now closed)
     * met the close: the JDK may report it after the CAS took the word. Watches the word through another open view of
     * the same heap for {@code settleNanos} as {@link #nameHolderOnceSettled} does: if it stays this process's with
     * the owner field {@code unnamed} (no thread took it and named itself, no release freed it), the CAS took it:
     * names the current thread and releases it, marked only for a take-over from a holder that had entered (as
     * {@link #releaseTaken}). Returns at once when the word is free or named (the usual case: the close came before
     * the CAS ran); blocks for the bound when no thread is named. A naming CAS whose view closed under it is taken for
     * done if the field in the next view names the current thread (as {@link FairClosedView#giveBackIdleTake}): else
     * the watch there saw that name, not {@code unnamed}, and left the word taken, named by a thread whose call threw.
     *
     * @param unnamed     the owner field as the CAS left it: 0 after a free word, the dead owner's after a take-over
     * @param takingOver  the CAS took the word over from a dead holder that had entered
     * @param settleNanos how long to watch: {@link RobustMutex#SETTLE_NANOS}
     * @param closed      what the caller met and will throw; a failure of this release other than a close is added
     *                    to it as suppressed
     */
    static void releaseIfTakenUnnamed(MemorySegment mutex, long unnamed, boolean takingOver, String what,
                                      long settleNanos, IllegalStateException closed) {
        long deadline = System.nanoTime() + settleNanos;
        boolean[] named = new boolean[1]; // in a view that then closed: the next one holds the same word
        boolean[] tried = new boolean[1]; // its naming CAS ran: in a retry, it met a close, maybe after its effect
        // its 40 bytes in each open view in turn while they close (none left: maybe the last one, as above)
        HeapMappings.throughAnotherOpenView(mutex, view -> {
            long me = ThreadKeys.current();
            // our key after a naming CAS that met its view's close: the watch saw the field name no thread here
            // before it, so the CAS took effect (volatile: as the CAS wrote it)
            named[0] |= tried[0] && (long) LONG.getVolatile(view, MUTEX_OWNER_THREAD) == me;
            if (!named[0]) {
                if (!staysUnclaimed(view, unnamed, deadline)) {
                    return true;
                }
                tried[0] = true;
                // volatile CAS: a watching release names itself the same way (nameHolderIn), so one of the two names
                named[0] = LONG.compareAndSet(view, MUTEX_OWNER_THREAD, unnamed, me);
                if (!named[0]) {
                    return true;
                }
            }
            releaseNamed(view, me, what, takingOver, closed); // if the current thread still holds it
            return true;
        });
    }

    /**
     * Names the current thread as the holder of the mutex at {@code mutex} (its 40 bytes, in a view that is now
     * closed) through another open view of the same heap, for a release that cleared the owner field and then met the
     * close before the access that frees the word: the word is still this process's, and the caller's, since no other
     * thread could take it meanwhile. Does nothing if this process has no such view, or the word is not this
     * process's.
     */
    static void nameHolderAgain(MemorySegment mutex) {
        // its 40 bytes in each open view in turn while they close (none left: maybe the last one, as above)
        HeapMappings.throughAnotherOpenView(mutex, view -> {
            nameHolderIn(view);
            return true;
        });
    }

    /**
     * {@link #nameHolderAgain} for a release that met the close at the access that frees the word, which may have
     * taken effect: names the current thread only once the word stayed this process's with the owner field 0 for
     * {@code settleNanos} (see the class doc); returns as soon as either changed. Blocks for that long when the word
     * is the caller's.
     *
     * @param settleNanos how long to watch: {@link RobustMutex#SETTLE_NANOS}
     */
    static void nameHolderOnceSettled(MemorySegment mutex, long settleNanos) {
        long deadline = System.nanoTime() + settleNanos;
        // its 40 bytes in each open view in turn while they close: one that closes during the watch must not leave
        // the word named by no thread while a third view is open (none left: maybe the last one, as above)
        HeapMappings.throughAnotherOpenView(mutex, view -> {
            if (staysUnclaimed(view, 0L, deadline) || !RobustMutex.isHeldByThisProcess(view, 0)) {
                nameHolderIn(view); // on a free word: takes back a naming run in a view that then closed
            }
            return true;
        });
    }

    /**
     * Names the current thread in {@code view} if the word is this process's ({@link #nameIfStillHeld}). Else takes
     * back its name: a run of this step in a view that then closed may have put it there (a close the JDK reports
     * after the naming CAS, or met at the look at the word after it) before the word was freed; left on a free word,
     * it would fail the next take cut short (see {@link #releaseNamed}).
     */
    private static void nameHolderIn(MemorySegment view) {
        if (RobustMutex.isHeldByThisProcess(view, 0)) {
            nameIfStillHeld(view);
        } else {
            takeNameBack(view, MUTEX_OWNER_THREAD, ThreadKeys.current());
        }
    }

    /**
     * {@link #nameHolderIn} once it found the word of the mutex in {@code view} this process's: names the current
     * thread in the owner field if it is 0, and takes the name back if the word is then no longer this process's
     * (another thread's watch of the same word, past its bound, named its thread and freed the word between that look
     * and the naming): left on a free word, the name would fail the CAS from 0 of the next take whose claim a close
     * cut short (see {@link #releaseNamed}).
     */
    static void nameIfStillHeld(MemorySegment view) {
        long me = ThreadKeys.current();
        // a CAS from 0, not a store: an acquire's watch names its thread so too; the word's volatile read follows it
        if (LONG.compareAndSet(view, MUTEX_OWNER_THREAD, 0L, me) && !RobustMutex.isHeldByThisProcess(view, 0)) {
            takeNameBack(view, MUTEX_OWNER_THREAD, me);
        }
    }

    /**
     * Watches the mutex at {@code view} until {@code deadline} ({@link System#nanoTime()}): a short spin, then parks
     * of up to {@link RobustMutex#SETTLE_LOOK_NANOS}. An interrupt does not end it: it is held back while it lasts
     * (else each park returned at once, a spin) and set again as it ends.
     *
     * @param unnamed the owner field's value that names no thread here: 0, or a dead owner's after a take-over
     * @return true if at each look the owner field was {@code unnamed} and the word this process's, as at the first
     *         look or with a waiter's bit added
     */
    private static boolean staysUnclaimed(MemorySegment view, long unnamed, long deadline) {
        // volatile: each read of the word comes before the owner-field read after it, as a claim follows its CAS
        long word = (long) LONG.getVolatile(view, MUTEX_WORD);
        if (!RobustMutex.isThisProcess(word)) {
            return false; // free or another process's: the access ran
        }
        boolean interrupted = false;
        try {
            for (int step = 0; ; ) {
                if ((long) LONG.getOpaque(view, MUTEX_OWNER_THREAD) != unnamed) { // opaque: as a claim writes it
                    return false; // a thread named itself: the access ran and that thread took the word
                }
                if (System.nanoTime() - deadline >= 0) {
                    return true;
                }
                interrupted |= Backoff.takeInterrupt();
                step = Backoff.idle(step, RobustMutex.SETTLE_LOOK_NANOS);
                long now = (long) LONG.getVolatile(view, MUTEX_WORD); // volatile: as above
                if (now != (word | (now & LOCK_WAITERS))) {
                    return false; // freed, or freed and taken again: the access ran
                }
                word = now;
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * @param mayHaveEntered the holder may have changed what the mutex guards: mark it for repair unless entering
     * @throws IllegalMonitorStateException if the owner field changed between the check and the release (racy states
     *                                      of a release or acquire cut short by a close)
     */
    private static boolean releaseThrough(MemorySegment view, boolean wakeAll, String what, boolean mayHaveEntered) {
        if (!RobustMutex.isHeldByCurrentThread(view, 0)) {
            return false;
        }
        // a holder that had not entered (a writer waiting for readers) changed nothing: no repair is due
        if (mayHaveEntered && ((long) LONG.getVolatile(view, MUTEX_WORD) & LOCK_ENTERING) == 0) {
            RobustMutex.markForRepair(view, 0);
        }
        RobustMutex.release(view, 0, wakeAll, what);
        return true;
    }

    /**
     * Takes the name {@code me} back from the owner field at {@code ownerOffset} of {@code view} (a mutex's, or a fair
     * lock's holder field): sets it to 0 only if it still holds {@code me}, the state a release leaves.
     */
    static void takeNameBack(MemorySegment view, long ownerOffset, long me) {
        // volatile CAS from this thread's key only: a taker that claimed the word meanwhile keeps its own name
        LONG.compareAndSet(view, ownerOffset, me, 0L);
    }
}
