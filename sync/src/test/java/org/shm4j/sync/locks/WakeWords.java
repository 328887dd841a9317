package org.shm4j.sync.locks;

import org.shm4j.sync.internal.SyncLayout;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/** Test views of a lock's wake word (mutex bytes 20..23): how many waiters are counted asleep in it, its sequence. */
public final class WakeWords {
    private WakeWords() {
    }

    /** @return the sleepers counted in the wake word of the mutex at the start of {@code lock} */
    public static int sleepers(MemorySegment lock) {
        return lock.get(JAVA_INT, SyncLayout.MUTEX_WAKES) & SyncLayout.MUTEX_SLEEPERS_MASK;
    }

    /** @return the wake sequence of the wake word of the mutex at the start of {@code lock}: moved by each wake */
    public static int wakeSequence(MemorySegment lock) {
        int wakes = lock.get(JAVA_INT, SyncLayout.MUTEX_WAKES);
        return (wakes & SyncLayout.MUTEX_WAKES_MASK) / SyncLayout.MUTEX_WAKE_SEQ_ONE;
    }

    /** Waits, failing after {@code bound}, until {@code count} waiters have counted themselves asleep in it. */
    public static void awaitSleepers(MemorySegment lock, int count, Duration bound) {
        long deadline = System.nanoTime() + bound.toNanos();
        while (sleepers(lock) != count) {
            assertThat(System.nanoTime() - deadline).as("%d sleepers within %s", count, bound).isNegative();
            Thread.onSpinWait();
        }
    }
}
