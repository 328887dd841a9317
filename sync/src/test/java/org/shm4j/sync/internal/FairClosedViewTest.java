package org.shm4j.sync.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.internal.SyncLayout.FAIR_FLAGS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_OWNER_THREAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_RECOVERIES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WORD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.OWNER_THREAD_PID_SHIFT;

/**
 * {@link FairClosedView#giveBackIdleTake} after a {@link SharedFairLock}'s uncontended take met its view closed at
 * the CAS of the idle ticket word, one heap open twice in this process. The JDK may report the close after the CAS
 * took the turn; the call then threw, and nothing passed the turn on: it stayed this process's, named by no thread,
 * and every later locker in every process queued behind it for as long as the process kept the other view. Now the
 * turn is watched through the kept view and passed on once it stayed so for the bound; a turn that another thread of
 * this process took with the same word and names during the watch is left to it.
 */
@Timeout(60)
class FairClosedViewTest {
    /** How long the claim test's watch lasts: longer than a lock call's, so that the other thread surely runs. */
    private static final long WATCH_NANOS = TimeUnit.SECONDS.toNanos(20);
    /** A pid no process has: above Linux's largest pid_max (2^22). */
    private static final int DEAD_PID = (1 << 22) + 1;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldGiveBackATurnThatAnIdleTakeWhoseCasMetTheCloseLeftNamedByNoThread() {
        assertGivenBack("idle-cas", 0L);
    }

    /** A skip of a dead holder's turn leaves its key in the holder field: that names no thread here either. */
    @Test
    void shouldGiveBackSuchATurnWhenTheHolderFieldStillNamesASkippedDeadHolder() {
        assertGivenBack("idle-cas-dead", 7L ^ (long) DEAD_PID << OWNER_THREAD_PID_SHIFT); // its thread 7
    }

    /**
     * A dead holder whose pid this process got since: its key in the holder field reads as a thread of this process.
     * Its turn is skipped, then an idle take's CAS meets the close: the skip cleared the key, so the watch finds the
     * turn unnamed and gives it back. Before, the skip left the key, which the watch took for another thread's claim
     * of the same turn: the turn stayed taken, named by no thread, for as long as the process kept a view.
     */
    @Test
    void shouldGiveBackSuchATurnAfterASkipOfADeadHolderWhosePidThisProcessGot() {
        try (Views views = views("idle-recycled")) {
            MemorySegment block = views.block();
            // no thread has id 2^32 here
            long recycledKey = ThreadKeys.current() ^ Thread.currentThread().threadId() ^ 1L << Integer.SIZE;
            assertThat(ThreadKeys.ofThisProcess(recycledKey)).as("the dead holder's key reads as ours").isTrue();
            long dead = FairWord.takenBy(FairWord.withTicket(block.get(JAVA_LONG, FAIR_WORD_OFFSET)),
                    FairWord.ownerBits(ProcessSlots.SLOTS - 1, (long) DEAD_PID << Integer.SIZE | 1));
            block.set(JAVA_LONG, FAIR_WORD_OFFSET, dead);
            block.set(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET, recycledKey);
            assertThat(FairTurns.skipTurn(block, dead, 0L)).as("the dead holder's turn skipped").isTrue();
            // the holder field as the skip left it
            long taken = takeIdleByHand(views.keptLock(), block, block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET));
            views.closing().close();

            FairClosedView.giveBackIdleTake(views.closed(), taken, TimeUnit.MILLISECONDS.toNanos(50));

            assertThat(block.get(JAVA_LONG, FAIR_WORD_OFFSET)).as("the ticket word: the turn passed on")
                    .isEqualTo(FairWord.passed(taken));
            assertThat(block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET)).as("the holder field").isZero();
        }
    }

    /**
     * The turn is set by hand through the kept view as the uncontended take's CAS leaves it (holder field
     * {@code stale}, as before the CAS); the take through the closed view then meets the close at its CAS and throws.
     * Its turn must be passed on, unmarked (the call entered nothing).
     */
    private void assertGivenBack(String label, long stale) {
        try (Views views = views(label)) {
            MemorySegment block = views.block();
            SharedFairLock closingLock = SharedFairLock.open(views.closing(), "lock");
            long taken = takeIdleByHand(closingLock, block, stale); // the lock names this process, as the take would
            long recoveries = block.get(JAVA_LONG, FAIR_RECOVERIES_OFFSET);
            views.closing().close();

            assertThatThrownBy(closingLock::tryLock).as("the take through the closed view")
                    .isInstanceOf(IllegalStateException.class);

            assertThat(block.get(JAVA_LONG, FAIR_WORD_OFFSET)).as("the ticket word: the turn passed on")
                    .isEqualTo(FairWord.passed(taken));
            assertThat(block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET)).as("the holder field").isZero();
            assertThat(block.get(JAVA_INT, FAIR_FLAGS_OFFSET)).as("flags: not marked").isZero();
            assertThat(block.get(JAVA_LONG, FAIR_RECOVERIES_OFFSET)).as("recoveries").isEqualTo(recoveries);
        }
    }

    /**
     * Another thread took the turn through the kept view with the same word and is caught between its CAS and its
     * claim (holder field 0) when this thread's take meets the close; it names itself once this thread parks in the
     * watch: the turn must be left to it.
     */
    @Test
    void shouldLeaveAloneATurnAnotherThreadClaimsDuringTheWatch() throws Exception {
        try (Views views = views("idle-claimed")) {
            MemorySegment block = views.block();
            FutureTask<Boolean> other = new FutureTask<>(views.keptLock()::tryLock);
            Thread.ofPlatform().start(other);
            assertThat(other.get(10, TimeUnit.SECONDS)).as("the other thread took the turn").isTrue();
            long otherKey = block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET);
            block.set(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET, 0L); // as between its CAS and its claim
            long taken = block.get(JAVA_LONG, FAIR_WORD_OFFSET);
            views.closing().close();
            ClaimDuringWatch.run(block, FAIR_OWNER_THREAD_OFFSET, otherKey, // this thread's CAS met the close
                    () -> FairClosedView.giveBackIdleTake(views.closed(), taken, WATCH_NANOS));

            assertThat(block.get(JAVA_LONG, FAIR_WORD_OFFSET)).as("the ticket word, the other thread's")
                    .isEqualTo(taken);
            assertThat(block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET)).as("the holder field").isEqualTo(otherKey);
        }
    }

    /**
     * The watch run by an interrupted thread (here ended by a claim once seen parked): it parks between its looks with
     * the interrupt held back, and sets it again as it ends. Before, the pending interrupt made each park return at
     * once: the watch spun a core through its whole bound.
     */
    @Test
    void shouldParkWithTheInterruptHeldBackWhenAnInterruptedThreadWatches() throws Exception {
        try (Views views = views("idle-interrupted")) {
            MemorySegment block = views.block();
            long taken = takeIdleByHand(views.keptLock(), block, 0L);
            views.closing().close();

            boolean parked = InterruptedWatch.parkedHeldBack(() -> block.set(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET, 7L),
                    () -> FairClosedView.giveBackIdleTake(views.closed(), taken, WATCH_NANOS));

            assertThat(parked).as("seen parked in the watch with no interrupt pending").isTrue();
            assertThat(block.get(JAVA_LONG, FAIR_WORD_OFFSET)).as("the ticket word, left to the claim")
                    .isEqualTo(taken);
        }
    }

    /**
     * A holder that calls the lock again (not reentrant) through a view that its take left expecting the same idle
     * word: that call's CAS expects the word its own take replaced, so a close met there finds its own turn, named by
     * the current thread. The watch must leave it: the holder still holds it (a watch cut short at its naming CAS
     * takes such a key for its own doing, but only in a later view).
     */
    @Test
    void shouldLeaveAloneATurnTheCurrentThreadHolds() {
        try (Views views = views("idle-own")) {
            SharedFairLock keptLock = views.keptLock();
            keptLock.lock();
            long taken = views.block().get(JAVA_LONG, FAIR_WORD_OFFSET);
            views.closing().close();

            FairClosedView.giveBackIdleTake(views.closed(), taken, TimeUnit.MILLISECONDS.toNanos(50));

            assertThat(views.block().get(JAVA_LONG, FAIR_WORD_OFFSET)).as("the ticket word, still held")
                    .isEqualTo(taken);
            assertThat(keptLock.isHeldByCurrentThread()).as("held by this thread").isTrue();
            keptLock.unlock();
        }
    }

    /**
     * The view the watch looks through is closed too while it parks: the watch runs again in the next open view and,
     * the turn still taken so at the bound, passes it on once (not twice, not left).
     */
    @Test
    void shouldGiveBackSuchATurnWhenTheWatchedViewClosesMidWatch() throws Exception {
        String name = names.unique("idle-rerun");
        SharedHeap watched = SharedHeap.create(name, 1 << 20); // listed first: the view the watch looks through
        try (SharedHeap kept = SharedHeap.open(name)) {
            SharedFairLock keptLock = SharedFairLock.openOrCreate(kept, "lock");
            MemorySegment block = kept.lookup("lock", SyncLayout.FAIR_LOCK).segment();
            SharedHeap closing = SharedHeap.open(name);
            MemorySegment closed = closing.lookup("lock", SyncLayout.FAIR_LOCK).segment();
            long taken = takeIdleByHand(keptLock, block, 0L); // the lock names this process, as the take would
            closing.close();
            MemorySegment.Scope first = HeapMappings.inAnotherOpenView(closed).scope();
            assertThat(first).as("the view the watch looks through first")
                    .isEqualTo(watched.lookup("lock", SyncLayout.FAIR_LOCK).segment().scope());
            ClaimDuringWatch.whileParked(watched::close,
                    () -> FairClosedView.giveBackIdleTake(closed, taken, TimeUnit.MILLISECONDS.toNanos(300)));

            assertThat(first.isAlive()).as("the watched view closed during the watch").isFalse();
            assertThat(block.get(JAVA_LONG, FAIR_WORD_OFFSET)).as("the ticket word: the turn passed on once")
                    .isEqualTo(FairWord.passed(taken));
            assertThat(block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET)).as("the holder field").isZero();
        }
    }

    /**
     * An unlock whose close came before its pass names its thread again ({@link FairClosedView#nameHolderAgain}), but
     * a {@link FairClosedView#giveBackIdleTake} watch of the same turn, past its bound, passed the turn on between
     * that look and the naming (the state here, set by hand: the turn passed, the holder field 0; then a next taker's
     * name in it). Before, the naming was a store: it left this thread's key on the passed turn, so the next idle take
     * whose CAS met a close took that key for another thread's claim and left its turn taken, named by a thread that
     * holds nothing; and it wrote over a next taker's name. Now the name is taken back, and a next taker's stays.
     */
    @Test
    void shouldNotLeaveItsNameOnATurnAWatchPassedOnBeforeTheUnlockNamedItselfAgain() {
        try (Views views = views("named-passed")) {
            MemorySegment block = views.block();
            long held = takeIdleByHand(views.keptLock(), block, 0L); // the holder field as the unlock cleared it
            FairClosedView.nameIfStillTaken(block, held);
            assertThat(block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET)).as("named on its own turn")
                    .isEqualTo(ThreadKeys.current());
            block.set(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET, 0L); // as the unlock cleared it again
            assertThat(FairTurns.passTaken(block, held)).as("passed on by the watch").isTrue();

            FairClosedView.nameIfStillTaken(block, held);
            long left = block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET);
            block.set(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET, 7L); // a next taker's claim
            FairClosedView.nameIfStillTaken(block, held);
            assertThat(block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET)).as("the next taker's name").isEqualTo(7L);

            long next = takeIdleByHand(views.keptLock(), block, left); // the holder field as the naming left it
            views.closing().close();
            FairClosedView.giveBackIdleTake(views.closed(), next, TimeUnit.MILLISECONDS.toNanos(50));
            assertThat(block.get(JAVA_LONG, FAIR_WORD_OFFSET)).as("the next idle take's turn: passed on")
                    .isEqualTo(FairWord.passed(next));
            assertThat(left).as("the holder field the naming left on the passed turn").isZero();
        }
    }

    /**
     * An unlock's naming again whose CAS took effect in a view that then closed runs again in the next open view,
     * where a {@link FairClosedView#giveBackIdleTake} watch had passed the turn on meantime (the state here, set by
     * hand: the turn passed, this thread's key in the holder field). Before, that run found the turn moved on and did
     * nothing: the key stayed, so the next idle take whose CAS met a close took it for another thread's claim and left
     * its turn taken, named by a thread that holds nothing. Now the run takes the name back.
     */
    @Test
    void shouldTakeBackANameFromAClosedViewWhenTheNextViewFindsTheTurnPassed() {
        try (Views views = views("named-closed")) {
            MemorySegment block = views.block();
            long held = takeIdleByHand(views.keptLock(), block, 0L);
            assertThat(FairTurns.passTaken(block, held)).as("passed on by the watch").isTrue();
            block.set(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET, ThreadKeys.current()); // as the naming left it
            views.closing().close();

            FairClosedView.nameHolderAgain(views.closed(), held);
            long left = block.get(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET);
            long next = takeIdleByHand(views.keptLock(), block, left); // the holder field as the naming left it
            FairClosedView.giveBackIdleTake(views.closed(), next, TimeUnit.MILLISECONDS.toNanos(50));
            assertThat(block.get(JAVA_LONG, FAIR_WORD_OFFSET)).as("the next idle take's turn: passed on")
                    .isEqualTo(FairWord.passed(next));
            assertThat(left).as("the holder field the naming left on the passed turn").isZero();
        }
    }

    /**
     * Leaves the fair lock at {@code block} as an uncontended take's CAS through this process's view leaves it: its
     * turn taken with this process's owner bits (learnt by a lock and unlock through {@code lock}), the holder field
     * {@code holderField}, as before the CAS.
     *
     * @return the ticket word the CAS set
     */
    private static long takeIdleByHand(SharedFairLock lock, MemorySegment block, long holderField) {
        lock.lock(); // names this process and leaves the idle word the next take's CAS expects
        long owner = FairWord.owner(block.get(JAVA_LONG, FAIR_WORD_OFFSET));
        lock.unlock();
        long taken = FairWord.takenBy(FairWord.withTicket(block.get(JAVA_LONG, FAIR_WORD_OFFSET)), owner);
        block.set(JAVA_LONG, FAIR_WORD_OFFSET, taken); // as the CAS left it, reported as a close
        block.set(JAVA_LONG, FAIR_OWNER_THREAD_OFFSET, holderField);
        return taken;
    }

    /**
     * The fair lock {@code "lock"} through a kept view of a heap (its block there too) and through a second view,
     * which the test closes; closing this closes the kept one.
     */
    private record Views(SharedHeap kept, SharedFairLock keptLock, MemorySegment block, SharedHeap closing,
                         MemorySegment closed) implements AutoCloseable {
        @Override
        public void close() {
            kept.close();
        }
    }

    private Views views(String label) {
        String name = names.unique(label);
        SharedHeap kept = SharedHeap.create(name, 1 << 20);
        SharedFairLock keptLock = SharedFairLock.openOrCreate(kept, "lock");
        SharedHeap closing = SharedHeap.open(name);
        return new Views(kept, keptLock, kept.lookup("lock", SyncLayout.FAIR_LOCK).segment(), closing,
                closing.lookup("lock", SyncLayout.FAIR_LOCK).segment());
    }
}
