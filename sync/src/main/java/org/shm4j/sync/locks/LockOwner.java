package org.shm4j.sync.locks;

import java.time.Instant;
import java.util.Optional;

/**
 * Who holds a {@link SharedLock}, for diagnostics: a snapshot that may be stale as soon as it is read.
 *
 * @param pid       the owner's process id
 * @param threadId  the owner's Java thread id, or 0 if not yet recorded
 * @param heldSince when a waiter first saw this owner holding the lock (the owner held it at least since then); absent
 *                  if nobody waited
 */
public record LockOwner(long pid, long threadId, Optional<Instant> heldSince) {
    @Override
    public String toString() {
        return "pid " + pid + ", thread " + threadId + heldSince.map(t -> ", since at least " + t).orElse("");
    }
}
