package org.shm4j.sync.jcstress;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;
import org.openjdk.jcstress.infra.results.JJ_Result;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * A consumer polling while a producer offers a 16-byte message sees nothing or the whole message, never a record
 * whose length is published before its bytes (the release store of the length pairs with the consumer's acquire).
 */
@JCStressTest
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "not published yet")
@Outcome(id = "1, 3", expect = ACCEPTABLE, desc = "the whole message")
@Outcome(expect = FORBIDDEN, desc = "a partly written message")
@State
public class RingStress {
    private final SharedRing ring = SharedRing.format(StressMemory.allocate(SharedRing.requiredBytes(1024)), 0,
            SharedRing.Kind.SPSC, 1024);
    private final MemorySegment message = MemorySegment.ofArray(new long[] {1, 2});

    @Actor
    public void producer() {
        ring.offer(1, message, 0, 16);
    }

    @Actor
    public void consumer(JJ_Result r) {
        ring.poll((type, buffer, offset, length) -> {
            r.r1 = length / 16;
            r.r2 = buffer.get(JAVA_LONG_UNALIGNED, offset) + buffer.get(JAVA_LONG_UNALIGNED, offset + 8);
        });
    }

    /**
     * {@code unblock()} pads a claim whose producer died before marking it ({@code [0, 64)}: tail moved, nothing
     * written) while a live producer claims {@code [64, 88)} and writes a payload word that reads as a valid header:
     * the padding ends at 64 (the live mark seen) or 88 (the live claim not yet seen marked: {@code unblock()}'s
     * documented caveat, it takes the current tail as the bound), never on the payload (72 or 80).
     */
    @JCStressTest
    @Outcome(id = "1, 64", expect = ACCEPTABLE, desc = "the dead claim padded up to the live producer's mark")
    @Outcome(id = "1, 88", expect = ACCEPTABLE, desc = "the live claim, seen with neither mark nor payload, too")
    @Outcome(expect = FORBIDDEN, desc = "padding that ends inside a payload, which would then read as a header")
    @State
    public static class UnblockScan {
        private final MemorySegment raw = StressMemory.allocate(SharedRing.requiredBytes(1024));
        private final SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024);
        private final RingClaim claim = new RingClaim();

        public UnblockScan() {
            raw.set(JAVA_LONG, SyncLayout.RING_TAIL_OFFSET, 64L); // a producer won [0, 64) and died
        }

        @Actor
        public void liveProducer() {
            if (ring.tryClaim(1, 16, claim)) {
                claim.buffer().set(JAVA_LONG_UNALIGNED, claim.offset(), 0x0000_0009_0000_0008L);
            }
        }

        @Actor
        public void consumer(II_Result r) {
            r.r1 = ring.unblock() ? 1 : 0;
        }

        @Arbiter
        public void padding(II_Result r) {
            r.r2 = raw.get(JAVA_INT, SyncLayout.RING_HEADER_SIZE); // the padding record's length
        }
    }
}
