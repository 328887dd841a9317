package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.internal.SyncLayout.COND_ARRIVED_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_EPOCH_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_SERVED_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COND_TOKENS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_BLOCKED_BEFORE;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_WAITING;

/**
 * A waiter SIGKILLed while blocked (a ring consumer waiting for a message, a ring producer waiting for room, a fair
 * lock waiter) leaves its announcement, the waiting bit (the fair lock's flag, 0 or 1; bit 0 of a ring's waiters
 * word, whose sticky bit 1 stays set once a waiter blocked), set. The next signal (offer, poll, contended unlock)
 * clears it with one spare wake-up, and the signals after it wake nobody: the bit stays clear and the sequence does
 * not move again. A condition's dead waiter stays counted until its group is released: the next signal serves it
 * with one token (a spare wake-up), the signals after it hand out none while no live waiter comes, and the signal
 * that serves a live waiter arriving later releases it. A waiter blocked in this process afterwards is still woken.
 */
@Timeout(120)
class DeadWaiterKillTest {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private static final Duration BOUND = Children.BOUND;
    private static final int CAPACITY = 1024;
    private static final byte[] MESSAGE = new byte[16];
    /** Signals after the one that clears a dead waiter's flag, each of which must leave it and the sequence alone. */
    private static final int LATER_SIGNALS = 200;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldClearADeadConsumersAnnouncementAtTheNextOfferAndStillWakeALiveOne() throws Exception {
        deadRingWaiter(true, RING_NOT_EMPTY_WAITERS_OFFSET, RING_NOT_EMPTY_SEQ_OFFSET);
    }

    @Test
    void shouldClearADeadProducersAnnouncementAtTheNextPollAndStillWakeALiveOne() throws Exception {
        deadRingWaiter(false, RING_NOT_FULL_WAITERS_OFFSET, RING_NOT_FULL_SEQ_OFFSET);
    }

    /**
     * A child consumer waiting for a message ({@code consumer}) or producer waiting for room is killed announced;
     * then this process's signals (offers for a consumer, polls for a producer) are checked through the side's flag
     * and sequence, and a waiter of that side in this process is served.
     */
    private void deadRingWaiter(boolean consumer, long flagOffset, long seqOffset) throws Exception {
        String heapName = names.unique(consumer ? "dead-consumer" : "dead-producer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPSC, CAPACITY);
            MemorySegment header = heap.lookup("ring", SyncLayout.RING).segment();
            if (!consumer) {
                fill(ring);
            }
            killWhileAnnounced(header, flagOffset, heapName, consumer ? "poll" : "offer");

            int seq = word(header, seqOffset);
            signal(ring, consumer);
            assertFlagClear(header, flagOffset, seqOffset, seq + 1, "after the next signal: one spare wake-up");
            while (ring.poll((type, buffer, offset, length) -> { }) > 0) {
                assertThat(word(header, flagOffset)).isEqualTo(RING_BLOCKED_BEFORE);
            }
            for (int i = 0; i < LATER_SIGNALS; i++) {
                assertThat(ring.offer(1, MESSAGE, 0, MESSAGE.length)).isTrue();
                assertThat(ring.poll((type, buffer, offset, length) -> { })).isEqualTo(1);
            }
            assertFlagClear(header, flagOffset, seqOffset, seq + 1, "after later signals: no wake-up");

            if (!consumer) {
                fill(ring);
            }
            FutureTask<Boolean> live = startBlocked(header, flagOffset, () -> consumer
                    ? ring.poll((type, buffer, offset, length) -> { }, BOUND, WaitStrategy.BLOCKING) == 1
                    : ring.offer(2, MESSAGE, 0, MESSAGE.length, BOUND, WaitStrategy.BLOCKING));
            signal(ring, consumer);
            assertThat(live.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the live waiter was served").isTrue();
            assertFlagClear(header, flagOffset, seqOffset, seq + 2, "after the live waiter's wake-up");
        }
    }

    /** Offers a message (for a waiting consumer) or polls one (for a waiting producer). */
    private static void signal(SharedRing ring, boolean consumer) {
        if (consumer) {
            assertThat(ring.offer(1, MESSAGE, 0, MESSAGE.length)).isTrue();
        } else {
            assertThat(ring.poll((type, buffer, offset, length) -> { })).isEqualTo(1);
        }
    }

    /** Asserts a ring side's waiting bit clear (its sticky bit stays set) and its sequence at {@code seq}. */
    private static void assertFlagClear(MemorySegment header, long flagOffset, long seqOffset, int seq, String when) {
        assertCleared(header, flagOffset, RING_BLOCKED_BEFORE, seqOffset, seq, when);
    }

    /** Checks that the waiters word at {@code flagOffset} is {@code cleared} and the sequence is {@code seq}. */
    private static void assertCleared(MemorySegment header, long flagOffset, int cleared, long seqOffset, int seq,
                                      String when) {
        assertThat(word(header, flagOffset)).as("waiters word " + when).isEqualTo(cleared);
        assertThat(word(header, seqOffset)).as("sequence " + when).isEqualTo(seq);
    }

    @Test
    void shouldClearADeadFairLockWaitersAnnouncementAtTheNextUnlockAndStillWakeALiveOne() throws Exception {
        String heapName = names.unique("dead-fair-waiter");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedFairLock lock = SharedFairLock.create(heap, "fair");
            MemorySegment block = heap.lookup("fair", SyncLayout.FAIR_LOCK).segment();
            lock.lock();
            killWhileAnnounced(block, FAIR_WAITERS_OFFSET, heapName, "lock");
            lock.unlock(); // passes the turn to the dead waiter's ticket
            assertThat(word(block, FAIR_WAITERS_OFFSET)).as("flag after the next unlock").isZero();

            // this thread's wait skips the dead waiter's turn (within about 50 ms), clearing its own announcement
            assertThat(lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            lock.unlock();
            for (int i = 0; i < LATER_SIGNALS; i++) {
                lock.lock();
                lock.unlock();
            }
            assertThat(word(block, FAIR_WAITERS_OFFSET)).as("flag after later unlocks").isZero();
            assertThat(lock.queueLength()).isZero();

            lock.lock();
            FutureTask<Boolean> live = startBlocked(block, FAIR_WAITERS_OFFSET, () -> {
                boolean locked = lock.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS);
                if (locked) {
                    lock.unlock();
                }
                return locked;
            });
            lock.unlock();
            assertThat(live.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the live waiter got the lock").isTrue();
            assertThat(word(block, FAIR_WAITERS_OFFSET)).isZero();
        }
    }

    /** Asserts a condition's signal word: epoch, tokens, served and arrived waiters (unsigned shorts at 64..70). */
    private static void assertWord(MemorySegment block, int epoch, int tokens, int served, int arrived, String when) {
        assertThat(List.of(ushort(block, COND_EPOCH_OFFSET), ushort(block, COND_TOKENS_OFFSET),
                ushort(block, COND_SERVED_OFFSET), ushort(block, COND_ARRIVED_OFFSET)))
                .as("epoch, tokens, served, arrived " + when)
                .isEqualTo(List.of(epoch & 0xFFFF, tokens, served, arrived));
    }

    private static int ushort(MemorySegment block, long offset) {
        return Short.toUnsignedInt(block.get(JAVA_SHORT, offset));
    }

    @Test
    void shouldServeADeadConditionWaiterOneSpareTokenThenNoneAndReleaseItWhenALiveOneIsServed() throws Exception {
        String heapName = names.unique("dead-cond-waiter");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = SharedCondition.create(heap, "cond", lock);
            MemorySegment block = heap.lookup("cond", SyncLayout.CONDITION).segment();
            int epoch = killWaiter(heapName, condition, block);
            lock.lock(); // taken over if the child died holding it, before its await released it
            try {
                condition.signal();
                assertWord(block, epoch + 1, 1, 1, 0,
                        "after the next signal: the dead waiter served, one spare token and wake-up");
                for (int i = 0; i < LATER_SIGNALS; i++) {
                    condition.signal();
                    condition.signalAll();
                }
                assertWord(block, epoch + 1, 1, 1, 0,
                        "after later signals: no wake-up (every counted waiter has a token)");
                // the token dated an hour ahead: no hand-over (the next test's) however slow this machine is
                JAVA_LONG.varHandle().setVolatile(block, SyncLayout.COND_TOKENS_SINCE_OFFSET,
                        System.nanoTime() + TimeUnit.HOURS.toNanos(1));
            } finally {
                lock.unlock();
            }
            FutureTask<Boolean> live = startConditionWaiter(lock, condition);
            assertThat(live.isDone()).as("the dead waiter's token is not the live waiter's: it came later").isFalse();
            lock.withLock(condition::signal);
            assertThat(live.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the live waiter was signalled").isTrue();
            assertWord(block, epoch + 2, 0, 0, 0,
                    "after the live waiter took its token: the dead one was released when the live one was served");
            assertThat(condition.toString()).endsWith("(0 waiting)");
        }
    }

    /**
     * A signal that went to a dead waiter: the token stays untaken, so the waiter that arrived after it takes the
     * served group's tokens over after about a second, and is woken without another signal.
     */
    @Test
    void shouldHandATokenADeadWaiterNeverTookToALiveWaiterThatArrivedAfterIt() throws Exception {
        String heapName = names.unique("dead-cond-token");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = SharedCondition.create(heap, "cond", lock);
            MemorySegment block = heap.lookup("cond", SyncLayout.CONDITION).segment();
            int epoch = killWaiter(heapName, condition, block);
            long start = System.nanoTime();
            lock.withLock(condition::signal); // serves the dead waiter, with the token a live one will need
            FutureTask<Boolean> live = startConditionWaiter(lock, condition);
            assertThat(live.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("woken with no other signal").isTrue();
            assertThat(System.nanoTime() - start).as("not before the token was untaken for the hand-over's time")
                    .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(SyncLayout.COND_HAND_OVER_MILLIS));
            assertWord(block, epoch + 2, 0, 0, 0, "after the hand-over: the dead waiter released, nothing counted");
        }
    }

    /**
     * Waiters killed while counted, with no signal to release them, fill the count in time (one count per death: the
     * first here is a real kill, and the arrived count is then set to 65,535, as that many deaths leave it): the next
     * live waiter releases them all and counts itself alone (before, it was refused for good, with
     * {@link IllegalStateException}), and a signal wakes it.
     */
    @Test
    void shouldReleaseDeadWaitersThatFilledTheCountWhenALiveOneArrives() throws Exception {
        String heapName = names.unique("dead-cond-full");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            SharedCondition condition = SharedCondition.create(heap, "cond", lock);
            MemorySegment block = heap.lookup("cond", SyncLayout.CONDITION).segment();
            int epoch = killWaiter(heapName, condition, block);
            block.set(JAVA_SHORT, COND_ARRIVED_OFFSET, (short) SyncLayout.COND_MAX_WAITERS); // no waiter runs now
            FutureTask<Boolean> live = startConditionWaiter(lock, condition, 1);
            assertWord(block, epoch + 2, 0, 0, 1, "the dead waiters released, the live one counted");
            lock.withLock(condition::signal);
            assertThat(live.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the live waiter was signalled").isTrue();
            assertWord(block, epoch + 3, 0, 0, 0, "after the live waiter took its token");
        }
    }

    /** Starts a child JVM waiting on the condition, kills it once it is counted. @return the epoch then */
    private int killWaiter(String heapName, SharedCondition condition, MemorySegment block) throws Exception {
        try (ChildJvm child = ChildJvm.start(Waiter.class, heapName, "await")) {
            Children.awaitTrue("the await child counted", () -> condition.toString().endsWith("(1 waiting)"));
            child.kill();
        }
        int epoch = ushort(block, COND_EPOCH_OFFSET);
        assertWord(block, epoch, 0, 0, 1, "with the dead waiter arrived");
        return epoch;
    }

    /** Starts a thread waiting on the condition (up to the bound) and waits until it is counted, the second. */
    private static FutureTask<Boolean> startConditionWaiter(SharedLock lock, SharedCondition condition) {
        return startConditionWaiter(lock, condition, 2);
    }

    /** Starts a thread waiting on the condition (up to the bound) and waits until {@code counted} are counted. */
    private static FutureTask<Boolean> startConditionWaiter(SharedLock lock, SharedCondition condition, int counted) {
        FutureTask<Boolean> live = new FutureTask<>(() -> {
            lock.lock();
            try {
                return condition.await(BOUND.toSeconds(), TimeUnit.SECONDS);
            } finally {
                lock.unlock();
            }
        });
        Thread.ofPlatform().daemon().start(live);
        Children.awaitTrue("the live waiter counted", () -> condition.toString().endsWith("(" + counted + " waiting)")
                || live.isDone());
        return live;
    }

    @Test
    void shouldRefuseRingsOfTheCountingAndUnfencedLayoutsAndFairLocksOfTheCountingOne() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            heap.allocate("old ring", new BlockType(0x5348_0031, 5), 2048);
            heap.allocate("v6 ring", new BlockType(0x5348_0031, 6), 2048);
            heap.allocate("old fair", new BlockType(0x5348_0022, 3), SyncLayout.FAIR_SIZE);
            assertThatThrownBy(() -> SharedRing.open(heap, "old ring")).isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageContaining("v5").hasMessageContaining("v11");
            assertThatThrownBy(() -> SharedRing.open(heap, "v6 ring")).isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageContaining("v6").hasMessageContaining("v11");
            assertThatThrownBy(() -> SharedFairLock.open(heap, "old fair"))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("v3").hasMessageContaining("v4");
        }
    }

    @Test
    void shouldRefuseAConditionOfTheCountingLayout() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            heap.allocate("old cond", new BlockType(0x5348_0065, 1), SyncLayout.COND_SIZE);
            assertThatThrownBy(() -> SharedCondition.open(heap, "old cond", lock))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("v1").hasMessageContaining("v5");
            heap.allocate("v2 cond", new BlockType(0x5348_0065, 2), SyncLayout.COND_SIZE); // before the lock field
            assertThatThrownBy(() -> SharedCondition.open(heap, "v2 cond", lock))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("v2").hasMessageContaining("v5");
            heap.allocate("v3 cond", new BlockType(0x5348_0065, 3), SyncLayout.COND_SIZE); // a signal woke them all
            assertThatThrownBy(() -> SharedCondition.open(heap, "v3 cond", lock))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("v3").hasMessageContaining("v5");
            heap.allocate("v4 cond", new BlockType(0x5348_0065, 4), SyncLayout.COND_SIZE); // one waiter group
            assertThatThrownBy(() -> SharedCondition.open(heap, "v4 cond", lock))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("v4").hasMessageContaining("v5");
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment memory = arena.allocate(SyncLayout.COND_SIZE, 64);
                SharedCondition.format(memory, 0, lock);
                memory.set(JAVA_INT, SyncLayout.COORD_VERSION_OFFSET, 1);
                assertThatThrownBy(() -> SharedCondition.wrap(memory, 0, lock)).isInstanceOf(ShmFormatException.class)
                        .hasMessageContaining("v1").hasMessageContaining("v5");
            }
        }
    }

    /** Starts a {@link Waiter} child doing {@code what}, waits until it announced itself in the flag, kills it. */
    private static void killWhileAnnounced(MemorySegment block, long flagOffset, String heapName, String what)
            throws InterruptedException {
        try (ChildJvm child = ChildJvm.start(Waiter.class, heapName, what)) {
            Children.awaitTrue("the " + what + " child's announcement", () -> waiting(block, flagOffset));
            child.kill();
        }
        assertThat(waiting(block, flagOffset)).as("the dead " + what + " child's announcement").isTrue();
    }

    /** Runs {@code call} on a new thread and waits until it announced itself in the flag at {@code flagOffset}. */
    private static <T> FutureTask<T> startBlocked(MemorySegment block, long flagOffset, Callable<T> call) {
        FutureTask<T> task = new FutureTask<>(call);
        Thread.ofPlatform().daemon().start(task);
        Children.awaitTrue("the live waiter's announcement", () -> waiting(block, flagOffset) || task.isDone());
        assertThat(task.isDone()).as("the live waiter still waits").isFalse();
        return task;
    }

    /** Offers messages until the ring refuses one. */
    private static void fill(SharedRing ring) {
        while (ring.offer(1, MESSAGE, 0, MESSAGE.length)) {
            assertThat(ring.isEmpty()).isFalse();
        }
    }

    /** @return whether bit 0 is set: a ring's waiting bit, or a fair lock's flag (0 or 1) */
    private static boolean waiting(MemorySegment block, long offset) {
        return (word(block, offset) & RING_WAITING) != 0;
    }

    private static int word(MemorySegment block, long offset) {
        return (int) INT.getVolatile(block, offset); // volatile: written by other processes
    }

    /**
     * {@code main(heap, what)}: waits on the heap's {@code "ring"} for a message ({@code poll}) or room
     * ({@code offer}), for its fair lock {@code "fair"} ({@code lock}), or on its condition {@code "cond"} of lock
     * {@code "lock"} ({@code await}), blocking, until killed.
     */
    public static final class Waiter {
        public static void main(String[] args) throws Exception {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                boolean done = switch (args[1]) {
                    case "poll" -> SharedRing.open(heap, "ring")
                            .poll((type, buffer, offset, length) -> { }, BOUND, WaitStrategy.BLOCKING) == 1;
                    case "offer" -> SharedRing.open(heap, "ring")
                            .offer(2, MESSAGE, 0, MESSAGE.length, BOUND, WaitStrategy.BLOCKING);
                    case "await" -> {
                        SharedLock lock = SharedLock.open(heap, "lock");
                        SharedCondition condition = SharedCondition.open(heap, "cond", lock);
                        lock.lock();
                        try {
                            yield condition.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                        } finally {
                            lock.unlock();
                        }
                    }
                    default -> SharedFairLock.open(heap, "fair").tryLock(BOUND.toSeconds(), TimeUnit.SECONDS);
                };
                Children.say(done ? "DONE" : "TIMED OUT");
            }
        }
    }
}
