package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.atomic.SharedByteArray;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.map.SharedMapStats;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedMap} started tiny ({@code MapSizing(16, 8, 8)}, so it splits as it fills) and used by three writer
 * JVMs and one reader JVM, each killed with SIGKILL at random moments and replaced, through the public API only.
 * Writers count into 16 shared keys with {@code merge}, a slow {@code compute} (a kill lands inside the user's
 * remapping function more often than not) and a {@code get} + {@code putIfAbsent}/{@code replace(k, old, new)} loop,
 * and record each increment once the call returned; each writer also adds keys of its own with {@code putIfAbsent}
 * and removes them with {@code remove(k, v)}, recording every step before and after. {@code -Dshm4j.chaos.rounds=N}
 * (default 8) sets the number of kills.
 *
 * <p>Outcomes:
 * <ul>
 *   <li>a counter is at least the increments acknowledged for it, and all counters together exceed them by at most
 *       one per killed writer (the increment it was making, or had made and not yet recorded);
 *   <li>an own key whose {@code putIfAbsent} returned is present with its value until its {@code remove(k, v)} was
 *       called, and absent once that returned; one never put is absent; in between, either;
 *   <li>in a writer, a fresh own key's {@code putIfAbsent} returns null and its {@code remove(k, v)} returns true;
 *   <li>the reader sees each counter never decrease and every own key's value be the one written for it;
 *   <li>forbidden: anything else, and any exception.
 * </ul>
 */
class MapKillTest {
    private static final int KEYS = 16;
    private static final int MAX_WRITERS = 3 * KillRounds.MAX_PER_ROLE;
    /** Own keys per writer child: child n writes {@code "own-n-i"} for i below this. */
    private static final int PER_CHILD = 1 << 14;
    /** Own keys a writer keeps in the map before it removes its oldest. */
    private static final int LIVE = 40;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldKeepEveryAcknowledgedChangeWhileWritersAreKilledInsideComputeMergeAndGrowth() throws Exception {
        String heapName = names.unique("mkill");
        long seed = System.nanoTime();
        try (SharedHeap heap = SharedHeap.create(heapName, (16L << 20) + (long) MAX_WRITERS * (PER_CHILD + 8 * KEYS))) {
            SharedMap<String, Long> map = SharedMap.create(heap, "map", Codec.utf8(), Codec.longs(),
                    new MapSizing(16, 8, 8));
            SharedLongArray.create(heap, "acked", (long) MAX_WRITERS * KEYS);
            SharedByteArray.create(heap, "own", (long) MAX_WRITERS * PER_CHILD);
            List<KillRounds.Role> roles = List.of(
                    n -> ChildJvm.start(Writer.class, heapName, Integer.toString(3 * n)),
                    n -> ChildJvm.start(Writer.class, heapName, Integer.toString(3 * n + 1)),
                    n -> ChildJvm.start(Writer.class, heapName, Integer.toString(3 * n + 2)),
                    n -> ChildJvm.start(Reader.class, heapName));
            try (KillRounds rounds = new KillRounds(roles)) {
                rounds.run(new Random(seed), KillRounds.ROUNDS, 400);
                rounds.killAll();
                int writers = 3 * Math.max(rounds.started(0), Math.max(rounds.started(1), rounds.started(2)));
                int writerKills = rounds.kills(0) + rounds.kills(1) + rounds.kills(2);
                String context = "seed " + seed + ", " + writerKills + " writer kills; children printed:\n"
                        + rounds.transcripts();
                checkCounters(heap, map, writers, writerKills, context);
                checkOwnKeys(heap, map, writers, context);
                for (int k = 0; k < KEYS; k++) { // still usable by anyone
                    Long before = map.get(counter(k));
                    assertThat(map.merge(counter(k), 1L, Long::sum)).isEqualTo(before == null ? 1 : before + 1);
                }
            }
        }
    }

    private static void checkCounters(SharedHeap heap, SharedMap<String, Long> map, int writers, int writerKills,
                                      String context) {
        SharedLongArray acked = SharedLongArray.open(heap, "acked");
        long excess = 0;
        long total = 0;
        for (int k = 0; k < KEYS; k++) {
            long sum = 0;
            for (int w = 0; w < writers; w++) {
                sum += acked.get((long) w * KEYS + k);
            }
            long value = map.getOrDefault(counter(k), 0L);
            assertThat(value).as("counter " + k + " against its acknowledged increments; " + context)
                    .isGreaterThanOrEqualTo(sum);
            excess += value - sum;
            total += value;
        }
        SharedMapStats stats = map.stats();
        System.out.println("map chaos: " + total + " increments, " + excess + " unrecorded, " + writerKills
                + " writer kills, " + stats.entries() + " entries in " + stats.segments().size() + " segments, "
                + stats.repairs() + " repairs");
        assertThat(total).as("increments went through").isPositive();
        assertThat(excess).as("increments not recorded; " + context).isLessThanOrEqualTo(writerKills);
    }

    private static void checkOwnKeys(SharedHeap heap, SharedMap<String, Long> map, int writers, String context) {
        SharedByteArray own = SharedByteArray.open(heap, "own");
        int present = 0;
        for (int w = 0; w < writers; w++) {
            byte state = KeySteps.PUT;
            // the first key never put ends the writer's keys
            for (int i = 0; i < PER_CHILD && state != KeySteps.NONE; i++) {
                state = own.get((long) w * PER_CHILD + i);
                Long value = map.get(ownKey(w, i));
                String what = ownKey(w, i) + " in state " + state + " holds " + value + "; " + context;
                assertThat(KeySteps.allows(state, value, ownValue(w, i))).as(what).isTrue();
                present += value == null ? 0 : 1;
            }
        }
        assertThat(map.size()).as(context).isEqualTo(present + map.keySet().stream()
                .filter(key -> key.startsWith("counter-")).count());
    }

    private static String counter(int k) {
        return "counter-" + k;
    }

    private static String ownKey(int writer, int i) {
        return "own-" + writer + "-" + i;
    }

    private static long ownValue(int writer, int i) {
        return writer * 1_000_003L + i;
    }

    /** Adds 1 to counter {@code k} one of three ways; the compute's remapping function is slow on purpose. */
    private static void increment(SharedMap<String, Long> map, int k, Random random) {
        switch (random.nextInt(3)) {
            case 0 -> map.merge(counter(k), 1L, Long::sum);
            case 1 -> map.compute(counter(k), (key, old) -> {
                RandomKills.spin(random.nextInt(200_000)); // inside the user's function: where a kill lands
                return old == null ? 1 : old + 1;
            });
            default -> {
                while (true) {
                    Long old = map.get(counter(k));
                    if (old == null ? map.putIfAbsent(counter(k), 1L) == null
                            : map.replace(counter(k), old, old + 1)) {
                        return;
                    }
                }
            }
        }
    }

    /** A writer child: increments counters and adds and removes keys of its own, recording each step. */
    static final class Writer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<String, Long> map = SharedMap.open(heap, "map", Codec.utf8(), Codec.longs());
                SharedLongArray acked = SharedLongArray.open(heap, "acked");
                SharedByteArray own = SharedByteArray.open(heap, "own");
                int writer = Integer.parseInt(args[1]);
                Random random = new Random(writer);
                RandomKills.say("READY");
                for (int i = 0; i < PER_CHILD; i++) {
                    int k = random.nextInt(KEYS);
                    increment(map, k, random);
                    acked.getAndAdd((long) writer * KEYS + k, 1);
                    long slot = (long) writer * PER_CHILD + i;
                    own.set(slot, KeySteps.PUTTING);
                    check(map.putIfAbsent(ownKey(writer, i), ownValue(writer, i)) == null, "putIfAbsent", writer, i);
                    own.set(slot, KeySteps.PUT);
                    if (i >= LIVE) {
                        own.set(slot - LIVE, KeySteps.REMOVING);
                        check(map.remove(ownKey(writer, i - LIVE), ownValue(writer, i - LIVE)), "remove", writer,
                                i - LIVE);
                        own.set(slot - LIVE, KeySteps.REMOVED);
                    }
                }
                Thread.sleep(KillRounds.BOUND.toMillis()); // all done: wait to be killed
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }

        private static void check(boolean ok, String what, int writer, int i) {
            if (!ok) {
                throw new AssertionError(what + " of " + ownKey(writer, i) + " found the map changed by another");
            }
        }
    }

    /** A reader child: checks counters never decrease and own keys hold their own values. */
    static final class Reader {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedMap<String, Long> map = SharedMap.open(heap, "map", Codec.utf8(), Codec.longs());
                long[] last = new long[KEYS];
                RandomKills.say("READY");
                while (true) {
                    for (int k = 0; k < KEYS; k++) {
                        long value = map.getOrDefault(counter(k), 0L);
                        if (value < last[k]) {
                            throw new AssertionError(counter(k) + " went from " + last[k] + " to " + value);
                        }
                        last[k] = value;
                    }
                    for (Map.Entry<String, Long> entry : map.entrySet()) {
                        checkOwn(entry);
                    }
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }

        private static void checkOwn(Map.Entry<String, Long> entry) {
            if (entry.getKey().startsWith("own-")) {
                String[] parts = entry.getKey().split("-");
                long expected = ownValue(Integer.parseInt(parts[1]), Integer.parseInt(parts[2]));
                if (entry.getValue() != expected) {
                    throw new AssertionError(entry + " holds another key's value, expected " + expected);
                }
            }
        }
    }
}
