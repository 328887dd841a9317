package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.shm4j.sync.Codec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.LongConsumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Threads of one process on one map: atomic updates add up exactly, and optimistic readers never return a value
 * that was not written whole for their key (values check themselves, see {@link SelfChecking}).
 */
class SharedMapConcurrencyTest extends ThreadedMapFixture {
    @Test
    void shouldAddUpMergesAndComputesFromFourThreadsExactly() throws Exception {
        SharedMap<Long, Long> map = SharedMap.create(heap, "counters", Codec.longs(), Codec.longs(),
                new MapSizing(64, 8, 8));
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            done.add(threads.submit(() -> {
                for (int i = 0; i < 4_800; i++) {
                    long key = i % 16;
                    if (i % 2 == 0) {
                        map.merge(key, 1L, Long::sum);
                    } else {
                        map.compute(key, (k, v) -> v == null ? 1 : v + 1);
                    }
                }
            }));
        }
        for (Future<?> future : done) {
            future.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        }
        for (long key = 0; key < 16; key++) {
            assertThat(map.get(key)).as("key %d", key).isEqualTo(4 * 4_800 / 16);
        }
    }

    @Test
    void shouldNeverReturnATornValueWhileWritersReplaceAndRemoveIt() throws Exception {
        SharedMap<Long, byte[]> map = SharedMap.create(heap, "values", Codec.longs(), Codec.bytes(),
                new MapSizing(64, 8, 48));
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicLong reads = new AtomicLong();
        List<Future<?>> writers = startWriters(16, 30_000, map::remove, (key, value) -> map.put(key, value));
        List<Future<?>> readers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            readers.add(threads.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                while (writing.get()) {
                    long key = random.nextInt(32);
                    byte[] value = map.get(key);
                    if (value != null) {
                        SelfChecking.version(key, value);
                        reads.incrementAndGet();
                    }
                    for (Map.Entry<Long, byte[]> entry : random.nextInt(64) == 0 ? map.entrySet() : Map.<Long,
                            byte[]>of().entrySet()) {
                        SelfChecking.version(entry.getKey(), entry.getValue());
                    }
                }
            }));
        }
        awaitWritersThenReaders(writers, writing, readers);
        assertThat(reads.get()).isPositive();
        assertThat(map.size()).isEqualTo(map.entrySet().stream().count()).isLessThanOrEqualTo(32);
        map.forEach(SelfChecking::version);
    }

    @Test
    void shouldNeverCopyATornValueIntoALongKeyReadersBufferWhileTheMapGrows() throws Exception {
        SharedLongMap<byte[]> map = SharedLongMap.create(heap, "longs", Codec.bytes(), new MapSizing(16, 8, 24));
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicLong reads = new AtomicLong();
        List<Future<?>> writers = startWriters(512, 20_000, map::delete,
                (key, value) -> map.setBytes(key, MemorySegment.ofArray(value), 0, value.length));
        List<Future<?>> readers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            readers.add(threads.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                MemorySegment target = Arena.ofAuto().allocate(128, 8);
                while (writing.get()) {
                    long key = random.nextInt(1024);
                    int length = map.getInto(key, target, 8);
                    if (length >= 0) {
                        assertThat(length).isLessThanOrEqualTo(120);
                        SelfChecking.version(key, target.asSlice(8, length).toArray(JAVA_BYTE));
                        reads.incrementAndGet();
                    }
                }
            }));
        }
        awaitWritersThenReaders(writers, writing, readers);
        assertThat(reads.get()).isPositive();
        assertThat(map.stats().segments()).as("the map grew by splits while it was read").hasSizeGreaterThan(1);
        MemorySegment target = Arena.ofAuto().allocate(128, 8);
        for (long key = 0; key < 1024; key++) {
            int length = map.getInto(key, target, 0);
            if (length >= 0) {
                SelfChecking.version(key, target.asSlice(0, length).toArray(JAVA_BYTE));
            }
        }
    }

    /**
     * Starts two writers, of the even and the odd keys below {@code 2 * keys}: each replaces a random key's value
     * with the next {@link SelfChecking} version, or removes it one time in eight, {@code versions} times.
     */
    private List<Future<?>> startWriters(int keys, int versions, LongConsumer remove, BiConsumer<Long, byte[]> put) {
        List<Future<?>> writers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            long first = t;
            writers.add(threads.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                for (long version = 1; version <= versions; version++) {
                    long key = first + 2 * random.nextInt(keys);
                    if (random.nextInt(8) == 0) {
                        remove.accept(key);
                    } else {
                        put.accept(key, SelfChecking.of(key, version));
                    }
                }
            }));
        }
        return writers;
    }

    /** Waits (bounded) for the writers to finish, then tells the readers to stop and waits for them. */
    private static void awaitWritersThenReaders(List<Future<?>> writers, AtomicBoolean writing,
                                                List<Future<?>> readers) throws Exception {
        for (Future<?> writer : writers) {
            writer.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        }
        writing.set(false);
        for (Future<?> reader : readers) {
            reader.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        }
    }
}
