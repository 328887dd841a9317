package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.FairTurns;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.sync.tools.Shm4j;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A lock's owner killed holding it, then the waiter that takes it over (or, for a fair lock, skips the dead owner's
 * turn) killed partway through that (the child SIGKILLed at an exact step by a debugger, {@link KilledAtCall}): the
 * third process gets the lock within the bound, marked inconsistent, with one recovery counted for each take-over that
 * got past its count (the taker killed in its own critical section is a dead holder too).
 * <ul>
 * <li>ACCEPTABLE: the third process's tryLock true within {@link #BOUND}; isConsistent() false; recoveries() as
 *     listed; after markConsistent and unlock, the lock free and consistent.</li>
 * <li>FORBIDDEN: the lock stuck, the dead owner's mark lost, another count of recoveries.</li>
 * </ul>
 */
@Timeout(120)
class TakeOverKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param kind       "fair" ({@link SharedFairLock}) or "plain" ({@link SharedLock})
     * @param step       where the second child dies: {@code class#method@caller#hit}
     * @param recoveries the recoveries the third process finds once it holds the lock
     */
    @ParameterizedTest(name = "{0} lock, the taker killed at {1}")
    @CsvSource({
            "fair, FairTurns#takeAnnouncement@skipTurn#1, 1",
            "fair, FairTurns#clearSlot@skipTurn#1, 1",
            "fair, FairTurns#wakeAfterPass@skipTurn#1, 1",
            "plain, RobustMutex#takeOver@takeOverIfOwnerDead#1, 1",
            "plain, SharedMutex#markConsistent@markConsistent#1, 2",
    })
    void shouldLeaveTheLockToTheNextWaiterWhenTheTakerOfADeadOwnersLockIsKilledPartway(String kind, String step,
            long recoveries) throws Exception {
        String heapName = names.unique("takeover-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            TimedLock lock = kind.equals("fair") ? SharedFairLock.create(heap, "lock")
                    : SharedLock.create(heap, "lock");
            try (ChildJvm owner = ChildJvm.start(Owner.class, heapName, kind)) {
                owner.awaitLine("LOCKED", BOUND);
                owner.kill();
            }
            try (KilledAtCall taker = KilledAtCall.start(step(step), Taker.class, heapName, kind)) {
                taker.awaitKilled(BOUND);
            }
            assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the third process's lock").isTrue();
            assertThat(consistent(lock)).as("the owner died holding it").isFalse();
            assertThat(recoveries(lock)).isEqualTo(recoveries);
            markConsistent(lock);
            lock.unlock();
            assertThat(lock.tryLock()).isTrue();
            assertThat(consistent(lock)).isTrue();
            lock.unlock();
        }
    }

    /**
     * A taker killed after the take-over's CAS and before it names its thread leaves the dead owner's thread key (and
     * its waiter's note of when it was first seen holding) beside a word that names the taker: the lock's owner and
     * {@code shm4j inspect} must report the taker with no thread recorded and no note, not a thread id made by
     * decoding the dead owner's key with the taker's pid, nor the dead owner's note as the taker's. The third process
     * then takes it over as the other cases do (this is their case of a taker killed before its claim).
     */
    @Test
    void shouldReportATakerKilledBeforeNamingItsThreadWithNoThreadAndNoNote() throws Exception {
        String heapName = names.unique("takeover-owner");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            try (ChildJvm owner = ChildJvm.start(Owner.class, heapName, "plain")) {
                owner.awaitLine("LOCKED", BOUND);
                owner.kill();
            }
            long taker;
            try (KilledAtCall killed = KilledAtCall.start(step("RobustMutex#claim@takeOverIfOwnerDead#1"), Taker.class,
                    heapName, "plain")) {
                killed.awaitKilled(BOUND);
                taker = killed.pid();
            }
            assertThat(lock.owner()).contains(new LockOwner(taker, 0, Optional.empty()));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertThat(Shm4j.run(new String[] {"inspect", heapName}, new PrintStream(out, true, UTF_8),
                    new PrintStream(new ByteArrayOutputStream(), true, UTF_8))).isZero();
            assertThat(out.toString(UTF_8)).containsPattern("lock +SharedLock +held=true owner=\\{pid=" + taker
                    + " thread=0 alive=false attached=true heldSince=-}");
            assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the third process's lock").isTrue();
            assertThat(lock.owner().map(LockOwner::threadId)).contains(Thread.currentThread().threadId());
            assertThat(lock.isConsistent()).as("the owner died holding it").isFalse();
            assertThat(lock.recoveries()).as("the taker's take-over counted it").isEqualTo(1);
            lock.markConsistent();
            lock.unlock();
        }
    }

    private static KilledAtCall.Step step(String spec) {
        String[] parts = spec.split("[#@]");
        Class<?> type = parts[0].equals("FairTurns") ? FairTurns.class : parts[0].equals("RobustMutex")
                ? RobustMutex.class : SharedMutex.class;
        return new KilledAtCall.Step(type.getName(), parts[1], parts[2], Integer.parseInt(parts[3]));
    }

    private static TimedLock open(String heap, String kind) {
        SharedHeap opened = SharedHeap.open(heap);
        return kind.equals("fair") ? SharedFairLock.open(opened, "lock") : SharedLock.open(opened, "lock");
    }

    private static boolean consistent(TimedLock lock) {
        return lock instanceof SharedFairLock fair ? fair.isConsistent() : ((SharedMutex) lock).isConsistent();
    }

    private static long recoveries(TimedLock lock) {
        return lock instanceof SharedFairLock fair ? fair.recoveries() : ((SharedMutex) lock).recoveries();
    }

    private static void markConsistent(TimedLock lock) {
        if (lock instanceof SharedFairLock fair) {
            fair.markConsistent();
        } else {
            ((SharedMutex) lock).markConsistent();
        }
    }

    /** {@code main(heap, kind)}: locks, prints LOCKED, and holds the lock until killed. */
    public static final class Owner {
        public static void main(String[] args) throws InterruptedException {
            TimedLock lock = open(args[0], args[1]);
            lock.lock();
            System.out.println("LOCKED");
            System.out.flush();
            Thread.currentThread().join(); // until killed
        }
    }

    /** {@code main(heap, kind)}: locks (taking the dead owner's lock over), then marks it consistent. */
    public static final class Taker {
        public static void main(String[] args) {
            TimedLock lock = open(args[0], args[1]);
            lock.lock();
            markConsistent(lock);
            System.out.println("ERROR: the take-over finished");
        }
    }
}
