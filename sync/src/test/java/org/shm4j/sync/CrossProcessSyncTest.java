package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.internal.Futex;
import org.shm4j.sync.internal.Membarrier;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.LockOwner;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.Children.runAll;
import static org.shm4j.sync.locks.WakeWords.awaitSleepers;
import static org.shm4j.sync.locks.WakeWords.sleepers;
import static org.shm4j.sync.locks.WakeWords.wakeSequence;

/** Values and locks shared by real child JVMs, including children killed with SIGKILL while holding a lock. */
class CrossProcessSyncTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldUseFutexInTheseTests() {
        assertThat(Futex.isAvailable()).as("tests run with --enable-native-access on Linux").isTrue();
    }

    @Test
    void shouldReleaseLocksWithAStoreInTheseTests() {
        assertThat(Membarrier.isAvailable()).as("membarrier on this Linux: %s", Membarrier.fallbackReason())
                .isTrue();
    }

    @Test
    void shouldCountExactlyUnderTheLockWhenSomeProcessesReleaseWithACas() throws Exception {
        String heapName = names.unique("mixed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong counter = SharedLong.create(heap, "counter", 0, true);
            // two release with a store (membarrier), two with a CAS, all blocking on each other many times
            runAll(4, i -> ChildJvm.start(i % 2 == 0 ? List.of() : List.of("-Dshm4j.membarrier=false"),
                    Worker.class, heapName, "locked", "20000", "1"));
            assertThat(counter.get()).isEqualTo(4 * 20_000L);
            assertThat(counter.lock().isConsistent()).isTrue();
        }
    }

    @Test
    void shouldCountExactlyWithGetAndAddFromThreeProcesses() throws Exception {
        String heapName = names.unique("atomic");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong counter = SharedLong.create(heap, "counter");
            runAll(3, i -> ChildJvm.start(Worker.class, heapName, "atomic", "200000", Integer.toString(i)));
            assertThat(counter.get()).isEqualTo(3 * 200_000L);
        }
    }

    @Test
    void shouldCountExactlyUnderTheLockLikeThePythonDocsExample() throws Exception {
        String heapName = names.unique("locked");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong counter = SharedLong.create(heap, "counter", 0, true);
            int workers = 5;
            runAll(workers, i -> ChildJvm.start(Worker.class, heapName, "locked", "20000", Integer.toString(i + 1)));
            long sumOfIndices = workers * (workers + 1) / 2;
            assertThat(counter.get()).isEqualTo(20_000L * sumOfIndices);
            assertThat(counter.lock().isConsistent()).isTrue();
        }
    }

    @Test
    void shouldUpdateArrayElementsExactlyFromThreeProcesses() throws Exception {
        String heapName = names.unique("array");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLongArray array = SharedLongArray.create(heap, "array", 64);
            runAll(3, i -> ChildJvm.start(ArrayWorker.class, heapName, "64000", Integer.toString(i + 1)));
            for (int i = 0; i < 64; i++) {
                assertThat(array.get(i)).as("element %d", i).isEqualTo(1000L * (1 + 2 + 3));
            }
        }
    }

    @Test
    void shouldTakeOverTheLockOfAChildKilledWhileHoldingIt() throws Exception {
        String heapName = names.unique("killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong counter = SharedLong.create(heap, "counter", 0, true);
            SharedLock lock = counter.lock();
            long childPid;
            try (ChildJvm child = ChildJvm.start(Holder.class, heapName)) {
                child.awaitLine("HOLDING", BOUND);
                childPid = child.pid();
                assertThat(lock.owner()).get().extracting(LockOwner::pid).isEqualTo(childPid);
                child.kill();
            }
            long start = System.nanoTime();
            lock.lock(Duration.ofSeconds(10));
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            assertThat(lock.isConsistent()).as("owner died: data marked inconsistent").isFalse();
            assertThat(lock.recoveries()).isEqualTo(1);
            assertThat(counter.getPlain()).as("the half-done update the child made").isEqualTo(-1);
            counter.setPlain(0); // repair
            lock.markConsistent();
            lock.unlock();
            assertThat(lock.isConsistent()).isTrue();
            runAll(2, i -> ChildJvm.start(Worker.class, heapName, "locked", "10000", "1"));
            assertThat(counter.get()).isEqualTo(20_000L);
        }
    }

    @Test
    void shouldWakeTheNextWaiterAfterAWaiterWasKilledWhileBlocked() throws Exception {
        String heapName = names.unique("killed-waiter");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            MemorySegment raw = heap.find("lock").orElseThrow().segment();
            lock.lock();
            try (ChildJvm child = ChildJvm.start(Waiter.class, heapName)) {
                child.awaitLine("WAITING", BOUND);
                awaitSleepers(raw, 1, BOUND);
                child.kill();
            }
            assertThat(sleepers(raw)).as("the killed waiter stays counted").isEqualTo(1);
            lock.unlock(); // its bit is on the hold: a wake, for nobody
            assertThat(sleepers(raw)).as("the kernel woke nobody: the count stays (a waker takes only those it woke)")
                    .isEqualTo(1);
            int sequence = wakeSequence(raw);
            for (int i = 0; i < 10_000; i++) {
                lock.lock();
                lock.unlock();
            }
            int wakes = (wakeSequence(raw) - sequence) & 0xFFFF; // each wake moves the 16-bit sequence once
            assertThat(wakes).as("wakes for nobody in 10,000 unlocks: at most one per 100 µs, not one per unlock")
                    .isLessThan(1_000);
            assertThat(SharedLock.open(heap, "lock").tryLock()).as("opens and locks").isTrue();
            try (ChildJvm child = ChildJvm.start(Waiter.class, heapName)) {
                child.awaitLine("WAITING", BOUND);
                awaitSleepers(raw, 1, BOUND);
                long start = System.nanoTime();
                lock.unlock();
                child.awaitLine("ACQUIRED", BOUND);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
                child.awaitSuccess(BOUND);
            }
            assertThat(sleepers(raw)).as("the live waiter's count taken by its waker, the dead one's left")
                    .isEqualTo(1);
            assertThat(lock.tryLock()).isTrue();
            lock.unlock();
        }
    }

    @Test
    void shouldLetABlockedWaiterTakeOverFromAHolderKilledWhileItSlept() throws Exception {
        String heapName = names.unique("killed-holder");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong counter = SharedLong.create(heap, "counter", 0, true);
            SharedLock lock = counter.lock();
            MemorySegment raw = heap.blocks().stream().filter(b -> b.type().tag() == SyncLayout.LOCK.tag())
                    .findFirst().orElseThrow().segment();
            try (ChildJvm child = ChildJvm.start(Holder.class, heapName)) {
                child.awaitLine("HOLDING", BOUND);
                AtomicBoolean tookOver = new AtomicBoolean();
                Thread waiter = Thread.ofPlatform().start(() -> {
                    try {
                        lock.lock(BOUND); // blocks, counted in the wake word, until the holder dies
                    } catch (InterruptedException e) {
                        return;
                    }
                    tookOver.set(!lock.isConsistent());
                    lock.markConsistent();
                    lock.unlock();
                });
                awaitSleepers(raw, 1, BOUND);
                child.kill();
                assertThat(waiter.join(BOUND)).as("the waiter took the lock over").isTrue();
                assertThat(tookOver).isTrue();
            }
            assertThat(sleepers(raw)).as("the waiter took its count back").isZero();
            assertThat(lock.recoveries()).isEqualTo(1);
        }
    }

    @Test
    void shouldCountExactlyUnderTheFairLockFromThreeProcesses() throws Exception {
        String heapName = names.unique("fair");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong counter = SharedLong.create(heap, "counter");
            SharedFairLock.create(heap, "fair");
            runAll(3, i -> ChildJvm.start(FairWorker.class, heapName, "5000"));
            assertThat(counter.get()).isEqualTo(15_000);
        }
    }

    @Test
    void shouldTakeOverTheFairLockOfAKilledHolderAndSkipAKilledWaiter() throws Exception {
        String heapName = names.unique("fair-killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedFairLock lock = SharedFairLock.create(heap, "fair");
            try (ChildJvm holder = ChildJvm.start(FairHolder.class, heapName)) {
                holder.awaitLine("HOLDING", BOUND);
                try (ChildJvm waiter = ChildJvm.start(FairHolder.class, heapName)) {
                    long deadline = System.nanoTime() + BOUND.toNanos();
                    while (lock.queueLength() < 2) { // the second child has its ticket and waits
                        assertThat(System.nanoTime()).isLessThan(deadline);
                        Thread.onSpinWait();
                    }
                    assertThat(lock.owner()).get().extracting(LockOwner::pid).isEqualTo(holder.pid());
                    waiter.kill();
                    holder.kill();
                }
            }
            assertThat(lock.tryLock(10, TimeUnit.SECONDS)).as("the dead holder and the dead waiter are skipped")
                    .isTrue();
            assertThat(lock.isConsistent()).isFalse();
            assertThat(lock.recoveries()).isEqualTo(1);
            lock.markConsistent();
            lock.unlock();
            assertThat(lock.queueLength()).isZero();
        }
    }

    @Test
    void shouldNeverShowReadersATornWriteFromAnotherProcess() throws Exception {
        String heapName = names.unique("torn");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            SharedLongArray record = SharedLongArray.create(heap, "record", 16);
            long torn = 0;
            long reads = 0;
            try (ChildJvm writer = ChildJvm.start(RecordWriter.class, heapName, "20000")) {
                writer.awaitLine("STARTED", BOUND);
                long deadline = System.nanoTime() + BOUND.toNanos();
                long last = 0;
                while (last < 20_000) {
                    assertThat(System.nanoTime()).as("writer finished in time").isLessThan(deadline);
                    rw.readLock().lock();
                    try {
                        last = record.getPlain(0);
                        for (int i = 1; i < 16; i++) {
                            torn += record.getPlain(i) != last ? 1 : 0;
                        }
                    } finally {
                        rw.readLock().unlock();
                    }
                    reads++;
                }
                writer.awaitSuccess(BOUND);
            }
            assertThat(torn).as("torn records in %d reads", reads).isZero();
            assertThat(rw.readerPids()).isEmpty();
        }
    }

    @Test
    void shouldRecoverAReadWriteLockWhoseWriterWasKilled() throws Exception {
        String heapName = names.unique("rw-writer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            try (ChildJvm child = ChildJvm.start(RwHolder.class, heapName, "write")) {
                child.awaitLine("HOLDING", BOUND);
                assertThat(rw.writer()).get().extracting(LockOwner::pid).isEqualTo(child.pid());
                assertThat(rw.writeLock().toString()).startsWith("read-write lock 'rw' (write) held by pid "
                        + child.pid() + ", thread ");
                child.kill();
            }
            assertThat(rw.readLock().tryLock(10, TimeUnit.SECONDS)).as("a reader gets in after the writer died")
                    .isTrue();
            assertThat(rw.isConsistent()).isFalse();
            rw.readLock().unlock();
            assertThat(rw.writeLock().tryLock(10, TimeUnit.SECONDS)).isTrue();
            rw.markConsistent();
            rw.writeLock().unlock();
            assertThat(rw.isConsistent()).isTrue();
            assertThat(rw.recoveries()).isEqualTo(1);
        }
    }

    @Test
    void shouldDropTheReadHoldsOfAKilledReader() throws Exception {
        String heapName = names.unique("rw-reader");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            try (ChildJvm child = ChildJvm.start(RwHolder.class, heapName, "read")) {
                child.awaitLine("HOLDING", BOUND);
                assertThat(rw.readerPids()).containsExactly(child.pid());
                assertThat(rw.readLock()).hasToString("read-write lock 'rw' (read) held by pids [" + child.pid() + "]");
                assertThat(rw.writeLock().tryLock(100, TimeUnit.MILLISECONDS)).isFalse();
                child.kill();
            }
            assertThat(rw.writeLock().tryLock(10, TimeUnit.SECONDS)).as("the writer gets in after the reader died")
                    .isTrue();
            assertThat(rw.isConsistent()).as("a dead reader changed nothing").isTrue();
            rw.writeLock().unlock();
            assertThat(rw.readerPids()).isEmpty();
        }
    }

    @Test
    void shouldWakeABlockedWaiterInAnotherProcessWithoutBurningCpu() throws Exception {
        assertBlockedWaiterWakes(List.of(), 250);
    }

    @Test
    void shouldWakeABlockedWaiterWithoutFutexToo() throws Exception {
        assertBlockedWaiterWakes(List.of("-Dshm4j.futex=false"), 250);
    }

    private void assertBlockedWaiterWakes(List<String> jvmOptions, long maxCpuMillis) throws Exception {
        String heapName = names.unique("blocked");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            lock.lock();
            try (ChildJvm child = ChildJvm.start(jvmOptions, Waiter.class, heapName)) {
                child.awaitLine("WAITING", BOUND);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (lock.owner().orElseThrow().heldSince().isEmpty()) { // the child has spun and now blocks
                    assertThat(System.nanoTime()).isLessThan(deadline);
                    Thread.onSpinWait();
                }
                Thread.sleep(1000); // the measured window: the child stays blocked for a second
                lock.unlock();
                String acquired = child.awaitLine("ACQUIRED", BOUND);
                long cpuMillis = Long.parseLong(acquired.split(" ")[1]);
                System.out.println("blocked waiter " + jvmOptions + " used " + cpuMillis + " ms CPU");
                assertThat(cpuMillis).as("CPU ms the waiter used while blocked for about 1 s").isLessThan(maxCpuMillis);
                child.awaitSuccess(BOUND);
            }
        }
    }

    /** {@code main(heap, "atomic"|"locked", count, addend)}: adds {@code addend} {@code count} times. */
    public static final class Worker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLong counter = SharedLong.open(heap, "counter");
                int count = Integer.parseInt(args[2]);
                long addend = Long.parseLong(args[3]);
                for (int i = 0; i < count; i++) {
                    if (args[1].equals("atomic")) {
                        counter.getAndAdd(1);
                    } else {
                        counter.withLock(v -> v + addend); // a plain read-modify-write under the lock
                    }
                }
            }
        }
    }

    /** {@code main(heap, count, addend)}: adds {@code addend} to element {@code i % length}, {@code count} times. */
    public static final class ArrayWorker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLongArray array = SharedLongArray.open(heap, "array");
                int count = Integer.parseInt(args[1]);
                long addend = Long.parseLong(args[2]);
                for (int i = 0; i < count; i++) {
                    array.getAndAdd(i % array.length(), addend);
                }
            }
        }
    }

    /** {@code main(heap, count)}: adds 1 to the counter {@code count} times under the fair lock, plainly. */
    public static final class FairWorker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLong counter = SharedLong.open(heap, "counter");
                SharedFairLock lock = SharedFairLock.open(heap, "fair");
                for (int i = Integer.parseInt(args[1]); i > 0; i--) {
                    lock.lock();
                    try {
                        counter.setPlain(counter.getPlain() + 1);
                    } finally {
                        lock.unlock();
                    }
                }
            }
        }
    }

    /** {@code main(heap)}: takes (or queues for) the fair lock and waits to be killed. */
    public static final class FairHolder {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedFairLock.open(heap, "fair").lock();
                System.out.println("HOLDING");
                System.out.flush();
                Thread.sleep(TimeUnit.SECONDS.toMillis(90)); // killed long before this ends
            }
        }
    }

    /** {@code main(heap, count)}: writes {@code count} records of 16 equal longs under the write lock. */
    public static final class RecordWriter {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedReadWriteLock rw = SharedReadWriteLock.open(heap, "rw");
                SharedLongArray record = SharedLongArray.open(heap, "record");
                System.out.println("STARTED");
                System.out.flush();
                long count = Long.parseLong(args[1]);
                for (long k = 1; k <= count; k++) {
                    rw.writeLock().lock();
                    try {
                        for (int i = 0; i < 16; i++) {
                            record.setPlain(i, k);
                        }
                    } finally {
                        rw.writeLock().unlock();
                    }
                }
            }
        }
    }

    /** {@code main(heap, "read"|"write")}: takes that side of the read-write lock and waits to be killed. */
    public static final class RwHolder {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedReadWriteLock rw = SharedReadWriteLock.open(heap, "rw");
                (args[1].equals("read") ? rw.readLock() : rw.writeLock()).lock();
                System.out.println("HOLDING");
                System.out.flush();
                Thread.sleep(TimeUnit.SECONDS.toMillis(90)); // killed long before this ends
            }
        }
    }

    /** {@code main(heap)}: takes the counter's lock, leaves the counter half-updated, and waits to be killed. */
    public static final class Holder {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLong counter = SharedLong.open(heap, "counter");
                counter.lock().lock();
                counter.setPlain(-1);
                System.out.println("HOLDING");
                System.out.flush();
                Thread.sleep(TimeUnit.SECONDS.toMillis(90)); // killed long before this ends
            }
        }
    }

    /** {@code main(heap)}: blocks on the lock and prints the CPU time its process used until it got it. */
    public static final class Waiter {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock lock = SharedLock.open(heap, "lock");
                System.out.println("WAITING");
                System.out.flush();
                Duration cpuBefore = processCpu();
                lock.lock();
                long cpuMillis = processCpu().minus(cpuBefore).toMillis(); // all threads: an upper bound
                lock.unlock();
                System.out.println("ACQUIRED " + cpuMillis);
            }
        }

        private static Duration processCpu() {
            return ProcessHandle.current().info().totalCpuDuration().orElseThrow();
        }
    }
}
