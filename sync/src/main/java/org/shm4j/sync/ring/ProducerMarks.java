package org.shm4j.sync.ring;

import org.shm4j.core.internal.ProcessIdentity;

/**
 * Who made a claim: the type half of a claim mark (see {@link SharedRing}'s Records) names the producer's process, so
 * that the stall rule skips a claim whose producer died and never one whose producer is alive but slow (descheduled,
 * stopped, in a long garbage collection, or encoding a large value in place), whose late writes would land on space
 * reused since.
 *
 * <p>A producer id is the pid in bits 21..0 (Linux pids stay below 2<sup>22</sup>) and the low 10 bits of the
 * process's start stamp ({@link ProcessIdentity}) in bits 31..22, which tell a recycled pid's new process from the
 * producer but for one chance in 1,024; 0 names nobody (a pid that does not fit, or a mark written by hand), and such a
 * claim is skipped by the stall timeout alone, as is a claim never marked.
 */
final class ProducerMarks {
    /** This process's producer id, written into every claim mark it makes. */
    static final int THIS_PROCESS = id(ProcessHandle.current().pid(), ProcessIdentity.currentStartStamp());

    private static final int PID_BITS = 22;
    private static final int PID_MASK = (1 << PID_BITS) - 1;
    private static final int STAMP_MASK = (1 << (Integer.SIZE - PID_BITS)) - 1;

    private ProducerMarks() {
    }

    /** @return the producer id of process {@code pid} of start stamp {@code stamp}; 0 if the pid does not fit */
    static int id(long pid, long stamp) {
        if (pid <= 0 || pid > PID_MASK) {
            return 0;
        }
        return (int) ((stamp & STAMP_MASK) << PID_BITS | pid);
    }

    /**
     * @return true if the process that {@code id} names may be alive: its pid lives and its start stamp bits match
     *         (or either side's stamp is unknown, which keeps the claim: a slow producer is never skipped); false for
     *         0, a dead pid, or a pid recycled by another process
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
        return bits == 0 || stamp == 0 || (stamp & STAMP_MASK) == bits;
    }
}
