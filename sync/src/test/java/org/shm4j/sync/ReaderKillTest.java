package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Readers of a {@link SharedMap} (lock-free gets while the map grows by splits) and a {@link SharedList} (gets and
 * snapshots, which fall back to the list's lock when a writer keeps them from a consistent read) SIGKILLed at random
 * moments, many times, while this process writes both without pause and another child reads along.
 * <ul>
 * <li>FORBIDDEN: a writer operation that stalls past a bound; a read, in any process, of a value of another key or
 *     index; a lost or wrong write (the end state is exactly what the writer wrote last); a surviving reader that
 *     fails or stops.</li>
 * <li>ACCEPTABLE: the list's lock taken over (a reader killed inside its locked fallback read), with the data
 *     unchanged.</li>
 * </ul>
 * Values encode their key or index in the high 32 bits and the writer's round in the low 32.
 */
@Timeout(180)
class ReaderKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** A writer operation taking longer than this is a stall (a lock take-over needs about 50 ms). */
    private static final Duration STALL = Duration.ofSeconds(10);
    private static final int KEYS = 512;
    private static final int ELEMENTS = 64;
    private static final int WAVES = 4;
    private static final int PER_WAVE = 2;
    private static final long KILL_JITTER_NANOS = 40_000_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNeverDisturbTheWriterOrOtherReadersWhenReadersAreKilledMidRead() throws Exception {
        String heapName = names.unique("reader-kill");
        Random random = new Random(53);
        try (SharedHeap heap = SharedHeap.create(heapName, 8 << 20)) {
            SharedMap<Long, Long> map = SharedMap.create(heap, "map", Codec.longs(), Codec.longs(),
                    new MapSizing(16, 8, 8)); // grows by splits while readers are killed
            SharedList<Long> list = SharedList.create(heap, "list", Codec.longs(), Long.BYTES);
            SharedLong stop = SharedLong.create(heap, "stop");
            for (int i = 0; i < ELEMENTS; i++) {
                list.add(encode(i, 0));
            }
            AtomicBoolean writing = new AtomicBoolean(true);
            CompletableFuture<long[]> writer = CompletableFuture.supplyAsync(() -> write(map, list, writing));
            try (ChildJvm survivor = ChildJvm.start(Reader.class, heapName)) {
                survivor.awaitLine("READING", BOUND);
                for (int wave = 0; wave < WAVES; wave++) {
                    RandomKills.wave(random, KILL_JITTER_NANOS, PER_WAVE, "READING",
                            () -> ChildJvm.start(Reader.class, heapName));
                    checkAll(map, list); // this process reads along too
                }
                stop.set(1);
                assertThat(survivor.awaitLine("READS", BOUND)).as(survivor.output()).isNotEqualTo("READS 0");
                survivor.awaitSuccess(BOUND);
            } finally {
                writing.set(false);
            }
            long[] last = writer.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            for (int key = 0; key < KEYS; key++) {
                assertThat(map.get((long) key)).as("key %d", key).isEqualTo(encode(key, last[key]));
            }
            assertThat(list.size()).isEqualTo(ELEMENTS);
            for (int i = 0; i < ELEMENTS; i++) {
                assertThat(list.get(i)).as("element %d", i).isEqualTo(encode(i, last[KEYS + i]));
            }
            System.out.println("reader kills: " + list.recoveries() + " take-overs of the list's lock");
        }
    }

    /**
     * Writes rounds until {@code writing} turns false: each puts every key and sets every element to the round,
     * and adds then removes one element past the end; fails if one operation takes longer than {@link #STALL}.
     *
     * @return the round last written to each key, then to each element
     */
    private static long[] write(SharedMap<Long, Long> map, SharedList<Long> list, AtomicBoolean writing) {
        long[] last = new long[KEYS + ELEMENTS];
        for (long round = 1; writing.get(); round++) {
            for (int key = 0; key < KEYS; key++) {
                long start = System.nanoTime();
                map.put((long) key, encode(key, round));
                last[key] = round;
                if (key < ELEMENTS) {
                    list.set(key, encode(key, round));
                    last[KEYS + key] = round;
                    if (key % 16 == 0) {
                        list.add(encode(ELEMENTS, round));
                        list.removeLast();
                    }
                }
                Duration took = Duration.ofNanos(System.nanoTime() - start);
                if (took.compareTo(STALL) > 0) {
                    throw new AssertionError("a write stalled for " + took);
                }
            }
        }
        return last;
    }

    private static long encode(int id, long round) {
        return (long) id << 32 | round;
    }

    /** Reads every key and element, and a snapshot; each value must carry its own key or index. */
    static void checkAll(SharedMap<Long, Long> map, SharedList<Long> list) {
        for (int key = 0; key < KEYS; key++) {
            Long value = map.get((long) key);
            if (value != null && value >>> 32 != key) {
                throw new AssertionError("key " + key + " read " + Long.toHexString(value));
            }
        }
        List<Long> snapshot = list.snapshot();
        for (int i = 0; i < snapshot.size(); i++) {
            if (snapshot.get(i) >>> 32 != i) {
                throw new AssertionError("element " + i + " of a snapshot read " + Long.toHexString(snapshot.get(i)));
            }
        }
        for (int i = 0; i < ELEMENTS; i++) {
            long value = list.get(i);
            if (value >>> 32 != i) {
                throw new AssertionError("element " + i + " read " + Long.toHexString(value));
            }
        }
    }

    /**
     * {@code main(heap)}: reads map and list over and over (see {@link #checkAll}) until "stop" is set, then prints
     * {@code READS <rounds>}; prints READING after the first round, ERROR and the exception if a read fails.
     */
    public static final class Reader {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, Long> map = SharedMap.open(heap, "map", Codec.longs(), Codec.longs());
                SharedList<Long> list = SharedList.open(heap, "list", Codec.longs());
                SharedLong stop = SharedLong.open(heap, "stop");
                long rounds = 0;
                long deadline = System.nanoTime() + BOUND.toNanos() * 2;
                while (stop.get() == 0 && System.nanoTime() - deadline < 0) {
                    checkAll(map, list);
                    if (rounds++ == 0) {
                        Children.say("READING");
                    }
                }
                Children.say("READS " + rounds);
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }
    }
}
