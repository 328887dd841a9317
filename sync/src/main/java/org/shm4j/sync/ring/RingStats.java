package org.shm4j.sync.ring;

import java.time.Duration;

/**
 * A snapshot of what a {@link SharedRing}'s rules did, read from counters in its shared header (so every process sees
 * the same counts), as {@link org.shm4j.sync.locks.SharedLock#recoveries()} does for a lock. Each field is read on its
 * own: the snapshot is not atomic as a whole.
 *
 * @param sizeBytes          bytes of records not yet freed, as {@link SharedRing#size()}
 * @param stallTimeout       the ring's stall timeout, as {@link SharedRing#stallTimeout()}
 * @param skippedRecords     claims the stall rule or {@link SharedRing#unblock()} turned into padding because their
 *                           producer was taken for dead
 * @param consumerRecoveries times a consumer found records that a consumer which died had handed over but not yet
 *                           freed, and freed them
 * @param consumerTakeovers  times a consumer took the consumers' turn over from a consumer process that died holding
 *                           it (MPMC only; 0 for SPSC and MPSC, whose consumers take no turn)
 */
public record RingStats(long sizeBytes, Duration stallTimeout, long skippedRecords, long consumerRecoveries,
                        long consumerTakeovers) {
}
