package org.shm4j.bench;

import org.openjdk.jmh.annotations.Threads;

/**
 * {@link LocksBenchmark} with two threads taking the same lock: contended lock + unlock throughput, shm4j's locks
 * beside {@code ReentrantLock}, {@code synchronized} and the CAS spin lock. The score is the two threads' sum.
 */
@Threads(2)
public class ContendedLocksBenchmark extends LocksBenchmark {
}
