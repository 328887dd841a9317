package org.shm4j.sync.internal;

import org.junit.jupiter.api.Test;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link ProcessSlots}: reclaiming the slot of a dead process, by several reclaimers at once and by a reclaimer that
 * died midway, never touches the counters of a process that claimed the slot since.
 */
class ProcessSlotsTest {
    /** A token naming this process's pid with another start time: a dead process whose pid was reused. */
    private static final long DEAD = ProcessIdentity.token(ProcessHandle.current().pid(),
            ProcessIdentity.currentStartStamp() + 1);
    private static final long ROUNDS = 300;

    @Test
    void shouldNeverZeroTheCountersOfAProcessThatClaimedTheSlotWhileStaleReclaimersRan() throws Exception {
        try (Arena arena = Arena.ofShared(); ExecutorService reclaimers = Executors.newFixedThreadPool(2)) {
            MemorySegment table = arena.allocate(ProcessSlots.SIZE, 8);
            ProcessSlots slots = new ProcessSlots(table, 0, "test table");
            long me = ProcessIdentity.currentToken();
            for (int round = 0; round < ROUNDS; round++) {
                table.fill((byte) 0);
                holds(table, 0, DEAD, 1, 1); // a dead reader that was also waiting to write
                CyclicBarrier start = new CyclicBarrier(3);
                Future<?> first = reclaimers.submit(() -> reclaimAfter(start, slots));
                Future<?> second = reclaimers.submit(() -> reclaimAfter(start, slots));
                start.await(10, TimeUnit.SECONDS);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (table.get(JAVA_LONG, 0) != 0) { // the first reclaimer frees it ...
                    assertThat(System.nanoTime()).as("slot freed within 10 s").isLessThan(deadline);
                    Thread.onSpinWait();
                }
                assertThat(slots.claim()).as("... and this process claims it at once").isZero();
                slots.add(0, ProcessSlots.FIRST, 5);
                slots.add(0, ProcessSlots.SECOND, 1);
                first.get(10, TimeUnit.SECONDS);
                second.get(10, TimeUnit.SECONDS);
                assertThat(table.get(JAVA_LONG, 0)).as("round %d: the slot's owner", round).isEqualTo(me);
                assertThat(slots.get(0, ProcessSlots.FIRST)).as("round %d: this process's holds", round).isEqualTo(5);
                assertThat(slots.get(0, ProcessSlots.SECOND)).as("round %d: its waiting writers", round).isEqualTo(1);
            }
        }
    }

    private static Void reclaimAfter(CyclicBarrier start, ProcessSlots slots) throws Exception {
        start.await(10, TimeUnit.SECONDS);
        slots.reclaimDead();
        return null;
    }

    @Test
    void shouldFinishTheReclaimOfAReclaimerThatDiedAndLeaveALiveReclaimersSlotAlone() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(ProcessSlots.SIZE, 8);
            ProcessSlots slots = new ProcessSlots(table, 0, "test table");
            holds(table, 3, DEAD | ProcessSlots.RECLAIMING, 2, 1); // a reclaimer killed before it zeroed them
            long liveReclaimer = ProcessIdentity.currentToken() | ProcessSlots.RECLAIMING;
            holds(table, 4, liveReclaimer, 1, 0); // another thread of this process, still reclaiming
            holds(table, 5, DEAD | ProcessSlots.RECLAIMING, 0, 1); // one killed after zeroing the first counter
            slots.check();
            assertThat(slots.pid(3)).isEqualTo(ProcessHandle.current().pid());
            assertThat(slots.reclaimDead()).as("holders reclaimed; the zeroed one too: its reclaimer told nobody")
                    .isEqualTo(2);
            assertThat(table.get(JAVA_LONG, 5 * ProcessSlots.SLOT_SIZE)).isZero();
            assertThat(slots.get(5, ProcessSlots.SECOND)).isZero();
            assertThat(table.get(JAVA_LONG, 3 * ProcessSlots.SLOT_SIZE)).isZero();
            assertThat(slots.get(3, ProcessSlots.FIRST)).isZero();
            assertThat(slots.get(3, ProcessSlots.SECOND)).isZero();
            assertThat(table.get(JAVA_LONG, 4 * ProcessSlots.SLOT_SIZE)).isEqualTo(liveReclaimer);
            assertThat(slots.get(4, ProcessSlots.FIRST)).isEqualTo(1);
            assertThat(slots.claim()).as("not the slot this process is reclaiming").isZero();
        }
    }

    @Test
    void shouldNameItsStructureWhenEverySlotIsHeldByALiveProcess() {
        long parent = ProcessHandle.current().parent().orElseThrow().pid(); // alive while this test runs
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(ProcessSlots.SIZE, 8);
            for (int i = 0; i < ProcessSlots.SLOTS; i++) {
                holds(table, i, ProcessIdentity.token(parent, 0), 0, 0);
            }
            assertThatThrownBy(() -> new ProcessSlots(table, 0, "fair lock 'f'").claim())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("fair lock 'f': all 32 process slots are held by live processes");
        }
    }

    @Test
    void shouldRefuseATokenWithoutAPidMarkedOrNot() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(ProcessSlots.SIZE, 8);
            ProcessSlots slots = new ProcessSlots(table, 0, "test table");
            holds(table, 7, ProcessSlots.RECLAIMING | 42, 0, 0);
            assertThatThrownBy(() -> slots.check()).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("test table").hasMessageContaining("process slot 7 token");
        }
    }

    private static void holds(MemorySegment table, int slot, long token, int first, int second) {
        long at = slot * ProcessSlots.SLOT_SIZE;
        table.set(JAVA_LONG, at + ProcessSlots.TOKEN, token);
        table.set(JAVA_INT, at + ProcessSlots.FIRST, first);
        table.set(JAVA_INT, at + ProcessSlots.SECOND, second);
    }
}
