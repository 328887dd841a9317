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
import org.openjdk.jmh.infra.BenchmarkParams;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

/**
 * Producer and consumer threads through a {@link SharedRing} of 64 KiB in a named region, for 8, 64 and 256-byte
 * messages: groups {@code spsc} (1 producer, 1 consumer), {@code mpsc} (2, 1) and {@code mpmc} (2, 2), each on a
 * ring of that kind; {@code spscClaim} is {@code spsc} with the producer writing in place (claim, write, commit)
 * instead of copying; {@code spscOfferPoll}, {@code mpscOfferPoll} and {@code mpmcOfferPoll} offer and poll in one
 * thread, for the cost of each kind's code path alone. Peers: {@link AgronaRingBenchmark},
 * {@link DisruptorBenchmark}, {@link JdkQueueBenchmark}; floor: {@link TransferFloorBenchmark}.
 * Compare the {@code polled} rates.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class RingBenchmark extends ManyToManyQueueBenchmark {
    /** Message payload size in bytes. */
    @Param({"8", "64", "256"})
    public int size;

    private String name;
    private SharedHeap heap;
    private SharedRing ring;
    private MemorySegment message;
    private final MessageHandler handler = (type, buffer, offset, length) -> { };

    /** Maps a ring of the group's kind in a named heap. */
    @Setup
    public void setUp(BenchmarkParams params) {
        Topology topology = Topology.of(params);
        name = "shm4j-bench-ring-" + topology + "-" + ProcessHandle.current().pid();
        heap = SharedHeap.create(name, 1 << 18);
        ring = SharedRing.create(heap, "ring", SharedRing.Kind.valueOf(topology.name()), 1 << 16);
        message = heap.allocate("message", new BlockType(0x7002, 1), 256).segment();
    }

    /** Unmaps and unlinks the heap. */
    @TearDown
    public void tearDown() {
        heap.close();
        SharedHeap.unlink(name);
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

    /** {@link #spscOfferPoll()} on an MPSC ring: its producers' tail CAS and its consumer's zeroing, alone. */
    @Benchmark
    @Group("mpscOfferPoll")
    @GroupThreads(1)
    public int mpscOfferPoll() {
        return offerPoll();
    }

    /** {@link #spscOfferPoll()} on an MPMC ring: {@link #mpscOfferPoll()} plus the consumers' turn, alone. */
    @Benchmark
    @Group("mpmcOfferPoll")
    @GroupThreads(1)
    public int mpmcOfferPoll() {
        return offerPoll();
    }

    private int offerPoll() {
        boolean offered = ring.offer(1, message, 0, size);
        return ring.poll(handler) + (offered ? 0 : 1);
    }

    /** Claims room for one message, writes its first 8 bytes in place and commits it. */
    @Benchmark
    @Group("spscClaim")
    @GroupThreads(1)
    public void claimCommit(RingCounters counters, Claim claim) {
        RingClaim slot = claim.slot;
        if (ring.tryClaim(1, size, slot)) {
            slot.buffer().set(ValueLayout.JAVA_LONG_UNALIGNED, slot.offset(), counters.offered);
            slot.commit();
            counters.offered++;
        } else {
            counters.failedOffers++;
        }
    }

    /** Polls one message. */
    @Benchmark
    @Group("spscClaim")
    @GroupThreads(1)
    public void claimPoll(RingCounters counters) {
        poll(counters);
    }

    /** The producer thread's reusable claim. */
    @State(Scope.Thread)
    public static class Claim {
        final RingClaim slot = new RingClaim();
    }

    @Override
    protected boolean offerOne(RingCounters counters) {
        return ring.offer(1, message, 0, size);
    }

    @Override
    protected int pollSome() {
        return ring.poll(handler);
    }
}
