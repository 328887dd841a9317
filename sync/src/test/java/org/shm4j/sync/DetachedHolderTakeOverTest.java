package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.BarrierGenerations;
import org.shm4j.sync.internal.BarrierRegistry;
import org.shm4j.sync.internal.PipeEnds;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.testing.KilledAtCall.Step;
import org.shm4j.sync.testing.StoppedAtSteps;
import org.shm4j.testing.ShmNames;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.shm4j.sync.Children.BOUND;

/**
 * A take-over from a holder that closed its heap and lives on, raced by that holder opening the heap again and
 * holding anew: a lock word, a ring's role, a pipe end, a process slot and a barrier registration name a process, not
 * a hold, so the new hold's word equals the old one's, and a taker that judged the old hold (its process absent from
 * the attach table) and was then held up before its CAS took the new one: two holders at once. Since the fix, the
 * taker counts itself as taking over in its own attach slot from its judgment until its CAS, and the reopen waits
 * for that count (in {@code AttachTable.awaitSlot}), so the taker's CAS comes first. The taker, a child JVM, is held
 * by a debugger just before its CAS; this process reopens the heap on another thread, sees that thread waiting there,
 * lets the taker go on, and checks that exactly one of the two holds. Where the reopen does not wait (the code before
 * the fix), each test goes on in the order of the race instead and fails on its outcome: two holders.
 */
@Timeout(300)
class DetachedHolderTakeOverTest {
    private static final String ATTACH_TABLE = "org.shm4j.core.internal.AttachTable";
    private static final String ATTACH_WAIT = "awaitSlot";

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNotTakeOverAHoldTakenAnewByAProcessThatClosedAndReopenedItsHeap() throws Exception {
        String heapName = names.unique("detached-aba");
        Step readTheWord = Step.atLine(RobustMutex.class, "takeOverIfOwnerDead", "long owner = w & ~STATE_BITS;", 1);
        Step judged = Step.atLine(RobustMutex.class, "takeOverIfOwnerDead",
                "deadKey = (long) LONG.getVolatile(segment, MUTEX_OWNER_THREAD);", 1);
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        boolean detached = false;
        SharedLock lock = SharedLock.create(heap, "lock");
        lock.lock();
        try (StoppedAtSteps taker = StoppedAtSteps.start(List.of(readTheWord, judged), Taker.class, heapName)) {
            taker.awaitStopped(0, BOUND); // its try failed, and its give-up check read this process's word
            lock.unlock();
            detached = true;
            heap.close(); // this process's last view: it leaves the attach table and lives on
            taker.resume();
            assertThat(taker.awaitStoppedUnless(1, "TRIED", BOUND)).as("the taker judged this process gone")
                    .isNotNull();
            try (Reopened again = reopenWhileHeld(heapName, taker)) {
                SharedLock relocked = SharedLock.open(again.heap(), "lock");
                if (!again.waited()) { // the race's order: the same word as the taker read, then its CAS
                    relocked.lock();
                    taker.resume();
                }
                assertThat(taker.awaitLine("TRIED", BOUND)).as("the taker's try (this process's word gone meanwhile,"
                        + " or taken anew)").isEqualTo("TRIED false");
                if (again.waited()) {
                    relocked.lock();
                }
                assertThat(relocked.isHeldByCurrentThread()).isTrue();
                relocked.unlock();
                assertThat(again.waited()).as("the reopen waited for the taker's CAS").isTrue();
            }
        } finally {
            if (!detached) {
                heap.close();
            }
        }
    }

    /**
     * The same race for a ring's consumer role: the role word keeps this process's token through its close; its
     * reopen renames it as a gone holder's (the reopen sweep), and its next poll takes it over, back to this process's
     * token: the word a claimer that judged this process absent read before it was held up, so its CAS took the role
     * this process had just claimed anew.
     */
    @Test
    void shouldNotGiveARingsConsumerRoleAwayWhileItsProcessReopenedTheHeapAndConsumes() throws Exception {
        String heapName = names.unique("detached-role");
        Class<?> roles = Class.forName("org.shm4j.sync.ring.RingRoles"); // package-private
        Step readTheRole = Step.atLine(roles, "claim", "if (holder == me) {", 1);
        Step judged = Step.atLine(roles, "claim", "if (LONG.compareAndSet(block, offset, holder, me)) {", 1);
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        boolean detached = false;
        SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
        assertThat(ring.poll((type, buffer, offset, length) -> { })).as("this process claims the role").isZero();
        try (StoppedAtSteps claimer = StoppedAtSteps.start(List.of(readTheRole, judged), Consumer.class, heapName)) {
            claimer.awaitStopped(0, BOUND); // it read this process's token in the role word
            detached = true;
            heap.close(); // the role word keeps this process's token
            claimer.resume();
            assertThat(claimer.awaitStoppedUnless(1, "POLLED", BOUND)).as("the claimer judged this process gone")
                    .isNotNull();
            try (Reopened again = reopenWhileHeld(heapName, claimer)) {
                SharedRing reopened = SharedRing.open(again.heap(), "ring");
                String ours = "";
                if (!again.waited()) { // the race's order: its (swept) role claimed again, then the claimer's CAS
                    ours = poll(reopened);
                    claimer.resume();
                }
                assertThat(claimer.awaitLine("POLLED", BOUND)).as("the claimer, this process having closed its heap")
                        .isEqualTo("POLLED 0");
                if (again.waited()) {
                    ours = poll(reopened);
                }
                assertThat(ours).as("this process's poll, the claimer being the consumer")
                        .startsWith("refused: ").contains("pid " + claimer.pid());
                assertThat(again.waited()).as("the reopen waited for the claimer's CAS").isTrue();
            }
        } finally {
            if (!detached) {
                heap.close();
            }
        }
    }

    /**
     * An unblock acts for a ring's consumer without taking its role (af0f2612): this process, the MPSC consumer,
     * closed its heap, so another process's unblock goes ahead, and it is counted as a take-over until it is done.
     * This process, opening the heap again meanwhile, must wait for it: else it polls as the consumer (it takes its
     * role word, renamed by the reopen sweep, over at once) while the unblock pads at the same position. The
     * unblocker is held inside the stall rule's unblock; the reopen must wait in the attach table until it is let go
     * on.
     */
    @Test
    void shouldMakeTheConsumersReopenWaitForAnUnblockActingForIt() throws Exception {
        String heapName = names.unique("detached-unblock");
        Class<?> stallRule = Class.forName("org.shm4j.sync.ring.RingStallRule"); // package-private
        Step unblocking = Step.atLine(stallRule, "unblockAsConsumer",
                "return recovery.unblockAt(position, tail, recovery.record(position));", 1);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, 1024);
            assertThat(ring.poll((type, buffer, offset, length) -> { })).as("this process claims the role").isZero();
        } // the role word keeps this process's token through the close
        try (StoppedAtSteps unblocker = StoppedAtSteps.start(List.of(unblocking), Unblocker.class, heapName)) {
            assertThat(unblocker.awaitStoppedUnless(0, "UNBLOCKED", BOUND))
                    .as("the unblocker acting for this process's consumer, judged gone").isNotNull();
            try (Reopened again = reopenWhileHeld(heapName, unblocker)) {
                if (!again.waited()) { // the code before: it polls as the consumer while the unblock acts
                    assertThat(poll(SharedRing.open(again.heap(), "ring"))).isEqualTo("polled 0");
                    unblocker.resume();
                }
                assertThat(unblocker.awaitLine("UNBLOCKED", BOUND)).isEqualTo("UNBLOCKED false");
                assertThat(again.waited()).as("the reopen waited for the unblock").isTrue();
                assertThat(poll(SharedRing.open(again.heap(), "ring")))
                        .as("the role, renamed by the reopen sweep, claimed again by this process")
                        .isEqualTo("polled 0");
            }
        }
    }

    /**
     * The same race for a pipe end: the first end's owner word keeps this process's token through its close; its
     * reopen renames it (the reopen sweep) and its claim takes the end over, back to this process's token, while a
     * claimer that judged it absent and was held up before its CAS claims it too.
     */
    @Test
    void shouldNotGiveAPipeEndAwayWhileItsProcessReopenedTheHeapAndHoldsIt() throws Exception {
        String heapName = names.unique("detached-pipe");
        Step judged = Step.atLine(PipeEnds.class, "claim",
                "LONG.compareAndExchange(block, offset(end, PIPE_END_OWNER), owner, me);", 1);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedPipe.create(heap, "pipe", 1024).first(); // claimed; the owner word keeps it through the close
        }
        try (StoppedAtSteps claimer = StoppedAtSteps.start(List.of(judged), PipeClaimer.class, heapName)) {
            assertThat(claimer.awaitStoppedUnless(0, "CLAIMED", BOUND)).as("the claimer judged this process gone")
                    .isNotNull();
            try (Reopened again = reopenWhileHeld(heapName, claimer)) {
                SharedPipe pipe = SharedPipe.open(again.heap(), "pipe");
                String ours = "";
                if (!again.waited()) { // the race's order: its (swept) end claimed again, then the claimer's CAS
                    ours = claimFirst(pipe);
                    claimer.resume();
                }
                assertThat(claimer.awaitLine("CLAIMED", BOUND)).as("the claimer, this process having closed its heap")
                        .isEqualTo("CLAIMED");
                if (again.waited()) {
                    ours = claimFirst(pipe);
                }
                assertThat(ours).as("this process's claim of the end the claimer holds")
                        .startsWith("refused: ").contains("pid " + claimer.pid());
                assertThat(again.waited()).as("the reopen waited for the claimer's CAS").isTrue();
            }
        }
    }

    /**
     * The same race for a read-write lock's process slot: this process closed its heap holding a read lock, and a
     * writer reclaims its slot (judged absent, then held up before its CAS) while this process reopens the heap and
     * finds that slot still its own. The reclaim then freed a slot that this process counts its read holds in: a hold
     * of a slot that names no process, which the next process to claim the slot shares.
     */
    @Test
    void shouldNotReclaimAProcessSlotThatItsProcessClaimedAgainAfterReopeningTheHeap() throws Exception {
        String heapName = names.unique("detached-slot");
        Step judged = Step.atLine(ProcessSlots.class, "TOKEN, token, reclaimer)", 1);
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        boolean detached = false;
        SharedReadWriteLock rw = SharedReadWriteLock.create(heap, "rw");
        FutureTask<Boolean> readLock = new FutureTask<>(() -> rw.readLock().tryLock());
        Thread.ofPlatform().name("read holder").start(readLock); // ends holding it: no thread of it unlocks
        assertThat(readLock.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        try (StoppedAtSteps writer = StoppedAtSteps.start(List.of(judged), Writer.class, heapName)) {
            detached = true;
            heap.close(); // the slot keeps this process's token and its hold
            assertThat(writer.awaitStoppedUnless(0, "WROTE", BOUND)).as("the writer judged this process gone")
                    .isNotNull();
            try (Reopened again = reopenWhileHeld(heapName, writer)) {
                SharedReadWriteLock reopened = SharedReadWriteLock.open(again.heap(), "rw");
                if (!again.waited()) { // the race's order: its slot found again (the writer holds), then the CAS
                    assertThat(reopened.readLock().tryLock()).as("a read lock while the writer drains").isFalse();
                    writer.resume();
                }
                assertThat(writer.awaitLine("WROTE", BOUND)).as("the writer, this process's hold dropped")
                        .isEqualTo("WROTE true");
                writer.awaitLine("UNLOCKED", BOUND);
                assertThat(reopened.readLock().tryLock()).isTrue();
                assertThat(reopened.readerPids()).as("the processes whose read holds are counted")
                        .containsExactly(ProcessHandle.current().pid());
                reopened.readLock().unlock();
                assertThat(again.waited()).as("the reopen waited for the writer's CAS").isTrue();
            }
        } finally {
            if (!detached) {
                heap.close();
            }
        }
    }

    /**
     * The same race for a barrier's registration: a reset (the taker) judged this process's entry gone and was held
     * up before its CAS; another reset freed the entry meanwhile, and this process, having reopened the heap,
     * registered a party in it. The taker's CAS from this process's token then freed the new registration.
     */
    @Test
    void shouldNotFreeABarrierRegistrationMadeAnewByAProcessThatReopenedItsHeap() throws Exception {
        String heapName = names.unique("detached-party");
        Step beforeTheFree = Step.atLine(BarrierGenerations.class, "reset", "registry.freeDead();", 1);
        Step judged = Step.atLine(BarrierRegistry.class, ", token, 0L)", 1);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedBarrier.create(heap, "barrier", 2).register(); // entry 0 keeps this process's token through the close
        }
        try (StoppedAtSteps other = StoppedAtSteps.start(List.of(beforeTheFree), Resetter.class, heapName)) {
            // attached before the taker starts, so before it counts itself: an open while it counts would wait 5 s
            // for it and fail (seen in CI when both started at once and the taker's judgment came first)
            other.awaitStopped(0, BOUND);
            try (StoppedAtSteps taker = StoppedAtSteps.start(List.of(judged), Resetter.class, heapName)) {
                resetAcrossTheReopen(heapName, other, taker);
            }
        }
    }

    /** The taker judged, {@code other} freed entry 0, this process reopens and registers: one party, then. */
    private static void resetAcrossTheReopen(String heapName, StoppedAtSteps other, StoppedAtSteps taker)
            throws Exception {
        assertThat(taker.awaitStoppedUnless(0, "RESET", BOUND)).as("the taker judged this process gone")
                .isNotNull();
        other.resume();
        other.awaitLine("RESET", BOUND); // it freed entry 0
        try (Reopened again = reopenWhileHeld(heapName, taker)) {
            SharedBarrier barrier = SharedBarrier.open(again.heap(), "barrier");
            if (!again.waited()) { // the race's order: entry 0 registered anew, then the taker's CAS
                barrier.register();
                taker.resume();
            }
            taker.awaitLine("RESET", BOUND);
            if (again.waited()) {
                barrier.register();
            }
            assertThat(barrier.getRegisteredParties()).as("this process's party, registered after the reopen")
                    .isEqualTo(1);
            assertThat(again.waited()).as("the reopen waited for the taker's CAS").isTrue();
        }
    }

    /**
     * Opens {@code heapName} on another thread while {@code taker} is held just before its CAS, and lets the taker go
     * on once that thread waits in the attach table for it (the fixed code), or not at all if the open returns
     * without waiting (the code before: the caller then acts in the race's order and lets the taker go on itself).
     */
    private static Reopened reopenWhileHeld(String heapName, StoppedAtSteps taker) throws Exception {
        FutureTask<SharedHeap> open = new FutureTask<>(() -> SharedHeap.open(heapName));
        Thread opener = Thread.ofPlatform().name("reopen of " + heapName).start(open);
        long deadline = System.nanoTime() + BOUND.toNanos();
        boolean waiting = false;
        while (!open.isDone() && !waiting) {
            assertThat(System.nanoTime() - deadline).as("the reopen waiting in the attach table, or done (at most "
                    + BOUND + ")").isNegative();
            waiting = parksInAttachWait(opener.getStackTrace());
            Thread.yield();
        }
        if (waiting) {
            assertThat(open.isDone()).as("the reopen, until the taker's CAS").isFalse();
            taker.resume();
        }
        return new Reopened(open.get(BOUND.toSeconds(), TimeUnit.SECONDS), waiting);
    }

    /**
     * @return true if {@code stack} is parked by the attach table's wait: every open passes through that wait, which
     *         returns at once where no take-over is in flight, so a frame of it alone is no proof (the code before the
     *         fix was once seen passing through it, and taken as waiting); it parks only while one is
     */
    private static boolean parksInAttachWait(StackTraceElement[] stack) {
        for (int i = 1; i < stack.length; i++) {
            if (stack[i].getClassName().equals(ATTACH_TABLE) && stack[i].getMethodName().equals(ATTACH_WAIT)) {
                return stack[i - 1].getClassName().equals(LockSupport.class.getName())
                        && stack[i - 1].getMethodName().equals("parkNanos");
            }
        }
        return false;
    }

    /** The heap this process opened again, and whether that open waited for the taker. */
    private record Reopened(SharedHeap heap, boolean waited) implements AutoCloseable {
        @Override
        public void close() {
            heap.close();
        }
    }

    private static String poll(SharedRing ring) {
        try {
            return "polled " + ring.poll((type, buffer, offset, length) -> { });
        } catch (IllegalStateException refused) {
            return "refused: " + refused.getMessage();
        }
    }

    private static String claimFirst(SharedPipe pipe) {
        try {
            pipe.first();
            return "claimed";
        } catch (IllegalStateException refused) {
            return "refused: " + refused.getMessage();
        }
    }

    /** Keeps a child that holds something alive until the test kills it. */
    private static void stay() throws InterruptedException {
        new CountDownLatch(1).await(3 * BOUND.toSeconds(), TimeUnit.SECONDS);
    }

    /** {@code main(heap)}: one poll of the ring, printing {@code POLLED} and its count or refusal; then stays. */
    public static final class Consumer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                try {
                    Children.say("POLLED " + ring.poll((type, buffer, offset, length) -> { }));
                } catch (IllegalStateException refused) {
                    Children.say("POLLED refused: " + refused.getMessage());
                }
                stay();
            }
        }
    }

    /** {@code main(heap)}: one {@code unblock()} of the ring, printing {@code UNBLOCKED} and its result or refusal. */
    public static final class Unblocker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                try {
                    Children.say("UNBLOCKED " + ring.unblock());
                } catch (IllegalStateException refused) {
                    Children.say("UNBLOCKED refused: " + refused.getMessage());
                }
            }
        }
    }

    /** {@code main(heap)}: one {@code tryLock()} of the lock, printing {@code TRIED} and its result. */
    public static final class Taker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock lock = SharedLock.open(heap, "lock");
                Children.say("TRIED " + lock.tryLock());
            }
        }
    }

    /** {@code main(heap)}: claims the pipe's first end, printing {@code CLAIMED} or the refusal; then stays. */
    public static final class PipeClaimer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedPipe pipe = SharedPipe.open(heap, "pipe");
                try {
                    pipe.first();
                    Children.say("CLAIMED");
                } catch (IllegalStateException refused) {
                    Children.say("CLAIMED refused: " + refused.getMessage());
                }
                stay();
            }
        }
    }

    /**
     * {@code main(heap)}: one write {@code tryLock()} of the read-write lock, printing {@code WROTE} and its result;
     * unlocks, prints {@code UNLOCKED}, and stays.
     */
    public static final class Writer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedReadWriteLock rw = SharedReadWriteLock.open(heap, "rw");
                boolean locked = rw.writeLock().tryLock();
                Children.say("WROTE " + locked);
                if (locked) {
                    rw.writeLock().unlock();
                }
                Children.say("UNLOCKED");
                stay();
            }
        }
    }

    /** {@code main(heap)}: one {@code reset()} of the barrier (it frees gone processes' entries), then RESET. */
    public static final class Resetter {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedBarrier.open(heap, "barrier").reset();
                Children.say("RESET");
            }
        }
    }
}
