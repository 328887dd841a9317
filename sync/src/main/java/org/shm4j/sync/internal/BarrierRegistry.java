package org.shm4j.sync.internal;

import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_REGISTRATION_SIZE;

/**
 * The registration table of a {@code SharedBarrier}: one entry per party after its arrival slots, each the owner token
 * ({@link ProcessIdentity}: pid and start time) of the process of a registered party, or 0 if free. A party claims a
 * free entry with a CAS from 0 to its token and frees it with a CAS back to 0; {@link #freeDead()} frees the entries
 * of dead processes.
 *
 * <p>Memory ordering: entries are read volatile and changed by CAS only, so a registration that completed before a
 * waiter's liveness check is seen by that check, and two parties never claim one entry.
 *
 * <p>A liveness check ({@link #findDead()}) asks the OS about at most {@link #CHECKS_PER_SCAN} processes, so that its
 * cost is bounded however many parties registered; the next check goes on where this one stopped.
 */
public final class BarrierRegistry {
    /** The most registered processes one liveness check looks at. */
    public static final int CHECKS_PER_SCAN = 16;

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment segment;
    private final long base;
    private final int entries;
    private int cursor; // plain: only where the next scan starts; a racing scan repeats or skips a window, no more

    /**
     * @param segment the barrier block
     * @param base    offset of the table ({@link SyncLayout#barrierRegistrationsOffset(int)})
     * @param entries its number of entries (the barrier's parties)
     */
    public BarrierRegistry(MemorySegment segment, long base, int entries) {
        this.segment = segment;
        this.base = base;
        this.entries = entries;
    }

    /**
     * Claims a free entry for a party of this process.
     *
     * @return the entry's index
     * @throws IllegalStateException if every entry is taken
     */
    public int register(String what) {
        long me = ProcessIdentity.currentToken();
        for (int i = 0; i < entries; i++) {
            if (LONG.compareAndSet(segment, entry(i), 0L, me)) { // the CAS publishes the registration
                return i;
            }
        }
        throw new IllegalStateException(what + ": all " + entries + " registrations are taken (expected: at most one"
                + " per party; reset() frees those of dead processes)");
    }

    /** Frees entry {@code index}, which this process registered. */
    public void deregister(int index) {
        LONG.compareAndSet(segment, entry(index), ProcessIdentity.currentToken(), 0L);
    }

    /**
     * Looks at up to {@link #CHECKS_PER_SCAN} registered processes other than this one, from where the last check
     * stopped.
     *
     * @return the token of a registered process that is dead, or 0 if none of those looked at is
     */
    public long findDead() {
        long me = ProcessIdentity.currentToken();
        int checks = 0;
        long lastAlive = me;
        int i = cursor;
        for (int seen = 0; seen < entries && checks < CHECKS_PER_SCAN; seen++) {
            i = i + 1 == entries ? 0 : i + 1;
            long token = (long) LONG.getVolatile(segment, entry(i));
            if (token == 0 || token == lastAlive) {
                continue; // free, or the process just found alive (parties of one process register side by side)
            }
            checks++;
            if (!HeapMappings.isPresent(segment, token)) { // dead, or closed its last view of the heap
                cursor = i;
                return token;
            }
            lastAlive = token;
        }
        cursor = i;
        return 0;
    }

    /**
     * Looks at every registered process other than this one (for the last arrival of a generation, which cannot
     * leave it to later checks), each process once where its parties' entries are side by side.
     *
     * @return true if one of them is dead
     */
    public boolean anyDead() {
        long lastAlive = ProcessIdentity.currentToken();
        for (int i = 0; i < entries; i++) {
            long token = (long) LONG.getVolatile(segment, entry(i));
            if (token != 0 && token != lastAlive) {
                if (!HeapMappings.isPresent(segment, token)) { // dead, or closed its last view of the heap
                    return true;
                }
                lastAlive = token;
            }
        }
        return false;
    }

    /**
     * Frees the entries of dead processes.
     *
     * @return how many it freed
     */
    public int freeDead() {
        int freed = 0;
        for (int i = 0; i < entries; i++) {
            long token = (long) LONG.getVolatile(segment, entry(i));
            if (token != 0 && free(i, token)) {
                freed++;
            }
        }
        return freed;
    }

    /**
     * Frees entry {@code index} from {@code token} if that process is gone, counted as taking over until the CAS (see
     * {@link HeapMappings#beginTakeOver}): it may open its heap again and register anew.
     *
     * @return true if this thread freed it
     */
    private boolean free(int index, long token) {
        MemorySegment takingOver = HeapMappings.beginTakeOver(segment, token);
        if (takingOver == null) {
            return false;
        }
        try {
            return LONG.compareAndSet(segment, entry(index), token, 0L);
        } finally {
            HeapMappings.endTakeOver(takingOver);
        }
    }

    /**
     * Renames the registrations of this process in the table of {@code entries} entries at {@code base} of the
     * barrier {@code segment} as a gone process's ({@link ProcessIdentity#abandonedToken()}), for a process that
     * opens again a heap it had closed (see {@link BarrierGenerations#abandon}, which checks the block first): their
     * parties could not deregister through the closed heap, so, as a closed-away process's, they count as dead (the
     * waiting parties' checks break each generation) until {@code reset()} frees them. Before, this process's name
     * back in the attach table made them a live process's: never freed, their entries taken for good. A CAS from
     * this process's token: no other process frees the entry of a process attached to the heap.
     */
    static void abandon(MemorySegment segment, long base, int entries) {
        long me = ProcessIdentity.currentToken();
        for (int i = 0; i < entries; i++) {
            LONG.compareAndSet(segment, base + i * BARRIER_REGISTRATION_SIZE, me, ProcessIdentity.abandonedToken());
        }
    }

    /** @return the tokens of the taken entries, in table order (a snapshot: each entry read volatile once) */
    public long[] tokens() {
        long[] all = new long[entries];
        int taken = 0;
        for (int i = 0; i < entries; i++) {
            long token = (long) LONG.getVolatile(segment, entry(i));
            if (token != 0) {
                all[taken++] = token;
            }
        }
        return Arrays.copyOf(all, taken);
    }

    private long entry(int index) {
        return base + index * BARRIER_REGISTRATION_SIZE;
    }
}
