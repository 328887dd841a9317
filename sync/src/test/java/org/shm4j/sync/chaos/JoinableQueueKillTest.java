package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.sync.Codec;
import org.shm4j.sync.LongsWithHook;
import org.shm4j.sync.SharedJoinableQueue;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SharedJoinableQueue}'s untimed {@code join()} with producer processes SIGKILLed while they offer: a dead
 * producer's claim, marked or not, is no task, so join does not hang on it (on one not marked, only until a
 * consumer's poll skipped it), while a committed item behind it is waited for until taken and done; a consumer killed
 * in the ring's handler after counting its item does not leave it counted twice once the next consumer takes it, also
 * one already waiting for the dead consumer's turn; consumers killed at random leave at most one task each (one
 * killed after its poll returned, which leaves its task unfinished, is in {@code SharedJoinableQueueTest}); a
 * joinable queue whose creator was killed is finished by the next {@code openOrCreate}. Every join in the parent runs
 * in a thread awaited with a bound.
 */
class JoinableQueueKillTest {
    private static final Duration BOUND = KillRounds.BOUND;
    private static final Duration STALL = Duration.ofMillis(100);
    private static final String QUEUE = "jobs";
    /** Producer children, each killed at a random moment. */
    private static final int PRODUCERS = 2;
    private static final int MAX_KILL_DELAY_MILLIS = 200;
    /** The most items the consumer-kill test puts: more than its consumers take before their kills. */
    private static final int ITEMS = 1 << 16;
    /** The names of the creation-kill test's queues: {@code c0}, {@code c1}, ... */
    private static final String CREATED = "c";
    /** A bound on the joinable queues its creator makes (2 blocks each), far above what it makes before its kill. */
    private static final int MAX_CREATED = 3_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    private final ExecutorService joiners = Executors.newCachedThreadPool();

    /**
     * A producer killed holding a marked claim: join returns at once with nothing else queued; an item committed
     * behind the dead claim is waited for until a consumer took it (the stall rule skipping the claim) and is done.
     */
    @Test
    void shouldNotWaitForAProducerKilledHoldingAMarkedClaim() throws Exception {
        String heapName = names.unique("jq-marked");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, QUEUE, 1024, Codec.longs());
            try (ChildJvm claimer = ChildJvm.start(Claimer.class, heapName, "marked")) {
                claimer.awaitLine("CLAIMED", BOUND);
                claimer.kill(); // between its claim's mark and its commit
            }
            assertThat(untimedJoin(queue)).as("nothing queued behind the dead claim").succeedsWithin(BOUND);
            queue.put(5L);
            Future<?> joined = untimedJoin(queue);
            assertThat(queue.join(50, TimeUnit.MILLISECONDS)).as("an item queued behind the dead claim").isFalse();
            assertThat(queue.poll(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(5L);
            assertThat(queue.join(50, TimeUnit.MILLISECONDS)).as("taken, not done").isFalse();
            assertThat(joined).isNotDone();
            queue.taskDone();
            assertThat(joined).succeedsWithin(BOUND);
            assertThat(queue.unfinishedTasks()).isZero();
        } finally {
            joiners.shutdownNow();
        }
    }

    /**
     * A producer killed between its tail CAS and its mark: its claim may hide items behind it, so join keeps looking
     * (no wake comes) until a consumer's stall rule has skipped it, then returns.
     */
    @Test
    void shouldJoinOnceAConsumerSkippedAKilledProducersUnmarkedClaim() throws Exception {
        String heapName = names.unique("jq-unmarked");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, QUEUE, 1024, Codec.longs());
            try (ChildJvm claimer = ChildJvm.start(Claimer.class, heapName, "unmarked")) {
                claimer.awaitLine("CLAIMED", BOUND);
                claimer.kill();
            }
            assertThat(queue.take()).as("offered before the claim").isEqualTo(1L);
            queue.taskDone();
            Future<?> joined = untimedJoin(queue);
            assertThat(queue.join(50, TimeUnit.MILLISECONDS)).as("a claim not marked: maybe a task").isFalse();
            assertThat(joined).isNotDone();
            assertThat(queue.unfinishedTasks()).as("none seen, yet join waits: no poll skipped the claim").isZero();
            SharedQueue.open(heap, QUEUE + ".queue", Codec.longs()).setStallTimeout(STALL);
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (!joined.isDone()) { // waiting polls apply the stall rule, which skips the claim
                assertThat(System.nanoTime() - deadline).as("join returned within %s", BOUND).isNegative();
                assertThat(queue.poll(STALL.toMillis(), TimeUnit.MILLISECONDS)).isNull();
            }
            assertThat(joined).succeedsWithin(BOUND);
            assertThat(queue.unfinishedTasks()).isZero();
        } finally {
            joiners.shutdownNow();
        }
    }

    /**
     * Producer processes killed one after the other at random moments (fixed seed) while two consumer threads of this
     * JVM take and mark done: afterwards an untimed join returns, and every item a producer saw accepted was taken
     * exactly once. Two children only: a child JVM's start is most of this test's time.
     */
    @Test
    void shouldJoinAndTakeEveryAcceptedItemOnceWhileProducersAreKilled() throws Exception {
        String heapName = names.unique("jq-rounds");
        ExecutorService consumers = Executors.newFixedThreadPool(2);
        AtomicBoolean stop = new AtomicBoolean();
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, QUEUE, 1 << 12, Codec.longs());
            SharedQueue.open(heap, QUEUE + ".queue", Codec.longs()).setStallTimeout(STALL);
            SharedLongArray accepted = SharedLongArray.create(heap, "accepted", PRODUCERS);
            Map<Long, Integer> taken = new ConcurrentHashMap<>();
            List<Future<?>> takers = List.of(consumers.submit(() -> take(queue, taken, stop)),
                    consumers.submit(() -> take(queue, taken, stop)));
            Random random = new Random(217);
            List<ChildJvm> producers = new ArrayList<>();
            try {
                for (int slot = 0; slot < PRODUCERS; slot++) { // started together: their JVMs start in parallel
                    producers.add(ChildJvm.start(Producer.class, heapName, Integer.toString(slot)));
                }
                for (ChildJvm producer : producers) {
                    producer.awaitLine("READY", BOUND);
                }
                for (ChildJvm producer : producers) { // one after the other, each at a random moment
                    // not synchronisation: where the kill lands
                    TimeUnit.MILLISECONDS.sleep(1 + random.nextInt(MAX_KILL_DELAY_MILLIS));
                    producer.kill();
                    assertThat(producer.output()).as("producer %d before its kill", producer.pid())
                            .doesNotContain("ERROR");
                }
            } finally {
                producers.forEach(ChildJvm::close);
            }
            assertThat(untimedJoin(queue)).as("join after the kills").succeedsWithin(BOUND);
            stop.set(true);
            for (Future<?> taker : takers) {
                assertThat(taker).succeedsWithin(BOUND);
            }
            assertThat(taken.values()).as("no item taken twice").allMatch(times -> times == 1);
            long acceptedItems = 0;
            for (int slot = 0; slot < accepted.length(); slot++) {
                for (long i = 0; i < accepted.get(slot); i++, acceptedItems++) {
                    assertThat(taken).as("item %d of producer slot %d", i, slot).containsKey(item(slot, i));
                }
            }
            assertThat(acceptedItems).as("items offered").isPositive();
            assertThat(queue.unfinishedTasks()).isZero();
        } finally {
            stop.set(true);
            consumers.shutdownNow();
            joiners.shutdownNow();
        }
    }

    /**
     * A consumer killed in the ring's handler after counting its item (its codec's decode blocks): the item is still
     * queued and counted (a snapshot counts it twice); the next consumer is handed it again and does not count it
     * again (the count's tag names its record), so one taskDone finishes it and an untimed join returns.
     */
    @Test
    void shouldNotCountTwiceAnItemWhoseConsumerWasKilledInItsHandler() throws Exception {
        String heapName = names.unique("jq-handler");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, QUEUE, 1024, Codec.longs());
            queue.put(6L);
            assertThat(queue.take()).as("a record counted before, which the tag then names").isEqualTo(6L);
            queue.taskDone();
            queue.put(7L);
            try (ChildJvm consumer = ChildJvm.start(StuckDecoder.class, heapName)) {
                consumer.awaitLine("DECODING", BOUND);
                consumer.kill();
            }
            assertThat(queue.unfinishedTasks()).as("queued, and counted by the dead consumer").isEqualTo(2);
            assertThat(queue.poll(BOUND.toSeconds(), TimeUnit.SECONDS)).as("handed over again").isEqualTo(7L);
            assertThat(queue.unfinishedTasks()).as("taken, counted once").isOne();
            queue.taskDone();
            assertThat(untimedJoin(queue)).succeedsWithin(BOUND);
            assertThat(queue.unfinishedTasks()).isZero();
        } finally {
            joiners.shutdownNow();
        }
    }

    /**
     * A consumer killed in the ring's handler after counting its item, which the next consumer's take cannot hand
     * out: a poll whose codec cannot decode it, then (a second kill) a clear. Each takes the dead consumer's task over
     * uncounted (the tag names the record) and marks it done: the count ends at 0, not 1 (a task nobody could finish)
     * nor below; an untimed join returns and no taskDone is due.
     */
    @Test
    void shouldFinishTheTaskOfAKilledConsumerThatAnUndecodablePollOrAClearTakesOver() throws Exception {
        String heapName = names.unique("jq-undelivered");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, QUEUE, 1024, Codec.longs());
            queue.addAll(List.of(7L, 8L));
            killInDecode(heapName);
            assertThat(queue.unfinishedTasks()).as("7 queued and counted, 8 queued").isEqualTo(3);
            SharedJoinableQueue<Long> refusing = SharedJoinableQueue.open(heap, QUEUE, new LongsWithHook() {
                @Override
                public Long decode(MemorySegment source, long offset, int length) {
                    throw new IllegalArgumentException("refused");
                }
            });
            assertThatThrownBy(refusing::poll).as("7 handed over again, not decoded")
                    .hasMessageContaining("its task done by the joinable queue");
            assertThat(queue.unfinishedTasks()).as("8 queued").isOne();
            killInDecode(heapName);
            assertThat(queue.unfinishedTasks()).as("8 queued and counted").isEqualTo(2);
            queue.clear();
            assertThat(queue.isEmpty()).isTrue();
            assertThat(queue.unfinishedTasks()).isZero();
            assertThat(untimedJoin(queue)).succeedsWithin(BOUND);
            assertThatThrownBy(queue::taskDone).isInstanceOf(IllegalStateException.class);
        } finally {
            joiners.shutdownNow();
        }
    }

    /** Starts a {@link StuckDecoder} on the queue of heap {@code heapName} and kills it in its decode. */
    private static void killInDecode(String heapName) throws Exception {
        try (ChildJvm consumer = ChildJvm.start(StuckDecoder.class, heapName)) {
            consumer.awaitLine("DECODING", BOUND);
            consumer.kill();
        }
    }

    /**
     * An MPMC consumer killed in its handler after counting, holding the consumers' turn, while this JVM's consumer
     * already waits for that turn: the waiter takes the dead holder's turn over, is handed the item again and takes
     * over its task without counting it again; a joiner blocked meanwhile returns after the one taskDone.
     */
    @Test
    void shouldHandTheTaskOverToAConsumerWaitingForADeadConsumersTurn() throws Exception {
        String heapName = names.unique("jq-turn");
        ExecutorService waiter = Executors.newSingleThreadExecutor();
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, QUEUE, 1024, Codec.longs());
            queue.put(8L);
            Future<Long> taken;
            Future<?> joined;
            try (ChildJvm consumer = ChildJvm.start(StuckDecoder.class, heapName)) {
                consumer.awaitLine("DECODING", BOUND);
                taken = waiter.submit(() -> queue.poll(BOUND.toSeconds(), TimeUnit.SECONDS));
                joined = untimedJoin(queue);
                assertThat(queue.join(50, TimeUnit.MILLISECONDS)).as("queued, and counted by the holder").isFalse();
                assertThat(taken).as("the turn is held by a live consumer").isNotDone();
                consumer.kill();
            }
            assertThat(taken).as("handed over again to the waiter").succeedsWithin(BOUND).isEqualTo(8L);
            assertThat(queue.unfinishedTasks()).as("taken, counted once").isOne();
            assertThat(joined).isNotDone();
            queue.taskDone();
            assertThat(joined).succeedsWithin(BOUND);
            assertThat(queue.unfinishedTasks()).isZero();
            assertThat(queue.join(0, TimeUnit.SECONDS)).isTrue();
        } finally {
            waiter.shutdownNow();
            joiners.shutdownNow();
        }
    }

    /**
     * Consumer processes killed at random moments (fixed seed) while they take, most of their time in the ring's
     * handler (a decode that spins), and mark done, while this JVM puts: afterwards this JVM takes what is left; no
     * item is taken twice, at most one per kill is lost (taken by the dead consumer, its poll returned, not recorded),
     * at most one task per kill is unfinished: never fewer than the items lost, nor more than those and the items a
     * dead consumer recorded and did not say done (a task counted twice would be one more); with a taskDone for each,
     * an untimed join returns.
     */
    @Test
    void shouldLeaveAtMostOneTaskPerConsumerKilledAtRandomAndTakeEveryItemOnce() throws Exception {
        String heapName = names.unique("jq-consumers");
        ExecutorService producer = Executors.newSingleThreadExecutor();
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 21)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, QUEUE, 1 << 12, Codec.longs());
            SharedLongArray taken = SharedLongArray.create(heap, "taken", ITEMS + 1); // and the dones
            Random random = new Random(222);
            long put = 0;
            int kills = 2;
            for (int k = 0; k < kills; k++) {
                AtomicBoolean stop = new AtomicBoolean();
                long first = put;
                Future<Long> puts;
                try (ChildJvm consumer = ChildJvm.start(SlowTaker.class, heapName)) {
                    consumer.awaitLine("READY", BOUND);
                    puts = producer.submit(() -> {
                        long i = first;
                        while (i < ITEMS && !stop.get()) { // bounded offers: full once the consumer is dead
                            if (queue.offer(i, 10, TimeUnit.MILLISECONDS)) {
                                i++;
                            }
                        }
                        return i;
                    });
                    // not synchronisation: where the kill lands
                    TimeUnit.MILLISECONDS.sleep(20 + random.nextInt(MAX_KILL_DELAY_MILLIS));
                    consumer.kill();
                    assertThat(consumer.output()).as("consumer before its kill").doesNotContain("ERROR");
                }
                stop.set(true);
                put = puts.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            }
            assertThat(put).as("items put").isLessThan(ITEMS);
            long takenHere = 0;
            for (Long item; (item = queue.poll(200, TimeUnit.MILLISECONDS)) != null; takenHere++) {
                taken.incrementAndGet(item); // the dead consumer's turn taken over
                queue.taskDone();
            }
            long lost = 0;
            long recorded = 0;
            for (long i = 0; i < put; i++) {
                assertThat(taken.get(i)).as("item %d taken at most once", i).isLessThanOrEqualTo(1);
                lost += 1 - taken.get(i);
                recorded += taken.get(i);
            }
            // a dead consumer's unfinished task: an item it took and did not record (lost), or one it recorded and
            // did not say done; a task counted twice (a handler's kill after counting) would be one more
            long notSaidDone = recorded - takenHere - taken.get(ITEMS);
            int unfinished = queue.unfinishedTasks();
            assertThat(unfinished).as("lost %d, recorded and not said done %d", lost, notSaidDone)
                    .isBetween((int) lost, (int) (lost + notSaidDone)).isLessThanOrEqualTo(kills);
            for (int i = 0; i < unfinished; i++) {
                queue.taskDone();
            }
            assertThat(untimedJoin(queue)).succeedsWithin(BOUND);
        } finally {
            producer.shutdownNow();
            joiners.shutdownNow();
        }
    }

    /**
     * A process killed at a random moment (fixed seed) while it creates joinable queues one after the other, so that
     * the kill may land between a queue's ring and its count: every name it began is then finished by
     * {@code openOrCreate} (a plain {@code open} of a half-made one says so) and counts, takes and joins as a new one.
     */
    @Test
    void shouldFinishAJoinableQueueWhoseCreatorWasKilled() throws Exception {
        String heapName = names.unique("jq-create");
        Random random = new Random(3); // one whose kill left a half-made queue here (5-11 begun per run)
        try (SharedHeap heap = SharedHeap.create(heapName, 32L << 20,
                HeapOptions.defaults().withCatalogCapacity(1 << 13))) {
            try (ChildJvm creator = ChildJvm.start(Creator.class, heapName)) {
                creator.awaitLine("READY", BOUND);
                TimeUnit.MILLISECONDS.sleep(1 + random.nextInt(50)); // not synchronisation: where the kill lands
                creator.kill();
                assertThat(creator.output()).as("the creator before its kill").doesNotContain("ERROR");
            }
            int made = 0;
            int halves = 0;
            for (; heap.find(CREATED + made + ".queue").isPresent(); made++) {
                String name = CREATED + made;
                if (heap.find(name).isEmpty()) {
                    halves++;
                    assertThatThrownBy(() -> SharedJoinableQueue.open(heap, name, Codec.longs()))
                            .isInstanceOf(ShmNotFoundException.class).hasMessageContaining("no task count");
                }
                SharedJoinableQueue<Long> queue = SharedJoinableQueue.openOrCreate(heap, name, 1024, Codec.longs());
                assertThat(queue.unfinishedTasks()).as(name).isZero();
                queue.put((long) made);
                assertThat(queue.poll()).isEqualTo(made);
                queue.taskDone();
                assertThat(queue.join(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            }
            assertThat(made).as("queues begun before the kill").isPositive();
            assertThat(halves).as("a kill leaves at most one half-made").isLessThanOrEqualTo(1);
        }
    }

    private Future<?> untimedJoin(SharedJoinableQueue<Long> queue) {
        return joiners.submit(() -> {
            queue.join();
            return null;
        });
    }

    private static Void take(SharedJoinableQueue<Long> queue, Map<Long, Integer> taken, AtomicBoolean stop)
            throws InterruptedException {
        while (!stop.get()) {
            Long item = queue.poll(10, TimeUnit.MILLISECONDS);
            if (item != null) {
                taken.merge(item, 1, Integer::sum);
                queue.taskDone();
            }
        }
        return null;
    }

    /** @return the {@code i}-th item of the producer writing slot {@code slot} of "accepted" */
    private static long item(long slot, long i) {
        return slot << 32 | i;
    }

    /**
     * {@code main(heap, slot)}: says READY, then offers items {@code slot << 32 | i} for i = 0, 1, ... until killed,
     * storing in slot {@code slot} of the long array "accepted" how many offers returned true.
     */
    public static final class Producer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedJoinableQueue<Long> queue = SharedJoinableQueue.open(heap, QUEUE, Codec.longs());
                SharedLongArray accepted = SharedLongArray.open(heap, "accepted");
                int slot = Integer.parseInt(args[1]);
                RandomKills.say("READY");
                for (long i = 0; ; i++) {
                    if (!queue.offer(item(slot, i), BOUND.toSeconds(), TimeUnit.SECONDS)) {
                        throw new IllegalStateException("no room within " + BOUND);
                    }
                    accepted.set(slot, i + 1);
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }

    /**
     * {@code main(heap, "marked" | "unmarked")}: "marked" claims a record for a long in the queue's ring as an offer
     * does (its mark written) and never commits it; "unmarked" offers 1 (naming its process in the ring's producer
     * table), then claims 64 bytes by a tail CAS and never marks them. Either says CLAIMED and waits to be killed.
     */
    public static final class Claimer {
        private static final VarHandle LONG = JAVA_LONG.varHandle();

        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedQueue<Long> queue = SharedQueue.open(heap, QUEUE + ".queue", Codec.longs());
                if (args[1].equals("marked")) {
                    if (!queue.ring().tryClaim(Codec.longs().typeId(), Long.BYTES, new RingClaim())) {
                        throw new AssertionError("no room");
                    }
                } else {
                    if (!queue.offer(1L)) {
                        throw new AssertionError("no room");
                    }
                    MemorySegment block = heap.lookup(QUEUE + ".queue", SyncLayout.RING).segment();
                    long tail = (long) LONG.getVolatile(block, SyncLayout.RING_TAIL_OFFSET);
                    if (!LONG.compareAndSet(block, SyncLayout.RING_TAIL_OFFSET, tail, tail + 64)) {
                        throw new AssertionError("another producer claimed");
                    }
                }
                RandomKills.say("CLAIMED");
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }

    /**
     * {@code main(heap)}: says READY, then takes items with a codec whose decode spins for about 20 µs (most of its
     * time in the ring's handler), adds one to slot {@code item} of the long array "taken", marks it done, then adds
     * one to its last slot, until killed.
     */
    public static final class SlowTaker {
        public static void main(String[] args) {
            Codec<Long> slow = new LongsWithHook() {
                @Override
                public Long decode(MemorySegment source, long offset, int length) {
                    long end = System.nanoTime() + 20_000;
                    while (System.nanoTime() - end < 0) {
                        Thread.onSpinWait();
                    }
                    return super.decode(source, offset, length);
                }
            };
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedJoinableQueue<Long> queue = SharedJoinableQueue.open(heap, QUEUE, slow);
                SharedLongArray taken = SharedLongArray.open(heap, "taken");
                RandomKills.say("READY");
                while (true) {
                    taken.incrementAndGet(queue.take());
                    queue.taskDone();
                    taken.incrementAndGet(ITEMS); // after its taskDone: the parent tells which it missed
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }

    /**
     * {@code main(heap)}: creates joinable queues {@code c0}, {@code c1}, ... of 1024 bytes, saying READY after the
     * first, until killed or {@value #MAX_CREATED} are made (then waits to be killed).
     */
    public static final class Creator {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                for (int i = 0; i < MAX_CREATED; i++) {
                    SharedJoinableQueue.create(heap, CREATED + i, 1024, Codec.longs());
                    if (i == 0) {
                        RandomKills.say("READY");
                    }
                }
                Thread.sleep(BOUND.toMillis()); // killed long before this ends
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }

    /** {@code main(heap)}: takes from the queue with a codec whose decode says DECODING and waits to be killed. */
    public static final class StuckDecoder {
        public static void main(String[] args) {
            Codec<Long> stuck = new LongsWithHook() {
                @Override
                public Long decode(MemorySegment source, long offset, int length) {
                    RandomKills.say("DECODING"); // in the ring's handler, the task counted
                    long end = System.nanoTime() + BOUND.toNanos();
                    while (System.nanoTime() - end < 0) { // killed long before this ends
                        LockSupport.parkNanos(end - System.nanoTime());
                    }
                    throw new AssertionError("not killed in its decode");
                }
            };
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedJoinableQueue.open(heap, QUEUE, stuck).take();
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
