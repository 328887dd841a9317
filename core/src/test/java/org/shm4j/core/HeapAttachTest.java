package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.internal.AttachTable;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.testing.ShmNames;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The attach table and the removal rules within one process: counting, read-only opens, the full table, a heap whose
 * removal word a dead remover left taken, and unlink-on-last-detach. Cross-process cases are in
 * {@link StaleHeapTest}.
 */
@Timeout(60)
class HeapAttachTest {
    private static final BlockType MARK = new BlockType(0xA77, 1);
    private static final HeapOptions LAST_CLOSE_REMOVES = HeapOptions.defaults().withUnlinkOnLastDetach(true);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @TempDir
    Path dir;

    @Test
    void shouldCountEveryOpenOfThisProcessInOneEntry() {
        String name = names.unique("count");
        long me = ProcessHandle.current().pid();
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            assertThat(heap.attachedProcesses()).containsExactly(new HeapProcess(me, startMillis(), 1, true));
            try (SharedHeap second = SharedHeap.open(name); SharedHeap third = SharedHeap.openOrCreate(name, 1 << 16)) {
                assertThat(second.attachedProcesses()).containsExactly(new HeapProcess(me, startMillis(), 3, true));
                try (SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
                    assertThat(readOnly.attachedProcesses()).as("a read-only open is not recorded")
                            .containsExactly(new HeapProcess(me, startMillis(), 3, true));
                }
            }
            assertThat(heap.attachedProcesses()).containsExactly(new HeapProcess(me, startMillis(), 1, true));
        }
        try (SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
            assertThat(readOnly.attachedProcesses()).isEmpty();
        }
    }

    @Test
    void shouldNeverCallAHeapOfALiveCreatorStale() {
        String name = names.unique("live-creator");
        SharedHeap.create(name, 1 << 16).close();
        assertThat(SharedHeap.unlinkIfStale(name)).as("creator (this process) lives, though detached").isFalse();
        assertThat(SharedMemory.exists(name)).isTrue();
        assertThat(SharedHeap.unlinkIfStale(names.unique("absent"))).isFalse();
        assertThatThrownBy(() -> SharedHeap.create(name, 1 << 16, HeapOptions.defaults().withReplaceStale(true)))
                .isInstanceOf(ShmAlreadyExistsException.class).hasMessageContaining("is not stale");
    }

    @Test
    void shouldNameTheHeapAndTheLimitWhenTheAttachTableIsFull() throws Exception {
        String name = names.unique("full");
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        try {
            long liveToken = ProcessIdentity.token(sleeper.pid(), 0); // start time unknown: alive while the pid is
            SharedHeap.create(name, 1 << 16).close();
            try (SharedMemory region = SharedMemory.open(name)) {
                for (int i = 0; i < HeapLayout.ATTACH_CAPACITY; i++) {
                    region.segment().set(JAVA_LONG, HeapLayout.slotOffset(i) + HeapLayout.SLOT_TOKEN_OFFSET, liveToken);
                }
            }
            assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(ShmFullException.class)
                    .hasMessage("attach table of heap '" + name + "' is full: 64 live processes have it open "
                            + "(limit: 64)");
            sleeper.destroyForcibly();
            assertThat(sleeper.waitFor(30, TimeUnit.SECONDS)).isTrue();
            try (SharedHeap heap = SharedHeap.open(name)) {
                assertThat(heap.attachedProcesses()).as("dead entries reclaimed by the open")
                        .extracting(HeapProcess::pid).containsExactly(ProcessHandle.current().pid());
            }
        } finally {
            sleeper.destroyForcibly();
        }
    }

    @Test
    void shouldTakeOverTheRemovalWordOfADeadRemover() throws Exception {
        String name = names.unique("dead-remover");
        long deadToken = deadPid() << 32 | 1;
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            heap.allocate("kept", MARK, 8);
            heap.memory().segment().set(JAVA_LONG, HeapLayout.REMOVAL_OFFSET, deadToken);
            try (SharedHeap other = SharedHeap.open(name)) {
                assertThat(other.find("kept")).as("the name still leads to it: the open takes the word back")
                        .isPresent();
                assertThat(other.memory().segment().get(JAVA_LONG, HeapLayout.REMOVAL_OFFSET)).isZero();
            }
        }
    }

    @Test
    void shouldRemoveANamedHeapWhenItsLastObjectCloses() {
        String name = names.unique("last");
        SharedHeap first = SharedHeap.create(name, 1 << 16, LAST_CLOSE_REMOVES);
        SharedHeap second = SharedHeap.openOrCreate(name, 1 << 16);
        first.close();
        assertThat(SharedMemory.exists(name)).as("still open once").isTrue();
        second.close();
        second.close();
        assertThat(SharedMemory.exists(name)).isFalse();
        try (SharedHeap plain = SharedHeap.create(name, 1 << 16)) {
            plain.allocate("x", MARK, 8);
        }
        assertThat(SharedMemory.exists(name)).as("created without the option").isTrue();
    }

    @Test
    void shouldApplyTheSameRulesToFiles() throws IOException {
        Path file = dir.resolve("rules.heap");
        SharedHeap.create(file, 1 << 16, LAST_CLOSE_REMOVES).close();
        assertThat(Files.exists(file)).isFalse();
        SharedHeap.create(file, 1 << 16).close();
        assertThat(SharedHeap.unlinkIfStale(file)).isFalse();
        Files.write(dir.resolve("not-a-heap"), new byte[4096]);
        assertThatThrownBy(() -> SharedHeap.unlinkIfStale(dir.resolve("not-a-heap")))
                .isInstanceOf(ShmFormatException.class).hasMessageContaining("not a shm4j heap");
        assertThat(Files.exists(dir.resolve("not-a-heap"))).isTrue();
        Path empty = Files.createFile(dir.resolve("empty"));
        assertThatThrownBy(() -> SharedHeap.open(empty)).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("is empty");
        assertThatThrownBy(() -> SharedHeap.unlinkIfStale(empty)).isInstanceOf(ShmFormatException.class);
    }

    @Test
    void shouldRemoveTheFileASymbolicLinkLeadsToNotTheLink() throws IOException {
        Path file = dir.resolve("linked.heap");
        Path link = Files.createSymbolicLink(dir.resolve("link"), file);
        SharedHeap creator = SharedHeap.create(file, 1 << 16, LAST_CLOSE_REMOVES);
        try (SharedHeap throughLink = SharedHeap.open(link)) {
            creator.close();
            assertThat(SharedHeap.unlinkIfStale(link)).as("a live heap").isFalse();
            assertThat(throughLink.toString()).contains(file.toRealPath().toString());
        }
        assertThat(Files.exists(file)).as("the last close removed the heap's file").isFalse();
        assertThat(Files.isSymbolicLink(link)).as("and left the link, now dangling").isTrue();
    }

    /**
     * helper-154: openOrCreate of a file heap spun for ever on a link that leads nowhere (create: taken; open:
     * missing), as SharedMemory's did before helper-138; the test above leaves such a link, so a second run of a
     * program whose heap path is a link and whose last close removes the heap hung at 100% CPU.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void shouldRefuseALinkThatLeadsNowhereInsteadOfSpinning() throws IOException {
        Path link = Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("nowhere.heap"));
        String leadsNowhere = "is a symbolic link to a file that does not exist (create does not go through a link)";
        assertThatThrownBy(() -> SharedHeap.openOrCreate(link, 1 << 16)).isInstanceOf(ShmNotFoundException.class)
                .hasMessage(link + " " + leadsNowhere);
        HeapOptions replace = HeapOptions.defaults().withReplaceStale(true);
        assertThatThrownBy(() -> SharedHeap.create(link, 1 << 16, replace))
                .isInstanceOf(ShmAlreadyExistsException.class).hasMessage(link + " already exists: " + leadsNowhere);
        assertThatThrownBy(() -> SharedHeap.openOrCreate(link, 1 << 16, replace))
                .isInstanceOf(ShmNotFoundException.class).hasMessage(link + " " + leadsNowhere);
        assertThat(dir.resolve("nowhere.heap")).doesNotExist();
    }

    @Test
    void shouldRecordAnAnonymousHeapsProcess() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16, LAST_CLOSE_REMOVES)) {
            assertThat(heap.attachedProcesses()).extracting(HeapProcess::pid)
                    .containsExactly(ProcessHandle.current().pid());
        }
    }

    @Test
    void shouldCreateAHeapThatIsCompleteWhenItsNameAppears() {
        String name = names.unique("born-whole");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16); SharedMemory raw = SharedMemory.open(name)) {
            MemorySegment header = raw.segment();
            assertThat(header.get(JAVA_LONG, HeapLayout.MAGIC_OFFSET)).isEqualTo(HeapLayout.MAGIC);
            assertThat(header.get(JAVA_LONG, HeapLayout.HEAP_ID_OFFSET)).isNotZero();
            assertThat(heap.attachedProcesses()).hasSize(1);
        }
    }

    /**
     * helper-188: a create that failed after this process attached to its new heap (here its header damaged between
     * the attach and the check that follows the link) closed the mapping but kept this process's attach slot, so the
     * heap counted this process attached for as long as it lived.
     */
    @Test
    void shouldGiveBackTheAttachSlotOfACreateThatFailsAfterAttaching() {
        String name = names.unique("failed-create");
        HeapOptions options = HeapOptions.defaults();
        assertThatThrownBy(() -> HeapLifecycle.create(init -> SharedMemory.create(name, 1 << 16,
                options.permissions(), segment -> {
                    init.accept(segment); // writes the header, then attaches this process
                    segment.set(JAVA_INT, HeapLayout.LAYOUT_VERSION_OFFSET, -1);
                }), () -> SharedMemory.open(name), null, "heap '" + name + "'", 1 << 16, options, false))
                .isInstanceOf(ShmFormatException.class).hasMessageContaining("has layout version -1");
        try (SharedMemory raw = SharedMemory.openReadOnly(name)) {
            assertThat(AttachTable.processes(raw.segment())).isEmpty();
        }
    }

    /**
     * helper-197: a failure inside the attach after it claimed a slot, or added to its count, left that claim for as
     * long as the process lived. Provoked with a bad argument, a table cut short inside its last slot, the one claimed
     * (the other 63 taken by a live process): the first field after the token, or the flock token, is then outside.
     */
    @Test
    void shouldGiveBackTheSlotOrCountOfAnAttachThatFailsMidway() {
        long me = ProcessIdentity.currentToken();
        long otherLive = ProcessIdentity.token(ProcessHandle.current().pid(), 0); // start unknown: alive while the pid
        long last = HeapLayout.slotOffset(HeapLayout.ATTACH_CAPACITY - 1);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(last + HeapLayout.ATTACH_SLOT_LENGTH, 8);
            for (int i = 0; i < HeapLayout.ATTACH_CAPACITY - 1; i++) {
                table.set(JAVA_LONG, HeapLayout.slotOffset(i) + HeapLayout.SLOT_TOKEN_OFFSET, otherLive);
            }
            MemorySegment claimCutShort = table.asSlice(0, last + HeapLayout.SLOT_START_STAMP_OFFSET);
            assertThatThrownBy(() -> AttachTable.attach(claimCutShort, "a cut table", false))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(table.get(JAVA_LONG, last + HeapLayout.SLOT_TOKEN_OFFSET)).as("the claim given back").isZero();

            table.set(JAVA_LONG, last + HeapLayout.SLOT_TOKEN_OFFSET, me);
            table.set(JAVA_LONG, last + HeapLayout.SLOT_ATTACHMENTS_OFFSET, 1L);
            MemorySegment countCutShort = table.asSlice(0, last + HeapLayout.SLOT_FLOCK_TOKEN_OFFSET);
            assertThatThrownBy(() -> AttachTable.attach(countCutShort, "a cut table", false))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThat(table.get(JAVA_LONG, last + HeapLayout.SLOT_ATTACHMENTS_OFFSET)).as("the count taken back")
                    .isEqualTo(1L);
        }
    }

    private static long startMillis() {
        return ProcessIdentity.startMillis(ProcessIdentity.currentStartStamp());
    }

    /** @return the pid of a process that has exited and been reaped */
    static long deadPid() throws IOException, InterruptedException {
        Process process = new ProcessBuilder("true").start();
        if (!process.waitFor(Duration.ofSeconds(30).toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("'true' did not exit");
        }
        return process.pid();
    }
}
