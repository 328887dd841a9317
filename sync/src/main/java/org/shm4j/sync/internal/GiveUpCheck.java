package org.shm4j.sync.internal;

/**
 * The liveness check of a caller that gives up on a structure another process holds (its timeout ran out, or a
 * try found the structure taken): at most one per {@link RobustMutex#LIVENESS_NANOS} per view of the structure,
 * whichever thread gives up. A wait checks the processes it waits for every {@code LIVENESS_NANOS} of its own
 * waiting; a caller whose every wait is shorter (a loop of {@code tryLock(10, MILLISECONDS)}, or of
 * {@code tryLock()} and a sleep) would never reach that check, and a dead holder would keep the structure for as
 * long as such callers try. The period keeps the system calls of a check off callers that give up often while a
 * live process holds the structure. A barrier's observers ({@code isBroken}, {@code getNumberWaiting}), which poll,
 * probe its waiting parties on the same period.
 */
public final class GiveUpCheck {
    /** When the next give-up may check; volatile: shared by the view's threads, written at most once a period. */
    private volatile long next = System.nanoTime(); // the first give-up checks at once

    /**
     * @param now {@link System#nanoTime()} of the caller giving up
     * @return true if that caller checks liveness now; then the next check is one period later
     */
    public boolean due(long now) {
        if (now - next < 0) {
            return false;
        }
        next = now + RobustMutex.LIVENESS_NANOS; // two threads racing here may both check once: harmless
        return true;
    }
}
