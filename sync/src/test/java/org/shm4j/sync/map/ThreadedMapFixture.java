package org.shm4j.sync.map;

import org.junit.jupiter.api.AfterEach;
import org.shm4j.core.SharedHeap;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A 16 MiB anonymous heap and four threads for one test, closed after it with a bounded wait. */
abstract class ThreadedMapFixture {
    /** The bound of every wait in these tests. */
    static final Duration BOUND = Duration.ofSeconds(60);

    final SharedHeap heap = SharedHeap.anonymous(16 << 20);
    final ExecutorService threads = Executors.newFixedThreadPool(4);

    @AfterEach
    void close() throws InterruptedException {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        heap.close();
    }
}
