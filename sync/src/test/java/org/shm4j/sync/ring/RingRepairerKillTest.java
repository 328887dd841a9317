package org.shm4j.sync.ring;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ShmNames;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * An MPMC {@link SharedRing} consumer killed between handing records over and freeing them, then the consumer that
 * takes its turn over killed in the middle of finishing that freeing (or of its own drain), each child SIGKILLed at an
 * exact step by a debugger ({@link KilledAtCall}): the third consumer gets every message no dead consumer was handed,
 * once, and the ring frees all its room.
 * <ul>
 * <li>ACCEPTABLE: the messages the children printed as handed, and those the third consumer gets, are 0..N-1 each
 *     exactly once; size() 0 after; a full ring's worth offered and drained again.</li>
 * <li>FORBIDDEN: a message lost or handed twice; room not freed (an offer refused on an empty ring); an exception,
 *     such as the ring refused as corrupted.</li>
 * </ul>
 */
@Timeout(120)
class RingRepairerKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int MESSAGES = 40;
    private static final int CAPACITY = 4096;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * @param firstStep  where the first consumer dies: {@code class#method@caller#hit} (class simple names of this
     *                   package)
     * @param secondStep where the consumer that takes its turn over dies, the same way
     */
    @ParameterizedTest(name = "consumer killed at {0}, its successor at {1}")
    @CsvSource({
            "RingRecords#zero@consumed#5, RingRecords#zero@finishConsumption#1",
            "RingRecords#zero@consumed#5, RingWaits#signalNotFull@finishPending#1",
            "RingRecords#zero@consumed#5, RingRecords#zero@consumed#3",
            "RingConsumer#endZeroingDrain@drainZeroing#1, RingRecords#zero@finishConsumption#1",
            "RingConsumer#endZeroingDrain@drainZeroing#1, RingConsumer#endZeroingDrain@drainZeroing#1",
            "RingRecords#zero@consumed#1, RingRecords#zero@consumed#1",
    })
    void shouldHandEveryMessageOverOnceWhenTheConsumerFinishingADeadOnesFreeingIsKilled(String firstStep,
            String secondStep) throws Exception {
        String heapName = names.unique("ring-repairer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, CAPACITY);
            for (long i = 0; i < MESSAGES; i++) {
                assertThat(offer(ring, i)).isTrue();
            }
            List<Long> handed = new ArrayList<>();
            for (String step : List.of(firstStep, secondStep)) {
                try (KilledAtCall consumer = KilledAtCall.start(step(step), Consumer.class, heapName)) {
                    consumer.awaitKilled(BOUND);
                    consumer.output().lines().filter(line -> line.startsWith("GOT "))
                            .forEach(line -> handed.add(Long.parseLong(line.substring(4))));
                }
            }
            int handedToChildren = handed.size();
            while (ring.drain((type, buffer, offset, length) -> handed.add(buffer.get(JAVA_LONG_UNALIGNED, offset)),
                    Integer.MAX_VALUE) > 0) {
                assertThat(handed.size()).as("handed so far: %s", handed).isLessThanOrEqualTo(MESSAGES);
            }
            assertThat(handed).as("%d handed to the children", handedToChildren)
                    .containsExactlyInAnyOrderElementsOf(LongStream.range(0, MESSAGES).boxed().toList());
            assertThat(ring.size()).isZero();
            long fits = CAPACITY / 16; // a record of 8 bytes takes its 8-byte header and 8 bytes
            for (long i = 0; i < fits; i++) {
                assertThat(offer(ring, i)).as("offer %d into an emptied ring", i).isTrue();
            }
            assertThat(ring.drain((type, buffer, offset, length) -> { }, Integer.MAX_VALUE)).isEqualTo((int) fits);
        }
    }

    private static boolean offer(SharedRing ring, long value) {
        return ring.offer(1, ByteBuffer.allocate(Long.BYTES).order(ByteOrder.nativeOrder()).putLong(value)
                .array(), 0, Long.BYTES);
    }

    private static KilledAtCall.Step step(String spec) {
        String[] parts = spec.split("[#@]");
        return new KilledAtCall.Step(RingRepairerKillTest.class.getPackageName() + "." + parts[0], parts[1],
                parts[2], Integer.parseInt(parts[3]));
    }

    /** {@code main(heap)}: drains the ring, printing "GOT i" for each message handed over, until killed. */
    public static final class Consumer {
        public static void main(String[] args) {
            SharedRing ring = SharedRing.open(SharedHeap.open(args[0]), "ring");
            MessageHandler print = (type, buffer, offset, length) -> {
                System.out.println("GOT " + buffer.get(JAVA_LONG_UNALIGNED, offset));
                System.out.flush();
            };
            for (int i = 0; i < 1000; i++) {
                ring.drain(print, Integer.MAX_VALUE);
            }
            System.out.println("ERROR: never killed");
        }
    }
}
