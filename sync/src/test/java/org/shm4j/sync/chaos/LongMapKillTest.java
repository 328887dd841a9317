package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedLongMap} started tiny (so it splits as it fills; values of 24 to 48 bytes) and used through its own
 * allocation-free calls ({@code set}, {@code setBytes}, {@code delete}, {@code getInto}, {@code containsKey}) and its
 * {@code asMap()} view ({@code compute} with a slow function, {@code merge}, {@code remove}), by a writer JVM and
 * a reader JVM (gets, {@code size()}, iteration, {@code containsValue}, {@code stats()}), each killed with SIGKILL
 * at random moments and replaced. Before a call the writer records the version it writes (negative
 * for a removal) as "doing", and after the call returned as "acked". {@code -Dshm4j.chaos.rounds=N} sets the kills.
 * <ul>
 * <li>FORBIDDEN: a key holding anything but its acked version, or, while a call was under way on it, that call's
 *     version; a value read anywhere that is not a whole value of its own key; the map's size or iteration
 *     disagreeing with the keys present; any exception in a child.</li>
 * <li>ACCEPTABLE: the call under way when a writer died taking effect or not.</li>
 * </ul>
 */
class LongMapKillTest {
    private static final int KEYS = 512;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldKeepEveryAcknowledgedChangeWhileWritersAndReadersOfALongMapAreKilled() throws Exception {
        String heapName = names.unique("lmkill");
        long seed = System.nanoTime();
        try (SharedHeap heap = SharedHeap.create(heapName, 8L << 20)) {
            SharedLongMap<byte[]> map = SharedLongMap.create(heap, "map", Codec.bytes(), MapSizing.ofLongKeys(16, 24));
            SharedLongArray acked = SharedLongArray.create(heap, "acked", KEYS);
            SharedLongArray doing = SharedLongArray.create(heap, "doing", KEYS);
            List<KillRounds.Role> roles = List.of(n -> ChildJvm.start(Writer.class, heapName, Integer.toString(n)),
                    n -> ChildJvm.start(Reader.class, heapName, Integer.toString(n)));
            try (KillRounds rounds = new KillRounds(roles)) {
                rounds.run(new Random(seed), KillRounds.ROUNDS, 400);
                rounds.killAll();
                String context = "seed " + seed + ", children printed:\n" + rounds.transcripts();
                Set<Long> present = new HashSet<>();
                for (long key = 0; key < KEYS; key++) {
                    byte[] value = map.get(key);
                    long version = value == null ? 0 : versionOf(key, value);
                    long ack = acked.get(key);
                    long underWay = doing.get(key);
                    boolean allowed = state(version, value == null, ack) || underWay != 0
                            && state(version, value == null, underWay);
                    assertThat(allowed).as("key %d holds %s; acked %d, doing %d; %s", key,
                            value == null ? "nothing" : "version " + version, ack, underWay, context).isTrue();
                    if (value != null) {
                        present.add(key);
                    }
                }
                SharedMap<Long, byte[]> view = map.asMap();
                assertThat(map.size()).as(context).isEqualTo(present.size());
                assertThat(view.keySet()).as(context).containsExactlyInAnyOrderElementsOf(present);
                for (long key = 0; key < KEYS; key++) {
                    map.set(key, value(key, 1_000_000, 40));
                }
                assertThat(map.size()).isEqualTo(KEYS);
                view.clear();
                assertThat(map.size()).isZero();
                assertThat(view.entrySet()).isEmpty();
                long takeOvers = map.stats().segments().stream().mapToLong(s -> s.takeOvers()).sum();
                System.out.println("long map kills: " + rounds.kills(0) + " writers, " + rounds.kills(1)
                        + " readers; " + takeOvers + " segment locks taken over");
            }
        }
    }

    /** @return true if a key that holds {@code version} (or nothing, if {@code absent}) is in {@code state} */
    private static boolean state(long version, boolean absent, long state) {
        return state <= 0 ? absent : !absent && version == state;
    }

    /** @return the value of version {@code version} of {@code key}: key, version, their sum, zeros to length */
    static byte[] value(long key, long version, int length) {
        return ByteBuffer.allocate(length).putLong(key).putLong(version).putLong(key + version).array();
    }

    /** @return the version a value holds @throws AssertionError if it is not a whole value of {@code key} */
    static long versionOf(long key, byte[] value) {
        ByteBuffer bytes = ByteBuffer.wrap(value);
        if (value.length < 24 || bytes.getLong(0) != key || bytes.getLong(0) + bytes.getLong(8) != bytes.getLong(16)) {
            throw new AssertionError("key " + key + " read a value that is not its own whole value: "
                    + HexFormat.of().formatHex(value));
        }
        for (int i = 24; i < value.length; i++) {
            if (value[i] != 0) {
                throw new AssertionError("key " + key + " read a value with a torn tail");
            }
        }
        return bytes.getLong(8);
    }

    /** A writer child: {@code main(heap, n)} changes keys one call at a time, recording each. */
    static final class Writer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0]); Arena arena = Arena.ofConfined()) {
                SharedLongMap<byte[]> map = SharedLongMap.open(heap, "map", Codec.bytes());
                SharedMap<Long, byte[]> view = map.asMap();
                SharedLongArray acked = SharedLongArray.open(heap, "acked");
                SharedLongArray doing = SharedLongArray.open(heap, "doing");
                Random random = new Random(Integer.parseInt(args[1]));
                MemorySegment buffer = arena.allocate(64);
                RandomKills.say("READY");
                while (true) {
                    long key = random.nextInt(KEYS);
                    long version = Math.max(Math.abs(acked.get(key)), Math.abs(doing.get(key))) + 1;
                    byte[] bytes = value(key, version, 24 + 8 * random.nextInt(4));
                    int op = random.nextInt(7);
                    long state = op >= 5 ? -version : version;
                    doing.set(key, state);
                    switch (op) {
                        case 0 -> map.set(key, bytes);
                        case 1 -> {
                            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, buffer, 0, bytes.length);
                            map.setBytes(key, buffer, 0, bytes.length);
                        }
                        case 2 -> view.compute(key, (k, old) -> {
                            RandomKills.spin(random.nextInt(100_000)); // inside the function: where a kill lands
                            return bytes;
                        });
                        case 3 -> view.merge(key, bytes, (old, given) -> given);
                        case 4 -> view.put(key, bytes);
                        case 5 -> map.delete(key);
                        default -> view.remove(key);
                    }
                    acked.set(key, state);
                    doing.set(key, 0);
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }

    /** A reader child: reads every way the map offers, checking each value is a whole value of its own key. */
    static final class Reader {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0]); Arena arena = Arena.ofConfined()) {
                SharedLongMap<byte[]> map = SharedLongMap.open(heap, "map", Codec.bytes());
                SharedMap<Long, byte[]> view = map.asMap();
                Random random = new Random(Integer.parseInt(args[1]));
                MemorySegment buffer = arena.allocate(64);
                RandomKills.say("READY");
                for (long round = 0; ; round++) {
                    for (int i = 0; i < 200; i++) {
                        long key = random.nextInt(KEYS);
                        int length = map.getInto(key, buffer, 0);
                        if (length >= 0) {
                            versionOf(key, buffer.asSlice(0, length).toArray(JAVA_BYTE));
                        }
                        map.containsKey(key);
                        byte[] value = map.get(key);
                        if (value != null) {
                            versionOf(key, value);
                        }
                    }
                    long size = map.size();
                    if (size < 0 || size > KEYS) {
                        throw new AssertionError("size " + size);
                    }
                    switch ((int) (round % 3)) {
                        case 0 -> {
                            for (Map.Entry<Long, byte[]> entry : view.entrySet()) {
                                versionOf(entry.getKey(), entry.getValue());
                            }
                        }
                        case 1 -> view.containsValue(value(1, 1, 24));
                        default -> map.stats();
                    }
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }
    }
}
