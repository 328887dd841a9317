package org.shm4j.sync.jcstress;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJ_Result;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

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
    private final SharedRing ring = SharedRing.format(Arena.ofAuto().allocate(SharedRing.requiredBytes(1024), 64), 0,
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
}
