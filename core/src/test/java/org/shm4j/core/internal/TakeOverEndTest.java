package org.shm4j.core.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.FutexHolds;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The count of a take-over in flight ({@link HeapMappings#beginTakeOver}) in this process's attach slot, when the view
 * it was counted through closes before the take-over ends: a count left behind keeps every other process's attach
 * waiting 5 s and then failing, for as long as this process keeps the heap open.
 */
@Timeout(120)
class TakeOverEndTest {
    private static final BlockType WORD = new BlockType(0x100, 1);
    private static final Duration BOUND = Duration.ofSeconds(30);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * The close of a process's only view leaves the view's attach period before it detaches; a view that another
     * thread opened in between joined the process's slot (still there) in a new period. A take-over counted through
     * the closing view and ended after its unmap looked for another open view of the old period, found none, and
     * left its count in the slot, which the new view kept: a child's open then waited 5 s and failed ("has been
     * taking over a gone process's hold there"). The close's wait for a native call that holds the memory (a futex
     * wait here) holds it between its leave and its detach.
     */
    @Test
    void shouldEndATakeOverWhoseViewClosedWhileAnotherViewOpened() throws Throwable {
        String name = names.unique("mark-view");
        SharedHeap first = SharedHeap.create(name, 1 << 16);
        MemorySegment lock = first.allocate("word", WORD, 8).segment();
        long gone = ProcessIdentity.token(1, 12_345); // pid 1 with another start stamp: a gone holder
        MemorySegment takingOver = HeapMappings.beginTakeOver(lock, gone);
        assertThat(takingOver).as("counted as taking over").isNotNull();
        assertThat(takingOver.byteSize()).as("a count in the attach table").isPositive();
        MemorySegment held = first.memory().segment().asSlice(first.byteSize() - 64, 8);
        Thread futexWaiter = FutexHolds.waitIn(held);
        AtomicReference<Throwable> closeFailure = new AtomicReference<>();
        Thread closer = Thread.ofPlatform().start(() -> {
            try {
                first.close();
            } catch (Throwable t) {
                closeFailure.set(t);
            }
        });
        awaitParked(closer);
        try (SharedHeap second = SharedHeap.open(name)) {
            FutexHolds.wake(held, futexWaiter);
            closer.join(BOUND.toMillis());
            assertThat(closer.isAlive()).as("the close returned").isFalse();
            assertThat(closeFailure.get()).as("the close's failure").isNull();
            HeapMappings.endTakeOver(takingOver);
            assertNoCountAndAnotherProcessOpens(second, name);
        }
    }

    /**
     * The other side of the test above: a take-over counted through a process's last view, which closed (freeing the
     * slot and the count with it) before the take-over ended, must not be ended in the slot of a view opened later
     * (a new claim, maybe of the same index): its count would go below zero there, which every attach of another
     * process reads as a take-over in flight.
     */
    @Test
    void shouldNotEndATakeOverInASlotClaimedAfterItsViewClosed() throws Exception {
        String name = names.unique("mark-slot");
        try (SharedHeap keeper = SharedHeap.create(name, 1 << 16)) {
            keeper.allocate("word", WORD, 8);
        } // closed: a named heap stays for the opens below
        SharedHeap first = SharedHeap.open(name);
        MemorySegment lock = first.lookup("word", WORD).segment();
        MemorySegment takingOver = HeapMappings.beginTakeOver(lock, ProcessIdentity.token(1, 12_345));
        assertThat(takingOver).as("counted as taking over").isNotNull();
        first.close();
        try (SharedHeap second = SharedHeap.open(name)) {
            HeapMappings.endTakeOver(takingOver);
            assertNoCountAndAnotherProcessOpens(second, name);
        }
    }

    /**
     * A heap file and a copy of it have one heap id, and each gives this process its first slot: its claims of the
     * two slots were kept under one key, so the copy's overwrote the original's, and a view of the original that
     * began a new attach period then (here, after a close that failed) took the copy's claim. A take-over counted
     * through that view and ended after the original's last close was then ended in the copy's slot, whose count
     * went below zero: every other process's attach of the copy waited 5 s and failed.
     */
    @Test
    void shouldNotEndATakeOverInTheSlotOfACopyOfItsHeap(@TempDir Path dir) throws Throwable {
        Path original = dir.resolve("a.heap");
        try (SharedHeap keeper = SharedHeap.create(original, 1 << 16)) {
            keeper.allocate("word", WORD, 8);
        }
        Path copied = Files.copy(original, dir.resolve("b.heap"));
        SharedHeap first = SharedHeap.open(original);
        try (SharedHeap copy = SharedHeap.open(copied)) {
            MemorySegment held = first.memory().segment().asSlice(first.byteSize() - 64, 8);
            Thread futexWaiter = FutexHolds.waitIn(held);
            assertThatThrownBy(first::close).as("a close while a native call holds the memory (after 1 s)")
                    .isInstanceOf(IllegalStateException.class);
            FutexHolds.wake(held, futexWaiter); // first is open and attached again, in a new attach period
            MemorySegment lock = first.lookup("word", WORD).segment();
            MemorySegment takingOver = HeapMappings.beginTakeOver(lock, ProcessIdentity.token(1, 12_345));
            assertThat(takingOver).as("counted as taking over").isNotNull();
            first.close(); // the original's last view: its slot freed, the count with it
            HeapMappings.endTakeOver(takingOver);
            assertNoCountAndAnotherProcessOpens(copy, copied.toString()); // in the copy
        }
    }

    /**
     * Checks that this process's slot in {@code heap} counts no take-over in flight, and that a child process opens
     * the heap (by {@code name}, or its file's absolute path) at once: a count left would make it wait 5 s and fail.
     */
    private static void assertNoCountAndAnotherProcessOpens(SharedHeap heap, String name) throws Exception {
        assertThat(takeOversInFlight(heap.memory().segment())).as("this process's take-overs in flight").isZero();
        try (ChildJvm child = ChildJvm.start(Opener.class, name)) {
            assertThat(child.awaitLine("OPENED", BOUND)).isEqualTo("OPENED");
            child.awaitSuccess(BOUND);
        }
    }

    /** @return the high half of this process's slot's attachments word in the heap {@code heap} maps */
    private static long takeOversInFlight(MemorySegment heap) {
        long me = ProcessIdentity.currentToken();
        for (int i = 0; i < HeapLayout.ATTACH_CAPACITY; i++) {
            if (heap.get(JAVA_LONG, HeapLayout.slotOffset(i) + HeapLayout.SLOT_TOKEN_OFFSET) == me) {
                return heap.get(JAVA_LONG, HeapLayout.slotOffset(i) + HeapLayout.SLOT_ATTACHMENTS_OFFSET) >>> 32;
            }
        }
        throw new AssertionError("this process has no slot");
    }

    /** Waits until {@code thread} parks with a timeout (a close waiting for a use of the memory to end). */
    private static void awaitParked(Thread thread) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (thread.getState() != Thread.State.TIMED_WAITING) {
            assertThat(thread.isAlive()).as("the closer still runs").isTrue();
            assertThat(System.nanoTime() - deadline).as("the closer parks within " + BOUND).isNegative();
            Thread.onSpinWait();
        }
    }

    /** {@code main(heap)}: opens the heap by its name (or its file's path, if absolute), prints {@code OPENED}. */
    public static final class Opener {
        public static void main(String[] args) {
            try (SharedHeap heap = args[0].startsWith("/") ? SharedHeap.open(Path.of(args[0]))
                    : SharedHeap.open(args[0])) {
                System.out.println("OPENED");
                System.out.flush();
            }
        }
    }
}
