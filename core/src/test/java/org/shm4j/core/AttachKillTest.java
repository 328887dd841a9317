package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * Processes SIGKILLed at random moments of a heap's life cycle, many times, across real child JVMs:
 * <ul>
 * <li>mid-attach or mid-detach (children opening and closing two heaps in a tight loop, one of them removed by its
 *     last close): afterwards the next open reclaims every dead entry, {@link SharedHeap#attachedProcesses()} shows
 *     exactly the live openers, neither heap is stale while a live process has it open, the blocks still read
 *     back, and at the end the plain heap is stale and removable and the other is removed by the last close;</li>
 * <li>mid-create and mid-allocation (two children racing {@code openOrCreate} and allocations over a series of
 *     names, one killed at random, then the other): the survivor goes on without an error, and every heap left at a
 *     name opens complete, with readable blocks, a working allocator and no live entry for a dead process.</li>
 * </ul>
 * FORBIDDEN in both: a hang past a bound, an exception in a survivor, a half-made heap at a name, a live-looking entry
 * of a killed process after an open.
 */
@Timeout(180)
class AttachKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final long SIZE = 1 << 16;
    private static final BlockType MARK = new BlockType(0xA77AC, 1);
    private static final long PATTERN = 0x5EED_CAFE_F00DL;
    private static final int WAVES = 4;
    private static final int CREATE_WAVES = 3;
    private static final int PER_WAVE = 4;
    /** A child is killed up to this long after it reported its loop running. */
    private static final long KILL_JITTER_NANOS = 40_000_000;
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldReclaimEveryOpenerKilledMidAttachOrDetachAndJudgeStalenessRight() throws Exception {
        String plain = names.unique("attach-plain");
        String removed = names.unique("attach-unlink");
        long me = ProcessHandle.current().pid();
        Random random = new Random(11);
        try (ChildJvm creator = ChildJvm.start(Maker.class, plain, removed)) {
            creator.awaitLine("READY", BOUND);
            SharedHeap plainHeap = SharedHeap.open(plain);
            SharedHeap removedHeap = SharedHeap.open(removed);
            for (int wave = 0; wave < WAVES; wave++) {
                Set<Long> killed = killLoopers(random, plain, removed);
                for (String name : List.of(plain, removed)) {
                    SharedHeap heap = name.equals(plain) ? plainHeap : removedHeap;
                    assertThat(heap.attachedProcesses()).as("%s after wave %d", name, wave)
                            .filteredOn(p -> p.pid() != me && p.pid() != creator.pid())
                            .allSatisfy(p -> assertThat(p.alive()).isFalse())
                            .allSatisfy(p -> assertThat(killed).contains(p.pid()));
                    try (SharedHeap again = SharedHeap.open(name)) {
                        assertThat(again.attachedProcesses()).as("%s: dead entries reclaimed by the open", name)
                                .extracting(HeapProcess::pid, HeapProcess::attachments, HeapProcess::alive)
                                .containsExactlyInAnyOrder(tuple(creator.pid(), 1L, true), tuple(me, 2L, true));
                        assertThat(readData(again)).isEqualTo(PATTERN);
                    }
                    assertThat(heap.isStale()).isFalse();
                    assertThat(SharedHeap.unlinkIfStale(name)).as("%s is in use", name).isFalse();
                }
            }
            creator.kill();
            assertThat(plainHeap.isStale()).as("this process still has it open").isFalse();
            assertThat(SharedHeap.unlinkIfStale(plain)).isFalse();
            Set<Long> killed = killLoopers(random, plain, removed); // dead entries left: no open after them
            assertThat(plainHeap.attachedProcesses()).filteredOn(HeapProcess::alive).extracting(HeapProcess::pid)
                    .containsExactly(me);
            assertThat(killed).isNotEmpty();
            plainHeap.close();
            removedHeap.close();
            assertThat(SharedMemory.exists(removed)).as("closed last among live processes: removed").isFalse();
            try (SharedHeap view = SharedHeap.openReadOnly(plain)) {
                assertThat(view.isStale()).as("creator and every opener dead").isTrue();
                assertThat(readData(view)).isEqualTo(PATTERN);
            }
            assertThat(SharedHeap.unlinkIfStale(plain)).isTrue();
            assertThat(SharedMemory.exists(plain)).isFalse();
        }
    }

    @Test
    void shouldLeaveOnlyCompleteHeapsWhenCreatorsAreKilledMidCreateOrMidAllocation() throws Exception {
        String control = names.unique("create-control");
        Random random = new Random(23);
        List<String> bases = new ArrayList<>();
        try (SharedMemory progress = SharedMemory.create(control, 4096)) {
            for (int wave = 0; wave < CREATE_WAVES; wave++) {
                List<String> pairBases = List.of(names.unique("create"), names.unique("create"));
                bases.addAll(pairBases);
                List<ChildJvm> children = new ArrayList<>();
                try {
                    for (int i = 0; i < PER_WAVE; i++) {
                        children.add(ChildJvm.start(CreateLooper.class, pairBases.get(i / 2), control,
                                Integer.toString(wave * PER_WAVE + i)));
                    }
                    for (int pair = 0; pair < PER_WAVE / 2; pair++) {
                        killPair(random, progress.segment(), children, wave * PER_WAVE, pair);
                    }
                } finally {
                    children.forEach(ChildJvm::close);
                }
            }
            for (String base : bases) {
                checkEveryHeapOf(base);
            }
        } finally {
            for (String base : bases) {
                for (int i = 0; reached(base, i); i++) {
                    SharedMemory.unlink(base + "-" + i);
                }
            }
        }
    }

    /** Kills the pair's first child at random, lets the second (the survivor) go on 3 heaps further, kills it. */
    private static void killPair(Random random, MemorySegment progress, List<ChildJvm> children, int firstSlot,
                                 int pair) throws InterruptedException {
        ChildJvm first = children.get(pair * 2);
        ChildJvm second = children.get(pair * 2 + 1);
        first.awaitLine("LOOPING", BOUND);
        second.awaitLine("LOOPING", BOUND);
        RandomKills.spin(random.nextLong(KILL_JITTER_NANOS));
        first.kill();
        long survivorSlot = slot(firstSlot + pair * 2 + 1);
        long reached = (long) LONG.getVolatile(progress, survivorSlot);
        long deadline = System.nanoTime() + BOUND.toNanos();
        while ((long) LONG.getVolatile(progress, survivorSlot) < reached + 3) {
            assertThat(System.nanoTime() - deadline).as("the survivor goes on; output:\n%s", second.output())
                    .isNegative();
            Thread.onSpinWait();
        }
        RandomKills.spin(random.nextLong(KILL_JITTER_NANOS));
        second.kill();
        assertThat(first.output() + second.output()).as("no child reported an error").doesNotContain("ERROR");
    }

    /** Opens every heap a pair got to, bounded: each is complete, its blocks read back, it allocates. */
    private static void checkEveryHeapOf(String base) {
        HeapOptions options = HeapOptions.defaults().withInitTimeout(Duration.ofSeconds(5));
        long me = ProcessHandle.current().pid();
        for (int i = 0; reached(base, i); i++) {
            String name = base + "-" + i;
            long start = System.nanoTime();
            try (SharedHeap heap = SharedHeap.openOrCreate(name, SIZE, options)) { // bounded by its init timeout
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as(name).isLessThan(BOUND);
                for (HeapBlock block : heap.blocks()) {
                    assertThat(block.type()).isEqualTo(MARK);
                    assertThat((long) LONG.getVolatile(block.segment(), 0L)).as("%s block %s", name, block.name())
                            .isEqualTo(PATTERN);
                }
                assertThat(readData(heap.allocateOrLookup("checker", MARK, 64, 64, CreateLooper::fill)))
                        .isEqualTo(PATTERN);
                assertThat(heap.attachedProcesses()).as(name).filteredOn(HeapProcess::alive)
                        .extracting(HeapProcess::pid).containsExactly(me);
                assertThat(heap.attachedProcesses()).as("dead entries reclaimed by the open").hasSize(1);
            }
        }
    }

    /** Starts a wave of loopers, kills each at a random moment of its loop; @return their pids. */
    private static Set<Long> killLoopers(Random random, String plain, String removed) throws InterruptedException {
        return RandomKills.wave(random, KILL_JITTER_NANOS / PER_WAVE, PER_WAVE, "LOOPING",
                () -> ChildJvm.start(AttachLooper.class, plain, removed));
    }

    /** @return true if a pair got to heap {@code base-i}: it, or the next (a kill mid-create leaves a gap), exists */
    private static boolean reached(String base, int i) {
        return SharedMemory.exists(base + "-" + i) || SharedMemory.exists(base + "-" + (i + 1));
    }

    private static long readData(SharedHeap heap) {
        return readData(heap.lookup("data", MARK));
    }

    private static long readData(HeapBlock block) {
        return (long) LONG.getVolatile(block.segment(), 0L);
    }

    private static long slot(int index) {
        return index * 64L;
    }

    /**
     * {@code main(plain, removed)}: creates both heaps, the second removed by its last close, each with a block
     * "data" holding the pattern; prints READY and waits to be killed.
     */
    public static final class Maker {
        public static void main(String[] args) throws InterruptedException {
            SharedHeap.create(args[0], SIZE).allocate("data", MARK, 64, 64, CreateLooper::fill);
            SharedHeap.create(args[1], SIZE, HeapOptions.defaults().withUnlinkOnLastDetach(true))
                    .allocate("data", MARK, 64, 64, CreateLooper::fill);
            RandomKills.say("READY");
            Thread.sleep(TimeUnit.SECONDS.toMillis(120)); // killed long before
        }
    }

    /**
     * {@code main(plain, removed)}: opens, checks and closes the two heaps in turn until killed; prints LOOPING after
     * the first round, ERROR and the exception if anything fails.
     */
    public static final class AttachLooper {
        public static void main(String[] args) {
            try {
                for (long round = 0; ; round++) {
                    for (String name : args) {
                        try (SharedHeap heap = SharedHeap.open(name)) {
                            if (readData(heap) != PATTERN) {
                                throw new AssertionError("wrong data in " + name);
                            }
                        }
                    }
                    if (round == 0) {
                        RandomKills.say("LOOPING");
                    }
                }
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }
    }

    /**
     * {@code main(base, control, slot)}: for i = 0, 1, ...: stores i in its slot of the control region, then
     * {@code openOrCreate}s heap {@code base-i}, allocates (or looks up) blocks "shared" and one of its own, each
     * holding the pattern, and closes it; prints LOOPING after the first heap, ERROR and the exception if anything
     * fails.
     */
    public static final class CreateLooper {
        static void fill(MemorySegment block) {
            LONG.setVolatile(block, 0L, PATTERN);
        }

        public static void main(String[] args) {
            long pid = ProcessHandle.current().pid();
            HeapOptions options = HeapOptions.defaults().withInitTimeout(Duration.ofSeconds(20));
            try (SharedMemory control = SharedMemory.open(args[1])) {
                long at = slot(Integer.parseInt(args[2]));
                for (long i = 0; ; i++) {
                    LONG.setVolatile(control.segment(), at, i);
                    try (SharedHeap heap = SharedHeap.openOrCreate(args[0] + "-" + i, SIZE, options)) {
                        check(heap.allocateOrLookup("shared", MARK, 64, 64, CreateLooper::fill));
                        check(heap.allocate("own-" + pid, MARK, 128, 64, CreateLooper::fill));
                    }
                    if (i == 0) {
                        RandomKills.say("LOOPING");
                    }
                }
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }

        private static void check(HeapBlock block) {
            if (readData(block) != PATTERN) {
                throw new AssertionError("block " + block.name() + " lost its pattern");
            }
        }
    }
}
