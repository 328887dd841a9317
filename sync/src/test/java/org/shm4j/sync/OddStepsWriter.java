package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ChildJvm;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A writer process that keeps a seqlock's word (a {@code SharedList}'s seq, a map segment's sequence) in the middle of
 * a change from start to end: it steps the word from one odd value to the next (a change ending and the next
 * beginning with no even value between), so that a SIGKILL at any instant leaves a change under way, as a writer
 * killed in its seqlock section does. For the read-only reader tests, which tell such a dead writer from writers that
 * kept changing the structure; and the stepping alone, from a thread of the test, for the latter.
 */
public final class OddStepsWriter {
    private static final VarHandle WORD = JAVA_LONG.varHandle();
    private static final String STEPPING = "STEPPING";

    private OddStepsWriter() {
    }

    /** One way of stepping a seqlock's word while a read-only read runs: this class's two, as the tests pass them. */
    @FunctionalInterface
    public interface Stepping {
        /** @return what {@code read} threw, or null if it returned */
        Throwable readWhileStepping(String heapName, SharedHeap heap, MemorySegment word, long offset, Callable<?> read)
                throws Exception;
    }

    /**
     * Runs {@code read} (a read through a heap opened read-only) on a thread of its own while a child JVM steps the
     * long at {@code offset} of {@code word} (memory of {@code heap}, named {@code heapName}), and SIGKILLs the child
     * once the read has begun retrying (a {@code Settling} on its stack) and the word has changed since: the writer
     * dies mid-change after the reader's first retry, its last change later than anything the reader saw then.
     *
     * @return what the read threw, or null if it returned
     */
    public static Throwable readWhileTheWriterDiesMidChange(String heapName, SharedHeap heap, MemorySegment word,
                                                            long offset, Callable<?> read) throws Exception {
        long inHeap = word.address() + offset - heap.memory().segment().address();
        try (ChildJvm writer = ChildJvm.start(OddStepsWriter.class, heapName, Long.toString(inHeap))) {
            writer.awaitLine(STEPPING, Children.BOUND);
            CompletableFuture<Throwable> outcome = new CompletableFuture<>();
            Thread reader = startReading(read, outcome);
            Children.awaitTrue("the read retrying", () -> outcome.isDone() || retrying(reader));
            assertThat(outcome).as("the read still retrying").isNotDone();
            long seen = (long) WORD.getAcquire(word, offset);
            Children.awaitTrue("a change after the read's first retry", () -> (long) WORD.getAcquire(word, offset)
                    != seen);
            writer.kill();
            return outcome.get(Children.BOUND.toSeconds(), TimeUnit.SECONDS);
        }
    }

    /**
     * Runs {@code read} (a read through a heap opened read-only) on a thread of its own while this thread steps the
     * long at {@code offset} of {@code word} from one odd value to the next until the read ends (it stays odd from
     * before the read begins): writers that keep changing the structure, a change ending and the next beginning with
     * no even value between.
     *
     * @return what the read threw, or null if it returned
     */
    public static Throwable readWhileWritersKeepChanging(MemorySegment word, long offset, Callable<?> read)
            throws Exception {
        long step = (long) WORD.getAcquire(word, offset) | 1; // a change under way as the read starts
        WORD.setRelease(word, offset, step);
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        startReading(read, outcome);
        long deadline = System.nanoTime() + Children.BOUND.toNanos(); // the read's own retry budget ends it first
        while (!outcome.isDone() && System.nanoTime() - deadline < 0) {
            step += 2;
            WORD.setRelease(word, offset, step); // the next change, never even
            Thread.yield();
        }
        return outcome.get(Children.BOUND.toSeconds(), TimeUnit.SECONDS);
    }

    /** Starts a daemon thread that runs {@code read} and completes {@code outcome} with what it threw, or null. */
    private static Thread startReading(Callable<?> read, CompletableFuture<Throwable> outcome) {
        return Thread.ofPlatform().daemon().start(() -> {
            try {
                read.call();
                outcome.complete(null);
            } catch (Throwable t) {
                outcome.complete(t);
            }
        });
    }

    private static boolean retrying(Thread reader) {
        return Arrays.stream(reader.getStackTrace())
                .anyMatch(frame -> frame.getClassName().equals("org.shm4j.sync.internal.Settling"));
    }

    /** The writer: steps the word at heap offset {@code args[1]} of heap {@code args[0]} until killed (or a bound). */
    public static void main(String[] args) {
        try (SharedHeap heap = SharedHeap.open(args[0])) {
            MemorySegment memory = heap.memory().segment();
            long offset = Long.parseLong(args[1]);
            long word = (long) WORD.getAcquire(memory, offset) | 1; // in the middle of a change from here on
            WORD.setRelease(memory, offset, word);
            Children.say(STEPPING);
            long deadline = System.nanoTime() + Children.BOUND.toNanos(); // a child the test failed to kill ends
            while (System.nanoTime() - deadline < 0) {
                word += 2;
                WORD.setRelease(memory, offset, word); // the next change, never even
                Thread.yield();
            }
        }
    }
}
