package org.shm4j.bench;

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

import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * The {@code java.util.concurrent} peers of {@link RingBenchmark}: {@link ArrayBlockingQueue} (4096 slots) and
 * {@link ConcurrentLinkedQueue}, in the same {@code spsc}, {@code mpsc} and {@code mpmc} groups. They pass a
 * reference to one preallocated message, not a copy of its bytes, so the message size does not apply to them; and
 * they work only between threads of one JVM. {@link ConcurrentLinkedQueue} is unbounded and allocates a node per
 * offer; it is held near 4096 messages (see {@link #overBound}). Compare the {@code polled} rates.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(2)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class JdkQueueBenchmark extends ManyToManyQueueBenchmark {
    /** The queue class. */
    @Param({"ArrayBlockingQueue", "ConcurrentLinkedQueue"})
    public String queue;

    private Queue<byte[]> messages;
    private boolean unbounded;
    private final byte[] message = new byte[64];

    /** Builds the queue. */
    @Setup
    public void setUp() {
        unbounded = queue.equals("ConcurrentLinkedQueue");
        messages = unbounded ? new ConcurrentLinkedQueue<>() : new ArrayBlockingQueue<>(4096);
    }

    @Override
    protected boolean offerOne(RingCounters counters) {
        return !overBound(counters) && messages.offer(message);
    }

    /**
     * An unbounded queue grows without limit under faster producers: at every 4096th message a producer offers, it
     * refuses (and checks again at its next call) while the queue holds more than 4096 messages.
     * {@code ConcurrentLinkedQueue.size()} walks the queue, hence the sampling; the bounded queue is never checked.
     */
    private boolean overBound(RingCounters counters) {
        return unbounded && counters.offered % 4096 == 0 && messages.size() > 4096;
    }

    /**
     * One thread offers a message and polls it back: the peer of {@code RingBenchmark.mpmcOfferPoll}, the cost of the
     * code path alone.
     *
     * @return the number of messages polled
     */
    @Benchmark
    @Group("mpmcOfferPoll")
    @GroupThreads(1)
    public int mpmcOfferPoll() {
        messages.offer(message);
        return messages.poll() != null ? 1 : 0;
    }

    @Override
    protected int pollSome() {
        return messages.poll() != null ? 1 : 0;
    }
}
