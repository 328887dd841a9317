package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.WaitLayout;
import org.shm4j.sync.internal.WaitTable;
import org.shm4j.sync.locks.LockOwner;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;

/**
 * A process that closed its last view of a heap while its threads held a fair lock's turn, waited with tickets,
 * waited (published) in the wait table, or were registered and waiting parties of a barrier, then opens the heap
 * again before anyone took those over: the open renames them as a gone process's ({@code ReopenSweep}). Before, its
 * name back in the attach table made each its own again, held by no call: the fair lock's queue waited for ever
 * behind a ticket nobody would take, the wait table showed a wait that had ended, and the barrier's next generation
 * tripped one party short while its registration could never be freed. What a live process holds, and what a second
 * view (opened while the first is open: no new attach, no sweep) finds, is left alone.
 */
@Timeout(600)
class ReopenedFairBarrierWaitTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    private final List<ExecutorService> threads = new ArrayList<>();

    @AfterEach
    void stopThreads() {
        threads.forEach(ExecutorService::shutdownNow);
    }

    @Test
    void shouldSkipTheTurnAndTicketAClosedFairLockLeftAndDropItsPublishedWait() throws Exception {
        String heapName = names.unique("reopen-fair");
        SharedHeap first = SharedHeap.create(heapName, 1 << 20);
        SharedFairLock fair = SharedFairLock.create(first, "fair");
        ExecutorService holder = thread();
        holder.submit(() -> fair.lock()).get(BOUND.toSeconds(), TimeUnit.SECONDS);
        Future<Boolean> waiter = thread().submit(() -> fair.tryLock(3 * BOUND.toSeconds(), TimeUnit.SECONDS));
        Children.awaitTrue("the waiter queued and published its wait", () -> fair.queueLength() == 2
                && WaitTable.find(first).map(table -> table.entries().size()).orElse(0) == 1);
        first.close();
        assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("cut short by the close")
                .hasRootCauseInstanceOf(IllegalStateException.class);

        try (SharedHeap heap = SharedHeap.open(heapName)) {
            SharedFairLock again = SharedFairLock.open(heap, "fair");
            // the thread that held it: not "already held"; its turn is skipped as a gone holder's, the waiter's
            // ticket as given up (no recovery)
            assertThat(holder.submit(() -> tookOver(again)).get(2 * BOUND.toSeconds(), TimeUnit.SECONDS))
                    .isEqualTo("taken, consistent=false, recoveries=1");
            assertThat(thread().submit(() -> tookOver(again)).get(2 * BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("another thread").isEqualTo("taken, consistent=true, recoveries=1");
            assertThat(again.queueLength()).isZero();

            WaitTable table = WaitTable.find(heap).orElseThrow();
            assertThat(table.entries()).as("the wait the close cut short is no live wait of this process").isEmpty();
            table.reclaimDead();
            assertThat(waitTokens(heap)).as("dropped by the reclaim").isEmpty();
        }
    }

    /**
     * The holder's process slot, renamed, is reclaimed while every other slot is taken (31 live processes, here one
     * live child named in all of them) and this process claims it again: its old owner bits were then its own again,
     * a live holder, "already held" to the thread that had held the lock.
     */
    @Test
    void shouldNotGiveAClosedFairLockTurnBackWhenThisProcessClaimsItsSlotAgain() throws Exception {
        String heapName = names.unique("reopen-fair-slot");
        SharedHeap first = SharedHeap.create(heapName, 1 << 20);
        SharedFairLock fair = SharedFairLock.create(first, "fair");
        SharedLong.create(first, "go");
        ExecutorService holder = thread();
        holder.submit(() -> fair.lock()).get(BOUND.toSeconds(), TimeUnit.SECONDS);
        try (ChildJvm child = ChildJvm.start(Attached.class, heapName)) {
            long token = Long.parseLong(child.awaitLine("TOKEN ", BOUND).substring("TOKEN ".length()));
            MemorySegment block = first.lookup("fair", SyncLayout.FAIR_LOCK).segment();
            for (int slot = 1; slot < ProcessSlots.SLOTS; slot++) {
                block.set(JAVA_LONG, SyncLayout.FAIR_PROCESSES_OFFSET + slot * ProcessSlots.SLOT_SIZE, token);
            }
            first.close();
            try (SharedHeap heap = SharedHeap.open(heapName)) {
                SharedFairLock again = SharedFairLock.open(heap, "fair");
                assertThat(holder.submit(() -> tookOver(again)).get(2 * BOUND.toSeconds(), TimeUnit.SECONDS))
                        .isEqualTo("taken, consistent=false, recoveries=1");
                assertThat(heap.lookup("fair", SyncLayout.FAIR_LOCK).segment()
                        .get(JAVA_LONG, SyncLayout.FAIR_PROCESSES_OFFSET)).as("slot 0 claimed again by this process")
                        .isEqualTo(ProcessIdentity.currentToken());
                assertThat(thread().submit(() -> tookOver(again)).get(2 * BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("another thread").isEqualTo("taken, consistent=true, recoveries=1");
                SharedLong.open(heap, "go").set(1);
                child.awaitSuccess(BOUND);
            }
        }
    }

    @Test
    void shouldBreakTheGenerationOfAPartyAClosedBarrierLeftWaitingAndFreeItsRegistrationOnReset() throws Exception {
        String heapName = names.unique("reopen-barrier");
        SharedHeap first = SharedHeap.create(heapName, 1 << 20);
        SharedBarrier barrier = SharedBarrier.create(first, "barrier", 2);
        ExecutorService party = thread();
        Future<Integer> arrival = party.submit(() -> {
            barrier.register();
            return barrier.await();
        });
        Children.awaitTrue("the party waits", () -> barrier.getNumberWaiting() == 1);
        first.close();
        assertThatThrownBy(() -> arrival.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("cut short by the close")
                .hasRootCauseInstanceOf(IllegalStateException.class);

        try (SharedHeap heap = SharedHeap.open(heapName)) {
            SharedBarrier again = SharedBarrier.open(heap, "barrier");
            assertThat(again.getRegisteredParties()).as("until a reset").isEqualTo(1);
            assertThatThrownBy(() -> party.submit(() -> again.await(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .get(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("the same thread arrives again: the party the close left waiting is a dead one")
                    .hasCauseInstanceOf(BrokenBarrierException.class);
            again.reset();
            assertThat(again.getRegisteredParties()).as("the closed heap's registration, freed").isZero();
            Future<Integer> one = party.submit(() -> again.await(BOUND.toSeconds(), TimeUnit.SECONDS));
            int other = thread().submit(() -> again.await(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .get(BOUND.toSeconds(), TimeUnit.SECONDS);
            assertThat(List.of(one.get(BOUND.toSeconds(), TimeUnit.SECONDS), other)).containsExactlyInAnyOrder(0, 1);
        }
    }

    @Test
    void shouldTakeOverWhatAChildLeftInAHeapItClosedAndOpenedAgain() throws Exception {
        String heapName = names.unique("reopen-child");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedFairLock fair = SharedFairLock.create(heap, "fair");
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            SharedLong go = SharedLong.create(heap, "go");
            try (ChildJvm child = ChildJvm.start(Leaver.class, heapName, "reopen")) {
                child.awaitLine("REOPENED", BOUND);
                assertThat(heap.attachedProcesses()).as("the child is attached again").hasSize(2);
                assertThat(barrier.getRegisteredParties()).isEqualTo(1);
                assertThatThrownBy(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("the child's party left waiting is a dead one").isInstanceOf(BrokenBarrierException.class);
                barrier.reset();
                assertThat(barrier.getRegisteredParties()).as("freed by the reset").isZero();

                assertThat(tookOver(fair)).isEqualTo("taken, consistent=false, recoveries=1");

                WaitTable table = WaitTable.find(heap).orElseThrow();
                assertThat(table.entries()).as("the child's wait ended with its heap").isEmpty();
                table.reclaimDead();
                assertThat(waitTokens(heap)).as("dropped by the reclaim").isEmpty();
                go.set(1);
                child.awaitSuccess(BOUND);
                assertThat(child.output()).doesNotContain("Error");
            }
        }
    }

    @Test
    void shouldLeaveWhatALiveChildHoldsWhenThisProcessOpensTheHeapAgain() throws Exception {
        String heapName = names.unique("reopen-live-child");
        SharedHeap first = SharedHeap.create(heapName, 1 << 20);
        SharedFairLock.create(first, "fair");
        SharedBarrier.create(first, "barrier", 2);
        SharedLong.create(first, "go");
        try (ChildJvm child = ChildJvm.start(Leaver.class, heapName, "stay")) {
            child.awaitLine("HOLDING", BOUND);
            first.close();
            try (SharedHeap heap = SharedHeap.open(heapName)) { // a new attach: the sweep ran
                SharedFairLock fair = SharedFairLock.open(heap, "fair");
                SharedBarrier barrier = SharedBarrier.open(heap, "barrier");
                assertThat(WaitTable.find(heap).orElseThrow().entries())
                        .extracting(entry -> ProcessIdentity.pid(entry.token()))
                        .as("the child's published wait").containsExactly(child.pid());
                assertThat(fair.owner().map(LockOwner::pid)).contains(child.pid());
                assertThat(fair.queueLength()).isEqualTo(2);
                assertThat(fair.tryLock(300, TimeUnit.MILLISECONDS)).as("held by a live process").isFalse();
                assertThat(barrier.getRegisteredParties()).isEqualTo(1);
                assertThat(barrier.getNumberWaiting()).isEqualTo(1);
                assertThat(barrier.isBroken()).isFalse();
                SharedLong.open(heap, "go").set(1);
                child.awaitSuccess(BOUND);
            }
        }
    }

    @Test
    void shouldLeaveThisProcessHoldsToASecondViewOpenedWhileTheFirstIsOpen() throws Exception {
        String heapName = names.unique("reopen-second-view");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedFairLock fair = SharedFairLock.create(heap, "fair");
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            ExecutorService holder = thread();
            holder.submit(() -> fair.lock()).get(BOUND.toSeconds(), TimeUnit.SECONDS);
            Future<Boolean> waiter = thread().submit(() -> fair.tryLock(3 * BOUND.toSeconds(), TimeUnit.SECONDS));
            SharedBarrier.Party[] registered = new SharedBarrier.Party[1];
            Future<Integer> arrival = thread().submit(() -> {
                registered[0] = barrier.register();
                return barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS);
            });
            Children.awaitTrue("the waiter published its wait and the party waits",
                    () -> barrier.getNumberWaiting() == 1
                            && WaitTable.find(heap).map(table -> table.entries().size()).orElse(0) == 1);
            try (SharedHeap second = SharedHeap.open(heapName)) { // no new attach: no sweep
                SharedFairLock fair2 = SharedFairLock.open(second, "fair");
                SharedBarrier barrier2 = SharedBarrier.open(second, "barrier");
                assertThat(holder.submit(fair2::isHeldByCurrentThread).get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("still the holder's, through the second view").isTrue();
                assertThat(fair2.queueLength()).isEqualTo(2);
                assertThat(WaitTable.find(second).orElseThrow().entries()).extracting(WaitTable.Entry::token)
                        .containsExactly(ProcessIdentity.currentToken());
                assertThat(barrier2.getRegisteredParties()).isEqualTo(1);
                assertThat(barrier2.getNumberWaiting()).isEqualTo(1);
                assertThat(barrier2.isBroken()).isFalse();
                holder.submit(fair2::unlock).get(BOUND.toSeconds(), TimeUnit.SECONDS);
                assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the waiter's turn").isTrue();
                assertThat(fair2.recoveries()).isZero();
                assertThat(barrier2.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero();
                assertThat(arrival.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(1);
                registered[0].close();
            }
        }
    }

    /** A block the sweep cannot read as its kind is skipped: the open goes on, and the block's own open reports it. */
    @Test
    void shouldOpenTheHeapAgainPastDamagedBlocksAndLeaveTheirDamageToTheirOpens() throws Exception {
        String heapName = names.unique("reopen-damaged");
        SharedHeap first = SharedHeap.create(heapName, 1 << 20);
        SharedBarrier.create(first, "barrier", 2);
        SharedFairLock.create(first, "fair");
        WaitTable.openOrCreate(first);
        first.lookup("barrier", SyncLayout.BARRIER).segment().set(JAVA_INT, SyncLayout.COORD_PARAM1_OFFSET, 5000);
        first.lookup("fair", SyncLayout.FAIR_LOCK).segment().set(JAVA_LONG, SyncLayout.FAIR_WORD_OFFSET, 100L << 32);
        first.lookup(WaitLayout.BLOCK_NAME, WaitLayout.TABLE).segment().set(JAVA_LONG, WaitLayout.MAGIC_OFFSET, 0L);
        first.close();
        try (SharedHeap heap = SharedHeap.open(heapName)) {
            assertThatThrownBy(() -> SharedBarrier.open(heap, "barrier")).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("parties=5000");
            assertThatThrownBy(() -> SharedFairLock.open(heap, "fair")).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("tickets out");
            assertThatThrownBy(() -> WaitTable.find(heap)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("magic");
        }
    }

    /** @return how a bounded try of {@code lock} by the current thread ended; unlocks it, consistent, if taken */
    private static String tookOver(SharedFairLock lock) throws InterruptedException {
        if (!lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)) {
            return "not taken";
        }
        String outcome = "taken, consistent=" + lock.isConsistent() + ", recoveries=" + lock.recoveries();
        lock.markConsistent();
        lock.unlock();
        return outcome;
    }

    /** @return the non-zero tokens of the heap's wait table's entries */
    private static List<Long> waitTokens(SharedHeap heap) {
        MemorySegment table = heap.lookup(WaitLayout.BLOCK_NAME, WaitLayout.TABLE).segment();
        List<Long> tokens = new ArrayList<>();
        for (int slot = 0; slot < WaitLayout.ENTRIES; slot++) {
            long token = table.get(JAVA_LONG, WaitLayout.HEADER_SIZE + slot * WaitLayout.ENTRY_SIZE);
            if (token != 0) {
                tokens.add(token);
            }
        }
        return tokens;
    }

    private ExecutorService thread() {
        ExecutorService thread = Executors.newSingleThreadExecutor();
        threads.add(thread);
        return thread;
    }

    /** {@code main(heap)}: opens the heap, says its token, and stays attached until the parent's {@code go}. */
    public static final class Attached {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                Children.say("TOKEN " + ProcessIdentity.currentToken());
                SharedLong go = SharedLong.open(heap, "go");
                Children.awaitTrue("the parent's go", () -> go.get() == 1);
            }
        }
    }

    /**
     * {@code main(heap, reopen|stay)}: holds the fair lock from one thread, waits for it from another (published in
     * the wait table), registers a barrier party and arrives from a third; says HOLDING. With {@code reopen}, closes
     * the heap (the waits throw), opens it again, says REOPENED; then stays attached until the parent's {@code go}.
     */
    public static final class Leaver {
        public static void main(String[] args) throws Exception {
            SharedHeap first = SharedHeap.open(args[0]);
            SharedFairLock fair = SharedFairLock.open(first, "fair");
            SharedBarrier barrier = SharedBarrier.open(first, "barrier");
            ExecutorService holder = Executors.newSingleThreadExecutor(daemon());
            holder.submit(() -> fair.lock()).get(BOUND.toSeconds(), TimeUnit.SECONDS);
            Future<Boolean> waiter = Executors.newSingleThreadExecutor(daemon())
                    .submit(() -> fair.tryLock(3 * BOUND.toSeconds(), TimeUnit.SECONDS));
            Future<Integer> arrival = Executors.newSingleThreadExecutor(daemon()).submit(() -> {
                barrier.register();
                return barrier.await();
            });
            Children.awaitTrue("the waiter published its wait and the party waits", () -> barrier.getNumberWaiting()
                    == 1 && WaitTable.find(first).map(table -> table.entries().size()).orElse(0) == 1);
            Children.say("HOLDING");
            SharedHeap heap = first;
            if (args[1].equals("reopen")) {
                first.close();
                expectClosed(waiter);
                expectClosed(arrival);
                heap = SharedHeap.open(args[0]);
                Children.say("REOPENED");
            }
            SharedLong go = SharedLong.open(heap, "go");
            Children.awaitTrue("the parent's go", () -> go.get() == 1);
        }

        private static void expectClosed(Future<?> call) throws Exception {
            try {
                call.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                throw new AssertionError("not cut short by the close");
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof IllegalStateException)) {
                    throw e;
                }
            }
        }

        private static ThreadFactory daemon() {
            return task -> Thread.ofPlatform().daemon().unstarted(task);
        }
    }
}
