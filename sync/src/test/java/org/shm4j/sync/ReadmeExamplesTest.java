package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.locks.LockTimeoutException;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the README's {@code sync} examples and checks that the README shows them verbatim. */
class ReadmeExamplesTest {
    @Test
    void valueWithLock() throws InterruptedException {
        // README:begin
        HeapOptions options = HeapOptions.defaults().withReplaceStale(true).withUnlinkOnLastDetach(true);
        try (SharedHeap heap = SharedHeap.openOrCreate("demo-sync", 1 << 20, options)) {
            SharedLong hits = SharedLong.openOrCreate(heap, "hits", 0);
            hits.incrementAndGet();                                   // atomic across processes

            SharedLong total = SharedLong.create(heap, "total", 0, true);  // with its own SharedLock
            total.withLock(v -> v + 5);                                // plain read-modify-write under the lock

            SharedLock lock = total.lock();
            lock.lock(Duration.ofSeconds(5));                          // LockTimeoutException names the holder
            try {
                if (!lock.isConsistent()) {                            // a previous owner died holding it
                    total.setPlain(0);                                 // repair, then say so
                    lock.markConsistent();
                }
                total.setPlain(total.getPlain() * 2);
            } finally {
                lock.unlock();
            }
            assertThat(total.get()).isEqualTo(10);
            assertThat(hits.get()).isEqualTo(1);
        }                                                              // the last process to close removes it
        // README:end
    }

    @Test
    void arrays() {
        // README:begin
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedLongArray histogram = SharedLongArray.create(heap, "histogram", 16, true);  // and its lock
            histogram.incrementAndGet(3);
            histogram.copyFrom(new long[] {7, 8}, 0, 14, 2);
            histogram.lock().withLock(() -> histogram.setPlain(0, histogram.getPlain(14) + histogram.getPlain(15)));
            assertThat(histogram.toArray()).containsExactly(15, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 8);

            SharedReentrantLock rlock = SharedReentrantLock.create(heap, "rlock");  // Python's RLock
            rlock.lock();
            rlock.lock();                                              // its holder takes it again
            assertThat(rlock.getHoldCount()).isEqualTo(2);
            rlock.unlock();
            rlock.unlock();                                            // the last unlock frees it
        }
        // README:end
    }

    @Test
    void queuesRingsAndPipes() throws InterruptedException {
        // README:begin
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedQueue<String> jobs = SharedQueue.create(heap, "jobs", 1 << 16, Codec.utf8());
            jobs.put("resize img-17.png");                             // any process, any thread
            assertThat(jobs.poll(1, TimeUnit.SECONDS)).isEqualTo("resize img-17.png");

            SharedRing ring = SharedRing.create(heap, "events", SharedRing.Kind.MPSC, 1 << 16);
            RingClaim claim = new RingClaim();                         // reuse it: claiming allocates nothing
            if (ring.tryClaim(7, Long.BYTES, claim)) {
                claim.buffer().set(ValueLayout.JAVA_LONG_UNALIGNED, claim.offset(), 42L); // written in place
                claim.commit();
            }
            ring.poll((type, buffer, offset, length) ->                // read in place, no copy
                    assertThat(buffer.get(ValueLayout.JAVA_LONG_UNALIGNED, offset)).isEqualTo(42L),
                    Duration.ofSeconds(1), WaitStrategy.BLOCKING);

            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 16);
            pipe.first().send("ping".getBytes(), Duration.ofSeconds(1));
            assertThat(pipe.second().recv(Duration.ofSeconds(1))).isEqualTo("ping".getBytes());
            pipe.second().send(17L, Codec.longs(), Duration.ofSeconds(1));   // values through a codec
            assertThat(pipe.first().recv(Codec.longs(), Duration.ofSeconds(1))).isEqualTo(17L);
        }
        // README:end
    }

    @Test
    void shouldShowTheseExamplesVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/ReadmeExamplesTest.java"), 3);
    }
}
