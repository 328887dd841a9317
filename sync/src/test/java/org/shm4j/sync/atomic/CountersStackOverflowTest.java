package org.shm4j.sync.atomic;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.testing.StackOverflowRounds;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link StackOverflowError} that cuts an {@code allocate} or a {@code free} of {@link SharedCounters} short in a
 * thread that lives on: the allocation mutex is released in a {@code finally} at about the depth where the change
 * overflowed, and the release may overflow again. Before the fix the mutex stayed held by that thread: its next
 * allocation threw "already held by this thread, and not reentrant", and every other one, in any process, timed out.
 * Each round recurses to the stack's end, then allocates and frees a counter at every depth on the way back; then
 * another thread must allocate and free one in time, and at the end a child JVM too; the same rounds also run in a
 * child JVM, whose JIT stops at C1.
 */
class CountersStackOverflowTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final int ROUNDS = 40;
    /**
     * Fewer in the child: there each round cuts more allocations short, each may keep its slot (allocated past its
     * state's store), and every later allocation looks past those.
     */
    private static final int CHILD_ROUNDS = 15;
    private static final int CAPACITY = 4096;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNotLeaveTheAllocationMutexHeldWhenAStackOverflowCutsAnAllocationShort() throws Exception {
        String heapName = names.unique("ctrsoe");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedCounters counters = SharedCounters.create(heap, "counters", CAPACITY, Duration.ZERO);
            StackOverflowRounds.Result result = rounds(counters, ROUNDS);
            assertThat(result.outcome()).as("the rounds").isEqualTo(ROUNDS + " ok");
            assertThat(result.overflows()).as("allocations and frees cut short by the overflow").isPositive();
            assertThat(counters.snapshot().size()).as("counters left allocated: at most one per overflow")
                    .isLessThanOrEqualTo(result.overflows());
            try (ChildJvm child = ChildJvm.start(Allocator.class, heapName)) {
                assertThat(child.awaitLine("ALLOCATED", BOUND)).as("another process allocates a counter")
                        .isEqualTo("ALLOCATED");
                child.awaitSuccess(BOUND);
            }
        }
    }

    @Test
    void shouldNotLeaveTheAllocationMutexHeldWhenAStackOverflowCutsAnAllocationShortUnderC1() throws Exception {
        String heapName = names.unique("ctrsoe1");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedCounters.create(heap, "counters", CAPACITY, Duration.ZERO);
            assertThat(StackOverflowRounds.outcomeInChild(Rounds.class, heapName, BOUND)).as("the child's rounds")
                    .isEqualTo(CHILD_ROUNDS + " ok");
        }
    }

    private static StackOverflowRounds.Result rounds(SharedCounters counters, int rounds)
            throws InterruptedException {
        return StackOverflowRounds.run(rounds, () -> counters.allocate("deep").free(),
                () -> counters.allocate("other").free(), BOUND);
    }

    /** {@code main(heap)}: allocates a counter and frees it, then prints {@code ALLOCATED}. */
    public static final class Allocator {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedCounters.open(heap, "counters").allocate("child").free();
                System.out.println("ALLOCATED");
                System.out.flush();
            }
        }
    }

    /** {@code main(heap)}: {@link #CHILD_ROUNDS} rounds as in the first test; prints {@code ROUNDS} and the outcome. */
    public static final class Rounds {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                StackOverflowRounds.report(rounds(SharedCounters.open(heap, "counters"), CHILD_ROUNDS));
            }
        }
    }
}
