package org.shm4j.sync.internal;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;
import org.shm4j.sync.jcstress.StressMemory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_OWNER_THREAD;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_SLEEPERS_MASK;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WAKES;

/**
 * The race a mutex released with a store instead of a CAS leaves to its sleepers ({@link RobustMutex#ASYMMETRIC}): the
 * holder releases through the real {@link RobustMutex#release} while a waiter counts itself in the wake word (the
 * counting CAS of {@link WakeWord#sleep}; its waiters bit, which a release may overwrite, is left out), calls {@link
 * Membarrier#barrier()} and takes the real step that decides whether it may sleep long ({@link
 * RobustMutex#isHeldAnnounced}). If it would sleep, the release must have read the count and moved the wake sequence.
 * The arbiter reports whether the sequence moved. Without the barrier, the forbidden outcome shows: the release's read
 * of the wake word passes its store in the CPU. With the global command alone (before {@link Membarrier} added the
 * private one), it showed once in 9 to 120 million samples: the kernel skipped the holder's CPU (see {@link
 * Membarrier}).
 */
@JCStressTest
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "the waiter saw the release; the releaser saw no waiter")
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "the waiter saw the release, and was woken too (spare)")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the waiter would sleep; the release woke it")
@Outcome(id = "1, 0", expect = FORBIDDEN, desc = "lost wake-up: the waiter would sleep through the release")
@State
public class MutexWakeStress {
    private static final VarHandle WAKES = JAVA_INT.varHandle();

    private final MemorySegment mutex = StressMemory.allocate(SyncLayout.MUTEX_SIZE);

    public MutexWakeStress() {
        if (!RobustMutex.ASYMMETRIC) {
            throw new IllegalStateException("mutexes release with a CAS here: " + Membarrier.fallbackReason());
        }
        if (!RobustMutex.tryAcquire(mutex, 0)) {
            throw new IllegalStateException("a new mutex was held");
        }
    }

    @Actor
    public void holder() {
        mutex.set(JAVA_LONG, MUTEX_OWNER_THREAD, ThreadKeys.current()); // it locked in this thread
        RobustMutex.release(mutex, 0, false, "stress mutex");
    }

    @Actor
    public void waiter(II_Result r) {
        WAKES.compareAndSet(mutex, MUTEX_WAKES, 0, 1); // volatile, as in WakeWord.sleep: counted in sequence 0
        if (!Membarrier.barrier()) { // every release before this is visible; every one after reads the count
            throw new IllegalStateException("membarrier failed");
        }
        r.r1 = RobustMutex.isHeldAnnounced(mutex, 0) ? 1 : 0;
    }

    @Arbiter
    public void sequenceMoved(II_Result r) {
        r.r2 = (mutex.get(JAVA_INT, MUTEX_WAKES) & ~MUTEX_SLEEPERS_MASK) != 0 ? 1 : 0;
    }

    /**
     * A sleeper whose wait ended without a wake (timed out, or the word changed) takes its count back
     * ({@link WakeWord#uncount}) while a releaser wakes through the real {@link WakeWord#wakeAfterRelease}, which
     * moves the sequence and takes off only the count of those the kernel woke (none here): the count ends at 0,
     * never below (a borrow from the sequence) or above, and the sequence moved once.
     */
    @JCStressTest
    @Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "one count taken back, the sequence moved once")
    @Outcome(expect = FORBIDDEN, desc = "the count was taken twice or kept, or the sequence broken")
    @State
    public static class Uncount {
        private final MemorySegment mutex = StressMemory.allocate(SyncLayout.MUTEX_SIZE);

        public Uncount() {
            mutex.set(JAVA_INT, MUTEX_WAKES, 1); // one sleeper counted in sequence 0
        }

        @Actor
        public void releaser() {
            WakeWord.wakeAfterRelease(mutex, 0, false);
        }

        @Actor
        public void sleeper() {
            WakeWord.uncount(mutex, 0);
        }

        @Arbiter
        public void arbiter(II_Result r) {
            int wakes = mutex.get(JAVA_INT, MUTEX_WAKES);
            r.r1 = wakes & MUTEX_SLEEPERS_MASK;
            r.r2 = wakes / SyncLayout.MUTEX_WAKE_SEQ_ONE;
        }
    }
}
