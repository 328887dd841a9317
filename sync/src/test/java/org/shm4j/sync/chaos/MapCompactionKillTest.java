package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.atomic.SharedByteArray;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.map.SharedMapStats;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A one-segment {@link SharedMap} made to compact over and over by a writer JVM that is SIGKILLed at random moments and
 * replaced: each round fills the segment's slots with small entries, removes eleven in twelve, then puts large entries,
 * for which no free chunk is big enough, until the segment compacts (its live entries fill at most half of it, so it
 * compacts rather than splits), then removes the round's keys. A writer records each put and remove before and after
 * the call; a new writer first checks the map against those records and removes what the killed one left.
 * (MapKillTest's map splits as it grows; its entries keep one size class, so it hardly ever compacts.) {@code
 * -Dshm4j.chaos.rounds=N} (default 8) sets the number of kills.
 *
 * <p>Outcomes: a key whose put returned is present with its value until its remove was called, and absent once that
 * returned; in between, either; the map holds nothing else; it compacted; it is usable after. Forbidden: anything
 * else, and any exception in a writer.
 */
class MapCompactionKillTest {
    /**
     * Keys per writer child: child n writes keys {@code n * STRIDE + j}, small values for even j, large for odd, and
     * starts from j = 0 again when they run out (each round ends with the map empty).
     */
    private static final int STRIDE = 1 << 16;
    private static final int SMALL = 16;
    private static final int LARGE = 80;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldKeepEveryAcknowledgedChangeWhileTheWriterIsKilledAroundCompactions() throws Exception {
        String heapName = names.unique("ckill");
        long seed = System.nanoTime();
        try (SharedHeap heap = SharedHeap.create(heapName, (4L << 20) + (long) KillRounds.MAX_PER_ROLE * STRIDE)) {
            SharedMap<Long, byte[]> map = SharedMap.create(heap, "map", Codec.longs(), Codec.bytes(),
                    new MapSizing(40, 8, 48));
            SharedByteArray.create(heap, "states", (long) KillRounds.MAX_PER_ROLE * STRIDE);
            try (KillRounds rounds = new KillRounds(List.of(n -> ChildJvm.start(Writer.class, heapName,
                    Integer.toString(n))))) {
                Random random = new Random(seed);
                rounds.run(random, KillRounds.ROUNDS, 300);
                TimeUnit.MILLISECONDS.sleep(1 + random.nextInt(300)); // not synchronisation: where the last kill lands
                rounds.killAll();
                String context = "seed " + seed + ", " + rounds.kills(0) + " writer kills; children printed:\n"
                        + rounds.transcripts();
                verify(map, SharedByteArray.open(heap, "states"), (long) rounds.started(0) * STRIDE, context);
                SharedMapStats stats = map.stats();
                System.out.println("map compaction chaos: " + rounds.kills(0) + " writer kills, " + stats.entries()
                        + " entries in " + stats.segments().size() + " segments, " + stats.compactions()
                        + " compactions, " + stats.repairs() + " repairs");
                assertThat(stats.compactions()).as("compactions; " + context).isPositive();
                byte[] after = value(-1);
                map.put(-1L, after); // still usable by anyone
                assertThat(map.get(-1L)).isEqualTo(after);
            }
        }
    }

    /**
     * Checks the map against the states of keys 0 to {@code keys}: a key put is present with its value, one removed or
     * never put absent, one in between either; and the map holds no other key.
     *
     * @throws AssertionError naming the key, its state and value, and {@code context}
     */
    private static void verify(SharedMap<Long, byte[]> map, SharedByteArray states, long keys, String context) {
        int present = 0;
        for (long key = 0; key < keys; key++) {
            byte state = states.get(key);
            byte[] value = map.get(key);
            if (!KeySteps.allows(state, value, value(key))) {
                throw new AssertionError("key " + key + " in state " + state + " holds " + Arrays.toString(value)
                        + "; " + context);
            }
            present += value == null ? 0 : 1;
        }
        if (map.size() != present) {
            throw new AssertionError(map.size() + " keys in the map, " + present + " of them known; " + context);
        }
    }

    /** @return key {@code key}'s value: {@link #SMALL} or {@link #LARGE} bytes made from it */
    private static byte[] value(long key) {
        byte[] value = new byte[(key & 1) == 0 ? SMALL : LARGE];
        Arrays.fill(value, (byte) (key * 31 + 7));
        value[0] = (byte) (key >>> 8);
        return value;
    }

    /**
     * A writer child: checks and removes what the killed writers left (before it says READY, so no kill lands there),
     * then compacts the segment round after round.
     */
    static final class Writer {
        private final SharedMap<Long, byte[]> map;
        private final SharedByteArray states;

        private Writer(SharedMap<Long, byte[]> map, SharedByteArray states) {
            this.map = map;
            this.states = states;
        }

        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                Writer writer = new Writer(SharedMap.open(heap, "map", Codec.longs(), Codec.bytes()),
                        SharedByteArray.open(heap, "states"));
                long start = Long.parseLong(args[1]) * STRIDE;
                verify(writer.map, writer.states, start, "as the writer killed before child " + args[1] + " left it");
                for (Long key : List.copyOf(writer.map.keySet())) {
                    writer.remove(key);
                }
                RandomKills.say("READY");
                int maxEntries = writer.map.stats().segments().getFirst().maxEntries();
                for (long next = start; ; ) { // until killed; a round empties the map, so its keys can be used again
                    next = writer.round(next, maxEntries);
                    if (next + 4L * maxEntries > start + STRIDE) {
                        next = start;
                    }
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }

        /** @return the next key after one round from {@code first} (even), which left the map empty */
        private long round(long first, int maxEntries) {
            long compactions = map.stats().compactions();
            long key = first;
            for (int i = 0; i < maxEntries; i++, key += 2) {
                put(key);
            }
            for (long small = first; small < key; small += 2) {
                if ((small - first) / 2 % 12 != 0) {
                    remove(small);
                }
            }
            long large = key + 1;
            for (int i = 0; i < maxEntries && map.stats().compactions() == compactions; i++, large += 2) {
                put(large);
            }
            for (Long left : List.copyOf(map.keySet())) {
                remove(left);
            }
            return large + 1;
        }

        private void put(long key) {
            states.set(key, KeySteps.PUTTING);
            if (map.putIfAbsent(key, value(key)) != null) {
                throw new AssertionError("key " + key + " was already in the map");
            }
            states.set(key, KeySteps.PUT);
        }

        private void remove(long key) {
            states.set(key, KeySteps.REMOVING);
            if (!map.remove(key, value(key))) {
                throw new AssertionError("key " + key + " held another value or none");
            }
            states.set(key, KeySteps.REMOVED);
        }
    }
}
