package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;

/**
 * {@link SharedBarrier} in one process and across child JVMs, including a waiting party killed with SIGKILL and a
 * registered party killed before it arrives.
 */
class SharedBarrierTest {
    private static final int PARTIES = 4;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldHandOutEveryArrivalIndexOncePerGeneration() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 3);
            int generations = 200;
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                List<Future<int[]>> parties = new ArrayList<>();
                for (int p = 0; p < 3; p++) {
                    parties.add(pool.submit(() -> {
                        int[] indices = new int[generations];
                        for (int g = 0; g < generations; g++) {
                            indices[g] = barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                        }
                        return indices;
                    }));
                }
                int[][] all = new int[3][];
                for (int p = 0; p < 3; p++) {
                    all[p] = parties.get(p).get(BOUND.toSeconds(), TimeUnit.SECONDS);
                }
                for (int g = 0; g < generations; g++) {
                    assertThat(List.of(all[0][g], all[1][g], all[2][g])).as("generation %d", g)
                            .containsExactlyInAnyOrder(0, 1, 2);
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(barrier.getNumberWaiting()).isZero();
            assertThat(SharedBarrier.create(heap, "one", 1).await()).as("one party trips at once").isZero();
        }
    }

    @Test
    void shouldBreakOnTimeoutUntilReset() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            assertThatThrownBy(() -> barrier.await(20, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class)
                    .hasMessage("barrier 'barrier': 1 of 2 parties arrived in time; the barrier is broken for them all"
                            + " until a reset");
            assertThat(barrier.isBroken()).isTrue();
            assertThatThrownBy(barrier::await).isInstanceOf(BrokenBarrierException.class);
            barrier.reset();
            assertThat(barrier.isBroken()).isFalse();
            Thread.currentThread().interrupt();
            assertThatThrownBy(barrier::await).isInstanceOf(InterruptedException.class);
            assertThat(barrier.isBroken()).as("an interrupted arrival breaks it").isTrue();
            Thread.currentThread().interrupt(); // helper-148: as CyclicBarrier, broken first, the interrupt kept
            assertThatThrownBy(barrier::await).isInstanceOf(BrokenBarrierException.class);
            assertThat(Thread.interrupted()).isTrue();
            barrier.reset();
            assertThat(barrier.toString()).isEqualTo("barrier 'barrier' (0 of 2 waiting)");
        }
    }

    @Test
    void shouldBreakTheWaitersOfAReset() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Integer> waiter = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the first party waits", () -> barrier.getNumberWaiting() == 1);
                barrier.reset();
                assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .hasCauseInstanceOf(BrokenBarrierException.class);
                assertThat(barrier.isBroken()).as("reset leaves a fresh generation").isFalse();
                Future<Integer> next = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                assertThat(barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isBetween(0, 1);
                assertThat(next.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isBetween(0, 1);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /**
     * A party asleep through two resets made back to back (two parties that each got an exception reset the barrier,
     * as users of {@code CyclicBarrier} do) gets {@link BrokenBarrierException}: its generation never tripped. Layout
     * version 2 kept only the last reset generation, and such a party returned an arrival index (an outside sweep:
     * 45 of 50 rounds).
     */
    @Test
    void shouldBreakAWaiterAsleepThroughTwoResets() throws Exception {
        withBarrier(2, 1, (barrier, pool) -> {
            for (int round = 0; round < 20; round++) {
                Future<Integer> waiter = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the first party waits", () -> barrier.getNumberWaiting() == 1);
                barrier.reset();
                barrier.reset();
                assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("round %d", round)
                        .hasCauseInstanceOf(BrokenBarrierException.class);
            }
        });
    }

    /** Four of five parties come; the first to time out and every party it breaks reset the barrier at once. */
    @Test
    void shouldReturnNoIndexFromAGenerationThatNeverTrippedWhenEveryFailedPartyResets() throws Exception {
        withBarrier(5, 4, (barrier, pool) -> {
            for (int round = 0; round < 5; round++) {
                List<Future<String>> parties = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    parties.add(pool.submit(() -> awaitOrReset(barrier, BOUND.toMillis())));
                }
                Children.awaitTrue("three parties wait", () -> barrier.getNumberWaiting() == 3);
                parties.add(pool.submit(() -> awaitOrReset(barrier, 100)));
                for (Future<String> party : parties) {
                    assertThat(party.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("round %d", round)
                            .isIn("TimeoutException", "BrokenBarrierException");
                }
            }
        });
    }

    /** A party whose generation tripped returns its index, however late it wakes after a reset of the next. */
    @Test
    void shouldReturnTheIndexOfATrippedGenerationAfterTheNextIsReset() throws Exception {
        withBarrier(2, 2, (barrier, pool) -> {
            for (int round = 0; round < 20; round++) {
                Future<Integer> first = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the first party waits", () -> barrier.getNumberWaiting() == 1);
                assertThat(barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero(); // the trip
                Future<Integer> next = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("a party of the next generation waits", () -> barrier.getNumberWaiting() == 1);
                barrier.reset();
                assertThat(first.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("round %d", round).isOne();
                assertThatThrownBy(() -> next.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .hasCauseInstanceOf(BrokenBarrierException.class);
            }
        });
    }

    @Test
    void shouldLeaveAGenerationNobodyArrivedInOnReset() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            MemorySegment block = heap.find("barrier").orElseThrow().segment();
            byte[] before = block.toArray(ValueLayout.JAVA_BYTE);
            barrier.reset();
            barrier.reset();
            assertThat(block.toArray(ValueLayout.JAVA_BYTE)).as("nothing to break, no generation").isEqualTo(before);
        }
    }

    /** Runs {@code body} on a barrier of {@code parties} in an anonymous heap, with a pool of {@code threads}. */
    private static void withBarrier(int parties, int threads, BarrierBody body) throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", parties);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                body.run(barrier, pool);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** A test's body: see {@link #withBarrier}. */
    private interface BarrierBody {
        void run(SharedBarrier barrier, ExecutorService pool) throws Exception;
    }

    /** @return the index {@code await} returned, or the simple name of its exception after a {@code reset()} */
    private static String awaitOrReset(SharedBarrier barrier, long timeoutMillis) throws InterruptedException {
        try {
            return String.valueOf(barrier.await(timeoutMillis, TimeUnit.MILLISECONDS));
        } catch (BrokenBarrierException | TimeoutException e) {
            barrier.reset();
            return e.getClass().getSimpleName();
        }
    }

    @Test
    void shouldCheckParametersAndHeaders() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> SharedBarrier.create(heap, "b", 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("barrier 'b': parties=0 (expected: 1..1024)");
            assertThatThrownBy(() -> SharedBarrier.requiredBytes(1025)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("barrier: parties=1025 (expected: 1..1024)");
            SharedBarrier.openOrCreate(heap, "b", 3);
            assertThat(SharedBarrier.open(heap, "b").getParties()).isEqualTo(3);
            assertThatThrownBy(() -> SharedBarrier.openOrCreate(heap, "b", 4))
                    .isInstanceOf(ShmTypeMismatchException.class);
            MemorySegment raw = arena.allocate(SharedBarrier.requiredBytes(5), 64);
            assertThat(SharedBarrier.format(raw, 0, 5).getParties()).isEqualTo(5);
            assertThat(SharedBarrier.wrap(raw, 0).getParties()).isEqualTo(5);
            raw.set(ValueLayout.JAVA_INT, 16, 5000); // a corrupted parties field is refused before sizing
            assertThatThrownBy(() -> SharedBarrier.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                    .hasMessage("barrier at offset 0 has a corrupted header: parties=5000");
        }
    }

    /**
     * The arrival count (high half of the state word) is a slot index: one outside 0..parties - 1 is refused by
     * {@code open} and by an {@code await} of a barrier opened before the damage, before any slot is written.
     */
    @Test
    void shouldRefuseAnArrivalCountNoBarrierHasWhenOpenedOrAwaited() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier live = SharedBarrier.create(heap, "step", 3);
            MemorySegment block = heap.find("step").orElseThrow().segment();
            byte[] beforeState = block.asSlice(0, SyncLayout.BARRIER_STATE_OFFSET).toArray(ValueLayout.JAVA_BYTE);
            byte[] afterState = block.asSlice(SyncLayout.BARRIER_BROKEN_GENERATIONS_OFFSET)
                    .toArray(ValueLayout.JAVA_BYTE);
            for (int arrived : new int[] {4, 5, -1, 0x4186_0000}) { // 3: the last party runs the barrier action
                setArrived(block, arrived);
                String message = "barrier 'step' is corrupted: arrived=" + arrived + " (expected: 0..3)";
                assertThatThrownBy(() -> SharedBarrier.open(heap, "step")).as("open, arrived=%d", arrived)
                        .isInstanceOf(ShmFormatException.class).hasMessage(message);
                assertThatThrownBy(() -> live.await(300, TimeUnit.MILLISECONDS)).as("await, arrived=%d", arrived)
                        .isInstanceOf(ShmFormatException.class).hasMessage(message);
                assertThat(block.asSlice(0, SyncLayout.BARRIER_STATE_OFFSET).toArray(ValueLayout.JAVA_BYTE))
                        .as("header untouched, arrived=%d", arrived).isEqualTo(beforeState);
                assertThat(block.asSlice(SyncLayout.BARRIER_BROKEN_GENERATIONS_OFFSET).toArray(ValueLayout.JAVA_BYTE))
                        .as("slots and registrations untouched, arrived=%d", arrived).isEqualTo(afterState);
                live.reset(); // a new generation with nobody arrived
                afterState = block.asSlice(SyncLayout.BARRIER_BROKEN_GENERATIONS_OFFSET).toArray(ValueLayout.JAVA_BYTE);
            }
            assertThat(SharedBarrier.open(heap, "step").toString()).isEqualTo("barrier 'step' (0 of 3 waiting)");
        }
    }

    @Test
    void shouldBreakTheGenerationOfAWaiterWhenItsArrivalCountIsCorrupted() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "step", 3);
            MemorySegment block = heap.find("step").orElseThrow().segment();
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Integer> waiter = pool.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the first party waits", () -> barrier.getNumberWaiting() == 1);
                setArrived(block, -1);
                assertThatThrownBy(() -> barrier.await(300, TimeUnit.MILLISECONDS))
                        .isInstanceOf(ShmFormatException.class)
                        .hasMessage("barrier 'step' is corrupted: arrived=-1 (expected: 0..3)");
                assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("the waiter is released, not left to its timeout")
                        .hasCauseInstanceOf(BrokenBarrierException.class);
                assertThat(barrier.toString()).isEqualTo("barrier 'step' (corrupted: arrived=-1, broken)");
                barrier.reset();
                assertThat(barrier.toString()).isEqualTo("barrier 'step' (0 of 3 waiting)");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** Writes {@code arrived} into the high half of the barrier's state word, keeping the low half (a CAS). */
    static void setArrived(MemorySegment block, int arrived) {
        VarHandle state = ValueLayout.JAVA_LONG.varHandle();
        long s;
        do {
            s = (long) state.getVolatile(block, SyncLayout.BARRIER_STATE_OFFSET);
        } while (!state.compareAndSet(block, SyncLayout.BARRIER_STATE_OFFSET, s,
                (long) arrived << 32 | (s & 0xFFFF_FFFFL)));
    }

    @Test
    void shouldTripFourProcessesOverManyGenerations() throws Exception {
        String heapName = names.unique("barrier");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", PARTIES);
            SharedInt arrivals = SharedInt.create(heap, "arrivals");
            SharedIntArray indices = SharedIntArray.create(heap, "indices", PARTIES);
            int generations = 300;
            Children.runAll(PARTIES, i -> ChildJvm.start(Party.class, heapName, Integer.toString(generations)));
            assertThat(arrivals.get()).isEqualTo(PARTIES * generations);
            for (int i = 0; i < PARTIES; i++) {
                assertThat(indices.get(i)).as("index %d handed out once per generation", i).isEqualTo(generations);
            }
            assertThat(barrier.isBroken()).isFalse();
        }
    }

    @Test
    void shouldBreakWhenAWaitingPartyIsKilled() throws Exception {
        String heapName = names.unique("barrier-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = partiesBarrier(heap, 3);
            try (ChildJvm doomed = ChildJvm.start(Party.class, heapName, "1");
                 ChildJvm survivor = ChildJvm.start(Party.class, heapName, "1")) {
                awaitArrivals(heap, barrier, 2);
                doomed.kill();
                long start = System.nanoTime();
                assertThat(survivor.awaitLine("BROKEN", BOUND)).isEqualTo("BROKEN");
                assertThat(System.nanoTime() - start).as("broken well before any timeout")
                        .isLessThan(TimeUnit.SECONDS.toNanos(10));
                survivor.awaitSuccess(BOUND);
            }
            assertThat(barrier.isBroken()).isTrue();
            barrier.reset();
            killWaitingParty(heap, heapName, barrier);
            assertThatThrownBy(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("the next arrival sees the dead one").isInstanceOf(BrokenBarrierException.class);
        }
    }

    @Test
    void shouldBreakWhenTheLastArrivalFindsThePartyBeforeItDead() throws Exception {
        String heapName = names.unique("barrier-last");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = partiesBarrier(heap, 2);
            killWaitingParty(heap, heapName, barrier);
            assertThatThrownBy(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("the last arrival does not trip over the dead one").isInstanceOf(BrokenBarrierException.class);
            assertThat(barrier.isBroken()).isTrue();
            barrier.reset();
            try (ExecutorService other = Executors.newSingleThreadExecutor()) {
                Future<Integer> first = other.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                assertThat(barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)
                        + first.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("live parties trip after the reset")
                        .isEqualTo(1);
            }
        }
    }

    /**
     * A party killed while it waits alone is seen by {@code isBroken()} and {@code getNumberWaiting()}, which check
     * the arrivals themselves (at most every 50 ms per barrier object), a read-only view included, which cannot
     * write the break. Before, with no live party waiting to check it, the barrier read not broken with the dead
     * party counted waiting until the next arrival (helper-144), and the tool showed the same.
     */
    @Test
    void shouldReadBrokenAndNobodyWaitingOnceTheOnlyWaitingPartyIsKilled() throws Exception {
        String heapName = names.unique("barrier-observed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = partiesBarrier(heap, 3);
            killWaitingParty(heap, heapName, barrier);
            try (SharedHeap readOnly = SharedHeap.openReadOnly(heapName)) {
                SharedBarrier observer = SharedBarrier.open(readOnly, "barrier");
                for (int look = 0; look < 3; look++) { // it cannot write the break: it remembers it
                    assertThat(observer.isBroken()).as("read-only, look %d", look).isTrue();
                    assertThat(observer.getNumberWaiting()).isZero();
                }
            }
            // this object looked just before the kill: it looks again within 50 ms
            Children.awaitTrue("the generation broken", barrier::isBroken);
            assertThat(barrier.getNumberWaiting()).as("the dead party is not counted").isZero();
            assertThatThrownBy(barrier::await).isInstanceOf(BrokenBarrierException.class);
            barrier.reset();
            assertThat(barrier.isBroken()).isFalse();
            assertThat(barrier.getNumberWaiting()).isZero();
        }
    }

    /**
     * helper-149: a party stopped (SIGSTOP) after it arrived, while its generation trips and nine more follow (one
     * of them broken by a reset), got {@code BrokenBarrierException} on waking: past 8 generations any entry not
     * naming its own generation read as a break, though one naming an earlier generation shows that it tripped.
     */
    @Test
    void shouldTellAPartyThatWakesManyGenerationsLateThatItsGenerationTripped() throws Exception {
        String heapName = names.unique("barrier-late");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = partiesBarrier(heap, 2);
            SharedInt arrivals = SharedInt.open(heap, "arrivals");
            ExecutorService other = Executors.newSingleThreadExecutor();
            try (ChildJvm late = ChildJvm.start(Party.class, heapName, "1")) {
                awaitArrivals(heap, barrier, 1);
                late.stop();
                arrivals.incrementAndGet();
                assertThat(barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)).as("its generation trips").isZero();
                for (int generation = 1; generation <= 9; generation++) {
                    Future<Integer> peer = other.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                    if (generation == 5) { // broken by a reset: its entry (another than the child's) is written
                        Children.awaitTrue("the peer waiting", () -> barrier.getNumberWaiting() == 1);
                        barrier.reset();
                        assertThatThrownBy(() -> peer.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                                .hasCauseInstanceOf(BrokenBarrierException.class);
                    } else {
                        barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                        peer.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                    }
                }
                late.resume();
                late.awaitSuccess(BOUND);
                assertThat(late.output()).doesNotContain("BROKEN");
                assertThat(SharedIntArray.open(heap, "indices").get(1)).as("the child's arrival index").isEqualTo(1);
            } finally {
                other.shutdownNow();
            }
        }
    }

    /**
     * helper-152: a first version of the rule above compared a broken-generations entry with the waiter's own
     * generation over half the 2<sup>30</sup> generations, so from 2<sup>29</sup> generations after a reset broke
     * one, every waiter of a generation sharing its entry got {@code BrokenBarrierException} though it tripped.
     */
    @ParameterizedTest
    @ValueSource(ints = {8, 1 << 29, 3 << 28, SyncLayout.BARRIER_GENERATION_MASK})
    void shouldTellAPromptWaiterItsGenerationTrippedLongAfterAnEarlierBreak(int generation) throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            MemorySegment block = heap.lookup("barrier", SyncLayout.BARRIER).segment();
            // as if a reset broke generation 0 long ago, and the barrier has reached the given generation since
            block.set(ValueLayout.JAVA_INT, SyncLayout.BARRIER_BROKEN_GENERATIONS_OFFSET, 1);
            block.set(ValueLayout.JAVA_LONG, SyncLayout.BARRIER_STATE_OFFSET, generation);
            ExecutorService other = Executors.newSingleThreadExecutor();
            try {
                Future<Integer> first = other.submit(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS));
                Children.awaitTrue("the first party waiting", () -> barrier.getNumberWaiting() == 1);
                assertThat(barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isZero();
                assertThat(first.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(1);
                assertThat(barrier.isBroken()).isFalse();
            } finally {
                other.shutdownNow();
            }
        }
    }

    /** @return a barrier of {@code parties} in {@code heap}, with the counters {@link Party} children use */
    private static SharedBarrier partiesBarrier(SharedHeap heap, int parties) {
        SharedInt.create(heap, "arrivals");
        SharedIntArray.create(heap, "indices", parties);
        return SharedBarrier.create(heap, "barrier", parties);
    }

    /** Starts a {@link Party} child, waits until it waits at the barrier in arrival slot 0, and kills it. */
    private static void killWaitingParty(SharedHeap heap, String heapName, SharedBarrier barrier) throws Exception {
        try (ChildJvm doomed = ChildJvm.start(Party.class, heapName, "1")) {
            awaitArrivals(heap, barrier, 1);
            doomed.kill(); // not between its arrival and its slot write: that window goes unseen (documented)
        }
    }

    /** Waits until {@code parties} parties wait at the barrier, each with its arrival slot written. */
    private static void awaitArrivals(SharedHeap heap, SharedBarrier barrier, int parties) {
        Children.awaitTrue(parties + " parties waiting, their slots written", () -> barrier.getNumberWaiting()
                == parties && IntStream.range(0, parties).allMatch(slot -> slotWritten(heap, slot)));
    }

    /** @return true if arrival slot {@code slot} of the barrier holds its party's token for this generation */
    private static boolean slotWritten(SharedHeap heap, int slot) {
        MemorySegment block = heap.lookup("barrier", SyncLayout.BARRIER).segment();
        int generation = block.get(ValueLayout.JAVA_INT, SyncLayout.BARRIER_FUTEX) & SyncLayout.BARRIER_GENERATION_MASK;
        return block.get(ValueLayout.JAVA_INT, SyncLayout.BARRIER_SLOTS_OFFSET + slot * SyncLayout.BARRIER_SLOT_SIZE
                + Long.BYTES) == generation + 1;
    }

    @Test
    void shouldBreakWithoutTimeoutsWhenARegisteredPartyIsKilledBeforeArriving() throws Exception {
        String heapName = names.unique("barrier-registered");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 3);
            SharedCountDownLatch.create(heap, "never", 1);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try (ChildJvm doomed = ChildJvm.start(RegisteredParty.class, heapName, "hold");
                 ChildJvm survivor = ChildJvm.start(RegisteredParty.class, heapName, "await");
                 SharedBarrier.Party mine = barrier.register()) {
                doomed.awaitLine("REGISTERED", BOUND);
                survivor.awaitLine("REGISTERED", BOUND);
                assertThat(barrier.getRegisteredParties()).isEqualTo(3);
                Future<Integer> waiter = pool.submit(() -> barrier.await()); // no timeout: only the death breaks it
                Children.awaitTrue("two parties waiting", () -> barrier.getNumberWaiting() == 2);
                doomed.kill();
                long start = System.nanoTime();
                assertThat(survivor.awaitLine("BROKEN", BOUND)).isEqualTo("BROKEN");
                assertThatThrownBy(() -> waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(BrokenBarrierException.class);
                assertThat(System.nanoTime() - start).as("broken within a bound, with no timeout anywhere")
                        .isLessThan(TimeUnit.SECONDS.toNanos(10));
                survivor.awaitSuccess(BOUND);
                assertThat(barrier.getRegisteredParties()).as("this party and the dead one").isEqualTo(2);
                barrier.reset();
                assertThat(barrier.getRegisteredParties()).as("reset frees the dead one's registration").isOne();
                assertThat(mine.barrier()).isSameAs(barrier);
            } finally {
                pool.shutdownNow();
            }
            assertThat(barrier.getRegisteredParties()).isZero();
        }
    }

    @Test
    void shouldNotBreakWhenARegisteredPartyDeregistersAndExitsButBreakWhenItExitsRegistered() throws Exception {
        String heapName = names.unique("barrier-leave");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 3);
            try (SharedBarrier.Party mine = barrier.register()) {
                try (ChildJvm first = ChildJvm.start(RegisteredParty.class, heapName, "leave");
                     ChildJvm second = ChildJvm.start(RegisteredParty.class, heapName, "leave")) {
                    assertThat(barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isBetween(0, 2);
                    first.awaitSuccess(BOUND);
                    second.awaitSuccess(BOUND);
                }
                assertThat(barrier.getRegisteredParties()).isOne();
                assertThatThrownBy(() -> barrier.await(500, TimeUnit.MILLISECONDS))
                        .as("liveness checks ran for 500 ms and found no death: the timeout broke it")
                        .isInstanceOf(TimeoutException.class);
                barrier.reset();
                try (ChildJvm quitter = ChildJvm.start(RegisteredParty.class, heapName, "exit")) {
                    quitter.awaitSuccess(BOUND);
                }
                assertThatThrownBy(() -> barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("a party that exited registered is dead").isInstanceOf(BrokenBarrierException.class);
                barrier.reset();
                assertThat(barrier.getRegisteredParties()).isOne();
            }
            assertThat(barrier.getRegisteredParties()).isZero();
        }
    }

    /**
     * A registration whose close meets the heap closed stays in the heap (until a reset frees it as a dead process's):
     * the close throws, and the party must not say it deregistered, nor let a second close pass as done.
     */
    @Test
    void shouldStayRegisteredWhenItsCloseMeetsTheHeapClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedBarrier.Party party = SharedBarrier.create(heap, "barrier", 2).register();
        heap.close();
        for (int attempt = 1; attempt <= 2; attempt++) {
            assertThatThrownBy(party::close).as("close %d", attempt).isInstanceOf(IllegalStateException.class)
                    .hasMessage("barrier 'barrier' cannot be used: the heap or segment it lives in is closed");
            assertThat(party).hasToString("party of barrier 'barrier' (registered)");
        }
    }

    /**
     * Two threads closing one party whose heap is closed, each again and again, both throw every time, and the party
     * stays registered. A close returned quietly, as if done, when it came while the other thread's close was between
     * claiming the close and finding the heap closed (that one then threw and put the registration back).
     */
    @Test
    void shouldThrowToEveryThreadClosingOnePartyWhenTheHeapIsClosed() throws Exception {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedBarrier.Party party = SharedBarrier.create(heap, "barrier", 2).register();
        heap.close();
        String closed = "barrier 'barrier' cannot be used: the heap or segment it lives in is closed";
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Integer>> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                threads.add(pool.submit(() -> {
                    int quiet = 0;
                    for (int i = 0; i < 20_000; i++) {
                        try {
                            party.close();
                            quiet++;
                        } catch (IllegalStateException e) {
                            assertThat(e).hasMessage(closed);
                        }
                    }
                    return quiet;
                }));
            }
            for (Future<Integer> thread : threads) {
                assertThat(thread.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("closes that returned").isZero();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(party).hasToString("party of barrier 'barrier' (registered)");
    }

    @Test
    void shouldLimitRegistrationsAndRefuseTheOldLayout() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 2);
            SharedBarrier.Party first = barrier.register();
            try (SharedBarrier.Party second = barrier.register()) {
                assertThatThrownBy(barrier::register).isInstanceOf(IllegalStateException.class)
                        .hasMessage("barrier 'barrier': all 2 registrations are taken (expected: at most one per "
                                + "party; reset() frees those of dead processes)");
                assertThat(second.toString()).isEqualTo("party of barrier 'barrier' (registered)");
            }
            first.close();
            first.close(); // closing again frees nothing another party holds
            try (SharedBarrier.Party again = barrier.register(); SharedBarrier.Party more = barrier.register()) {
                assertThat(barrier.getRegisteredParties()).isEqualTo(2);
            }
            heap.allocate("old", new BlockType(0x5348_0064, 1), 160);
            assertThatThrownBy(() -> SharedBarrier.open(heap, "old")).isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageContaining("v1").hasMessageContaining("v4");
            MemorySegment raw = arena.allocate(SharedBarrier.requiredBytes(2), 64);
            SharedBarrier.format(raw, 0, 2);
            raw.set(ValueLayout.JAVA_INT, 12, 1); // the layout version of a block written before registrations
            assertThatThrownBy(() -> SharedBarrier.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("v1 (expected: ");
        }
    }

    /**
     * {@code main(heap, mode)}: registers with the barrier, prints {@code REGISTERED}, then by mode: {@code hold}
     * waits (bounded) to be killed before arriving; {@code await} awaits without a timeout and prints {@code BROKEN}
     * when the barrier breaks; {@code leave} awaits one generation, then deregisters; {@code exit} exits without
     * deregistering.
     */
    public static final class RegisteredParty {
        public static void main(String[] args) throws Exception {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedBarrier barrier = SharedBarrier.open(heap, "barrier");
                SharedBarrier.Party party = barrier.register();
                Children.say("REGISTERED");
                switch (args[1]) {
                    case "hold" -> SharedCountDownLatch.open(heap, "never").await(BOUND.toSeconds(), TimeUnit.SECONDS);
                    case "await" -> {
                        try {
                            barrier.await();
                        } catch (BrokenBarrierException e) {
                            Children.say("BROKEN");
                        }
                        party.close();
                    }
                    case "leave" -> {
                        barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                        party.close();
                    }
                    default -> {
                        // "exit": the party stays registered to a process that is gone
                    }
                }
            }
        }
    }

    /**
     * {@code main(heap, generations)}: counts its arrival, awaits the barrier, checks everyone arrived, counts its
     * index; prints {@code BROKEN} and stops if the barrier breaks.
     */
    public static final class Party {
        public static void main(String[] args) throws Exception {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedBarrier barrier = SharedBarrier.open(heap, "barrier");
                SharedInt arrivals = SharedInt.open(heap, "arrivals");
                SharedIntArray indices = SharedIntArray.open(heap, "indices");
                int generations = Integer.parseInt(args[1]);
                for (int g = 0; g < generations; g++) {
                    arrivals.incrementAndGet();
                    int index;
                    try {
                        index = barrier.await(BOUND.toSeconds(), TimeUnit.SECONDS);
                    } catch (BrokenBarrierException e) {
                        Children.say("BROKEN");
                        return;
                    }
                    int seen = arrivals.get();
                    if (seen < barrier.getParties() * (g + 1)) {
                        throw new AssertionError("generation " + g + " tripped after " + seen + " arrivals");
                    }
                    indices.incrementAndGet(index);
                }
            }
        }
    }
}
