package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.PipeClosedException;
import org.shm4j.sync.SharedPipe;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedPipe} whose second end is held by receiver JVMs SIGKILLed at random moments, mid-receive included;
 * each replacement claims the dead holder's end and receives on, decoding records through a codec
 * ({@link SharedPipe.End#recv(Codec, Duration)}), while this JVM sends numbered records on the first end, through the
 * public API only. Each receiver checks every record's content and order and counts it in a shared table.
 *
 * <p>Outcomes: no record is received twice; a record is missing only if a receiver died inside the {@code recv} that
 * took it (at most one per killed receiver, as the pipe's Javadoc says); every receiver sees increasing numbers.
 */
class PipeReceiverKillTest {
    /** More than the sender gets through in the test's time, so that kills land while records flow. */
    private static final int MESSAGES = 1 << 21;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /** A record sent through the pipe: its number and a text made from it. */
    public record Item(long seq, String text) {
        static Item of(long seq) {
            return new Item(seq, "item " + seq + " " + "x".repeat((int) (seq % 97)));
        }
    }

    @Test
    void shouldReceiveEveryRecordAtMostOnceLosingOnlyWhatAKilledReceiverWasTaking() throws Exception {
        String heapName = names.unique("prkill");
        long seed = System.nanoTime();
        try (SharedHeap heap = SharedHeap.create(heapName, 24L << 20)) {
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 14);
            SharedLongArray seen = SharedLongArray.create(heap, "seen", MESSAGES);
            SharedLong errors = SharedLong.create(heap, "errors");
            Codec<Item> items = Codec.record(Item.class);
            SharedPipe.End first = pipe.first();
            long[] sent = new long[1];
            Thread sender = Thread.ofPlatform().name("sender").start(() -> send(first, items, sent));
            KillRounds.Role receiver = n -> ChildJvm.start(Receiver.class, heapName);
            int kills;
            try (KillRounds rounds = new KillRounds(List.of(receiver))) {
                rounds.run(new Random(seed), KillRounds.ROUNDS, 400);
                rounds.killAll();
                kills = rounds.kills(0);
            }
            sender.interrupt();
            sender.join(KillRounds.BOUND);
            assertThat(sender.isAlive()).isFalse();
            SharedPipe.End second = pipe.second(); // the last receiver's end, taken over: what it left is drained
            long drained = 0;
            while (true) {
                Item item;
                try {
                    item = second.recv(items, Duration.ofMillis(100));
                } catch (PipeClosedException closed) {
                    break;
                }
                if (item == null) {
                    break;
                }
                assertThat(item).isEqualTo(Item.of(item.seq()));
                seen.getAndAdd(item.seq(), 1);
                drained++;
            }
            assertThat(errors.get()).as("records out of order or garbled (seed %d)", seed).isZero();
            long missing = 0;
            for (int seq = 0; seq < sent[0]; seq++) {
                long times = seen.get(seq);
                if (times > 1) {
                    throw new AssertionError("record " + seq + " received " + times + " times (seed " + seed + ")");
                }
                missing += times == 0 ? 1 : 0;
            }
            assertThat(sent[0]).as("records sent").isPositive();
            assertThat(missing).as("records lost: at most one per killed receiver (seed %d)", seed)
                    .isBetween(0L, (long) kills);
            System.out.println("pipe receiver chaos: " + sent[0] + " sent, " + missing + " lost, " + drained
                    + " drained at the end, " + kills + " receivers killed");
        }
    }

    /** Sends records 0, 1, ... until interrupted (or all are sent), waiting out a dead receiver's end. */
    private static void send(SharedPipe.End end, Codec<Item> items, long[] sent) {
        try {
            for (long seq = 0; seq < MESSAGES && !Thread.currentThread().isInterrupted(); ) {
                try {
                    if (end.send(Item.of(seq), items, Duration.ofMillis(50))) {
                        sent[0] = ++seq;
                    }
                } catch (PipeClosedException deadReceiver) {
                    LockSupport.parkNanos(1_000_000); // until the next receiver claims the end
                }
            }
        } catch (InterruptedException stop) {
            Thread.currentThread().interrupt();
        }
    }

    /** A receiver child: claims the second end (a dead holder's) and receives, counting each record it gets. */
    static final class Receiver {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedPipe.End end = SharedPipe.open(heap, "pipe").second();
                SharedLongArray seen = SharedLongArray.open(heap, "seen");
                SharedLong errors = SharedLong.open(heap, "errors");
                Codec<Item> items = Codec.record(Item.class);
                RandomKills.say("READY");
                long last = -1;
                while (true) {
                    Item item = end.recv(items, Duration.ofMillis(50));
                    if (item == null) {
                        continue;
                    }
                    if (item.seq() <= last || !item.equals(Item.of(item.seq()))) {
                        errors.incrementAndGet();
                        RandomKills.say("ERROR after " + last + ": " + item);
                    }
                    last = item.seq();
                    seen.getAndAdd(item.seq(), 1);
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
