package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.sync.Codec;
import org.shm4j.sync.SharedPipe;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three JVMs racing to make the same structures, SIGKILLed at random moments and replaced, through the public API as a
 * user would: each round's names are new ({@code q<r>}, {@code m<r>}, ...), every racer makes or opens all of them
 * with {@code openOrCreate} (a pipe and a locked value, which have no {@code openOrCreate}, with {@code create} and,
 * if it exists, {@code open}), uses each once in a fixed order (map count, list append, locked value, in that order)
 * and moves the shared round on. So kills land inside the creation of a queue's ring, a map, a list, a pipe's three
 * blocks, a value and its companion lock, and a fair lock, with the other racers creating the same names.
 * {@code -Dshm4j.chaos.rounds=N} (default 8) sets the number of kills.
 *
 * <p>Outcomes: afterwards, making and using every round's structures the same way succeeds in this JVM, including the
 * round a racer was killed in; per round, the map's count, the list's size and the value are each at least 1 and in
 * that order, and together they differ by at most one per kill; each queue holds its own round's number only.
 */
class RacingCreatorsKillTest {
    private static final int MAX_ROUNDS = 1500;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldLetAnyoneFinishAndUseStructuresWhoseCreatorsWereKilledWhileRacing() throws Exception {
        String heapName = names.unique("racers");
        long seed = System.nanoTime();
        try (SharedHeap heap = SharedHeap.create(heapName, 64L << 20,
                HeapOptions.defaults().withCatalogCapacity(1 << 15))) {
            SharedLong round = SharedLong.create(heap, "round");
            KillRounds.Role racer = n -> ChildJvm.start(Racer.class, heapName);
            try (KillRounds rounds = new KillRounds(List.of(racer, racer, racer))) {
                rounds.run(new Random(seed), KillRounds.ROUNDS, 400);
                rounds.killAll();
                int kills = rounds.kills(0) + rounds.kills(1) + rounds.kills(2);
                long last = round.get();
                assertThat(last).as("rounds made").isPositive().isLessThan(MAX_ROUNDS);
                long spread = 0;
                for (int r = 0; r <= last; r++) {
                    makeAndUse(heap, r);
                    long counted = SharedLongMap.open(heap, "m" + r, Codec.longs()).get(0);
                    long listed = SharedList.open(heap, "l" + r, Codec.utf8()).size();
                    long valued = SharedLong.open(heap, "v" + r).get();
                    assertThat(List.of(counted, listed, valued)).as("round " + r + ": seed " + seed)
                            .isSortedAccordingTo((a, b) -> Long.compare(b, a));
                    assertThat(valued).isPositive();
                    spread += counted - valued;
                    SharedPipe pipe = SharedPipe.open(heap, "p" + r);
                    assertThat(pipe.first().send(new byte[] {(byte) r}, KillRounds.BOUND)).isTrue();
                    assertThat(pipe.second().recv(KillRounds.BOUND)).containsExactly((byte) r);
                    SharedQueue<Long> queue = SharedQueue.open(heap, "q" + r, Codec.longs());
                    for (Long value = queue.poll(); value != null; value = queue.poll()) {
                        assertThat(value).as("queue q" + r).isEqualTo(r);
                    }
                }
                System.out.println("racing creators: " + (last + 1) + " rounds, " + kills + " kills, spread " + spread);
                assertThat(spread).as("counts left apart by kills; seed " + seed + ", children printed:\n"
                        + rounds.transcripts()).isLessThanOrEqualTo(kills);
            }
        }
    }

    /** Makes (or opens) round {@code r}'s structures and uses each once, in a fixed order. */
    private static void makeAndUse(SharedHeap heap, int r) throws InterruptedException {
        SharedQueue<Long> queue = SharedQueue.openOrCreate(heap, "q" + r, 1024, Codec.longs());
        queue.offer((long) r); // false when full: fine
        SharedLongMap<Long> map = SharedLongMap.openOrCreate(heap, "m" + r, Codec.longs(),
                MapSizing.ofLongKeys(16, 8));
        SharedList<String> list = SharedList.openOrCreate(heap, "l" + r, Codec.utf8(), 16);
        try {
            SharedPipe.create(heap, "p" + r, 1024);
        } catch (ShmAlreadyExistsException exists) {
            SharedPipe.open(heap, "p" + r); // its ends are claimed only by the test, in the end
        }
        SharedLong value;
        try {
            value = SharedLong.create(heap, "v" + r, 0, true);
        } catch (ShmAlreadyExistsException exists) {
            value = SharedLong.open(heap, "v" + r);
        }
        SharedFairLock fair = SharedFairLock.openOrCreate(heap, "f" + r);
        fair.lock();
        try {
            map.asMap().merge(0L, 1L, Long::sum);
            list.add("r" + r);
            value.withLock(v -> v + 1);
        } finally {
            fair.unlock();
        }
    }

    /** A racer child: makes and uses the current round's structures, then moves the round on, until killed. */
    static final class Racer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLong round = SharedLong.open(heap, "round");
                Random random = new Random(ProcessHandle.current().pid());
                RandomKills.say("READY");
                for (long r = round.get(); r < MAX_ROUNDS - 1; r = round.get()) {
                    makeAndUse(heap, (int) r);
                    round.compareAndSet(r, r + 1);
                    RandomKills.spin(random.nextInt(2_000_000)); // up to 2 ms: the racers meet in new rounds often
                }
                Thread.sleep(KillRounds.BOUND.toMillis()); // all rounds made: wait to be killed
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
