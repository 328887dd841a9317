package org.shm4j.sync.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;
import static org.shm4j.sync.internal.SyncLayout.LOCK_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_FLAGS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_OWNER_THREAD;
import static org.shm4j.sync.internal.SyncLayout.OWNER_THREAD_PID_SHIFT;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_RECOVERIES;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_SIZE;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WORD;

/**
 * {@link ClosedViewRelease} after a {@link RobustMutex} release met its view closed, one heap open twice in this
 * process (a user lock's mutex, at offset 0 of its block). A close met before the access that frees the word names
 * the releaser again at once and releases through the kept view. The JDK may report a close met at the freeing access
 * after the access took effect, and another thread may then have taken the word through the kept view, not yet named
 * in the owner field (between its CAS and its claim): so there the releaser is named again only once the word stayed
 * this process's, named by no thread, for {@link RobustMutex#SETTLE_NANOS}. Before, every close met in a release
 * named the releaser at once and freed the word: that other thread's hold, so two threads held the mutex. Naming no
 * one there would not do either: the close usually arrives before that access runs, and the word then stayed held by
 * no thread. The view the watch looks through may close too: the watch goes on in a third one, if open. An acquire
 * whose CAS met the close may likewise have taken the word unknown to its call: it is freed once it stayed unnamed.
 */
@Timeout(60)
class ClosedViewReleaseTest {
    /** How long the tests' watches last: longer than a lock call's, so that another thread surely runs meanwhile. */
    private static final long WATCH_NANOS = TimeUnit.SECONDS.toNanos(20);
    /** A pid no process has: above Linux's largest pid_max (2^22). */
    private static final int DEAD_PID = (1 << 22) + 1;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldLeaveAloneAWordAnotherThreadClaimsWhileTheReleaseWatches() throws Exception {
        // this thread's release, its owner field cleared, met the close at the freeing access: it watches the word
        assertLeftToAThreadClaimingDuringTheWatch("freeing", closed -> {
            IllegalStateException met = catchThrowableOfType(IllegalStateException.class,
                    () -> closed.get(JAVA_LONG, MUTEX_WORD));
            ClosedViewRelease.nameHolderOnceSettled(closed, WATCH_NANOS);
            assertThat(ClosedViewRelease.release(closed, false, "the mutex", met))
                    .as("released through the kept view").isFalse();
        });
    }

    /**
     * An acquire that met the close while another thread of this process was between its CAS and its claim: that
     * thread names itself during the watch, and the word is left to it.
     */
    @Test
    void shouldLeaveAloneAWordAnotherThreadClaimsWhileAnAcquireWatches() throws Exception {
        // the acquire's CAS met the close (it did not run)
        assertLeftToAThreadClaimingDuringTheWatch("cas-claimed", closed -> ClosedViewRelease.releaseIfTakenUnnamed(
                closed, 0L, false, "the mutex", WATCH_NANOS, new IllegalStateException("met")));
    }

    /**
     * Another thread takes the word through the kept view and is caught between its CAS and its claim (its owner
     * field 0); this thread, whose view then closed, runs {@code watch} on the mutex in the closed view, and the
     * other thread names itself once this thread parks in the watch: the word must be left to it, unmarked.
     */
    private void assertLeftToAThreadClaimingDuringTheWatch(String label, Consumer<MemorySegment> watch)
            throws Exception {
        try (Views views = views(label)) {
            MemorySegment mutex = views.mutex();
            FutureTask<Boolean> other = new FutureTask<>(() -> RobustMutex.tryAcquire(mutex, 0));
            Thread.ofPlatform().start(other);
            assertThat(other.get(10, TimeUnit.SECONDS)).as("the other thread took the word").isTrue();
            long otherKey = mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD);
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, 0L); // as between its CAS and its claim
            long word = mutex.get(JAVA_LONG, MUTEX_WORD);
            long recoveries = mutex.get(JAVA_LONG, MUTEX_RECOVERIES);
            views.closing().close();
            ClaimDuringWatch.run(mutex, MUTEX_OWNER_THREAD, otherKey, () -> watch.accept(views.closed()));

            assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word, the other thread's").isEqualTo(word);
            assertThat(mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD)).as("the owner field").isEqualTo(otherKey);
            assertThat(mutex.get(JAVA_LONG, MUTEX_RECOVERIES)).as("recoveries").isEqualTo(recoveries);
        }
    }

    @Test
    void shouldNameTheReleaserAgainAndReleaseWhenTheWordSettlesAfterTheFreeingAccess() {
        // the close is met at the freeing access, which did not run: nobody claims the word meanwhile
        assertNamedAgainAndReleased("settled", "the freeing access",
                closed -> RobustMutex.freeCleared(closed, 0, false, "the mutex"));
    }

    @Test
    void shouldNameTheReleaserAgainAndReleaseWhenTheCloseIsMetBeforeTheFreeingAccess() {
        // this thread's release meets the close before the freeing access
        assertNamedAgainAndReleased("clearing", "the clearing phase",
                closed -> RobustMutex.clearOwnerIfLocked(closed, 0));
    }

    /**
     * This thread holds the mutex with its owner field cleared, as its release left it; {@code phase} (a step of that
     * release, through the view then closed) meets the close: the releaser is named again and the mutex released
     * through the kept view, marked.
     */
    private void assertNamedAgainAndReleased(String label, String step, Consumer<MemorySegment> phase) {
        try (Views views = views(label)) {
            MemorySegment mutex = views.mutex();
            assertThat(RobustMutex.tryAcquire(mutex, 0)).as("this thread took the word").isTrue();
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, 0L); // as its release cleared it
            long recoveries = mutex.get(JAVA_LONG, MUTEX_RECOVERIES);
            views.closing().close();

            IllegalStateException met = catchThrowableOfType(IllegalStateException.class,
                    () -> phase.accept(views.closed()));
            assertThat(met).as(step + " met the close").isNotNull();
            boolean released = ClosedViewRelease.release(views.closed(), false, "the mutex", met);

            assertThat(released).as("released through the kept view").isTrue();
            assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word").isZero();
            assertThat(mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD)).as("the owner field").isZero();
            assertThat(mutex.get(JAVA_LONG, MUTEX_RECOVERIES)).as("recoveries: cut short, marked")
                    .isEqualTo(recoveries + 1);
        }
    }

    /**
     * An acquire's watch (its CAS met the close, the word left unnamed) run by an interrupted thread, ended by a claim
     * once seen parked: it parks with the interrupt held back, and sets it again as it ends. Before, the pending
     * interrupt made each park return at once: the watch spun a core through its whole bound.
     */
    @Test
    void shouldParkWithTheInterruptHeldBackWhenAnInterruptedThreadWatches() throws Exception {
        try (Views views = views("interrupted")) {
            MemorySegment mutex = views.mutex();
            assertThat(RobustMutex.tryAcquire(mutex, 0)).as("this thread took the word").isTrue();
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, 0L); // as the CAS left it, before the claim
            long word = mutex.get(JAVA_LONG, MUTEX_WORD);
            views.closing().close();

            boolean parked = InterruptedWatch.parkedHeldBack(() -> mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, 7L),
                    () -> ClosedViewRelease.releaseIfTakenUnnamed(views.closed(), 0L, false, "the mutex",
                            WATCH_NANOS, new IllegalStateException("met")));

            assertThat(parked).as("seen parked in the watch with no interrupt pending").isTrue();
            assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word, left to the claim").isEqualTo(word);
        }
    }

    @Test
    void shouldNameTheReleaserInAThirdViewWhenTheWatchedViewClosesDuringTheWatch() throws Exception {
        String name = names.unique("third");
        SharedHeap watched = SharedHeap.create(name, 1 << 20); // the first view: the one the watch looks through
        SharedLock.openOrCreate(watched, "lock");
        try (SharedHeap kept = SharedHeap.open(name)) {
            SharedHeap closing = SharedHeap.open(name);
            MemorySegment mutex = kept.lookup("lock", SyncLayout.LOCK).segment();
            MemorySegment closed = closing.lookup("lock", SyncLayout.LOCK).segment();
            assertThat(RobustMutex.tryAcquire(mutex, 0)).as("this thread took the word").isTrue();
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, 0L); // as its release cleared it
            Thread releaser = Thread.currentThread();
            AtomicBoolean watchEnded = new AtomicBoolean();
            FutureTask<Boolean> closer = new FutureTask<>(() -> { // closes the watched view once the release watches
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                // parked: in the watch (the release parks nowhere else)
                while (releaser.getState() != Thread.State.TIMED_WAITING && !watchEnded.get()) {
                    assertThat(System.nanoTime() - deadline).as("waited for the release to watch").isNegative();
                    Thread.onSpinWait();
                }
                boolean during = !watchEnded.get();
                watched.close();
                return during;
            });
            closing.close();
            Thread.ofPlatform().start(closer);

            // the freeing access did not run; the view the watch looks through closes meanwhile, a third stays open
            ClosedViewRelease.nameHolderOnceSettled(closed.asSlice(0, MUTEX_SIZE), TimeUnit.SECONDS.toNanos(1));
            watchEnded.set(true);
            assertThat(closer.get(20, TimeUnit.SECONDS)).as("the watched view closed during the watch").isTrue();
            boolean released = ClosedViewRelease.release(closed.asSlice(0, MUTEX_SIZE), false, "the mutex",
                    new IllegalStateException("met"));

            assertThat(released).as("released through the third view").isTrue();
            assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word").isZero();
        }
    }

    /**
     * An acquire whose CAS met the close: the JDK may report it after the CAS took the word, and the call then throws
     * not knowing it took it (here the word is taken by hand, its owner field 0, as that CAS leaves it; the CAS
     * through the closed view then throws). Once the word stayed unnamed for the bound, it is freed through the kept
     * view, not marked. Before, it stayed this process's, named by no thread, for as long as the process kept a view.
     */
    @Test
    void shouldFreeAWordThatAnAcquireWhoseCasMetTheCloseLeftNamedByNoThread() {
        try (Views views = views("cas")) {
            MemorySegment mutex = views.mutex();
            assertThat(RobustMutex.tryAcquire(mutex, 0)).as("this thread took the word").isTrue();
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, 0L); // as the CAS left it, before the claim
            long recoveries = mutex.get(JAVA_LONG, MUTEX_RECOVERIES);
            views.closing().close();

            assertThatThrownBy(() -> RobustMutex.tryAcquire(views.closed(), 0))
                    .as("the acquire through the closed view").isInstanceOf(IllegalStateException.class);

            assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word").isZero();
            assertThat(mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD)).as("the owner field").isZero();
            assertThat(mutex.get(JAVA_LONG, MUTEX_RECOVERIES)).as("recoveries: nothing entered")
                    .isEqualTo(recoveries);
        }
    }

    /**
     * A take-over from a dead owner whose CAS met the close, reported after the CAS took the word: the word is this
     * process's with the waiters bit and the owner field still the dead owner's key, which names no thread here (here
     * both are set by hand; the CAS through the closed view then throws). Once that stayed so for the bound, the word
     * is freed through the kept view, marked for repair as the take-over marks it (the dead owner had entered).
     * Before, nothing watched it: held by no thread of this live process, which no other process takes over.
     */
    @Test
    void shouldFreeMarkedAWordThatATakeOverWhoseCasMetTheCloseLeftNamingTheDeadOwner() {
        try (Views views = views("takeover")) {
            MemorySegment mutex = views.mutex();
            assertThat(RobustMutex.tryAcquire(mutex, 0)).as("this thread took the word").isTrue();
            long taken = mutex.get(JAVA_LONG, MUTEX_WORD) | LOCK_WAITERS; // as the take-over's CAS sets it
            long deadKey = 7L ^ (long) DEAD_PID << OWNER_THREAD_PID_SHIFT; // thread 7 of a dead process
            long deadWord = (long) DEAD_PID | taken & 0xFFFF_FFFF_0000_0000L; // its word: entering bit clear
            mutex.set(JAVA_LONG, MUTEX_WORD, taken);
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, deadKey);
            long recoveries = mutex.get(JAVA_LONG, MUTEX_RECOVERIES);
            views.closing().close();

            assertThatThrownBy(() -> RobustMutex.takeOver(views.closed(), deadWord, deadKey, 0L, "the mutex"))
                    .as("the take-over's CAS through the closed view").isInstanceOf(IllegalStateException.class);

            assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word").isZero();
            assertThat(mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD)).as("the owner field").isZero();
            assertThat(mutex.get(JAVA_INT, MUTEX_FLAGS) & LOCK_OWNER_DIED).as("marked for repair")
                    .isEqualTo(LOCK_OWNER_DIED);
            assertThat(mutex.get(JAVA_LONG, MUTEX_RECOVERIES)).as("recoveries: a take-over")
                    .isEqualTo(recoveries + 1);
        }
    }

    /**
     * This thread's CAS took the word and its claim met the close ({@link ClosedViewRelease#releaseTaken}), but a
     * watch of the same word in another thread (a release or acquire cut short by the same close, past its bound)
     * named that thread first: the word is left to it, its name kept. Before, releaseTaken stored this thread's key
     * over it and freed the word that the other thread took for its own. Where the field is as the CAS left it (0),
     * or the claim's store ran, the word is this thread's, recorded and freed.
     */
    @Test
    void shouldLeaveToAWatcherThatNamedItselfTheWordAClaimCutShortTook() throws Exception {
        try (Views views = views("taken-named")) {
            MemorySegment mutex = views.mutex();
            FutureTask<Boolean> other = new FutureTask<>(() -> RobustMutex.tryAcquire(mutex, 0));
            Thread.ofPlatform().start(other);
            assertThat(other.get(10, TimeUnit.SECONDS)).as("the other thread took the word").isTrue();
            long word = mutex.get(JAVA_LONG, MUTEX_WORD); // this process's, as this thread's CAS left it
            long otherKey = mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD); // as the other thread's watch named it
            views.closing().close();

            assertThat(ClosedViewRelease.releaseTaken(views.closed(), 0L, "the mutex", false,
                    new IllegalStateException("met"))).as("released").isFalse();
            assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word, the other thread's").isEqualTo(word);
            assertThat(mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD)).as("the owner field").isEqualTo(otherKey);

            for (boolean claimRan : new boolean[] {false, true}) {
                mutex.set(JAVA_LONG, MUTEX_WORD, 0L);
                mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, 0L);
                assertThat(RobustMutex.tryAcquire(mutex, 0)).as("this thread took the word").isTrue();
                if (!claimRan) {
                    mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, 0L); // as the CAS left it, before the claim
                }
                assertThat(ClosedViewRelease.releaseTaken(views.closed(), 0L, "the mutex", false,
                        new IllegalStateException("met"))).as("released, claim ran: " + claimRan).isTrue();
                assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word").isZero();
                assertThat(mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD)).as("the owner field").isZero();
            }
        }
    }

    /**
     * A claim cut short whose thread ran {@link ClosedViewRelease#releaseTaken} only after a watch of the same word
     * named its own thread and released (the word free, the field 0 again, as this test sets them): releaseTaken's
     * CAS from 0 names this thread on a free word and frees nothing. Before, that name stayed there, so the next take
     * whose claim a close cut short (another thread's, its CAS from 0 failing on the stale name) left the word taken
     * and named by a thread that holds nothing: held until this process closed its last view. Now the name is taken
     * back: the field is 0 again, and that next take is recorded and freed.
     */
    @Test
    void shouldNotLeaveItsNameOnAWordAWatcherFreedMeantime() throws Exception {
        try (Views views = views("taken-freed")) {
            MemorySegment mutex = views.mutex();
            views.closing().close();
            assertThat(ClosedViewRelease.releaseTaken(views.closed(), 0L, "the mutex", false,
                    new IllegalStateException("met"))).as("released: the word is free").isFalse();
            assertNextTakeCutShortFreed(views, "releaseTaken");
        }
    }

    /**
     * A watch of a word (a release's or an acquire's, cut short by a close) whose naming CAS from 0 ran only after
     * another thread's watch of the same word, past its bound, named its own thread and freed the word, between the
     * first watch's last look and that CAS (the state here, set by hand: the word free, the owner field 0). The
     * acquire's watch ({@link ClosedViewRelease#releaseIfTakenUnnamed}) then named its thread and found nothing to
     * release ({@link ClosedViewRelease#releaseNamed}); the release's ({@link ClosedViewRelease#nameIfStillHeld})
     * named it on the free word. Before, the name stayed there in both, and the next take whose claim a close cut short
     * failed its CAS from 0 on it and left the word taken, named by a thread that holds nothing: held until this
     * process closed its last view. Now each takes its name back, and that next take is recorded and freed.
     */
    @Test
    void shouldNotLeaveAWatchsNameOnAWordAnotherWatchFreedBeforeItsNaming() throws Exception {
        try (Views views = views("watch-freed")) {
            MemorySegment mutex = views.mutex();
            views.closing().close();
            long me = ThreadKeys.current();
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, me); // the acquire's watch's naming CAS, from 0 on the free word
            assertThat(ClosedViewRelease.releaseNamed(mutex, me, "the mutex", false,
                    new IllegalStateException("met"))).as("released: the word is free").isFalse();
            assertNextTakeCutShortFreed(views, "the acquire's watch");

            ClosedViewRelease.nameIfStillHeld(mutex); // the release's watch found the word held before it was freed
            assertNextTakeCutShortFreed(views, "the release's watch");
        }
    }

    /**
     * A release's watch whose naming CAS took effect in a view that then closed (a close reported after the access,
     * or met at the look at the word after it) runs again in the next open view, where the word was freed meantime by
     * another thread's watch (the state here, set by hand: the word free, this thread's key in the owner field).
     * Before, that run found the word not this process's and did nothing: the name stayed on the free word, and the
     * next take whose claim a close cut short failed its CAS from 0 on it and left the word taken, named by a thread
     * that holds nothing. Now the run takes the name back; on a word still held it stays (the releaser's hold).
     */
    @Test
    void shouldTakeBackANameFromAClosedViewWhenTheNextViewFindsTheWordFree() throws Exception {
        try (Views views = views("named-closed")) {
            MemorySegment mutex = views.mutex();
            views.closing().close();
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, ThreadKeys.current()); // as the naming in the closed view left it
            ClosedViewRelease.nameHolderAgain(views.closed());
            assertNextTakeCutShortFreed(views, "nameHolderAgain in the next view");

            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, ThreadKeys.current());
            ClosedViewRelease.nameHolderOnceSettled(views.closed(), WATCH_NANOS); // the word free: returns at once
            assertNextTakeCutShortFreed(views, "nameHolderOnceSettled in the next view");

            assertThat(RobustMutex.tryAcquire(mutex, 0)).as("this thread took the word").isTrue();
            ClosedViewRelease.nameHolderAgain(views.closed());
            assertThat(RobustMutex.isHeldByCurrentThread(mutex, 0)).as("a held word: still named").isTrue();
            RobustMutex.release(mutex, 0, false, "the mutex");
        }
    }

    /**
     * Another thread's take of the free mutex whose claim a close cut short, its owner field as {@code leftBy} left
     * it: its {@link ClosedViewRelease#releaseTaken} must record and free it, and that field must have been 0.
     */
    private static void assertNextTakeCutShortFreed(Views views, String leftBy) throws Exception {
        MemorySegment mutex = views.mutex();
        long left = mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD);
        FutureTask<Boolean> next = new FutureTask<>(() -> {
            boolean took = RobustMutex.tryAcquire(mutex, 0);
            mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, left); // as its CAS left it: the claim met the close
            return took && ClosedViewRelease.releaseTaken(views.closed(), 0L, "the mutex", false,
                    new IllegalStateException("met"));
        });
        Thread.ofPlatform().start(next);
        assertThat(next.get(10, TimeUnit.SECONDS)).as("the next take after " + leftBy + ", recorded and freed")
                .isTrue();
        assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word").isZero();
        assertThat(left).as("the owner field " + leftBy + " left on the free word").isZero();
    }

    /** An acquire that met the close while another thread held the word, named: the word is that thread's still. */
    @Test
    void shouldLeaveAloneAWordAnotherThreadHoldsWhenAnAcquireMeetsTheClose() throws Exception {
        try (Views views = views("cas-held")) {
            MemorySegment mutex = views.mutex();
            FutureTask<Boolean> other = new FutureTask<>(() -> RobustMutex.tryAcquire(mutex, 0));
            Thread.ofPlatform().start(other);
            assertThat(other.get(10, TimeUnit.SECONDS)).as("the other thread took the word").isTrue();
            long word = mutex.get(JAVA_LONG, MUTEX_WORD);
            long otherKey = mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD);
            views.closing().close();

            assertThatThrownBy(() -> RobustMutex.tryAcquire(views.closed(), 0))
                    .as("the acquire through the closed view").isInstanceOf(IllegalStateException.class);

            assertThat(mutex.get(JAVA_LONG, MUTEX_WORD)).as("the word, the other thread's").isEqualTo(word);
            assertThat(mutex.get(JAVA_LONG, MUTEX_OWNER_THREAD)).as("the owner field").isEqualTo(otherKey);
        }
    }

    /**
     * A lock's mutex (its 40 bytes at offset 0 of its block) through a kept view of a heap and through a second view,
     * which the test closes; closing this closes the kept one.
     */
    private record Views(SharedHeap kept, MemorySegment mutex, SharedHeap closing, MemorySegment closed)
            implements AutoCloseable {
        @Override
        public void close() {
            kept.close();
        }
    }

    private Views views(String label) {
        String name = names.unique(label);
        SharedHeap kept = SharedHeap.create(name, 1 << 20);
        SharedLock.openOrCreate(kept, "lock");
        SharedHeap closing = SharedHeap.open(name);
        return new Views(kept, kept.lookup("lock", SyncLayout.LOCK).segment().asSlice(0, MUTEX_SIZE), closing,
                closing.lookup("lock", SyncLayout.LOCK).segment().asSlice(0, MUTEX_SIZE));
    }
}
