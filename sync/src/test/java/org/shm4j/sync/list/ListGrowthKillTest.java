package org.shm4j.sync.list;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapCatalog;
import org.shm4j.sync.Codec;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedList} appender killed at exact steps of the append that grows the list into its next chunk (stopped
 * there by a debugger, {@link KilledAtCall}, and SIGKILLed) while it holds the list's mutex and, in the first two,
 * the heap's allocation lock too. {@code SharedListCrossProcessTest} kills appenders at random moments, which seldom
 * land in a growth.
 * <ul>
 * <li>ACCEPTABLE: the killed append absent (it never returned); the list's mutex and the heap's allocation lock taken
 *     over by this process's next append, counted as one recovery; the chunk the dead appender published reused, or
 *     made by the next append if it was not published.</li>
 * <li>FORBIDDEN: an element lost, duplicated, reordered or torn; a second chunk block of one index; a wait past the
 *     bound; another view of the heap reading anything else.</li>
 * </ul>
 */
@Timeout(120)
class ListGrowthKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final int MAX = 32;
    /** The slots of chunk 0: the child's append is the first in chunk 1. */
    private static final int FIRST_CHUNK = 64;
    private static final int TOTAL = 100;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param step where the appender is killed: before the catalog entry of the new chunk is published, after it is
     *             (the allocation lock still held), or after its slot is written in the new chunk, before the size
     */
    @ParameterizedTest(name = "killed {0}")
    @CsvSource({"chunk unpublished", "chunk published", "slot written"})
    void shouldKeepEveryAppendOnceWhenTheAppenderGrowingTheListIsKilled(String step) throws Exception {
        String heapName = names.unique("list-growth");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedList<String> list = SharedList.create(heap, "l", Codec.utf8(), MAX);
            for (int i = 0; i < FIRST_CHUNK; i++) {
                list.add(value(i));
            }
            KilledAtCall.Step at = switch (step) {
                case "chunk unpublished" -> KilledAtCall.Step.atLine(HeapCatalog.class, "append",
                        "INT.setRelease(heap, ENTRY_COUNT_OFFSET, index + 1);", 1);
                case "chunk published" -> KilledAtCall.Step.atLine(SharedHeap.class, "allocateLocked",
                        "allocLock.unlock(); // before a close of this view", 1);
                default -> new KilledAtCall.Step(ListStore.class.getName(), "setSize", "add");
            };
            try (KilledAtCall appender = KilledAtCall.start(at, Appender.class, heapName)) {
                appender.awaitKilled(BOUND);
            }
            for (int i = FIRST_CHUNK; i < TOTAL; i++) {
                list.add(value(i));
            }
            List<String> expected = IntStream.range(0, TOTAL).mapToObj(ListGrowthKillTest::value).toList();
            assertThat(list.snapshot()).isEqualTo(expected);
            assertThat(list.recoveries()).as("the dead appender's mutex taken over").isOne();
            assertThat(heap.blocks()).extracting(HeapBlock::name).containsExactly("l", "l.chunk0", "l.chunk1");
            try (SharedHeap other = SharedHeap.open(heapName)) {
                assertThat(SharedList.open(other, "l", Codec.utf8()).snapshot()).isEqualTo(expected);
            }
        }
    }

    private static String value(int i) {
        return "parent-" + i;
    }

    /** {@code main(heap)}: appends one element to the full first chunk of list "l"; killed before it returns. */
    public static final class Appender {
        public static void main(String[] args) {
            SharedList.open(SharedHeap.open(args[0]), "l", Codec.utf8()).add("child");
            System.out.println("ERROR: the append returned");
        }
    }
}
