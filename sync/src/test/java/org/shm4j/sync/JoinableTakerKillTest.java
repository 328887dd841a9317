package org.shm4j.sync;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A {@link SharedJoinableQueue} consumer SIGKILLed inside its {@code poll} at an exact step by a debugger
 * ({@link KilledAtCall}), on either side of the ring's commit point (its store of consumedTo past the item, just after
 * the handler that decoded the item and counted its task): before it, the item stays queued with its task counted,
 * and the next consumer is handed it and takes the task over; after it (here, as the poll gives the consumers' turn
 * back), the decoded item is gone with the process and its task stays unfinished, as for a consumer killed after its
 * poll returned.
 * <ul>
 * <li>ACCEPTABLE: before the commit point, every item handed to this process once and {@code unfinishedTasks()} 0
 *     once each is done; after it, every item but the first, and {@code unfinishedTasks()} 1 until a
 *     {@code taskDone} stands in for the dead consumer's, then {@code join} returns.</li>
 * <li>FORBIDDEN: an item handed twice, or lost before the commit point; a task counted twice, or dropped; a join
 *     that returns with a task unfinished.</li>
 * </ul>
 */
@Timeout(120)
class JoinableTakerKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int ITEMS = 5;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param step     where the consumer dies: {@code class#method@caller} (of the ring's package, or internal)
     * @param lostTask whether the first item's task is left unfinished (its item gone with the consumer)
     */
    @ParameterizedTest(name = "consumer killed at {0}")
    @CsvSource({
            "ring.RingConsumer#consumed@drainZeroing, false",
            "internal.RobustMutex#release@drainInTurn, true",
    })
    void shouldLeaveTheItemAndItsTaskExactlyAsTheCommitPointSays(String step, boolean lostTask) throws Exception {
        String heapName = names.unique("joinable-taker");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            for (long i = 0; i < ITEMS; i++) {
                jobs.put(i);
            }
            String[] parts = step.split("[#@]");
            try (KilledAtCall consumer = KilledAtCall.start(new KilledAtCall.Step("org.shm4j.sync." + parts[0],
                    parts[1], parts[2]), Taker.class, heapName)) {
                consumer.awaitKilled(BOUND);
                assertThat(consumer.output()).as("killed inside its first poll").doesNotContain("GOT");
            }
            assertThat(jobs.unfinishedTasks()).as("the first counted; queued, or taken by the dead consumer")
                    .isEqualTo(lostTask ? ITEMS : ITEMS + 1);
            List<Long> got = new ArrayList<>();
            Long item;
            while ((item = jobs.poll(1, TimeUnit.SECONDS)) != null) {
                got.add(item);
                jobs.taskDone();
            }
            assertThat(got).containsExactlyElementsOf(LongStream.range(lostTask ? 1 : 0, ITEMS).boxed().toList());
            assertThat(jobs.unfinishedTasks()).isEqualTo(lostTask ? 1 : 0);
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isEqualTo(!lostTask);
            if (lostTask) {
                jobs.taskDone(); // for the dead consumer
                assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
            }
            assertThatThrownBy(jobs::taskDone).isInstanceOf(IllegalStateException.class);
        }
    }

    /** {@code main(heap)}: takes items, printing "GOT i" for each its poll returned, and marks each done. */
    public static final class Taker {
        public static void main(String[] args) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.open(SharedHeap.open(args[0]), "jobs", Codec.longs());
            for (int i = 0; i < 1000; i++) {
                Long item = jobs.poll();
                if (item != null) {
                    System.out.println("GOT " + item);
                    jobs.taskDone();
                }
            }
            System.out.println("ERROR: never killed");
        }
    }
}
