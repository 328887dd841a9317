package org.shm4j.sync.map;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ShmNames;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedMap} writer killed in the middle of a segment split, then the process whose access takes that
 * segment's lock over killed in the middle of the repair (each child SIGKILLed at an exact step by a debugger,
 * {@link KilledAtCall}): the third process finds every acknowledged entry once, with its value, and the map still
 * splits.
 * <ul>
 * <li>ACCEPTABLE: every key whose put returned, with its value; the key whose put was in flight present with its
 *     value or absent; size() counting exactly those.</li>
 * <li>FORBIDDEN: an acknowledged key missing or with another value, a key never put, a wrong size, an exception.</li>
 * </ul>
 */
@Timeout(120)
class MapRepairerKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param writerStep   where the writer dies: {@code class#method@caller#hit} (class simple names of this package)
     * @param repairerStep where the repairer dies, the same way
     */
    @ParameterizedTest(name = "writer killed at {0}, repairer at {1}")
    @CsvSource({
            "SegmentSplit#finish@split#1, SegmentArena#keep@rebuild#3",
            "SegmentSplit#finish@split#1, MapCore#pointDirectory@finish#1",
            "SegmentSplit#finish@split#1, SegmentArena#retain@finish#1",
            "SegmentSplit#finish@split#1, MapSegment#setDepth@finish#1",
            "SegmentSplit#finish@split#1, MapSegment#endWrite@repairIfHalfDone#1",
            "SegmentArena#place@retain#2, SegmentArena#free@rebuild#1",
            "SegmentArena#place@retain#2, SegmentArena#place@retain#1",
            "MapSegment#setDepth@finish#1, MapSegment#setSplit@finish#1",
            "SegmentArena#place@refill#3, SegmentSplit#recover@repairIfHalfDone#1",
            "SegmentArena#place@refill#3, MapSegment#setSplit@recover#1",
    })
    void shouldKeepEveryAcknowledgedEntryWhenTheRepairerOfADeadSplitterIsKilledPartway(String writerStep,
            String repairerStep) throws Exception {
        String heapName = names.unique("map-repairer");
        try (SharedHeap heap = SharedHeap.create(heapName, 16 << 20)) {
            SharedMap<String, Long> map = SharedMap.create(heap, "map", Codec.utf8(), Codec.longs(),
                    new MapSizing(16, 8, 8));
            int acknowledged;
            try (KilledAtCall writer = KilledAtCall.start(step(writerStep), Writer.class, heapName)) {
                writer.awaitKilled(BOUND);
                acknowledged = (int) writer.output().lines().filter(line -> line.startsWith("PUT ")).count();
            }
            try (KilledAtCall repairer = KilledAtCall.start(step(repairerStep), Repairer.class, heapName,
                    Integer.toString(acknowledged + 1))) {
                repairer.awaitKilled(BOUND);
            }
            for (int i = 0; i < acknowledged; i++) {
                assertThat(map.get(key(i))).as("acknowledged %s of %d", key(i), acknowledged).isEqualTo(i);
            }
            Long inFlight = map.get(key(acknowledged));
            if (inFlight != null) {
                assertThat(inFlight).as("the key in flight").isEqualTo(acknowledged);
            }
            assertThat(map.size()).isEqualTo(acknowledged + (inFlight == null ? 0 : 1));
            for (int i = acknowledged; i < acknowledged + 500; i++) { // splits again
                map.put(key(i), (long) i);
            }
            for (int i = 0; i < acknowledged + 500; i++) {
                assertThat(map.get(key(i))).as(key(i)).isEqualTo(i);
            }
            assertThat(map.size()).isEqualTo(acknowledged + 500);
        }
    }

    private static KilledAtCall.Step step(String spec) {
        String[] parts = spec.split("[#@]");
        return new KilledAtCall.Step(MapRepairerKillTest.class.getPackageName() + "." + parts[0], parts[1], parts[2],
                Integer.parseInt(parts[3]));
    }

    private static String key(int i) {
        return "w" + i;
    }

    /** {@code main(heap)}: puts w0 = 0, w1 = 1, ... printing "PUT i" after each, until killed. */
    public static final class Writer {
        public static void main(String[] args) {
            SharedMap<String, Long> map = SharedMap.open(SharedHeap.open(args[0]), "map", Codec.utf8(),
                    Codec.longs());
            for (int i = 0; i < 100_000; i++) {
                map.put(key(i), (long) i);
                System.out.println("PUT " + i);
            }
            System.out.println("ERROR: never killed");
        }
    }

    /** {@code main(heap, n)}: gets w0 .. w(n-1), each taking the dead writer's segment lock over if it needs to. */
    public static final class Repairer {
        public static void main(String[] args) {
            SharedMap<String, Long> map = SharedMap.open(SharedHeap.open(args[0]), "map", Codec.utf8(),
                    Codec.longs());
            int n = Integer.parseInt(args[1]);
            for (int i = 0; i < n; i++) {
                map.get(key(i));
            }
            System.out.println("ERROR: no repair reached the step");
        }
    }
}
