package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.core.StaleHeapTest.BOUND;
import static org.shm4j.core.StaleHeapTest.MARK;
import static org.shm4j.core.StaleHeapTest.SIZE;

/**
 * A cleaner ({@link SharedHeap#unlinkIfStale(String)}) racing an opener ({@code openOrCreate}) on a stale heap, many
 * times. Each round starts both at once on a heap whose creator was SIGKILLed. Outcomes:
 * <ul>
 * <li>ACCEPTABLE: the cleaner returns false and the opener holds the original heap (it attached first).</li>
 * <li>ACCEPTABLE: the cleaner returns true and the opener holds a heap it created anew (the cleaner removed the
 *     original first, or while the opener was attaching, and the opener noticed and opened the name again).</li>
 * <li>FORBIDDEN: the cleaner returns true and the opener holds the original heap (attached to a removed heap).</li>
 * <li>FORBIDDEN: the opener holds a heap that its name no longer leads to, or that a cleaner calls stale while it is
 *     open.</li>
 * </ul>
 */
@Timeout(180)
class HeapRemovalRaceTest {
    private static final int ROUNDS = 300;
    private static final int CROSS_PROCESS_ROUNDS = 20;
    /** The cleaner starts up to this much later, so that it sometimes meets the opener half-way through. */
    private static final long JITTER_NANOS = 3_000_000;
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNeverLeaveAnOpenerOnARemovedHeapWhenThreadsRace() throws Exception {
        String base = names.unique("race");
        int[] removed = {0};
        try (ChildJvm creator = ChildJvm.start(StaleHeapTest.Creator.class, base, Integer.toString(ROUNDS));
             ExecutorService pool = Executors.newFixedThreadPool(2)) {
            creator.awaitLine("READY", BOUND);
            creator.kill();
            CyclicBarrier start = new CyclicBarrier(2);
            Random random = new Random(5);
            for (int r = 0; r < ROUNDS; r++) {
                String name = base + "-" + r;
                long jitterNanos = random.nextLong(JITTER_NANOS);
                Future<Boolean> cleaner = pool.submit(() -> {
                    start.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                    spin(jitterNanos);
                    return SharedHeap.unlinkIfStale(name);
                });
                Future<SharedHeap> opener = pool.submit(() -> {
                    start.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                    return SharedHeap.openOrCreate(name, SIZE);
                });
                boolean cleaned = cleaner.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                try (SharedHeap heap = opener.get(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                    checkRound(name, cleaned, heap);
                }
                removed[0] += cleaned ? 1 : 0;
            }
        } finally {
            for (int r = 0; r < ROUNDS; r++) {
                SharedMemory.unlink(base + "-" + r);
            }
        }
        System.out.println("thread race: the cleaner won " + removed[0] + " of " + ROUNDS + " rounds");
    }

    @Test
    void shouldNeverLeaveAnOpenerOnARemovedHeapWhenProcessesRace() throws Exception {
        String base = names.unique("xrace");
        int rounds = CROSS_PROCESS_ROUNDS;
        try (ChildJvm creator = ChildJvm.start(StaleHeapTest.Creator.class, base, Integer.toString(rounds));
             SharedMemory barrier = SharedMemory.create(names.unique("xrace-barrier"), rounds * 64L)) {
            creator.awaitLine("READY", BOUND);
            creator.kill();
            boolean[] cleaned = new boolean[rounds];
            try (ChildJvm opener = ChildJvm.start(RacingOpener.class, base, barrier.name().orElseThrow(),
                    Integer.toString(rounds))) {
                for (int r = 0; r < rounds; r++) {
                    meet(barrier.segment(), r);
                    cleaned[r] = SharedHeap.unlinkIfStale(base + "-" + r);
                }
                opener.awaitLine("DONE", BOUND);
                List<String> lines = opener.output().lines().filter(l -> !l.equals("DONE")).toList();
                assertThat(lines).hasSize(rounds);
                for (int r = 0; r < rounds; r++) {
                    String name = base + "-" + r;
                    assertThat(lines.get(r)).as("round %d, cleaner removed: %s", r, cleaned[r])
                            .isEqualTo(r + (cleaned[r] ? " new" : " original"));
                    try (SharedHeap view = SharedHeap.openReadOnly(name)) {
                        assertThat(view.find("opener")).as("the name leads to the opener's heap").isPresent();
                    }
                    assertThat(SharedHeap.unlinkIfStale(name)).as("the opener lives and has it open").isFalse();
                }
                opener.kill();
            }
            for (int r = 0; r < rounds; r++) {
                assertThat(SharedHeap.unlinkIfStale(base + "-" + r)).as("its last process was killed").isTrue();
            }
        } finally {
            for (int r = 0; r < rounds; r++) {
                SharedMemory.unlink(base + "-" + r);
            }
        }
    }

    private static void checkRound(String name, boolean cleaned, SharedHeap heap) {
        assertThat(heap.find("original").isPresent()).as("%s: cleaner removed=%s, opener holds the original",
                name, cleaned).isEqualTo(!cleaned);
        heap.allocateOrLookup("opener", MARK, 8, 8, s -> { });
        try (SharedHeap view = SharedHeap.openReadOnly(name)) {
            assertThat(view.find("opener")).as("%s leads to the opener's heap", name).isPresent();
        }
        assertThat(SharedHeap.unlinkIfStale(name)).as("%s is open in a live process", name).isFalse();
    }

    /** Busy-waits {@code nanos}: a start offset, not a synchronisation. */
    private static void spin(long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }

    /** Both sides add 1 to round {@code r}'s counter and wait (bounded) until both did. */
    static void meet(MemorySegment barrier, int r) {
        LONG.getAndAdd(barrier, r * 64L, 1L);
        StaleHeapTest.awaitAtLeast(barrier, r * 64L, 2);
    }

    /**
     * For each round, meets the cleaner, then {@code openOrCreate}s heap {@code <base>-<round>}, allocates a block
     * "opener" in it and prints {@code <round> original} or {@code <round> new}; keeps every heap open, prints DONE
     * and waits to be killed. {@code main(base, barrierName, rounds)}.
     */
    public static final class RacingOpener {
        public static void main(String[] args) throws InterruptedException {
            int rounds = Integer.parseInt(args[2]);
            List<SharedHeap> kept = new ArrayList<>();
            StringBuilder out = new StringBuilder();
            try (SharedMemory barrier = SharedMemory.open(args[1])) {
                for (int r = 0; r < rounds; r++) {
                    meet(barrier.segment(), r);
                    SharedHeap heap = SharedHeap.openOrCreate(args[0] + "-" + r, SIZE);
                    kept.add(heap);
                    out.append(r).append(heap.find("original").isPresent() ? " original" : " new").append('\n');
                    heap.allocateOrLookup("opener", MARK, 8, 8, s -> { });
                }
            }
            System.out.print(out);
            System.out.println("DONE");
            System.out.flush();
            Thread.sleep(TimeUnit.SECONDS.toMillis(60)); // killed long before
        }
    }
}
