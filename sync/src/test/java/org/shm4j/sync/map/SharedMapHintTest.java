package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The process-local segment hints of {@link MapCore}: two handles of one map (each with its own hints, as two
 * processes have) stay exact while the other one splits the segments their hints name.
 */
class SharedMapHintTest {
    @Test
    void shouldFindEveryKeyThroughStaleHintsAfterAnotherHandleGrewTheMap() {
        try (SharedHeap heap = SharedHeap.anonymous(16 << 20)) {
            SharedLongMap<Long> first = SharedLongMap.create(heap, "hints", Codec.longs(), new MapSizing(64, 8, 8));
            for (long key = 0; key < 64; key++) {
                first.set(key, key);
            }
            for (long key = 0; key < 64; key++) {
                assertThat(first.get(key)).isEqualTo(key); // every hint of the first handle now names a segment
            }
            SharedLongMap<Long> second = SharedLongMap.open(heap, "hints", Codec.longs());
            int keys = 6_400;
            for (long key = 0; key < keys; key++) {
                second.set(key, -key); // splits the segments that the first handle's hints name
            }
            assertThat(second.stats().segments()).hasSizeGreaterThan(32);
            for (long key = 0; key < keys; key++) {
                assertThat(first.get(key)).as("key %d read through the first handle", key).isEqualTo(-key);
                assertThat(first.set(key, key + 1)).isFalse();
            }
            for (long key = 0; key < keys; key++) {
                assertThat(second.get(key)).as("key %d written through the first handle", key).isEqualTo(key + 1);
            }
            assertThat(first.size()).isEqualTo(keys);
        }
    }
}
