package org.shm4j.sync.internal;

import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.locks.LockOwner;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.FAIR_ABANDONED;
import static org.shm4j.sync.internal.SyncLayout.FAIR_FLAGS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_HELD_SINCE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_OWNER_HIGH_SHIFT;
import static org.shm4j.sync.internal.SyncLayout.FAIR_OWNER_LOW_SHIFT;
import static org.shm4j.sync.internal.SyncLayout.FAIR_OWNER_THREAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_PROCESSES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_QUEUE;
import static org.shm4j.sync.internal.SyncLayout.FAIR_RECOVERIES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SLOT_SIZE;
import static org.shm4j.sync.internal.SyncLayout.FAIR_TAKEN;
import static org.shm4j.sync.internal.SyncLayout.FAIR_TICKET_MASK;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WORD_OFFSET;

/**
 * The 64-bit ticket word of a {@link org.shm4j.sync.locks.SharedFairLock}: serving ticket (bits 0..19), taken (bit
 * 20), next ticket (bits 32..51), and while taken the holder's 23 owner bits: its process slot (5 bits) and an 18-bit
 * hash of its process token, spread over bits 21..31 and 52..63. A free lock with no ticket out is the word whose two
 * halves are equal, so the uncontended lock is one CAS that takes a ticket, takes the turn and names the holder's
 * process at once: no window in which the lock is held by nobody known. The holder's token is read from its process
 * slot; if the slot no longer holds a token with the same hash, the holder's process died and its slot was reclaimed.
 * Also the checks of a fair lock block when it is opened.
 */
public final class FairWord {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private static final long NEXT_MASK = (long) FAIR_TICKET_MASK << Integer.SIZE;
    private static final int LOW_BITS = Integer.SIZE - FAIR_OWNER_LOW_SHIFT;
    private static final long OWNER_MASK = ((1L << LOW_BITS) - 1) << FAIR_OWNER_LOW_SHIFT
            | -1L << FAIR_OWNER_HIGH_SHIFT;
    private static final int SLOT_BITS = Integer.numberOfTrailingZeros(ProcessSlots.SLOTS);
    private static final int HASH_BITS = LOW_BITS + Long.SIZE - FAIR_OWNER_HIGH_SHIFT - SLOT_BITS;

    private FairWord() {
    }

    /** @return the ticket being served */
    public static int serving(long word) {
        return (int) word & FAIR_TICKET_MASK;
    }

    /** @return the next ticket to hand out */
    public static int next(long word) {
        return (int) (word >>> Integer.SIZE) & FAIR_TICKET_MASK;
    }

    /** @return true if the serving turn has been taken: the lock is held */
    public static boolean taken(long word) {
        return ((int) word & FAIR_TAKEN) != 0;
    }

    /** @return how many tickets are out: the holder and the waiters */
    public static int out(long word) {
        return (next(word) - serving(word)) & FAIR_TICKET_MASK;
    }

    /** @return true if the lock is free and no ticket is out (so no owner bits either): both halves are equal */
    public static boolean isIdle(long word) {
        return (int) word == (int) (word >>> Integer.SIZE);
    }

    /** @return the owner bits of {@code word}; 0 unless taken */
    public static long owner(long word) {
        return word & OWNER_MASK;
    }

    /** @return the process slot named by the owner bits of a taken {@code word} */
    public static int ownerSlot(long word) {
        return (int) (word >>> FAIR_OWNER_LOW_SHIFT) & (ProcessSlots.SLOTS - 1);
    }

    /** @return the owner bits of the process with {@code token} in process slot {@code slot}; never 0 */
    public static long ownerBits(int slot, long token) {
        int hash = (int) ((token * 0x9E37_79B9_7F4A_7C15L) >>> (Long.SIZE - HASH_BITS));
        long bits = (long) Math.max(hash, 1) << SLOT_BITS | slot;
        return (bits & ((1L << LOW_BITS) - 1)) << FAIR_OWNER_LOW_SHIFT | (bits >>> LOW_BITS) << FAIR_OWNER_HIGH_SHIFT;
    }

    /** @return {@code word} with the next ticket handed out */
    public static long withTicket(long word) {
        return word & ~NEXT_MASK | (long) following(next(word)) << Integer.SIZE;
    }

    /** @return {@code word} with its serving turn taken by the process with {@code owner} bits */
    public static long takenBy(long word, long owner) {
        return word | FAIR_TAKEN | owner;
    }

    /** @return the taken {@code word} with its owner bits replaced by {@code owner} (see {@link #ownerBits}) */
    public static long ownedBy(long word, long owner) {
        return word & ~OWNER_MASK | owner;
    }

    /** @return {@code word} with the turn passed on to the next ticket: not taken, no owner */
    public static long passed(long word) {
        return word & NEXT_MASK | following(serving(word));
    }

    /** @return the ticket after {@code ticket} */
    public static int following(int ticket) {
        return (ticket + 1) & FAIR_TICKET_MASK;
    }

    /**
     * @param block the fair lock's memory
     * @param base  offset of the fair lock in {@code block}
     * @param word  a taken ticket word
     * @return the process token of its holder, or 0 if the holder's process slot no longer holds it (it died)
     */
    public static long holderToken(MemorySegment block, long base, long word) {
        int slot = ownerSlot(word);
        long token = (long) LONG.getVolatile(block, base + FAIR_PROCESSES_OFFSET + slot * ProcessSlots.SLOT_SIZE
                + ProcessSlots.TOKEN);
        return token != 0 && ownerBits(slot, token) == owner(word) ? token : 0;
    }

    /**
     * @param token the holder's token ({@link #holderToken}; 0 if its process slot was reclaimed)
     * @return the holder of the fair lock {@code block} (at 0): its pid (0 if not known), its thread (the owner thread
     *         field decoded, see {@link ThreadKeys}) and when a waiter first saw it hold, read opaque (diagnostics)
     */
    public static LockOwner holder(MemorySegment block, long token) {
        long since = (long) LONG.getOpaque(block, FAIR_HELD_SINCE_OFFSET);
        long pid = ProcessIdentity.pid(token);
        return new LockOwner(pid, ThreadKeys.threadId((long) LONG.getOpaque(block, FAIR_OWNER_THREAD_OFFSET), pid),
                since == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(since)));
    }

    /**
     * Checks a fair lock block for the states {@code SharedFairLock.wrap} describes.
     *
     * @throws org.shm4j.core.ShmFormatException if it holds a state no fair lock has
     */
    public static void check(MemorySegment segment, ProcessSlots processes, String what) {
        long word = (long) LONG.getVolatile(segment, FAIR_WORD_OFFSET); // one read: the word is checked as a whole
        int out = out(word);
        boolean taken = taken(word);
        if (out > FAIR_QUEUE || out == 0 && taken) {
            throw Blocks.corrupt(what, "tickets out (next ticket " + next(word) + " - serving)", out,
                    (taken ? "1" : "0") + ".." + FAIR_QUEUE);
        }
        if (!taken && owner(word) != 0) {
            throw Blocks.corrupt(what, "ticket word", "0x" + Long.toHexString(word), "no owner bits while not taken");
        }
        int waiters = (int) INT.getVolatile(segment, FAIR_WAITERS_OFFSET);
        if (waiters != 0 && waiters != 1) {
            throw Blocks.corrupt(what, "waiters flag", waiters, "0 or 1");
        }
        RobustMutex.checkFlags(segment, FAIR_FLAGS_OFFSET, what);
        RobustMutex.checkNotNegative(segment, FAIR_RECOVERIES_OFFSET, "recoveries", what);
        RobustMutex.checkNotNegative(segment, FAIR_HELD_SINCE_OFFSET, "heldSince", what);
        RobustMutex.checkNotNegative(segment, FAIR_OWNER_THREAD_OFFSET, "owner thread", what);
        Blocks.requireZero(segment, FAIR_OWNER_THREAD_OFFSET + Long.BYTES, FAIR_PROCESSES_OFFSET, what);
        processes.check();
        for (int i = 0; i < FAIR_QUEUE; i++) {
            long slot = FAIR_SLOTS_OFFSET + i * FAIR_SLOT_SIZE;
            long token = (long) LONG.getVolatile(segment, slot);
            if (token < 0 || token > FAIR_ABANDONED && !ProcessIdentity.isWellFormed(token)) {
                throw Blocks.corrupt(what, "slot " + i + " token", "0x" + Long.toHexString(token),
                        "0, 1 or a pid in bits 63..32 and start stamp bits 31..0 not all 0");
            }
            int ticket = (int) INT.getVolatile(segment, slot + Long.BYTES);
            if (ticket < 0) {
                throw Blocks.corrupt(what, "slot " + i + " ticket", ticket, ">= 0");
            }
            Blocks.requireZero(segment, slot + Long.BYTES + Integer.BYTES, slot + FAIR_SLOT_SIZE, what);
        }
    }
}
