package org.shm4j.testing;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What an action that waits did on a virtual thread interrupted before it began: whether the thread was seen parked
 * while it waited (a virtual thread that spins on a park returning at once, as it does while an interrupt is pending,
 * stays {@code RUNNABLE}), what it threw and whether it still had its interrupt at the end.
 *
 * @param seenParked    the thread was seen {@code TIMED_WAITING} before it ended
 * @param thrown        the {@link RuntimeException} the action threw, or null
 * @param keptInterrupt the thread's interrupt was set when the action ended
 */
public record InterruptedWaiter(boolean seenParked, Throwable thrown, boolean keptInterrupt) {
    private static final Duration BOUND = Duration.ofSeconds(60);

    /** Runs {@code action} on a new, interrupted virtual thread and waits for its end, naming it {@code who}. */
    public static InterruptedWaiter run(String who, Runnable action) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicBoolean keptInterrupt = new AtomicBoolean();
        Thread waiter = Thread.ofVirtual().start(() -> {
            Thread.currentThread().interrupt();
            try {
                action.run();
            } catch (RuntimeException e) {
                thrown.set(e);
            }
            keptInterrupt.set(Thread.currentThread().isInterrupted());
        });
        boolean[] seenParked = new boolean[1];
        Await.until("the " + who + " seen parked, or done", BOUND, () -> {
            Thread.State state = waiter.getState();
            seenParked[0] |= state == Thread.State.TIMED_WAITING;
            return seenParked[0] || state == Thread.State.TERMINATED;
        });
        assertThat(waiter.join(BOUND)).as("the " + who + " ended").isTrue();
        return new InterruptedWaiter(seenParked[0], thrown.get(), keptInterrupt.get());
    }
}
