package org.shm4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;

/**
 * The producer/consumer groups every queue benchmark shares: {@code spsc} (1 producer thread, 1 consumer thread)
 * and {@code mpsc} (2, 1), counting in {@link RingCounters} the messages through and the calls that found the queue
 * full or empty. A subclass says how to offer one message and how to poll.
 */
public abstract class QueueBenchmark {
    /**
     * @param counters the calling thread's counters (for a subclass that throttles on its own count)
     * @return true if the queue took one message
     */
    protected abstract boolean offerOne(RingCounters counters);

    /** @return how many messages one poll took: 0 if the queue was empty */
    protected abstract int pollSome();

    /** Offers one message. */
    @Benchmark
    @Group("spsc")
    @GroupThreads(1)
    public void spscOffer(RingCounters counters) {
        offer(counters);
    }

    /** Polls. */
    @Benchmark
    @Group("spsc")
    @GroupThreads(1)
    public void spscPoll(RingCounters counters) {
        poll(counters);
    }

    /** Offers one message. */
    @Benchmark
    @Group("mpsc")
    @GroupThreads(2)
    public void mpscOffer(RingCounters counters) {
        offer(counters);
    }

    /** Polls. */
    @Benchmark
    @Group("mpsc")
    @GroupThreads(1)
    public void mpscPoll(RingCounters counters) {
        poll(counters);
    }

    /** Offers one message and counts the outcome. */
    protected final void offer(RingCounters counters) {
        counters.countOffer(offerOne(counters));
    }

    /** Polls and counts the outcome. */
    protected final void poll(RingCounters counters) {
        counters.countPoll(pollSome());
    }
}
