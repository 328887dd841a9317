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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The floor of any many-to-many byte queue in shared memory, the reference row beside {@link RingBenchmark}'s and
 * {@link JdkQueueBenchmark}'s {@code mpmc} groups: the cheapest hand-over of {@code size} bytes between threads
 * through a {@link MemorySegment} held in a field (so its accesses are checked, as a ring's are). It is the bounded
 * array queue of D. Vyukov that JDK-free MPMC queues are built on. Each slot is a sequence word then the payload; a
 * producer claims a slot by one CAS of the producers' cursor, copies the payload in and publishes it by a release
 * store of the slot's sequence; a consumer claims by one CAS of the consumers' cursor, copies the payload out into its
 * own buffer and frees the slot by a release store of its sequence. No record headers, no variable lengths, no
 * liveness (a thread that dies holding a slot blocks the queue for ever), no wake checks: what it leaves out is what
 * the ring pays for its guarantees. There are as many slots as {@link RingBenchmark}'s 64 KiB ring holds records of
 * that size, rounded up to a power of two (8192, 4096, 1024 and 256), so both hold about as many messages in about
 * as many bytes. {@code size=0} moves no payload, only the slot (its index is what a consumer receives): the cost of
 * the coordination alone, as {@link java.util.concurrent.ConcurrentLinkedQueue}, which passes a reference, never moves
 * a message's bytes.
 *
 * <p>Groups as the queues': {@code mpmc} (2 producer threads, 2 consumer threads), {@code spsc} (1, 1), and
 * {@code mpmcOfferPoll}, an offer and a poll in one thread. Compare the {@code polled} rates.
 *
 * <table class="striped">
 * <caption>Floor queue layout (process-local, one segment aligned to 128)</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>producers' cursor: slots ever claimed by producers</td><td>opaque reads, CAS</td></tr>
 * <tr><td>128</td><td>8</td><td>consumers' cursor: slots ever claimed by consumers</td><td>opaque reads, CAS</td>
 * </tr>
 * <tr><td>256 + i &times; stride</td><td>8</td><td>slot i's sequence: p + 1 once position p is published in it,
 *     p + slots once it is freed</td><td>release stores; acquire loads</td></tr>
 * <tr><td>264 + i &times; stride</td><td>size, padded to 8</td><td>slot i's payload</td><td>plain, ordered by the
 *     sequence</td></tr>
 * </table>
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TransferFloorBenchmark {
    private static final long PRODUCERS = 0;
    private static final long CONSUMERS = 128; // two cache lines from the producers' cursor: no false sharing
    private static final long SLOTS_OFFSET = 256;
    private static final int RING_BYTES = 1 << 16; // RingBenchmark's data capacity

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    /** Message payload size in bytes; 0: the slot alone is handed over. */
    @Param({"0", "8", "64", "256"})
    public int size;

    private final Arena arena = Arena.ofShared();
    private MemorySegment queue;
    private MemorySegment message;
    private long stride;
    private int slots;
    private long mask;

    /** Allocates the queue and fills the slots' sequences: slot i free for position i. */
    @Setup
    public void setUp() {
        stride = Long.BYTES + (size + 7L & -8L);
        slots = Math.max(1, Integer.highestOneBit((int) ((RING_BYTES - 1) / stride)) << 1);
        mask = slots - 1;
        queue = arena.allocate(SLOTS_OFFSET + slots * stride, 128);
        for (int i = 0; i < slots; i++) {
            queue.set(JAVA_LONG, SLOTS_OFFSET + i * stride, i);
        }
        message = arena.allocate(256, 8);
    }

    /** Frees the queue. */
    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** Offers one message. */
    @Benchmark
    @Group("mpmc")
    @GroupThreads(2)
    public void mpmcOffer(RingCounters counters) {
        counters.countOffer(offer());
    }

    /** Polls one message into the thread's own buffer. */
    @Benchmark
    @Group("mpmc")
    @GroupThreads(2)
    public void mpmcPoll(RingCounters counters, Sink sink) {
        counters.countPoll(poll(sink.bytes));
    }

    /** Offers one message. */
    @Benchmark
    @Group("spsc")
    @GroupThreads(1)
    public void spscOffer(RingCounters counters) {
        counters.countOffer(offer());
    }

    /** Polls one message into the thread's own buffer. */
    @Benchmark
    @Group("spsc")
    @GroupThreads(1)
    public void spscPoll(RingCounters counters, Sink sink) {
        counters.countPoll(poll(sink.bytes));
    }

    /**
     * One thread offers a message and polls it back: the floor of {@code RingBenchmark.mpmcOfferPoll}, the cost of
     * the code path alone.
     *
     * @return the number of messages polled, plus 1 if the offer was refused
     */
    @Benchmark
    @Group("mpmcOfferPoll")
    @GroupThreads(1)
    public int mpmcOfferPoll(Sink sink) {
        boolean offered = offer();
        return poll(sink.bytes) + (offered ? 0 : 1);
    }

    /** @return false if every slot is taken */
    private boolean offer() {
        final MemorySegment queue = this.queue; // one segment local: no reloads after the atomics
        long position = claim(queue, PRODUCERS, 0);
        if (position < 0) {
            return false;
        }
        long slot = SLOTS_OFFSET + (position & mask) * stride;
        if (size != 0) {
            MemorySegment.copy(message, 0, queue, slot + Long.BYTES, size);
        }
        LONG.setRelease(queue, slot, position + 1); // release: the payload before the sequence
        return true;
    }

    /** @return 1 if a message was copied into {@code into}, 0 if the queue was empty */
    private int poll(MemorySegment into) {
        final MemorySegment queue = this.queue;
        long position = claim(queue, CONSUMERS, 1);
        if (position < 0) {
            return 0;
        }
        long slot = SLOTS_OFFSET + (position & mask) * stride;
        if (size != 0) {
            MemorySegment.copy(queue, slot + Long.BYTES, into, 0, size);
        }
        LONG.setRelease(queue, slot, position + slots); // release: the copy-out before the producer's next write
        return 1;
    }

    /**
     * Claims the next position of the cursor at {@code cursor}: its slot is ready when its sequence is the position
     * plus {@code lag} (0: free, for a producer; 1: published, for a consumer).
     *
     * @return the position claimed, or -1 if its slot is not ready (the queue is full, or empty)
     */
    private long claim(MemorySegment queue, long cursor, long lag) {
        final long stride = this.stride;
        final long mask = this.mask;
        long position = (long) LONG.getOpaque(queue, cursor); // opaque: a stale value fails the CAS or the check
        while (true) {
            // acquire: the other side's copy came first
            long sequence = (long) LONG.getAcquire(queue, SLOTS_OFFSET + (position & mask) * stride);
            if (sequence < position + lag) {
                return -1; // producers: the slot still holds position - slots; consumers: position not published
            }
            if (sequence == position + lag && LONG.compareAndSet(queue, cursor, position, position + 1)) {
                return position; // the successful CAS is the linearization point: the slot is this thread's
            }
            position = (long) LONG.getOpaque(queue, cursor); // another thread took it: as above
        }
    }

    /** A consumer thread's own buffer, which it copies each message into. */
    @State(Scope.Thread)
    public static class Sink {
        final MemorySegment bytes = Arena.ofAuto().allocate(256, 64);
    }
}
