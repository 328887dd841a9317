package org.shm4j.bench;

import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
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

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * The peer of {@link SpscRingBenchmark}: Agrona's {@code OneToOneRingBuffer} of 64 KiB on direct memory, with the
 * {@code --add-opens} Agrona 2.x needs (this class's forks only). Compare the {@code polled} rates.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class AgronaSpscRingBenchmark {
    /** Message payload size in bytes. */
    @Param({"8", "64", "256"})
    public int size;

    private OneToOneRingBuffer ring;
    private UnsafeBuffer message;
    private final MessageHandler handler = (type, buffer, index, length) -> { };

    /** Allocates the ring on direct memory. */
    @Setup
    public void setUp() {
        int length = (1 << 16) + RingBufferDescriptor.TRAILER_LENGTH;
        ring = new OneToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(length)));
        message = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
    }

    /** Offers one message. */
    @Benchmark
    @Group("agrona")
    @GroupThreads(1)
    public void offer(RingCounters counters) {
        if (ring.write(1, message, 0, size)) {
            counters.offered++;
        } else {
            counters.failedOffers++;
        }
    }

    /** Polls one message. */
    @Benchmark
    @Group("agrona")
    @GroupThreads(1)
    public void poll(RingCounters counters) {
        if (ring.read(handler, 1) == 1) {
            counters.polled++;
        } else {
            counters.failedPolls++;
        }
    }
}
