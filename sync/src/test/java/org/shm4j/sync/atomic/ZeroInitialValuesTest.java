package org.shm4j.sync.atomic;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code create(heap, name)} and {@code openOrCreate(heap, name)} start at zero, as {@code new AtomicLong()} does. */
class ZeroInitialValuesTest {
    @Test
    void shouldStartAtZeroAndOpenWhatExists() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLong total = SharedLong.openOrCreate(heap, "total");
            assertThat(total.get()).isZero();
            total.set(7);
            assertThat(SharedLong.openOrCreate(heap, "total").get()).isEqualTo(7);

            SharedInt count = SharedInt.openOrCreate(heap, "count");
            assertThat(count.getAndIncrement()).isZero();
            assertThat(SharedInt.openOrCreate(heap, "count").get()).isEqualTo(1);

            SharedDouble mean = SharedDouble.openOrCreate(heap, "mean");
            assertThat(mean.get()).isEqualTo(0.0);
            mean.set(2.5);
            assertThat(SharedDouble.openOrCreate(heap, "mean").get()).isEqualTo(2.5);

            SharedBoolean created = SharedBoolean.create(heap, "created");
            assertThat(created.get()).isFalse();
            SharedBoolean flag = SharedBoolean.openOrCreate(heap, "flag");
            assertThat(flag.compareAndSet(false, true)).isTrue();
            assertThat(SharedBoolean.openOrCreate(heap, "flag").get()).isTrue();
        }
    }
}
