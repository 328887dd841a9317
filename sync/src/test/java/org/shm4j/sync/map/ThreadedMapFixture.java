package org.shm4j.sync.map;

import org.junit.jupiter.api.AfterEach;
import org.shm4j.core.SharedHeap;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** A 16 MiB anonymous heap and four threads for one test, closed after it with a bounded wait. */
abstract class ThreadedMapFixture {
    /** The bound of every wait in these tests. */
    static final Duration BOUND = Duration.ofSeconds(60);

    final SharedHeap heap = SharedHeap.anonymous(16 << 20);
    final ExecutorService threads = Executors.newFixedThreadPool(4);

    /**
     * Waits (bounded) until {@code count} moves past its value now: the thread counting in it worked at least once
     * more, whatever the scheduler did (a writer on 2 cores may finish before a reader runs at all).
     *
     * @throws AssertionError if it does not within {@link #BOUND}, or {@code worker} ended (its failure is the cause)
     */
    static void awaitProgress(AtomicLong count, Future<?> worker) throws Exception {
        long from = count.get();
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (count.get() == from) {
            if (worker.isDone()) {
                worker.get(); // throws its failure
                throw new AssertionError("the worker ended without progress");
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("no progress within " + BOUND);
            }
            Thread.yield();
        }
    }

    @AfterEach
    void close() throws InterruptedException {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        heap.close();
    }
}
