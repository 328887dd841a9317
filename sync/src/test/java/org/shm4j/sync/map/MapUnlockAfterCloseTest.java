package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.testing.ShmNames;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A write whose put split its segment ends holding two segment locks, the segment and the half that took the key,
 * and unlocks both ({@link SharedMap#unlock}). When another thread closed the write's heap view meanwhile, each
 * unlock gives its lock back through another open view of the heap and throws (see {@code ClosedViewRelease}):
 * the half's unlock must not keep the segment's from running, else the segment stays locked by a thread whose call
 * threw, blocking every write to it, in every process, while this process keeps the other view. Before the fix a
 * put cut short there left it so: 3 rounds of 1,000 of threads putting through a view closed under them (a map of
 * 13-entry segments, so puts split often) left a segment locked through the kept view.
 */
@Timeout(60)
class MapUnlockAfterCloseTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldFreeBothSegmentsOfASplitWriteWhoseViewClosed() {
        String name = names.unique("map-unlock");
        try (SharedHeap kept = SharedHeap.create(name, 1 << 20)) {
            SharedMap<Long, Long> keptMap = SharedMap.create(kept, "map", Codec.longs(), Codec.longs(),
                    new MapSizing(1_024, 8, 8));
            SharedHeap closing = SharedHeap.open(name);
            MapCore core = SharedMap.open(closing, "map", Codec.longs(), Codec.longs()).core();
            MapSegment segment = core.segmentNumber(0, null, 0, 0);
            MapSegment holder = core.segmentNumber(1, null, 0, 0); // as a split's half that took the key
            segment.lock();
            holder.lock();
            closing.close(); // by another thread, between the write and its unlocks

            assertThatThrownBy(() -> SharedMap.unlock(segment, holder)).isInstanceOf(IllegalStateException.class);

            MapCore keptCore = keptMap.core();
            for (int number = 0; number < 2; number++) {
                MapSegment through = keptCore.segmentNumber(number, null, 0, 0);
                // this thread's own hold, if left, is refused at once (a lock() of another thread's would wait)
                assertThatCode(() -> {
                    through.lock();
                    through.unlock();
                }).as("segment %d, locked and unlocked through the kept view", number).doesNotThrowAnyException();
            }
        }
    }
}
