package org.shm4j.sync.chaos;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.atomic.SharedIntArray;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.ring.WaitStrategy;
import org.shm4j.testing.RandomKills;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The child JVMs of the tests of a {@link SharedQueue} of longs named "q" (in the heap named by their first argument)
 * whose producer process is killed between its tail CAS and its mark: the claimer that leaves such a claim, and the
 * consumers.
 */
final class UnmarkedClaimChildren {
    /** The bytes a claimer claims: one record of a long. */
    static final long CLAIM = 64;
    /** How long a child waits to be killed: far longer than any test runs. */
    private static final Duration KILLED_WITHIN = Duration.ofSeconds(60);

    private UnmarkedClaimChildren() {
    }

    /**
     * {@code main(heap, value)}: offers {@code value}, which names its process in the ring's producer table, then
     * claims {@link #CLAIM} bytes by a tail CAS as a producer does and never marks them (the window it is killed in),
     * says CLAIMED and waits to be killed.
     */
    static final class Claimer {
        private static final VarHandle LONG = JAVA_LONG.varHandle();

        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedQueue<Long> queue = SharedQueue.open(heap, "q", Codec.longs());
                if (!queue.offer(Long.parseLong(args[1]))) {
                    throw new AssertionError("no room");
                }
                MemorySegment block = heap.lookup("q", SyncLayout.RING).segment();
                long tail = (long) LONG.getVolatile(block, SyncLayout.RING_TAIL_OFFSET);
                if (!LONG.compareAndSet(block, SyncLayout.RING_TAIL_OFFSET, tail, tail + CLAIM)) {
                    throw new AssertionError("another producer claimed");
                }
                RandomKills.say("CLAIMED");
                Thread.sleep(KILLED_WITHIN.toMillis()); // killed long before this ends
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }

    /**
     * {@code main(heap, mode)}: "take" says TAKING and takes values for ever, counting each in the int array "got"
     * (at the value's index); "hold" polls the ring with a handler that says HOLDING and waits to be killed in it,
     * holding the consumers' turn, counting nothing.
     */
    static final class Taker {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedQueue<Long> queue = SharedQueue.open(heap, "q", Codec.longs());
                if (args[1].equals("hold")) {
                    queue.ring().poll((type, buffer, offset, length) -> {
                        RandomKills.say("HOLDING");
                        long end = System.nanoTime() + KILLED_WITHIN.toNanos();
                        while (System.nanoTime() - end < 0) { // killed long before this ends
                            LockSupport.parkNanos(end - System.nanoTime());
                        }
                    }, KILLED_WITHIN, WaitStrategy.BLOCKING);
                    throw new AssertionError("not killed in its handler");
                }
                SharedIntArray got = SharedIntArray.open(heap, "got");
                RandomKills.say("TAKING");
                while (true) {
                    got.incrementAndGet(queue.take());
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
