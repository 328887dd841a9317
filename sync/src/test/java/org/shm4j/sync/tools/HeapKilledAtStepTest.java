package org.shm4j.sync.tools;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.BlockType;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.HeapProcess;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapCatalog;
import org.shm4j.core.internal.MappedFiles;
import org.shm4j.sync.SharedPipe;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A heap's allocator and creator killed at exact steps (stopped there by a debugger, {@link KilledAtCall}, and
 * SIGKILLed), then what another process and {@code shm4j} find.
 * <ul>
 * <li>ACCEPTABLE: the blocks published before the kill, with their contents; a block published before the allocator
 *     died holding the allocation lock, and the lock taken over within the bound; free bytes (and the tool's
 *     {@code used}) ending at the last published block, so that a structure that fits that room is made; a heap
 *     whose creator died after naming it, opened by {@code openOrCreate} and its creator's leftover temporary file
 *     listed by {@code gc} and removed by the next creation in the folder.</li>
 * <li>FORBIDDEN: an unpublished block seen, a published one lost or changed, room an allocator killed before
 *     publishing had taken reported used (and a structure that fits refused), a wait past the bound, the killed
 *     process shown alive.</li>
 * </ul>
 */
@Timeout(120)
class HeapKilledAtStepTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final long HEAP_SIZE = 1 << 17;
    private static final long BIG = 96 << 10;
    /** Two rings of this capacity fit the room the killed allocator asked for, not the room left beside it. */
    private static final int PIPE_CAPACITY = 16 << 10;
    private static final BlockType TYPE = new BlockType(0x7E57_0242, 1);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @TempDir
    Path dir;

    /**
     * @param code      the statement the allocator is killed before: between its stores of allocTop and entryCount,
     *                  or after both, holding the allocation lock
     * @param published whether the block is published then
     */
    @ParameterizedTest(name = "the allocator killed before {0}")
    @CsvSource({
            "HeapCatalog, append, 'INT.setRelease(heap, ENTRY_COUNT_OFFSET, index + 1);', false",
            "SharedHeap, allocateLocked, 'allocLock.unlock(); // before a close of this view', true",
    })
    void shouldFindExactlyThePublishedBlocksAndTheFreeRoomWhenTheAllocatorIsKilled(String type, String method,
                                                                                  String code, boolean published)
            throws Exception {
        String name = names.unique("alloc-kill");
        try (SharedHeap heap = SharedHeap.create(name, HEAP_SIZE)) {
            HeapBlock first = heap.allocate("first", TYPE, 64, 64, block -> fill(block, 1));
            long free = heap.freeBytes();
            Class<?> stepClass = type.equals("HeapCatalog") ? HeapCatalog.class : SharedHeap.class;
            long pid;
            try (KilledAtCall allocator = KilledAtCall.start(KilledAtCall.Step.atLine(stepClass, method, code, 1),
                    Allocator.class, name)) {
                pid = allocator.pid();
                allocator.awaitKilled(BOUND);
            }
            assertThat(heap.attachedProcesses()).filteredOn(p -> p.pid() == pid).extracting(HeapProcess::alive)
                    .containsExactly(false);
            long left = published ? free - BIG : free;
            assertThat(heap.blocks()).extracting(HeapBlock::name)
                    .containsExactlyElementsOf(published ? List.of("first", "big") : List.of("first"));
            assertThat(filled(heap.lookup("first", TYPE).segment(), 1)).as("first's bytes").isTrue();
            assertThat(heap.freeBytes()).as("free bytes").isEqualTo(left);
            assertThat(inspect(name).get("used")).as("used, as shm4j inspect says").isEqualTo(HEAP_SIZE - left);
            if (published) {
                assertThat(filled(heap.lookup("big", TYPE).segment(), 2)).as("big's bytes").isTrue();
                HeapBlock after = heap.allocate("after", TYPE, 64); // takes the dead holder's lock over
                assertThat(after.offset()).isEqualTo(HEAP_SIZE - left);
            } else {
                SharedPipe.create(heap, "pipe", PIPE_CAPACITY);
                assertThat(heap.find("pipe.ab").orElseThrow().offset()).as("where the killed allocation began")
                        .isEqualTo(first.offset() + first.byteSize());
            }
        }
    }

    @Test
    void shouldOpenAHeapWhoseCreatorWasKilledAfterNamingItAndRemoveItsTemporaryFileOnTheNextCreation()
            throws Exception {
        Path file = dir.resolve("heap");
        long pid;
        // MappedFiles.createNew deletes its temporary file (a second name of the heap) right after the link
        try (KilledAtCall creator = KilledAtCall.start(new KilledAtCall.Step("java.nio.file.Files", "deleteIfExists",
                "createNew"), Creator.class, file.toString())) {
            pid = creator.pid();
            creator.awaitKilled(BOUND);
        }
        List<Path> temporaries = temporaries();
        assertThat(temporaries).hasSize(1);
        Shm4jToolTest.Result gc = Shm4jToolTest.run("gc", "--dir", dir.toString(), "--json");
        assertThat(gc.code()).as(gc.err()).isZero();
        assertThat(gc.out()).contains(temporaries.getFirst().toString()).contains(file.toString());
        try (SharedHeap heap = SharedHeap.openOrCreate(file, HEAP_SIZE)) {
            assertThat(heap.creator().pid()).isEqualTo(pid);
            assertThat(heap.creator().alive()).isFalse();
            assertThat(heap.blocks()).isEmpty();
            assertThat(heap.attachedProcesses()).extracting(HeapProcess::pid)
                    .containsExactly(ProcessHandle.current().pid()); // the dead creator's slot reclaimed
            assertThat(temporaries()).as("removed by openOrCreate's creation attempt").isEmpty();
            heap.allocate("all", TYPE, heap.freeBytes(), 64, block -> fill(block, 3));
        }
    }

    private List<Path> temporaries() throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> MappedFiles.isTemporaryName(f.getFileName().toString())).toList();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> inspect(String heap) {
        Shm4jToolTest.Result result = Shm4jToolTest.run("inspect", heap, "--json");
        assertThat(result.code()).as(result.err()).isZero();
        return (Map<String, Object>) JsonReader.parse(result.out());
    }

    private static void fill(MemorySegment block, int seed) {
        for (long i = 0; i < block.byteSize(); i++) {
            block.set(JAVA_BYTE, i, (byte) (seed + i));
        }
    }

    private static boolean filled(MemorySegment block, int seed) {
        for (long i = 0; i < block.byteSize(); i++) {
            if (block.get(JAVA_BYTE, i) != (byte) (seed + i)) {
                return false;
            }
        }
        return true;
    }

    /** {@code main(heap)}: allocates block "big", filled, in the heap; killed before it returns. */
    public static final class Allocator {
        public static void main(String[] args) {
            SharedHeap.open(args[0]).allocate("big", TYPE, BIG, 64, block -> fill(block, 2));
            System.out.println("ERROR: the allocation returned");
        }
    }

    /** {@code main(file)}: creates the heap; killed before it returns. */
    public static final class Creator {
        public static void main(String[] args) {
            SharedHeap.openOrCreate(Path.of(args[0]), HEAP_SIZE);
            System.out.println("ERROR: the creation returned");
        }
    }
}
