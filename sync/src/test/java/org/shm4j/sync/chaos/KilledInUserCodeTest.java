package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.LongsWithHook;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.LongStream;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Writers SIGKILLed at the worst moment made on demand: inside the user's own code that runs under a structure's lock.
 * A map's {@code compute} function; a list's codec, which encodes an appended value straight into its slot while the
 * list's seqlock is odd, and a set or inserted one into the list's scratch slot, each right after a growing call made
 * the list's second chunk. The child prints {@code STALLED} from inside that code and parks there until killed; this
 * process then reads and writes the structure as any other user would.
 * <ul>
 * <li>FORBIDDEN: a read that does not return (bounded by the test's timeout), returns anything but the contents from
 *     before the killed call, or throws; a later write that fails or is lost.</li>
 * <li>ACCEPTABLE: the structure's lock taken over (counted), the killed call having no effect.</li>
 * </ul>
 */
@Timeout(120)
class KilledInUserCodeTest {
    private static final long STALL = Long.MIN_VALUE; // the value whose encoding or computation stalls in the child
    private static final int ELEMENTS = 64; // the first chunk full: a growing call makes the second, then stalls

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"add", "addAll", "set", "insert"})
    void shouldReadAndChangeAListWhoseWriterWasKilledInsideItsCodec(String call) throws Exception {
        String heapName = names.unique("codec-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedList<Long> list = SharedList.create(heap, "list", stalling(), Long.BYTES);
            List<Long> before = LongStream.range(0, ELEMENTS).boxed().toList();
            list.addAll(before);
            try (ChildJvm child = ChildJvm.start(ListWriter.class, heapName, call)) {
                child.awaitLine("STALLED", KillRounds.BOUND);
                child.kill();
            }
            assertThat(list.get(ELEMENTS - 1)).isEqualTo(ELEMENTS - 1);
            assertThat(list.snapshot()).isEqualTo(before);
            assertThat(list.size()).isEqualTo(ELEMENTS);
            list.add(-1L);
            list.set(0, -2L);
            assertThat(list.snapshot()).hasSize(ELEMENTS + 1).startsWith(-2L, 1L).endsWith(ELEMENTS - 1L, -1L);
            assertThat(list.recoveries()).as("the dead writer's mutex taken over").isEqualTo(1);
        }
    }

    @Test
    void shouldReadAndChangeAMapWhoseWriterWasKilledInsideAComputeFunction() throws Exception {
        String heapName = names.unique("compute-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedMap<Long, Long> map = SharedMap.create(heap, "map", Codec.longs(), Codec.longs(),
                    new MapSizing(64, 8, 8));
            for (long key = 0; key < 64; key++) {
                map.put(key, key);
            }
            try (ChildJvm child = ChildJvm.start(MapWriter.class, heapName)) {
                child.awaitLine("STALLED", KillRounds.BOUND);
                child.kill();
            }
            assertThat(map.get(7L)).isEqualTo(7L);
            assertThat(map).hasSize(64).containsEntry(63L, 63L);
            assertThat(map.merge(7L, 100L, Long::sum)).isEqualTo(107L); // takes the dead holder's lock over
            assertThat(map.compute(7L, (k, v) -> v + 1)).isEqualTo(108L);
            List<Long> keys = new ArrayList<>(map.keySet());
            assertThat(keys).hasSize(64).doesNotHaveDuplicates();
            assertThat(map.stats().segments()).anySatisfy(s -> assertThat(s.takeOvers()).isEqualTo(1));
        }
    }

    /** @return {@link Codec#longs()}, but encoding {@link #STALL} prints STALLED and parks for ever */
    static Codec<Long> stalling() {
        return new LongsWithHook() {
            @Override
            public void encode(Long value, MemorySegment target, long offset) {
                if (value == STALL) {
                    target.set(JAVA_INT_UNALIGNED, offset, 0x5AFE_BAD0); // half written
                    stallForEver();
                }
                super.encode(value, target, offset);
            }
        };
    }

    private static void stallForEver() {
        RandomKills.say("STALLED");
        while (true) {
            LockSupport.park(); // until SIGKILL
        }
    }

    /** {@code main(heap, call)}: makes one call on the list that stalls in the codec. */
    static final class ListWriter {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedList<Long> list = SharedList.open(heap, "list", stalling());
                switch (args[1]) {
                    case "add" -> list.add(STALL);
                    case "addAll" -> list.addAll(List.of(1L, 2L, STALL, 4L));
                    case "set" -> list.set(3, STALL);
                    default -> list.add(5, STALL);
                }
                RandomKills.fail(new AssertionError("the call returned"));
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }

    /** {@code main(heap)}: computes key 7, stalling inside the function with the segment's lock held. */
    static final class MapWriter {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, Long> map = SharedMap.open(heap, "map", Codec.longs(), Codec.longs());
                map.compute(7L, (k, v) -> {
                    stallForEver();
                    return v;
                });
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
