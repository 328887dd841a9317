package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFullException;
import org.shm4j.sync.ring.SharedRing;

import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * helper-179: a ring, queue, joinable queue or pipe too big for its heap is refused naming the structure and a
 * capacity that fits the heap's free bytes, which then makes it (a ring or queue got the heap's own message, naming
 * only a block and its byte count; a joinable queue or pipe named itself and its bytes, but no capacity).
 */
class RingRoomTest {
    private static final int HEAP = 256 << 10;
    private static final int TOO_BIG = 1 << 20;
    private static final Pattern ADVICE = Pattern.compile("; a capacity of (\\d+) would fit its (\\d+) free bytes");

    @Test
    void shouldNameACapacityThatFitsForEachStructureMadeOfRings() {
        fits("ring 'r' of capacity " + TOO_BIG + " cannot be created: heap ",
                (heap, capacity) -> SharedRing.create(heap, "r", SharedRing.Kind.MPMC, capacity));
        fits("ring 'r' of capacity " + TOO_BIG + " cannot be created: heap ",
                (heap, capacity) -> SharedRing.openOrCreate(heap, "r", SharedRing.Kind.SPSC, capacity));
        fits("queue 'q' of capacity " + TOO_BIG + " cannot be created: heap ",
                (heap, capacity) -> SharedQueue.create(heap, "q", capacity, Codec.longs()));
        fits("queue 'q' of capacity " + TOO_BIG + " cannot be created: heap ",
                (heap, capacity) -> SharedQueue.openOrCreate(heap, "q", capacity, Codec.longs()));
        fits("joinable queue 'j' needs 2 catalog entries and ",
                (heap, capacity) -> SharedJoinableQueue.create(heap, "j", capacity, Codec.longs()));
        fits("pipe 'p' needs 3 catalog entries and ", (heap, capacity) -> SharedPipe.openOrCreate(heap, "p", capacity));
    }

    @Test
    void shouldSayWhenNotEvenTheSmallestCapacityFits() {
        try (SharedHeap heap = SharedHeap.anonymous(HEAP)) {
            heap.allocate("filler", new BlockType(0x5348_7777, 1), heap.freeBytes() - 1024);
            assertThatThrownBy(() -> SharedQueue.create(heap, "q", 1024, Codec.longs()))
                    .isInstanceOf(ShmFullException.class).hasMessageStartingWith("queue 'q' of capacity 1024")
                    .hasMessageEndingWith("; not even the smallest capacity, 1024, fits its " + heap.freeBytes()
                            + " free bytes")
                    .cause().isInstanceOf(ShmFullException.class).hasMessageStartingWith("heap ");
        }
    }

    /**
     * Asserts that {@code make} with {@link #TOO_BIG} is refused with {@code start} and a capacity that fits, and that
     * {@code make} with that capacity, the largest power of two that fits, then succeeds in the same heap.
     */
    private static void fits(String start, BiFunction<SharedHeap, Integer, Object> make) {
        try (SharedHeap heap = SharedHeap.anonymous(HEAP)) {
            Throwable refusal = catchThrowable(() -> make.apply(heap, TOO_BIG));
            assertThat(refusal).isInstanceOf(ShmFullException.class).hasMessageStartingWith(start);
            Matcher advice = ADVICE.matcher(refusal.getMessage());
            assertThat(advice.find()).as(refusal.getMessage()).isTrue();
            assertThat(Long.parseLong(advice.group(2))).isEqualTo(heap.freeBytes()); // nothing was made
            int capacity = Integer.parseInt(advice.group(1));
            assertThat(catchThrowable(() -> make.apply(heap, capacity * 2))).as("twice " + capacity)
                    .isInstanceOf(ShmFullException.class);
            assertThat(make.apply(heap, capacity)).isNotNull();
        }
    }
}
