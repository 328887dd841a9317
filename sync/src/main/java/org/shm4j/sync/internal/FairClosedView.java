package org.shm4j.sync.internal;

import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.HeapMappings;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.FAIR_FLAGS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_OWNER_THREAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_RECOVERIES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WORD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;

/**
 * Finishes, through another open view of the same heap, what a {@link org.shm4j.sync.locks.SharedFairLock} call left
 * half done when another thread of this process closed the view it went through (as {@link ClosedViewRelease} does
 * for a mutex). While the process keeps another view open it is never taken for gone, so without this a turn its CAS
 * had taken, a ticket it waited with, or a holder field an unlock had cleared stayed so for as long as it lived: every
 * later lock call, in every process, waited behind it.
 *
 * <p>Each method looks at the turn in the ticket word first: the serving ticket, the taken bit and this process's
 * owner bits (its low 32 bits) name one take by this process, repeated only 2<sup>20</sup> turns later. They tell this
 * call's take apart only because every caller reaches these methods after its own successful CAS (or a CAS of its
 * own ticket's turn, which no other thread takes), or as the thread the holder field names; a turn passed on already
 * is left alone. The one exception, an uncontended take's CAS that met the close ({@link #giveBackIdleTake}), first
 * watches the turn for a thread of this process that took it with the same word. Each works through each other
 * open view in turn while they close (a method cut short by a second close runs again, in full, in the next one:
 * each step checks the state it changes first), and does nothing if this process has no other open view of the heap
 * (a wrapped lock, or the last view). Only called on the exception paths of lock calls.
 */
public final class FairClosedView {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    /** {@link #giveBackIdleTake}'s stages: watching the turn, its naming CAS tried, the current thread named. */
    private static final int WATCHING = 0;
    private static final int NAMING = 1;
    private static final int NAMED = 2;

    private FairClosedView() {
    }

    /**
     * For a lock call whose CAS took the turn {@code taken} (the word it set) and which then met its view closed, or
     * whose CAS of its own ticket's turn met the close (reported, maybe, after it took effect): the call throws, so
     * its caller holds nothing and would never unlock. Passes the turn on, if it is taken so.
     *
     * @param closed the lock's block in the closed view
     * @param taken  the ticket word the call's CAS set
     */
    public static void giveBackTurn(MemorySegment closed, long taken) {
        HeapMappings.throughAnotherOpenView(closed, view -> {
            long word = (long) LONG.getVolatile(view, FAIR_WORD_OFFSET);
            if ((int) word == (int) taken) { // only tickets may have come since the take (or a pass cut short)
                FairTurns.passTaken(view, word);
            }
            return true;
        });
    }

    /**
     * For an uncontended lock call whose CAS of an idle ticket word to {@code taken} met its view closed: the JDK may
     * report the close after the CAS took the turn, and the call then throws without knowing, leaving the turn this
     * process's, named by no thread, for as long as the process keeps another view. Such a word is not proof of this
     * call's take: another thread of this process may have taken the same turn with the same word (the same CAS, or a
     * queued take of the ticket such a CAS hands out; after a pass the serving ticket moves on, so the same word is
     * the same turn) and be about to name itself, a few nanoseconds after its CAS. So the turn is watched through
     * another open view for {@link RobustMutex#SETTLE_NANOS}, as {@link ClosedViewRelease#releaseIfTakenUnnamed}
     * watches a mutex's word: if at each look the word's low half stayed {@code taken}'s (tickets may come) and the
     * holder field held the same value, naming no thread of this process (0, or the key of a dead holder whose turn
     * a skip by an older build passed on: {@link FairTurns#skipTurn} now clears it), the current thread is named there
     * by a CAS and the turn passed on, unmarked (the call entered nothing). A turn claimed meanwhile or passed on is
     * left alone. Returns at once when the turn is not taken so (the usual case: the close came before the CAS ran);
     * blocks for the bound otherwise, parked between looks (an interrupt does not end it, and is kept).
     * Residual, as the mutex's: a thread of this process descheduled between its CAS of the same turn and its claim
     * for longer than the bound has its turn passed on. A naming CAS whose view closed under it is taken for done if
     * the field in the next view names the current thread (the turn is then passed on, not left named by a thread
     * whose call threw); a naming that came after the turn passed on (between the last look and the CAS) is undone.
     *
     * @param closed the lock's block in the closed view
     * @param taken  the ticket word the call's CAS would have set
     */
    public static void giveBackIdleTake(MemorySegment closed, long taken) {
        giveBackIdleTake(closed, taken, RobustMutex.SETTLE_NANOS);
    }

    /** {@link #giveBackIdleTake(MemorySegment, long)}, watching for {@code settleNanos}. */
    static void giveBackIdleTake(MemorySegment closed, long taken, long settleNanos) {
        long deadline = System.nanoTime() + settleNanos;
        long me = ThreadKeys.current();
        int[] stage = {WATCHING}; // in a view that then closed: the next one holds the same field
        HeapMappings.throughAnotherOpenView(closed, view -> {
            if (stage[0] != NAMED) {
                // volatile: the word is read before the holder field, as a claim follows its CAS
                boolean takenSo = (int) (long) LONG.getVolatile(view, FAIR_WORD_OFFSET) == (int) taken;
                long unnamed = (long) LONG.getOpaque(view, FAIR_OWNER_THREAD_OFFSET); // opaque: as a claim writes it
                // our key after a naming CAS that met its view's close: the field named no thread of this process
                // before it, so the CAS took effect (not so at the first run: this thread may hold the turn itself)
                if (stage[0] != NAMING || unnamed != me) {
                    if (!takenSo || ThreadKeys.ofThisProcess(unnamed) || !staysUnclaimed(view, taken, unnamed,
                            deadline)) {
                        return true;
                    }
                    stage[0] = NAMING;
                    // volatile CAS: two such watches of one turn (two calls whose CASes met closes) name one thread
                    if (!LONG.compareAndSet(view, FAIR_OWNER_THREAD_OFFSET, unnamed, me)) {
                        return true;
                    }
                }
                stage[0] = NAMED;
            }
            long word = (long) LONG.getVolatile(view, FAIR_WORD_OFFSET);
            long holder = (long) LONG.getOpaque(view, FAIR_OWNER_THREAD_OFFSET); // opaque: as a claim writes it
            if ((int) word != (int) taken) {
                // passed on between the watch's last look and the naming (by another such watch): the next turn
                // is not ours; its taker's claim writes over the field, but one that never comes must not leave ours
                ClosedViewRelease.takeNameBack(view, FAIR_OWNER_THREAD_OFFSET, me);
            } else if (holder == me || holder == 0L) { // 0: cleared by the pass in a view that then closed
                FairTurns.passTaken(view, word);
            }
            return true;
        });
    }

    /**
     * Watches the turn in {@code view} until {@code deadline} ({@link System#nanoTime()}): a short spin, then parks
     * of up to {@link RobustMutex#SETTLE_LOOK_NANOS}. An interrupt does not end it: it is held back while it lasts
     * (else each park returned at once, a spin) and set again as it ends.
     *
     * @return true if at each look the word's low half was {@code taken}'s and the holder field {@code unnamed}
     */
    private static boolean staysUnclaimed(MemorySegment view, long taken, long unnamed, long deadline) {
        boolean interrupted = false;
        try {
            for (int step = 0; System.nanoTime() - deadline < 0; ) {
                interrupted |= Backoff.takeInterrupt();
                step = Backoff.idle(step, RobustMutex.SETTLE_LOOK_NANOS);
                if ((int) (long) LONG.getVolatile(view, FAIR_WORD_OFFSET) != (int) taken) { // volatile: as above
                    return false; // passed on: a thread of this process took it, named itself and unlocked
                }
                if ((long) LONG.getOpaque(view, FAIR_OWNER_THREAD_OFFSET) != unnamed) { // opaque: as a claim
                    return false; // a thread of this process took the turn and named itself
                }
            }
            return true;
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * For an unlock of the turn taken in {@code word} that cleared the holder field and then met its view closed
     * before it passed the turn on: the unlock throws, so its caller still holds the lock, and may unlock it through
     * the other view, which then needs the field to name it. Names the current thread there again: call it only from
     * an unlock that found the current thread named there (a stray unlock's would name a thread that holds nothing).
     * Once the turn moved on, takes back the name a run in a view that then closed may have put there.
     *
     * @param closed the lock's block in the closed view
     * @param word   the ticket word the unlock read, with the turn it holds
     */
    public static void nameHolderAgain(MemorySegment closed, long word) {
        HeapMappings.throughAnotherOpenView(closed, view -> {
            // volatile: the turn may have been passed on by this very unlock, its exception reported after the CAS
            if ((int) (long) LONG.getVolatile(view, FAIR_WORD_OFFSET) == (int) word) {
                nameIfStillTaken(view, word);
            } else {
                // a run in a view that then closed may have named us before the turn moved on (its CAS's close
                // reported after it, or met at the look after it): volatile CAS from our key, as nameIfStillTaken
                ClosedViewRelease.takeNameBack(view, FAIR_OWNER_THREAD_OFFSET, ThreadKeys.current());
            }
            return true;
        });
    }

    /**
     * {@link #nameHolderAgain} once it found the turn of {@code word} still taken in {@code view}: names the current
     * thread in the holder field if it is 0, and takes the name back if the turn then moved on (a {@link
     * #giveBackIdleTake} watch of the same turn, past its bound, named its thread and passed the turn on between
     * that look and the naming). Left on a passed turn, the name would make the next idle take whose CAS met a close
     * take the turn for another thread's claim and leave it taken, named by a thread that holds nothing; a store
     * there would also write over the name of a next taker that claimed meanwhile.
     */
    static void nameIfStillTaken(MemorySegment view, long word) {
        long me = ThreadKeys.current();
        // volatile CAS from 0, not a store: a next taker's claim stays; the word's volatile read comes after it
        if (LONG.compareAndSet(view, FAIR_OWNER_THREAD_OFFSET, 0L, me)
                && (int) (long) LONG.getVolatile(view, FAIR_WORD_OFFSET) != (int) word) {
            ClosedViewRelease.takeNameBack(view, FAIR_OWNER_THREAD_OFFSET, me);
        }
    }

    /**
     * For a {@code withLock} call whose unlock met its view closed: the call throws, so its caller would never unlock
     * the hold the call took. If the current thread still holds the lock (the unlock had not passed the turn on, or
     * named the thread again: {@link #nameHolderAgain}), marks it inconsistent and counts a recovery, as a dead
     * holder's skip does (the close may have cut the call's action short too: the next holder repairs), and passes
     * the turn on, waking the waiters queued behind it. Tries each open view in turn while they close; a view that
     * closes after the holder field was cleared names the thread again first, as an unlock does, for the next one
     * (which then marks again: one give-back may count two recoveries).
     *
     * @param closed the lock's block in the closed view
     * @param owner  this process's owner bits in the ticket word ({@link FairWord#ownerBits})
     * @return true if the turn was passed on
     */
    public static boolean giveBackHold(MemorySegment closed, long owner) {
        return HeapMappings.throughAnotherOpenView(closed, view -> {
            long word = (long) LONG.getVolatile(view, FAIR_WORD_OFFSET);
            // opaque: only this thread writes its own key there, so a stale value cannot be its own
            if (!FairWord.taken(word) || FairWord.owner(word) != owner
                    || (long) LONG.getOpaque(view, FAIR_OWNER_THREAD_OFFSET) != ThreadKeys.current()) {
                return false;
            }
            INT.getAndBitwiseOr(view, FAIR_FLAGS_OFFSET, LOCK_OWNER_DIED); // before the pass, for the next holder
            LONG.getAndAdd(view, FAIR_RECOVERIES_OFFSET, 1L);
            try { // the pass clears the field first: a close reported after that must not leave the turn unnamed
                return FairTurns.passTaken(view, word);
            } catch (IllegalStateException alsoClosed) { // for throughAnotherOpenView: it tries the next view
                nameHolderAgain(view, word);
                throw alsoClosed;
            }
        });
    }

    /**
     * For a queued lock call that met its view closed while it held {@code ticket}: gives the ticket up as a waiter
     * that timed out does ({@link FairTurns#abandon}), so that its turn is passed on when it comes. A slot the call
     * had not finished writing is not marked: its turn is passed on at once if being served, else left to the stall
     * rule (skipped about a second after it comes).
     *
     * @param closed the lock's block in the closed view
     * @param ticket the ticket the call waited with
     */
    public static void abandon(MemorySegment closed, int ticket) {
        HeapMappings.throughAnotherOpenView(closed, view -> {
            FairTurns.abandon(view, ticket); // again in full after a close: each of its steps checks the ticket first
            return true;
        });
    }
}
