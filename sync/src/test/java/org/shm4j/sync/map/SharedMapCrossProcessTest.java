package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFullException;
import org.shm4j.sync.Codec;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Child JVMs on one map: a model check of three writers with overlapping counters; a writer killed with SIGKILL in
 * a tight put/remove loop again and again, after which every acknowledged write is still there; and writers killed
 * in the middle of a change and in either phase of a compaction (also one through the spare a full heap keeps),
 * whose segment the next reader repairs; and one killed borrowing that spare, which a later compaction takes over.
 */
class SharedMapCrossProcessTest {
    private static final Duration BOUND = Duration.ofSeconds(120);
    private static final int CHILDREN = 3;
    private static final int OPS = 20_000;
    private static final int OWNED = 100;
    private static final int COUNTERS = 8;
    private static final int KILLED_KEYS = 256;
    private static final int RUNS = 6;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldEndAsTheOperationsOfThreeProcessesImply() throws Exception {
        String heapName = names.unique("map-model");
        try (SharedHeap heap = SharedHeap.create(heapName, 16 << 20)) {
            SharedMap<Long, byte[]> map = SharedMap.create(heap, "values", Codec.longs(), Codec.bytes(),
                    new MapSizing(CHILDREN * OWNED, 8, 48));
            SharedMap<Long, Long> counters = SharedMap.create(heap, "counters", Codec.longs(), Codec.longs(),
                    new MapSizing(COUNTERS, 8, 8));
            List<ChildJvm> children = new ArrayList<>();
            try {
                for (int i = 0; i < CHILDREN; i++) {
                    children.add(ChildJvm.start(ModelWorker.class, heapName, Integer.toString(i)));
                }
                for (ChildJvm child : children) {
                    child.awaitSuccess(BOUND);
                }
            } finally {
                children.forEach(ChildJvm::close);
            }
            Map<Long, byte[]> expected = new HashMap<>();
            Map<Long, Long> expectedCounters = new HashMap<>();
            for (int i = 0; i < CHILDREN; i++) {
                ModelWorker.run(i, expected, expectedCounters, null);
            }
            assertThat(map).hasSameSizeAs(expected);
            expected.forEach((key, value) -> assertThat(map.get(key)).as("key %d", key).isEqualTo(value));
            assertThat(counters).isEqualTo(expectedCounters);
            assertThat(counters.values().stream().mapToLong(Long::longValue).sum())
                    .isEqualTo(expectedCounters.values().stream().mapToLong(Long::longValue).sum());
        }
    }

    @Test
    void shouldKeepEveryAcknowledgedWriteOfWritersKilledMidLoop() throws Exception {
        String heapName = names.unique("map-killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 8 << 20)) {
            SharedMap<Long, byte[]> map = SharedMap.create(heap, "values", Codec.longs(), Codec.bytes(),
                    new MapSizing(16, 8, 48)); // grows by splits while the writers are killed
            SharedLongArray acks = SharedLongArray.create(heap, "acks", KILLED_KEYS);
            SharedLongArray doing = SharedLongArray.create(heap, "doing", 4);
            Random random = new Random(7);
            for (int run = 0; run < RUNS; run++) {
                try (ChildJvm child = ChildJvm.start(KilledWriter.class, heapName, Long.toString(run * 1L << 40))) {
                    child.awaitLine("WRITING", BOUND);
                    long until = System.nanoTime() + Duration.ofMillis(50 + random.nextInt(400)).toNanos();
                    while (System.nanoTime() < until) {
                        long key = random.nextInt(KILLED_KEYS);
                        byte[] value = map.get(key);
                        if (value != null) {
                            SelfChecking.version(key, value);
                        }
                    }
                    child.kill();
                }
                checkAcknowledged(map, acks, doing);
            }
            SharedMapStats stats = map.stats();
            System.out.println("after " + RUNS + " kills: " + stats.repairs() + " repairs, "
                    + stats.segments().stream().mapToLong(SharedMapStats.Segment::takeOvers).sum() + " take-overs, "
                    + stats.compactions() + " compactions, " + stats.segments().size() + " segments");
            assertThat(stats.entries()).isEqualTo(map.entrySet().stream().count());
        }
    }

    @Test
    void shouldRepairTheSegmentOfAWriterKilledMidChangeForReadersAndWriters() throws Exception {
        String heapName = names.unique("map-dying");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedMap<Long, byte[]> map = filledValues(heap);
            killOnceDying(ChildJvm.start(DyingWriter.class, heapName, "3"));
            assertRepairedByAReader(map);
            assertThat(map.stats().repairs()).isEqualTo(1);
            assertThat(map.put(3L, SelfChecking.of(3, 99))).isNotNull();
            assertThat(map.mappingCount()).isEqualTo(KILLED_KEYS);
        }
    }

    @ParameterizedTest(name = "killed copying back: {0}")
    @ValueSource(booleans = {false, true})
    void shouldRepairTheSegmentOfAWriterKilledMidCompaction(boolean copyingBack) throws Exception {
        String heapName = names.unique("map-compacting");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedMap<Long, byte[]> map = filledValues(heap);
            int segments = map.stats().segments().size();
            killOnceDying(ChildJvm.start(DyingCompactor.class, heapName, "3", Boolean.toString(copyingBack)));
            assertRepairedByAReader(map);
            SharedMapStats stats = map.stats();
            assertThat(stats.repairs()).isOne();
            assertThat(stats.compactions()).as("finished, or undone, by the repair").isEqualTo(copyingBack ? 1 : 0);
            assertThat(stats.segments()).as("the spare is not one of them").hasSize(segments);
            assertThat(map.put(3L, SelfChecking.of(3, 99))).isNotNull();
            assertThat(map.mappingCount()).isEqualTo(KILLED_KEYS);
        }
    }

    /**
     * A map that filled its heap keeps one spare segment for compactions; a writer killed compacting another segment
     * through it (borrowed) leaves that segment repaired by the next reader, keeping the spare, which later
     * compactions of other segments borrow on: random puts of 0 to 99 bytes after 3 in 4 keys were removed are all
     * taken, and the map ends as a HashMap model. So too for a map whose heap never had room for an extension block
     * (helper-182): its spare is the one its own block holds.
     */
    @ParameterizedTest(name = "killed copying back: {0}, heap with room for the map block only: {1}")
    @CsvSource({"false, false", "true, false", "false, true", "true, true"})
    void shouldRepairAWriterKilledCompactingThroughTheSpareOfAFullHeap(boolean copyingBack, boolean mapBlockOnly)
            throws Exception {
        String heapName = names.unique("map-full-compacting");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            FullMap full = mapBlockOnly ? FullMap.ofMapBlockOnly(heap) : FullMap.of(heap);
            SharedMap<Long, byte[]> map = full.map();
            Map<Long, byte[]> model = full.model();
            MapCore core = map.core();
            MapSegment keeper = full.keeper();
            int spare = keeper.splitTarget();
            long key = full.otherKey();
            MapSegment compacting = SharedMapTest.segmentOf(core, key);
            int segments = map.stats().segments().size();
            killOnceDying(ChildJvm.start(DyingCompactor.class, heapName, Long.toString(key),
                    Boolean.toString(copyingBack)));
            long start = System.nanoTime();
            assertThat(map.get(key)).as("a reader repairs the segment").isEqualTo(model.get(key));
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            assertThat(map.stats().repairs()).isOne();
            assertThat(compacting.compactions()).as("finished, or undone").isEqualTo(copyingBack ? 1 : 0);
            assertThat(compacting.splitTarget()).as("the borrowed spare kept").isEqualTo(spare);
            assertThat(keeper.splitTarget()).as("lent").isEqualTo(-1);
            assertThat(map.stats().segments()).as("the spare is not one of them").hasSize(segments);
            model.forEach((k, value) -> assertThat(map.get(k)).as("key %d", k).isEqualTo(value));
            assertChurnTaken(map, model);
        }
    }

    /**
     * helper-186: a writer killed splitting a one-segment map's segment into the segment that its block holds past
     * the initial one (number 1; the block "values#2" of the number after it made first), copying (half the new
     * segment's slots still empty) or after the copy with half the moving directory entries pointed on, leaves the
     * split undone or finished by the next reader; every key keeps its value, and the map grows on as a model.
     */
    @ParameterizedTest(name = "killed after copying: {0}")
    @ValueSource(booleans = {false, true})
    void shouldRepairAWriterKilledSplittingIntoTheSegmentItsMapBlockHoldsPastTheInitialOnes(boolean copied)
            throws Exception {
        String heapName = names.unique("map-splitting");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedMap<Long, byte[]> map = SharedMap.create(heap, "values", Codec.longs(), Codec.bytes(),
                    new MapSizing(40, 8, 40));
            Map<Long, byte[]> model = new HashMap<>();
            for (long key = 0; key < 40; key++) {
                map.put(key, SelfChecking.of(key, 1));
                model.put(key, SelfChecking.of(key, 1));
            }
            killOnceDying(ChildJvm.start(DyingSplitter.class, heapName, Boolean.toString(copied)));
            assertThat(heap.find("values#1")).as("no block 1: the map block holds segment 1").isEmpty();
            assertThat(heap.find("values#2")).as("the block of the number after it").isPresent();
            long start = System.nanoTime();
            model.forEach((k, value) -> assertThat(map.get(k)).as("key %d", k).isEqualTo(value));
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            MapCore core = map.core();
            MapSegment first = core.segmentNumber(0, null, 0, 0);
            assertThat(map.stats().repairs()).isOne();
            assertThat(first.localDepth()).as("the split finished, or undone").isEqualTo(copied ? 1 : 0);
            assertThat(copied ? core.directory(1) : first.splitTarget()).as("published, or kept").isOne();
            assertThat(map.stats().segments()).hasSize(copied ? 2 : 1);
            for (long key = 40; key < 1_000; key++) {
                map.put(key, SelfChecking.of(key, 2));
                model.put(key, SelfChecking.of(key, 2));
            }
            assertThat(map).hasSameSizeAs(model);
            model.forEach((k, value) -> assertThat(map.get(k)).as("key %d", k).isEqualTo(value));
            assertThat(map.stats().segments().size()).isGreaterThan(2);
        }
    }

    /**
     * helper-180: a writer killed while borrowing the spare of a map that filled its heap, after the lender's record
     * let go of it and before its own took it, left the spare's number kept by no segment: every later put that only
     * a compaction would make room for was refused, for good. The next compaction that finds no spare to borrow now
     * takes such a lost number over.
     */
    @Test
    void shouldReclaimTheSpareOfAWriterKilledBorrowingIt() throws Exception {
        String heapName = names.unique("map-full-borrowing");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            FullMap full = FullMap.of(heap);
            SharedMap<Long, byte[]> map = full.map();
            Map<Long, byte[]> model = full.model();
            MapCore core = map.core();
            MapSegment keeper = full.keeper();
            int spare = keeper.splitTarget();
            long key = full.otherKey();
            long keeperKey = model.keySet().stream().filter(k -> SharedMapTest.segmentOf(core, k) == keeper)
                    .findFirst().orElseThrow();
            killOnceDying(ChildJvm.start(DyingBorrower.class, heapName, Long.toString(key)));
            assertThat(map.remove(key)).isEqualTo(model.remove(key)); // the dead writer's two locks taken over
            assertThat(map.remove(keeperKey)).isEqualTo(model.remove(keeperKey));
            assertThat(core.existingSegments()).as("the spare lost").noneMatch(s -> s.splitTarget() == spare);
            assertChurnTaken(map, model);
            assertThat(core.existingSegments()).as("and kept again").anyMatch(s -> s.splitTarget() == spare);
        }
    }

    /**
     * A map of small entries filled until its heap had no room for its next block, with its model, the segment that
     * keeps its spare and a key of another segment.
     */
    private record FullMap(SharedMap<Long, byte[]> map, Map<Long, byte[]> model, MapSegment keeper, long otherKey) {
        static FullMap of(SharedHeap heap) {
            return filled(SharedMap.create(heap, "values", Codec.longs(), Codec.bytes(), new MapSizing(100, 8, 16)));
        }

        /**
         * As {@link #of}, for a map of 4 initial segments whose heap has room for its block only: a filler takes all
         * but half a segment of the rest, so its first extension block is never made.
         */
        static FullMap ofMapBlockOnly(SharedHeap heap) {
            SharedMap<Long, byte[]> map = SharedMap.create(heap, "values", Codec.longs(), Codec.bytes(),
                    new MapSizing(1_000, 8, 16));
            long segmentSize = heap.lookup("values", MapLayout.MAP).segment()
                    .get(JAVA_LONG, MapLayout.H_SEGMENT_SIZE);
            heap.allocate("filler", new BlockType(0x7E57_0182, 1), heap.freeBytes() - segmentSize / 2);
            FullMap full = filled(map);
            assertThat(heap.find("values#1")).as("no extension block").isEmpty();
            return full;
        }

        private static FullMap filled(SharedMap<Long, byte[]> map) {
            Map<Long, byte[]> model = fillUntilTheHeapIsFull(map);
            MapCore core = map.core();
            MapSegment keeper = core.existingSegments().stream().filter(s -> s.splitTarget() >= 0).findFirst()
                    .orElseThrow();
            long key = model.keySet().stream().filter(k -> SharedMapTest.segmentOf(core, k) != keeper).findFirst()
                    .orElseThrow();
            return new FullMap(map, model, keeper, key);
        }
    }

    /** @return the keys put into {@code map} (each at version 1) until the heap had no room for its next block */
    private static Map<Long, byte[]> fillUntilTheHeapIsFull(SharedMap<Long, byte[]> map) {
        Map<Long, byte[]> model = new HashMap<>();
        try {
            for (long key = 0; ; key++) {
                map.put(key, SelfChecking.of(key, 1));
                model.put(key, SelfChecking.of(key, 1));
            }
        } catch (ShmFullException full) {
            assertThat(full.getMessage()).contains("the heap has no room for");
        }
        return model;
    }

    /**
     * Removes 3 in 4 of {@code model}'s keys from {@code map}, then puts 10,000 random values of 0 to 99 bytes to the
     * others, which need compactions through the spare: asserts that every put is taken, that some compacted, and
     * that the map ends as the model.
     */
    private static void assertChurnTaken(SharedMap<Long, byte[]> map, Map<Long, byte[]> model) {
        long before = map.stats().compactions();
        Random random = new Random(3);
        List<Long> keys = new ArrayList<>();
        for (long k : new ArrayList<>(model.keySet())) {
            if (k % 4 == 0) {
                keys.add(k);
            } else {
                assertThat(map.remove(k)).isEqualTo(model.remove(k));
            }
        }
        for (int op = 0; op < 10_000; op++) {
            long k = keys.get(random.nextInt(keys.size()));
            byte[] value = new byte[random.nextInt(100)];
            map.put(k, value); // throws if refused
            model.put(k, value);
        }
        assertThat(map.stats().compactions() - before).as("compactions through the spare").isPositive();
        assertThat(map).hasSameSizeAs(model);
        model.forEach((k, value) -> assertThat(map.get(k)).as("key %d", k).isEqualTo(value));
    }

    /** @return the map "values" of {@code heap}, new, holding keys 0 to {@link #KILLED_KEYS} - 1 at version key + 1 */
    private static SharedMap<Long, byte[]> filledValues(SharedHeap heap) {
        SharedMap<Long, byte[]> map = SharedMap.create(heap, "values", Codec.longs(), Codec.bytes(),
                new MapSizing(KILLED_KEYS, 8, 48));
        for (long key = 0; key < KILLED_KEYS; key++) {
            map.put(key, SelfChecking.of(key, key + 1));
        }
        return map;
    }

    /** Kills {@code child} once it printed that it is dying with key 3's segment locked. */
    private static void killOnceDying(ChildJvm child) throws InterruptedException {
        try (child) {
            child.awaitLine("DYING", BOUND);
            child.kill();
        }
    }

    /** Checks that a read of key 3 repairs its segment within a bound, and that every key kept its value. */
    private static void assertRepairedByAReader(SharedMap<Long, byte[]> map) {
        long start = System.nanoTime();
        assertThat(SelfChecking.version(3, map.get(3L))).as("a reader repairs the segment").isEqualTo(4);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        for (long key = 0; key < KILLED_KEYS; key++) {
            assertThat(SelfChecking.version(key, map.get(key))).isEqualTo(key + 1);
        }
    }

    /**
     * Every key holds what its last acknowledged write left, or what the write in flight on it (one per writer
     * thread) would leave; then records the in-flight writes that took effect as acknowledged.
     */
    private static void checkAcknowledged(SharedMap<Long, byte[]> map, SharedLongArray acks, SharedLongArray doing) {
        for (long key = 0; key < KILLED_KEYS; key++) {
            long inFlightKey = doing.get(2 * (key % 2));
            long inFlight = doing.get(2 * (key % 2) + 1);
            byte[] value = map.get(key);
            long state = value == null ? 0 : SelfChecking.version(key, value);
            long acked = Math.max(0, acks.get(key)); // a remove is acknowledged as minus its version
            if (key == inFlightKey && state != acked) {
                assertThat(state).as("key %d: in flight", key).isEqualTo(Math.max(0, inFlight));
                acks.set(key, inFlight); // it took effect: the next run's checks build on it
            } else {
                assertThat(state).as("key %d: acknowledged %d, in flight key %d version %d; %s", key, acks.get(key),
                        inFlightKey, inFlight, map.stats()).isEqualTo(acked);
            }
        }
        long iterated = 0;
        for (Map.Entry<Long, byte[]> entry : map.entrySet()) {
            SelfChecking.version(entry.getKey(), entry.getValue());
            iterated++;
        }
        assertThat(map.mappingCount()).isEqualTo(iterated);
    }

    /**
     * {@code main(heap, index)}: {@link #OPS} random puts, removes and computes on its own {@link #OWNED} keys and
     * merges and computes on {@link #COUNTERS} shared counters, checking every value it reads of other processes'
     * keys.
     */
    public static final class ModelWorker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, byte[]> map = SharedMap.open(heap, "values", Codec.longs(), Codec.bytes());
                SharedMap<Long, Long> counters = SharedMap.open(heap, "counters", Codec.longs(), Codec.longs());
                run(Integer.parseInt(args[1]), map, counters, map);
            }
        }

        /** Applies worker {@code index}'s operations, a function of the index alone, to the maps. */
        static void run(int index, Map<Long, byte[]> map, Map<Long, Long> counters, Map<Long, byte[]> reads) {
            Random random = new Random(index);
            long first = (long) index * 1_000;
            for (int i = 1; i <= OPS; i++) {
                long key = first + random.nextInt(OWNED);
                long version = i;
                switch (random.nextInt(10)) {
                    case 0, 1, 2, 3 -> map.put(key, SelfChecking.of(key, version));
                    case 4, 5 -> map.remove(key);
                    case 6 -> map.compute(key, (k, v) -> SelfChecking.of(k, v == null ? version : -version));
                    case 7 -> counters.merge((long) random.nextInt(COUNTERS), 1L, Long::sum);
                    case 8 -> counters.compute((long) random.nextInt(COUNTERS), (k, v) -> v == null ? 1 : v + 1);
                    default -> {
                        long other = random.nextInt(CHILDREN) * 1_000L + random.nextInt(OWNED);
                        byte[] value = reads == null ? null : reads.get(other);
                        if (value != null) {
                            SelfChecking.version(other, value);
                        }
                    }
                }
            }
        }
    }

    /**
     * {@code main(heap, firstVersion)}: two threads put and remove random keys (even and odd ones) in a tight loop
     * until killed, each noting its write in "doing" before it starts and in "acks" (minus the version for a remove)
     * after it returned.
     */
    public static final class KilledWriter {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, byte[]> map = SharedMap.open(heap, "values", Codec.longs(), Codec.bytes());
                SharedLongArray acks = SharedLongArray.open(heap, "acks");
                SharedLongArray doing = SharedLongArray.open(heap, "doing");
                long first = Long.parseLong(args[1]);
                Thread[] writers = new Thread[2];
                for (int t = 0; t < writers.length; t++) {
                    int parity = t;
                    writers[t] = Thread.ofPlatform().start(() -> write(map, acks, doing, parity, first));
                }
                System.out.println("WRITING");
                System.out.flush();
                for (Thread writer : writers) {
                    writer.join();
                }
            }
        }

        private static void write(SharedMap<Long, byte[]> map, SharedLongArray acks, SharedLongArray doing,
                                  int parity, long first) {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            for (long version = first + 1 + parity; ; version += 2) {
                long key = 2L * random.nextInt(KILLED_KEYS / 2) + parity;
                boolean remove = random.nextInt(5) == 0;
                doing.set(2L * parity, key);
                doing.set(2L * parity + 1, remove ? -version : version);
                if (remove) {
                    map.remove(key);
                } else {
                    map.put(key, SelfChecking.of(key, version));
                }
                acks.set(key, remove ? -version : version);
            }
        }
    }

    /** For a dying child: says "DYING" (the parent kills it on that line), then waits to be killed. */
    private static void dieHere() throws InterruptedException {
        System.out.println("DYING");
        System.out.flush();
        Thread.sleep(BOUND.toMillis()); // killed long before this ends
    }

    /** Zeroes the first half of a segment's slots, as a copy into it cut short halfway leaves them. */
    private static void wipeHalfTheSlots(MapSegment segment) {
        segment.memory.asSlice(MapLayout.S_SLOTS, (segment.arenaStart - MapLayout.S_SLOTS) / 2).fill((byte) 0);
    }

    /**
     * {@code main(heap, key, copyingBack)}: compacts the key's segment as far as a writer that dies at the worst
     * moment of a phase gets, through the spare a put's compaction would take (its own, a new one, or one it
     * borrows): filling the spare (half its slots still empty), or copying the entries back from the
     * complete spare (about half of them back); then waits to be killed.
     */
    public static final class DyingCompactor {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, byte[]> map = SharedMap.open(heap, "values", Codec.longs(), Codec.bytes());
                MapSegment segment = SharedMapTest.segmentOf(map.core(), Long.parseLong(args[1]));
                segment.lock();
                MapSegment spare = SegmentCompaction.spareFor(map.core(), segment, 0, 0);
                spare.lock();
                SegmentCompaction.copyOut(segment, spare, segment.beginWrite());
                if (Boolean.parseBoolean(args[2])) {
                    segment.arena.refill(spare, word -> (word >>> MapLayout.TAG_SHIFT & 1) == 0);
                } else {
                    segment.setSplit(MapLayout.COMPACT_COPYING, spare.index);
                    spare.beginWrite();
                    wipeHalfTheSlots(spare);
                }
                dieHere();
            }
        }
    }

    /**
     * {@code main(heap, copied)}: splits segment 0 as far as a writer that dies at the worst moment of a phase gets,
     * into the segment a split takes (checked to be number 1, in the map block): copying the moving half (half the
     * new segment's slots still empty, its sequence odd), or after the copy with every other one of the moving
     * directory entries pointed on; then waits to be killed.
     */
    public static final class DyingSplitter {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                MapCore core = SharedMap.open(heap, "values", Codec.longs(), Codec.bytes()).core();
                MapSegment full = core.segmentNumber(0, null, 0, 0);
                full.lock();
                MapSegment half = core.halfOf(full, 0, 0);
                if (half.index != 1) {
                    throw new AssertionError("split into segment " + half.index + " (expected: 1)");
                }
                half.lock();
                SegmentSplit.copyHalf(full, half, 0, full.beginWrite());
                if (Boolean.parseBoolean(args[1])) {
                    for (int j = 1; j < core.maxSegments(); j += 4) {
                        core.pointDirectory(j, half.index);
                    }
                } else {
                    full.setSplit(MapLayout.SPLIT_COPYING, half.index);
                    half.beginWrite();
                    wipeHalfTheSlots(half);
                }
                dieHere();
            }
        }
    }

    /**
     * {@code main(heap, key)}: borrows, for the key's segment, the spare another segment keeps as far as a writer
     * that dies at the worst moment of it gets: both locks held, the lender's record cleared, the borrower's not
     * written; then waits to be killed.
     */
    public static final class DyingBorrower {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, byte[]> map = SharedMap.open(heap, "values", Codec.longs(), Codec.bytes());
                MapSegment segment = SharedMapTest.segmentOf(map.core(), Long.parseLong(args[1]));
                segment.lock();
                MapSegment lender = map.core().existingSegments().stream().filter(s -> s.splitTarget() >= 0)
                        .findFirst().orElseThrow();
                lender.lock();
                lender.keepSpare(-1);
                dieHere();
            }
        }
    }

    /**
     * {@code main(heap, key)}: takes the lock of the key's segment and, as a writer dies mid-change, leaves its
     * sequence odd and its slots wiped, then waits to be killed.
     */
    public static final class DyingWriter {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<Long, byte[]> map = SharedMap.open(heap, "values", Codec.longs(), Codec.bytes());
                MapSegment segment = SharedMapTest.segmentOf(map.core(), Long.parseLong(args[1]));
                segment.lock();
                long sequence = segment.memory.get(JAVA_LONG, MapLayout.S_SEQUENCE);
                segment.memory.set(JAVA_LONG, MapLayout.S_SEQUENCE, sequence + 1);
                segment.memory.asSlice(MapLayout.S_SLOTS, segment.arenaStart - MapLayout.S_SLOTS).fill((byte) 0);
                dieHere();
            }
        }
    }
}
