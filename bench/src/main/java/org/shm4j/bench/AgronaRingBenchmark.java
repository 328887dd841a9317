package org.shm4j.bench;

import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * The Agrona peer of {@link RingBenchmark}: {@code OneToOneRingBuffer} ({@code spsc}) and
 * {@code ManyToOneRingBuffer} ({@code mpsc}, 2 producers) of 64 KiB on direct memory, with the {@code --add-opens}
 * Agrona 2.x needs (this class's forks only). Agrona has no many-to-many ring. Compare the {@code polled} rates.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class AgronaRingBenchmark extends QueueBenchmark {
    /** Message payload size in bytes. */
    @Param({"8", "64", "256"})
    public int size;

    private RingBuffer ring;
    private UnsafeBuffer message;
    private final MessageHandler handler = (type, buffer, index, length) -> { };

    /** Allocates the ring of the group's kind on direct memory. */
    @Setup
    public void setUp(BenchmarkParams params) {
        UnsafeBuffer buffer = new UnsafeBuffer(
                ByteBuffer.allocateDirect((1 << 16) + RingBufferDescriptor.TRAILER_LENGTH));
        ring = Topology.of(params) == Topology.SPSC ? new OneToOneRingBuffer(buffer) : new ManyToOneRingBuffer(buffer);
        message = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
    }

    /**
     * One thread offers a message and polls it back: the cost of the code path alone, without the cache-line
     * traffic (and the noise) of two threads. (Agrona's ring refuses some of these offers, seen with 64 and 256-byte
     * messages, although the poll before emptied it; such a round counts the refusal as one operation.)
     *
     * @return the number of messages polled, plus 1 if the offer was refused
     */
    @Benchmark
    @Group("spscOfferPoll")
    @GroupThreads(1)
    public int spscOfferPoll() {
        return offerPoll();
    }

    /** {@link #spscOfferPoll()} on a {@code ManyToOneRingBuffer}: the peer of {@code RingBenchmark.mpscOfferPoll}. */
    @Benchmark
    @Group("mpscOfferPoll")
    @GroupThreads(1)
    public int mpscOfferPoll() {
        return offerPoll();
    }

    private int offerPoll() {
        boolean offered = ring.write(1, message, 0, size);
        return ring.read(handler, 1) + (offered ? 0 : 1);
    }

    @Override
    protected boolean offerOne(RingCounters counters) {
        return ring.write(1, message, 0, size);
    }

    @Override
    protected int pollSome() {
        return ring.read(handler, 1);
    }
}
