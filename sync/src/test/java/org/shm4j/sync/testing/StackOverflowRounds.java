package org.shm4j.sync.testing;

import org.shm4j.testing.ChildJvm;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Rounds of a thread that recurses to its stack's end, then runs an operation once at every depth on its way back,
 * so that a {@link StackOverflowError} cuts the operation short at every step of it, also in its {@code finally}
 * blocks; after each round another thread must run its own operation within a bound. The shape of
 * {@code SegmentStackOverflowTest}, for the structures whose internal mutex such an error could leave held.
 */
public final class StackOverflowRounds {
    private static final long DEEP_STACK_BYTES = 512 * 1024;
    /** How a child's line with its rounds' outcome begins. */
    private static final String OUTCOME = "ROUNDS ";

    private StackOverflowRounds() {
    }

    /**
     * What the rounds gave.
     *
     * @param outcome   {@code "n ok"} after {@code n} rounds, or {@code "failed in round r: why"} at the first failure
     * @param overflows the operations that a {@code StackOverflowError} cut short
     */
    public record Result(String outcome, int overflows) {
    }

    /**
     * Runs the operation once in the calling thread, so that the classes it uses are initialized at a shallow depth
     * (a class whose initializer overflows stays unusable), then the rounds, ending at the first failure: the deep
     * thread hangs or an operation of it threw something else than {@code StackOverflowError}, or
     * {@code byAnotherThread} hangs or throws. Each wait is bounded.
     *
     * @param rounds          how many
     * @param atEveryDepth    the operation the deep thread runs at every depth
     * @param byAnotherThread what another thread must complete after each round
     * @param bound           how long each thread may take
     */
    public static Result run(int rounds, Runnable atEveryDepth, Runnable byAnotherThread, Duration bound)
            throws InterruptedException {
        atEveryDepth.run();
        int[] overflows = new int[1];
        for (int round = 0; round < rounds; round++) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread deep = Thread.ofPlatform().daemon().stackSize(DEEP_STACK_BYTES).start(() -> {
                try {
                    down(atEveryDepth, overflows);
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            deep.join(bound.toMillis());
            if (deep.isAlive() || failure.get() != null) {
                return new Result("failed in round " + round + ": "
                        + (deep.isAlive() ? "the deep thread hangs" : failure.get()), overflows[0]);
            }
            Thread other = Thread.ofPlatform().daemon().start(() -> {
                try {
                    byAnotherThread.run();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            other.join(bound.toMillis());
            if (other.isAlive() || failure.get() != null) {
                return new Result("failed in round " + round + ": another thread's operation "
                        + (other.isAlive() ? "hangs" : "threw " + failure.get()), overflows[0]);
            }
        }
        return new Result(rounds + " ok", overflows[0]);
    }

    /**
     * Runs {@code rounds}, whose {@code main(heap)} ends with {@link #report}, in a child JVM on {@code heapName}: a
     * child's JIT stops at C1, where the overflow strikes in other places than in this JVM.
     *
     * @return the outcome the child printed ({@link Result#outcome()})
     */
    public static String outcomeInChild(Class<?> rounds, String heapName, Duration bound) throws Exception {
        try (ChildJvm child = ChildJvm.start(rounds, heapName)) {
            String line = child.awaitLine(OUTCOME, bound.multipliedBy(3));
            child.awaitSuccess(bound);
            return line.substring(OUTCOME.length());
        }
    }

    /** Prints the outcome of a child's rounds for {@link #outcomeInChild}. */
    public static void report(Result result) {
        System.out.println(OUTCOME + result.outcome());
        System.out.flush();
    }

    /** The recursion: runs the operation once at every depth on its way back from the stack's end. */
    private static void down(Runnable atEveryDepth, int[] overflows) {
        try {
            down(atEveryDepth, overflows);
        } catch (StackOverflowError end) {
            // the end: run the operation on the way back
        }
        try {
            atEveryDepth.run();
        } catch (StackOverflowError e) {
            overflows[0]++; // only the deep thread writes it; read after its join
        }
    }
}
