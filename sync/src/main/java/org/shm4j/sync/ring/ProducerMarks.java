package org.shm4j.sync.ring;

import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.internal.SyncLayout;

/**
 * Who made a claim: the type half of a claim mark (see {@link SharedRing}'s Records) names the producer's process, so
 * that the stall rule skips a claim whose producer died and never one whose producer is alive but slow (descheduled,
 * stopped, in a long garbage collection, or encoding a large value in place), whose late writes would land on space
 * reused since.
 *
 * <p>A producer id is the pid in bits 21..0 (Linux pids stay below 2<sup>22</sup>) and the low 10 bits of the
 * process's start stamp ({@link ProcessIdentity}) in bits 31..22, which tell a recycled pid's new process from the
 * producer but for about one chance in 1,024. Bits that would be 0, and an unknown stamp, are written as all ones,
 * which match any stamp (as an unknown start does in a lock word): such a producer's claim is kept while its pid
 * lives. An id of 0 names nobody (a pid that does not fit, or a mark written by hand): such a claim is skipped by the
 * stall timeout alone, as is a claim never marked; a claim whose mark names a process seen dead is skipped sooner.
 */
final class ProducerMarks {
    /** This process's producer id, written into every claim mark it makes. */
    static final int THIS_PROCESS = id(ProcessHandle.current().pid(), ProcessIdentity.currentStartStamp());

    private static final int PID_BITS = SyncLayout.RING_PRODUCER_PID_BITS;
    private static final int PID_MASK = SyncLayout.RING_PRODUCER_PID_MASK;
    private static final int STAMP_MASK = (1 << (Integer.SIZE - PID_BITS)) - 1;
    /**
     * This process's id renamed as a gone producer's (0 if it has none): its pid with other stamp bits, neither 0 nor
     * all ones, which {@link #mayLive} takes for a recycled pid's, so gone, wherever this process's start stamp can
     * be read (where it cannot, any bits match and such a claim is kept while the pid lives, as before). What this
     * process's close left in a ring (a claim it cut short, its producer slot) is renamed so when it opens the heap
     * again (see {@code ReopenSweep}).
     */
    static final int ABANDONED = abandoned(THIS_PROCESS);

    private ProducerMarks() {
    }

    /** @return the producer id of process {@code pid} of start stamp {@code stamp}; 0 if the pid does not fit */
    static int id(long pid, long stamp) {
        if (pid <= 0 || pid > PID_MASK) {
            return 0;
        }
        return stampBits(stamp) << PID_BITS | (int) pid;
    }

    /** @return {@code id} with other stamp bits, neither 0 nor all ones; 0 for 0 (no id to rename) */
    private static int abandoned(int id) {
        if (id == 0) {
            return 0;
        }
        int other = (int) ProcessIdentity.otherStartBits(id >>> PID_BITS, STAMP_MASK);
        return other << PID_BITS | id & PID_MASK;
    }

    /**
     * @return the low 10 bits of a start stamp, or all ones where they are 0, so that stamp bits in an id are never 0;
     *         an unknown stamp (0) gives all ones too, which a reader takes as "any stamp", as lock words do
     */
    private static int stampBits(long stamp) {
        int bits = (int) (stamp & STAMP_MASK);
        return bits != 0 ? bits : STAMP_MASK;
    }

    /** @return true if {@code id} names a process, false for 0 (a pid that did not fit, or a mark made by hand) */
    static boolean namesSomebody(int id) {
        return (id & PID_MASK) != 0;
    }

    /**
     * @return true if the process that {@code id} names may be alive: its pid lives and its start stamp bits match,
     *         or the pid's start cannot be read here ({@code hidepid}), which keeps the claim while the pid lives (a
     *         slow producer is never skipped); false for 0, a dead pid, or a pid recycled by another process
     */
    static boolean mayLive(int id) {
        long pid = id & PID_MASK;
        if (pid == 0) {
            return false;
        }
        long stamp = ProcessIdentity.startStamp(pid);
        if (stamp < 0) {
            return false;
        }
        int bits = id >>> PID_BITS;
        return bits == STAMP_MASK || stamp == 0 || stampBits(stamp) == bits;
    }
}
