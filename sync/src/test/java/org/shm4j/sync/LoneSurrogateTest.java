package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A string with a lone surrogate, which UTF-8 cannot hold (helper-133): {@link Codec#utf8()} and a record's string
 * component wrote it with '?' in its place, so {@code "\uD800"} and {@code "?"} were one map key, and a queue or list
 * handed back another string than it was given. Now every structure refuses it before storing anything, naming
 * itself; a surrogate pair still travels whole.
 */
class LoneSurrogateTest {
    private static final String LONE = "a\uD800b";
    private static final String REASON = "a String with a lone surrogate (U+D800 at index 1 of 3 chars): UTF-8 cannot"
            + " hold it";

    /** A record with a string component. */
    public record Labelled(String label, int n) {
    }

    /** A record whose accessor gives "a" when measured and a lone surrogate when written (helper-134). */
    public record Flipping(String text) {
        static final java.util.concurrent.atomic.AtomicInteger CALLS = new java.util.concurrent.atomic.AtomicInteger();

        @Override
        public String text() {
            return CALLS.getAndIncrement() % 2 == 0 ? "a" : "\uD800";
        }
    }

    /** Records holding records in a list. */
    public record Shelf(String name, List<Labelled> items) {
    }

    /** A record's string that UTF-8 cannot hold is named by its component, however deep, as the codec measures it. */
    @Test
    void shouldNameTheRecordComponentThatHoldsIt() {
        assertThatThrownBy(() -> Codec.record(Shelf.class).encodedLength(new Shelf("s",
                List.of(new Labelled("ok", 1), new Labelled(LONE, 2))))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("record component Shelf.items[].label: " + REASON + ", and '?' in its place would store"
                        + " another string (expected: text that UTF-8 can encode, as Python's str.encode requires)")
                .cause().hasMessageStartingWith(REASON);
    }

    @Test
    void shouldRefuseItInEveryStructureAndKeepNothing() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedQueue<String> queue = SharedQueue.create(heap, "q", 4096, Codec.utf8());
            assertThatThrownBy(() -> queue.offer(LONE)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("queue 'q': " + REASON);
            SharedQueue<Labelled> records = SharedQueue.create(heap, "r", 4096, Codec.record(Labelled.class));
            assertThatThrownBy(() -> records.offer(new Labelled(LONE, 1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("queue 'r': record component Labelled.label: " + REASON);
            SharedMap<String, String> map = SharedMap.create(heap, "m", Codec.utf8(), Codec.utf8(),
                    new MapSizing(100, 8, 8));
            map.put("a?b", "question mark");
            assertThatThrownBy(() -> map.put(LONE, "v")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("SharedMap 'm': " + REASON);
            assertThatThrownBy(() -> map.put("k", LONE)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("SharedMap 'm': " + REASON);
            assertThatThrownBy(() -> map.get(LONE)).as("not the entry of 'a?b'")
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("SharedMap 'm': " + REASON);
            SharedList<String> list = SharedList.create(heap, "l", Codec.utf8(), 16);
            assertThatThrownBy(() -> list.add(LONE)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("SharedList 'l': " + REASON);
            SharedPipe.End end = SharedPipe.create(heap, "p", 4096).first();
            assertThatThrownBy(() -> end.send(LONE, Codec.utf8(), java.time.Duration.ZERO))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(REASON);

            assertThat(queue.isEmpty()).isTrue();
            assertThat(records.isEmpty()).isTrue();
            assertThat(map).containsOnly(java.util.Map.entry("a?b", "question mark"));
            assertThat(list.size()).isZero();

            // measured strictly and written leniently, a string that changed in between was stored as '?'
            SharedList<Flipping> flips = SharedList.create(heap, "flips", Codec.record(Flipping.class), 16);
            SharedQueue<Flipping> flipQueue = SharedQueue.create(heap, "fq", 4096, Codec.record(Flipping.class));
            Flipping.CALLS.set(0);
            assertThatThrownBy(() -> flips.add(new Flipping("x"))).hasStackTraceContaining("lone surrogate");
            Flipping.CALLS.set(0);
            assertThatThrownBy(() -> flipQueue.offer(new Flipping("x"))).hasStackTraceContaining("lone surrogate");
            assertThat(flips.size()).isZero();
            assertThat(flipQueue.poll()).isNull();

            String pair = "a\uD83D\uDE00b"; // a surrogate pair: one code point, 4 UTF-8 bytes
            assertThat(queue.offer(pair)).isTrue();
            assertThat(queue.poll()).isEqualTo(pair);
            map.put(pair, pair);
            assertThat(map.get(pair)).isEqualTo(pair);
        }
    }
}
