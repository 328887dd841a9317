package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A structure whose first operation in a JVM comes from deep in a thread's stack: a class that operation initializes
 * first (a holder of a thread's buffers, of handles, of native downcalls) may overflow the stack in its static
 * initialization, and the JVM then marks it erroneous for good: before the fix every later compute of any map in that
 * JVM threw {@code NoClassDefFoundError: Could not initialize class org.shm4j.sync.map.Scratch}. Class initialization
 * is per JVM, so a fresh child JVM opens each structure at a shallow depth, then makes its first operation from a
 * small-stack thread at every depth on the way back from the stack's end (a {@link StackOverflowError} there is
 * expected; any other error is not), then once more from a shallow thread, which must work.
 */
class FirstUseDeepInStackTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldWorkAfterAFirstOperationFromDeepInAStack() throws Exception {
        String heapName = names.unique("firstdeep");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            try (ChildJvm child = ChildJvm.start(FirstUses.class, heapName)) {
                for (String structure : FirstUses.cases(heap).keySet()) {
                    assertThat(child.awaitLine("CASE " + structure + " ", BOUND)).as(structure)
                            .isEqualTo("CASE " + structure + " ok");
                }
                child.awaitSuccess(BOUND);
            }
        }
    }

    /**
     * {@code main(heap)}: for each case, opens the structure here (shallow), makes the first operation at every depth
     * of a small-stack thread on its way back from the stack's end, then once from a shallow thread, and prints
     * {@code CASE name ok} or {@code CASE name failed: why}.
     */
    public static final class FirstUses {
        /** @return each case's name and how it opens its structure and returns its operation, in order */
        static Map<String, Function<SharedHeap, Runnable>> cases(SharedHeap unused) {
            Map<String, Function<SharedHeap, Runnable>> cases = new LinkedHashMap<>();
            cases.put("map", heap -> {
                SharedMap<Long, Long> map = SharedMap.create(heap, "map", Codec.longs(), Codec.longs(),
                        MapSizing.ofLongKeys(100, 8));
                return () -> map.compute(1L, (k, v) -> v == null ? 1L : v + 1);
            });
            return cases;
        }

        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                for (Map.Entry<String, Function<SharedHeap, Runnable>> entry : cases(heap).entrySet()) {
                    Runnable operation = entry.getValue().apply(heap);
                    System.out.println("CASE " + entry.getKey() + " " + tryDeepThenShallow(operation));
                    System.out.flush();
                }
            }
        }

        private static String tryDeepThenShallow(Runnable operation) throws InterruptedException {
            Deep deep = new Deep(operation);
            Thread deepThread = Thread.ofPlatform().daemon().stackSize(256 * 1024).start(deep::down);
            deepThread.join(BOUND.toMillis());
            if (deepThread.isAlive()) {
                return "failed: the deep thread hangs";
            }
            if (!deep.failures.isEmpty()) {
                return "failed: deep in the stack: " + deep.failures.getFirst();
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread shallow = Thread.ofPlatform().daemon().start(() -> {
                try {
                    operation.run();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            shallow.join(BOUND.toMillis());
            if (shallow.isAlive()) {
                return "failed: the shallow thread hangs";
            }
            return failure.get() == null ? "ok" : "failed: from a shallow thread afterwards: " + failure.get();
        }
    }

    /** The recursion: runs the operation once at every depth on its way back from the stack's end. */
    private static final class Deep {
        private final Runnable operation;
        final List<Throwable> failures = new ArrayList<>();

        Deep(Runnable operation) {
            this.operation = operation;
        }

        void down() {
            try {
                down();
            } catch (StackOverflowError expected) {
                // the end: run the operation on the way back
            }
            try {
                operation.run();
            } catch (StackOverflowError expected) {
                // cut short at this depth
            } catch (Throwable t) {
                failures.add(t);
            }
        }
    }
}
