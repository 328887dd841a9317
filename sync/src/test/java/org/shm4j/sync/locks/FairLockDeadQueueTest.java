package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.FairTurns;
import org.shm4j.sync.internal.FairWord;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedFairLock} whose queue is full of the tickets of one SIGKILLed process (its holder and its queued
 * threads) is emptied by the next locker of another process, quickly: every waiter, including one waiting for a
 * ticket while all 64 are out, skips the serving turn of a dead process, and a process found dead has its later turns
 * skipped at once instead of one per liveness period (about 50 ms).
 * <ul>
 * <li>ACCEPTABLE: the next locker gets the lock, marked inconsistent (its holder died), one recovery counted, and the
 *     lock then serves later lockers with no ticket left out.</li>
 * <li>FORBIDDEN: the next locker not getting it within {@link #BOUND} (the queue wedged: nobody skips); in the
 *     partly full case, taking longer than {@link #FAST_BOUND}, which skipping one dead turn per liveness period
 *     exceeds by far ({@value #PARTLY_QUEUED} dead turns: at least 2 s); a ticket left out afterwards.</li>
 * </ul>
 */
@Timeout(180)
class FairLockDeadQueueTest {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Dead turns behind the dead holder's in the partly full case: one per 50 ms would take at least 2 s. */
    private static final int PARTLY_QUEUED = 39;
    /**
     * How long the partly full case may take: far above the 0.2-0.35 s it took here (a liveness period, then the
     * skips), below the at least 2 s of one skip per liveness period, with room for a loaded 2-core CI machine.
     */
    private static final Duration FAST_BOUND = Duration.ofMillis(1600);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldEmptyAQueueWhoseEveryTicketBelongsToAKilledProcess() throws Exception {
        String heapName = names.unique("fair-dead-full");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedFairLock lock = SharedFairLock.create(heap, "fair");
            // the holder, 63 queued threads, and one more waiting for a ticket: 64 tickets out
            killQueued(heap, heapName, SyncLayout.FAIR_QUEUE);
            assertThat(lock.queueLength()).isEqualTo(SyncLayout.FAIR_QUEUE);
            assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("got past 64 dead tickets").isTrue();
            assertTakenOverAndWorking(lock);
        }
    }

    @Test
    void shouldSkipTheQueuedTurnsOfAKilledProcessAtOnceOnceItIsFoundDead() throws Exception {
        String heapName = names.unique("fair-dead-part");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedFairLock lock = SharedFairLock.create(heap, "fair");
            killQueued(heap, heapName, PARTLY_QUEUED + 1);
            long start = System.nanoTime();
            assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            long tookNanos = System.nanoTime() - start;
            assertThat(Duration.ofNanos(tookNanos)).as("past " + (PARTLY_QUEUED + 1) + " dead turns")
                    .isLessThan(FAST_BOUND);
            assertTakenOverAndWorking(lock);
        }
    }

    /**
     * Starts a {@link Queuer} child holding the heap's fair lock with {@code tickets - 1} more threads queued (and one
     * more thread waiting for a ticket if that makes 64), waits until every ticket's slot names it, and SIGKILLs it.
     */
    private static void killQueued(SharedHeap heap, String heapName, int tickets) throws InterruptedException {
        MemorySegment block = heap.lookup("fair", SyncLayout.FAIR_LOCK).segment();
        int threads = tickets == SyncLayout.FAIR_QUEUE ? tickets + 1 : tickets;
        try (ChildJvm child = ChildJvm.start(Queuer.class, heapName, String.valueOf(threads))) {
            child.awaitLine("HOLDING", BOUND);
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (!allPublished(block, tickets)) {
                assertThat(System.nanoTime() - deadline).as("the child's " + tickets + " tickets").isNegative();
                Thread.yield();
            }
            child.kill();
        }
    }

    /** @return true if {@code tickets} are out and the slot of every one but the held turn names its ticket */
    private static boolean allPublished(MemorySegment block, int tickets) {
        long word = (long) LONG.getVolatile(block, SyncLayout.FAIR_WORD_OFFSET); // volatile: another process's
        if (FairWord.out(word) != tickets) {
            return false;
        }
        for (int ticket = FairWord.following(FairWord.serving(word)); ticket != FairWord.next(word);
             ticket = FairWord.following(ticket)) {
            if (FairTurns.slotToken(block, ticket) == 0) {
                return false;
            }
        }
        return true;
    }

    /** Checks the take-over from the dead holder, then that later lockers of this process are served. */
    private static void assertTakenOverAndWorking(SharedFairLock lock) throws InterruptedException {
        assertThat(lock.isConsistent()).as("its holder died").isFalse();
        assertThat(lock.recoveries()).isEqualTo(1);
        assertThat(lock.queueLength()).as("every dead ticket skipped").isEqualTo(1);
        lock.markConsistent();
        Thread later = Thread.ofPlatform().start(() -> {
            lock.lock();
            lock.unlock();
        });
        lock.unlock();
        later.join(BOUND.toMillis());
        assertThat(later.isAlive()).as("a later locker served").isFalse();
        assertThat(lock.tryLock()).isTrue();
        assertThat(lock.isConsistent()).isTrue();
        lock.unlock();
        assertThat(lock.queueLength()).isZero();
    }

    /**
     * {@code main(heap, threads)}: locks the heap's fair lock {@code "fair"}, prints HOLDING, then starts
     * {@code threads - 1} threads that lock it too (they queue behind it), and waits until killed.
     */
    public static final class Queuer {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            SharedFairLock lock = SharedFairLock.open(heap, "fair");
            lock.lock();
            System.out.println("HOLDING");
            System.out.flush();
            for (int i = 1; i < Integer.parseInt(args[1]); i++) {
                Thread.ofPlatform().daemon().start(lock::lock);
            }
            Thread.sleep(Long.MAX_VALUE); // until killed
        }
    }
}
