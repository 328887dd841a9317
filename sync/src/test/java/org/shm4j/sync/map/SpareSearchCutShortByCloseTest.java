package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.sync.Codec;
import org.shm4j.testing.CloseRaceInChild;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A compaction that finds no spare segment to borrow looks for one a killed writer lost ({@code reclaimLost}),
 * holding every other segment's lock meanwhile. A close of its heap view by another thread cut that short, and each
 * unlock then gives its lock back through another open view of the heap and throws: the unlocks must all run, else
 * the segments after the first stay locked by a thread whose call threw, blocking every write to them while the
 * process keeps the other view. A thread searches again and again through a view closed after a random number of
 * searches; then every segment must be free through the kept view ({@code clear()} locks each in turn).
 */
@Timeout(120)
class SpareSearchCutShortByCloseTest {
    private static final int ROUNDS = 20;
    private static final Duration BOUND = Duration.ofSeconds(10);
    /** How long the kept view's clear may take: at once, unless a segment is left locked. */
    private static final Duration FREE_WITHIN = Duration.ofSeconds(2);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /** In a child JVM, which the JDK may crash: see {@link CloseRaceInChild}. */
    @Test
    void shouldFreeEverySegmentTheSpareSearchLockedWhenItsViewCloses() throws Exception {
        String heaps = names.unique("spare-search");
        CloseRaceInChild.runOnHeaps(SpareSearchCutShortByCloseTest.class, "searchRounds", heaps, ROUNDS);
    }

    /** The rounds of {@link #shouldFreeEverySegmentTheSpareSearchLockedWhenItsViewCloses}. */
    static void searchRounds(String[] args) throws Exception {
        List<String> stuck = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++) {
            String name = args[0] + "-" + round;
            SharedMemory.unlink(name); // left by an earlier attempt that the JDK crashed
            try (SharedHeap kept = SharedHeap.create(name, 4 << 20)) {
                SharedMap<Long, Long> keptMap = SharedMap.create(kept, "map", Codec.longs(), Codec.longs(),
                        new MapSizing(4_096, 8, 8)); // 16 segments
                SharedHeap closing = SharedHeap.open(name);
                MapCore core = SharedMap.open(closing, "map", Codec.longs(), Codec.longs()).core();
                AtomicLong searches = new AtomicLong();
                Thread searcher = Thread.ofPlatform().daemon().start(() -> searchUntilClosed(core, searches));
                long closeAfter = ThreadLocalRandom.current().nextLong(1, 200);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (searches.get() < closeAfter && searcher.isAlive()) {
                    assertThat(System.nanoTime() - deadline).as("the searches, within %s", BOUND).isNegative();
                    Thread.onSpinWait();
                }
                closing.close();
                assertThat(searcher.join(BOUND)).as("the searcher ended by the close").isTrue();
                Thread clear = Thread.ofPlatform().daemon().start(keptMap::clear);
                if (!clear.join(FREE_WITHIN)) {
                    stuck.add("round " + round + " (after " + searches.get() + " searches)");
                }
            } finally {
                SharedMemory.unlink(name);
            }
        }
        assertThat(stuck).as("rounds of %d that left a segment locked", ROUNDS).isEmpty();
    }

    /**
     * Under segment 0's lock, as a compaction's, looks for a spare until a call throws because the view closed;
     * then unlocks segment 0, which gives it back through the kept view (and throws).
     */
    private static void searchUntilClosed(MapCore core, AtomicLong searches) {
        MapSegment compacting = core.segmentNumber(0, null, 0, 0);
        compacting.lock();
        try {
            while (true) {
                core.borrowSpare(compacting); // the first reclaims the map's unused segment; later ones find none
                searches.incrementAndGet();
            }
        } catch (IllegalStateException closed) {
            try {
                compacting.unlock();
            } catch (IllegalStateException alsoClosed) {
                // given back through the kept view
            }
        }
    }
}
