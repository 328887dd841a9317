package org.shm4j.bench;

import org.openjdk.jmh.annotations.Threads;

/** {@link ValuesBenchmark} with two threads on the same value: the score is the two threads' sum. */
@Threads(2)
public class ContendedValuesBenchmark extends ValuesBenchmark {
}
