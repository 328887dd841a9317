package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.shm4j.sync.Codec;

import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SharedMap#stats()} read without locks while a writer of the same process splits and compacts segments.
 * <ul>
 * <li>ACCEPTABLE: entries between the keys acknowledged before the read and those acknowledged after it, plus the
 *     one put in flight.</li>
 * <li>FORBIDDEN: a split's moved keys counted twice or not at all, a compacting segment counted short, any
 *     exception.</li>
 * </ul>
 */
class MapStatsDuringWritesTest extends ThreadedMapFixture {
    private static final int KEYS = 3_000;

    @Test
    void shouldCountEveryKeyOnceWhileAWriterSplitsAndCompacts() throws Exception {
        SharedMap<Long, byte[]> map = SharedMap.create(heap, "map", Codec.longs(), Codec.bytes(),
                new MapSizing(16, 8, 8));
        AtomicLong acknowledged = new AtomicLong();
        Future<?> writer = threads.submit(() -> {
            Random random = new Random(243); // the same writes, so the same splits and compactions, every run
            for (long key = 0; key < KEYS; key++) {
                map.put(key, new byte[8]);
                acknowledged.set(key + 1);
                // an earlier key's value grows or shrinks: chunks of one class freed, another needed (compactions)
                long other = random.nextLong(key + 1);
                map.put(other, new byte[random.nextBoolean() ? 8 : 120]);
            }
        });
        long reads = 0;
        do {
            long before = acknowledged.get();
            SharedMapStats stats = map.stats();
            long after = acknowledged.get();
            assertThat(stats.entries()).as("entries read between %d and %d acknowledged puts (read %d)", before,
                    after, reads).isBetween(before, after + 1);
            reads++;
        } while (!writer.isDone());
        writer.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        SharedMapStats last = map.stats();
        assertThat(last.entries()).isEqualTo(KEYS);
        assertThat(last.segments().size()).as("splits").isGreaterThan(1);
        assertThat(last.compactions()).as("compactions").isPositive();
    }
}
