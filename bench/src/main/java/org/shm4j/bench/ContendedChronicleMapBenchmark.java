package org.shm4j.bench;

import org.openjdk.jmh.annotations.Threads;

/** {@link ChronicleMapBenchmark} with two threads on the same map: the score is their sum. */
@Threads(2)
public class ContendedChronicleMapBenchmark extends ChronicleMapBenchmark {
}
