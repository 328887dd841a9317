package org.shm4j.sync.tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.SharedBarrier;
import org.shm4j.sync.SharedPipe;
import org.shm4j.sync.SharedSemaphore;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code shm4j inspect} on a heap whose structures a child process holds after it closed its (only) view of the heap
 * and went on running: for the library that process is gone (what it held is taken over as a dead process's), so the
 * tool shows each of its holds as {@code alive=true attached=false}, and in text says what that means; it showed
 * {@code alive=true} alone, which read as a live holder, while the parent's {@code tryLock} took the lock at once.
 */
@Timeout(120)
class InspectDetachedHolderTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldShowAHolderThatClosedTheHeapAsAliveButDetached() throws Exception {
        String heapName = names.unique("tool-detached");
        long me = ProcessHandle.current().pid();
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedLock.create(heap, "L0");
            SharedFairLock.create(heap, "fair");
            SharedReadWriteLock.create(heap, "rw");
            SharedSemaphore.create(heap, "permits", 1, SharedSemaphore.Kind.UNDO);
            SharedRing.create(heap, "feed", SharedRing.Kind.SPSC, 1024);
            SharedPipe.create(heap, "pipe", 1024);
            SharedBarrier.create(heap, "barrier", 2);
            try (ChildJvm child = ChildJvm.start(DetachedHolder.class, heapName)) {
                long thread = Long.parseLong(child.awaitLine("DETACHED ", BOUND).substring("DETACHED ".length()));
                long pid = child.pid();
                Map<String, Object> report = json("inspect", heapName, "--json");
                assertThat(report.get("processes")).as("the child left the attach table")
                        .isEqualTo(List.of(fields("pid", me, "alive", true, "attachments", 1L)));
                Map<String, Object> owner = fields("pid", pid, "thread", thread, "alive", true, "attached", false,
                        "heldSince", null);
                assertThat(state(report, "L0")).isEqualTo(fields("held", true, "owner", owner, "waiters", false,
                        "sleepers", 0L, "consistent", true, "takeOvers", 0L));
                assertThat(state(report, "fair").get("owner")).isEqualTo(owner);
                Map<String, Object> holder = fields("pid", pid, "holds", 1L, "alive", true, "attached", false);
                assertThat(state(report, "rw").get("readers")).isEqualTo(List.of(holder));
                assertThat(state(report, "permits").get("holders")).isEqualTo(List.of(holder));
                assertThat(state(report, "feed")).containsEntry("consumerPid", pid).containsEntry("consumerAlive", true)
                        .containsEntry("consumerAttached", false).containsEntry("producerPid", pid)
                        .containsEntry("producerAlive", true).containsEntry("producerAttached", false);
                assertThat(state(report, "pipe").get("first")).isEqualTo(fields("closed", false, "ownerPid", pid,
                        "ownerAlive", true, "ownerAttached", false));
                assertThat(state(report, "barrier").get("registered"))
                        .isEqualTo(List.of(fields("pid", pid, "alive", true, "attached", false)));

                Shm4jToolTest.Result text = Shm4jToolTest.run("inspect", heapName);
                assertThat(text.code()).as(text.err()).isZero();
                String detached = " " + Pattern.quote("(alive, detached: closed the heap, its holds are free to take)");
                assertThat(text.out()).contains("\nprocesses: " + me + " alive\n")
                        .containsPattern("\n  L0 +SharedLock +held=true owner=\\{pid=" + pid + " thread=" + thread
                                + " alive=true attached=false" + detached + " heldSince=-} waiters=false sleepers=0"
                                + " consistent=true takeOvers=0\n")
                        .containsPattern("\n  rw +SharedReadWriteLock +.* readers=\\[\\{pid=" + pid
                                + " holds=1 alive=true attached=false" + detached + "}] ")
                        .containsPattern("\n  feed +SharedRing +.* consumerPid=" + pid + " consumerAlive=true"
                                + " consumerAttached=false" + detached + " producerPid=" + pid
                                + " producerAlive=true producerAttached=false" + detached + "\n")
                        .containsPattern("\n  barrier +SharedBarrier +.* registered=\\[\\{pid=" + pid
                                + " alive=true attached=false" + detached + "}]\n");

                // what the tool says the library will do, it does: the holds are free to take
                SharedLock lock = SharedLock.open(heap, "L0");
                assertThat(lock.tryLock()).isTrue();
                assertThat(lock.isConsistent()).isFalse();
                assertThat(SharedReadWriteLock.open(heap, "rw").writeLock().tryLock()).isTrue();
                assertThat(SharedSemaphore.open(heap, "permits").tryAcquire()).isTrue();
                Map<String, Object> taken = json("inspect", heapName, "--json");
                assertThat(state(taken, "L0")).containsEntry("takeOvers", 1L).containsEntry("consistent", false);
                assertThat(((Map<?, ?>) state(taken, "L0").get("owner")).get("attached")).isEqualTo(true);
                assertThat(run("inspect", heapName)).as("taken: no note").containsPattern("\n  L0 +SharedLock"
                        + " +held=true owner=\\{pid=" + me + " thread=\\d+ alive=true attached=true heldSince=-}");
            }
        }
    }

    /** @return the text output of a successful run */
    private static String run(String... args) {
        Shm4jToolTest.Result result = Shm4jToolTest.run(args);
        assertThat(result.code()).as(result.err()).isZero();
        return result.out();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> json(String... args) {
        return (Map<String, Object>) JsonReader.parse(run(args));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> state(Map<String, Object> report, String name) {
        return ((List<Map<String, Object>>) report.get("catalog")).stream().filter(b -> name.equals(b.get("name")))
                .findFirst().map(b -> (Map<String, Object>) b.get("state"))
                .orElseThrow(() -> new AssertionError("no readable block " + name + " in " + report));
    }

    /** @return the map of keys and values {@code keysAndValues} (null values allowed, as JSON has them) */
    private static Map<String, Object> fields(Object... keysAndValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }

    /**
     * {@code main(heap)}: takes the lock "L0", the fair lock "fair", a read lock of "rw", the UNDO permit "permits",
     * both roles of the SPSC ring "feed" and the first end of "pipe", registers with "barrier", closes the heap, prints
     * DETACHED and the holding thread's id, and lives on until killed.
     */
    public static final class DetachedHolder {
        public static void main(String[] args) throws InterruptedException {
            SharedHeap heap = SharedHeap.open(args[0]);
            SharedLock.open(heap, "L0").lock();
            SharedFairLock.open(heap, "fair").lock();
            SharedReadWriteLock.open(heap, "rw").readLock().lock();
            SharedSemaphore.open(heap, "permits").acquire();
            SharedRing feed = SharedRing.open(heap, "feed");
            feed.offer(1, new byte[8], 0, 8);
            feed.poll((type, buffer, offset, length) -> { });
            SharedPipe.open(heap, "pipe").first();
            SharedBarrier.open(heap, "barrier").register();
            heap.close();
            System.out.println("DETACHED " + Thread.currentThread().threadId());
            System.out.flush();
            Thread.sleep(BOUND.toMillis()); // killed long before this ends
        }
    }
}
