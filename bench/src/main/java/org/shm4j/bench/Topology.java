package org.shm4j.bench;

import org.openjdk.jmh.infra.BenchmarkParams;

import java.util.Locale;

/**
 * The producer/consumer shape of a queue benchmark group, read from the group's name ({@code spsc}, {@code mpsc} or
 * {@code mpmc}, perhaps followed by more), so one {@code @Setup} can build the matching queue for each group of a
 * class.
 */
enum Topology {
    /** One producer thread, one consumer thread. */
    SPSC,
    /** Two producer threads, one consumer thread. */
    MPSC,
    /** Two producer threads, two consumer threads. */
    MPMC;

    /** @return the topology of the running benchmark group: the one its name starts with */
    static Topology of(BenchmarkParams params) {
        String benchmark = params.getBenchmark();
        String group = benchmark.substring(benchmark.lastIndexOf('.') + 1).toUpperCase(Locale.ROOT);
        for (Topology topology : values()) {
            if (group.startsWith(topology.name())) {
                return topology;
            }
        }
        throw new IllegalArgumentException("no topology in group name " + group);
    }
}
