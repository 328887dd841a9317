package org.shm4j.sync.internal;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.SharedSemaphore;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A process holding an undo semaphore's permits or a read-write lock's read lock killed, then the process whose wait
 * reclaims its {@link ProcessSlots} slot killed at each statement of {@link ProcessSlots#reclaimDead()} (stopped
 * there by a debugger, {@link KilledAtCall}, and SIGKILLed): the third process gets every permit, or the write lock
 * without a repair, within the bound. {@code ProcessSlotsTest} covers the same steps inside one process.
 * <ul>
 * <li>ACCEPTABLE: the third process's acquire of all 3 permits (or the write lock) true within {@link #BOUND};
 *     availablePermits() 0 while it holds them and 3 after; the read-write lock consistent with no recovery (its
 *     killed writer was waiting for readers to leave).</li>
 * <li>FORBIDDEN: permits or read holds lost for good, counted twice, or a wait past the bound.</li>
 * </ul>
 */
@Timeout(120)
class ReclaimerKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param structure "semaphore" or "rwlock"
     * @param code      the statement of {@code reclaimDead} the reclaimer is killed before (the read-write lock only
     *                  before the first: the later statements are the semaphore's code too, and from there on the
     *                  writer finds no read hold left to wait for)
     */
    @ParameterizedTest(name = "{0}: the reclaimer killed before {1}")
    @CsvSource({
            "semaphore, INT.getAndSet(segment, slot(i) + FIRST, 0)",
            "semaphore, INT.setVolatile(segment, slot(i) + SECOND, 0)",
            "semaphore, LONG.setVolatile(segment, slot(i) + TOKEN, 0L)",
            "semaphore, reclaimedHolders++",
            "rwlock, INT.getAndSet(segment, slot(i) + FIRST, 0)",
    })
    void shouldGiveTheDeadHoldersHoldsBackWhenItsReclaimerIsKilledPartway(String structure, String code)
            throws Exception {
        String heapName = names.unique("reclaimer-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            boolean semaphore = structure.equals("semaphore");
            SharedSemaphore permits = semaphore ? SharedSemaphore.create(heap, "s", 3, SharedSemaphore.Kind.UNDO)
                    : null;
            SharedReadWriteLock rw = semaphore ? null : SharedReadWriteLock.create(heap, "s");
            try (ChildJvm holder = ChildJvm.start(Holder.class, heapName, structure)) {
                holder.awaitLine("HELD", BOUND);
                holder.kill();
            }
            KilledAtCall.Step step = KilledAtCall.Step.atLine(ProcessSlots.class, "reclaimDead", code, 1);
            try (KilledAtCall reclaimer = KilledAtCall.start(step, Waiter.class, heapName, structure)) {
                reclaimer.awaitKilled(BOUND);
            }
            if (semaphore) {
                assertThat(permits.tryAcquire(3, BOUND.toSeconds(), TimeUnit.SECONDS)).as("every permit").isTrue();
                assertThat(permits.availablePermits()).isZero();
                permits.release(3);
                assertThat(permits.availablePermits()).isEqualTo(3);
            } else {
                assertThat(rw.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("write lock").isTrue();
                assertThat(rw.isConsistent()).as("the killed writer waited for readers").isTrue();
                assertThat(rw.recoveries()).isZero();
                rw.writeLock().unlock();
                assertThat(rw.readLock().tryLock()).isTrue();
                rw.readLock().unlock();
            }
        }
    }

    /** {@code main(heap, structure)}: takes 2 of the semaphore's 3 permits, or a read lock, and holds them. */
    public static final class Holder {
        public static void main(String[] args) throws InterruptedException {
            SharedHeap heap = SharedHeap.open(args[0]);
            if (args[1].equals("semaphore")) {
                SharedSemaphore.open(heap, "s").acquire(2);
            } else {
                SharedReadWriteLock.open(heap, "s").readLock().lock();
            }
            System.out.println("HELD");
            System.out.flush();
            Thread.currentThread().join(); // until killed
        }
    }

    /** {@code main(heap, structure)}: acquires all 3 permits, or the write lock, waiting for the dead holder's. */
    public static final class Waiter {
        public static void main(String[] args) throws InterruptedException {
            SharedHeap heap = SharedHeap.open(args[0]);
            if (args[1].equals("semaphore")) {
                SharedSemaphore.open(heap, "s").acquire(3);
            } else {
                SharedReadWriteLock.open(heap, "s").writeLock().lock();
            }
            System.out.println("ERROR: the reclaim finished");
        }
    }
}
