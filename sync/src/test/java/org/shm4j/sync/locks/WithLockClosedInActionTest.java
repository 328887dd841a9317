package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ShmNames;

import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.locks.AnotherThread.inAnotherThread;

/**
 * A lock's {@code withLock} whose action another thread's close of the heap view ends: the unlock then meets the
 * closed view at once (no race with an access, so in this JVM). The call throws, so its caller holds nothing: the
 * hold goes, through the kept view, to a thread waiting there, marked inconsistent as a dead owner's (the close may
 * have cut the action short). Before, the fair lock's stayed held by the caller while the process kept the view,
 * and the reentrant lock's was given back unmarked.
 */
@Timeout(60)
class WithLockClosedInActionTest {
    /** How long the waiter may wait: it takes the lock at once once the hold is given back. */
    private static final long WAIT_SECONDS = 10;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /** A lock kind, opened or created by name. */
    enum Kind {
        LOCK(SharedLock::openOrCreate),
        REENTRANT(SharedReentrantLock::openOrCreate),
        FAIR(SharedFairLock::openOrCreate);

        private final BiFunction<SharedHeap, String, TimedLock> open;

        Kind(BiFunction<SharedHeap, String, TimedLock> open) {
            this.open = open;
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldGiveTheHoldToAWaiterMarkedWhenACloseEndsTheAction(Kind kind) throws Exception {
        String name = names.unique("with-lock-closed");
        try (SharedHeap kept = SharedHeap.create(name, 1 << 20)) {
            TimedLock keptLock = kind.open.apply(kept, "lock");
            SharedHeap closing = SharedHeap.open(name);
            TimedLock closingLock = kind.open.apply(closing, "lock");
            FutureTask<String> waiter = new FutureTask<>(() -> takeOnce(keptLock));

            assertThatThrownBy(() -> closingLock.withLock(() -> {
                Thread.ofPlatform().start(waiter);
                if (keptLock instanceof SharedFairLock fair) { // queued behind the hold: it must still get its turn
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
                    while (fair.queueLength() < 2) {
                        assertThat(System.nanoTime() - deadline).as("the waiter queued").isNegative();
                        Thread.onSpinWait();
                    }
                }
                closeIn(closing);
            })).isInstanceOf(IllegalStateException.class);

            assertThat(waiter.get(2 * WAIT_SECONDS, TimeUnit.SECONDS)).as("what the waiter found")
                    .isEqualTo("consistent=false recoveries=1");
        }
    }

    /** A reentrant lock's holds before the call stay the thread's, unmarked: its own section goes on. */
    @Test
    void shouldKeepTheOuterHoldOfAReentrantLockUnmarked() throws Exception {
        String name = names.unique("with-lock-closed-outer");
        try (SharedHeap kept = SharedHeap.create(name, 1 << 20)) {
            SharedReentrantLock keptLock = SharedReentrantLock.openOrCreate(kept, "lock");
            SharedHeap closing = SharedHeap.open(name);
            SharedReentrantLock closingLock = SharedReentrantLock.openOrCreate(closing, "lock");
            closingLock.lock();

            assertThatThrownBy(() -> closingLock.withLock(() -> closeIn(closing)))
                    .isInstanceOf(IllegalStateException.class);

            assertThat(keptLock.getHoldCount()).as("the outer hold").isEqualTo(1);
            assertThat(keptLock.isConsistent()).isTrue();
            keptLock.unlock();
            assertThat(inAnotherThread(() -> takeOnce(keptLock))).isEqualTo("consistent=true recoveries=0");
        }
    }

    /** Closes {@code heap} from another thread, as the case this covers does. */
    private static void closeIn(SharedHeap heap) {
        try {
            inAnotherThread(() -> {
                heap.close();
                return null;
            });
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** @return what the lock showed once taken (then given back), or "not taken" after {@link #WAIT_SECONDS} */
    private static String takeOnce(TimedLock lock) throws InterruptedException {
        if (!lock.tryLock(WAIT_SECONDS, TimeUnit.SECONDS)) {
            return "not taken";
        }
        try {
            return lock instanceof SharedFairLock fair
                    ? "consistent=" + fair.isConsistent() + " recoveries=" + fair.recoveries()
                    : "consistent=" + ((SharedMutex) lock).isConsistent() + " recoveries="
                    + ((SharedMutex) lock).recoveries();
        } finally {
            lock.unlock();
        }
    }
}
