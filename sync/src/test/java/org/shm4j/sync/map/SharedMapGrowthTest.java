package org.shm4j.sync.map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFullException;
import org.shm4j.sync.Codec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Growth by splitting one segment at a time: from a tiny sizing to a hundred times it while other threads read and
 * iterate, until the heap is full; compaction of a segment whose free chunks are too small for a put; and splits
 * and compactions whose writer died, finished or undone by the next locker.
 */
class SharedMapGrowthTest extends ThreadedMapFixture {
    @Test
    void shouldGrowAHundredFoldWhileReadersFindEveryAcknowledgedKey() throws Exception {
        SharedMap<Long, byte[]> map = SharedMap.create(heap, "grow", Codec.longs(), Codec.bytes(),
                new MapSizing(64, 8, 40));
        int keys = 6_400;
        AtomicLong acknowledged = new AtomicLong(-1);
        AtomicBoolean growing = new AtomicBoolean(true);
        AtomicLong reads = new AtomicLong();
        AtomicLong walks = new AtomicLong();
        Future<?> reader = threads.submit(() -> {
            while (growing.get()) {
                long upTo = acknowledged.get();
                if (upTo >= 0) {
                    long key = ThreadLocalRandom.current().nextLong(upTo + 1);
                    byte[] value = map.get(key);
                    assertThat(value).as("key %d, put before this get", key).isNotNull();
                    SelfChecking.version(key, value);
                    reads.incrementAndGet();
                }
            }
        });
        Future<?> iterator = threads.submit(() -> {
            while (growing.get()) {
                long before = acknowledged.get();
                Set<Long> seen = new HashSet<>();
                for (Map.Entry<Long, byte[]> entry : map.entrySet()) {
                    assertThat(seen.add(entry.getKey())).as("key %d returned twice", entry.getKey()).isTrue();
                    SelfChecking.version(entry.getKey(), entry.getValue());
                }
                for (long key = 0; key <= before; key++) {
                    assertThat(seen).as("present throughout the walk").contains(key);
                }
                walks.incrementAndGet();
            }
        });
        try {
            for (long key = 0; key < keys; key++) {
                map.put(key, SelfChecking.of(key, key));
                acknowledged.set(key);
                if (key == keys / 2) { // the map mid-growth: both have worked on it before it grows on
                    awaitProgress(reads, reader);
                    awaitProgress(walks, iterator);
                }
            }
        } finally {
            growing.set(false);
        }
        reader.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        iterator.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        assertThat(map).hasSize(keys);
        for (long key = 0; key < keys; key++) {
            assertThat(SelfChecking.version(key, map.get(key))).isEqualTo(key);
        }
        SharedMapStats stats = map.stats();
        assertThat(stats.segments()).hasSizeGreaterThan(32);
        assertThat(stats.entries()).isEqualTo(keys);
        assertThat(stats.segments().stream().mapToInt(SharedMapStats.Segment::depth).max().orElseThrow())
                .isGreaterThan(5);
    }

    @Test
    void shouldCountEveryAcknowledgedKeyOnceWhileSegmentsSplitUnderSize() throws Exception {
        SharedLongMap<byte[]> map = SharedLongMap.create(heap, "count", Codec.bytes(), new MapSizing(64, 8, 8));
        int keys = 6_400;
        AtomicLong acknowledged = new AtomicLong();
        AtomicBoolean growing = new AtomicBoolean(true);
        AtomicLong sizes = new AtomicLong();
        Future<?> counter = threads.submit(() -> {
            while (growing.get()) {
                long atLeast = acknowledged.get();
                long size = map.size();
                long atMost = acknowledged.get() + 1; // the one put in flight may be counted
                assertThat(size).as("size() after %d acknowledged puts", atLeast).isBetween(atLeast, atMost);
                sizes.incrementAndGet();
            }
        });
        byte[] value = new byte[8];
        try {
            for (long key = 0; key < keys; key++) {
                map.set(key, value);
                acknowledged.set(key + 1);
                if (key % 640 == 0) { // sums taken all along the growth, however the threads are scheduled
                    awaitProgress(sizes, counter);
                }
            }
        } finally {
            growing.set(false);
        }
        counter.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        assertThat(map.size()).isEqualTo(keys);
        assertThat(map.stats().segments()).hasSizeGreaterThan(32);
    }

    /**
     * A writer inside its write section (here: held there by the test, as a descheduled splitter would be between
     * pointing the directory at its new half and dropping the moved keys) is waited for: size() counts its segment
     * under the lock once the change is whole, never the count as it stands mid-change.
     */
    @Test
    void shouldCountASegmentWhoseWriterStaysInItsWriteSectionOnlyOnceTheChangeIsWhole() throws Exception {
        SharedLongMap<byte[]> map = SharedLongMap.create(heap, "busy", Codec.bytes(), new MapSizing(16, 8, 8));
        for (long key = 0; key < 5; key++) {
            map.set(key, new byte[8]);
        }
        MapSegment segment = SharedMapTest.segmentOf(map.asMap().core(), 0);
        segment.lock();
        long stamp = segment.beginWrite();
        segment.setCount(segment.count() + 100); // half a change: counted twice, as a split between its two steps
        Future<Long> size = threads.submit(map::size);
        try {
            assertThatThrownBy(() -> size.get(200, TimeUnit.MILLISECONDS)).as("waits for the writer")
                    .isInstanceOf(java.util.concurrent.TimeoutException.class);
        } finally {
            segment.setCount(segment.count() - 100);
            segment.endWrite(stamp);
            segment.unlock();
        }
        assertThat(size.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(5);
    }

    /** {@link MapSizing#byteSize()} is the map block's size, so a heap sized from it holds the map (helper-105). */
    @Test
    void shouldSayHowManyBytesASizingTakes() {
        MapSizing sizing = new MapSizing(10_000, 16, 8);
        long bytes = sizing.byteSize();
        try (SharedHeap fits = SharedHeap.anonymous(bytes + (64 << 10))) { // header, catalog and alignment beside it
            SharedMap<String, Long> hits = SharedMap.create(fits, "hits", Codec.utf8(), Codec.longs(), sizing);
            assertThat(fits.find("hits").orElseThrow().byteSize()).isEqualTo(bytes);
            hits.merge("/index.html", 1L, Long::sum);
            assertThat(hits.get("/index.html")).isEqualTo(1L);
        }
        try (SharedHeap tooSmall = SharedHeap.anonymous(bytes)) {
            assertThatThrownBy(() -> SharedMap.create(tooSmall, "hits", Codec.utf8(), Codec.longs(), sizing))
                    .isInstanceOf(ShmFullException.class).hasMessageContaining("byteSize=" + bytes);
        }
    }

    /**
     * A map too big for its heap is refused naming the map, its sizing and one that fits the heap's free bytes,
     * which then makes the map (the heap's own message named only a block and its byte count).
     */
    @Test
    void shouldNameASizingThatFitsWhenTheHeapHasNoRoomForTheMap() {
        MapSizing sizing = new MapSizing(10_000, 8, 16);
        try (SharedHeap small = SharedHeap.anonymous(sizing.byteSize() / 2)) {
            assertThatThrownBy(() -> SharedLongMap.openOrCreate(small, "m", Codec.bytes(), sizing))
                    .isInstanceOf(ShmFullException.class)
                    .hasMessageContaining("SharedLongMap 'm' cannot be created: " + sizing + " takes "
                            + sizing.byteSize() + " bytes");
            String message = catchThrowable(() -> SharedMap.create(small, "m", Codec.longs(), Codec.bytes(), sizing))
                    .getMessage();
            assertThat(message).startsWith("SharedMap 'm' cannot be created").contains(" free bytes");
            long entries = Long.parseLong(message.replaceAll(".*a map created with MapSizing\\[entries=(\\d+),.*",
                    "$1"));
            assertThat(entries).isBetween(1_000L, 9_999L);
            SharedMap<Long, byte[]> map = SharedMap.create(small, "m", Codec.longs(), Codec.bytes(),
                    new MapSizing(entries, 8, 16));
            map.put(1L, new byte[16]);
            assertThat(map.get(1L)).hasSize(16);
        }
        try (SharedHeap small = SharedHeap.anonymous(64 << 10)) {
            assertThatThrownBy(() -> SharedMap.create(small, "m", Codec.longs(), Codec.bytes(),
                    new MapSizing(10, 8, 1 << 16)))
                    .isInstanceOf(ShmFullException.class).hasMessageContaining("not even one entry");
        }
    }

    /**
     * helper-186: {@link MapSizing#byteSize()} drops where a sizing gets twice the initial segments (each about half
     * as big, the spare segment in the map block too: 511 entries of 8 + 16 bytes take 99,456 bytes, 512 take
     * 80,640), so the binary search over all entries for a sizing that fits a heap's free bytes named far fewer than
     * fit: 412 entries for the bytes of 558. Now it names the most, for the free bytes of every 7th sizing.
     */
    @Test
    void shouldNameTheMostEntriesThatFitWhereTheByteSizeDropsWithMoreSegments() {
        MapSizing sizing = new MapSizing(3_000, 8, 16);
        long[] bytes = new long[(int) sizing.entries()];
        for (int n = 1; n < bytes.length; n++) {
            bytes[n] = new MapSizing(n, 8, 16).byteSize();
        }
        assertThat(bytes[512]).as("a drop").isLessThan(bytes[511]);
        for (int budget = 1; budget < bytes.length; budget += 7) {
            long free = bytes[budget];
            int most = 0;
            for (int n = 1; n < bytes.length; n++) {
                most = bytes[n] <= free ? n : most;
            }
            assertThat(sizing.fitting(free).entries()).as("%d free bytes", free).isEqualTo(most);
        }
    }

    @Test
    void shouldThrowShmFullWhenTheHeapCannotHoldMoreSegmentsAndStayUsable() {
        try (SharedHeap small = SharedHeap.anonymous(256 << 10)) {
            SharedMap<Long, byte[]> map = SharedMap.create(small, "m", Codec.longs(), Codec.bytes(),
                    new MapSizing(64, 8, 40));
            long put = 0;
            ShmFullException full = null;
            while (full == null) {
                try {
                    map.put(put, SelfChecking.of(put, 1));
                    put++;
                } catch (ShmFullException e) {
                    full = e;
                }
            }
            assertThat(full.getMessage()).contains("SharedMap 'm'", "is full", "the heap has no room for",
                    "the map holds " + put + " entries", "would fit");
            int handedOut = map.core().segmentCount();
            int refused = 0;
            for (long key = put + 1; key < put + 3_000; key++) { // each refused split keeps its number for the next
                try {
                    map.put(key, SelfChecking.of(key, 1));
                    map.remove(key);
                } catch (ShmFullException e) {
                    assertThat(e.getMessage()).contains("the heap has no room for");
                    refused++;
                }
            }
            assertThat(refused).isGreaterThan(200);
            assertThat(map.core().segmentCount()).isLessThanOrEqualTo(handedOut + map.stats().segments().size());
            assertThat(map.size()).isEqualTo(put);
            assertThat(map.containsKey(put)).isFalse();
            assertThat(SelfChecking.version(0, map.remove(0L))).isEqualTo(1);
            for (long key = 1; key < put; key++) {
                assertThat(SelfChecking.version(key, map.get(key))).isEqualTo(1);
            }
        }
    }

    /** A one-segment map has no block "x#1": its block holds segment 1 too, so its first block is "x#2". */
    @Test
    void shouldSayWhenAnotherStructureHasTheNameOfItsNextSegmentsBlockAndStayUsable() {
        SharedMap<Long, Long> other = SharedMap.create(heap, "x#2", Codec.longs(), Codec.longs(),
                MapSizing.ofLongKeys(16, 8));
        other.put(1L, 1L);
        SharedMap<Long, Long> map = SharedMap.create(heap, "x", Codec.longs(), Codec.longs(),
                MapSizing.ofLongKeys(16, 8));
        long put = 0;
        ShmFullException full = null;
        while (full == null) {
            try {
                map.put(put, put);
                put++;
            } catch (ShmFullException e) {
                full = e;
            }
        }
        assertThat(full.getMessage()).contains("SharedMap 'x'", "is full", "the name of the block for its next",
                "segments is taken by another structure", "block 'x#2'", "is a SharedMap");
        assertThat(map.size()).isEqualTo(put);
        assertThat(map.keySet()).hasSize((int) put);
        assertThat(map.stats().segments().stream().mapToLong(SharedMapStats.Segment::entries).sum()).isEqualTo(put);
        assertThat(map.remove(0L)).isZero();
        assertThat(map.put(0L, 7L)).isNull();
        assertThat(other).containsExactly(Map.entry(1L, 1L));
    }

    @Test
    void shouldReleaseEveryLockWhenALaterSplitOfOnePutFindsTheHeapFull() throws Exception {
        // room for the blocks of segments 1 and 2..3, not for 4..7: a split uses a number only if the next has memory
        try (SharedHeap small = SharedHeap.anonymous(heapSizeWithRoomPastTheMapBlock(new MapSizing(40, 8, 40), 8))) {
            SharedMap<Long, byte[]> map = SharedMap.create(small, "m", Codec.longs(), Codec.bytes(),
                    new MapSizing(40, 8, 40));
            long key = 0;
            long put = 0;
            ShmFullException full = null;
            while (full == null) { // keys of hash pattern 0b11 follow each other into every split's upper half
                key++;
                if ((KeyHash.hashLong(key) & 3) == 3) {
                    try {
                        map.put(key, SelfChecking.of(key, 1));
                        put++;
                    } catch (ShmFullException e) {
                        full = e;
                    }
                }
            }
            assertThat(full.getMessage()).contains("the heap has no room for 4 more segments");
            assertThat(map.stats().segments()).hasSize(3);
            long last = key;
            Future<Long> other = threads.submit(() -> { // every lock was released: another thread gets through
                map.put(0L, SelfChecking.of(0, 2));
                return map.keySet().stream().filter(k -> k != 0 && k < last).count();
            });
            assertThat(other.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(put);
        }
    }

    @Test
    void shouldFinishASplitWhoseWriterDiedAfterCopying() {
        SharedMap<Long, byte[]> map = filled();
        MapSegment full = dieInSplit(map, MapLayout.SPLIT_COPIED);
        for (long key = 0; key < 40; key++) {
            assertThat(SelfChecking.version(key, map.get(key))).as("key %d", key).isEqualTo(key);
        }
        assertThat(full.localDepth()).as("the split was finished").isEqualTo(1);
        assertThat(map.stats().repairs()).isEqualTo(1);
        assertThat(map.stats().segments()).hasSize(2);
        assertThat(map).hasSize(40);
    }

    @Test
    void shouldUndoASplitWhoseWriterDiedWhileCopyingAndSplitAgainLater() {
        SharedMap<Long, byte[]> map = filled();
        MapSegment full = dieInSplit(map, MapLayout.SPLIT_COPYING);
        for (long key = 0; key < 40; key++) {
            assertThat(SelfChecking.version(key, map.get(key))).as("key %d", key).isEqualTo(key);
        }
        assertThat(full.localDepth()).as("the split was undone").isZero();
        assertThat(map).hasSize(40);
        for (long key = 40; key < 400; key++) {
            map.put(key, SelfChecking.of(key, key));
        }
        assertThat(map).hasSize(400);
        assertThat(map.stats().segments().size()).isGreaterThan(2);
    }

    @ParameterizedTest(name = "{0} of its 512 directory entries pointed on")
    @ValueSource(ints = {0, 1, 256, 512})
    void shouldFinishASplitWhoseWriterDiedPointingTheDirectoryOn(int pointed) {
        SharedMap<Long, byte[]> map = filled();
        MapSegment full = dieInFinish(map, pointed);
        MapSegment half = map.core().segmentNumber(full.splitTarget(), null, 0, 0);
        Map<Long, Long> model = versions(40);
        SharedMap<Long, byte[]> other = reopen(); // a process with no hint: it goes by the directory
        for (long key = 0; key < 40; key++) {
            if (map.core().directory(entry(map, key)) == half.index) { // to the half, not repairing `full`
                other.put(key, SelfChecking.of(key, key + 100));
                model.put(key, key + 100);
            }
        }
        assertThat(full.sequence() & 1).as("not repaired yet").isOne();
        assertConsistent(map, model);
        assertThat(full.localDepth()).as("the split was finished").isEqualTo(1);
        assertThat(map.stats().repairs()).isEqualTo(1);
        assertThat(map.stats().segments()).hasSize(2);
    }

    @ParameterizedTest(name = "{0} of its 512 directory entries pointed on")
    @ValueSource(ints = {1, 256, 512})
    void shouldNotPointTheDirectoryBackOverANewerSplitOfTheHalfWhenFinishingADeadSplit(int pointed) {
        SharedMap<Long, byte[]> map = filled();
        MapSegment full = dieInFinish(map, pointed);
        MapSegment half = map.core().segmentNumber(full.splitTarget(), null, 0, 0);
        Map<Long, Long> model = versions(40);
        SharedMap<Long, byte[]> other = reopen(); // a restarted worker: no hint leads it to `full`
        for (long key = 40; key < 100_000 && half.localDepth() == 1; key++) { // through the pointed entries only
            if (map.core().directory(entry(map, key)) == half.index) {
                other.put(key, SelfChecking.of(key, key));
                model.put(key, key);
            }
        }
        assertThat(half.localDepth()).as("the half took the dead splitter's lock over and split").isEqualTo(2);
        assertThat(full.sequence() & 1).as("`full` not repaired yet").isOne();
        assertConsistent(map, model); // its first read of `full` repairs it
        assertThat(full.localDepth()).isEqualTo(1);
        assertThat(map.stats().segments()).hasSize(3);
    }

    @ParameterizedTest(name = "the half repaired first: {0}")
    @ValueSource(booleans = {true, false})
    void shouldFinishTwoNestedSplitsThatDiedMidFinishInEitherOrder(boolean halfFirst) {
        SharedMap<Long, byte[]> map = filled();
        MapSegment full = dieInFinish(map, 256); // entries 1, 3, .., 511 point at the half; 513, .., 1023 not yet
        MapSegment half = dieInSplit(map, full.splitTarget(), 1, MapLayout.SPLIT_COPIED, 24); // 3, 7, .., 95 on
        long key = LongStream.range(0, 40).filter(k -> halfFirst ? entry(map, k) % 4 == 1 && entry(map, k) < 512
                : entry(map, k) % 2 == 0).findFirst().orElseThrow(); // a key of the segment to repair first
        assertThat(SelfChecking.version(key, reopen().get(key))).isEqualTo(key);
        assertThat((halfFirst ? half : full).sequence() & 1).as("repaired first").isZero();
        assertThat((halfFirst ? full : half).sequence() & 1).as("not repaired yet").isOne();
        assertConsistent(map, versions(40));
        assertThat(map.stats().segments()).hasSize(3);
        assertThat(map.stats().repairs()).isEqualTo(2);
    }

    @Test
    void shouldUndoASplitWhoseWriterDiedMidCopyAndReuseItsHalfForTheNextSplit() {
        SharedMap<Long, byte[]> map = filled();
        MapSegment full = dieInSplit(map, MapLayout.SPLIT_COPYING);
        MapSegment half = map.core().segmentNumber(full.splitTarget(), null, 0, 0);
        half.beginWrite(); // as mid-copy: the half's sequence odd and half its table still to fill
        half.memory.asSlice(MapLayout.S_SLOTS, (half.arenaStart - MapLayout.S_SLOTS) / 2).fill((byte) 0);
        Map<Long, Long> model = versions(40);
        assertConsistent(map, model);
        assertThat(full.localDepth()).as("the split was undone").isZero();
        assertThat(full.splitTarget()).as("its half kept for the next split").isEqualTo(half.index);
        for (long key = 40; key < 400; key++) {
            map.put(key, SelfChecking.of(key, key));
            model.put(key, key);
        }
        assertConsistent(map, model);
        assertThat(map.core().directory(1)).as("the first split of `full` went to the kept half").isEqualTo(half.index);
    }

    @Test
    void shouldCompactASegmentWhoseFreeChunksAreTooSmallInsteadOfSplittingIt() {
        SharedMap<Long, byte[]> map = SharedMap.create(heap, "m", Codec.longs(), Codec.bytes(),
                new MapSizing(40, 8, 48));
        int maxLoad = map.core().maxLoad();
        Map<Long, byte[]> model = new HashMap<>();
        for (long key = 0; key < maxLoad; key++) { // 64-byte chunks up to the slot limit
            put(map, model, key, SMALL);
        }
        for (long key = 0; key < maxLoad; key++) {
            if (key % 12 != 0) {
                assertThat(map.remove(key)).isEqualTo(model.remove(key));
            }
        }
        long key = 1000;
        while (map.stats().compactions() == 0) { // 128-byte chunks: fresh arena, then none of that size is free
            assertThat(key).as("puts before the compaction").isLessThan(1000 + maxLoad);
            put(map, model, key++, LARGE);
        }
        SharedMapStats.Segment segment = map.stats().segments().getFirst();
        assertThat(map.stats().segments()).as("compacted, not split").hasSize(1);
        assertThat(segment.arenaTop()).as("back to back").isEqualTo(segment.usedBytes());
        assertThat(segment.usedBytes()).isLessThanOrEqualTo(segment.arenaSize() / 2);
        assertMatches(map, model);
        assertMatches(reopen(), model);
    }

    @ParameterizedTest(name = "one in {0} small entries kept")
    @ValueSource(ints = {12, 2}) // at most half the arena live: compacted at once; more: after its split failed
    void shouldBorrowASpareThatAnotherSegmentKeptOnceTheMapHasHandedOutEveryNumber(int keptOneIn) {
        SharedMap<Long, byte[]> map = SharedMap.create(heap, "m", Codec.longs(), Codec.bytes(),
                new MapSizing(1_000, 8, 48));
        MapCore core = map.core();
        assertThat(core.segmentCount()).as("initial segments").isGreaterThanOrEqualTo(2);
        MapSegment lender = core.segmentNumber(1, null, 0, 0);
        lender.lock();
        try {
            SegmentCompaction.compact(core, lender, Long.BYTES, SMALL); // it keeps its spare
        } finally {
            lender.unlock();
        }
        int spare = lender.splitTarget();
        assertThat(spare).isGreaterThanOrEqualTo(2);
        heap.lookup("m", MapLayout.MAP).segment()
                .set(JAVA_INT, MapLayout.H_NEXT_SEGMENT, core.maxSegments()); // every number handed out
        MapSegment segment = core.segmentNumber(0, null, 0, 0);
        List<Long> keys = LongStream.range(0, 100_000).filter(k -> SharedMapTest.segmentOf(core, k) == segment)
                .limit(core.maxLoad() + 1L).boxed().toList();
        Map<Long, byte[]> model = new HashMap<>();
        for (int i = 0; i < core.maxLoad(); i++) { // the 64-byte chunks of segment 0, then most of them freed
            put(map, model, keys.get(i), SMALL);
        }
        for (int i = 0; i < core.maxLoad(); i++) {
            if (i % keptOneIn != 0) {
                assertThat(map.remove(keys.get(i))).isEqualTo(model.remove(keys.get(i)));
            }
        }
        long live = 0;
        for (int i = 0; i < core.maxLoad() && segment.compactions() == 0; i++) { // 128-byte chunks, until none fits
            live = segment.usedBytes();
            put(map, model, keys.get(i), LARGE);
        }
        assertThat(segment.compactions()).as("compacted through the borrowed spare").isEqualTo(1);
        assertThat(live > segment.arena.size() / 2).as("more than half live before").isEqualTo(keptOneIn == 2);
        assertThat(segment.splitTarget()).isEqualTo(spare);
        assertThat(lender.splitTarget()).as("lent").isEqualTo(-1);
        assertMatches(map, model);
        assertMatches(reopen(), model);
    }

    /**
     * helper-182: a map whose heap never had room for its first extension block compacts through the spare segment
     * its own block holds. After it filled with small entries and lost 3 in 4, random puts (2 in 3) and removes of
     * values of 0 to 99 bytes on its remaining keys are refused only when the segment's live entries and the new
     * one would not fit it even compacted; before, such a map had no spare, so every put that only a compaction
     * made room for was refused, however empty its segment.
     */
    @Test
    void shouldRefuseNoPutThatFitsACompactedSegmentWhenTheHeapNeverHadRoomForMoreSegments() {
        MapSizing sizing = MapSizing.ofLongKeys(1_000, SMALL);
        try (SharedHeap small = SharedHeap.anonymous(heapSizeWithRoomPastTheMapBlock(sizing, 1))) {
            SharedMap<Long, byte[]> map = SharedMap.create(small, "m", Codec.longs(), Codec.bytes(), sizing);
            MapCore core = map.core();
            int initial = map.stats().segments().size();
            long keys = 0;
            while (tryPut(map, keys)) {
                keys++;
            }
            assertThat(map.stats().segments()).as("no segment added").hasSize(initial);
            Map<Long, byte[]> model = new HashMap<>();
            for (long key = 0; key < keys; key++) {
                if (key % 4 != 0) {
                    assertThat(map.remove(key)).isNotNull();
                } else {
                    model.put(key, new byte[SMALL]);
                }
            }
            Random random = new Random(23);
            int puts = 0;
            int refused = 0;
            int refusedThatFit = 0;
            for (int op = 0; op < CHURN; op++) {
                long key = 4 * random.nextLong((keys + 3) / 4);
                if (random.nextInt(3) == 0) {
                    assertThat(map.remove(key)).isEqualTo(model.remove(key));
                    continue;
                }
                byte[] value = new byte[random.nextInt(100)];
                random.nextBytes(value);
                puts++;
                try {
                    map.put(key, value);
                    model.put(key, value);
                } catch (ShmFullException e) {
                    refused++;
                    MapSegment segment = SharedMapTest.segmentOf(core, key);
                    long needed = segment.usedBytes() + MapLayout.chunkSize(MapLayout.sizeClass(
                            (long) MapLayout.ENTRY_HEADER + Long.BYTES + value.length));
                    if (needed <= segment.arena.size()
                            && (model.containsKey(key) || segment.count() < core.maxLoad())) {
                        refusedThatFit++;
                    }
                }
            }
            System.out.println(puts + " puts, " + refused + " refused (their segment full even compacted), "
                    + map.stats().compactions() + " compactions");
            assertThat(refusedThatFit).as("puts refused of %d that fit their segment compacted", puts).isZero();
            assertThat(map.stats().compactions()).as("compactions through the map block's spare").isPositive();
            assertThat(map.stats().segments()).hasSize(initial);
            assertMatches(map, model);
        }
    }

    /**
     * A compaction only tries the lock of the segment that keeps the map's spare (it holds its own): while another
     * thread holds that lock, a put that only a compaction makes room for is refused saying so, and taken once the
     * lock is free. The keeper is a segment filled first (its split took the spare, the map block's segment 4, and
     * found no memory past it); then another is filled, thinned to 1 in 4 and given a larger entry.
     */
    @Test
    void shouldSayTheSpareWasLockedWhenACompactionCouldNotBorrowIt() throws Exception {
        MapSizing sizing = MapSizing.ofLongKeys(1_000, SMALL);
        try (SharedHeap small = SharedHeap.anonymous(heapSizeWithRoomPastTheMapBlock(sizing, 1))) {
            SharedMap<Long, byte[]> map = SharedMap.create(small, "m", Codec.longs(), Codec.bytes(), sizing);
            MapCore core = map.core();
            MapSegment keeper = core.segmentNumber(0, null, 0, 0);
            MapSegment compacting = core.segmentNumber(1, null, 0, 0);
            fillSegment(map, keeper);
            assertThat(keeper.splitTarget()).as("the map block's spare").isEqualTo(4);
            List<Long> keys = fillSegment(map, compacting);
            Map<Long, byte[]> model = new HashMap<>();
            for (int i = 0; i < keys.size(); i++) {
                if (i % 4 != 0) {
                    assertThat(map.remove(keys.get(i))).isNotNull();
                }
            }
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Future<?> holder = threads.submit(() -> {
                keeper.lock();
                try {
                    held.countDown();
                    return release.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                } finally {
                    keeper.unlock();
                }
            });
            assertThat(held.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            long key = keys.get(1);
            assertThatThrownBy(() -> put(map, model, key, LARGE)).isInstanceOf(ShmFullException.class)
                    .hasMessageContaining("compacting the segment would make room").hasMessageContaining(
                            "the segment keeping it was locked by another writer that moment");
            release.countDown();
            holder.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            put(map, model, key, LARGE);
            assertThat(compacting.compactions()).isOne();
            assertThat(compacting.splitTarget()).as("borrowed").isEqualTo(4);
            assertThat(map.get(key)).isEqualTo(model.get(key));
            assertThat(map.size()).isEqualTo((keys.size() + 3) / 4 + 1 + keeper.count());
        }
    }

    /** @return the keys of {@code segment} put into {@code map} ({@link #SMALL} values) until it refused one */
    private static List<Long> fillSegment(SharedMap<Long, byte[]> map, MapSegment segment) {
        List<Long> keys = new ArrayList<>();
        for (long key = 0; ; key++) {
            if (SharedMapTest.segmentOf(map.core(), key) == segment) {
                if (!tryPut(map, key)) {
                    return keys;
                }
                keys.add(key);
            }
        }
    }

    /**
     * A map that filled its heap with small entries, then lost 3 in 4, keeps taking random puts (2 in 3) and removes
     * of values of 0 to 99 bytes on its remaining keys: a segment whose free chunks are too small for a put compacts
     * through the spare kept for compactions (no split takes the last segment that has memory), so almost no put is
     * refused while the segments' live bytes fit, and the map ends holding exactly what a HashMap does.
     */
    @Test
    void shouldKeepTakingPutsOfVaryingSizesOnceTheHeapIsFull() {
        try (SharedHeap small = SharedHeap.anonymous(1 << 20)) {
            SharedLongMap<byte[]> map = SharedLongMap.create(small, "m", Codec.bytes(), MapSizing.ofLongKeys(100,
                    SMALL));
            long keys = 0;
            while (trySet(map, keys)) {
                keys++;
            }
            Map<Long, byte[]> model = new HashMap<>();
            for (long key = 0; key < keys; key++) {
                if (key % 4 != 0) {
                    assertThat(map.delete(key)).isTrue();
                } else {
                    model.put(key, new byte[SMALL]);
                }
            }
            Random random = new Random(17);
            int puts = 0;
            int refused = 0;
            for (int op = 0; op < CHURN; op++) {
                long key = 4 * random.nextLong((keys + 3) / 4); // keys each segment held before: slots are no limit
                if (random.nextInt(3) == 0) {
                    assertThat(map.delete(key)).isEqualTo(model.remove(key) != null);
                    continue;
                }
                byte[] value = new byte[random.nextInt(100)];
                random.nextBytes(value);
                puts++;
                try {
                    map.set(key, value);
                    model.put(key, value);
                } catch (ShmFullException e) {
                    refused++;
                }
            }
            assertThat(refused).as("puts refused of %d", puts).isLessThanOrEqualTo(puts / 1000);
            assertThat(map.stats().segments().stream().filter(segment -> segment.compactions() > 0))
                    .as("segments compacted through the one spare").hasSizeGreaterThan(10);
            assertThat(map.size()).isEqualTo(model.size());
            model.forEach((key, value) -> assertThat(map.get(key)).as("key %d", key).isEqualTo(value));
        }
    }

    /** @return true if {@code map} took a {@link #SMALL} value for {@code key}, false if it was full */
    private static boolean tryPut(SharedMap<Long, byte[]> map, long key) {
        try {
            map.put(key, new byte[SMALL]);
            return true;
        } catch (ShmFullException e) {
            return false;
        }
    }

    /** @return true if {@code map} took a {@link #SMALL} value for {@code key}, false if it was full */
    private static boolean trySet(SharedLongMap<byte[]> map, long key) {
        try {
            map.set(key, new byte[SMALL]);
            return true;
        } catch (ShmFullException e) {
            return false;
        }
    }

    @Test
    void shouldCompactASegmentThatCannotSplitAgainBeforeThrowingShmFull() {
        SharedMap<Long, byte[]> map = SharedMap.create(heap, "m", Codec.longs(), Codec.bytes(),
                new MapSizing(40, 8, 48));
        MapCore core = map.core();
        long[] keys = LongStream.iterate(0, k -> k + 1).filter(k -> entry(map, k) == 0).limit(200).toArray();
        Map<Long, byte[]> model = new HashMap<>();
        int maxLoad = core.maxLoad();
        for (int i = 0; i < maxLoad; i++) {
            put(map, model, keys[i], SMALL);
        }
        assertThatThrownBy(() -> map.put(keys[maxLoad], new byte[SMALL])).isInstanceOf(ShmFullException.class)
                .hasMessageContaining("its keys share all " + core.maxDepth() + " hash bits of the directory");
        MapSegment segment = SharedMapTest.segmentOf(core, keys[0]);
        assertThat(segment.localDepth()).isEqualTo(core.maxDepth());
        for (int i = 0; i < 40; i++) {
            assertThat(map.remove(keys[i])).isEqualTo(model.remove(keys[i]));
        }
        int next = maxLoad;
        while (segment.compactions() == 0) { // its live chunks fill more than half of it: only its depth compacts it
            assertThat(next).as("puts before the compaction").isLessThan(keys.length);
            put(map, model, keys[next++], LARGE);
        }
        assertThat(segment.usedBytes()).isGreaterThan((int) (segment.arena.size() / 2));
        assertMatches(map, model);
        ShmFullException full = null;
        while (full == null) {
            try {
                put(map, model, keys[next++], LARGE);
            } catch (ShmFullException e) {
                full = e;
            }
        }
        assertThat(full.getMessage()).contains("cannot split again");
        assertThat(segment.compactions()).as("no compaction that could not make room").isOne();
        assertMatches(map, model);
    }

    @ParameterizedTest(name = "died copying back: {0}")
    @ValueSource(booleans = {false, true})
    void shouldFinishOrUndoACompactionWhoseWriterDiedAndKeepItsSpareForTheNextSplit(boolean copyingBack) {
        SharedMap<Long, byte[]> map = filled();
        MapCore core = map.core();
        MapSegment full = core.segmentNumber(0, null, 0, 0);
        full.lock();
        MapSegment spare = core.spareOf(full, 0, 0);
        spare.lock();
        SegmentCompaction.copyOut(full, spare, full.beginWrite());
        if (copyingBack) { // the spare complete, about half the entries back in place
            full.arena.refill(spare, word -> (word >>> MapLayout.TAG_SHIFT & 1) == 0);
        } else { // still filling the spare: the segment's own entries untouched
            full.setSplit(MapLayout.COMPACT_COPYING, spare.index);
            spare.beginWrite();
            spare.memory.asSlice(MapLayout.S_SLOTS, (spare.arenaStart - MapLayout.S_SLOTS) / 2).fill((byte) 0);
        }
        full.memory.set(JAVA_LONG, MapLayout.S_MUTEX, SharedMapTest.DEAD_OWNER);
        spare.memory.set(JAVA_LONG, MapLayout.S_MUTEX, SharedMapTest.DEAD_OWNER);
        Map<Long, Long> model = versions(40);
        assertConsistent(map, model); // its first read takes the lock over and repairs the segment
        assertThat(map.stats().repairs()).isOne();
        assertThat(map.stats().compactions()).isEqualTo(copyingBack ? 1 : 0);
        assertThat(map.stats().segments()).hasSize(1);
        assertThat(full.splitWord()).isZero();
        assertThat(full.splitTarget()).as("its spare kept").isEqualTo(spare.index);
        for (long key = 40; key < 400; key++) {
            map.put(key, SelfChecking.of(key, key));
            model.put(key, key);
        }
        assertConsistent(map, model);
        assertThat(core.directory(1)).as("the first split went to the spare").isEqualTo(spare.index);
    }

    @Test
    void shouldHoldHundredsOfTimesItsSizingWhenKeysAndValuesVaryInLength() {
        SharedMap<String, byte[]> map = SharedMap.create(heap, "m", Codec.utf8(), Codec.bytes(),
                new MapSizing(16, 8, 8));
        Random random = new Random(11);
        Map<String, byte[]> model = new HashMap<>();
        List<String> keys = new ArrayList<>();
        for (int i = 0; model.size() < 16 * 250; i++) {
            String key = i + "-" + "k".repeat(random.nextInt(60));
            byte[] value = new byte[random.nextInt(40)];
            random.nextBytes(value);
            map.put(key, value);
            model.put(key, value);
            keys.add(key);
            if (i % 3 == 0) { // churn: entries of other sizes come and go
                String gone = keys.remove(random.nextInt(keys.size()));
                assertThat(map.remove(gone)).isEqualTo(model.remove(gone));
            }
        }
        assertThat(map.stats().compactions()).isPositive();
        assertThat(map).hasSameSizeAs(model);
        model.forEach((key, value) -> assertThat(map.get(key)).as(key).isEqualTo(value));
    }

    /**
     * Checks, through {@code map} and through a handle with no hints, that every key of {@code model} holds its
     * version, that the map holds no other key and none twice, that every directory entry names a segment that
     * covers it, and that the statistics count each segment's keys; then rewrites every key (half of them through
     * each handle) and checks it all again.
     */
    private void assertConsistent(SharedMap<Long, byte[]> map, Map<Long, Long> model) {
        SharedMap<Long, byte[]> other = reopen();
        MapCore core = map.core();
        for (int pass = 0; pass < 2; pass++) {
            for (Map.Entry<Long, Long> e : model.entrySet()) {
                assertThat(SelfChecking.version(e.getKey(), map.get(e.getKey()))).as("key %d", e.getKey())
                        .isEqualTo(e.getValue());
                assertThat(SelfChecking.version(e.getKey(), other.get(e.getKey()))).as("key %d", e.getKey())
                        .isEqualTo(e.getValue());
            }
            assertThat(map.keySet().stream().toList()).containsExactlyInAnyOrderElementsOf(model.keySet());
            for (int j = 0; j < core.maxSegments(); j++) {
                assertThat(core.segmentNumber(core.directory(j), null, 0, 0).covers(j)).as("entry %d", j).isTrue();
            }
            SharedMapStats stats = map.stats();
            assertThat(stats.entries()).isEqualTo(model.size());
            for (SharedMapStats.Segment s : stats.segments()) {
                MapSegment segment = core.segmentNumber(s.index(), null, 0, 0);
                assertThat(s.entries()).as("segment %d", s.index())
                        .isEqualTo(model.keySet().stream().filter(k -> segment.covers(KeyHash.hashLong(k))).count());
            }
            for (Map.Entry<Long, Long> e : model.entrySet()) {
                e.setValue(e.getValue() + 48 * 21); // a value of the same length: no segment needs more room
                (e.getKey() % 2 == 0 ? map : other).put(e.getKey(), SelfChecking.of(e.getKey(), e.getValue()));
            }
        }
    }

    /** Value bytes of an entry in a 64-byte chunk (32-byte header, 8-byte key), and of one in a 128-byte chunk. */
    private static final int SMALL = 16;
    private static final int LARGE = 80;
    /** Operations of the churn on a full heap. */
    private static final int CHURN = 50_000;

    /** Puts a value of {@code length} bytes made from {@code key} into {@code map} and {@code model}. */
    private static void put(SharedMap<Long, byte[]> map, Map<Long, byte[]> model, long key, int length) {
        byte[] value = new byte[length];
        Arrays.fill(value, (byte) key);
        map.put(key, value);
        model.put(key, value);
    }

    /** Checks that {@code map} holds exactly the keys and values of {@code model}. */
    /**
     * @return the size of an anonymous heap with room for a map of {@code sizing} (its block made first) and
     *         {@code halfSegments} halves of one of its segments past that block
     */
    private static long heapSizeWithRoomPastTheMapBlock(MapSizing sizing, long halfSegments) {
        try (SharedHeap sizingHeap = SharedHeap.anonymous(1 << 20)) {
            SharedMap.create(sizingHeap, "m", Codec.longs(), Codec.bytes(), sizing);
            HeapBlock block = sizingHeap.lookup("m", MapLayout.MAP);
            long segmentSize = block.segment().get(JAVA_LONG, MapLayout.H_SEGMENT_SIZE);
            return block.offset() + block.byteSize() + halfSegments * segmentSize / 2;
        }
    }

    private static void assertMatches(SharedMap<Long, byte[]> map, Map<Long, byte[]> model) {
        assertThat(map.keySet()).containsExactlyInAnyOrderElementsOf(model.keySet());
        model.forEach((key, value) -> assertThat(map.get(key)).as("key %d", key).isEqualTo(value));
    }

    /** @return keys 0 to {@code keys - 1} at the versions {@link #filled()} gave them */
    private static Map<Long, Long> versions(int keys) {
        Map<Long, Long> model = new HashMap<>();
        for (long key = 0; key < keys; key++) {
            model.put(key, key);
        }
        return model;
    }

    /** @return the map "m" opened again: another handle, as another process has, with hints of its own */
    private SharedMap<Long, byte[]> reopen() {
        return SharedMap.open(heap, "m", Codec.longs(), Codec.bytes());
    }

    /** @return the directory entry of {@code key} */
    private static int entry(SharedMap<Long, byte[]> map, long key) {
        return (int) KeyHash.hashLong(key) & (map.core().maxSegments() - 1);
    }

    /** @return a one-segment map of 40 self-checking entries */
    private SharedMap<Long, byte[]> filled() {
        SharedMap<Long, byte[]> map = SharedMap.create(heap, "m", Codec.longs(), Codec.bytes(),
                new MapSizing(40, 8, 40));
        for (long key = 0; key < 40; key++) {
            map.put(key, SelfChecking.of(key, key));
        }
        return map;
    }

    /** {@link #dieInSplit(SharedMap, int, int, int, int) dieInSplit} of segment 0, pointing no entry. */
    private static MapSegment dieInSplit(SharedMap<Long, byte[]> map, int state) {
        return dieInSplit(map, 0, 0, state, 0);
    }

    /** {@link #dieInSplit(SharedMap, int, int, int, int) dieInSplit} of segment 0 after the copy. */
    private static MapSegment dieInFinish(SharedMap<Long, byte[]> map, int pointed) {
        return dieInSplit(map, 0, 0, MapLayout.SPLIT_COPIED, pointed);
    }

    /**
     * Splits segment {@code number} at bit {@code depth} up to the given state, points the first {@code pointed}
     * directory entries of the new half at it (as a splitter killed in {@code finish}'s loop), and leaves both
     * segments locked by a dead process, the split one's sequence odd, as a writer killed at that point would.
     */
    private static MapSegment dieInSplit(SharedMap<Long, byte[]> map, int number, int depth, int state,
                                         int pointed) {
        MapCore core = map.core();
        MapSegment full = core.segmentNumber(number, null, 0, 0);
        full.lock();
        MapSegment half = core.segmentNumber(core.newSegmentNumber(full, 0, 0), full, 0, 0);
        half.lock();
        long stamp = full.beginWrite();
        SegmentSplit.copyHalf(full, half, depth, stamp);
        full.setSplit(state | depth << 8, half.index);
        for (int n = 0; n < pointed; n++) {
            core.pointDirectory(full.pattern() + (1 << depth) + (n << (depth + 1)), half.index);
        }
        full.memory.set(JAVA_LONG, MapLayout.S_MUTEX, SharedMapTest.DEAD_OWNER);
        half.memory.set(JAVA_LONG, MapLayout.S_MUTEX, SharedMapTest.DEAD_OWNER);
        return full;
    }
}
