package org.shm4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;

/** {@link QueueBenchmark} with the {@code mpmc} group too: 2 producer threads, 2 consumer threads. */
public abstract class ManyToManyQueueBenchmark extends QueueBenchmark {
    /** Offers one message. */
    @Benchmark
    @Group("mpmc")
    @GroupThreads(2)
    public void mpmcOffer(RingCounters counters) {
        offer(counters);
    }

    /** Polls. */
    @Benchmark
    @Group("mpmc")
    @GroupThreads(2)
    public void mpmcPoll(RingCounters counters) {
        poll(counters);
    }
}
