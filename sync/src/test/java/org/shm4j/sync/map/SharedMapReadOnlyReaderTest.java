package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.OddStepsWriter;
import org.shm4j.testing.ShmNames;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedMap} read through a heap opened read-only, whose reader cannot take a segment's lock, tells writers
 * that kept a segment changing from a writer that died in the middle of a change, before the read (that one:
 * {@code SharedMapTest.shouldReadThroughAReadOnlyHeapAndNameASegmentThatADeadWriterLeftMidChange}) or while it retried.
 */
@Timeout(60)
class SharedMapReadOnlyReaderTest {

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * Writers that keep a segment changing through the reader's second (here: its sequence stepped from one odd value
     * to the next, a change ending and the next beginning with no even value between) are not taken for a dead
     * writer: the message said "has been in the middle of a change ... (its writer died)", from its one look at the
     * end.
     */
    @Test
    void shouldNotTakeWritersThatKeptChangingASegmentForADeadOne() throws Exception {
        assertThat(readOnlyGet("map-read-only-busy", (name, writable, word, offset, read)
                -> OddStepsWriter.readWhileWritersKeepChanging(word, offset, read)))
                .hasMessageContaining(" gave no consistent read for 1000 ms (writers kept changing it, one is in the"
                        + " middle of a change now), and a heap opened read-only cannot take its lock");
    }

    /**
     * A writer process killed in the middle of a change after the read-only reader began retrying, its last change
     * later than the reader's first retry, is reported as a writer that died mid-change: the sequence has stayed odd
     * and unchanged for the whole second since its last change. Before, the verdict compared the sequence with the
     * one value noted at the first retry, and said "writers kept changing it".
     */
    @Test
    void shouldNameAWriterThatDiedMidChangeAfterTheReaderBeganRetrying() throws Exception {
        assertThat(readOnlyGet("map-read-only-late-death", OddStepsWriter::readWhileTheWriterDiesMidChange))
                .hasMessageContaining(" has been in the middle of a change for 1000 ms (its writer died, or is that"
                        + " slow), and a heap opened read-only cannot take its lock");
    }

    /**
     * A map of one key, opened again through a heap opened read-only; {@code stepping} steps the key's segment's
     * sequence while the read-only view gets the key.
     *
     * @return what the read threw, checked to be an {@link IllegalStateException} that names the segment and map
     */
    private Throwable readOnlyGet(String prefix, OddStepsWriter.Stepping stepping) throws Exception {
        String name = names.unique(prefix);
        try (SharedHeap writable = SharedHeap.create(name, 1 << 20);
             SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
            SharedMap<Long, String> map = SharedMap.create(writable, "m", Codec.longs(), Codec.utf8(),
                    new MapSizing(16, 8, 8));
            map.put(5L, "v5");
            SharedMap<Long, String> view = SharedMap.open(readOnly, "m", Codec.longs(), Codec.utf8());
            MapSegment segment = SharedMapTest.segmentOf(map.core(), 5);
            Throwable thrown = stepping.readWhileStepping(name, writable, segment.memory, MapLayout.S_SEQUENCE,
                    () -> view.get(5L));
            assertThat(thrown).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("segment " + segment.index + " of SharedMap 'm'");
            return thrown;
        }
    }
}
