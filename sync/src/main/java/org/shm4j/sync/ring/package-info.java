/**
 * The byte ring under shm4j's queues and pipes: variable-length records in a circular buffer in shared memory,
 * like Agrona's {@code concurrent.ringbuffer}.
 *
 * <p>{@link org.shm4j.sync.ring.SharedRing} comes in three {@linkplain org.shm4j.sync.ring.SharedRing.Kind kinds}
 * (one or many producers, one or many consumers). A producer copies a message in with {@code offer}, or writes it in
 * place through a {@link org.shm4j.sync.ring.RingClaim} and commits or aborts it; a consumer receives records through
 * a {@link org.shm4j.sync.ring.MessageHandler} that reads them in place. Blocking forms wait as their
 * {@link org.shm4j.sync.ring.WaitStrategy} says. A ring survives producers and consumers killed at any point; what its
 * rules did for that is counted in its header ({@link org.shm4j.sync.ring.RingStats}). Typed messages over a ring are
 * {@link org.shm4j.sync.SharedQueue}'s job.
 */
package org.shm4j.sync.ring;
