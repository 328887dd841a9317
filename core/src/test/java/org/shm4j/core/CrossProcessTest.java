package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Regions and heaps shared by real child JVMs. */
class CrossProcessTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final BlockType RACE = new BlockType(0x7E57, 1);
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldSeeThePatternAChildWrote() throws Exception {
        String name = names.unique("pattern");
        try (SharedMemory region = SharedMemory.create(name, 1 << 20)) {
            try (ChildJvm child = ChildJvm.start(PatternWriter.class, name, "17")) {
                child.awaitSuccess(BOUND);
            }
            MemorySegment segment = region.segment();
            for (long i = 0; i < segment.byteSize(); i++) {
                if (segment.get(JAVA_BYTE, i) != PatternWriter.patternByte(17, i)) {
                    throw new AssertionError("byte " + i + " differs");
                }
            }
        }
    }

    @Test
    void shouldAgreeOnOneCreatorAndOneBlockPerNameWhenProcessesRace() throws Exception {
        String base = names.unique("race");
        int children = 3;
        int rounds = 100;
        int blockNames = 12;
        try (SharedMemory barrier = SharedMemory.create(names.unique("race-barrier"), rounds * 64L)) {
            List<ChildJvm> racers = new ArrayList<>();
            try {
                for (int c = 0; c < children; c++) {
                    racers.add(ChildJvm.start(HeapRacer.class, base, barrier.name().orElseThrow(),
                            Integer.toString(children),
                            Integer.toString(rounds), Integer.toString(blockNames), Integer.toString(c)));
                }
                for (ChildJvm racer : racers) {
                    racer.awaitSuccess(BOUND);
                    assertThat(racer.output().lines()).hasSize(rounds * blockNames);
                }
            } finally {
                for (ChildJvm racer : racers) {
                    racer.close();
                }
            }
            for (int r = 0; r < rounds; r++) {
                String heapName = base + "-" + r;
                try (SharedHeap heap = SharedHeap.open(heapName)) {
                    assertThat(heap.blocks()).hasSize(blockNames);
                    Map<String, Long> offsets = new HashMap<>();
                    for (HeapBlock block : heap.blocks()) {
                        offsets.put(block.name(), block.offset());
                        assertThat(block.segment().get(JAVA_LONG, 8)).as("initializer runs of %s", block.name())
                                .isEqualTo(1L);
                    }
                    String prefix = r + " ";
                    for (ChildJvm racer : racers) {
                        for (String line : racer.output().lines().filter(l -> l.startsWith(prefix)).toList()) {
                            String[] parts = line.split(" ");
                            assertThat(Long.parseLong(parts[2])).as("offset of %s in round %d", parts[1], r)
                                    .isEqualTo(offsets.get(parts[1]));
                        }
                    }
                } finally {
                    SharedMemory.unlink(heapName);
                }
            }
        }
    }

    @Test
    void shouldTakeOverTheAllocationLockOfAChildKilledMidAllocation() throws Exception {
        String name = names.unique("killed");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            heap.allocate("before", RACE, 8);
            try (ChildJvm child = ChildJvm.start(StuckAllocator.class, name)) {
                child.awaitLine("HOLDING", BOUND);
                child.kill();
            }
            long start = System.nanoTime();
            HeapBlock block = heap.allocate("victim", RACE, 64);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            assertThat(block.segment().toArray(JAVA_BYTE)).as("half-written bytes are zeroed").containsOnly(0);
            assertThat(heap.blocks()).extracting(HeapBlock::name).containsExactly("before", "victim");
        }
    }

    @Test
    void shouldReportAHeapWhoseCreatorDiedBeforeInitialising() throws Exception {
        String name = names.unique("halfborn");
        long deadPid;
        try (ChildJvm child = ChildJvm.start(StuckAllocator.class, "-")) {
            deadPid = child.pid();
            child.kill();
        }
        try (SharedMemory region = SharedMemory.create(name, 1 << 16)) {
            region.segment().set(JAVA_LONG, 48, deadPid); // creatorPid written, magic never
        }
        assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("half-initialised: its creator pid " + deadPid + " died");
    }

    /** Writes a pattern over a named region: {@code main(name, seed)}. */
    public static final class PatternWriter {
        static byte patternByte(long seed, long i) {
            return (byte) (i * 31 + seed + (i >>> 8));
        }

        public static void main(String[] args) {
            long seed = Long.parseLong(args[1]);
            try (SharedMemory region = SharedMemory.open(args[0])) {
                for (long i = 0; i < region.byteSize(); i++) {
                    region.segment().set(JAVA_BYTE, i, patternByte(seed, i));
                }
            }
        }
    }

    /**
     * Races the other children on {@code openOrCreate} of one heap per round and on {@code allocateOrLookup} of the
     * same block names in a shuffled order; prints {@code round name offset} for every block it gets.
     * {@code main(base, barrierName, children, rounds, blockNames, id)}.
     */
    public static final class HeapRacer {
        public static void main(String[] args) {
            String base = args[0];
            int children = Integer.parseInt(args[2]);
            int rounds = Integer.parseInt(args[3]);
            int blockNames = Integer.parseInt(args[4]);
            Random random = new Random(Integer.parseInt(args[5]));
            StringBuilder out = new StringBuilder();
            try (SharedMemory barrier = SharedMemory.open(args[1])) {
                for (int r = 0; r < rounds; r++) {
                    awaitAll(barrier.segment(), r * 64L, children);
                    try (SharedHeap heap = SharedHeap.openOrCreate(base + "-" + r, 1 << 16)) {
                        List<Integer> order = new ArrayList<>();
                        for (int i = 0; i < blockNames; i++) {
                            order.add(i);
                        }
                        Collections.shuffle(order, random);
                        for (int i : order) {
                            HeapBlock block = heap.allocateOrLookup("block-" + i, RACE, 64, 64,
                                    s -> LONG.getAndAdd(s, 8L, 1L));
                            out.append(r).append(" block-").append(i).append(' ').append(block.offset()).append('\n');
                        }
                    }
                }
            }
            System.out.print(out);
        }

        private static void awaitAll(MemorySegment barrier, long offset, int parties) {
            LONG.getAndAdd(barrier, offset, 1L);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while ((long) LONG.getVolatile(barrier, offset) < parties) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("barrier timed out");
                }
                Thread.onSpinWait();
            }
        }
    }

    /** Dies (is killed) while holding a heap's allocation lock: {@code main(heapName)}; {@code "-"} just waits. */
    public static final class StuckAllocator {
        public static void main(String[] args) throws InterruptedException {
            if (args[0].equals("-")) {
                Thread.sleep(TimeUnit.SECONDS.toMillis(60));
                return;
            }
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                heap.allocate("victim", RACE, 64, 64, s -> {
                    s.fill((byte) 0x5A);
                    System.out.println("HOLDING");
                    System.out.flush();
                    try {
                        Thread.sleep(TimeUnit.SECONDS.toMillis(60)); // killed long before this ends
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
        }
    }
}
