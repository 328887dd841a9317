package org.shm4j.sync.internal;

/**
 * A ring object's own view of its stall rule: which record at head it saw stuck, since when, the tail it saw then (a
 * skip covers no claim made after it), when to look next whether the process its mark names lives, and how many empty
 * polls it made (the ring's header keeps a clock of the stall shared by every consumer too, see
 * {@code RingStallClock}). Only the consumer thread writes it (for
 * MPMC, the consumer holding the consumers' mutex), on every empty poll; it sits in an object of its own, padded to
 * whole cache lines, so that these writes do not false-share with the fields the producer threads read on every
 * offer.
 */
public final class StallWatch extends StallWatchFields {
    /** How often a consumer looks whether a stuck claim's producer died, as a lock waiter looks at its holder. */
    public static final long LIVENESS_CHECK_NANOS = RobustMutex.LIVENESS_NANOS;

    // padding after the fields (superclass fields come first in the object layout)
    @SuppressWarnings("unused")
    private long p10, p11, p12, p13, p14, p15, p16, p17;

    /**
     * @return true on the first call and every {@code every}-th after it: time for the consumer to apply the stall
     *         rule (the first, so that a ring object opened for one poll still applies it)
     */
    public boolean emptyPoll(int every) {
        return emptyPolls++ % every == 0;
    }

    /** @return true on every {@code every}-th call: time for a consumer that made progress to look at producers */
    public boolean busyDrain(int every) {
        return ++busyDrains % every == 0;
    }

    /**
     * Notes that the record at the consumer's position {@code head} is still not committed at {@code now}, with
     * {@code tail} ahead of it: this object's own clock of the stall, beside the ring's shared one, which it cannot
     * trust when another consumer's clock disagrees with its own (another time namespace).
     *
     * @return the tail seen when this object first noted the record stuck, if it has stayed so for longer than
     *         {@code timeoutNanos} (the record is then to be skipped, over no claim made after that tail); else -1
     */
    public long expired(long head, long tail, long now, long timeoutNanos) {
        if (stalledHead != head) {
            stalledHead = head;
            stalledTail = tail;
            stalledSince = now;
            // a live producer commits well within the interval: no system call for it. The first stall this object
            // sees is looked at at once: a consumer that opens the ring for each poll never sees the interval pass
            nextLivenessCheck = sawStall ? now + LIVENESS_CHECK_NANOS : now;
            sawStall = true;
            return -1;
        }
        if (now - stalledSince > timeoutNanos) {
            stalledHead = -1;
            return stalledTail;
        }
        return -1;
    }

    /**
     * @return true at most once every {@link #LIVENESS_CHECK_NANOS} of a stall, the first time that long after it
     *         was noted ({@link #expired}): time to look whether the process the stuck claim's mark names died, which
     *         costs a system call
     */
    public boolean livenessDue(long now) {
        if (stalledHead < 0 || now - nextLivenessCheck < 0) {
            return false;
        }
        nextLivenessCheck = now + LIVENESS_CHECK_NANOS;
        return true;
    }

    /**
     * @return true while a record is noted stuck: a waiting consumer then blocks no longer than
     *         {@link #LIVENESS_CHECK_NANOS} at a time. A plain read, also by MPMC consumers not holding the turn:
     *         a stale answer only shortens or lengthens one wait
     */
    public boolean stuck() {
        return stalledHead >= 0;
    }

    /** Forgets a stall: the ring is empty or moved on. */
    public void clear() {
        stalledHead = -1;
    }
}

/** Padding before the fields of {@link StallWatch}. */
abstract class StallWatchPadding {
    @SuppressWarnings("unused")
    private long p00, p01, p02, p03, p04, p05, p06, p07;
}

/** The fields of {@link StallWatch}, between its paddings. */
abstract class StallWatchFields extends StallWatchPadding {
    long stalledHead = -1;
    long stalledTail;
    long stalledSince;
    long nextLivenessCheck;
    boolean sawStall;
    int emptyPolls;
    int busyDrains;
}
