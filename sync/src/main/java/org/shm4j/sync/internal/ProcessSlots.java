package org.shm4j.sync.internal;

import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A table of per-process counters in shared memory, so that what a process holds can be taken back when it dies. {@link
 * #SLOTS} slots of 16 bytes: the owner token of the process (long, 0 = free) and two int counters. A process claims a
 * slot with a CAS from 0 to its token and keeps it while it lives with the heap open; any process may reclaim the slot
 * of a dead one (or of one that closed its last view of the heap: {@link HeapMappings#isPresent}): it first takes the
 * slot by a CAS of the dead token to its own token with bit 63 set ({@link #RECLAIMING}), then zeroes the counters and
 * frees the slot. Taking the slot first matters: a reclaimer that read the dead token just before another reclaimer
 * freed the slot, and a new process claimed it, fails its CAS instead of zeroing the newcomer's counters. A reclaimer
 * killed while it holds a slot leaves its own marked token, which the next reclaimer takes over the same way.
 *
 * <p>Memory ordering: every access is volatile or an atomic read-modify-write, because readers and writers of a
 * read-write lock rely on a store-load (Dekker) order between the counters and the writer's word.
 */
public final class ProcessSlots {
    /** Number of slots: at most this many processes use one structure at a time. */
    public static final int SLOTS = 32;
    /** Bytes per slot. */
    public static final long SLOT_SIZE = 16;
    /** Size of the table. */
    public static final long SIZE = SLOTS * SLOT_SIZE;
    /** Offset of the token in a slot. */
    public static final long TOKEN = 0;
    /** Offset of the first counter in a slot. */
    public static final long FIRST = 8;
    /** Offset of the second counter in a slot. */
    public static final long SECOND = 12;
    /** Bit 63 of a token: the process the other bits name is reclaiming the slot (it held a dead process's token). */
    public static final long RECLAIMING = Long.MIN_VALUE;

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment segment;
    private final String what;
    private final long base;
    private volatile int mine = -1;

    /**
     * @param segment memory holding the table
     * @param base    offset of the table, 8-byte aligned
     */
    /** @param what the structure whose table this is, for messages */
    public ProcessSlots(MemorySegment segment, long base, String what) {
        this.segment = segment;
        this.base = base;
        this.what = what;
    }

    /**
     * Checks every slot for states no valid table has, so that a damaged one is refused when it is opened: a token
     * is 0 or names a pid (bits 62..32 not zero, bit 63 the {@link #RECLAIMING} mark) with start bits (31..0) not all
     * 0, which no process writes (see {@link ProcessIdentity}), and no counter is negative.
     *
     * @throws org.shm4j.core.ShmFormatException if a slot holds such a state
     */
    public void check() {
        for (int i = 0; i < SLOTS; i++) {
            checkToken(i);
            checkCount(i, FIRST, "first counter");
            checkCount(i, SECOND, "second counter");
        }
    }

    /**
     * Checks slot {@code index}'s token as {@link #check()} does (a live table's tokens are always well formed,
     * while a counter may read -1 for an instant: see {@code SharedReadWriteLock}'s read unlock).
     *
     * @return the owner token, as {@link #token(int)} returns it (without the {@link #RECLAIMING} mark)
     * @throws org.shm4j.core.ShmFormatException if the token is not 0, nor a pid with its start stamp
     */
    public long checkToken(int index) {
        long token = (long) LONG.getVolatile(segment, slot(index) + TOKEN);
        if (token != 0 && !ProcessIdentity.isWellFormed(token & ~RECLAIMING)) {
            throw Blocks.corrupt(what, "process slot " + index + " token", "0x" + Long.toHexString(token),
                    "0, or a pid in bits 62..32 and start stamp bits 31..0 not all 0");
        }
        return token & ~RECLAIMING;
    }

    private void checkCount(int index, long counter, String field) {
        int count = get(index, counter);
        if (count < 0) {
            throw Blocks.corrupt(what, "process slot " + index + " " + field, count, ">= 0");
        }
    }

    /**
     * Claims are serialized within this JVM, so that two threads (or two mappings of the same table) never claim two
     * slots for one process: a lock and an unlock through different objects must count in the same slot.
     *
     * @return the index of this process's slot, claiming a free one (or one of a dead process) if it has none
     * @throws IllegalStateException if all slots belong to live processes
     */
    public int claim() {
        synchronized (ProcessSlots.class) {
            return claimSerialized();
        }
    }

    /**
     * @return this process's slot, {@linkplain #claim() claimed} on first use and remembered by this object (a
     *         process keeps its slot while it lives with the heap open)
     * @throws IllegalStateException if all slots belong to live processes
     */
    public int mine() {
        int s = mine;
        if (s < 0) {
            s = claim();
            mine = s;
        }
        return s;
    }

    private int claimSerialized() {
        long me = ProcessIdentity.currentToken();
        for (int attempt = 0; attempt < 2; attempt++) {
            for (int i = 0; i < SLOTS; i++) {
                if ((long) LONG.getVolatile(segment, slot(i) + TOKEN) == me) {
                    return i;
                }
            }
            for (int i = 0; i < SLOTS; i++) {
                if (LONG.compareAndSet(segment, slot(i) + TOKEN, 0L, me)) {
                    return i;
                }
            }
            reclaimDead();
        }
        throw new IllegalStateException(what + ": all " + SLOTS + " process slots are held by live processes (a "
                + "process keeps its slot until it exits or closes its last view of the heap)");
    }

    /** Adds {@code delta} to a counter ({@link #FIRST} or {@link #SECOND}) of slot {@code index}. */
    public int add(int index, long counter, int delta) {
        return (int) INT.getAndAdd(segment, slot(index) + counter, delta) + delta;
    }

    /** @return a counter of slot {@code index} */
    public int get(int index, long counter) {
        return (int) INT.getVolatile(segment, slot(index) + counter);
    }

    /** @return the sum of a counter over all slots */
    public long sum(long counter) {
        long sum = 0;
        for (int i = 0; i < SLOTS; i++) {
            sum += (int) INT.getVolatile(segment, slot(i) + counter);
        }
        return sum;
    }

    /**
     * Frees the slots of dead processes (and of reclaimers killed while freeing one), zeroing their counters; see the
     * class documentation for the order.
     *
     * @return how many slots with a non-zero first counter were reclaimed, counting each slot whose killed
     *         reclaimer this call took over: that one may have zeroed the counter and died before its caller told
     *         waiters that holds came back
     */
    public int reclaimDead() {
        long reclaimer = ProcessIdentity.currentToken() | RECLAIMING;
        int reclaimedHolders = 0;
        for (int i = 0; i < SLOTS; i++) {
            long token = (long) LONG.getVolatile(segment, slot(i) + TOKEN);
            if (token == 0 || !reclaim(i, token, reclaimer)) {
                continue; // free, alive (a live reclaimer finishes its own), or taken by another reclaimer first
            }
            int held = (int) INT.getAndSet(segment, slot(i) + FIRST, 0);
            INT.setVolatile(segment, slot(i) + SECOND, 0);
            LONG.setVolatile(segment, slot(i) + TOKEN, 0L); // volatile: the zeroed counters before a new claim
            if (held > 0 || (token & RECLAIMING) != 0) {
                reclaimedHolders++;
            }
        }
        return reclaimedHolders;
    }

    /**
     * Takes slot {@code index} for {@code reclaimer} from {@code token} if that process is gone, counted as taking
     * over until the CAS (see {@link HeapMappings#beginTakeOver}): it may open its heap again and claim anew.
     *
     * @return true if this thread now reclaims the slot
     */
    private boolean reclaim(int index, long token, long reclaimer) {
        MemorySegment takingOver = HeapMappings.beginTakeOver(segment, token & ~RECLAIMING);
        if (takingOver == null) {
            return false;
        }
        try {
            return LONG.compareAndSet(segment, slot(index) + TOKEN, token, reclaimer);
        } finally {
            HeapMappings.endTakeOver(takingOver);
        }
    }

    /**
     * Renames this process's slot in the table at {@code base} of {@code segment} (its claim, or its reclaim of a dead
     * process's slot) as a gone process's ({@link ProcessIdentity#abandonedToken()}), for a process that opens again
     * a heap it had closed: what the slot counts was left by that close, and the next reclaim drops it (see
     * {@code ReopenSweep}). A failed CAS means a reclaimer took the slot first.
     */
    static void abandon(MemorySegment segment, long base) {
        long me = ProcessIdentity.currentToken();
        for (int i = 0; i < SLOTS; i++) {
            long at = base + i * SLOT_SIZE + TOKEN;
            long token = (long) LONG.getVolatile(segment, at); // volatile: as the CAS after it
            if ((token & ~RECLAIMING) == me) {
                LONG.compareAndSet(segment, at, token, ProcessIdentity.abandonedToken() | token & RECLAIMING);
            }
        }
    }

    /** @return the pid owning slot {@code index} (or reclaiming it), or 0 */
    public long pid(int index) {
        return ProcessIdentity.pid(token(index));
    }

    /**
     * @return the owner token (pid and start stamp) of the process owning slot {@code index} (or reclaiming it), or 0:
     *         with the start stamp, a dead owner's pid that another process now has is not taken for the owner
     */
    public long token(int index) {
        return (long) LONG.getVolatile(segment, slot(index) + TOKEN) & ~RECLAIMING;
    }

    private long slot(int index) {
        return base + index * SLOT_SIZE;
    }
}
