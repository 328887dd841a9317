/**
 * Locks that work across threads and processes and survive the death of their holder, as
 * {@code java.util.concurrent.locks} does for threads.
 *
 * <p>{@link org.shm4j.sync.locks.SharedLock} is a mutual-exclusion {@link java.util.concurrent.locks.Lock};
 * {@link org.shm4j.sync.locks.SharedReentrantLock} is the same lock that its holder may take again (Python's
 * {@code RLock}; both are a {@link org.shm4j.sync.locks.SharedMutex});
 * {@link org.shm4j.sync.locks.SharedFairLock} serves waiters first come, first served;
 * {@link org.shm4j.sync.locks.SharedReadWriteLock} is a writer-preferring
 * {@link java.util.concurrent.locks.ReadWriteLock}. Each records its owner (process id and start time, thread),
 * reported as a {@link org.shm4j.sync.locks.LockOwner}; a timed acquisition that gives up throws
 * {@link org.shm4j.sync.locks.LockTimeoutException} naming the holder. When a holder's process dies, the next
 * acquirer takes the lock over and finds it marked inconsistent ({@code isConsistent()}) until it repairs the data
 * and calls {@code markConsistent()}, like POSIX robust mutexes.
 *
 * <p>{@link org.shm4j.sync.locks.SharedCondition} is a {@link java.util.concurrent.locks.Condition} whose waiters
 * may be in any process, for a {@code SharedLock} or a {@code SharedReentrantLock} ({@code newCondition()}, or more
 * by name) or the write lock of a {@code SharedReadWriteLock}.
 *
 * <p>Deadlock detection: a thread blocked on a {@code SharedLock}, a {@code SharedReentrantLock}, a
 * {@code SharedFairLock} or the write lock of a {@code SharedReadWriteLock} of a heap for longer than a threshold
 * (100 ms; {@code -Dshm4j.deadlockThresholdMillis}) publishes its wait in the heap's wait table (block
 * {@code shm4j.waits}) and follows the wait-for graph at each liveness check (50 ms). A cycle of waits across threads
 * and processes, seen twice with the same waits one check
 * apart, is broken by one member, the one with the highest pid and then thread id: its acquisition throws
 * {@link org.shm4j.sync.locks.DeadlockException} naming the cycle, and it must release the locks it holds (as
 * {@code finally} blocks do) for the others to proceed. {@link org.shm4j.sync.locks.WaitForGraph#snapshot} reads the
 * graph. On by default, since the uncontended path is untouched; off with {@code -Dshm4j.deadlockDetection=false} or
 * {@code setDeadlockDetection(false)} on a lock view. Not found: cycles through locks of two heaps (each heap has its
 * own table), locks wrapped over raw memory, and read holds of a {@code SharedReadWriteLock} (counted per process).
 *
 * <p>Waiters spin, yield, then block in Linux {@code futex} when the module has native access (see
 * {@link org.shm4j.sync.BlockingWaits#usesFutex()}), else park and re-check.
 */
package org.shm4j.sync.locks;
