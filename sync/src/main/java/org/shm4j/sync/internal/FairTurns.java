package org.shm4j.sync.internal;

import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.FAIR_ABANDONED;
import static org.shm4j.sync.internal.SyncLayout.FAIR_FLAGS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_HELD_SINCE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_OWNER_THREAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_PROCESSES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_QUEUE;
import static org.shm4j.sync.internal.SyncLayout.FAIR_RECOVERIES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SERVING_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SIZE;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SLOT_SIZE;
import static org.shm4j.sync.internal.SyncLayout.FAIR_TICKET_MASK;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WORD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;

/**
 * The waiting side of a {@link org.shm4j.sync.locks.SharedFairLock} block (its layout table is in that class): the
 * ticket slots in which waiters name themselves, the passing on of a turn whose holder or ticket holder is dead, gone
 * or never came, and the futex waits on the serving ticket. Every method works on the lock's block {@code s}; the
 * uncontended lock and unlock touch none of this.
 *
 * <p>The waiters flag is taken before the CAS that passes a turn and given back if that CAS fails. When two
 * processes race to pass one turn, the flag may be taken by the one whose CAS wins and the restore fall to the
 * loser, or the reverse; a passer killed or descheduled between its take and its CAS or restore leaves blocked
 * waiters to their own re-check (a futex wait is bounded: about 50 ms apart), never asleep for good.
 */
public final class FairTurns {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private static final int BLOCK_STEP = Backoff.PARK_FROM;
    private static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private FairTurns() {
    }

    /**
     * One thread's watch over the serving turn while it waits for a ticket or for its turn: the one place that
     * decides whether that turn is to be skipped (see {@link #skipIfGone}), the period of its liveness checks, and
     * the stall rule's timer. One per thread ({@link #waiter}), reset for each wait (but for the stall rule's timer,
     * kept across waits on the same lock): a thread waits for one fair lock at a time, and a contended lock
     * allocates nothing.
     */
    public static final class Waiter {
        private static final ThreadLocal<Waiter> CURRENT = ThreadLocal.withInitial(Waiter::new);

        private MemorySegment s;
        private long nextLivenessCheck;
        /** The address of the lock whose serving turn the stall fields watch (not the segment: see clear). */
        private long stalledLock;
        private int stalledTurn;
        private long stalledSince;

        private Waiter() {
        }

        /**
         * Initializes this class: a fair lock's open calls this, shallow, so that a wait deep in a thread's stack is
         * never the first to, where a {@link StackOverflowError} in the initializer would leave the class erroneous
         * and every later use in the JVM throwing {@link NoClassDefFoundError}.
         */
        public static void initialize() {
            // the JVM initializes the class before it runs a static method: nothing else to do
        }

        /**
         * @param s     the lock's block
         * @param start when the wait began ({@link System#nanoTime()}): the first liveness check is one period later
         * @return the current thread's waiter, reset for this wait
         */
        public static Waiter waiter(MemorySegment s, long start) {
            Waiter w = CURRENT.get();
            w.s = s;
            w.nextLivenessCheck = start + RobustMutex.LIVENESS_NANOS;
            // the watch of a stalled turn goes on across this thread's waits and tries on the same lock, so that a
            // caller whose every try is short still sees a turn stall for the stall rule's second (not after a
            // longer gap: the serving turn may have come round to the same number since)
            if (w.stalledLock != s.address() || start - w.stalledSince > 2 * STALL_NANOS) {
                w.stalledLock = s.address();
                w.stalledTurn = -1;
                w.stalledSince = 0;
            }
            return w;
        }

        /** @return true if a liveness check is due at {@code now}; then the next one is one period later */
        public boolean livenessDue(long now) {
            if (now - nextLivenessCheck < 0) {
                return false;
            }
            nextLivenessCheck = now + RobustMutex.LIVENESS_NANOS;
            return true;
        }

        /** @return how long a block at {@code now} may last: until the next liveness check, and at most {@code left} */
        public long blockBound(long now, long left) {
            return Math.min(left, nextLivenessCheck - now);
        }

        /**
         * Passes the turn served in {@code word} on if nobody will take it or its holder is gone: its ticket holder
         * gave up (abandoned: at once), its holder's or ticket holder's process is dead (at a liveness check, which
         * comes at once after a turn of a dead process was skipped), its holder's process slot was reclaimed (at a
         * liveness check), or its ticket slot was not written for longer than the stall rule's second.
         *
         * @param livenessDue whether this call may check the process's liveness ({@link #livenessDue})
         * @return true if this call passed the turn on: look again
         */
        public boolean skipIfGone(long word, long now, boolean livenessDue) {
            boolean taken = FairWord.taken(word);
            int turn = FairWord.serving(word);
            long token = taken ? FairWord.holderToken(s, 0, word) : slotToken(s, turn);
            boolean skip;
            if (taken || token != 0) {
                skip = token == FAIR_ABANDONED || gone(token, livenessDue);
            } else {
                if (stalledTurn != turn) {
                    stalledTurn = turn;
                    stalledSince = now;
                }
                skip = now - stalledSince > STALL_NANOS;
            }
            if (!skip || !skipTurn(s, word, token)) {
                return false;
            }
            if (token != 0 && token != FAIR_ABANDONED) {
                // the next turn may be the same or another dead process's: check it at once (one check per dead turn
                // skipped, so a queue of dead turns empties in about one period, not one period each)
                nextLivenessCheck = now;
            }
            return true;
        }

        /** Drops the lock's memory from this thread's waiter once its wait ended (so that it keeps none alive). */
        public void clear() {
            s = null;
        }

        /** @return true if the process of {@code token} (0: a holder whose process slot was reclaimed) is gone */
        private boolean gone(long token, boolean livenessDue) {
            return livenessDue && (token == 0 || !HeapMappings.isPresent(s, token));
        }
    }

    /** @return the offset of {@code ticket}'s slot: a waiter's token (long), then its ticket (int) */
    public static long slot(int ticket) {
        return FAIR_SLOTS_OFFSET + (long) (ticket % FAIR_QUEUE) * FAIR_SLOT_SIZE;
    }

    /**
     * Names the current process as the holder of {@code ticket} in its slot: the token first, then the ticket, which
     * readers read first ({@link #slotToken}). A waiter killed between the two stores leaves its dead token beside
     * the slot's old ticket: a slot not yet written, skipped by the stall rule. (The other order left the new ticket
     * beside the token of whoever used the slot 64 tickets before, usually a live process: a turn never skipped.)
     */
    public static void publishSlot(MemorySegment s, int ticket) {
        LONG.setVolatile(s, slot(ticket), ProcessIdentity.currentToken());
        INT.setVolatile(s, slot(ticket) + 8, ticket);
    }

    /**
     * @return the token in the slot of {@code ticket}, if that slot names {@code ticket}; else 0 (not yet written).
     *         The ticket is read before the token: a slot showing the ticket shows its writer's token.
     */
    public static long slotToken(MemorySegment s, int ticket) {
        if ((int) INT.getVolatile(s, slot(ticket) + 8) != ticket) {
            return 0;
        }
        return (long) LONG.getVolatile(s, slot(ticket));
    }

    /**
     * Called by a waiter whose {@code ticket} was skipped before it published its slot (it stalled for longer than
     * the stall rule's second): its late stores may have interleaved with those of the waiter of {@code ticket + 64},
     * leaving that later ticket beside this process's token. This process does not wait for that turn, so the slot
     * would read as written by a live process and never be skipped if its own waiter gave up (its abandon CAS expects
     * its own token). The token is cleared instead: the slot reads as not written, its waiter still takes its turn,
     * and the stall rule skips it if that waiter is gone. (Another thread of this process publishing that later
     * ticket is cleared too: at worst its turn waits the stall rule's second, if it gives up.)
     */
    public static void unpublishSkipped(MemorySegment s, int ticket) {
        if ((int) INT.getVolatile(s, slot(ticket) + 8) != ticket) {
            LONG.compareAndSet(s, slot(ticket), ProcessIdentity.currentToken(), 0L);
        }
    }

    /** Empties the slot of a skipped {@code ticket}, if it still holds {@code token} (dead or abandoned). */
    private static void clearSlot(MemorySegment s, int ticket, long token) {
        if (token != 0 && (int) INT.getVolatile(s, slot(ticket) + 8) == ticket) {
            LONG.compareAndSet(s, slot(ticket), token, 0L);
        }
    }

    /**
     * Passes the turn served in {@code word} on, because its holder or ticket holder ({@code token}) is dead, gone or
     * never came; a dead holder marks the lock inconsistent and counts a recovery, and its key is cleared from the
     * holder field. That key names no thread, but one whose pid this process got since reads as a thread of this
     * process's ({@link ThreadKeys#ofThisProcess}): an idle take whose CAS met a closed view then took it for another
     * thread's claim of the same turn and left its own turn taken, named by no thread ({@link
     * FairClosedView#giveBackIdleTake}).
     *
     * @return false if the word changed first: look again
     */
    public static boolean skipTurn(MemorySegment s, long word, long token) {
        boolean ownerDied = FairWord.taken(word); // the dead process held the lock
        if (ownerDied) {
            // volatile, then the word again: the dead holder's key (or 0) if the turn was still its after it, as a
            // claim follows its CAS; a key read after the next taker's claim would be that taker's
            long deadKey = (long) LONG.getVolatile(s, FAIR_OWNER_THREAD_OFFSET);
            // marked before the turn passes on, so that a skipper killed after passing it loses no mark; the word is
            // read again first, which narrows (not closes) the window in which a skipper late by a whole take-over
            // marks a repaired lock again: a needless repair, never a lost one
            if ((long) LONG.getVolatile(s, FAIR_WORD_OFFSET) != word) {
                return false;
            }
            INT.getAndBitwiseOr(s, FAIR_FLAGS_OFFSET, LOCK_OWNER_DIED);
            // volatile CAS before the pass, which orders it before the next taker's claim; from the dead key only, so
            // that a skipper late by a whole take-over never clears a live holder's (another process's) key
            LONG.compareAndSet(s, FAIR_OWNER_THREAD_OFFSET, deadKey, 0L);
        }
        boolean announced = takeAnnouncement(s); // before the pass changes the futex word
        if (!LONG.compareAndSet(s, FAIR_WORD_OFFSET, word, FairWord.passed(word))) {
            restoreAnnouncement(s, announced);
            return false;
        }
        if (ownerDied) {
            LONG.getAndAdd(s, FAIR_RECOVERIES_OFFSET, 1L);
            LONG.setOpaque(s, FAIR_HELD_SINCE_OFFSET, 0L); // opaque: diagnostics; the dead owner's note
        }
        clearSlot(s, FairWord.serving(word), token);
        wakeAfterPass(s, announced);
        return true;
    }

    /**
     * @return how many of the tickets out in {@code word} were given up by their waiters (abandoned slots, not yet
     *         skipped: they stay out until their turn comes); one volatile read of each ticket's slot
     */
    public static int abandonedOut(MemorySegment s, long word) {
        int abandoned = 0;
        for (int i = 0, out = FairWord.out(word); i < out; i++) {
            if (slotToken(s, (FairWord.serving(word) + i) & FAIR_TICKET_MASK) == FAIR_ABANDONED) {
                abandoned++;
            }
        }
        return abandoned;
    }

    /** Passes on every turn at the head of the queue whose waiter gave up, so that a try-lock can take the lock. */
    public static void skipAbandonedTurns(MemorySegment s) {
        while (true) {
            long word = (long) LONG.getVolatile(s, FAIR_WORD_OFFSET);
            int turn = FairWord.serving(word);
            if (FairWord.taken(word) || FairWord.out(word) == 0 || slotToken(s, turn) != FAIR_ABANDONED) {
                return;
            }
            skipTurn(s, word, FAIR_ABANDONED);
        }
    }

    /**
     * Gives up {@code ticket}, if still out: if it is being served and not taken, passes the turn on (its own turn,
     * whatever its slot shows); else marks it abandoned, but only while its slot still names it. A slot that does not
     * (its writes cut short by a closed view, or written over by a late skipped waiter of ticket - 64) is left to the
     * stall rule. Once its turn passed it by (its waiter presumed gone, a skip its waiter had not seen yet), the slot
     * belongs to ticket + 64, whose waiter may be another thread of this process, with the same token, which the mark
     * would have its turn skipped for. (Not closed: a skip decided before these reads and done after them, then
     * ticket + 64 handed out and its token written, all before the CAS, still lets the mark through; a slot's ticket
     * and token are not one word. That waiter then loses its place: it finds its turn skipped and queues again.)
     */
    public static void abandon(MemorySegment s, int ticket) {
        long slot = slot(ticket);
        // the slot's ticket before the word: a waiter of ticket + 64 wrote the slot after its ticket was handed out
        boolean named = (int) INT.getVolatile(s, slot + 8) == ticket;
        if (!isOut((long) LONG.getVolatile(s, FAIR_WORD_OFFSET), ticket)) {
            return; // passed by
        }
        if (named) { // fails if skipped and cleared by another waiter meanwhile, or written over
            LONG.compareAndSet(s, slot, ProcessIdentity.currentToken(), FAIR_ABANDONED);
        }
        long word = (long) LONG.getVolatile(s, FAIR_WORD_OFFSET);
        if (FairWord.serving(word) == ticket && !FairWord.taken(word)) {
            skipTurn(s, word, FAIR_ABANDONED); // clears the slot only if it names the ticket, abandoned
        }
    }

    /**
     * Renames what this process's threads held in the fair lock {@code s} when it closed its last view of the heap,
     * for a process that opens that heap again (see {@code ReopenSweep}, which runs this before
     * {@link ProcessSlots#abandon} renames this process's slot, which this reads): held by no call, each was this
     * process's again, and every later lock call waited behind it, in every process.
     * <ul>
     *   <li>A turn taken by this process (owner bits naming its process slot and its token): its owner bits become
     *       those of {@link ProcessIdentity#abandonedToken()} in the same slot, which that slot's rename matches, so
     *       the next waiter's liveness check (in any process, this one too) finds a gone holder and skips the turn,
     *       the lock marked inconsistent and a recovery counted, as after a holder's death. The slot's rename alone
     *       did not do: once a reclaim freed the slot and this process claimed it again, the old owner bits were its
     *       own again (a live holder, and "already held" to the thread that had held it).</li>
     *   <li>A ticket out whose slot names this process: given up as {@link #abandon} gives it up (marked abandoned,
     *       or its turn passed on if it is served and not taken): the lock call that waited with it threw when the
     *       close cut it short, as one cut short while another view stays open gives its ticket up. It is skipped at
     *       once when its turn comes (by {@code tryLock} too), no recovery counted.</li>
     * </ul>
     * Both are CASes from this process's own values: another process changes a turn a present process holds only
     * by handing out tickets (the word's CAS then tries again) or by a skip judged before this process's attach (the
     * turn is then no longer this one's), and no thread of this process uses the lock meanwhile. The block is
     * checked first as an open checks it, so a damaged one throws {@link ShmFormatException} and is left alone.
     */
    static void abandonLeft(MemorySegment s) {
        String what = "fair lock at 0x" + Long.toHexString(s.address());
        if (s.byteSize() != FAIR_SIZE) {
            throw Blocks.corrupt(what, "block size", s.byteSize(), String.valueOf(FAIR_SIZE));
        }
        FairWord.check(s, new ProcessSlots(s, FAIR_PROCESSES_OFFSET, what), what);
        long me = ProcessIdentity.currentToken();
        while (true) {
            long word = (long) LONG.getVolatile(s, FAIR_WORD_OFFSET); // volatile: as the CAS after it
            if (!FairWord.taken(word) || FairWord.holderToken(s, 0, word) != me) {
                break;
            }
            long gone = FairWord.ownerBits(FairWord.ownerSlot(word), ProcessIdentity.abandonedToken());
            if (LONG.compareAndSet(s, FAIR_WORD_OFFSET, word, FairWord.ownedBy(word, gone))) {
                break;
            }
        }
        for (int i = 0; i < FAIR_QUEUE; i++) {
            long slot = FAIR_SLOTS_OFFSET + (long) i * FAIR_SLOT_SIZE;
            if ((long) LONG.getVolatile(s, slot) == me) { // volatile: abandon reads the slot's ticket again
                abandon(s, (int) INT.getVolatile(s, slot + Long.BYTES));
            }
        }
    }

    /** @return true if {@code ticket} is among the tickets out in {@code word} (served or waiting) */
    private static boolean isOut(long word, int ticket) {
        return ((ticket - FairWord.serving(word)) & FAIR_TICKET_MASK) < FairWord.out(word);
    }

    /**
     * Clears the holder field and passes on the turn taken in {@code word}, and wakes the blocked waiters if tickets
     * were out beside it: an unlock that had to read the word, or a take given back. Tickets may come meanwhile;
     * nothing else changes a taken turn's low half (serving ticket, taken bit, owner bits).
     *
     * @return false if the turn is no longer the one in {@code word} (the waiters flag it took is then given back)
     */
    public static boolean passTaken(MemorySegment s, long word) {
        LONG.setOpaque(s, FAIR_OWNER_THREAD_OFFSET, 0L); // opaque: as an unlock's; the pass's release CAS orders it
        boolean announced = takeAnnouncementBeforeRelease(s, word);
        while (!LONG.compareAndSet(s, FAIR_WORD_OFFSET, word, FairWord.passed(word))) { // the release
            long now = (long) LONG.getVolatile(s, FAIR_WORD_OFFSET);
            if ((int) now != (int) word) {
                restoreAnnouncement(s, announced);
                return false;
            }
            word = now;
        }
        afterPass(s, word, announced);
        return true;
    }

    /**
     * After the turn taken in {@code word} was passed on: if tickets were out beside it, clears the note of when a
     * waiter saw it held and wakes the blocked waiters ({@code announced}: their flag, taken before the pass).
     */
    public static void afterPass(MemorySegment s, long word, boolean announced) {
        if (FairWord.out(word) > 1) { // waiters may have noted the holder and may be blocked
            if ((long) LONG.getOpaque(s, FAIR_HELD_SINCE_OFFSET) != 0) { // opaque: diagnostics
                LONG.setOpaque(s, FAIR_HELD_SINCE_OFFSET, 0L);
            }
            wakeAfterPass(s, announced);
        }
    }

    /**
     * Idles one step of a wait for the serving ticket to change from {@code futexWord}, which the caller read
     * (volatile) before this; past the spin, announced in the waiters flag first, so that a pass of the turn wakes it.
     *
     * @return the next step
     */
    public static int idle(MemorySegment s, int step, int futexWord, long maxBlockNanos) {
        if (step >= BLOCK_STEP) {
            Waits.announce(s, FAIR_WAITERS_OFFSET); // after reading the word: a passer erasing it then changes it
        }
        return Waits.idle(step, s, FAIR_SERVING_OFFSET, futexWord, maxBlockNanos);
    }

    /**
     * Takes the blocked waiters' announcement before a CAS that passes the turn on (which changes the futex word):
     * a waiter whose announcement this erases read the word before, so its wait ends once the turn passes.
     *
     * @return true if the waiters flag was set; pass it to {@link #wakeAfterPass}, or to {@link #restoreAnnouncement}
     *         if the CAS failed
     */
    public static boolean takeAnnouncement(MemorySegment s) {
        return Waits.takeAnnouncement(s, FAIR_WAITERS_OFFSET);
    }

    /**
     * For an unlock of the turn in {@code word}: {@link #takeAnnouncement}, if tickets are out beside the holder's
     * (waiters block only then); an uncontended unlock does not even read the flag.
     */
    public static boolean takeAnnouncementBeforeRelease(MemorySegment s, long word) {
        return FairWord.out(word) > 1 && takeAnnouncement(s);
    }

    /**
     * After the turn passed: wakes every blocked waiter if {@code announced} (taken before the pass), or if a waiter
     * announced itself since. That second look (a volatile load, not cleared) catches a waiter that announced itself
     * between the take and the pass and compared the futex word before it changed.
     */
    public static void wakeAfterPass(MemorySegment s, boolean announced) {
        if (announced || (int) INT.getVolatile(s, FAIR_WAITERS_OFFSET) != 0) {
            Waits.wake(s, FAIR_SERVING_OFFSET, Integer.MAX_VALUE);
        }
    }

    /**
     * After a CAS that was to pass the turn failed: sets the waiters flag again if {@code announced} took it, and
     * wakes every blocked waiter, since the futex word may not have changed since they compared it (they look again
     * and block again, announced).
     */
    public static void restoreAnnouncement(MemorySegment s, boolean announced) {
        if (announced) {
            Waits.announce(s, FAIR_WAITERS_OFFSET);
            Waits.wake(s, FAIR_SERVING_OFFSET, Integer.MAX_VALUE);
        }
    }
}
