package org.shm4j.core;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.testing.HeapHeaders;
import org.shm4j.testing.Unshare;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * A file heap kept across container restarts: each restart is a new pid namespace, and the heap's creator namespace
 * is gone. A heap that no process has open (no shared flock on its file, every attach slot flocked) is adopted by the
 * next opener of another namespace; while a process of another namespace has it open, it is still refused, and stale
 * removal refuses it whatever the namespace numbers say.
 */
@EnabledOnOs(OS.LINUX)
class HeapPidNamespaceAdoptionTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final List<String> NEW_PID_NAMESPACE = List.of("--pid", "--fork", "--mount-proc");
    private static final BlockType DATA = new BlockType(0x4E53, 1);
    /** Adopters started one after another, each killed at a random point of its open but the first. */
    private static final int ADOPTERS = 4;

    @TempDir
    Path dir;

    @BeforeEach
    void needsUnshare() throws InterruptedException {
        assumeThat(Unshare.works(NEW_PID_NAMESPACE.toArray(String[]::new))).as("unshare --pid (root) is available")
                .isTrue();
    }

    @Test
    void shouldAdoptAHeapWhoseNamespaceLeftIt() throws IOException, InterruptedException {
        Path file = dir.resolve("left.heap");
        createInANamespaceThatLeaves(file);
        long childNamespace = creatorPidNamespace(file);
        assertThat(childNamespace).isNotEqualTo(ProcessIdentity.currentPidNamespace());

        try (SharedHeap heap = SharedHeap.open(file)) {
            assertThat(heap.lookup("data", DATA).segment().get(JAVA_LONG, 0)).isEqualTo(42L);
            assertThat(heap.attachedProcesses()).singleElement().extracting(HeapProcess::pid)
                    .isEqualTo(ProcessHandle.current().pid());
        }
        assertThat(creatorPidNamespace(file)).isEqualTo(ProcessIdentity.currentPidNamespace());
        try (SharedHeap again = SharedHeap.openOrCreate(file, 1 << 16)) {
            assertThat(again.lookup("data", DATA).segment().get(JAVA_LONG, 0)).isEqualTo(42L);
        }
    }

    @Test
    void shouldLetRacingOpenersOfOneNamespaceAllAdoptIt() throws Exception {
        Path file = dir.resolve("racing.heap");
        createInANamespaceThatLeaves(file);
        int openers = 8;
        CyclicBarrier start = new CyclicBarrier(openers);
        ExecutorService pool = Executors.newFixedThreadPool(openers);
        try {
            // threads race as processes would: each open takes its flocks on a descriptor of its own
            List<Future<SharedHeap>> opened = new ArrayList<>();
            for (int i = 0; i < openers; i++) {
                opened.add(pool.submit(() -> {
                    start.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                    return SharedHeap.open(file);
                }));
            }
            List<SharedHeap> heaps = new ArrayList<>();
            try {
                for (Future<SharedHeap> heap : opened) {
                    heaps.add(heap.get(WAIT.toSeconds(), TimeUnit.SECONDS));
                }
                assertThat(heaps.getFirst().attachedProcesses()).singleElement()
                        .extracting(HeapProcess::attachments).isEqualTo((long) openers);
            } finally {
                heaps.forEach(SharedHeap::close);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void shouldRefuseWhileAProcessOfAnotherNamespaceHoldsItOpenThenAdoptItOnceKilled() throws Exception {
        Path file = dir.resolve("held.heap");
        holdThenKill(file, () -> {
            assertThatThrownBy(() -> SharedHeap.open(file)).isInstanceOf(ShmException.class)
                    .hasMessageContaining("heap " + file).hasMessageContaining("pid namespace")
                    .hasMessageContaining("a process holds it open");
            assertThatThrownBy(() -> SharedHeap.unlinkIfStale(file)).isInstanceOf(ShmException.class)
                    .hasMessageContaining("a process holds it open");
        });
        try (SharedHeap heap = SharedHeap.open(file)) {
            assertThat(heap.lookup("data", DATA).segment().get(JAVA_LONG, 0)).isEqualTo(42L);
            assertThat(heap.attachedProcesses()).filteredOn(HeapProcess::alive).singleElement()
                    .extracting(HeapProcess::pid).isEqualTo(ProcessHandle.current().pid());
            // the dead holder's allocation lock is taken over: its pid names no process of its start here
            HeapBlock more = heap.allocate("more", DATA, 64);
            assertThat(heap.find("torn")).isEmpty();
            assertThat(more.offset()).isPositive();
        }
    }

    @Test
    void shouldRefuseAHeapOfAnotherNamespaceWhoseSlotSaysNoFlock() throws Exception {
        Path file = dir.resolve("unflocked.heap");
        holdThenKill(file, () -> { });
        try (SharedMemory raw = SharedMemory.open(file)) {
            // as an older shm4j, or one without native access, leaves its slot: its death cannot be told from here
            for (int i = 0; i < HeapLayout.ATTACH_CAPACITY; i++) {
                raw.segment().set(JAVA_LONG, HeapLayout.slotOffset(i) + HeapLayout.SLOT_FLOCK_TOKEN_OFFSET, 0L);
            }
        }
        assertThatThrownBy(() -> SharedHeap.open(file)).isInstanceOf(ShmException.class)
                .hasMessageContaining("pid namespace").hasMessageContaining("holds no flock");
        assertThat(creatorPidNamespace(file)).isNotEqualTo(ProcessIdentity.currentPidNamespace());
    }

    @Test
    void shouldStayAdoptableWhenAdoptersAreKilledAtRandomPointsOfTheirOpen() throws Exception {
        Path file = dir.resolve("killed-adopters.heap");
        createInANamespaceThatLeaves(file);
        long openNanos = 0;
        for (int round = 0; round < ADOPTERS; round++) {
            // each adopter runs in a pid namespace of its own, so each of its opens adopts the heap
            Process child = Unshare.java(NEW_PID_NAMESPACE, HeapChild.class, file.toString(), "adopt");
            try {
                BufferedReader lines = childLines(child);
                ProcessHandle adopter = awaitLine(lines, "opening", child);
                long opening = System.nanoTime();
                if (round == 0) { // the first open runs whole, to time the window the later kills fall in
                    awaitLine(lines, "opened 42", child);
                    openNanos = System.nanoTime() - opening;
                } else {
                    long killAt = opening + ThreadLocalRandom.current().nextLong(openNanos + 1);
                    while (System.nanoTime() < killAt) {
                        Thread.onSpinWait(); // the kill's moment is the test's subject, not a synchronisation
                    }
                }
                adopter.destroyForcibly();
                assertThat(adopter.onExit().get(WAIT.toSeconds(), TimeUnit.SECONDS).isAlive()).isFalse();
                assertThat(child.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            } finally {
                child.destroyForcibly();
            }
            try (SharedHeap heap = SharedHeap.open(file)) { // adopts it back, whatever point the kill hit
                assertThat(heap.lookup("data", DATA).segment().get(JAVA_LONG, 0)).as("round %d", round)
                        .isEqualTo(42L);
                assertThat(heap.attachedProcesses()).filteredOn(HeapProcess::alive).singleElement()
                        .extracting(HeapProcess::pid).isEqualTo(ProcessHandle.current().pid());
            }
            assertThat(creatorPidNamespace(file)).isEqualTo(ProcessIdentity.currentPidNamespace());
        }
    }

    /** Starts a child that holds {@code file} open in another pid namespace, runs {@code whileHeld}, kills it. */
    private void holdThenKill(Path file, ThrowingRunnable whileHeld) throws Exception {
        Process child = Unshare.java(NEW_PID_NAMESPACE, HeapChild.class, file.toString(), "hold");
        try {
            ProcessHandle holder = awaitReady(child);
            whileHeld.run();
            holder.destroyForcibly(); // SIGKILL inside allocate: it holds the allocation lock and its attach slot
            assertThat(holder.onExit().get(WAIT.toSeconds(), TimeUnit.SECONDS).isAlive()).isFalse();
            assertThat(child.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        } finally {
            child.destroyForcibly();
        }
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void shouldNotRemoveAHeapAProcessHoldsOpenWhateverItsNamespaceNumberSays() throws Exception {
        Path file = dir.resolve("reused.heap");
        Process child = Unshare.java(NEW_PID_NAMESPACE, HeapChild.class, file.toString(), "hold");
        try {
            awaitReady(child);
            try (SharedMemory raw = SharedMemory.open(file)) {
                // as if this namespace reused the number of the child's: its pids now seem to name dead processes
                HeapHeaders.setCreatorPidNamespace(raw.segment(), ProcessIdentity.currentPidNamespace());
            }
            assertThat(SharedHeap.unlinkIfStale(file)).isFalse();
            assertThat(file).exists();
        } finally {
            child.destroyForcibly();
            child.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
    }

    /** Makes the heap {@code file} (block "data" holding 42) in a child's pid namespace, which then ends. */
    private static void createInANamespaceThatLeaves(Path file) throws IOException, InterruptedException {
        Process child = Unshare.java(NEW_PID_NAMESPACE, HeapChild.class, file.toString(), "exit");
        assertThat(Unshare.awaitOutput(child, WAIT)).contains("closed");
    }

    /** @return the child's JVM (pid 1 of its namespace) once it printed "ready" */
    private static ProcessHandle awaitReady(Process child) throws Exception {
        return awaitLine(childLines(child), "ready", child);
    }

    private static BufferedReader childLines(Process child) {
        return new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
    }

    /** @return the child's JVM (pid 1 of its namespace) once it printed the line {@code expected} */
    private static ProcessHandle awaitLine(BufferedReader lines, String expected, Process child) throws Exception {
        CompletableFuture<String> seen = CompletableFuture.supplyAsync(() -> {
            try {
                StringBuilder before = new StringBuilder();
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    if (line.equals(expected)) {
                        return line;
                    }
                    before.append(line).append('\n');
                }
                return before.toString();
            } catch (IOException e) {
                return e.toString();
            }
        });
        assertThat(seen.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(expected);
        return child.toHandle().children().findFirst().orElseThrow();
    }

    private static long creatorPidNamespace(Path file) {
        try (SharedMemory raw = SharedMemory.openReadOnly(file)) {
            return raw.segment().get(JAVA_LONG, HeapLayout.CREATOR_PID_NAMESPACE_OFFSET);
        }
    }

    /**
     * Creates the heap file of its first argument with a block "data" holding 42; then, for "exit", closes it and
     * prints "closed"; for "hold", prints "ready" from inside the allocation of block "torn" (holding the heap's
     * allocation lock) and waits there for its input, which never comes; for "adopt", prints "opening", opens the
     * heap (adopting it: the child runs in a pid namespace of its own), prints "opened" and the data, and waits.
     */
    public static final class HeapChild {
        public static void main(String[] args) throws IOException {
            Path file = Path.of(args[0]);
            if (args[1].equals("adopt")) {
                System.out.println("opening");
                System.out.flush();
                try (SharedHeap heap = SharedHeap.open(file)) {
                    System.out.println("opened " + heap.lookup("data", DATA).segment().get(JAVA_LONG, 0));
                    System.out.flush();
                    System.in.read();
                }
                return;
            }
            try (SharedHeap heap = SharedHeap.openOrCreate(file, 1 << 16)) {
                heap.allocate("data", DATA, 64).segment().set(JAVA_LONG, 0, 42L);
                if (args[1].equals("hold")) {
                    heap.allocate("torn", DATA, 64, 64, block -> {
                        System.out.println("ready");
                        System.out.flush();
                        try {
                            System.in.read();
                        } catch (IOException e) {
                            throw new RuntimeException(e);
                        }
                    });
                }
            }
            System.out.println(Files.exists(file) ? "closed" : "gone");
        }
    }
}
