package org.shm4j.core.internal;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedMemory;
import org.shm4j.testing.Await;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/** The heap's allocation lock ({@link OwnerLock}) as its waiters see it. */
class OwnerLockTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    /**
     * A park returns at once while the thread's interrupt is pending: {@code lock}, which is not interruptible, kept
     * the interrupt set while it waited, so an interrupted waiter spun (about 900 ms of CPU in a 1 s wait; a virtual
     * thread never gave its carrier back, so it was never seen parked). Now it takes the interrupt while it waits and
     * sets it again once it has the lock.
     */
    @Test
    void shouldParkAnInterruptedWaiterAndKeepItsInterrupt() throws Exception {
        try (SharedMemory region = SharedMemory.anonymous(64)) {
            OwnerLock lock = new OwnerLock(region.segment(), 0);
            lock.lock(BOUND, "the test's word");
            AtomicBoolean keptInterrupt = new AtomicBoolean();
            Thread waiter;
            try {
                waiter = Thread.ofVirtual().start(() -> {
                    Thread.currentThread().interrupt();
                    lock.lock(BOUND, "the test's word"); // the holder is this process: waits for its unlock
                    keptInterrupt.set(Thread.currentThread().isInterrupted());
                    lock.unlock();
                });
                // a spinning virtual thread stays RUNNABLE (its parks return at once, its yields run it again)
                Await.until("the interrupted waiter seen parked", BOUND,
                        () -> waiter.getState() == Thread.State.TIMED_WAITING);
            } finally {
                lock.unlock();
            }
            assertThat(waiter.join(BOUND)).as("the waiter got the lock").isTrue();
            assertThat(keptInterrupt).as("the waiter kept its interrupt").isTrue();
        }
    }
}
