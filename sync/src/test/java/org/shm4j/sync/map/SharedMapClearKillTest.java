package org.shm4j.sync.map;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SharedMap#clear()} killed inside a segment's clear, made on demand: a child takes the segment of key 3, turns
 * its sequence odd and either ends as far as {@code MapSegment.empty()} gets before its arena's reset (every slot and
 * the count zeroed) or after it (the arena's top back to 0), then is SIGKILLed. ({@code SharedMapCrossProcessTest}'s
 * dying writer zeroes the slots only.)
 * <ul>
 * <li>ACCEPTABLE: the segment's clear undone whole (the repair finds every entry in the arena) or done whole (the
 *     arena reset: nothing left to find); the other segments untouched, as a clear goes one segment at a time.</li>
 * <li>FORBIDDEN: some of the segment's keys back and others not; a value changed; {@code mappingCount()} disagreeing
 *     with the entries iterated; a read that does not return (bounded by the timeout); the map not taking puts and a
 *     whole {@code clear()} after.</li>
 * </ul>
 */
@Timeout(120)
class SharedMapClearKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int KEYS = 256;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest(name = "arena reset: {0}")
    @ValueSource(booleans = {false, true})
    void shouldLeaveTheSegmentOfAClearKilledInItWholeOrEmpty(boolean arenaReset) throws Exception {
        String heapName = names.unique("map-clear-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 4 << 20)) {
            SharedMap<Long, byte[]> map = SharedMap.create(heap, "values", Codec.longs(), Codec.bytes(),
                    new MapSizing(16, 8, 48)); // started small: it splits as it fills
            for (long key = 0; key < KEYS; key++) {
                map.put(key, SelfChecking.of(key, key + 1));
            }
            MapSegment segment = SharedMapTest.segmentOf(map.core(), 3);
            assertThat(map.core().existingSegments()).as("a clear of one segment of several").hasSizeGreaterThan(1);
            try (ChildJvm child = ChildJvm.start(DyingClearer.class, heapName, Boolean.toString(arenaReset))) {
                child.awaitLine("DYING", BOUND);
                child.kill();
            }
            assertThat(map.get(3L) == null).as("key 3 after the repair").isEqualTo(arenaReset);
            long present = 0;
            for (long key = 0; key < KEYS; key++) {
                byte[] value = map.get(key);
                boolean cleared = SharedMapTest.segmentOf(map.core(), key).index == segment.index && arenaReset;
                assertThat(value == null).as("key %d", key).isEqualTo(cleared);
                if (value != null) {
                    assertThat(SelfChecking.version(key, value)).as("key %d", key).isEqualTo(key + 1);
                    present++;
                }
            }
            assertThat(map.stats().repairs()).isOne();
            assertThat(map.mappingCount()).isEqualTo(present).isEqualTo(map.entrySet().stream().count());
            assertThat(map.put(3L, SelfChecking.of(3, 99))).isEqualTo(arenaReset ? null : SelfChecking.of(3, 4));
            map.clear();
            assertThat(map).isEmpty();
            map.putAll(Map.of(3L, SelfChecking.of(3, 5), 4L, SelfChecking.of(4, 6)));
            assertThat(map.mappingCount()).isEqualTo(2);
        }
    }

    /**
     * {@code main(heap, arenaReset)}: in key 3's segment, does what {@code MapSegment.clear()} does up to its arena's
     * reset (or through it), prints DYING and parks until killed.
     */
    static final class DyingClearer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, byte[]> map = SharedMap.open(heap, "values", Codec.longs(), Codec.bytes());
                MapSegment segment = SharedMapTest.segmentOf(map.core(), 3);
                segment.lock();
                segment.beginWrite();
                if (Boolean.parseBoolean(args[1])) {
                    segment.empty();
                } else {
                    segment.memory.asSlice(MapLayout.S_SLOTS, segment.arenaStart - MapLayout.S_SLOTS).fill((byte) 0);
                    segment.setCount(0);
                }
                RandomKills.say("DYING");
                while (true) {
                    LockSupport.park(); // until SIGKILL
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
