package org.shm4j.sync.jcstress;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;
import org.openjdk.jcstress.infra.results.II_Result;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;

import java.util.concurrent.locks.Lock;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/** Outcome tables of the locks: mutual exclusion and the ordering of the data they guard. */
public final class LocksStress {
    private LocksStress() {
    }

    /** Two threads do a plain read-modify-write under the lock: the lock orders them. */
    abstract static class MutualExclusion {
        private final SharedLongArray value = SharedLongArray.wrap(StressMemory.allocate(64), 0, 1);

        abstract Lock lock();

        int increment() {
            Lock lock = lock();
            lock.lock();
            try {
                long seen = value.getPlain(0);
                value.setPlain(0, seen + 1);
                return (int) seen;
            } finally {
                lock.unlock();
            }
        }

        int total() {
            return (int) value.getPlain(0);
        }
    }

    /** {@link SharedLock}: see {@link MutualExclusion}. */
    @JCStressTest
    @Outcome(id = {"0, 1, 2", "1, 0, 2"}, expect = ACCEPTABLE, desc = "one went first")
    @Outcome(expect = FORBIDDEN, desc = "both were inside at once, or an update was lost")
    @State
    public static class Mutex extends MutualExclusion {
        private final SharedLock lock = SharedLock.wrap(StressMemory.allocate(64), 0);

        @Override
        Lock lock() {
            return lock;
        }

        @Actor
        public void actor1(III_Result r) {
            r.r1 = increment();
        }

        @Actor
        public void actor2(III_Result r) {
            r.r2 = increment();
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r3 = total();
        }
    }

    /** {@link SharedFairLock}: see {@link MutualExclusion}. */
    @JCStressTest
    @Outcome(id = {"0, 1, 2", "1, 0, 2"}, expect = ACCEPTABLE, desc = "one went first")
    @Outcome(expect = FORBIDDEN, desc = "both were inside at once, or an update was lost")
    @State
    public static class Fair extends MutualExclusion {
        private final SharedFairLock lock = SharedFairLock.wrap(StressMemory.allocate(2048), 0);

        @Override
        Lock lock() {
            return lock;
        }

        @Actor
        public void actor1(III_Result r) {
            r.r1 = increment();
        }

        @Actor
        public void actor2(III_Result r) {
            r.r2 = increment();
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r3 = total();
        }
    }

    /**
     * A reader under the read lock sees both fields a writer wrote under the write lock, or neither. The reader's
     * process has not read-locked before, so its read lock follows the checked rule (the writer flag and the word).
     */
    @JCStressTest
    @Outcome(id = {"0, 0", "1, 1"}, expect = ACCEPTABLE, desc = "before or after the write")
    @Outcome(expect = FORBIDDEN, desc = "a torn write")
    @State
    public static class ReadWrite {
        private final GuardedPair pair = new GuardedPair();

        @Actor
        public void writer() {
            pair.write();
        }

        @Actor
        public void reader(II_Result r) {
            pair.read(r);
        }
    }

    /**
     * {@link ReadWrite} with the reader's process announced first (a read lock taken and released before the actors
     * run), so that the reader's lock checks the writer flag its atomic add returns, alone, and its unlock learns from
     * the same add whether to wake the writer.
     */
    @JCStressTest
    @Outcome(id = {"0, 0", "1, 1"}, expect = ACCEPTABLE, desc = "before or after the write")
    @Outcome(expect = FORBIDDEN, desc = "a torn write")
    @State
    public static class ReadWriteAnnounced {
        private final GuardedPair pair = new GuardedPair().announced();

        @Actor
        public void writer() {
            pair.write();
        }

        @Actor
        public void reader(II_Result r) {
            pair.read(r);
        }
    }

    /** Two fields under a read-write lock. */
    private static final class GuardedPair {
        private final SharedReadWriteLock rw = SharedReadWriteLock.wrap(StressMemory.allocate(1024), 0);
        private final SharedLongArray pair = SharedLongArray.wrap(StressMemory.allocate(64), 0, 2);

        /** @return this, after a read lock taken and released: its process is announced as a reader */
        GuardedPair announced() {
            rw.readLock().lock();
            rw.readLock().unlock();
            return this;
        }

        /** Sets both fields to 1 under the write lock. */
        void write() {
            rw.writeLock().lock();
            try {
                pair.setPlain(0, 1);
                pair.setPlain(1, 1);
            } finally {
                rw.writeLock().unlock();
            }
        }

        /** Reads both fields into {@code r} under the read lock. */
        void read(II_Result r) {
            rw.readLock().lock();
            try {
                r.r1 = (int) pair.getPlain(0);
                r.r2 = (int) pair.getPlain(1);
            } finally {
                rw.readLock().unlock();
            }
        }
    }
}
