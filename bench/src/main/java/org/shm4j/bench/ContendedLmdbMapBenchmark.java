package org.shm4j.bench;

import org.openjdk.jmh.annotations.Threads;

/**
 * {@link LmdbMapBenchmark} with two threads on the same environment: the score is their sum (LMDB serialises the
 * write transactions).
 */
@Threads(2)
public class ContendedLmdbMapBenchmark extends LmdbMapBenchmark {
}
