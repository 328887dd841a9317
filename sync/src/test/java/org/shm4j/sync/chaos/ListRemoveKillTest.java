package org.shm4j.sync.chaos;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.list.IdElements;
import org.shm4j.sync.list.SharedList;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A {@link SharedList} emptied by a writer JVM through {@code clear()}, {@code removeLast()} and {@code remove(Object)}
 * of its first element (a shift of every slot) and refilled by {@code add} and {@code addAll}, SIGKILLed at random
 * moments (a fixed seed) and replaced, through the public API only (readers killed mid-read, and kills at each step
 * of these calls made on demand: {@code SharedListRemoveKillTest}). The list always holds the consecutive ids
 * {@code lo..hi-1}; before a call the writer records the range the call makes as "next", after it returned as
 * "acked", each in one word. A new writer first checks the list against those records,
 * lands a change its predecessor journaled but had not begun (an append and its removal), and checks again.
 * {@code -Dshm4j.chaos.rounds=N} (default 8) sets the kills.
 * <ul>
 * <li>ACCEPTABLE: the call under way when the writer died taking effect whole or not at all.</li>
 * <li>FORBIDDEN: the list holding anything but the acked range or the next one; an element torn, lost or twice; any
 *     exception in a child; the list not taking a change after.</li>
 * </ul>
 */
class ListRemoveKillTest {
    private static final long SEED = 20261206;
    /** The size a writer refills an emptied list to: three chunks, so a remove of the first shifts 50 KB. */
    private static final int FULL = 400;
    private static final int ACKED = 0;
    private static final int NEXT = 1;
    /** The id a new writer appends and removes first, past any id of the ranges. */
    private static final long MARK = 1L << 40;
    /** What {@link #rangeOf} says for an empty list, whose bounds it cannot see. */
    private static final long EMPTY = -1;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldTakeEachClearOrRemoveWholeOrNotAtAllWhileItsWriterIsKilled() throws Exception {
        String heapName = names.unique("list-chaos");
        try (SharedHeap heap = SharedHeap.create(heapName, 16 << 20)) {
            SharedList<byte[]> list = SharedList.create(heap, "l", Codec.bytes(), IdElements.BYTES);
            list.addAll(elements(0, FULL));
            SharedLongArray track = SharedLongArray.create(heap, "track", 2);
            track.set(ACKED, range(0, FULL));
            track.set(NEXT, range(0, FULL));
            List<KillRounds.Role> roles = List.of(n -> ChildJvm.start(Writer.class, heapName, Integer.toString(n)));
            try (KillRounds rounds = new KillRounds(roles)) {
                rounds.run(new Random(SEED), KillRounds.ROUNDS, 300);
                rounds.killAll();
                String context = "acked " + text(track.get(ACKED)) + ", next " + text(track.get(NEXT)) + ", "
                        + rounds.kills(0) + " writer kills; children printed:\n" + rounds.transcripts();
                assertThat(check(list.snapshot(), track)).as(context).isNull();
                list.add(IdElements.of(MARK));
                list.set(list.size() - 1, IdElements.of(7));
                assertThat(IdElements.idOf(list.removeLast())).isEqualTo(7);
                assertThat(check(list.snapshot(), track)).as(context).isNull();
                System.out.println("list chaos: " + rounds.kills(0) + " writer kills, " + list.recoveries()
                        + " take-overs");
            }
        }
    }

    /** @return null if {@code values} are the acked or the next range of {@code track}, else what they are */
    private static String check(List<byte[]> values, SharedLongArray track) {
        long acked = track.get(ACKED);
        long next = track.get(NEXT);
        long found = rangeOf(values);
        boolean ok = found == EMPTY ? isEmpty(acked) || isEmpty(next) : found == acked || found == next;
        return ok ? null : "the list holds " + text(found);
    }

    /** @return the range {@code values} hold, after checking they are whole and consecutive */
    private static long rangeOf(List<byte[]> values) {
        long lo = values.isEmpty() ? 0 : IdElements.idOf(values.getFirst());
        for (int i = 0; i < values.size(); i++) {
            long id = IdElements.idOf(values.get(i));
            if (id != lo + i) {
                throw new AssertionError("element " + i + " is id " + id + ", expected " + (lo + i));
            }
        }
        return values.isEmpty() ? EMPTY : range(lo, lo + values.size());
    }

    /** @return the word for ids {@code lo..hi-1}, both below 2<sup>31</sup> */
    private static long range(long lo, long hi) {
        return lo << 32 | hi;
    }

    private static long hi(long range) {
        return range & 0xFFFF_FFFFL;
    }

    private static boolean isEmpty(long range) {
        return range >>> 32 == hi(range);
    }

    private static String text(long range) {
        return range == EMPTY ? "[]" : "[" + (range >>> 32) + ", " + hi(range) + ")";
    }

    private static List<byte[]> elements(long from, long to) {
        return LongStream.range(from, to).mapToObj(IdElements::of).toList();
    }

    /** {@code main(heap, n)}: checks the list against the records, then clears, removes and refills it. */
    static final class Writer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedList<byte[]> list = SharedList.open(heap, "l", Codec.bytes());
                SharedLongArray track = SharedLongArray.open(heap, "track");
                checkAgainstRecords(list.snapshot(), track); // as a user would: takes no mutex over
                // a change the dead writer journaled before it began it is seen by no reader until a writer takes
                // its mutex over and finishes it (SharedList's Consistency): it may land at this writer's first
                // call, after the snapshot above. An append and its removal land it first, changing nothing else.
                list.add(IdElements.of(MARK));
                if (IdElements.idOf(list.removeLast()) != MARK) {
                    throw new AssertionError("the mark appended was not the last element");
                }
                List<byte[]> found = list.snapshot();
                checkAgainstRecords(found, track);
                long lo = found.isEmpty() ? 0 : IdElements.idOf(found.getFirst());
                long hi = lo + found.size();
                if (found.isEmpty()) { // ids only grow: start past any the dead writer may have used
                    lo = Math.max(hi(track.get(ACKED)), hi(track.get(NEXT)));
                    hi = lo;
                }
                track.set(ACKED, range(lo, hi));
                track.set(NEXT, range(lo, hi));
                Random random = new Random(Long.parseLong(args[1]));
                RandomKills.say("READY");
                while (true) {
                    long[] after = change(list, random.nextInt(8), lo, hi, track);
                    lo = after[0];
                    hi = after[1];
                }
            } catch (Throwable e) {
                RandomKills.fail(e);
            }
        }

        private static void checkAgainstRecords(List<byte[]> found, SharedLongArray track) {
            String wrong = check(found, track);
            if (wrong != null) {
                throw new AssertionError(wrong + "; acked " + text(track.get(ACKED)) + ", next "
                        + text(track.get(NEXT)));
            }
        }

        /** Makes one change of kind {@code op} to the list of ids {@code lo..hi-1}; @return the new bounds */
        private static long[] change(SharedList<byte[]> list, int op, long lo, long hi, SharedLongArray track) {
            long[] after = lo == hi ? new long[]{hi, hi + FULL}
                    : switch (op) {
                        case 0 -> new long[]{hi, hi};
                        case 1, 2 -> new long[]{lo, hi - 1};
                        case 3, 4, 5 -> new long[]{lo + 1, hi};
                        default -> new long[]{lo, hi + 1};
                    };
            track.set(NEXT, range(after[0], after[1]));
            boolean ok = true;
            if (lo == hi) {
                list.addAll(elements(hi, hi + FULL));
            } else if (op == 0) {
                list.clear();
            } else if (op <= 2) {
                ok = IdElements.idOf(list.removeLast()) == hi - 1;
            } else if (op <= 5) {
                ok = list.remove(IdElements.of(lo));
            } else {
                list.add(IdElements.of(hi));
            }
            if (!ok) {
                throw new AssertionError("op " + op + " on " + text(range(lo, hi)) + " found another list");
            }
            track.set(ACKED, range(after[0], after[1]));
            return after;
        }
    }
}
