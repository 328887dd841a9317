package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the README's example of the coordination types and checks that the README shows it verbatim. */
class CoordinationReadmeTest {
    @Test
    void coordination() throws InterruptedException, BrokenBarrierException, TimeoutException {
        // README:begin
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedSemaphore gpus = SharedSemaphore.openOrCreate(heap, "gpus", 4, SharedSemaphore.Kind.UNDO);
            if (gpus.tryAcquire(5, TimeUnit.SECONDS)) {                // a killed holder's permit comes back
                try {
                    assertThat(gpus.availablePermits()).isEqualTo(3);  // use one of the 4 GPUs
                } finally {
                    gpus.release();
                }
            }

            SharedCountDownLatch ready = SharedCountDownLatch.create(heap, "ready", 1);
            ready.countDown();
            assertThat(ready.await(1, TimeUnit.SECONDS)).isTrue();

            SharedEvent stop = SharedEvent.create(heap, "stop");
            stop.set();                                                // wakes every waiter, in any process
            assertThat(stop.await(1, TimeUnit.SECONDS)).isTrue();

            SharedLong rounds = SharedLong.create(heap, "rounds");
            SharedBarrier step = SharedBarrier.create(heap, "step", 1)
                    .withAction(rounds::incrementAndGet);              // run by the last party, before any leaves
            assertThat(step.await(5, TimeUnit.SECONDS)).isZero();     // broken if a waiting party dies
            assertThat(rounds.get()).isEqualTo(1);

            SharedLock lock = SharedLock.create(heap, "jobs.lock");
            SharedCondition notEmpty = lock.newCondition();           // waiters in any process
            SharedLong jobs = SharedLong.create(heap, "jobs");
            lock.lock();
            try {
                jobs.setPlain(1);
                notEmpty.signal();
                assertThat(notEmpty.awaitFor(() -> jobs.getPlain() > 0, 1, TimeUnit.SECONDS)).isTrue();
            } finally {
                lock.unlock();
            }
        }
        // README:end
    }

    @Test
    void shouldShowThisExampleVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/CoordinationReadmeTest.java"), 1);
    }
}
