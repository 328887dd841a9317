package org.shm4j.sync.ring;

import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.internal.Blocks;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The roles of a {@link SharedRing} that one process at a time may hold: the consumer of an SPSC or MPSC ring and the
 * producer of an SPSC ring. Two processes in one such role at once would each take the other's positions for their
 * own (two consumers storing head, or two producers claiming the same tail) and leave the ring corrupted for good, so
 * a process claims a role before its first poll or offer, and a second live process is refused with a clear
 * {@link IllegalStateException} instead.
 *
 * <p>A role's word in the ring header holds the {@link ProcessIdentity} token (pid and start time) of the process
 * that holds it, or 0. A process claims it by a CAS from 0, or from the token of a process that is gone (killed, or
 * exited without {@link SharedRing#release()}): a dead holder's role is taken over, as a lock's is. It gives it up by a
 * CAS from its token to 0. Threads of one process share its claim: a role is a process's, as a pipe end is; two of
 * its threads in one role are not told apart here (a ring object's own guard, in {@link SharedRing}, finds a second
 * consuming call through that object).
 *
 * <p>Each ring object remembers, in a plain field of its own, the {@link #releases()} count at its last claim, and
 * claims again when it differs: so a release through any object of the process makes every object of it claim
 * again on its next poll or offer (which, if another process took the role meanwhile, throws). The count is a plain
 * static field: a release is documented as what a process does once none of its threads uses the role any more.
 */
final class RingRoles {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    /**
     * Releases made by this process, of any ring: an object whose last claim saw another count claims again. Plain:
     * a release is made when no thread of this process uses the role (see the class comment), and the field only
     * grows, so a stale read at worst skips one re-claim that nothing needed.
     */
    private static long releases;

    private RingRoles() {
    }

    /** @return the count an object compares with the one it saw at its last claim */
    static long releases() {
        return releases;
    }

    /**
     * Claims the role whose word is at {@code offset} of {@code block} for this process, taking it over from a
     * process that is gone.
     *
     * @param role the role, for the message: e.g. {@code "consumer"}
     * @return {@link #releases()}, for the caller to remember
     * @throws IllegalStateException naming the ring, the role and the holder's pid, if another live process holds it
     */
    static long claim(MemorySegment block, long offset, String what, String role) {
        long me = ProcessIdentity.currentToken();
        long seen = releases;
        while (true) {
            long holder = holder(block, offset);
            if (holder == me) {
                return seen;
            }
            if (holder == 0) {
                if (LONG.compareAndSet(block, offset, 0L, me)) { // volatile CAS: one claimer wins a free role
                    return seen;
                }
                continue;
            }
            // counted as taking over until the CAS: the holder may open its heap again and claim anew meanwhile
            MemorySegment takingOver = HeapMappings.beginTakeOver(block, holder);
            if (takingOver == null) {
                throw refusal(holder, what, role);
            }
            try {
                if (LONG.compareAndSet(block, offset, holder, me)) { // volatile CAS: one claimer wins a gone one's role
                    return seen;
                }
            } finally {
                HeapMappings.endTakeOver(takingOver);
            }
        }
    }

    /**
     * For a call that acts for the role without taking it ({@code unblock}): refuses it while another process that
     * is present holds the role whose word is at {@code offset} of {@code block}. A holder that closed its heap could
     * open it again and act for the role beside the call: so the call is counted as a take-over (see {@link
     * HeapMappings#beginTakeOver}), which that process's open waits for, until the caller ends it.
     *
     * @return what the caller passes to {@link HeapMappings#endTakeOver} once it is done (in a {@code finally})
     * @throws IllegalStateException as {@link #claim} does
     */
    static MemorySegment refuseIfHeldElsewhere(MemorySegment block, long offset, String what, String role) {
        long holder = holder(block, offset);
        if (holder == 0 || holder == ProcessIdentity.currentToken()) {
            return MemorySegment.NULL;
        }
        MemorySegment takingOver = HeapMappings.beginTakeOver(block, holder); // not dead, nor closed the heap
        if (takingOver == null) {
            throw refusal(holder, what, role);
        }
        return takingOver;
    }

    private static IllegalStateException refusal(long holder, String what, String role) {
        return new IllegalStateException(what + " has one " + role + " process at a time, and "
                + ProcessIdentity.describe(holder) + " (alive) is its " + role + ": that process gives the"
                + " role up by release(), by closing its heap or by exiting");
    }

    /**
     * Gives up the role whose word is at {@code offset} of {@code block} if this process holds it, and makes every
     * ring object of this process claim again before its next use of a role.
     */
    static void release(MemorySegment block, long offset) {
        LONG.compareAndSet(block, offset, ProcessIdentity.currentToken(), 0L); // volatile CAS: only our own claim
        releases++;
    }

    /**
     * Renames this process's hold of the role whose word is at {@code offset} of {@code block} as a gone process's
     * ({@link ProcessIdentity#abandonedToken()}), for a process that opens again a heap it had closed (see {@code
     * ReopenSweep}): that close gave the role up (see {@link SharedRing}'s Roles), so the next claim, in another
     * process or in this one, takes it over as a dead holder's. A volatile CAS from this process's own token: a word
     * naming another process (one that took the role over while this one was away) is left alone, and no thread of
     * this process claims meanwhile (the sweep runs before the reopened heap is handed out).
     */
    static void abandon(MemorySegment block, long offset) {
        LONG.compareAndSet(block, offset, ProcessIdentity.currentToken(), ProcessIdentity.abandonedToken());
    }

    /** @return the token of the process holding the role whose word is at {@code offset}, or 0 (a volatile read) */
    static long holder(MemorySegment block, long offset) {
        return (long) LONG.getVolatile(block, offset);
    }

    /**
     * Checks a role's word: 0, or a well-formed token (a pid and start bits, both non-zero).
     *
     * @throws org.shm4j.core.ShmFormatException naming the ring and the field, if it is neither
     */
    static void check(MemorySegment block, long offset, String what, String field) {
        long holder = holder(block, offset);
        if (holder != 0 && !ProcessIdentity.isWellFormed(holder)) {
            throw Blocks.corrupt(what, field, "0x" + Long.toHexString(holder),
                    "0 or a process token (pid in bits 63..32, start bits below, both non-zero)");
        }
    }
}
