package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.Codec;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * helper-118's two confirmed map defects: a take-over whose repair threw kept the segment's lock for good (every
 * later writer and locked reader blocked), and {@code clear()} left the keys that a concurrent split moved into a
 * segment it had not listed.
 */
@Timeout(120)
class SharedMapRepairFailureTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @Test
    void shouldReleaseTheLockWhenATakeOversRepairFailsAndSayWhyToEveryCaller() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(8 << 20)) {
            SharedMap<Long, Long> map = SharedMap.create(heap, "m", Codec.longs(), Codec.longs(),
                    new MapSizing(100, 8, 8));
            for (long k = 0; k < 20; k++) {
                map.put(k, k);
            }
            MapSegment segment = map.core().segmentNumber(0, null, 0, 0);
            // a dead writer's half-done split whose record is damaged: it names a segment never made by a split
            segment.memory.set(JAVA_INT, MapLayout.S_SPLIT_STATE, MapLayout.SPLIT_COPIED);
            segment.memory.set(JAVA_INT, MapLayout.S_SPLIT_TARGET, 1);
            segment.memory.set(JAVA_LONG, MapLayout.S_SEQUENCE, segment.memory.get(JAVA_LONG, MapLayout.S_SEQUENCE)
                    + 1);
            segment.memory.set(JAVA_LONG, MapLayout.S_MUTEX, 1L << 32 | 0x3FFF_FFFFL); // pid 1, another start: dead
            ExecutorService threads = Executors.newFixedThreadPool(2);
            try {
                for (int i = 0; i < 2; i++) { // the first taker, again, then another thread
                    assertThatThrownBy(() -> threads.submit(() -> map.get(1L)).get(BOUND.toSeconds(),
                            TimeUnit.SECONDS)).as("get " + i).hasCauseInstanceOf(ShmFormatException.class)
                            .hasMessageContaining("is corrupted: its split record names segment");
                }
                Future<Object> other = Executors.newSingleThreadExecutor().submit(() -> map.put(2L, 3L));
                assertThatThrownBy(() -> other.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("another thread's put: refused, not blocked").hasCauseInstanceOf(ShmFormatException.class);
                assertThat(segment.memory.get(JAVA_LONG, MapLayout.S_MUTEX)).as("the segment's lock is free")
                        .isZero();
            } finally {
                threads.shutdownNow();
            }
        }
    }

    @Test
    void shouldClearTheKeysAConcurrentSplitMovedIntoANewSegment() throws Exception {
        int splitAt = keysUntilTheFirstSplit();
        try (SharedHeap heap = SharedHeap.anonymous(8 << 20)) {
            SharedMap<Long, Long> map = SharedMap.create(heap, "m", Codec.longs(), Codec.longs(),
                    new MapSizing(1, 8, 8));
            for (long k = 0; k < splitAt - 1; k++) {
                map.put(k, k);
            }
            assertThat(map.stats().segments()).hasSize(1);
            MapSegment only = map.core().segmentNumber(0, null, 0, 0);
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            ExecutorService threads = Executors.newFixedThreadPool(2);
            try {
                Future<?> writer = threads.submit(() -> map.compute((long) splitAt - 1, (k, v) -> {
                    inside.countDown();
                    try {
                        assertThat(release.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return k; // its store splits the only segment, under its lock
                }));
                assertThat(inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                long held = only.memory.get(JAVA_LONG, MapLayout.S_MUTEX);
                Future<?> clearing = threads.submit(map::clear); // lists segment 0, then waits for its lock
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (only.memory.get(JAVA_LONG, MapLayout.S_MUTEX) == held) { // until clear announces its wait
                    assertThat(System.nanoTime() - deadline).as("clear() waits for the lock").isNegative();
                    Thread.onSpinWait();
                }
                release.countDown();
                writer.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                clearing.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            } finally {
                threads.shutdownNow();
            }
            assertThat(map.stats().segments()).as("the compute's store split it").hasSize(2);
            for (long k = 0; k < splitAt - 1; k++) {
                assertThat(map.containsKey(k)).as("key %d, there before clear() and untouched since", k).isFalse();
            }
        }
    }

    /** @return how many keys of a map sized for 1 entry make its only segment split */
    private static int keysUntilTheFirstSplit() {
        try (SharedHeap heap = SharedHeap.anonymous(8 << 20)) {
            SharedMap<Long, Long> map = SharedMap.create(heap, "t", Codec.longs(), Codec.longs(),
                    new MapSizing(1, 8, 8));
            int n = 0;
            while (map.stats().segments().size() == 1) {
                map.put((long) n, (long) n);
                n++;
            }
            return n;
        }
    }
}
