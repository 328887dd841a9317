package org.shm4j.sync.tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapProcess;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.Codec;
import org.shm4j.sync.SharedBarrier;
import org.shm4j.sync.SharedJoinableQueue;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.SharedSemaphore;
import org.shm4j.sync.atomic.SharedCounter;
import org.shm4j.sync.atomic.SharedCounters;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.WaitLayout;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.Await;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.HeapHeaders;
import org.shm4j.testing.ShmNames;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Shm4jToolTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @TempDir
    Path dir;

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Shm4j.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(String... args) {
        Result result = run(args);
        assertThat(result.code()).as(result.err()).isZero();
        return (Map<String, Object>) JsonReader.parse(result.out());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> block(Map<String, Object> report, String name) {
        return ((List<Map<String, Object>>) report.get("catalog")).stream().filter(b -> name.equals(b.get("name")))
                .findFirst().orElseThrow(() -> new AssertionError("no block " + name + " in " + report));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> state(Map<String, Object> report, String name) {
        Map<String, Object> block = block(report, name);
        assertThat(block).as("block %s is readable", name).doesNotContainKey("unreadable");
        return (Map<String, Object>) block.get("state");
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object value) {
        return (List<Object>) value;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        return (Map<String, Object>) value;
    }

    @Test
    void shouldShowALockHeldByALiveChildThenByADeadOneWithoutAttachingOrChangingTheHeap() throws Exception {
        String heapName = names.unique("tool-lock");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedLock.create(heap, "orders");
            SharedReentrantLock.create(heap, "nested");
            SharedQueue<String> jobs = SharedQueue.create(heap, "jobs", 4096, Codec.utf8());
            assertThat(jobs.offer("first")).isTrue();
            assertThat(jobs.offer("second")).isTrue();
            SharedCounters.create(heap, "stats", 4).allocate("requests served").addAndGet(5);
            try (ChildJvm holder = ChildJvm.start(LockHolder.class, heapName)) {
                holder.awaitLine("LOCKED", BOUND);
                List<HeapProcess> attached = heap.attachedProcesses();
                Map<String, Object> live = json("inspect", heapName, "--json");
                assertThat(heap.attachedProcesses()).as("inspect does not attach").isEqualTo(attached);

                assertThat(live.get("name")).isEqualTo(heapName);
                assertThat(live.get("stale")).isEqualTo(false);
                assertThat(map(live.get("creator"))).containsEntry("pid", ProcessHandle.current().pid())
                        .containsEntry("alive", true);
                assertThat(list(live.get("processes"))).hasSize(2)
                        .contains(Map.of("pid", holder.pid(), "alive", true, "attachments", 1L));
                assertThat(block(live, "orders")).containsEntry("kind", "SharedLock").containsEntry("tag", "0x53480021")
                        .containsEntry("layoutVersion", 3L);
                Map<String, Object> lock = state(live, "orders");
                assertThat(lock).containsEntry("held", true).containsEntry("consistent", true)
                        .containsEntry("takeOvers", 0L).containsEntry("waiters", false).containsEntry("sleepers", 0L);
                assertThat(map(lock.get("owner"))).containsEntry("pid", holder.pid()).containsEntry("alive", true)
                        .containsEntry("attached", true).containsKey("thread").containsEntry("heldSince", null);
                assertThat(block(live, "nested")).containsEntry("kind", "SharedReentrantLock")
                        .containsEntry("tag", "0x53480024");
                assertThat(state(live, "nested")).containsEntry("held", true).containsEntry("holds", 2L);
                assertThat(state(live, "jobs")).containsEntry("ringKind", "MPMC").containsEntry("capacity", 4096L)
                        .containsEntry("messagesQueued", 2L).containsEntry("headStalled", false)
                        .containsEntry("recordsSkipped", 0L).containsEntry("consumersWaiting", false)
                        .containsEntry("producersWaiting", false).containsEntry("orphanBound", 0L);
                assertThat(list(state(live, "jobs").get("producerPids"))).as("this process opened the queue")
                        .containsExactly(ProcessHandle.current().pid());
                assertThat(list(state(live, "stats").get("counters"))).containsExactly(
                        Map.of("id", 0L, "registrationId", 1L, "label", "requests served", "value", 5L));
                assertThat(jobs.poll()).as("inspect consumed nothing").isEqualTo("first");

                holder.kill();
                Map<String, Object> dead = json("inspect", heapName, "--json");
                assertThat(map(state(dead, "orders").get("owner"))).containsEntry("pid", holder.pid())
                        .containsEntry("alive", false).containsEntry("attached", true); // its slot: until reclaimed
                assertThat(list(dead.get("processes")))
                        .contains(Map.of("pid", holder.pid(), "alive", false, "attachments", 1L));
                Result text = run("inspect", heapName);
                assertThat(text.code()).isZero();
                assertThat(text.out()).contains("heap " + heapName + " (/dev/shm/" + heapName + ")")
                        .containsPattern("orders +SharedLock +held=true owner=\\{pid=" + holder.pid()
                                + " thread=\\d+ alive=false attached=true heldSince=-} waiters=false sleepers=0"
                                + " consistent=true takeOvers=0")
                        .containsPattern("jobs +SharedRing +ringKind=MPMC capacity=4096 bytesQueued=\\d+ "
                                + "messagesQueued=1 ");
            }
        }
    }

    @Test
    void shouldShowAWaitLongerThanTheDeadlockThresholdWithItsHolder() throws Exception {
        String heapName = names.unique("tool-waits");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "orders");
            lock.lock();
            Thread waiter = Thread.ofPlatform().name("order-waiter").start(() -> {
                try {
                    if (SharedLock.open(heap, "orders").tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                        lock.unlock();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            try {
                long deadline = System.nanoTime() + BOUND.toNanos();
                List<Object> waits;
                do { // the waiter publishes its wait once it has waited past the threshold (100 ms)
                    assertThat(System.nanoTime()).as("waiting for the wait to show").isLessThan(deadline);
                    waits = list(json("inspect", heapName, "--json").get("waits"));
                } while (waits.isEmpty());
                assertThat(map(waits.get(0))).containsEntry("waiterThreadName", "order-waiter")
                        .containsEntry("lock", "lock 'orders'")
                        .containsEntry("holderPid", ProcessHandle.current().pid());
                assertThat(list(json("inspect", heapName, "--json").get("deadlocks"))).isEmpty();
                assertThat(run("inspect", heapName).out())
                        .contains("waits longer than the deadlock threshold: 1", "waiterThreadName=order-waiter")
                        .containsPattern("shm4j\\.waits +shm4j wait table +published=1 capacity=64 refused=0\n");
                assertThat(block(json("inspect", heapName, "--json"), WaitLayout.BLOCK_NAME))
                        .as("the wait table the waiter made: shm4j's own block, not an unknown one")
                        .containsEntry("kind", "shm4j wait table").doesNotContainKey("unreadable")
                        .containsEntry("state", Map.of("published", 1L, "capacity", 64L, "refused", 0L));
            } finally {
                lock.unlock();
                waiter.join(BOUND.toMillis());
            }
            assertThat(waiter.isAlive()).isFalse();
            assertThat(state(json("inspect", heapName, "--json"), WaitLayout.BLOCK_NAME))
                    .as("the wait ended").containsEntry("published", 0L);
            try (ChildJvm tool = ChildJvm.start(Shm4j.class, "inspect", heapName)) { // no lock ever waited there
                tool.awaitSuccess(BOUND);
                assertThat(tool.output()).as("the tool in a JVM of its own")
                        .containsPattern("shm4j\\.waits +shm4j wait table +published=0 capacity=64 refused=0\n");
            }
        }
    }

    @Test
    void shouldShowMapEntriesWithSegmentFillAndListSizesWithoutTheirCodecs() {
        String heapName = names.unique("tool-collections");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            SharedMap<Long, String> map = SharedMap.create(heap, "prices", Codec.longs(), Codec.utf8(),
                    new MapSizing(64, 8, 8));
            for (long key = 0; key < 500; key++) { // past its sizing: segments split into blocks of their own
                map.put(key, "price " + key);
            }
            SharedList<String> list = SharedList.create(heap, "names", Codec.utf8(), 32);
            for (int i = 0; i < 100; i++) { // past the first chunk of 64
                list.add("name " + i);
            }
            Map<String, Object> report = json("inspect", heapName, "--json");
            Map<String, Object> prices = state(report, "prices");
            assertThat(prices).containsEntry("entries", 500L).containsEntry("repairs", 0L);
            assertThat(list(prices.get("segmentFill"))).hasSize(((Long) prices.get("segments")).intValue())
                    .allSatisfy(fill -> assertThat((Double) fill).isBetween(0.0, 1.0));
            assertThat(state(report, "names")).containsEntry("size", 100L);
            assertThat(list(report.get("catalog"))).map(block -> map(block))
                    .noneMatch(block -> block.containsKey("unreadable"));
            assertThat(map.size()).isEqualTo(500);
        }
    }

    /**
     * A joinable queue's count block shows the tasks taken and not yet done (the queued ones are its ring's
     * messagesQueued) and where the record counted last lies in the ring.
     */
    @Test
    void shouldShowTheTasksAJoinableQueueTookAndTheRecordItCountedLast() throws InterruptedException {
        String heapName = names.unique("tool-joinable");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            queue.put(1L);
            queue.put(2L);
            queue.put(3L);
            assertThat(state(json("inspect", heapName, "--json"), "jobs")).containsEntry("takenNotDone", 0L)
                    .containsEntry("lastCountedAt", null).containsEntry("waiters", false);
            queue.take();
            queue.take(); // the record at 16
            queue.taskDone();
            Map<String, Object> report = json("inspect", heapName, "--json");
            assertThat(state(report, "jobs")).containsEntry("takenNotDone", 1L).containsEntry("lastCountedAt", 16L);
            assertThat(state(report, "jobs.queue")).containsEntry("messagesQueued", 1L);
        }
    }

    @Test
    void shouldShowTheReadableBlocksOfAHeapWithADamagedCatalogEntry() {
        String heapName = names.unique("tool-damaged");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong.create(heap, "before", 3);
            SharedLock.create(heap, "damaged");
            SharedLong.create(heap, "after", 4);
            SharedCounters.create(heap, "stats", 1); // its reader looks its block up by name: the lookup fails
            long nameByte = HeapLayout.entryOffset(1) + HeapLayout.ENTRY_NAME_OFFSET;
            heap.memory().segment().set(JAVA_BYTE, nameByte, (byte) 'D'); // its checksum no longer matches

            Map<String, Object> report = json("inspect", heapName, "--json");
            String damage = "heap " + heap.memory() + " has a corrupted catalog entry 1: checksum mismatch";
            assertThat(report).containsEntry("blocks", 4L);
            assertThat(list(report.get("catalog"))).hasSize(4);
            assertThat(state(report, "before")).containsEntry("value", 3L);
            assertThat(map(list(report.get("catalog")).get(1))).containsExactly(Map.entry("index", 1L),
                    Map.entry("unreadable", damage));
            assertThat(state(report, "after")).containsEntry("value", 4L);
            assertThat(block(report, "stats")).containsEntry("kind", "SharedCounters")
                    .containsEntry("unreadable", damage);
            assertThat(report).containsEntry("waits", List.of());

            Result text = run("inspect", heapName);
            assertThat(text.code()).as(text.err()).isZero();
            assertThat(text.out()).contains("4 blocks").contains("  catalog entry 1").contains("after")
                    .contains("unreadable: " + damage);
            assertThat(run("ls", "--json").code()).isZero();
        }
    }

    /**
     * The used figure ends at the last published block (SharedHeap.freeBytes), which a damaged last entry leaves
     * unknown: freeBytes' refusal made ls call the whole heap unreadable, inspect fail, and gc keep it though stale.
     */
    @Test
    void shouldListInspectAndRemoveAStaleHeapWhoseLastCatalogEntryIsDamaged() throws Exception {
        Path file = dir.resolve("heap");
        try (ChildJvm creator = ChildJvm.start(FileHeapCreator.class, file.toString())) {
            creator.awaitLine("CREATED", BOUND);
            creator.kill(); // its creator is gone, and no process is attached once this one closes it
        }
        long used;
        try (SharedHeap heap = SharedHeap.open(file)) {
            SharedLong.create(heap, "before", 3);
            SharedLong.create(heap, "last", 4);
            used = heap.byteSize() - heap.freeBytes();
        }
        try (SharedMemory raw = SharedMemory.open(file)) {
            long nameByte = HeapLayout.entryOffset(1) + HeapLayout.ENTRY_NAME_OFFSET;
            raw.segment().set(JAVA_BYTE, nameByte, (byte) 'L'); // its checksum no longer matches
        }

        Map<String, Object> ls = map(list(json("ls", "--dir", dir.toString(), "--json").get("heaps")).getFirst());
        assertThat(ls).doesNotContainKey("unreadable").containsEntry("used", used).containsEntry("blocks", 2L)
                .containsEntry("stale", true);
        Map<String, Object> report = json("inspect", file.toString(), "--json");
        assertThat(report).containsEntry("used", used);
        assertThat(state(report, "before")).containsEntry("value", 3L);
        assertThat(map(list(report.get("catalog")).get(1))).containsEntry("index", 1L).containsKey("unreadable");
        Result force = run("gc", "--dir", dir.toString(), "--force");
        assertThat(force.out()).isEqualTo("removed " + file + "\n1 stale heap(s)\n");
        assertThat(Files.exists(file)).isFalse();
    }

    /** A ring's reader looked it up by name, through the whole catalog: one damaged entry hid every ring. */
    @Test
    void shouldShowARingPastADamagedCatalogEntry() {
        String heapName = names.unique("tool-damaged-ring");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong.create(heap, "damaged");
            SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, SharedRing.MIN_CAPACITY).offer(1, new byte[8], 0, 8);
            assertThatThrownBy(() -> SharedRing.open(heap.find("damaged").orElseThrow()))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageStartingWith("block 'damaged' is ");
            long nameByte = HeapLayout.entryOffset(0) + HeapLayout.ENTRY_NAME_OFFSET;
            heap.memory().segment().set(JAVA_BYTE, nameByte, (byte) 'D'); // its checksum no longer matches

            Map<String, Object> report = json("inspect", heapName, "--json");
            assertThat(map(list(report.get("catalog")).getFirst())).containsKey("unreadable");
            assertThat(state(report, "ring")).containsEntry("ringKind", "SPSC").containsEntry("messagesQueued", 1L);
        }
    }

    @Test
    void shouldReportBlocksOfAnotherLayoutOrKindAsUnreadable() {
        String heapName = names.unique("tool-layouts");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            heap.allocate("old ring", new BlockType(0x5348_0031, 2), 2048);
            heap.allocate("broken ring", SyncLayout.RING, 2048);
            heap.allocate("custom", new BlockType(0x100, 1), 64);
            SharedSemaphore.create(heap, "semaphore", 1);
            heap.find("semaphore").orElseThrow().segment().set(JAVA_LONG, SyncLayout.COORD_MAGIC_OFFSET, 0L);
            Map<String, Object> report = json("inspect", heapName, "--json");
            assertThat(block(report, "semaphore")).containsEntry("unreadable", "SharedSemaphore 'semaphore' is not a "
                    + "coordination block: magic=0x0 (expected: 0x" + Long.toHexString(SyncLayout.COORD_MAGIC)
                    + ", \"SHM4JCRD\")");
            assertThat(block(report, "old ring")).containsEntry("kind", "SharedRing")
                    .containsEntry("unreadable", "layout version 2 (this tool reads version "
                            + SyncLayout.RING.layoutVersion() + " of SharedRing)");
            assertThat(block(report, "broken ring")).containsEntry("unreadable",
                    "ring 'broken ring' is not a ring: magic=0x0 (expected: 0x474e524a344d4853, \"SHM4JRNG\")");
            assertThat(block(report, "custom")).containsEntry("kind", "unknown").containsEntry("unreadable",
                    "unknown block type 0x100 v1: not a structure this tool knows");
        }
    }

    @Test
    void shouldShowTheRegisteredPartiesOfABarrierAndReportItsOldLayoutAsUnreadable() {
        String heapName = names.unique("tool-barrier");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 3);
            heap.allocate("old barrier", new BlockType(0x5348_0064, 1), 176);
            try (SharedBarrier.Party party = barrier.register()) {
                Map<String, Object> report = json("inspect", heapName, "--json");
                Map<String, Object> state = state(report, "barrier");
                assertThat(state).containsEntry("parties", 3L).containsEntry("broken", false)
                        .containsEntry("actionRuns", false);
                assertThat(list(state.get("registered")))
                        .containsExactly(Map.of("pid", ProcessHandle.current().pid(), "alive", true, "attached", true));
                assertThat(list(state.get("arrivals"))).isEmpty();
                assertThat(block(report, "old barrier")).containsEntry("unreadable",
                        "layout version 1 (this tool reads version 4 of SharedBarrier)");
            }
            try (var pool = Executors.newSingleThreadExecutor()) {
                var waiter = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                long deadline = System.nanoTime() + BOUND.toNanos();
                List<Object> arrivals = List.of(); // until the waiter arrived and wrote its slot
                while (arrivals.isEmpty() && System.nanoTime() < deadline) {
                    arrivals = list(state(json("inspect", heapName, "--json"), "barrier").get("arrivals"));
                }
                assertThat(arrivals).containsExactly(Map.of("slot", 0L, "pid", ProcessHandle.current().pid(),
                        "alive", true, "attached", true));
                barrier.abort();
                assertThat(waiter).failsWithin(BOUND);
            }
        }
    }

    @Test
    void shouldListStaleHeapsAndRemoveOnlyThoseAndOnlyWithForce() throws Exception {
        Path live = dir.resolve("live");
        Path stale = dir.resolve("stale");
        Path used = dir.resolve("used");
        try (SharedHeap liveHeap = SharedHeap.create(live, 1 << 16)) {
            try (ChildJvm creator = ChildJvm.start(FileHeapCreator.class, stale.toString())) {
                creator.awaitLine("CREATED", BOUND);
                creator.kill();
            }
            SharedHeap usedHeap;
            try (ChildJvm creator = ChildJvm.start(FileHeapCreator.class, used.toString())) {
                creator.awaitLine("CREATED", BOUND);
                usedHeap = SharedHeap.open(used); // its creator dies, but this live process stays attached
                creator.kill();
            }
            try (usedHeap) {
                Map<String, Object> ls = json("ls", "--dir", dir.toString(), "--json");
                assertThat(list(ls.get("heaps"))).extracting(h -> map(h).get("name"), h -> map(h).get("stale"))
                        .containsExactly(org.assertj.core.groups.Tuple.tuple(live.toString(), false),
                                org.assertj.core.groups.Tuple.tuple(stale.toString(), true),
                                org.assertj.core.groups.Tuple.tuple(used.toString(), false));

                Map<String, Object> dry = json("gc", "--dir", dir.toString(), "--json");
                assertThat(dry).isEqualTo(Map.of("dryRun", true, "heaps", List.of(Map.of("name", stale.toString(),
                        "path", stale.toString(), "action", "would remove"))));
                assertThat(Files.exists(stale)).as("a dry run removes nothing").isTrue();

                Result force = run("gc", "--dir", dir.toString(), "--force");
                assertThat(force.code()).isZero();
                assertThat(force.out()).isEqualTo("removed " + stale + "\n1 stale heap(s)\n");
                assertThat(Files.exists(stale)).isFalse();
                assertThat(Files.exists(live)).as("a heap whose creator lives is kept").isTrue();
                assertThat(Files.exists(used)).as("a heap a live process has open is kept").isTrue();
                assertThat(liveHeap.blocks()).isEmpty();
            }
        }
    }

    /**
     * A create writes its region under a temporary name and links it: {@code ls} never lists such a file (it has the
     * heap magic but no heap's name), and {@code gc} removes those whose creator is dead (a create killed before its
     * link), keeping those of live creators. An outside sweep saw {@code ls} list creates in progress as unreadable
     * heaps, and {@code gc} leave a killed create's 256 MB file.
     */
    @Test
    void shouldHideCreatesTemporaryFilesFromLsAndRemoveKilledOnesWithGc() throws Exception {
        Path heapFile = dir.resolve("heap");
        long deadPid;
        try (ChildJvm creator = ChildJvm.start(FileHeapCreator.class, dir.resolve("other").toString())) {
            creator.awaitLine("CREATED", BOUND);
            deadPid = creator.pid();
            creator.kill();
        }
        long token = ProcessIdentity.currentToken();
        Path dead = dir.resolve(".shm4j-t-" + deadPid + "-" + (token & 0xFFFF_FFFFL) + "-1.tmp");
        Path live = dir.resolve(".shm4j-t-" + ProcessIdentity.pid(token) + "-" + (token & 0xFFFF_FFFFL) + "-9.tmp");
        try (SharedHeap heap = SharedHeap.create(heapFile, 1 << 16)) {
            Files.copy(heapFile, dead); // what a create killed after filling its region leaves
            Files.copy(heapFile, live); // a create in progress in this process
            Map<String, Object> ls = json("ls", "--dir", dir.toString(), "--json");
            assertThat(list(ls.get("heaps"))).extracting(h -> map(h).get("name"))
                    .containsExactly(heapFile.toString(), dir.resolve("other").toString()); // sorted by name

            Map<String, Object> dry = json("gc", "--dir", dir.toString(), "--json");
            assertThat(dry).containsEntry("temporaryFiles", List.of(Map.of("path", dead.toString(),
                    "action", "would remove")));
            assertThat(Files.exists(dead)).as("a dry run removes nothing").isTrue();

            Result force = run("gc", "--dir", dir.toString(), "--force");
            assertThat(force.code()).isZero();
            assertThat(force.out()).contains("removed " + dead + " (temporary file of a killed create)\n")
                    .endsWith("1 stale heap(s), 1 temporary file(s) of killed creates\n");
            assertThat(Files.exists(dead)).isFalse();
            assertThat(Files.exists(live)).as("its creator lives").isTrue();
        }
    }

    /**
     * A file this process may not read, as another user's heap is to a user that may not read it, is reported as
     * unreadable with the reason: ls left it out and inspect called it "no heap magic". Root reads any file, so the
     * file here is /proc/self/mem, whose read at offset 0 fails.
     */
    @Test
    void shouldReportAFileItCannotReadAsUnreadableNotAsNoHeap() throws IOException {
        Path unreadable = Files.createSymbolicLink(dir.resolve("unreadable"), Path.of("/proc/self/mem"));
        Result inspect = run("inspect", unreadable.toString());
        assertThat(inspect.code()).isEqualTo(Shm4j.ERROR);
        assertThat(inspect.err()).startsWith("shm4j inspect: ").doesNotContain("not a shm4j heap");
        Map<String, Object> ls = json("ls", "--dir", dir.toString(), "--json");
        assertThat(map(list(ls.get("heaps")).getFirst())).containsEntry("name", unreadable.toString())
                .containsEntry("fileUnreadable", true).containsKey("unreadable");
    }

    /**
     * A user's /dev/shm holds many files of other users and programs that it may not read: ls listed each on a line
     * of its own ('unreadable: no permission ...'), burying the heaps; now one line counts them, and --json lists
     * them. A heap this user reads but whose open fails still has its line.
     */
    @Test
    void shouldCountTheFilesItCannotReadOnOneLineOfLs() throws IOException {
        for (String name : List.of("pulse-shm-1", "sem.a", "sem.b")) {
            Files.createSymbolicLink(dir.resolve(name), Path.of("/proc/self/mem"));
        }
        Path heap = dir.resolve("heap");
        SharedHeap.create(heap, 1 << 16).close();
        Result ls = run("ls", "--dir", dir.toString());
        assertThat(ls.code()).as(ls.err()).isZero();
        assertThat(ls.out()).doesNotContain("unreadable: ");
        assertThat(ls.out().lines()).hasSize(3);
        assertThat(ls.out().lines().skip(1).findFirst().orElseThrow()).startsWith(heap + " ");
        assertThat(ls.out()).endsWith("and 3 file(s) this user may not read (other users' heaps or other programs'"
                + " files): --json lists them, inspect NAME says why\n");
        assertThat(list(json("ls", "--dir", dir.toString(), "--json").get("heaps"))).hasSize(4);
    }

    /**
     * {@code ls} while heaps come and go (each under a name of its own, never re-created): one removed after the
     * folder was listed is left out, not reported as an unreadable heap that "does not exist" (an outside sweep saw
     * that in 3 of 34 runs).
     */
    @Test
    void shouldLeaveOutOfLsAHeapRemovedWhileItRuns() throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        List<CompletableFuture<Integer>> churners = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
            String prefix = "churn-" + c + "-";
            churners.add(CompletableFuture.supplyAsync(() -> {
                int made = 0;
                while (!done.get()) {
                    Path file = dir.resolve(prefix + made++);
                    SharedHeap.create(file, 1 << 16).close(); // a file heap outlives its last view: deleted below
                    try {
                        Files.delete(file);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                return made;
            }, Executors.newVirtualThreadPerTaskExecutor()));
        }
        try {
            for (int i = 0; i < 500; i++) {
                Result ls = run("ls", "--dir", dir.toString());
                assertThat(ls.code()).as(ls.err()).isZero();
                assertThat(ls.out()).doesNotContain("unreadable");
            }
        } finally {
            done.set(true);
        }
        for (CompletableFuture<Integer> churner : churners) {
            assertThat(churner.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("heaps made meanwhile").isPositive();
        }
    }

    /**
     * A read-write lock's state: a writer left flags (unlocked through another lock object) shows as writer flags
     * with no writer holding, until this process's next read lock clears its own.
     */
    @Test
    void shouldShowTheWriterFlagsAReadWriteLockKeeps() throws Exception {
        String heapName = names.unique("tool-rw");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            rw.readLock().lock(); // announces this process as a reader
            rw.readLock().unlock();
            rw.writeLock().lock();
            Map<String, Object> held = rwState(heapName);
            assertThat(map(held.get("writer"))).containsEntry("held", true);
            assertThat(held).containsEntry("writerWaitsForReaders", false)
                    .containsEntry("writerFlags", List.of(ProcessHandle.current().pid()));
            SharedReadWriteLock.open(heap, "rw").writeLock().unlock(); // another object: the flags stay
            Map<String, Object> left = rwState(heapName);
            assertThat(map(left.get("writer"))).containsEntry("held", false);
            assertThat(left).containsEntry("writerFlags", List.of(ProcessHandle.current().pid()));
            rw.readLock().lock(); // clears this process's flag
            assertThat(rwState(heapName)).containsEntry("writerFlags", List.of())
                    .containsEntry("readers", List.of(Map.of("pid", ProcessHandle.current().pid(), "holds", 1L,
                            "alive", true, "attached", true)));
            rw.readLock().unlock();
        }
    }

    /**
     * A read-write lock's waiting writers, which hold new readers back, are shown per process (helper-239: they were
     * not shown at all): a child's writer waiting for the writer's mutex this process holds, alive, then killed.
     */
    @Test
    void shouldShowTheProcessesWhoseWritersWaitForAReadWriteLock() throws Exception {
        String heapName = names.unique("tool-rw-waiting");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            assertThat(rwState(heapName)).containsEntry("waitingWriters", List.of());
            rw.writeLock().lock();
            try (ChildJvm writer = ChildJvm.start(WaitingWriter.class, heapName)) {
                writer.awaitLine("WAITING", BOUND);
                List<Object> alive = List.of(Map.of("pid", writer.pid(), "writers", 1L, "alive", true,
                        "attached", true));
                Await.until("the child's writer counted as waiting", BOUND,
                        () -> rwState(heapName).get("waitingWriters").equals(alive));
                writer.kill();
                // attached stays true until an attach reclaims the dead process's slot in the heap, as for holders
                assertThat((List<?>) rwState(heapName).get("waitingWriters")).singleElement()
                        .satisfies(dead -> assertThat(map(dead)).containsEntry("pid", writer.pid())
                                .containsEntry("writers", 1L).containsEntry("alive", false));
            } finally {
                rw.writeLock().unlock();
            }
        }
    }

    /**
     * A damaged waiting-writer count (-1) with its process's waitingWriters bit, which a reader's drop of dead waiters
     * never clears (only at a count of 0) and the lock's open refuses as corrupt: inspect listed only counts above 0,
     * so it showed no waiting writer at all, in JSON or in text.
     */
    @Test
    void shouldShowADamagedWaitingWriterCountAsItIs() {
        String heapName = names.unique("tool-rw-damaged-waiting");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            rw.readLock().lock(); // claims this process's slot, which it keeps
            rw.readLock().unlock();
            MemorySegment block = heap.find("rw").orElseThrow().segment();
            long mine = ProcessIdentity.currentToken();
            int index = 0;
            while (block.get(JAVA_LONG, SyncLayout.RW_SLOTS_OFFSET + index * ProcessSlots.SLOT_SIZE) != mine) {
                index++;
            }
            long count = SyncLayout.RW_SLOTS_OFFSET + index * ProcessSlots.SLOT_SIZE + ProcessSlots.SECOND;
            block.set(JAVA_INT, count, -1);
            block.set(JAVA_INT, SyncLayout.RW_WAITING_WRITERS_OFFSET, 1 << index);
            try {
                assertThatThrownBy(() -> SharedReadWriteLock.open(heap, "rw")).hasMessageContaining("second counter");
                long pid = ProcessHandle.current().pid();
                assertThat(rwState(heapName)).containsEntry("waitingWriters", List.of(Map.of("pid", pid,
                        "writers", -1L, "alive", true, "attached", true)));
                assertThat(run("inspect", heapName).out())
                        .contains("waitingWriters=[{pid=" + pid + " writers=-1 alive=true attached=true}]");
            } finally {
                block.set(JAVA_INT, count, 0);
                block.set(JAVA_INT, SyncLayout.RW_WAITING_WRITERS_OFFSET, 0);
            }
        }
    }

    /**
     * A reader's slot whose token no process writes (a pid with start stamp bits all 0), which the lock's open refuses
     * as corrupt: inspect listed the slot's holds under whatever pid the bits made, as a reader (helper-244's note).
     * Now the block is unreadable, with the open's words, in JSON and in text; an undo semaphore's slots likewise.
     */
    @Test
    void shouldReportADamagedSlotTokenAsTheOpenDoes() throws InterruptedException {
        String heapName = names.unique("tool-slot-token");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock.create(heap, "rw").readLock().lock(); // this process's slot 0, one hold
            SharedSemaphore.create(heap, "undo", 2, SharedSemaphore.Kind.UNDO).acquire();
            long malformed = 4_000_000L << 32; // a pid, start stamp bits 0
            for (String name : List.of("rw", "undo")) {
                MemorySegment block = heap.find(name).orElseThrow().segment();
                long slots = name.equals("rw") ? SyncLayout.RW_SLOTS_OFFSET : SyncLayout.SEM_SLOTS_OFFSET;
                long token = block.get(JAVA_LONG, slots);
                block.set(JAVA_LONG, slots, malformed);
                try {
                    Map<String, Object> report = json("inspect", heapName, "--json");
                    assertThat(block(report, name)).doesNotContainKey("state").extractingByKey("unreadable")
                            .asString().contains("'" + name + "'").contains("process slot 0 token=0x"
                                    + Long.toHexString(malformed));
                    assertThat(run("inspect", heapName).out()).contains("unreadable: ")
                            .contains("process slot 0 token");
                } finally {
                    block.set(JAVA_LONG, slots, token);
                }
            }
            assertThat(block(json("inspect", heapName, "--json"), "rw")).doesNotContainKey("unreadable");
        }
    }

    /**
     * A ring whose consumer died between its commit point and freeing what it took (head left behind the consumers'
     * position): bytesQueued counted from head, so it showed the taken message's bytes as queued beside
     * messagesQueued=2 (helper-238's note of last session). Built exactly: one of three messages taken, head put back.
     */
    @Test
    void shouldCountQueuedBytesFromTheConsumersPositionNotFromHead() {
        String heapName = names.unique("tool-ring-unfreed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, SharedRing.MIN_CAPACITY);
            for (int i = 0; i < 3; i++) {
                assertThat(ring.offer(1, new byte[8], 0, 8)).isTrue();
            }
            assertThat(ring.poll((type, buffer, offset, length) -> { })).isOne();
            MemorySegment header = heap.find("ring").orElseThrow().segment();
            long record = header.get(JAVA_LONG, SyncLayout.RING_TAIL_OFFSET) / 3;
            header.set(JAVA_LONG, SyncLayout.RING_HEAD_OFFSET, 0); // as a consumer killed before it moved head

            assertThat(state(json("inspect", heapName, "--json"), "ring")).containsEntry("messagesQueued", 2L)
                    .containsEntry("bytesQueued", 2 * record).containsEntry("head", 0L)
                    .containsEntry("tail", 3 * record);
            assertThat(ring.size()).isEqualTo(3 * record); // the room producers cannot use yet
        }
    }

    /**
     * A reader's slot naming this process's pid with another start stamp, as a dead reader's slot reads once its pid
     * went to another process: the tool read the pid alone and showed the dead reader alive.
     */
    @Test
    void shouldShowAReaderWhosePidWasReusedAsDead() {
        String heapName = names.unique("tool-rw-reused");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
            rw.readLock().lock();
            MemorySegment block = heap.find("rw").orElseThrow().segment();
            long mine = ProcessIdentity.currentToken();
            long slot = SyncLayout.RW_SLOTS_OFFSET;
            while (block.get(JAVA_LONG, slot + ProcessSlots.TOKEN) != mine) {
                slot += ProcessSlots.SLOT_SIZE;
            }
            block.set(JAVA_LONG, slot + ProcessSlots.TOKEN, mine ^ 1); // the same pid, another start stamp
            try {
                assertThat(rwState(heapName)).containsEntry("readers", List.of(Map.of("pid",
                        ProcessHandle.current().pid(), "holds", 1L, "alive", false, "attached", false)));
            } finally {
                block.set(JAVA_LONG, slot + ProcessSlots.TOKEN, mine);
                rw.readLock().unlock();
            }
        }
    }

    @Test
    void shouldShowTheProcessesHoldingARingsSingleRoles() {
        String heapName = names.unique("tool-roles");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing spsc = SharedRing.create(heap, "feed", SharedRing.Kind.SPSC, 1024);
            SharedRing.create(heap, "events", SharedRing.Kind.MPSC, 1024);
            Map<String, Object> none = json("inspect", heapName, "--json");
            assertThat(state(none, "feed")).containsEntry("consumerPid", null).containsEntry("consumerAlive", null)
                    .containsEntry("consumerAttached", null).containsEntry("producerPid", null)
                    .containsEntry("producerAlive", null).containsEntry("producerAttached", null);
            assertThat(state(none, "events")).containsEntry("consumerPid", null).doesNotContainKey("producerPid");
            assertThat(spsc.offer(1, new byte[8], 0, 8)).isTrue();
            assertThat(spsc.poll((type, buffer, offset, length) -> { })).isEqualTo(1);
            long pid = ProcessHandle.current().pid();
            assertThat(state(json("inspect", heapName, "--json"), "feed")).containsEntry("consumerPid", pid)
                    .containsEntry("consumerAlive", true).containsEntry("consumerAttached", true)
                    .containsEntry("producerPid", pid).containsEntry("producerAlive", true)
                    .containsEntry("producerAttached", true);
            assertThat(run("inspect", heapName).out()).containsPattern("feed +SharedRing +ringKind=SPSC .*"
                    + "consumerPid=" + pid + " consumerAlive=true consumerAttached=true producerPid=" + pid
                    + " producerAlive=true producerAttached=true\n");
            spsc.release();
            assertThat(state(json("inspect", heapName, "--json"), "feed")).containsEntry("consumerPid", null)
                    .containsEntry("producerPid", null);
        }
    }

    /**
     * The ring's stall clock: none at first; once a consumer noted a claim never marked at 0 stuck (its producer
     * died between its tail CAS and its mark), that position, the tail then and how long ago.
     */
    @Test
    void shouldShowTheRecordARingsConsumerNotedStuck() {
        String heapName = names.unique("tool-stall");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "events", SharedRing.Kind.MPSC, 1024);
            assertThat(state(json("inspect", heapName, "--json"), "events")).containsEntry("stallNotedAt", null)
                    .containsEntry("stallNotedTail", null).containsEntry("stallNotedMillisAgo", null);
            heap.find("events").orElseThrow().segment().set(JAVA_LONG, SyncLayout.RING_TAIL_OFFSET, 64L); // unmarked
            assertThat(ring.offer(1, new byte[8], 0, 8)).isTrue(); // [64, 80)
            long before = System.currentTimeMillis();
            assertThat(ring.poll((type, buffer, offset, length) -> { })).isZero(); // the first stall check notes it
            Map<String, Object> stalled = state(json("inspect", heapName, "--json"), "events");
            assertThat(stalled).containsEntry("stallNotedAt", 0L).containsEntry("stallNotedTail", 80L)
                    .containsEntry("headStalled", true);
            assertThat((Long) stalled.get("stallNotedMillisAgo")).isBetween(0L, System.currentTimeMillis() - before);
        }
    }

    /** @return the state {@code inspect --json} reports for the block "rw" of heap {@code heapName} */
    private static Map<String, Object> rwState(String heapName) {
        return state(json("inspect", heapName, "--json"), "rw");
    }

    @Test
    void shouldNeitherCallStaleNorRemoveAHeapOfAnotherPidNamespace() throws Exception {
        Path foreign = dir.resolve("foreign");
        try (ChildJvm creator = ChildJvm.start(FileHeapCreator.class, foreign.toString())) {
            creator.awaitLine("CREATED", BOUND);
            creator.kill(); // its creator is gone: in this namespace the heap would be stale
        }
        try (SharedMemory raw = SharedMemory.open(foreign)) {
            HeapHeaders.setCreatorPidNamespace(raw.segment(), ProcessIdentity.currentPidNamespace() + 1);
        }
        Map<String, Object> ls = json("ls", "--dir", dir.toString(), "--json");
        assertThat(map(list(ls.get("heaps")).getFirst())).containsEntry("otherPidNamespace", true)
                .containsEntry("stale", false);
        assertThat(run("ls", "--dir", dir.toString()).out()).contains("n/a (another pid namespace)");
        Result force = run("gc", "--dir", dir.toString(), "--force");
        assertThat(force.code()).isZero();
        assertThat(Files.exists(foreign)).as("its processes may live in their namespace").isTrue();
    }

    /**
     * helper-151: text output printed labels as they were, so a label with a line break forged a block line and one
     * with an escape sequence reached the terminal; quotes nested ({@code lock='lock 'x''}).
     */
    @Test
    void shouldEscapeWhatALabelCouldForgeInTextOutput() throws Exception {
        String heapName = names.unique("tool-labels");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", 4);
            counters.allocate("line1\n  fake-block  SharedLong  value=666");
            counters.allocate("\u001b[31mred");
            counters.allocate("it's \\ here");
            counters.allocate("");
            String out = run("inspect", heapName).out();
            assertThat(out.lines().filter(l -> l.contains("fake-block"))).singleElement().asString()
                    .contains("label='line1\\n  fake-block  SharedLong  value=666'");
            assertThat(out).doesNotContain("\u001b").contains("label='\\u001b[31mred'")
                    .contains("label='it\\'s \\\\ here'").contains("label=''");
        }
        assertThat(Text.printable("plain")).isEqualTo("plain");
        assertThat(Text.printable("lock 'x'")).isEqualTo("'lock \\'x\\''");
        assertThat(Text.printable("\u202Eevil")).as("a bidirectional override").isEqualTo("'\\u202eevil'");
        assertThat(Text.escaped("damaged 'x'\n")).as("reasons: escaped, not quoted").isEqualTo("damaged 'x'\\n");
    }

    /**
     * {@code gc} printed the names of the stale file heaps it found as they were, and a failed command its message
     * (which names the file): a file name with a line break forged a line, one with an escape sequence reached the
     * terminal, while {@code ls} and {@code inspect} escaped the same name.
     */
    @Test
    void shouldEscapeFileNamesInGcAndErrorOutput() throws Exception {
        Path made = dir.resolve("heap");
        try (ChildJvm creator = ChildJvm.start(FileHeapCreator.class, made.toString())) {
            creator.awaitLine("CREATED", BOUND);
            creator.kill(); // stale once its creator is gone
        }
        Path evil = Files.move(made, dir.resolve("\u001b[31mred\nremoved other"));
        String shown = "'" + dir + "/\\u001b[31mred\\nremoved other'";
        assertThat(run("gc", "--dir", dir.toString()).out())
                .isEqualTo("would remove " + shown + "\n1 stale heap(s); dry run, remove with --force\n");
        Path notAHeap = Files.writeString(dir.resolve("\u001b[2Jnotes"), "hello, not a heap");
        assertThat(run("inspect", notAHeap.toString()).err()).isEqualTo("shm4j inspect: " + dir
                + "/\\u001b[2Jnotes is not a shm4j heap (no heap magic \"SHM4JHEP\" at its start)\n");
        assertThat(run("gc", "--dir", dir.toString(), "--force").out()).isEqualTo("removed " + shown
                + "\n1 stale heap(s)\n");
        assertThat(Files.exists(evil)).isFalse();
    }

    @Test
    void shouldWatchCountersWithRates() throws Exception {
        String heapName = names.unique("tool-watch");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedCounter ticks = SharedCounters.create(heap, "stats", 2).allocate("ticks");
            AtomicBoolean done = new AtomicBoolean();
            Thread ticker = Thread.ofPlatform().start(() -> {
                while (!done.get()) {
                    ticks.incrementAndGet();
                    Thread.onSpinWait();
                }
            });
            Result watch;
            try {
                watch = run("watch", heapName, "--count", "2", "--interval", "200", "--json");
            } finally {
                done.set(true);
                ticker.join(BOUND.toMillis());
            }
            assertThat(watch.code()).as(watch.err()).isZero();
            List<String> lines = watch.out().lines().toList();
            assertThat(lines).hasSize(2);
            Map<String, Object> first = map(JsonReader.parse(lines.get(0)));
            Map<String, Object> second = map(JsonReader.parse(lines.get(1)));
            assertThat(first).containsKey("time");
            assertThat(map((list(state(first, "stats").get("counters")).getFirst())))
                    .containsEntry("label", "ticks").containsEntry("perSecond", null);
            assertThat((Double) map((list(state(second, "stats").get("counters")).getFirst())).get("perSecond"))
                    .as("the ticker counted between the refreshes").isPositive();
        }
    }

    /**
     * A heap file truncated while a watch runs: a refresh that had it mapped faults (SIGBUS, reported), and one that
     * opens it afterwards finds no heap there; either way the watch ends with a message, not a stack trace.
     */
    @Test
    void shouldEndAWatchWithAMessageWhenTheHeapFileIsTruncatedUnderIt() throws Exception {
        Path file = dir.resolve("shrinking.heap");
        CompletableFuture<Result> watch = watchUntilMapped(file);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(0); // past the new end, a mapped access faults (SIGBUS)
        }
        Result result = watch.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        assertThat(result.code()).isEqualTo(Shm4j.ERROR);
        assertThat(result.err()).startsWith("shm4j watch: ").doesNotContain("\tat ")
                .containsAnyOf("shrank under its mapping", file + " is not a shm4j heap");
    }

    /** helper-151: a watch mapped its heap once, and went on showing it after its name was removed (exit 0). */
    @Test
    void shouldEndAWatchWhoseHeapIsRemoved() throws Exception {
        Path file = dir.resolve("removed.heap");
        CompletableFuture<Result> watch = watchUntilMapped(file);
        Files.delete(file);
        Result result = watch.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        assertThat(result.code()).as(result.err()).isEqualTo(Shm4j.NOT_FOUND);
        assertThat(result.err()).isEqualTo("shm4j watch: no heap " + file + " (removed since the last refresh)\n");
    }

    /** Makes a file heap of one counter and starts a watch of it, refreshed every 50 ms; returns once it mapped it. */
    private static CompletableFuture<Result> watchUntilMapped(Path file) throws IOException {
        try (SharedHeap heap = SharedHeap.create(file, 1 << 16)) {
            SharedCounters.create(heap, "stats", 2).allocate("ticks").incrementAndGet();
        }
        CompletableFuture<Result> watch = CompletableFuture.supplyAsync(
                () -> run("watch", file.toString(), "--count", "200", "--interval", "50"));
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (Files.readAllLines(Path.of("/proc/self/maps")).stream().noneMatch(l -> l.endsWith(file.toString()))) {
            assertThat(System.nanoTime() - deadline).as("the watch maps the heap").isNegative();
            Thread.onSpinWait();
        }
        return watch;
    }

    @Test
    void shouldExitWithCodesScriptsCanUse() throws IOException {
        assertThat(run("help").code()).isEqualTo(Shm4j.OK);
        assertThat(run("inspect", names.unique("absent")).code()).isEqualTo(Shm4j.NOT_FOUND);
        Result unknown = run("frobnicate");
        assertThat(unknown.code()).isEqualTo(Shm4j.USAGE);
        assertThat(unknown.err()).startsWith("shm4j: unknown command frobnicate\nusage: shm4j COMMAND [OPTIONS]");
        assertThat(run("inspect").code()).isEqualTo(Shm4j.USAGE);
        assertThat(run("watch", "x", "--count", "0").code()).isEqualTo(Shm4j.USAGE);
        Result misplaced = run("inspect", "x", "--dir", dir.toString()); // it looked in /dev/shm: no heap x, exit 3
        assertThat(misplaced.code()).isEqualTo(Shm4j.USAGE);
        assertThat(misplaced.err()).startsWith("shm4j: inspect takes no option --dir\n");
        assertThat(run("ls", "--force").code()).isEqualTo(Shm4j.USAGE);
        Result none = run(); // helper-151: it printed the usage and exited 0
        assertThat(none.code()).isEqualTo(Shm4j.USAGE);
        assertThat(none.err()).startsWith("shm4j: no command\nusage: shm4j COMMAND [OPTIONS]");
        Result folder = run("inspect", dir.toString()); // helper-151: "no heap", exit 3, though something is there
        assertThat(folder.code()).isEqualTo(Shm4j.ERROR);
        assertThat(folder.err()).isEqualTo("shm4j inspect: " + dir + " is not a shm4j heap (not a regular file)\n");
        Path notAHeap = Files.writeString(dir.resolve("notes.txt"), "hello, not a heap");
        Result wrong = run("inspect", notAHeap.toString());
        assertThat(wrong.code()).isEqualTo(Shm4j.ERROR);
        assertThat(wrong.err()).isEqualTo("shm4j inspect: " + notAHeap
                + " is not a shm4j heap (no heap magic \"SHM4JHEP\" at its start)\n");
        assertThat(wrong.out()).as("no --json: nothing on the output").isEmpty();
        for (String command : List.of("inspect", "watch")) { // it looked in /dev/shm itself: a directory, exit 1
            Result empty = run(command, "");
            assertThat(empty.code()).as(command + " \"\"").isEqualTo(Shm4j.USAGE);
            assertThat(empty.err()).startsWith("shm4j: " + command + ": HEAP is empty (expected: a name in /dev/shm "
                    + "or the path of a heap file)\nusage: shm4j COMMAND [OPTIONS]");
        }
        for (String[] args : List.of(new String[] {"help", ""}, new String[] {"", "-h"})) { // help takes no HEAP
            Result help = run(args);
            assertThat(help.code()).as(String.join(" ", args)).isEqualTo(Shm4j.OK);
            assertThat(help.out()).isEqualTo(run("help").out());
        }
    }

    /** {@code help --json} printed the usage text, the one command whose --json gave no JSON document. */
    @Test
    void shouldPrintTheUsageAsJsonForHelpWithJson() {
        for (String[] args : List.of(new String[] {"help", "--json"}, new String[] {"--json", "-h"})) {
            Result help = run(args);
            assertThat(help.code()).isEqualTo(Shm4j.OK);
            Map<String, Object> document = map(JsonReader.parse(help.out()));
            assertThat(document).containsEntry("command", "help")
                    .containsEntry("exitCodes", Map.of("ok", 0L, "error", 1L, "usage", 2L, "notFound", 3L));
            assertThat((String) document.get("usage")).isEqualTo(run("help").out().stripTrailing());
        }
    }

    @Test
    void shouldPrintJsonForAFailureWithJson() throws IOException {
        String absent = names.unique("absent");
        Result missing = run("inspect", absent, "--json");
        assertThat(missing.code()).isEqualTo(Shm4j.NOT_FOUND);
        assertThat(missing.err()).isEqualTo("shm4j inspect: no heap " + absent + "\n");
        assertThat(JsonReader.parse(missing.out())).isEqualTo(Map.of("command", "inspect",
                "error", "no heap " + absent, "exitCode", 3L));
        Path notAHeap = Files.writeString(dir.resolve("notes.txt"), "hello, not a heap");
        Map<String, Object> wrong = map(JsonReader.parse(run("watch", notAHeap.toString(), "--json").out()));
        assertThat(wrong).containsEntry("command", "watch").containsEntry("exitCode", 1L);
        assertThat((String) wrong.get("error")).isEqualTo(notAHeap
                + " is not a shm4j heap (no heap magic \"SHM4JHEP\" at its start)");
        Result usage = run("--json", "frobnicate");
        assertThat(usage.code()).isEqualTo(Shm4j.USAGE);
        Map<String, Object> bad = map(JsonReader.parse(usage.out()));
        assertThat(bad).containsEntry("error", "unknown command frobnicate").containsEntry("exitCode", 2L)
                .containsKey("command");
        assertThat(bad.get("command")).isNull();
    }

    /**
     * helper-267: a usage error's JSON document said {@code "command": null} even when the command was understood
     * ({@code inspect --json} without a HEAP, an option after a known command); only a line with no command, or an
     * unknown one, has none. The error stream's line is as before.
     */
    @Test
    void shouldNameAKnownCommandInTheJsonOfAUsageError() {
        Map<List<String>, String> errors = new LinkedHashMap<>();
        errors.put(List.of("inspect", "--json"), "inspect takes one operand, HEAP, got []");
        errors.put(List.of("inspect", "x", "--bogus", "--json"), "unknown option --bogus");
        errors.put(List.of("--json", "--bogus", "inspect", "x"), "unknown option --bogus");
        errors.put(List.of("inspect", "x", "--dir", "d", "--json"), "inspect takes no option --dir");
        errors.put(List.of("watch", "x", "--count", "0", "--json"), "--count 0 (expected: an integer >= 1)");
        errors.put(List.of("watch", "", "--json"), "watch: HEAP is empty (expected: a name in /dev/shm or the path "
                + "of a heap file)");
        errors.put(List.of("gc", "--json", "--dir"), "--dir needs a value");
        errors.put(List.of("ls", "extra", "--json"), "ls takes no operand, got [extra]");
        errors.put(List.of("help", "--force", "--json"), "help takes no option --force");
        for (Map.Entry<List<String>, String> error : errors.entrySet()) {
            Result usage = run(error.getKey().toArray(String[]::new));
            assertThat(usage.code()).as("%s", error.getKey()).isEqualTo(Shm4j.USAGE);
            assertThat(usage.err()).as("%s", error.getKey()).startsWith("shm4j: " + error.getValue() + "\nusage: ");
            assertThat(JsonReader.parse(usage.out())).as("%s", error.getKey()).isEqualTo(Map.of(
                    "command", error.getKey().stream().filter(a -> !a.startsWith("--")).findFirst().orElseThrow(),
                    "error", error.getValue(), "exitCode", 2L));
        }
        for (String[] none : List.of(new String[] {"--json"}, new String[] {"--json", "frobnicate", "--bogus"})) {
            Map<String, Object> bad = map(JsonReader.parse(run(none).out()));
            assertThat(bad).as(String.join(" ", none)).containsKey("command");
            assertThat(bad.get("command")).as(String.join(" ", none)).isNull();
        }
    }

    /**
     * helper-267: {@code help --dir x} was accepted silently (help took any option), though every other command
     * refuses an option it does not take; the {@code -h}/{@code --help} flag still prints the usage whatever the
     * rest of the line says.
     */
    @Test
    void shouldRefuseAnOptionTheHelpCommandDoesNotTake() {
        for (String[] args : List.of(new String[] {"help", "--dir", "x"}, new String[] {"help", "--force"},
                new String[] {"help", "--count", "2"}, new String[] {"help", "--interval", "5"})) {
            Result usage = run(args);
            assertThat(usage.code()).as(String.join(" ", args)).isEqualTo(Shm4j.USAGE);
            assertThat(usage.err()).as(String.join(" ", args))
                    .startsWith("shm4j: help takes no option " + args[1] + "\nusage: shm4j COMMAND [OPTIONS]");
            assertThat(usage.out()).as(String.join(" ", args)).isEmpty();
        }
        for (String[] args : List.of(new String[] {"gc", "--force", "--help"}, new String[] {"-h", "--dir", "x"},
                new String[] {"inspect", "x", "--help"})) {
            Result help = run(args);
            assertThat(help.code()).as(String.join(" ", args)).isEqualTo(Shm4j.OK);
            assertThat(help.out()).as(String.join(" ", args)).isEqualTo(run("help").out());
        }
    }

    @Test
    void shouldRunThroughTheLauncherScript() throws Exception {
        String heapName = names.unique("tool-launcher");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedCounters.create(heap, "stats", 2).allocate("launched").set(7);
            Path launcher = Path.of("..", "shm4j").toAbsolutePath().normalize();
            ProcessBuilder builder = new ProcessBuilder(launcher.toString(), "inspect", heapName, "--json")
                    .redirectError(ProcessBuilder.Redirect.INHERIT);
            builder.environment().put("SHM4J_CLASSPATH", System.getProperty("java.class.path"));
            Process process = builder.start();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(process.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).isZero();
            Map<String, Object> report = map(JsonReader.parse(out));
            assertThat(list(state(report, "stats").get("counters"))).containsExactly(
                    Map.of("id", 0L, "registrationId", 1L, "label", "launched", "value", 7L));

            Process missing = new ProcessBuilder(launcher.toString(), "inspect", heapName + "-absent")
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            missing.getInputStream().readAllBytes();
            assertThat(missing.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(missing.exitValue()).isEqualTo(Shm4j.NOT_FOUND);
        }
    }

    /** {@code main(heap)}: locks the lock "orders" (and "nested" twice, if there is one) and holds it until killed. */
    public static final class LockHolder {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock.open(heap, "orders").lock();
                if (heap.find("nested").isPresent()) {
                    SharedReentrantLock nested = SharedReentrantLock.open(heap, "nested");
                    nested.lock();
                    nested.lock();
                }
                System.out.println("LOCKED");
                System.out.flush();
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            }
        }
    }

    /** {@code main(heap)}: prints WAITING, then waits for the write lock of the heap's read-write lock "rw". */
    public static final class WaitingWriter {
        public static void main(String[] args) {
            SharedReadWriteLock rw = SharedReadWriteLock.open(SharedHeap.open(args[0]), "rw");
            System.out.println("WAITING");
            System.out.flush();
            rw.writeLock().lock(); // killed while it waits
        }
    }

    /** {@code main(path)}: creates a file-backed heap and keeps it until killed. */
    public static final class FileHeapCreator {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.create(Path.of(args[0]), 1 << 16)) {
                System.out.println("CREATED");
                System.out.flush();
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            }
        }
    }
}
