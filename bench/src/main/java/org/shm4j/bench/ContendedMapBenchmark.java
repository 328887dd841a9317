package org.shm4j.bench;

import org.openjdk.jmh.annotations.Threads;

/** {@link MapBenchmark} with two threads on the same map, each on its own random keys: the score is their sum. */
@Threads(2)
public class ContendedMapBenchmark extends MapBenchmark {
}
