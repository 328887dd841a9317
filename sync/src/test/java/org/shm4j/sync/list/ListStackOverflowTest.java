package org.shm4j.sync.list;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.testing.StackOverflowRounds;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link StackOverflowError} that cuts an {@code add} or {@code remove} of a {@link SharedList} short in a thread
 * that lives on: the writers' mutex is released in a {@code finally} at about the depth where the change overflowed,
 * and the release may overflow again. Before the fix the mutex stayed held by that thread: its next change threw
 * "already held by this thread, and not reentrant", and every other writer, in any process, waited for ever. Each
 * round recurses to the stack's end, then adds or removes at every depth on the way back; then another thread must
 * change the list in time and find every element whole, and at the end a child JVM too; the same rounds also run in
 * a child JVM, whose JIT stops at C1.
 */
class ListStackOverflowTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final int ROUNDS = 40;
    private static final long ELEMENT = 7L;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNotLeaveTheListLockedWhenAStackOverflowCutsAChangeShort() throws Exception {
        String heapName = names.unique("listsoe");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            StackOverflowRounds.Result result = rounds(SharedList.create(heap, "list", Codec.longs(), Long.BYTES));
            assertThat(result.outcome()).as("the rounds").isEqualTo(ROUNDS + " ok");
            assertThat(result.overflows()).as("changes cut short by the overflow").isPositive();
            try (ChildJvm child = ChildJvm.start(Changer.class, heapName)) {
                assertThat(child.awaitLine("CHANGED", BOUND)).as("another process changes the list")
                        .isEqualTo("CHANGED");
                child.awaitSuccess(BOUND);
            }
        }
    }

    @Test
    void shouldNotLeaveTheListLockedWhenAStackOverflowCutsAChangeShortUnderC1() throws Exception {
        String heapName = names.unique("listsoe1");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedList.create(heap, "list", Codec.longs(), Long.BYTES);
            assertThat(StackOverflowRounds.outcomeInChild(Rounds.class, heapName, BOUND)).as("the child's rounds")
                    .isEqualTo(ROUNDS + " ok");
        }
    }

    private static StackOverflowRounds.Result rounds(SharedList<Long> list) throws InterruptedException {
        list.add(ELEMENT); // at this depth: the classes of both changes are initialized here
        list.remove(0);
        return StackOverflowRounds.run(ROUNDS, () -> {
            if (list.size() < 32) {
                list.add(ELEMENT);
            } else {
                list.remove(0);
            }
        }, () -> change(list), BOUND);
    }

    /**
     * Adds an element and removes the last, then reads every element back.
     *
     * @throws AssertionError if an element is not whole
     */
    private static void change(SharedList<Long> list) {
        list.add(ELEMENT);
        list.removeLast();
        for (Long element : list.snapshot()) {
            if (element != ELEMENT) {
                throw new AssertionError("an element of " + list + " is " + element);
            }
        }
    }

    /** {@code main(heap)}: changes the list as the test's other thread does, then prints {@code CHANGED}. */
    public static final class Changer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                change(SharedList.open(heap, "list", Codec.longs()));
                System.out.println("CHANGED");
                System.out.flush();
            }
        }
    }

    /** {@code main(heap)}: the rounds of the first test; prints {@code ROUNDS} and their outcome. */
    public static final class Rounds {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                StackOverflowRounds.report(rounds(SharedList.open(heap, "list", Codec.longs())));
            }
        }
    }
}
