package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's way to share a heap, {@code SharedHeap.openOrCreate(name, size, options)} with
 * {@code withReplaceStale(true).withUnlinkOnLastDetach(true)}, done over and over by three JVMs SIGKILLed at random
 * moments and replaced: each opens (or creates, or replaces) the heap, makes or opens a counter and a queue in it, uses
 * them and closes the heap, so the heap is created, removed on last detach, and replaced when stale, while kills land
 * in all of it. {@code -Dshm4j.chaos.rounds=N} (default 8) sets the number of kills.
 *
 * <p>Outcomes: no user ever gets an exception (a half-made, removed or replaced heap is never handed out, and a
 * structure in it is always complete); afterwards this JVM opens or replaces the heap the same way and uses it.
 */
class HeapLifecycleKillTest {
    private static final HeapOptions SHARED = HeapOptions.defaults().withReplaceStale(true)
            .withUnlinkOnLastDetach(true).withInitTimeout(Duration.ofSeconds(30));

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldHandOutOnlyCompleteHeapsWhileUsersThatCreateReplaceAndRemoveThemAreKilled() throws Exception {
        String heapName = names.unique("lifecycle");
        long seed = System.nanoTime();
        KillRounds.Role user = n -> ChildJvm.start(User.class, heapName);
        try (KillRounds rounds = new KillRounds(List.of(user, user, user))) {
            rounds.run(new Random(seed), KillRounds.ROUNDS, 400);
            rounds.killAll();
            int fresh = rounds.transcripts().split("\nFRESH", -1).length - 1;
            System.out.println("heap lifecycle: " + fresh + " fresh heaps over " + KillRounds.ROUNDS + " kills");
        }
        try (SharedHeap heap = SharedHeap.openOrCreate(heapName, 1 << 20, SHARED)) {
            assertThat(use(heap)).isPositive();
        }
    }

    /** Makes or opens the counter and the queue, counts once and passes one value through the queue. */
    private static long use(SharedHeap heap) throws InterruptedException {
        SharedLong uses = SharedLong.openOrCreate(heap, "uses");
        SharedQueue<Long> queue = SharedQueue.openOrCreate(heap, "queue", 1024, Codec.longs());
        long count = uses.incrementAndGet();
        queue.put(count);
        // another user may take this one, but one is there; a killed user's claim ahead is skipped after 5 s
        if (queue.poll(KillRounds.BOUND.toSeconds(), TimeUnit.SECONDS) == null) {
            throw new AssertionError("queue of " + heap + " is empty after a put");
        }
        return count;
    }

    /** A user child: opens, uses and closes the heap, again and again, until killed. */
    static final class User {
        public static void main(String[] args) {
            Random random = new Random(ProcessHandle.current().pid());
            RandomKills.say("READY");
            try {
                while (true) {
                    try (SharedHeap heap = SharedHeap.openOrCreate(args[0], 1 << 20, SHARED)) {
                        if (use(heap) == 1) {
                            RandomKills.say("FRESH"); // this user found a new heap (created, or replaced)
                        }
                        RandomKills.spin(random.nextInt(1_000_000)); // up to 1 ms attached
                    }
                    RandomKills.spin(random.nextInt(1_000_000)); // and up to 1 ms detached
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
