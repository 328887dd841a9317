package org.shm4j.sync.jcstress;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;
import org.openjdk.jcstress.infra.results.II_Result;
import org.openjdk.jcstress.infra.results.ZZ_Result;
import org.shm4j.sync.atomic.SharedDouble;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.atomic.SharedLong;

import java.lang.foreign.MemorySegment;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/** Outcome tables of the atomic views' read-modify-write and release/acquire operations. */
public final class AtomicViewsStress {
    private AtomicViewsStress() {
    }

    private static MemorySegment memory() {
        return StressMemory.allocate(128);
    }

    /** Two {@code getAndAdd(1)} on one {@link SharedLong}: each sees a different value, the sum is 2. */
    @JCStressTest
    @Outcome(id = {"0, 1, 2", "1, 0, 2"}, expect = ACCEPTABLE, desc = "one went first")
    @Outcome(expect = FORBIDDEN, desc = "both saw the same value, or an add was lost")
    @State
    public static class GetAndAdd {
        private final SharedLong value = SharedLong.wrap(memory(), 0);

        @Actor
        public void actor1(III_Result r) {
            r.r1 = (int) value.getAndAdd(1);
        }

        @Actor
        public void actor2(III_Result r) {
            r.r2 = (int) value.getAndAdd(1);
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r3 = (int) value.get();
        }
    }

    /** Two {@code compareAndSet(0, id)} on one {@link SharedInt}: exactly one wins. */
    @JCStressTest
    @Outcome(id = {"true, false", "false, true"}, expect = ACCEPTABLE, desc = "exactly one CAS won")
    @Outcome(expect = FORBIDDEN, desc = "both or neither won")
    @State
    public static class CompareAndSet {
        private final SharedInt value = SharedInt.wrap(memory(), 0);

        @Actor
        public void actor1(ZZ_Result r) {
            r.r1 = value.compareAndSet(0, 1);
        }

        @Actor
        public void actor2(ZZ_Result r) {
            r.r2 = value.compareAndSet(0, 2);
        }
    }

    /** Two {@code addAndGet(1.0)} on one {@link SharedDouble}: no add is lost. */
    @JCStressTest
    @Outcome(id = {"1, 2", "2, 1"}, expect = ACCEPTABLE, desc = "one went first")
    @Outcome(expect = FORBIDDEN, desc = "an add was lost")
    @State
    public static class DoubleAdd {
        private final SharedDouble value = SharedDouble.wrap(memory(), 0);

        @Actor
        public void actor1(II_Result r) {
            r.r1 = (int) value.addAndGet(1.0);
        }

        @Actor
        public void actor2(II_Result r) {
            r.r2 = (int) value.addAndGet(1.0);
        }
    }

    /** A plain write published by {@code setRelease} is seen by the reader that sees the flag with acquire. */
    @JCStressTest
    @Outcome(id = {"0, 0", "0, 42", "1, 42"}, expect = ACCEPTABLE, desc = "flag not seen yet, or data seen")
    @Outcome(id = "1, 0", expect = FORBIDDEN, desc = "flag seen without the data it publishes")
    @State
    public static class ReleaseAcquire {
        private final MemorySegment memory = memory();
        private final SharedLong data = SharedLong.wrap(memory, 0);
        private final SharedLong flag = SharedLong.wrap(memory, 64);

        @Actor
        public void writer() {
            data.setPlain(42);
            flag.setRelease(1);
        }

        @Actor
        public void reader(II_Result r) {
            r.r1 = (int) flag.getAcquire();
            r.r2 = (int) data.getPlain();
        }
    }
}
