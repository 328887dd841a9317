package org.shm4j.bench;

import com.lmax.disruptor.EventPoller;
import com.lmax.disruptor.InsufficientCapacityException;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.YieldingWaitStrategy;
import com.lmax.disruptor.dsl.ProducerType;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

import java.util.concurrent.TimeUnit;

/**
 * The LMAX Disruptor peer of {@link RingBenchmark}: a ring of 4096 preallocated 256-byte events, single-producer
 * ({@code spsc}) or multi-producer ({@code mpsc}, 2 producers), drained by an {@code EventPoller} that takes every
 * published event per call (its idiom: taking one per call makes the multi-producer poller rescan the whole ring's
 * availability flags each time, about 100 times slower here). The producer copies {@code size} bytes into the event,
 * as a ring copies its message.
 * Disruptor 4 has no work pool, so it has no many-to-many entry. Compare the {@code polled} rates.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(2)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DisruptorBenchmark extends QueueBenchmark {
    /** Message payload size in bytes. */
    @Param({"8", "64", "256"})
    public int size;

    /** One preallocated slot of the ring. */
    static final class Event {
        final byte[] payload = new byte[256];
        int length;
    }

    private RingBuffer<Event> ring;
    private EventPoller<Event> poller;
    private final byte[] message = new byte[256];
    private int taken;
    private final EventPoller.Handler<Event> handler = (event, sequence, endOfBatch) -> {
        taken++;
        return true;
    };

    /** Builds the ring and its poller. */
    @Setup
    public void setUp(BenchmarkParams params) {
        ProducerType type = Topology.of(params) == Topology.SPSC ? ProducerType.SINGLE : ProducerType.MULTI;
        ring = RingBuffer.create(type, Event::new, 4096, new YieldingWaitStrategy());
        poller = ring.newPoller();
        ring.addGatingSequences(poller.getSequence());
    }

    @Override
    protected boolean offerOne(RingCounters counters) {
        long sequence;
        try {
            sequence = ring.tryNext();
        } catch (InsufficientCapacityException full) {
            return false;
        }
        Event event = ring.get(sequence);
        System.arraycopy(message, 0, event.payload, 0, size);
        event.length = size;
        ring.publish(sequence);
        return true;
    }

    @Override
    protected int pollSome() {
        taken = 0;
        try {
            poller.poll(handler);
        } catch (Exception e) { // the handler throws nothing; EventPoller declares Exception anyway
            throw new IllegalStateException(e);
        }
        return taken;
    }
}
