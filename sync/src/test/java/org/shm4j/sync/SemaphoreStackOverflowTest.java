package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.testing.StackOverflowRounds;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link StackOverflowError} that cuts an acquire or a release of an undo {@link SharedSemaphore} short in a thread
 * that lives on: the undo mutex is released in a {@code finally} at about the depth where the change overflowed, and
 * the release may overflow again. Before the fix the mutex stayed held by that thread: its next acquire threw
 * "already held by this thread, and not reentrant", and every other acquire or release, in any process, waited for
 * it. Each round recurses to the stack's end, then acquires and releases a permit at every depth on the way back;
 * then another thread must acquire and release one in time, and at the end a child JVM too; the same rounds also run
 * in a child JVM, whose JIT stops at C1.
 */
class SemaphoreStackOverflowTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final int ROUNDS = 40;
    private static final int PERMITS = 1 << 20;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNotLeaveTheUndoMutexHeldWhenAStackOverflowCutsAnAcquireShort() throws Exception {
        String heapName = names.unique("semsoe");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedSemaphore semaphore = SharedSemaphore.create(heap, "sem", PERMITS, SharedSemaphore.Kind.UNDO);
            StackOverflowRounds.Result result = rounds(semaphore);
            assertThat(result.outcome()).as("the rounds").isEqualTo(ROUNDS + " ok");
            assertThat(result.overflows()).as("acquires and releases cut short by the overflow").isPositive();
            assertThat(semaphore.availablePermits()).as("permits left held: at most one per overflow")
                    .isGreaterThanOrEqualTo(PERMITS - result.overflows());
            try (ChildJvm child = ChildJvm.start(Acquirer.class, heapName)) {
                assertThat(child.awaitLine("ACQUIRED", BOUND)).as("another process acquires a permit")
                        .isEqualTo("ACQUIRED true");
                child.awaitSuccess(BOUND);
            }
        }
    }

    @Test
    void shouldNotLeaveTheUndoMutexHeldWhenAStackOverflowCutsAnAcquireShortUnderC1() throws Exception {
        String heapName = names.unique("semsoe1");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedSemaphore.create(heap, "sem", PERMITS, SharedSemaphore.Kind.UNDO);
            assertThat(StackOverflowRounds.outcomeInChild(Rounds.class, heapName, BOUND)).as("the child's rounds")
                    .isEqualTo(ROUNDS + " ok");
        }
    }

    private static StackOverflowRounds.Result rounds(SharedSemaphore semaphore) throws InterruptedException {
        return StackOverflowRounds.run(ROUNDS, () -> {
            if (semaphore.tryAcquire()) {
                semaphore.release();
            }
        }, () -> {
            if (!acquireAndRelease(semaphore)) {
                throw new AssertionError("no permit of " + semaphore + " within " + BOUND);
            }
        }, BOUND);
    }

    /** @return true if a permit was acquired within the bound (and released) */
    private static boolean acquireAndRelease(SharedSemaphore semaphore) {
        try {
            if (!semaphore.tryAcquire(1, BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
                return false;
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        semaphore.release();
        return true;
    }

    /** {@code main(heap)}: acquires a permit within the bound and releases it; prints {@code ACQUIRED true}. */
    public static final class Acquirer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                System.out.println("ACQUIRED " + acquireAndRelease(SharedSemaphore.open(heap, "sem")));
                System.out.flush();
            }
        }
    }

    /** {@code main(heap)}: the rounds of the first test; prints {@code ROUNDS} and their outcome. */
    public static final class Rounds {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                StackOverflowRounds.report(rounds(SharedSemaphore.open(heap, "sem")));
            }
        }
    }
}
