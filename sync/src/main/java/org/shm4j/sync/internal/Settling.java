package org.shm4j.sync.internal;

import org.shm4j.core.internal.Backoff;

/**
 * The retries of a read that found what a writer in another process may be half-way through: in a
 * {@link org.shm4j.sync.list.ShareableList}, an item malformed or its format and code disagreeing (CPython zero-fills
 * each field it packs before it writes it, and writes a str's bytes after its format), or a list its creator has not
 * written yet; in a {@link org.shm4j.sync.list.SharedList} or a map segment read through a heap opened read-only, a
 * seqlock writers kept interfering with. The caller reads again after each {@link #pause} (a {@link Backoff} step:
 * spin, then yield, then parks of at most {@link #RETRY_PARK_NANOS}, since a writer that lost its CPU may need this
 * one) until it has {@link #waited} its budget. Made at the first retry only (a read that needs none allocates
 * nothing): callers hold null until then.
 */
public final class Settling {
    /** The longest park between two reads of an item a writer may be half-way through ({@link Backoff}'s). */
    private static final long RETRY_PARK_NANOS = 100_000;

    private final long since = System.nanoTime();
    private int step;
    /** What the caller read first, at the first retry ({@link #pause(Settling, long)}): a seqlock's value, say. */
    private long mark;
    /** Taken while retrying, else each park would return at once (a spin); set again by {@link #end}. */
    private boolean interrupted;

    private Settling() {
    }

    /** @return true if the retries of {@code settling} (null: none yet) have run longer than {@code budgetNanos} */
    public static boolean waited(Settling settling, long budgetNanos) {
        return settling != null && System.nanoTime() - settling.since > budgetNanos;
    }

    /**
     * Waits one step before the caller reads again, holding back the thread's interrupt meanwhile.
     *
     * @param settling null on the first retry, then what the last call returned
     * @return the retries' state, to pass to the next call, to {@link #waited} and to {@link #end}
     */
    public static Settling pause(Settling settling) {
        Settling retries = settling != null ? settling : new Settling();
        retries.interrupted |= Backoff.takeInterrupt(); // see Backoff.takeInterrupt
        retries.step = Backoff.idle(retries.step, RETRY_PARK_NANOS);
        return retries;
    }

    /**
     * {@link #pause(Settling)}, noting {@code mark} if this is the first retry.
     *
     * @return as {@link #pause(Settling)}
     */
    public static Settling pause(Settling settling, long mark) {
        Settling retries = pause(settling);
        if (settling == null) {
            retries.mark = mark;
        }
        return retries;
    }

    /**
     * @return true if {@code seq}, a seqlock's value read now, is odd and the one {@code settling} (not null) noted at
     *         its first retry: one change has been under way all along (its writer died, or is that slow); false if
     *         changes began and ended meanwhile (each odd value after the one before, say), or none is under way
     */
    public static boolean oneChangeSince(Settling settling, long seq) {
        return (seq & 1) != 0 && seq == settling.mark;
    }

    /** Sets the interrupt taken while retrying again; called as the read returns or throws. */
    public static void end(Settling settling) {
        if (settling != null) {
            Backoff.restoreInterrupt(settling.interrupted);
        }
    }
}
