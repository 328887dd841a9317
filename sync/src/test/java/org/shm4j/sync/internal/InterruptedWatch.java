package org.shm4j.sync.internal;

import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A watch ({@link ClosedViewRelease}'s, {@link FairClosedView}'s) run by an interrupted thread. A pending interrupt
 * makes each park return at once, so a watch that left it pending spun a core through its whole bound: the watch must
 * hold the interrupt back while it parks, and set it again as it ends.
 */
final class InterruptedWatch {
    private InterruptedWatch() {
    }

    /**
     * Runs {@code watch} in this thread, interrupted first, while another thread waits (10 s at most) to see this
     * thread parked with no interrupt pending, then runs {@code end} (a claim that ends the watch) either way. Checks
     * that the interrupt is set again once the watch returns.
     *
     * @return true if this thread was seen parked with its interrupt held back
     */
    static boolean parkedHeldBack(Runnable end, Runnable watch) throws Exception {
        Thread watcher = Thread.currentThread();
        AtomicBoolean returned = new AtomicBoolean();
        FutureTask<Boolean> observer = new FutureTask<>(() -> {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            boolean seen = false;
            while (!seen && !returned.get() && System.nanoTime() - deadline < 0) {
                // state first: a park that returns at once for a pending interrupt passes through TIMED_WAITING too
                seen = watcher.getState() == Thread.State.TIMED_WAITING && !watcher.isInterrupted();
                Thread.onSpinWait();
            }
            end.run();
            return seen;
        });
        watcher.interrupt();
        Thread.ofPlatform().start(observer);
        try {
            watch.run();
        } finally {
            returned.set(true);
            assertThat(Thread.interrupted()).as("the interrupt, set again as the watch ended").isTrue();
        }
        return observer.get(20, TimeUnit.SECONDS);
    }
}
