package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Another thread's claim of a word taken in this process, made while the calling thread parks in a watch of that word
 * ({@link ClosedViewRelease}'s, {@link FairClosedView}'s): the claim writes the taking thread's key into the holder
 * field once the watcher parks (nothing else in these tests parks), so the watch must leave the word to it.
 */
final class ClaimDuringWatch {
    private ClaimDuringWatch() {
    }

    /**
     * Runs {@code watch} in this thread while another thread writes {@code key} at {@code field}'s {@code offset} as
     * soon as this thread parks (or at once if the watch returns without parking).
     */
    static void run(MemorySegment field, long offset, long key, Runnable watch) throws Exception {
        whileParked(() -> field.set(JAVA_LONG, offset, key), watch);
    }

    /**
     * Runs {@code watch} in this thread while another thread runs {@code during} as soon as this thread parks (or at
     * once if the watch returns without parking).
     */
    static void whileParked(Runnable during, Runnable watch) throws Exception {
        Thread watcher = Thread.currentThread();
        CountDownLatch watching = new CountDownLatch(1);
        AtomicBoolean handled = new AtomicBoolean();
        FutureTask<Void> claim = new FutureTask<>(() -> { // its claim, once this thread watches
            assertThat(watching.await(10, TimeUnit.SECONDS)).as("the watch started").isTrue();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            // parked: in the watch (nothing else here parks); handled: it did not watch
            while (watcher.getState() != Thread.State.TIMED_WAITING && !handled.get()) {
                assertThat(System.nanoTime() - deadline).as("waited for this thread to watch").isNegative();
                Thread.onSpinWait();
            }
            during.run();
            return null;
        });
        Thread.ofPlatform().start(claim);
        watching.countDown();
        watch.run();
        handled.set(true);
        claim.get(20, TimeUnit.SECONDS);
    }
}
