package org.shm4j.sync.internal;

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
 * is left alone. Each works through each other open view in turn while they close (a method cut short by a second
 * close runs again, in full, in the next one: each step checks the state it changes first), and does nothing if
 * this process has no other open view of the heap (a wrapped lock, or the last view). Only called on the exception
 * paths of lock calls.
 */
public final class FairClosedView {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

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
                LONG.setOpaque(view, FAIR_OWNER_THREAD_OFFSET, 0L); // opaque: as an unlock's; the pass orders it
                FairTurns.passTaken(view, word);
            }
            return true;
        });
    }

    /**
     * For an unlock of the turn taken in {@code word} that cleared the holder field and then met its view closed
     * before it passed the turn on: the unlock throws, so its caller still holds the lock, and may unlock it through
     * the other view, which then needs the field to name it. Names the current thread there again: call it only from
     * an unlock that found the current thread named there (a stray unlock's would name a thread that holds nothing).
     *
     * @param closed the lock's block in the closed view
     * @param word   the ticket word the unlock read, with the turn it holds
     */
    public static void nameHolderAgain(MemorySegment closed, long word) {
        HeapMappings.throughAnotherOpenView(closed, view -> {
            // volatile: the turn may have been passed on by this very unlock, its exception reported after the CAS
            if ((int) (long) LONG.getVolatile(view, FAIR_WORD_OFFSET) == (int) word
                    && (long) LONG.getOpaque(view, FAIR_OWNER_THREAD_OFFSET) == 0L) { // opaque: the holder's field
                LONG.setOpaque(view, FAIR_OWNER_THREAD_OFFSET, ThreadKeys.current()); // opaque: as a claim
            }
            return true;
        });
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
            try { // the clear too: a close reported after it cleared the field must not leave the turn unnamed
                LONG.setOpaque(view, FAIR_OWNER_THREAD_OFFSET, 0L); // opaque: as an unlock's; the pass orders it
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
