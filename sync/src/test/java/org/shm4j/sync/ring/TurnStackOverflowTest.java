package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link StackOverflowError} that cuts an MPMC poll short in a thread that lives on. It may strike in the handler,
 * in the turn's acquire after the CAS that took the mutex, or in the turn's release in the {@code finally} (a call
 * from a frame whose stack just overflowed overflows again): the process lives, so no other process takes the turn
 * over as a dead holder's, and before the fix every later poll, in any process, returned 0 after waiting a second
 * for the turn (the overflowing thread's own poll threw "already held by this thread"). Each round recurses to the
 * stack's end, then polls at every depth on the way back; then another thread must drain what is left in time, and at
 * the end a child JVM must get every message offered after the rounds. Each message never handed over is one a poll
 * cut short consumed (its handler overflowed: the message counts as consumed), and each one handed over again is one
 * whose freeing a poll cut short after its handler returned (handled as a consumer's death there: found by review,
 * with a handler that only counts); so together they are at most the polls cut short.
 */
class TurnStackOverflowTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int ROUNDS = 40;
    private static final int CAPACITY = 1 << 16;
    private static final int AFTER = 100;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldNotLeaveTheTurnHeldWhenAStackOverflowCutsAPollShort() throws Exception {
        String heapName = names.unique("turnsoe");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, CAPACITY);
            Deep deep = new Deep(ring);
            long seq = 0;
            for (int round = 0; round < ROUNDS; round++) {
                while (ring.offer(1, message(seq), 0, Long.BYTES)) { // at this thread's shallow depth
                    seq++;
                }
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread thread = Thread.ofPlatform().stackSize(512 * 1024).start(() -> {
                    try {
                        deep.down();
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                });
                thread.join(BOUND.toMillis());
                assertThat(thread.isAlive()).as("round " + round + " ends in time").isFalse();
                assertThat(failure.get()).isNull();
                awaitEmpty(ring, deep, round);
            }
            assertThat(deep.overflows).as("polls cut short by the overflow").isPositive();
            for (int i = 0; i < AFTER; i++) {
                assertThat(ring.offer(1, message(seq + i), 0, Long.BYTES)).isTrue();
            }
            try (ChildJvm child = ChildJvm.start(Taker.class, heapName, Integer.toString(AFTER))) {
                assertThat(child.awaitLine("GOT", BOUND))
                        .as("another process gets every message offered after the rounds, in order")
                        .isEqualTo("GOT " + AFTER + " " + seq + ".." + (seq + AFTER - 1));
                child.awaitSuccess(BOUND);
            }
            int lost = 0;
            int again = 0;
            for (int s = 0; s < seq; s++) {
                lost += deep.seen[s] == 0 ? 1 : 0;
                again += Math.max(deep.seen[s] - 1, 0);
            }
            assertThat(lost + again).as("messages not handed over, and handed over again (each one a poll cut short)")
                    .isLessThanOrEqualTo(deep.overflows);
        }
    }

    /** Drains what a round left, from this thread, until the ring is empty; fails after {@link #BOUND}. */
    private static void awaitEmpty(SharedRing ring, Deep deep, int round) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!ring.isEmpty()) {
            assertThat(System.nanoTime() - deadline).as("round " + round + ": another thread drains the ring in time")
                    .isNegative();
            ring.drain(deep, Integer.MAX_VALUE);
        }
    }

    private static byte[] message(long seq) {
        byte[] bytes = new byte[Long.BYTES];
        MemorySegment.ofArray(bytes).set(JAVA_LONG_UNALIGNED, 0, seq);
        return bytes;
    }

    /** The recursion: polls once at every depth on its way back from the stack's end. */
    private static final class Deep implements MessageHandler {
        private final SharedRing ring;
        /** How often each message was handed over: a round offers at most a ring full of 16-byte records. */
        final byte[] seen = new byte[CAPACITY / 16 * ROUNDS];
        int overflows;

        Deep(SharedRing ring) {
            this.ring = ring;
        }

        void down() {
            try {
                down();
            } catch (StackOverflowError expected) {
                // the end: poll on the way back
            }
            try {
                ring.poll(this);
            } catch (StackOverflowError e) {
                overflows++;
            }
        }

        @Override
        public void onMessage(int type, MemorySegment buffer, long offset, int length) {
            seen[(int) buffer.get(JAVA_LONG_UNALIGNED, offset)]++;
        }
    }

    /** {@code main(heap, count)}: polls {@code count} messages and prints {@code GOT count first..last}. */
    public static final class Taker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring", SharedRing.Kind.MPMC);
                int count = Integer.parseInt(args[1]);
                long[] got = new long[count];
                int[] n = {0};
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (n[0] < count && System.nanoTime() - deadline < 0) {
                    ring.drain((type, buffer, offset, length) -> got[n[0]++] = buffer.get(JAVA_LONG_UNALIGNED, offset),
                            count - n[0]);
                }
                System.out.println("GOT " + n[0] + " " + got[0] + ".." + got[Math.max(0, n[0] - 1)]);
                System.out.flush();
            }
        }
    }
}
