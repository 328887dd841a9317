package org.shm4j.sync.internal;

import org.shm4j.core.internal.Backoff;

import java.util.concurrent.TimeUnit;

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
    /** What the caller read at the last retry ({@link #pause(Settling, long)}): a seqlock's value, say. */
    private long mark;
    /** When a retry first read {@link #mark}: the value has not changed since (a seqlock's only goes up). */
    private long markedAt;
    /** Taken while retrying, else each park would return at once (a spin); set again by {@link #end}. */
    private boolean interrupted;

    private Settling() {
    }

    /** @return true if the retries of {@code settling} (null: none yet) have run longer than {@code budgetNanos} */
    public static boolean waited(Settling settling, long budgetNanos) {
        return settling != null && System.nanoTime() - settling.since > budgetNanos;
    }

    /**
     * {@link #waited(Settling, long)} for a seqlock read: a change under way that began after the first retry (its
     * writer may have died in it) is waited for until it has been under way for {@code budgetNanos} too, or ends, so
     * that {@link #oneChangeSince} can tell a dead writer from writers that kept changing the structure; so the
     * retries run for at most about twice the budget.
     *
     * @param seq the seqlock's value, read now
     * @return true if the retries are to end now
     */
    public static boolean waited(Settling settling, long budgetNanos, long seq) {
        if (!waited(settling, budgetNanos)) {
            return false;
        }
        long now = System.nanoTime();
        return (seq & 1) == 0 || seq != settling.mark || now - settling.markedAt > budgetNanos;
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
     * {@link #pause(Settling)}, noting {@code seq}, a seqlock's value read now, and when it was first read if it
     * changed since the last retry (or this is the first).
     *
     * @return as {@link #pause(Settling)}
     */
    public static Settling pause(Settling settling, long seq) {
        long now = System.nanoTime();
        Settling retries = pause(settling);
        if (settling == null || seq != retries.mark) {
            retries.mark = seq;
            retries.markedAt = now;
        }
        return retries;
    }

    /**
     * @return true if {@code seq}, a seqlock's value read now, is odd and the one {@code settling} (not null) noted
     *         {@code budgetNanos} ago or earlier: one change has been under way all that time (its writer died, or is
     *         that slow); false if a change began or ended within it (each odd value after the one before, say), or
     *         none is under way
     */
    public static boolean oneChangeSince(Settling settling, long seq, long budgetNanos) {
        return (seq & 1) != 0 && seq == settling.mark && System.nanoTime() - settling.markedAt > budgetNanos;
    }

    /**
     * The verdict of a seqlock read through a heap opened read-only once {@link #waited(Settling, long, long)} said
     * its retries are over.
     *
     * @param what            the structure read, as its messages name it
     * @param seq             the seqlock's value, read now
     * @param retriesOnDamage true if a read of damaged bytes fails as a torn read does (and is retried), false if
     *                        it throws at once, so that damage is never why the retries ran out
     * @return the exception naming {@code what}: one change under way all that time ({@link #oneChangeSince}: its
     *         writer died, or is that slow), or writers kept changing it (one in the middle of a change now, or none,
     *         when its bytes may be damaged instead, if {@code retriesOnDamage}); a read-only reader can neither wait
     *         on the lock nor finish a dead writer's change
     */
    public static IllegalStateException readOnlyGaveUp(String what, Settling settling, long seq, long budgetNanos,
                                                       boolean retriesOnDamage) {
        boolean oneChange = oneChangeSince(settling, seq, budgetNanos);
        String why = oneChange ? "its writer died, or is that slow" : "writers kept changing it"
                + ((seq & 1) != 0 ? ", one is in the middle of a change now"
                : retriesOnDamage ? ", or its bytes are damaged" : "");
        return new IllegalStateException(what + (oneChange ? " has been in the middle of a change for "
                : " gave no consistent read for ") + TimeUnit.NANOSECONDS.toMillis(budgetNanos) + " ms (" + why
                + "), and a heap opened read-only cannot take its lock to wait, or to finish a dead writer's change"
                + " (an access through a heap opened read-write will)");
    }

    /** Sets the interrupt taken while retrying again; called as the read returns or throws. */
    public static void end(Settling settling) {
        if (settling != null) {
            Backoff.restoreInterrupt(settling.interrupted);
        }
    }
}
