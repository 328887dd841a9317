package org.shm4j.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Per-thread counts of a producer/consumer benchmark: messages that went through, and calls that found the ring full
 * or empty. JMH reports each as a rate; {@code polled} is the throughput to compare.
 */
@AuxCounters(AuxCounters.Type.OPERATIONS)
@State(Scope.Thread)
public class RingCounters {
    /** Messages offered successfully. */
    public long offered;
    /** Offers refused: the ring was full. */
    public long failedOffers;
    /** Messages received. */
    public long polled;
    /** Polls that found nothing. */
    public long failedPolls;

    /** Starts every iteration from zero. */
    @Setup(Level.Iteration)
    public void reset() {
        offered = 0;
        failedOffers = 0;
        polled = 0;
        failedPolls = 0;
    }

    /** Counts one offer: taken, or refused because the queue was full. */
    public void countOffer(boolean taken) {
        if (taken) {
            offered++;
        } else {
            failedOffers++;
        }
    }

    /** Counts one poll that took {@code taken} messages: 0 if the queue was empty. */
    public void countPoll(int taken) {
        if (taken > 0) {
            polled += taken;
        } else {
            failedPolls++;
        }
    }
}
