package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.PipeClosedException;
import org.shm4j.sync.SharedPipe;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedPipe} whose first end is held by sender JVMs SIGKILLed at random moments, mid-send included; each
 * replacement claims the dead holder's end and sends on, while this JVM receives on the second end, through the
 * public API only. Sender child n sends messages {@code (n, 0), (n, 1), ...} of varying length and records how many
 * sends returned true. {@code -Dshm4j.chaos.rounds=N} (default 8) sets the number of kills.
 *
 * <p>Outcomes: the receiver sees each sender's messages in order, without gaps or repeats, and one sender's only
 * after the previous sender's; every acknowledged message arrives, and at most the one a sender was sending when
 * killed arrives unacknowledged. Between two senders, {@code recv} may throw {@link PipeClosedException} naming the
 * dead holder, and goes on once the next sender holds the end.
 */
class PipeKillTest {
    private static final int MAX_SENDERS = KillRounds.MAX_PER_ROLE;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldReceiveEveryAcknowledgedMessageInOrderWhileSendersAreKilledAndReplaced() throws Exception {
        String heapName = names.unique("pkill");
        long seed = System.nanoTime();
        try (SharedHeap heap = SharedHeap.create(heapName, 4L << 20)) {
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 14);
            SharedRing.open(heap, "pipe.ab").setStallTimeout(Duration.ofMillis(500)); // a dead sender's claim
            SharedLongArray acked = SharedLongArray.create(heap, "acked", MAX_SENDERS);
            Receiver receiver = new Receiver(pipe.second());
            Thread receiving = Thread.ofPlatform().name("receiver").start(receiver);
            KillRounds.Role sender = n -> ChildJvm.start(Sender.class, heapName, Integer.toString(n));
            try (KillRounds rounds = new KillRounds(List.of(sender))) {
                rounds.run(new Random(seed), KillRounds.ROUNDS, 400);
                rounds.killAll();
                int senders = rounds.started(0);
                long deadline = System.nanoTime() + KillRounds.BOUND.toNanos();
                for (int n = 0; n < senders; n++) {
                    while (receiver.received(n) < acked.get(n) && receiver.failure == null) {
                        assertThat(System.nanoTime() - deadline).as("acknowledged messages arrive in time: sender "
                                + n + " " + receiver.received(n) + " of " + acked.get(n)).isNegative();
                        Thread.onSpinWait();
                    }
                }
                receiver.stop = true;
                receiving.join(KillRounds.BOUND);
                assertThat(receiver.failure).as("seed " + seed).isNull();
                long unacknowledged = 0;
                for (int n = 0; n < senders; n++) {
                    unacknowledged += receiver.received(n) - acked.get(n);
                    assertThat(receiver.received(n)).as("sender " + n).isBetween(acked.get(n), acked.get(n) + 1);
                }
                System.out.println("pipe chaos: " + receiver.total + " received, " + unacknowledged
                        + " unacknowledged, " + receiver.endsOfStream + " ends of stream, " + senders + " senders");
            }
        }
    }

    /** @return message {@code seq} of sender {@code n}: its sender, its number and filler bytes, 16..1016 bytes */
    private static byte[] message(int n, long seq) {
        ByteBuffer buffer = ByteBuffer.allocate(16 + (int) ((seq * 37 + n) % 1001));
        buffer.putLong(n).putLong(seq);
        while (buffer.hasRemaining()) {
            buffer.put((byte) (seq + buffer.position()));
        }
        return buffer.array();
    }

    /** Receives on the second end and checks each message against the sender order. */
    private static final class Receiver implements Runnable {
        private final SharedPipe.End end;
        private final long[] received = new long[MAX_SENDERS];
        private volatile Throwable failure;
        private volatile boolean stop;
        private int current;
        private long total;
        private int endsOfStream;

        Receiver(SharedPipe.End end) {
            this.end = end;
        }

        synchronized long received(int n) {
            return received[n];
        }

        @Override
        public void run() {
            try {
                while (!stop) {
                    byte[] got;
                    try {
                        got = end.recv(Duration.ofMillis(50));
                    } catch (PipeClosedException deadSender) {
                        endsOfStream++;
                        LockSupport.parkNanos(1_000_000); // a poll's pause until the next sender claims the end
                        continue;
                    }
                    if (got != null) {
                        check(got);
                    }
                }
            } catch (Throwable e) {
                failure = e;
            }
        }

        private synchronized void check(byte[] got) {
            ByteBuffer buffer = ByteBuffer.wrap(got);
            int n = (int) buffer.getLong();
            long seq = buffer.getLong();
            assertThat(n).as("sender order").isBetween(current, MAX_SENDERS - 1);
            current = n;
            assertThat(seq).as("sender " + n + "'s next message").isEqualTo(received[n]);
            assertThat(got).as("message (" + n + ", " + seq + ")").isEqualTo(message(n, seq));
            received[n]++;
            total++;
        }
    }

    /** A sender child: claims the first end (a dead holder's) and sends its messages, recording each one sent. */
    static final class Sender {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedPipe.End end = SharedPipe.open(heap, "pipe").first();
                SharedLongArray acked = SharedLongArray.open(heap, "acked");
                int n = Integer.parseInt(args[1]);
                RandomKills.say("READY");
                for (long seq = 0; ; seq++) {
                    while (!end.send(message(n, seq), Duration.ofMillis(50))) {
                        Thread.onSpinWait(); // full: the same message again
                    }
                    acked.set(n, seq + 1);
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
