package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.RecordCodec;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.atomic.SharedByteArray;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.WaitStrategy;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.invoke.MethodHandles;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedQueue} of records between two producer and two consumer JVMs, each killed with SIGKILL at random
 * moments and replaced, using only the public API. Producers block in {@code put} or time out in {@code offer} (the
 * queue is small, so they often wait for room); one consumer blocks in {@code take} or times out in {@code poll}, the
 * other polls the queue's ring with a handler that decodes with the queue's codec and records the id before the ring
 * frees the message. Every child records in shared arrays which ids it was about to offer, which offers returned true
 * and which ids it got. {@code -Dshm4j.chaos.rounds=N} (default 8) sets the number of kills, for longer local runs.
 *
 * <p>Outcomes, after the parent drains the queue:
 * <ul>
 *   <li>acceptable: an id offered but not acknowledged (its producer died in {@code offer}) arrives once or never;
 *   <li>acceptable: an acknowledged id arrives twice, or seems to arrive never, at most once per killed consumer in
 *       all: the README's redelivery of the message a consumer was handling, or a taker killed after {@code take}
 *       or {@code poll} returned and before it recorded the id (the handler consumer has no such moment);
 *   <li>forbidden: any other loss or duplicate, an id never offered, a record that differs from the one offered, a
 *       non-empty queue at the end.
 * </ul>
 */
class QueueKillTest {
    /** Ids per producer child: child n offers ids {@code n * PER_CHILD ...}. */
    private static final int PER_CHILD = 1 << 16;
    private static final int MAX_PRODUCERS = 2 * KillRounds.MAX_PER_ROLE;
    /**
     * The queue's stall timeout: a dead producer's claim is skipped after it, and the final drain poll (twice this)
     * must expire. Short, as in the other chaos tests: a live producer's claim is kept however long it takes.
     */
    private static final Duration STALL = Duration.ofMillis(500);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /** A side of an order. */
    public enum Side { BUY, SELL }

    /** The queued value: every field a function of {@code id}, so any message can be checked on its own. */
    public record Order(long id, String symbol, Side side, List<Long> legs, String note) {
        static Order of(long id) {
            List<Long> legs = LongStream.range(0, id % 7).map(k -> id * k).boxed().toList();
            String note = id % 3 == 0 ? null : "n".repeat((int) (id % 50));
            return new Order(id, "S" + id, Side.values()[(int) (id % 2)], legs, note);
        }
    }

    @Test
    void shouldDeliverEveryAcknowledgedRecordOnceWhileProducersAndConsumersAreKilled() throws Exception {
        String heapName = names.unique("qkill");
        long seed = System.nanoTime();
        try (SharedHeap heap = SharedHeap.create(heapName, (4L << 20) + 6L * MAX_PRODUCERS * PER_CHILD)) {
            SharedQueue<Order> queue = SharedQueue.create(heap, "orders", 4096, codec());
            queue.setStallTimeout(STALL);
            SharedByteArray.create(heap, "offered", (long) MAX_PRODUCERS * PER_CHILD);
            SharedByteArray.create(heap, "acked", (long) MAX_PRODUCERS * PER_CHILD);
            SharedIntArray.create(heap, "got", (long) MAX_PRODUCERS * PER_CHILD);
            List<KillRounds.Role> roles = List.of(
                    n -> ChildJvm.start(Producer.class, heapName, Integer.toString(2 * n), "put"),
                    n -> ChildJvm.start(Producer.class, heapName, Integer.toString(2 * n + 1), "offer"),
                    n -> ChildJvm.start(Consumer.class, heapName, n % 2 == 0 ? "take" : "poll"),
                    n -> ChildJvm.start(Consumer.class, heapName, "handler"));
            try (KillRounds rounds = new KillRounds(roles)) {
                rounds.run(new Random(seed), KillRounds.ROUNDS, 400);
                rounds.killAll();
                int producers = 2 * Math.max(rounds.started(0), rounds.started(1));
                String context = "seed " + seed + ", consumer kills " + rounds.kills(2) + " (take/poll) + "
                        + rounds.kills(3) + " (handler); children printed:\n" + rounds.transcripts();
                drain(queue, heap, context);
                checkOutcomes(heap, producers, rounds.kills(2), rounds.kills(3), context);
            }
        }
    }

    private static RecordCodec<Order> codec() {
        return Codec.record(Order.class, MethodHandles.lookup());
    }

    /** Takes what the killed children left until a poll longer than the stall timeout finds nothing. */
    private static void drain(SharedQueue<Order> queue, SharedHeap heap, String context) throws InterruptedException {
        SharedIntArray got = SharedIntArray.open(heap, "got");
        long deadline = System.nanoTime() + KillRounds.BOUND.toNanos();
        for (Order order = queue.poll(2 * STALL.toMillis(), TimeUnit.MILLISECONDS); order != null;
                order = queue.poll(2 * STALL.toMillis(), TimeUnit.MILLISECONDS)) {
            assertThat(order).as(context).isEqualTo(Order.of(order.id()));
            got.incrementAndGet(order.id());
            assertThat(System.nanoTime() - deadline).as("drained in time").isNegative();
        }
        assertThat(queue.isEmpty()).as(context).isTrue();
        assertThat(queue.size()).as(context).isZero();
    }

    private static void checkOutcomes(SharedHeap heap, int producers, int takerKills, int handlerKills,
                                      String context) {
        SharedByteArray offered = SharedByteArray.open(heap, "offered");
        SharedByteArray acked = SharedByteArray.open(heap, "acked");
        SharedIntArray got = SharedIntArray.open(heap, "got");
        List<Long> invented = new ArrayList<>();
        List<Long> lost = new ArrayList<>();
        List<Long> twice = new ArrayList<>();
        long received = 0;
        for (long id = 0; id < (long) producers * PER_CHILD; id++) {
            int times = got.get(id);
            received += times;
            if (times > 0 && offered.get(id) == 0) {
                invented.add(id);
            }
            if (times == 0 && acked.get(id) != 0) {
                lost.add(id);
            }
            for (int extra = 1; extra < times; extra++) {
                twice.add(id);
            }
        }
        String outcome = received + " received, lost " + lost + ", twice " + twice + ", invented " + invented;
        System.out.println("queue chaos: " + outcome + ", consumer kills " + takerKills + " + " + handlerKills);
        assertThat(received).as("messages went through").isPositive();
        assertThat(invented).as(outcome + "; " + context).isEmpty();
        assertThat(lost.size()).as("only a taker has a moment after the queue let go and before it recorded; "
                + outcome + "; " + context).isLessThanOrEqualTo(takerKills);
        assertThat(lost.size() + twice.size()).as(outcome + "; " + context)
                .isLessThanOrEqualTo(takerKills + handlerKills);
    }

    /** A producer child: offers its ids in order, recording each before and after. */
    static final class Producer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedQueue<Order> queue = SharedQueue.open(heap, "orders", codec());
                SharedByteArray offered = SharedByteArray.open(heap, "offered");
                SharedByteArray acked = SharedByteArray.open(heap, "acked");
                boolean put = args[2].equals("put");
                long first = Long.parseLong(args[1]) * PER_CHILD;
                Random random = new Random(first);
                RandomKills.say("READY");
                for (long id = first; id < first + PER_CHILD; id++) {
                    Order order = Order.of(id);
                    offered.set(id, (byte) 1);
                    if (put) {
                        queue.put(order);
                    } else {
                        while (!queue.offer(order, 50, TimeUnit.MILLISECONDS)) {
                            Thread.onSpinWait(); // the same id again: a false offer committed nothing
                        }
                    }
                    acked.set(id, (byte) 1);
                    RandomKills.spin(random.nextInt(20_000)); // a pace of its own: sometimes full, sometimes not
                }
                Thread.sleep(KillRounds.BOUND.toMillis()); // all offered: wait to be killed
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }

    /** Checks {@code order} (if any) is the one its id names and counts it as received. */
    private static void record(Order order, SharedIntArray got) {
        if (order != null) {
            if (!order.equals(Order.of(order.id()))) {
                throw new AssertionError("garbled: " + order);
            }
            got.incrementAndGet(order.id());
        }
    }

    /** A consumer child: takes orders, checks each is the one its id names and records it. */
    static final class Consumer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedQueue<Order> queue = SharedQueue.open(heap, "orders", codec());
                SharedIntArray got = SharedIntArray.open(heap, "got");
                RecordCodec<Order> codec = codec();
                MessageHandler recorder = (type, buffer, offset, length) -> record(codec.decode(buffer, offset, length),
                        got);
                Random random = new Random(ProcessHandle.current().pid());
                RandomKills.say("READY");
                while (true) {
                    switch (args[1]) {
                        case "take" -> record(queue.take(), got);
                        case "poll" -> record(queue.poll(50, TimeUnit.MILLISECONDS), got);
                        default -> queue.ring().poll(recorder, Duration.ofMillis(50), WaitStrategy.BLOCKING);
                    }
                    RandomKills.spin(random.nextInt(20_000));
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
