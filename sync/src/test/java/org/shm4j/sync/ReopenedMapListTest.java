package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.map.SharedMapStats;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;
import static org.shm4j.sync.Children.onNewThread;

/**
 * A process that closed its last view of a heap while a map segment's lock or a list's mutex was held there (a
 * compute whose function ran, a set whose codec encoded), then opens the heap again before another process took the
 * hold over: the open's sweep renames the hold as a gone holder's, so the next writer, in any process and on any
 * thread of this one (the one that held it too), takes it over as after a dead writer (the map's segment counts one
 * take-over, nothing written; the list counts one recovery, its element as before). Before, the hold was this
 * process's own again, held by no call: a put or set from another thread waited for ever (10 s here), and one from
 * the thread that had run the compute was told the segment was "locked by this thread already".
 */
@Timeout(180)
class ReopenedMapListTest {
    private static final String KEY = "k";
    /** The value whose encode waits for the heap's close, in the lists below. */
    private static final long STALLING = 666;
    /** How long a write waits for a hold it must not take over here: it would take a renamed one over at once. */
    private static final long HELD_MILLIS = 500;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param holderFirst true if the thread that ran the cut-short compute puts first after the reopen, false if
     *                    another thread does
     */
    @ParameterizedTest(name = "holderFirst={0}")
    @ValueSource(booleans = {true, false})
    void shouldLetEveryThreadWriteAMapSegmentAComputeCutShortByTheCloseHeld(boolean holderFirst) throws Exception {
        String heapName = names.unique("reopened-map");
        ExecutorService holder = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().factory());
        try {
            SharedHeap first = SharedHeap.create(heapName, 1 << 20);
            SharedMap<String, String> map = SharedMap.create(first, "map", Codec.utf8(), Codec.utf8(),
                    new MapSizing(64, 8, 16));
            map.put(KEY, "before");
            cutShortByClose(first, holder, (inside, closed) -> map.compute(KEY, (k, old) -> {
                inside.countDown();
                await(closed);
                return "written by the cut-short compute";
            }));
            try (SharedHeap again = SharedHeap.open(heapName)) {
                SharedMap<String, String> reopened = SharedMap.open(again, "map", Codec.utf8(), Codec.utf8());
                Callable<String> byHolder = () -> reopened.put(KEY, "by the holder");
                Callable<String> byOther = () -> reopened.put(KEY, "by another thread");
                if (holderFirst) {
                    assertThat(holder.submit(byHolder).get(10, TimeUnit.SECONDS)).isEqualTo("before");
                    assertThat(onNewThread(byOther).get(10, TimeUnit.SECONDS)).isEqualTo("by the holder");
                } else {
                    assertThat(onNewThread(byOther).get(10, TimeUnit.SECONDS)).isEqualTo("before");
                    assertThat(holder.submit(byHolder).get(10, TimeUnit.SECONDS)).isEqualTo("by another thread");
                }
                assertThat(takeOvers(reopened.stats())).as("taken over once, nothing to repair")
                        .containsExactly(List.of(0L, 1L, 0L));
            }
        } finally {
            holder.shutdownNow();
        }
    }

    /** The same for a segment in an extension block ({@code "<map>#<b>"}) of a {@link SharedLongMap} that grew. */
    @Test
    void shouldLetAnotherThreadWriteASegmentOfAnExtensionBlockAComputeCutShortByTheCloseHeld() throws Exception {
        String heapName = names.unique("reopened-long-map");
        ExecutorService holder = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().factory());
        try {
            SharedHeap first = SharedHeap.create(heapName, 1 << 22);
            // one initial segment: the map block holds segments 0 and 1, extension blocks the rest
            SharedLongMap<String> map = SharedLongMap.create(first, "longs", Codec.utf8(), new MapSizing(16, 8, 8));
            for (long key = 0; key < 2_000; key++) {
                map.set(key, "grown");
            }
            long[] keyAndSegment = keyInSegmentAbove(map, 1);
            long key = keyAndSegment[0];
            cutShortByClose(first, holder, (inside, closed) -> map.asMap().compute(key, (k, old) -> {
                inside.countDown();
                await(closed);
                return "written by the cut-short compute";
            }));
            try (SharedHeap again = SharedHeap.open(heapName)) {
                SharedLongMap<String> reopened = SharedLongMap.open(again, "longs", Codec.utf8());
                assertThat(onNewThread(() -> reopened.asMap().put(key, "after")).get(10, TimeUnit.SECONDS))
                        .isEqualTo("probe");
                assertThat(holder.submit(() -> reopened.asMap().put(key, "by the holder"))
                        .get(10, TimeUnit.SECONDS)).isEqualTo("after");
                assertThat(takeOvers(reopened.stats())).as("the extension block's segment, taken over once")
                        .containsExactly(List.of(keyAndSegment[1], 1L, 0L));
                assertThat(reopened.size()).isEqualTo(2_001);
            }
        } finally {
            holder.shutdownNow();
        }
    }

    /**
     * @param holderFirst true if the thread whose set the close cut short writes first after the reopen, false if
     *                    another thread does
     */
    @ParameterizedTest(name = "holderFirst={0}")
    @ValueSource(booleans = {true, false})
    void shouldLetEveryThreadWriteAListWhoseMutexASetCutShortByTheCloseHeld(boolean holderFirst) throws Exception {
        String heapName = names.unique("reopened-list");
        ExecutorService holder = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().factory());
        try {
            SharedHeap first = SharedHeap.create(heapName, 1 << 20);
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch closed = new CountDownLatch(1);
            SharedList<Long> list = SharedList.create(first, "list", stallingLongs(inside, closed), 8);
            list.add(1L);
            cutShortByClose(first, holder, inside, closed, () -> {
                list.set(0, STALLING);
                return null;
            });
            try (SharedHeap again = SharedHeap.open(heapName)) {
                SharedList<Long> reopened = SharedList.open(again, "list", Codec.longs());
                Callable<Void> byHolder = () -> {
                    reopened.add(2L);
                    return null;
                };
                Callable<Void> byOther = () -> {
                    reopened.set(0, 3L);
                    return null;
                };
                if (holderFirst) {
                    holder.submit(byHolder).get(10, TimeUnit.SECONDS);
                    onNewThread(byOther).get(10, TimeUnit.SECONDS);
                } else {
                    onNewThread(byOther).get(10, TimeUnit.SECONDS);
                    holder.submit(byHolder).get(10, TimeUnit.SECONDS);
                }
                assertThat(reopened.snapshot()).as("the cut-short set changed nothing").containsExactly(3L, 2L);
                assertThat(reopened.recoveries()).isOne();
            }
        } finally {
            holder.shutdownNow();
        }
    }

    /**
     * A map block whose header is damaged (its magic, then its segment size with the checksum made to match), listed
     * before a list whose mutex a close left held: the sweep skips the map (its open reports the damage) and renames
     * the list's hold after it.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"magic", "segmentSize"})
    void shouldSkipADamagedMapAndRenameTheHoldsAfterIt(String damaged) throws Exception {
        String heapName = names.unique("reopened-damaged");
        ExecutorService holder = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().factory());
        try {
            SharedHeap first = SharedHeap.create(heapName, 1 << 20);
            SharedMap.create(first, "map", Codec.utf8(), Codec.utf8(), new MapSizing(64, 8, 16)).put(KEY, "before");
            MemorySegment header = first.find("map").orElseThrow().segment();
            if (damaged.equals("magic")) {
                header.set(ValueLayout.JAVA_LONG, 0, 0x0BAD_0BADL);
            } else { // a segment size past the block: only the header's own checks keep the sweep inside it
                header.set(ValueLayout.JAVA_LONG, 16, 1L << 30);
                CRC32C crc = new CRC32C();
                crc.update(header.asSlice(0, 60).asByteBuffer());
                header.set(ValueLayout.JAVA_INT, 60, (int) crc.getValue());
            }
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch closed = new CountDownLatch(1);
            SharedList<Long> list = SharedList.create(first, "list", stallingLongs(inside, closed), 8);
            list.add(1L);
            cutShortByClose(first, holder, inside, closed, () -> {
                list.set(0, STALLING);
                return null;
            });
            try (SharedHeap again = SharedHeap.open(heapName)) {
                SharedList<Long> reopened = SharedList.open(again, "list", Codec.longs());
                onNewThread(() -> {
                    reopened.set(0, 3L);
                    return null;
                }).get(10, TimeUnit.SECONDS);
                assertThat(reopened.snapshot()).containsExactly(3L);
                assertThat(reopened.recoveries()).isOne();
                assertThatThrownBy(() -> SharedMap.open(again, "map", Codec.utf8(), Codec.utf8()))
                        .isInstanceOf(ShmFormatException.class).hasMessageContaining(damaged);
            }
        } finally {
            holder.shutdownNow();
        }
    }

    /** A child computes a key and sets a list element, closes its heap under both, opens it again and stays. */
    @Test
    void shouldTakeOverWhatAnotherProcessLeftHeldByItsCloseOnceItOpenedTheHeapAgain() throws Exception {
        String heapName = names.unique("reopened-child");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedMap<String, String> map = SharedMap.create(heap, "map", Codec.utf8(), Codec.utf8(),
                    new MapSizing(64, 8, 16));
            map.put(KEY, "before");
            SharedList<Long> list = SharedList.create(heap, "list", Codec.longs(), 8);
            list.add(1L);
            try (ChildJvm child = ChildJvm.start(ReopeningHolder.class, heapName)) {
                child.awaitLine("REOPENED", BOUND);
                assertThat(child.output()).contains("COMPUTE refused", "SET refused");
                assertThat(heap.attachedProcesses()).as("the child is attached again").hasSize(2);
                assertThat(onNewThread(() -> map.put(KEY, "after")).get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("the cut-short compute wrote nothing").isEqualTo("before");
                assertThat(takeOvers(map.stats())).containsExactly(List.of(0L, 1L, 0L));
                onNewThread(() -> {
                    list.set(0, 3L);
                    return null;
                }).get(BOUND.toSeconds(), TimeUnit.SECONDS);
                assertThat(list.snapshot()).containsExactly(3L);
                assertThat(list.recoveries()).isOne();
                assertThat(child.output()).doesNotContain("Exception");
            }
        }
    }

    /**
     * This process closes its last view and opens the heap again while a child holds the segment and the list
     * (live, attached): its sweep renames nothing of the child's, whose writes then complete as theirs.
     */
    @Test
    void shouldLeaveAnotherProcesssLiveHoldsAloneWhenItOpensTheHeapAgain() throws Exception {
        String heapName = names.unique("reopened-beside-holder");
        SharedHeap first = SharedHeap.create(heapName, 1 << 20);
        SharedMap.create(first, "map", Codec.utf8(), Codec.utf8(), new MapSizing(64, 8, 16)).put(KEY, "before");
        SharedList.create(first, "list", Codec.longs(), 8).add(1L);
        SharedLong.create(first, "go");
        try (ChildJvm child = ChildJvm.start(LiveHolder.class, heapName)) {
            child.awaitLine("HOLDING", BOUND);
            first.close();
            try (SharedHeap again = SharedHeap.open(heapName)) {
                SharedMap<String, String> map = SharedMap.open(again, "map", Codec.utf8(), Codec.utf8());
                SharedList<Long> list = SharedList.open(again, "list", Codec.longs());
                Waiting waiting = assertStillHeld(map, list);
                SharedLong.open(again, "go").set(1);
                child.awaitLine("RELEASED", BOUND);
                waiting.assertAfter("written by the child");
                assertThat(list.snapshot()).containsExactly(7L, 9L);
                assertThat(takeOvers(map.stats())).isEmpty();
                assertThat(list.recoveries()).isZero();
            }
        }
    }

    /** A second view opened while the first is open claims no new slot: no sweep, the holds stay the holders'. */
    @Test
    void shouldLeaveThisProcesssHoldsAloneWhenASecondViewOpens() throws Exception {
        String heapName = names.unique("second-view");
        ExecutorService holders = Executors.newFixedThreadPool(2, Thread.ofPlatform().daemon().factory());
        try (SharedHeap first = SharedHeap.create(heapName, 1 << 20)) {
            SharedMap<String, String> map = SharedMap.create(first, "map", Codec.utf8(), Codec.utf8(),
                    new MapSizing(64, 8, 16));
            map.put(KEY, "before");
            CountDownLatch inside = new CountDownLatch(2);
            CountDownLatch release = new CountDownLatch(1);
            SharedList<Long> list = SharedList.create(first, "list", stallingLongs(inside, release), 8);
            list.add(1L);
            Future<String> compute = holders.submit(() -> map.compute(KEY, (k, old) -> {
                inside.countDown();
                await(release);
                return "written by the holder";
            }));
            Future<?> set = holders.submit(() -> list.set(0, STALLING));
            assertThat(inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)).as("both hold").isTrue();
            try (SharedHeap second = SharedHeap.open(heapName)) {
                SharedMap<String, String> mapAgain = SharedMap.open(second, "map", Codec.utf8(), Codec.utf8());
                SharedList<Long> listAgain = SharedList.open(second, "list", Codec.longs());
                Waiting waiting = assertStillHeld(mapAgain, listAgain);
                release.countDown();
                assertThat(compute.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo("written by the holder");
                set.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                waiting.assertAfter("written by the holder");
                assertThat(listAgain.snapshot()).containsExactly(STALLING, 9L);
                assertThat(takeOvers(mapAgain.stats())).isEmpty();
                assertThat(listAgain.recoveries()).isZero();
            }
        } finally {
            holders.shutdownNow();
        }
    }

    /**
     * Starts a put of {@link #KEY} ("by the reopener") and an append of 9 to the list, and checks that both wait (the
     * holds are a live holder's), without waiting long: each would take a renamed hold over at once.
     *
     * @return the two writes, which go on once the holder is done
     */
    private static Waiting assertStillHeld(SharedMap<String, String> map, SharedList<Long> list) {
        CompletableFuture<String> put = onNewThread(() -> map.put(KEY, "by the reopener"));
        CompletableFuture<Void> add = onNewThread(() -> {
            list.add(9L);
            return null;
        });
        assertThatThrownBy(() -> put.get(HELD_MILLIS, TimeUnit.MILLISECONDS)).as("the segment is still held")
                .isInstanceOf(TimeoutException.class);
        assertThatThrownBy(() -> add.get(HELD_MILLIS, TimeUnit.MILLISECONDS)).as("the list is still held")
                .isInstanceOf(TimeoutException.class);
        return new Waiting(map, put, add);
    }

    /** The writes {@link #assertStillHeld} started. */
    private record Waiting(SharedMap<String, String> map, CompletableFuture<String> put,
                           CompletableFuture<Void> add) {
        /** Checks that the put replaced {@code held}, the holder's value, and that the append completed. */
        void assertAfter(String held) throws Exception {
            assertThat(put.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the put waited for the holder's")
                    .isEqualTo(held);
            add.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            assertThat(map.get(KEY)).isEqualTo("by the reopener");
        }
    }

    /** An operation that signals {@code inside} once it holds, then waits for {@code closed}. */
    private interface Holding<T> {
        T run(CountDownLatch inside, CountDownLatch closed) throws Exception;
    }

    private static <T> void cutShortByClose(SharedHeap heap, ExecutorService holder, Holding<T> operation)
            throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        cutShortByClose(heap, holder, inside, closed, () -> operation.run(inside, closed));
    }

    /**
     * Runs {@code operation} on {@code holder}'s thread, closes {@code heap} (this process's only view) once it
     * holds ({@code inside}), lets it go on ({@code closed}) and checks that it failed on the closed heap.
     */
    private static <T> void cutShortByClose(SharedHeap heap, ExecutorService holder, CountDownLatch inside,
                                            CountDownLatch closed, Callable<T> operation) throws Exception {
        Future<T> cutShort = holder.submit(operation);
        assertThat(inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the operation holds").isTrue();
        heap.close();
        closed.countDown();
        assertThatThrownBy(() -> cutShort.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .hasRootCauseInstanceOf(IllegalStateException.class);
    }

    /**
     * @return {@code [key, segment]}: a key put now with value {@code "probe"}, which lies in a segment numbered above
     *         {@code above} (the segment whose entries it raised)
     */
    private static long[] keyInSegmentAbove(SharedLongMap<String> map, int above) {
        for (long key = 1_000_000; key < 1_001_000; key++) {
            List<SharedMapStats.Segment> before = map.stats().segments();
            map.set(key, "probe");
            List<SharedMapStats.Segment> after = map.stats().segments();
            for (int i = 0; i < after.size() && before.size() == after.size(); i++) {
                if (after.get(i).entries() == before.get(i).entries() + 1 && after.get(i).index() > above) {
                    return new long[] {key, after.get(i).index()};
                }
            }
            map.delete(key);
        }
        throw new AssertionError("no key of 1,000 lies in a segment above " + above);
    }

    /** @return {@code [segment, takeOvers, repairs]} of each segment taken over or repaired */
    private static List<List<Long>> takeOvers(SharedMapStats stats) {
        return stats.segments().stream().filter(s -> s.takeOvers() > 0 || s.repairs() > 0)
                .map(s -> List.of((long) s.index(), s.takeOvers(), s.repairs())).toList();
    }

    /** @return {@link Codec#longs()} whose encode of {@link #STALLING} signals {@code inside}, then waits for go */
    static Codec<Long> stallingLongs(CountDownLatch inside, CountDownLatch go) {
        return new LongsWithHook() {
            @Override
            public void encode(Long value, MemorySegment target, long offset) {
                if (value == STALLING) {
                    inside.countDown();
                    await(go);
                }
                super.encode(value, target, offset);
            }
        };
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("not let go in time");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A child's compute of the map's key and set of the list's element 0, each holding its structure's lock (in its
     * function, in its codec) until {@code release}.
     */
    private record ChildHolds(CompletableFuture<String> compute, CompletableFuture<Void> set) {
        /** Starts both on threads of their own and returns once both hold. */
        static ChildHolds start(SharedHeap heap, CountDownLatch release) throws InterruptedException {
            CountDownLatch inside = new CountDownLatch(2);
            SharedMap<String, String> map = SharedMap.open(heap, "map", Codec.utf8(), Codec.utf8());
            SharedList<Long> list = SharedList.open(heap, "list", stallingLongs(inside, release));
            CompletableFuture<String> compute = onNewThread(() -> map.compute(KEY, (k, old) -> {
                inside.countDown();
                await(release);
                return "written by the child";
            }));
            CompletableFuture<Void> set = onNewThread(() -> {
                list.set(0, STALLING);
                return null;
            });
            if (!inside.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("the holders did not start");
            }
            return new ChildHolds(compute, set);
        }
    }

    /**
     * {@code main(heap)}: computes the map's key and sets the list's element 0 (each waiting, in its function or its
     * codec, for the close), closes the heap from the main thread, says how both ended, opens the heap again and
     * stays attached until killed.
     */
    public static final class ReopeningHolder {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            CountDownLatch closed = new CountDownLatch(1);
            ChildHolds holds = ChildHolds.start(heap, closed);
            heap.close();
            closed.countDown();
            Children.say("COMPUTE " + outcome(holds.compute()));
            Children.say("SET " + outcome(holds.set()));
            SharedHeap again = SharedHeap.open(args[0]);
            Children.say("REOPENED " + again);
            new CountDownLatch(1).await(3 * BOUND.toSeconds(), TimeUnit.SECONDS); // outlives the parent: killed
        }

        private static String outcome(CompletableFuture<?> operation) throws InterruptedException {
            try {
                operation.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                return "completed";
            } catch (ExecutionException e) {
                return e.getCause() instanceof IllegalStateException ? "refused" : "failed: " + e.getCause();
            } catch (TimeoutException e) {
                return "still running";
            }
        }
    }

    /**
     * {@code main(heap)}: computes the map's key and sets the list's element 0 to 7, each waiting (in its function or
     * its codec) for the parent's {@code go}, says HOLDING once both hold, and RELEASED once both completed.
     */
    public static final class LiveHolder {
        public static void main(String[] args) throws Exception {
            SharedHeap heap = SharedHeap.open(args[0]);
            CountDownLatch go = new CountDownLatch(1);
            ChildHolds holds = ChildHolds.start(heap, go);
            SharedLong parentsGo = SharedLong.open(heap, "go");
            Children.say("HOLDING");
            Children.awaitTrue("the parent's go", () -> parentsGo.get() == 1);
            go.countDown();
            holds.compute().get(BOUND.toSeconds(), TimeUnit.SECONDS);
            holds.set().get(BOUND.toSeconds(), TimeUnit.SECONDS);
            SharedList.open(heap, "list", Codec.longs()).set(0, 7L);
            Children.say("RELEASED");
            heap.close();
        }
    }
}
