package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedMap} writer (or a {@link SharedLongMap}'s) SIGKILLed by a debugger ({@link KilledAtCall}) at an
 * exact step of a put, an overwrite, a remove, a split or a tombstone purge, then checked by the test's process,
 * through a read-write heap whose access repairs the segment (and, for the split and the purge, first through a heap
 * opened read-only, as {@code shm4j inspect} reads it).
 * <ul>
 * <li>ACCEPTABLE: every acknowledged write with its value; the write in flight done whole or not at all, as the
 *     step decides; size() and the figures of {@link SharedMap#stats()} and {@link SharedMap#inspect} counting
 *     exactly the entries there are; every chunk of every segment's arena either live and named by one slot or free
 *     and on one free list (the spare included); the map splitting on afterwards.</li>
 * <li>FORBIDDEN: an acknowledged entry missing or changed, the write in flight half done, a count that counts a key
 *     twice, a chunk leaked (below the arena top and neither named nor free) or on two lists.</li>
 * </ul>
 */
@Timeout(120)
class MapWriterKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int KEYS = 40;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * A splitter killed once the directory names its new segment, before it dropped the moved keys from the full
     * one: both segments hold those keys until a repair. {@code SharedMap.inspect} (what {@code shm4j inspect} shows)
     * counted them twice (68 entries for a map of 42 here); now the full segment's figures are those of the
     * entries it keeps, found in its arena, while its split is unfinished.
     */
    @Test
    void shouldCountEachEntryOnceWhileTheSplitOfADeadWriterIsUnfinished() throws Exception {
        String heapName = names.unique("map-split-count");
        try (SharedHeap heap = SharedHeap.create(heapName, 16 << 20)) {
            SharedMap<String, Long> map = SharedMap.create(heap, "map", Codec.utf8(), Codec.longs(),
                    new MapSizing(16, 8, 8));
            int acknowledged = killWriter(heapName,
                    new KilledAtCall.Step(SegmentArena.class.getName(), "retain", "finish"), Writer.class,
                    "put");
            SharedMapStats inspected;
            try (SharedHeap readOnly = SharedHeap.openReadOnly(heapName)) {
                inspected = SharedMap.inspect(readOnly, "map");
                assertThat(inspected.segments()).as("the full segment and its published half").hasSize(2);
                assertThat(inspected.entries()).as("entries before any repair").isEqualTo(acknowledged);
                assertThat(inspected.segments().stream().mapToLong(SharedMapStats.Segment::entries).sum())
                        .isEqualTo(acknowledged);
            }
            for (int i = 0; i < acknowledged; i++) {
                assertThat(map.get(key(i))).as(key(i)).isEqualTo(i);
            }
            assertThat(map.size()).isEqualTo(acknowledged);
            assertThat(map.stats().entries()).isEqualTo(acknowledged);
            assertThat(map.stats().repairs()).isOne();
            assertThat(usedBytes(map.stats())).as("used bytes, the repair having finished the split")
                    .isEqualTo(usedBytes(inspected));
            checkArenas(map.core());
        }
    }

    /**
     * A compactor killed while it copies its entries back from its spare segment, the copy done but not yet counted:
     * the segment's own count is 0 (its slots and arena were emptied first) until the repair copies them back again.
     * {@code SharedMap.inspect} said 0 for it (and the map's entries short by all of them); now a segment whose
     * compaction is in that phase has its spare's figures.
     */
    @Test
    void shouldCountTheEntriesOfASegmentWhoseCompactorDiedCopyingThemBack() throws Exception {
        String heapName = names.unique("map-compaction-count");
        try (SharedHeap heap = SharedHeap.create(heapName, 16 << 20)) {
            SharedMap<Long, byte[]> map = SharedMap.create(heap, "map", Codec.longs(), Codec.bytes(),
                    new MapSizing(40, 8, 48));
            Map<Long, byte[]> expected = new HashMap<>();
            for (long key = 0; key < map.core().maxLoad(); key++) { // 64-byte chunks up to the slot limit
                map.put(key, new byte[16]);
            }
            for (long key = 0; key < map.core().maxLoad(); key++) {
                if (key % 12 == 0) {
                    expected.put(key, new byte[16]);
                } else {
                    map.remove(key);
                }
            }
            int acknowledged = killWriter(heapName, new KilledAtCall.Step(MapSegment.class.getName(), "setCount",
                    "refill", 2), CompactingWriter.class); // the copy out into the spare, then the copy back
            for (int i = 0; i < acknowledged; i++) {
                expected.put(1000L + i, CompactingWriter.value(i));
            }
            SharedMapStats inspected;
            try (SharedHeap readOnly = SharedHeap.openReadOnly(heapName)) {
                inspected = SharedMap.inspect(readOnly, "map");
            }
            assertThat(inspected.segments()).as("compacted, not split").hasSize(1);
            assertThat(inspected.entries()).as("entries before any repair").isEqualTo(expected.size());
            assertThat(map).hasSize(expected.size());
            expected.forEach((key, value) -> assertThat(map.get(key)).as("key %d", key).isEqualTo(value));
            assertThat(map.stats().compactions()).as("the compaction the repair finished").isOne();
            assertThat(usedBytes(map.stats())).isEqualTo(usedBytes(inspected));
            checkArenas(map.core());
        }
    }

    /**
     * A {@link SharedLongMap} writer that keeps 30 keys and churns (puts key i, deletes key i - 30) killed partway
     * through the tombstone purge that a put starts once count + tombstones reach the slot limit: the slot table
     * zeroed, 4 of its 30 entries placed back, count and tombstones not yet rewritten. The repair rebuilds the slots
     * from the arena: the 30 acknowledged keys and nothing else, counted once.
     */
    @Test
    void shouldKeepEveryEntryWhenTheWriterIsKilledPurgingTombstones() throws Exception {
        String heapName = names.unique("map-purge");
        try (SharedHeap heap = SharedHeap.create(heapName, 16 << 20)) {
            SharedLongMap<Long> map = SharedLongMap.create(heap, "map", Codec.longs(), new MapSizing(64, 8, 8));
            int acknowledged = killWriter(heapName, new KilledAtCall.Step(SegmentArena.class.getName(), "place",
                    "retain", 5), ChurningWriter.class);
            Map<Long, Long> expected = new HashMap<>();
            for (long i = Math.max(0, acknowledged - ChurningWriter.KEPT); i < acknowledged; i++) {
                expected.put(i, i);
            }
            SharedMapStats inspected;
            try (SharedHeap readOnly = SharedHeap.openReadOnly(heapName)) {
                inspected = SharedMap.inspect(readOnly, "map");
            }
            assertThat(inspected.segments()).as("one segment, never split").hasSize(1);
            SharedMapStats.Segment segment = inspected.segments().getFirst();
            assertThat(segment.entries() + segment.tombstones()).as("the purge's trigger, as the writer left it")
                    .isEqualTo(segment.maxEntries());
            assertThat(inspected.entries()).isEqualTo(ChurningWriter.KEPT);
            MapCore core = map.asMap().core();
            assertThat(new HashMap<>(map.asMap())).isEqualTo(expected);
            assertThat(map.size()).isEqualTo(ChurningWriter.KEPT);
            assertThat(map.stats().repairs()).isOne();
            checkArenas(core);
            for (long i = 0; i < 500; i++) { // usable, and splits
                map.set(1_000_000L + i, i);
            }
            assertThat(map.size()).isEqualTo(ChurningWriter.KEPT + 500);
            checkArenas(core);
        }
    }

    private static long usedBytes(SharedMapStats stats) {
        return stats.segments().stream().mapToLong(SharedMapStats.Segment::usedBytes).sum();
    }

    /**
     * @param step    where the writer dies: {@code class#method@caller#hit}, or {@code class#method:code#hit} for the
     *                statement of that method holding {@code code}
     * @param mode    "put" (new keys), "overwrite" (of the {@value #KEYS} keys the test put, each with another value)
     *                or "remove" (of those keys)
     * @param done    true if the repair must finish the write in flight, false if it must undo it: a new key's slot
     *                published but not counted; an overwrite's slot swung to the new chunk, the old chunk still live;
     *                a removed key's slot emptied, its chunk still live (not freed yet)
     */
    @ParameterizedTest(name = "{1} killed at {0}")
    @CsvSource(delimiter = '|', value = {
            "MapSegment#tryStore:INT.setOpaque(memory, S_COUNT, count() + 1);#5 | put | true",
            "MapSegment#tryStore:arena.free(old);#5 | overwrite | true",
            "SegmentArena#free@delete#5 | remove | false",
    })
    void shouldKeepEveryAcknowledgedWriteAndEveryChunkWhenTheWriterIsKilledAtAStep(String step, String mode,
            boolean done) throws Exception {
        String heapName = names.unique("map-writer-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 16 << 20)) {
            SharedMap<String, Long> map = SharedMap.create(heap, "map", Codec.utf8(), Codec.longs(),
                    new MapSizing(64, 8, 8));
            Map<String, Long> expected = new HashMap<>();
            if (!mode.equals("put")) {
                for (int i = 0; i < KEYS; i++) {
                    map.put(key(i), (long) i);
                    expected.put(key(i), (long) i);
                }
            }
            int acknowledged = killWriter(heapName, step(step), Writer.class, mode);
            for (int i = 0; i < acknowledged + (done ? 1 : 0); i++) {
                switch (mode) {
                    case "put" -> expected.put(key(i), (long) i);
                    case "overwrite" -> expected.put(key(i), Long.MAX_VALUE - i);
                    default -> expected.remove(key(i));
                }
            }
            assertThat(new HashMap<>(map)).isEqualTo(expected);
            assertThat(map.size()).isEqualTo(expected.size());
            assertThat(map.stats().entries()).isEqualTo(expected.size());
            assertThat(map.stats().repairs()).isOne();
            checkArenas(map.core());
            for (int i = 0; i < 500; i++) { // usable, and splits
                map.put("after" + i, (long) i);
            }
            assertThat(map.size()).isEqualTo(expected.size() + 500);
            checkArenas(map.core());
        }
    }

    /** @return how many writes the writer acknowledged before it was killed at {@code step} */
    private static int killWriter(String heapName, KilledAtCall.Step step, Class<?> main, String... args)
            throws Exception {
        String[] all = new String[args.length + 1];
        all[0] = heapName;
        System.arraycopy(args, 0, all, 1, args.length);
        try (KilledAtCall writer = KilledAtCall.start(step, main, all)) {
            writer.awaitKilled(BOUND);
            assertThat(writer.output()).doesNotContain("ERROR");
            return (int) writer.output().lines().filter(line -> line.startsWith("DONE ")).count();
        }
    }

    private static KilledAtCall.Step step(String spec) throws Exception {
        String[] parts = spec.split("#");
        Class<?> type = Class.forName(MapWriterKillTest.class.getPackageName() + "." + parts[0]);
        if (parts[1].contains(":")) {
            String[] method = parts[1].split(":", 2);
            return KilledAtCall.Step.atLine(type, method[0], method[1], Integer.parseInt(parts[2]));
        }
        String[] method = parts[1].split("@");
        return new KilledAtCall.Step(type.getName(), method[0], method[1], Integer.parseInt(parts[2]));
    }

    private static String key(int i) {
        return "w" + i;
    }

    /**
     * Checks each segment in use: its arena walked from 0 to its top chunk by chunk, every live chunk named by exactly
     * one slot and every other one on exactly one free list or the spare; its count, tombstones and used bytes those
     * of its slots.
     */
    static void checkArenas(MapCore core) {
        for (MapSegment segment : core.existingSegments()) {
            MemorySegment memory = segment.memory;
            Map<Long, Integer> classes = new HashMap<>();
            Set<Long> live = new HashSet<>();
            long offset = 0;
            while (offset < segment.arena.top()) {
                long chunk = segment.arenaStart + offset;
                int state = memory.get(JAVA_INT, chunk + MapLayout.E_STATE);
                assertThat(state & MapLayout.STATE_MARK_MASK).as("state of chunk %d of segment %d", chunk,
                        segment.index).isEqualTo(MapLayout.STATE_MARK);
                classes.put(chunk, state & MapLayout.STATE_CLASS_MASK);
                if ((state & MapLayout.STATE_LIVE) != 0) {
                    live.add(chunk);
                }
                offset += MapLayout.chunkSize(state & MapLayout.STATE_CLASS_MASK);
            }
            assertThat(offset).as("segment %d: the walk ends at the top", segment.index).isEqualTo(segment.arena.top());
            Set<Long> named = new HashSet<>();
            long used = 0;
            int tombstones = 0;
            for (int i = 0; i <= segment.mask; i++) {
                long word = segment.slotWord(i);
                if (word == MapLayout.TOMBSTONE) {
                    tombstones++;
                } else if (word != MapLayout.EMPTY) {
                    long chunk = word & MapLayout.OFFSET_MASK;
                    assertThat(named.add(chunk)).as("segment %d: chunk %d named twice", segment.index, chunk).isTrue();
                    used += MapLayout.chunkSize(classes.getOrDefault(chunk, 0));
                }
            }
            assertThat(named).as("segment %d: the live chunks are the named ones", segment.index).isEqualTo(live);
            assertThat(segment.count()).as("segment %d count", segment.index).isEqualTo(named.size());
            assertThat(segment.tombstones()).as("segment %d tombstones", segment.index).isEqualTo(tombstones);
            assertThat(segment.usedBytes()).as("segment %d used bytes", segment.index).isEqualTo(used);
            Set<Long> free = new HashSet<>(classes.keySet());
            free.removeAll(live);
            Set<Long> listed = new HashSet<>();
            int spare = memory.get(JAVA_INT, MapLayout.S_SPARE);
            if (spare != 0) {
                listed.add((long) (spare & ~MapLayout.SPARE_CLASS_MASK));
            }
            for (int c = 0; c < MapLayout.CLASSES; c++) {
                for (long chunk = memory.get(JAVA_INT, MapLayout.S_FREE_HEADS + (long) Integer.BYTES * c);
                     chunk != 0; chunk = memory.get(JAVA_INT, chunk + MapLayout.E_NEXT_FREE)) {
                    assertThat(classes.get(chunk)).as("segment %d: free chunk %d of class %d", segment.index, chunk,
                            c).isEqualTo(c);
                    assertThat(listed.add(chunk)).as("segment %d: chunk %d free twice", segment.index, chunk)
                            .isTrue();
                }
            }
            assertThat(listed).as("segment %d: the free chunks are the listed ones", segment.index).isEqualTo(free);
        }
    }

    /**
     * {@code main(heap, mode)}: puts w0 = 0, w1 = 1, ... ("put"), or w0 = MAX, w1 = MAX - 1, ... over the keys the
     * test put ("overwrite"), or removes w0, w1, ... ("remove"), printing "DONE i" after each, until killed.
     */
    public static final class Writer {
        public static void main(String[] args) {
            SharedMap<String, Long> map = SharedMap.open(SharedHeap.open(args[0]), "map", Codec.utf8(),
                    Codec.longs());
            for (int i = 0; i < (args[1].equals("put") ? 100_000 : KEYS); i++) {
                switch (args[1]) {
                    case "put" -> map.put(key(i), (long) i);
                    case "overwrite" -> map.put(key(i), Long.MAX_VALUE - i);
                    default -> map.remove(key(i));
                }
                System.out.println("DONE " + i);
            }
            System.out.println("ERROR: never killed");
        }
    }

    /**
     * {@code main(heap)}: puts 80-byte values to keys 1000, 1001, ... printing "DONE i" after each, until killed
     * (the segment of the test's 16-byte values, 11 of 12 removed, has free chunks too small for them: it compacts).
     */
    public static final class CompactingWriter {
        public static void main(String[] args) {
            SharedMap<Long, byte[]> map = SharedMap.open(SharedHeap.open(args[0]), "map", Codec.longs(),
                    Codec.bytes());
            for (int i = 0; i < 100_000; i++) {
                map.put(1000L + i, value(i));
                System.out.println("DONE " + i);
            }
            System.out.println("ERROR: never killed");
        }

        static byte[] value(int i) {
            byte[] value = new byte[80];
            Arrays.fill(value, (byte) i);
            return value;
        }
    }

    /**
     * {@code main(heap)}: for i = 0, 1, ... puts key i = i into a {@link SharedLongMap} (as bytes) and deletes key
     * i - {@value #KEPT}, printing "DONE i" after both, until killed: the segment's tombstones pile up until a put
     * purges them.
     */
    public static final class ChurningWriter {
        static final int KEPT = 30;

        public static void main(String[] args) {
            SharedLongMap<Long> map = SharedLongMap.open(SharedHeap.open(args[0]), "map", Codec.longs());
            MemorySegment value = Arena.ofConfined().allocate(Long.BYTES);
            for (long i = 0; i < 100_000; i++) {
                value.set(JAVA_LONG_UNALIGNED, 0, i);
                map.setBytes(i, value, 0, Long.BYTES);
                if (i >= KEPT) {
                    map.delete(i - KEPT);
                }
                System.out.println("DONE " + i);
            }
            System.out.println("ERROR: never killed");
        }
    }
}
