package org.shm4j.sync;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.AbstractList;
import java.util.ConcurrentModificationException;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The record component that a record codec's refusal names, where one record type occurs at several places of the
 * codec: a codec built one shape per record type, which named every place by the path of the first, so a lone
 * surrogate in {@code Pair.second.label} was reported in {@code Pair.first.label} (as was a list changed while it was
 * encoded).
 */
class ComponentPathTest {
    private static final String LONE = "a\uD800b";

    public record Labelled(String label, int n) {
    }

    public record Pair(Labelled first, Labelled second) {
    }

    public record Shelf(Labelled featured, List<Labelled> items) {
    }

    public record Basket(List<String> items) {
    }

    public record Baskets(Basket mine, Basket yours) {
    }

    public sealed interface Job permits Local, Remote {
    }

    public sealed interface Local extends Job permits Task {
    }

    public sealed interface Remote extends Job permits Task {
    }

    /** A record that both sealed interfaces under {@link Job} permit: one alternative. */
    public record Task(String name) implements Local, Remote {
    }

    @Test
    void shouldNameThePlaceOfTheValueWhereItsRecordTypeOccursTwice() {
        assertThatThrownBy(() -> Codec.record(Pair.class).encodedLength(new Pair(new Labelled("ok", 1),
                new Labelled(LONE, 2)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("record component Pair.second.label: a String with a lone surrogate");
        assertThatThrownBy(() -> Codec.record(Shelf.class).encodedLength(new Shelf(new Labelled("ok", 1),
                List.of(new Labelled(LONE, 2))))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("record component Shelf.items[].label: a String with a lone surrogate");
        List<String> changing = new AbstractList<>() { // what another thread's change meets mid-encode
            @Override
            public String get(int index) {
                throw new ConcurrentModificationException();
            }

            @Override
            public int size() {
                return 1;
            }
        };
        assertThatThrownBy(() -> Codec.record(Baskets.class).encodedLength(new Baskets(new Basket(List.of("a")),
                new Basket(changing)))).isInstanceOf(ConcurrentModificationException.class)
                .hasMessageStartingWith("record component Baskets.yours.items changed while it was encoded");
    }

    /** A record permitted by two sealed interfaces on the way from the top stays one alternative. */
    @Test
    void shouldKeepOneAlternativeForARecordPermittedTwice() {
        SealedCodec<Job> codec = Codec.sealed(Job.class);
        assertThat(codec.schema()).isEqualTo("Job{Task(String name)}");
        Task task = new Task("t");
        MemorySegment bytes = MemorySegment.ofArray(new byte[codec.encodedLength(task)]);
        codec.encode(task, bytes, 0);
        assertThat(codec.decode(bytes, 0, (int) bytes.byteSize())).isEqualTo(task);
        assertThatThrownBy(() -> codec.encodedLength(new Task(LONE))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("record component Job<Local><Task>.name: a String with a lone surrogate");
    }
}
