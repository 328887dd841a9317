package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.list.SharedList;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A list in a record, of a raw or unchecked type, holding an array of another primitive type than its own: a
 * {@code byte[]} in a {@code List<boolean[]>} was written as its bytes and read back as a {@code boolean[]} with no
 * error (as a constant of another enum was, 332515c0), and a {@code long[]} in a {@code List<int[]>} failed only
 * while written, with the JDK's "Incompatible value layout", so a list's {@code contains} threw rather than answer
 * false. Both are refused when measured, as a record of another class is.
 */
class RawListElementTest {
    public record Flags(List<boolean[]> rows) {
    }

    public record Counts(List<int[]> rows) {
    }

    @Test
    @SuppressWarnings({"rawtypes", "unchecked"})
    void shouldRefuseAnArrayOfAnotherPrimitiveTypeWhenMeasured() {
        List bytes = new ArrayList<>(List.of(new boolean[]{true}));
        bytes.add(new byte[]{0, 1, 1});
        assertThatThrownBy(() -> Codec.record(Flags.class).encodedLength(new Flags(bytes)))
                .isInstanceOf(ClassCastException.class)
                .hasMessage("a byte[] is not a boolean[] (a value of a raw or unchecked type)");
        List longs = new ArrayList<>(List.of(new int[]{1}));
        longs.add(new long[]{2});
        Counts polluted = new Counts(longs);
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedList<Counts> list = SharedList.create(heap, "l", Codec.record(Counts.class), 64);
            list.add(new Counts(List.of(new int[]{1}, new int[]{2})));
            assertThat(list.contains(polluted)).as("not an element, as a value of another class").isFalse();
            assertThatThrownBy(() -> list.add(polluted)).isInstanceOf(ClassCastException.class)
                    .hasMessage("a long[] is not a int[] (a value of a raw or unchecked type)");
            assertThat(list.size()).isEqualTo(1);
        }
    }
}
