package org.shm4j.sync.map;

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
 * A {@link StackOverflowError} that cuts a {@code compute} short in a thread that lives on: the segment's unlock runs
 * in a {@code finally} at about the depth where the function overflowed, and may overflow again. Before the fix the
 * segment stayed locked by that thread: its next compute threw "locked by this thread already", and every other
 * thread or process waited for the segment for ever. Each round recurses to the stack's end, then computes at every
 * depth on the way back; then another thread must write every key in time, and at the end a child JVM too.
 */
class SegmentStackOverflowTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int ROUNDS = 40;
    private static final int KEYS = 64;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNotLeaveASegmentLockedWhenAStackOverflowCutsAComputeShort() throws Exception {
        String heapName = names.unique("segsoe");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedMap<Long, Long> map = SharedMap.create(heap, "map", Codec.longs(), Codec.longs(),
                    MapSizing.ofLongKeys(1000, 8));
            StackOverflowRounds.Result result = rounds(map);
            assertThat(result.outcome()).as("the rounds").isEqualTo(ROUNDS + " ok");
            assertThat(result.overflows()).as("computes cut short by the overflow").isPositive();
            try (ChildJvm child = ChildJvm.start(Toucher.class, heapName)) {
                assertThat(child.awaitLine("TOUCHED", BOUND)).as("another process writes every key")
                        .isEqualTo("TOUCHED " + KEYS);
                child.awaitSuccess(BOUND);
            }
        }
    }

    /**
     * The same rounds in a child JVM, whose JIT stops at C1 as every child's does: there the overflow also strikes in
     * the repair that {@code lock()} runs once it took a noted hold over (the cut-short write left the sequence odd),
     * and again in the release of {@code lock()}'s own catch, which left the segment held by the thread with nothing
     * noted: its next compute threw "locked by this thread already" (round 1 or 2 in each of four runs).
     */
    @Test
    void shouldNotLeaveASegmentLockedWhenTheRepairAfterATakeOverOverflows() throws Exception {
        String heapName = names.unique("segsoerepair");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedMap.create(heap, "map", Codec.longs(), Codec.longs(), MapSizing.ofLongKeys(1000, 8));
            assertThat(StackOverflowRounds.outcomeInChild(Rounds.class, heapName, BOUND)).as("the child's rounds")
                    .isEqualTo(ROUNDS + " ok");
        }
    }

    /** Computes once at every depth of {@link StackOverflowRounds}, after one compute of each key here. */
    private static StackOverflowRounds.Result rounds(SharedMap<Long, Long> map) throws InterruptedException {
        for (long key = 0; key < KEYS; key++) { // at this depth: the classes a compute uses are initialized here
            map.compute(key, (k, v) -> 0L);
        }
        long[] next = new long[1]; // only the deep threads, one at a time, use it
        return StackOverflowRounds.run(ROUNDS, () -> map.compute(next[0]++ % KEYS, (k, v) -> v == null ? 1L : v + 1),
                () -> touchAll(map), BOUND);
    }

    /** Writes every key back with its value. */
    private static void touchAll(SharedMap<Long, Long> map) {
        for (long key = 0; key < KEYS; key++) {
            map.put(key, map.getOrDefault(key, 0L));
        }
    }

    /**
     * {@code main(heap)}: the rounds of the first test (ending at the first failure, each wait bounded) and prints
     * {@code ROUNDS n ok}, or {@code ROUNDS failed in round r: why}.
     */
    public static final class Rounds {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, Long> map = SharedMap.open(heap, "map", Codec.longs(), Codec.longs());
                StackOverflowRounds.report(rounds(map));
            }
        }
    }

    /** {@code main(heap)}: writes every key back and prints {@code TOUCHED n}. */
    public static final class Toucher {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, Long> map = SharedMap.open(heap, "map", Codec.longs(), Codec.longs());
                touchAll(map);
                System.out.println("TOUCHED " + KEYS);
                System.out.flush();
            }
        }
    }
}
