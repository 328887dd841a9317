package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.BarrierGenerations;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.sync.tools.Shm4j;
import org.shm4j.testing.Await;
import org.shm4j.testing.ShmNames;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * First-order users of the coordination types and locks (not a repairer or a taker) SIGKILLed at an exact step where
 * they change shared memory (the child stopped there by a debugger, {@link KilledAtCall}), while this process goes
 * on with the same object. {@link SemaphoreKillTest}, {@link BarrierKillTest} and {@code LocksKillTest} kill the same
 * roles at random moments, which seldom land in these few instructions.
 * <ul>
 * <li>ACCEPTABLE: the dead process's part found within the documented bound (its mutex taken over, its generation
 *     broken, its waiting writer or its read hold dropped); the object usable afterwards.</li>
 * <li>FORBIDDEN: a permit lost or duplicated; a party or reader of this process waiting past {@link #BOUND}; the
 *     barrier not tripping for its live parties once reset; a read-write lock left marked inconsistent, or a
 *     recovery counted, for a writer that never held it.</li>
 * </ul>
 */
@Timeout(120)
class FirstOrderKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
    }

    /**
     * An undo semaphore's holder killed inside its release after the store that gives its permit back to its slot and
     * before it frees the semaphore's mutex: the permit is back exactly once, and a waiter of this process gets it
     * through the take-over of the mutex (which marks nothing: each update is one store).
     */
    @Test
    void shouldGiveAnUndoPermitBackOnceWhenItsReleaserIsKilledHoldingTheMutex() throws Exception {
        String heapName = names.unique("undo-releaser");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedSemaphore semaphore = SharedSemaphore.create(heap, "sem", 2, SharedSemaphore.Kind.UNDO);
            SharedEvent release = SharedEvent.create(heap, "release");
            assertThat(semaphore.tryAcquire()).isTrue(); // this process holds one permit, the child the other
            KilledAtCall.Step step = new KilledAtCall.Step(RobustMutex.class.getName(), "release", "releaseUndo");
            try (KilledAtCall child = KilledAtCall.start(step, UndoHolder.class, heapName)) {
                child.awaitLine("HELD", BOUND);
                CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> acquire(semaphore), threads);
                release.set();
                child.awaitKilled(BOUND);
                assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the waiter's permit").isTrue();
            }
            assertThat(semaphore.heldByThisProcess()).isEqualTo(2);
            assertThat(semaphore.availablePermits()).isZero();
            assertThat(inspect(heapName)).contains("mutex={held=false owner=- waiters=false sleepers=0 "
                    + "consistent=true takeOvers=1}");
            semaphore.release(2);
            assertThat(semaphore.availablePermits()).isEqualTo(2);
            assertThat(semaphore.tryAcquire(2)).isTrue();
            semaphore.release(2);
        }
    }

    /**
     * An undo semaphore's acquirer killed inside its acquire after the store that counts the permit in its slot and
     * before it frees the semaphore's mutex: the permit is taken exactly once, so a waiter of this process that wants
     * every permit gets them once the dead holder is found (through the take-over of the mutex, which marks nothing).
     */
    @Test
    void shouldGiveAnUndoPermitBackOnceWhenItsAcquirerIsKilledHoldingTheMutex() throws Exception {
        String heapName = names.unique("undo-acquirer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedSemaphore semaphore = SharedSemaphore.create(heap, "sem", 2, SharedSemaphore.Kind.UNDO);
            KilledAtCall.Step step = new KilledAtCall.Step(RobustMutex.class.getName(), "release", "tryUndo");
            try (KilledAtCall child = KilledAtCall.start(step, UndoAcquirer.class, heapName)) {
                child.awaitKilled(BOUND);
            }
            assertThat(semaphore.tryAcquire(2, BOUND.toSeconds(), TimeUnit.SECONDS)).as("both permits").isTrue();
            assertThat(semaphore.heldByThisProcess()).isEqualTo(2);
            assertThat(semaphore.availablePermits()).isZero();
            assertThat(inspect(heapName)).contains("consistent=true takeOvers=1}");
            semaphore.release(2);
            assertThat(semaphore.availablePermits()).isEqualTo(2);
        }
    }

    /**
     * A registered party of a barrier of three killed after the CAS that counts its arrival and before it writes its
     * arrival slot: nothing there names it, but its registration does, so the party of this process waiting in the
     * generation breaks it within the liveness period, not at its timeout; after a reset (which frees the dead
     * registration) three live parties trip it.
     */
    @Test
    void shouldBreakTheGenerationWhenARegisteredPartyIsKilledBetweenItsArrivalAndItsSlot() throws Exception {
        String heapName = names.unique("barrier-arrival");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 3);
            Duration timeout = BOUND.multipliedBy(2); // a break at the timeout would come too late for the get below
            CompletableFuture<Object> waiting = CompletableFuture.supplyAsync(() -> await(barrier, timeout), threads);
            KilledAtCall.Step step = new KilledAtCall.Step(BarrierGenerations.class.getName(), "writeSlot",
                    "arriveAndWait");
            try (KilledAtCall child = KilledAtCall.start(step, RegisteredParty.class, heapName)) {
                child.awaitKilled(BOUND);
            }
            assertThat(waiting.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(BrokenBarrierException.class);
            assertThat(barrier.isBroken()).isTrue();
            barrier.reset();
            assertThat(barrier.getRegisteredParties()).as("the dead party's registration freed").isZero();
            List<CompletableFuture<Object>> parties = List.of(
                    CompletableFuture.supplyAsync(() -> await(barrier), threads),
                    CompletableFuture.supplyAsync(() -> await(barrier), threads),
                    CompletableFuture.supplyAsync(() -> await(barrier), threads));
            List<Object> indices = new ArrayList<>();
            for (CompletableFuture<Object> party : parties) {
                indices.add(party.get(BOUND.toSeconds(), TimeUnit.SECONDS));
            }
            assertThat(indices).containsExactlyInAnyOrder(0, 1, 2);
        }
    }

    /**
     * A barrier's last party, with an action, killed after the CAS that counts it in to run the action and before it
     * writes its arrival slot, unregistered: nothing names the process that was to run the action, so the waiting party
     * breaks the generation after about a second, as documented (not by its timeout, which does not end a wait on a
     * running action); after a reset the next generation trips.
     */
    @Test
    void shouldBreakTheGenerationWhenItsLastPartyIsKilledBeforeNamingItselfTheActionsRunner() throws Exception {
        String heapName = names.unique("barrier-runner");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            CompletableFuture<Object> waiting = CompletableFuture.supplyAsync(() -> await(barrier), threads);
            KilledAtCall.Step step = new KilledAtCall.Step(BarrierGenerations.class.getName(), "writeSlot",
                    "runActionAndTrip");
            try (KilledAtCall child = KilledAtCall.start(step, LastParty.class, heapName)) {
                child.awaitKilled(BOUND);
            }
            assertThat(waiting.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(BrokenBarrierException.class);
            assertThat(barrier.isBroken()).isTrue();
            barrier.reset();
            CompletableFuture<Object> first = CompletableFuture.supplyAsync(() -> await(barrier), threads);
            CompletableFuture<Object> second = CompletableFuture.supplyAsync(() -> await(barrier), threads);
            assertThat(List.of(first.get(BOUND.toSeconds(), TimeUnit.SECONDS),
                    second.get(BOUND.toSeconds(), TimeUnit.SECONDS))).containsExactlyInAnyOrder(0, 1);
            assertThat(inspect(heapName)).contains("broken=false actionRuns=false arrivals=[] registered=[]");
        }
    }

    /**
     * A writer of a read-write lock killed while it waits for another writer, counted as a waiting writer (so that new
     * readers wait for it) but not yet blocked: once the other writer leaves, a reader of this process gets the read
     * lock within the liveness bound, and the lock stays consistent with no recovery counted.
     */
    @Test
    void shouldLetReadersInWhenAWaitingWriterIsKilledCounted() throws Exception {
        String heapName = names.unique("waiting-writer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock lock = SharedReadWriteLock.create(heap, "rw");
            lock.writeLock().lock();
            KilledAtCall.Step step = new KilledAtCall.Step(RobustMutex.class.getName(), "block", "acquireContended");
            try (KilledAtCall child = KilledAtCall.start(step, WaitingWriter.class, heapName)) {
                child.awaitKilled(BOUND);
            } finally {
                lock.writeLock().unlock();
            }
            assertThat(readsInAnotherThread(lock)).as("the reader's lock").isTrue();
            assertThat(lock.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(lock.isConsistent()).isTrue();
            assertThat(lock.recoveries()).isZero();
            lock.writeLock().unlock();
        }
    }

    /**
     * A reader killed inside its read lock's back-out: its add counted a hold in its process's slot, found the writer
     * flag this process's writer set there, and the reader dies before it takes the hold back. Once the writer
     * leaves, a reader of this process gets in, and the next writer gets the lock within the liveness bound (the dead
     * process's hold dropped), with the lock consistent, no recovery counted and no reader left.
     */
    @Test
    void shouldDropTheHoldOfAReaderKilledBackingOutFromAWriter() throws Exception {
        String heapName = names.unique("backing-reader");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock lock = SharedReadWriteLock.create(heap, "rw");
            SharedEvent go = SharedEvent.create(heap, "go");
            KilledAtCall.Step step = new KilledAtCall.Step("org.shm4j.sync.locks.ReadSide", "releaseRead", "tryRead");
            try (KilledAtCall child = KilledAtCall.start(step, BackingReader.class, heapName)) {
                child.awaitLine("READ ONCE", BOUND);
                lock.writeLock().lock(); // flags the slot the child announced
                try {
                    go.set();
                    child.awaitKilled(BOUND);
                } finally {
                    lock.writeLock().unlock();
                }
            }
            assertThat(readsInAnotherThread(lock)).as("the reader's lock").isTrue();
            assertThat(lock.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the next writer").isTrue();
            assertThat(lock.isConsistent()).isTrue();
            assertThat(lock.recoveries()).isZero();
            lock.writeLock().unlock();
            assertThat(lock.readerPids()).isEmpty();
        }
    }

    private static boolean acquire(SharedSemaphore semaphore) {
        try {
            return semaphore.tryAcquire(BOUND.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** @return the arrival index, or what the await threw */
    private static Object await(SharedBarrier barrier) {
        return await(barrier, BOUND);
    }

    /** @return the arrival index, or what the await, with {@code timeout}, threw */
    private static Object await(SharedBarrier barrier, Duration timeout) {
        try {
            return barrier.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return e;
        }
    }

    private static String inspect(String heap) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(Shm4j.run(new String[] {"inspect", heap}, new PrintStream(out, true, UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, UTF_8))).isZero();
        return out.toString(UTF_8);
    }


    /** @return whether another thread of this process read-locked (and unlocked) {@code lock} within the bound */
    private boolean readsInAnotherThread(SharedReadWriteLock lock) throws Exception {
        return CompletableFuture.supplyAsync(() -> {
            try {
                boolean locked = lock.readLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS);
                if (locked) {
                    lock.readLock().unlock();
                }
                return locked;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, threads).get(BOUND.toSeconds(), TimeUnit.SECONDS);
    }

    /** {@code main(heap)}: acquires a permit, prints HELD, releases it once the event "release" is set. */
    public static final class UndoHolder {
        public static void main(String[] args) throws InterruptedException {
            SharedHeap heap = SharedHeap.open(args[0]);
            SharedSemaphore semaphore = SharedSemaphore.open(heap, "sem");
            semaphore.acquire();
            System.out.println("HELD");
            System.out.flush();
            SharedEvent.open(heap, "release").await();
            semaphore.release();
            System.out.println("ERROR: the release finished");
        }
    }

    /** {@code main(heap)}: acquires a permit of the undo semaphore; killed before the acquire returns. */
    public static final class UndoAcquirer {
        public static void main(String[] args) throws InterruptedException {
            SharedSemaphore.open(SharedHeap.open(args[0]), "sem").acquire();
            System.out.println("ERROR: the acquire returned");
        }
    }

    /** {@code main(heap)}: registers a party, waits until the other party waits, then arrives second of three. */
    public static final class RegisteredParty {
        public static void main(String[] args) throws Exception {
            SharedBarrier barrier = SharedBarrier.open(SharedHeap.open(args[0]), "barrier");
            barrier.register();
            Await.until("the other party waiting", BOUND, () -> barrier.getNumberWaiting() == 1);
            barrier.await();
            System.out.println("ERROR: the await returned");
        }
    }

    /** {@code main(heap)}: waits until the other party waits, then arrives last with an action. */
    public static final class LastParty {
        public static void main(String[] args) throws Exception {
            SharedBarrier barrier = SharedBarrier.open(SharedHeap.open(args[0]), "barrier");
            Await.until("the other party waiting", BOUND, () -> barrier.getNumberWaiting() == 1);
            barrier.withAction(() -> { }).await();
            System.out.println("ERROR: the trip finished");
        }
    }

    /**
     * {@code main(heap)}: takes and releases the read lock (its process slot announced, so the fast path is its
     * next), prints READ ONCE, and once the event "go" is set (this process then holds the write lock) takes the read
     * lock again.
     */
    public static final class BackingReader {
        public static void main(String[] args) throws InterruptedException {
            SharedHeap heap = SharedHeap.open(args[0]);
            SharedReadWriteLock lock = SharedReadWriteLock.open(heap, "rw");
            lock.readLock().lock();
            lock.readLock().unlock();
            System.out.println("READ ONCE");
            System.out.flush();
            SharedEvent.open(heap, "go").await();
            lock.readLock().lock();
            System.out.println("ERROR: the read lock was taken");
        }
    }

    /** {@code main(heap)}: takes the write lock, which this process holds, so it waits for it. */
    public static final class WaitingWriter {
        public static void main(String[] args) {
            SharedReadWriteLock lock = SharedReadWriteLock.open(SharedHeap.open(args[0]), "rw");
            lock.writeLock().lock();
            System.out.println("ERROR: the write lock was taken");
        }
    }
}
