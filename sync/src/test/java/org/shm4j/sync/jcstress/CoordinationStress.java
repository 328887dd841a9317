package org.shm4j.sync.jcstress;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;
import org.openjdk.jcstress.infra.results.I_Result;
import org.openjdk.jcstress.infra.results.ZJ_Result;
import org.openjdk.jcstress.infra.results.ZZ_Result;
import org.shm4j.sync.SharedSemaphore;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedLock;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/** Outcome tables of the coordination types: the semaphore's permit count and the condition's signal/await race. */
public final class CoordinationStress {
    private CoordinationStress() {
    }

    private static MemorySegment memory(long bytes) {
        return StressMemory.allocate(bytes);
    }

    /** Two threads race for the one permit of a semaphore: exactly one gets it. */
    abstract static class OnePermitRace {
        private final SharedSemaphore semaphore;

        OnePermitRace(SharedSemaphore.Kind kind) {
            semaphore = SharedSemaphore.format(memory(SharedSemaphore.requiredBytes()), 0, 1, kind);
        }

        boolean take() {
            return semaphore.tryAcquire();
        }
    }

    /** {@link OnePermitRace} on an unbounded semaphore: one CAS on the count. */
    @JCStressTest
    @Outcome(id = {"true, false", "false, true"}, expect = ACCEPTABLE, desc = "one got the permit")
    @Outcome(expect = FORBIDDEN, desc = "both got it (a permit duplicated), or neither (a permit lost)")
    @State
    public static class OnePermit extends OnePermitRace {
        public OnePermit() {
            super(SharedSemaphore.Kind.UNBOUNDED);
        }

        @Actor
        public void actor1(ZZ_Result r) {
            r.r1 = take();
        }

        @Actor
        public void actor2(ZZ_Result r) {
            r.r2 = take();
        }
    }

    /** {@link OnePermitRace} on an undo semaphore, whose permits are counted per process under its mutex. */
    @JCStressTest
    @Outcome(id = {"true, false", "false, true"}, expect = ACCEPTABLE, desc = "one got the permit")
    @Outcome(expect = FORBIDDEN, desc = "both got it (a permit duplicated), or neither (a permit lost)")
    @State
    public static class OneUndoPermit extends OnePermitRace {
        public OneUndoPermit() {
            super(SharedSemaphore.Kind.UNDO);
        }

        @Actor
        public void actor1(ZZ_Result r) {
            r.r1 = take();
        }

        @Actor
        public void actor2(ZZ_Result r) {
            r.r2 = take();
        }
    }

    /** A release publishes what was written before it to the thread whose acquire gets that permit. */
    @JCStressTest
    @Outcome(id = {"1, 1", "0, 0", "0, 1"}, expect = ACCEPTABLE, desc = "acquired after the release, or not")
    @Outcome(id = "1, 0", expect = FORBIDDEN, desc = "acquired the released permit without seeing the data")
    @State
    public static class ReleasePublishes {
        private final SharedSemaphore semaphore = SharedSemaphore.format(memory(SharedSemaphore.requiredBytes()), 0,
                0, SharedSemaphore.Kind.UNBOUNDED);
        private final SharedLongArray data = SharedLongArray.wrap(memory(64), 0, 1);

        @Actor
        public void releaser() {
            data.setPlain(0, 1);
            semaphore.release();
        }

        @Actor
        public void acquirer(II_Result r) {
            r.r1 = semaphore.tryAcquire() ? 1 : 0;
            r.r2 = (int) data.getPlain(0);
        }
    }

    /** A lock at 0 and its condition at 64 of one segment, and a signal made holding the lock. */
    abstract static class ConditionRace {
        final MemorySegment memory = memory(64 + SharedCondition.requiredBytes());
        final SharedLock lock = SharedLock.wrap(memory, 0);
        final SharedCondition condition = SharedCondition.format(memory, 64, lock);

        /** Holding the lock: runs {@code before}, then signals. */
        void signalAfter(Runnable before) {
            lock.lock();
            try {
                before.run();
                condition.signal();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * A waiter that checks a flag under the lock and awaits the condition, against a signaller that sets the flag
     * under the lock and signals: whatever the interleaving, the waiter sees the flag well within its timeout.
     */
    @JCStressTest
    @Outcome(id = "1", expect = ACCEPTABLE, desc = "the waiter saw the flag")
    @Outcome(id = "0", expect = FORBIDDEN, desc = "a lost wake-up: the waiter timed out")
    @State
    public static class SignalAwait extends ConditionRace {
        private final SharedLongArray flag = SharedLongArray.wrap(memory(64), 0, 1);

        @Actor
        public void waiter(I_Result r) {
            lock.lock();
            try {
                r.r1 = condition.awaitFor(() -> flag.getPlain(0) == 1, 10, TimeUnit.SECONDS) ? 1 : 0;
            } catch (InterruptedException e) {
                r.r1 = -1;
            } finally {
                lock.unlock();
            }
        }

        @Actor
        public void signaller() {
            signalAfter(() -> flag.setPlain(0, 1));
        }
    }

    /**
     * A waiter whose short timed wait races a signal: it returns as signalled or timed out, and either way nothing
     * stays counted in the signal word (no waiter, no token without one; the epoch aside), which a waiter that left
     * without taking the token it was handed, or a signal that counted a waiter already gone, would leave.
     */
    @JCStressTest
    @Outcome(id = {"true, 0", "false, 0"}, expect = ACCEPTABLE, desc = "signalled or timed out; nothing left counted")
    @Outcome(expect = FORBIDDEN, desc = "a waiter or a token left counted")
    @State
    public static class SignalAwaitTimeout extends ConditionRace {
        private static final long COUNTS = ~(0xFFFFL << SyncLayout.condShift(SyncLayout.COND_EPOCH_OFFSET, 2));

        @Actor
        public void waiter(ZJ_Result r) {
            lock.lock();
            try {
                r.r1 = condition.await(20, TimeUnit.MICROSECONDS);
            } catch (InterruptedException e) {
                r.r2 = -1;
            } finally {
                lock.unlock();
            }
        }

        @Actor
        public void signaller() {
            signalAfter(() -> { });
        }

        @Arbiter
        public void counts(ZJ_Result r) {
            if (r.r2 == 0) {
                r.r2 = memory.get(ValueLayout.JAVA_LONG, 64 + SyncLayout.COND_WORD_OFFSET) & COUNTS;
            }
        }
    }
}
