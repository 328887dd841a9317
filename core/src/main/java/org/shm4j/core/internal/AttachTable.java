package org.shm4j.core.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.HeapProcess;
import org.shm4j.core.ShmException;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.core.internal.HeapLayout.ATTACH_CAPACITY;
import static org.shm4j.core.internal.HeapLayout.HEAP_ID_OFFSET;
import static org.shm4j.core.internal.HeapLayout.SLOT_ATTACHMENTS_OFFSET;
import static org.shm4j.core.internal.HeapLayout.SLOT_FLOCK_TOKEN_OFFSET;
import static org.shm4j.core.internal.HeapLayout.SLOT_START_STAMP_OFFSET;
import static org.shm4j.core.internal.HeapLayout.SLOT_TOKEN_OFFSET;

/**
 * The attach table of a heap: {@link HeapLayout#ATTACH_CAPACITY} slots, one per process that has the heap open
 * (see the layout table of {@link org.shm4j.core.SharedHeap}).
 *
 * <p>A slot is free when its token is 0. A process claims a free slot with a CAS of the token from 0 to its own
 * {@linkplain ProcessIdentity owner token}, then writes its start time and an attachment count of 1; further opens of
 * the same heap in that process add 1 to the count instead of taking another slot, and each close subtracts 1; the
 * close that brings it to 0 frees the slot with a CAS of the token back to 0. Only the owning process writes its
 * slot's start time and count; another process writes a slot only to free it (a CAS from a dead owner's token to 0),
 * which every attach does for each dead slot it passes, so a killed process's slot is reclaimed by the next attach.
 *
 * <p>A slot's flock token equals its token while every attachment of that process holds a shared
 * {@link HeapFileFlock} on the heap's file; anything else (0, or a former owner's token, which shm4j versions before
 * this word, or a reclaim of a dead slot, leave behind) says nothing is known. So when no descriptor holds a lock on
 * the file, every slot whose flock token matches belongs to a process that is gone ({@link #allFlocked}); a slot
 * without it may be a live process that holds nothing.
 *
 * <p>Within one process, attach and detach are serialised by one lock, so a process never holds two slots of one heap
 * and its count is exact. The token CASes are volatile: the claim is ordered before the attacher's read of the
 * heap's removal word, and {@link HeapRemoval} reads the tokens after its own volatile CAS of that word (see there).
 *
 * <p><b>Take-overs in flight.</b> A lock word, role or slot names its holder by process, not by attach period, so a
 * process that closed the heap (its holds free to take, see {@link HeapMappings#isPresent}) and opens it again
 * would, by locking anew, write the very word that a taker judged gone a moment before: the taker's CAS from that
 * word then took the new hold (two holders at once). So a taker counts itself in the high half of its own slot's
 * attachments word ({@link #markTakeOver}) before it judges the holder and until its CAS is done, and an attach
 * that claims a new slot waits, after its claim, until no live process has such a count ({@link #attach}): Dekker's
 * pattern over two volatile writes (the taker's count, the attacher's claim) each followed by a volatile read of the
 * other's, so either the taker sees the holder attached again (and takes nothing) or the attacher waits for the
 * taker's CAS, before it can hold anything anew. The low half counts the process's open heap objects. A count made
 * through a view that closed before it ended is ended through another view in the same slot ({@link #claimOf}).
 *
 * <p><b>Holds left by a close.</b> What a process's threads held in a heap when it closed its last view (a lock
 * held, an operation cut short) still names it, and others take it over only while it stays away: once it opens the
 * heap again, its name is back in this table and the hold was its own again, held by no call (a map segment's lock
 * that every later {@code put} waited for). So an attach that claims a new slot in a heap this process had a slot in
 * before runs the sweep that {@link #onReopen} registers (the sync module's: it renames each such hold with
 * {@link ProcessIdentity#abandonedToken()}, a gone holder's name, which the next taker takes over as a dead
 * holder's), after the wait for take-overs in flight and before the attach returns, under this process's attach lock:
 * no thread of this process can hold anything anew in the heap before it is done, and no other process takes those
 * holds meanwhile (this process is attached again), so every hold that names this process then is one left by a
 * close. A sweep that fails frees the slot, and the open fails; the next one sweeps again. A view that a close
 * detached and could not unmap attaches again without a sweep ({@link #attachAgain}): its threads' holds live on.
 */
public final class AttachTable {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    /** Serialises this process's attaches and detaches, of every heap. */
    private static final ReentrantLock PROCESS_LOCK = new ReentrantLock();
    /** One take-over in flight, in the high half of a slot's attachments word. */
    private static final long TAKE_OVER = 1L << 32;
    /** The low half of a slot's attachments word: how many heap objects its process has open. */
    private static final long OPENS = TAKE_OVER - 1;
    /**
     * How long an attach waits for another process's take-overs in flight: each is a liveness check and a CAS, so
     * only a stopped process (or a thread of it cut short before it ended its count, see {@link #markTakeOver})
     * keeps one that long.
     */
    static final long TAKE_OVER_WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** How long an attach parks between two looks at a slot's take-overs in flight. */
    private static final long TAKE_OVER_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(50);
    /**
     * This process's slots, by heap and index: an identity for each from its claim until its free (JVM-local, put and
     * removed under {@link #PROCESS_LOCK}, read by any thread), see {@link #claimOf}.
     */
    private static final Map<SlotKey, Object> CLAIMS = new ConcurrentHashMap<>();
    /** The ids of the heaps this process has claimed a slot in: a claim in one of them again sweeps (see above). */
    private static final Set<Long> CLAIMED = ConcurrentHashMap.newKeySet();
    /**
     * The structures this process made with {@code wrap} in each heap (by heap id), by offset: swept with the catalog's
     * blocks, which do not list them ({@link HeapMappings#noteWrapped}).
     */
    private static final Map<Long, Map<Long, HeapCatalog.Entry>> WRAPPED = new ConcurrentHashMap<>();
    /** Renames the holds this process left in a heap (its blocks listed) that it opens again; null until set. */
    private static volatile BiConsumer<MemorySegment, List<HeapCatalog.Entry>> reopenSweep;

    private AttachTable() {
    }

    /**
     * A slot of this process's: its heap's id and its index. Equality written out rather than generated, as for
     * {@code BlockType}: generated methods link through {@code java.lang.runtime.ObjectMethods}, whose initialization,
     * if an open or close deep in a thread's stack were first and overflowed in it, is erroneous for every record in
     * the JVM.
     */
    private record SlotKey(long heapId, int slot) {
        @Override
        public boolean equals(Object other) {
            return other instanceof SlotKey key && key.heapId == heapId && key.slot == slot;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(heapId) * 31 + slot;
        }
    }

    /**
     * Records this process as attached to the heap in {@code segment}, reclaiming the slots of dead processes.
     *
     * @param what    the heap, for the exception message
     * @param flocked whether this attachment holds a shared {@link HeapFileFlock} on the heap's file until it detaches
     * @throws ShmFullException if every slot belongs to a live process
     */
    public static void attach(MemorySegment segment, String what, boolean flocked) {
        attach(segment, what, flocked, true);
    }

    /**
     * Attaches this process again to the heap in {@code segment}, through a view it detached a moment ago and could
     * not unmap (a thread of this process still holds its memory), as {@link #attach} does but without the sweep of
     * holds left by a close: the view stayed open, so what this process's threads hold there is still held by their
     * calls (a sweep renamed a lock still held, which another process then took over: two holders at once).
     *
     * @throws ShmFullException if every slot belongs to a live process
     */
    public static void attachAgain(MemorySegment segment, String what, boolean flocked) {
        attach(segment, what, flocked, false);
    }

    private static void attach(MemorySegment segment, String what, boolean flocked, boolean sweep) {
        long me = ProcessIdentity.currentToken();
        PROCESS_LOCK.lock();
        try {
            reclaimDead(segment, me);
            int mine = find(segment, me);
            if (mine >= 0) {
                addAttachment(segment, mine, flocked);
                return;
            }
            for (int i = 0; i < ATTACH_CAPACITY; i++) {
                // volatile CAS: the claim must precede (in the total order) our read of the removal word
                if (LONG.compareAndSet(segment, field(i, SLOT_TOKEN_OFFSET), 0L, me)) {
                    fillClaimed(segment, i, me, flocked);
                    awaitTakeOvers(segment, i, me, what);
                    if (recordClaim(segment, i, me) && sweep) {
                        sweepHoldsLeft(segment, i, me, what);
                    }
                    return;
                }
            }
            throw new ShmFullException("attach table of " + what + " is full: " + ATTACH_CAPACITY
                    + " live processes have it open (limit: " + ATTACH_CAPACITY + ")");
        } finally {
            PROCESS_LOCK.unlock();
        }
    }

    /**
     * Counts one more attachment in this process's slot {@code mine}. A failure midway (an {@link Error} too) takes
     * the count back: the open that called fails, and a count it left would keep the heap in use for this process's
     * life.
     */
    private static void addAttachment(MemorySegment segment, int mine, boolean flocked) {
        // getAndAdd: only this process writes its count, under PROCESS_LOCK; atomic for readers' sake
        LONG.getAndAdd(segment, field(mine, SLOT_ATTACHMENTS_OFFSET), 1L);
        try {
            if (!flocked) { // release: after the count; one attachment without the lock voids the claim for good
                LONG.setRelease(segment, field(mine, SLOT_FLOCK_TOKEN_OFFSET), 0L);
            }
        } catch (Throwable e) {
            Undo.after(e, () -> LONG.getAndAdd(segment, field(mine, SLOT_ATTACHMENTS_OFFSET), -1L));
            throw e;
        }
    }

    /**
     * Fills slot {@code claimed}, just claimed by this process ({@code me}). A failure midway (an {@link Error} too)
     * frees the slot again, as the claim found it but for the fields written, which only the token validates: the
     * open that called fails, and a slot it kept would keep the heap in use for this process's life.
     */
    private static void fillClaimed(MemorySegment segment, int claimed, long me, boolean flocked) {
        try {
            // release: informational fields, ordered after the claim for readers that check the token
            LONG.setRelease(segment, field(claimed, SLOT_START_STAMP_OFFSET), ProcessIdentity.currentStartStamp());
            LONG.setRelease(segment, field(claimed, SLOT_ATTACHMENTS_OFFSET), 1L);
            // release: after the claim; a reader that sees the token but not yet this takes no flock as held
            LONG.setRelease(segment, field(claimed, SLOT_FLOCK_TOKEN_OFFSET), flocked ? me : 0L);
        } catch (Throwable e) {
            // volatile CAS, as detach's free; the flock token is written last, so a failed fill left none of ours
            Undo.after(e, () -> LONG.compareAndSet(segment, field(claimed, SLOT_TOKEN_OFFSET), me, 0L));
            throw e;
        }
    }

    /**
     * Waits, after this process claimed slot {@code mine} (a new slot: it had the heap closed, or never open), until
     * no other live process has a take-over in flight that judged this process gone before the claim (see the class
     * comment); frees the slot again if it gives up.
     *
     * @throws ShmException if a process keeps one in flight for {@link #TAKE_OVER_WAIT_NANOS}, naming it
     */
    private static void awaitTakeOvers(MemorySegment segment, int mine, long me, String what) {
        long deadline = System.nanoTime() + TAKE_OVER_WAIT_NANOS;
        try {
            for (int i = 0; i < ATTACH_CAPACITY; i++) {
                if (i != mine) {
                    awaitSlot(segment, i, deadline, what);
                }
            }
        } catch (Throwable e) {
            Undo.after(e, () -> free(segment, mine, me));
            throw e;
        }
    }

    /** Waits until slot {@code i} has no take-over in flight, or is free, or its process is dead. */
    private static void awaitSlot(MemorySegment segment, int i, long deadline, String what) {
        while (true) {
            long token = (long) LONG.getVolatile(segment, field(i, SLOT_TOKEN_OFFSET));
            // volatile: after this process's volatile claim (Dekker with markTakeOver's count and judgment)
            long inFlight = (long) LONG.getVolatile(segment, field(i, SLOT_ATTACHMENTS_OFFSET)) >>> 32;
            if (token == 0 || inFlight == 0 || !ProcessIdentity.isAlive(token)) {
                return;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new ShmException("cannot attach to " + what + ": " + ProcessIdentity.describe(token)
                        + " has been taking over a gone process's hold there for "
                        + TimeUnit.NANOSECONDS.toSeconds(TAKE_OVER_WAIT_NANOS) + " s (a stopped process, or a thread"
                        + " of it cut short midway, keeps that up until it closes the heap or exits); this process"
                        + " must not hold anything there before that take-over is done");
            }
            LockSupport.parkNanos(TAKE_OVER_PARK_NANOS);
        }
    }

    /**
     * Records a new identity for this process's slot {@code mine}, just claimed; frees the slot if that fails.
     *
     * @return true if this process had claimed a slot in this heap before (since this JVM started)
     */
    private static boolean recordClaim(MemorySegment segment, int mine, long me) {
        try {
            CLAIMS.put(new SlotKey(heapId(segment), mine), new Object());
            return !CLAIMED.add(heapId(segment));
        } catch (Throwable e) { // an Error (it allocates): else claimOf would find no identity, or an earlier one's
            Undo.after(e, () -> free(segment, mine, me));
            throw e;
        }
    }

    /**
     * Registers the sweep that an attach runs when this process opens again a heap it had closed (see the class
     * comment): given the heap's memory and its blocks, it renames what this process's token still holds there.
     */
    public static void onReopen(BiConsumer<MemorySegment, List<HeapCatalog.Entry>> sweep) {
        reopenSweep = sweep;
    }

    /**
     * Records a structure of {@code type} made with {@code wrap} over the {@code byteSize} bytes at {@code offset} of
     * the heap {@code heapId} (see {@link HeapMappings#noteWrapped}), as an entry named {@code "(wrapped)"}.
     */
    static void noteWrapped(long heapId, long offset, long byteSize, BlockType type) {
        WRAPPED.computeIfAbsent(heapId, id -> new ConcurrentHashMap<>()).put(offset,
                new HeapCatalog.Entry(-1, "(wrapped)", type.tag(), type.layoutVersion(), offset, byteSize, Long.BYTES));
    }

    /**
     * Runs the registered sweep over the heap in {@code segment}, which this process just claimed slot {@code mine}
     * of, again, with the catalog's blocks and the structures this process made there with {@code wrap}; frees the
     * slot if it fails. The blocks of a catalog that cannot be listed (damaged) are not swept: the structures there
     * report the damage when they are opened.
     */
    private static void sweepHoldsLeft(MemorySegment segment, int mine, long me, String what) {
        BiConsumer<MemorySegment, List<HeapCatalog.Entry>> sweep = reopenSweep;
        if (sweep == null) {
            return; // no structure of the sync module was opened in this JVM: none holds anything
        }
        try {
            List<HeapCatalog.Entry> blocks = new ArrayList<>();
            try {
                blocks.addAll(new HeapCatalog(segment, HeapHeader.validateComplete(segment, what), what).entries());
            } catch (ShmFormatException damaged) {
                // the catalog's blocks unknown: only the wrapped structures this process knows of are swept
            }
            blocks.addAll(WRAPPED.getOrDefault(heapId(segment), Map.of()).values());
            sweep.accept(segment, blocks);
        } catch (Throwable e) { // an Error too: the open fails, and its next try sweeps again
            Undo.after(e, () -> free(segment, mine, me));
            throw e;
        }
    }

    /**
     * @param segment a view of the heap, attached: this process's slot is claimed until the view detaches
     * @return the identity of this process's claim of its slot in that heap, the same for every view attached to it
     *         in the same slot (also one opened while another closes, between that one's attach period's end and its
     *         detach), and another for a slot claimed after this one is freed; null if none is known (a slot this
     *         process did not claim: a copied or damaged table). A heap file and a copy of it have one heap id, so
     *         their slots of one index share a key here: the later claim's identity replaces the earlier's, and the
     *         first free removes it; an identity tells slots apart only among views of one file (as
     *         {@code HeapMappings} compares them)
     */
    public static Object claimOf(MemorySegment segment) {
        int mine = find(segment, ProcessIdentity.currentToken());
        return mine < 0 ? null : CLAIMS.get(new SlotKey(heapId(segment), mine));
    }

    /**
     * Counts a take-over in flight in this process's slot of the heap in {@code segment} (see the class comment):
     * before the taker judges whether the holder is gone, until its CAS from the holder's word is done.
     *
     * @param segment a view of the heap this process is attached to
     * @return the slot's attachments word, for {@link #unmarkTakeOver}; null if this process has no slot there
     *         (a read-only view, or one closing): then it must take nothing over from a process that may be alive
     * @throws IllegalStateException if {@code segment}'s view is closed
     */
    public static MemorySegment markTakeOver(MemorySegment segment) {
        int mine = find(segment, ProcessIdentity.currentToken());
        if (mine < 0) {
            return null;
        }
        MemorySegment word = segment.asSlice(field(mine, SLOT_ATTACHMENTS_OFFSET), Long.BYTES);
        // volatile: before the taker's volatile reads of the table (Dekker with awaitTakeOvers). The slot stays this
        // process's while the view is open, and an add through a closed view throws instead of counting elsewhere
        LONG.getAndAdd(word, 0L, TAKE_OVER);
        return word;
    }

    /**
     * Ends a take-over that {@link #markTakeOver} counted.
     *
     * @param word what {@link #markTakeOver} returned, or the same bytes in another open view of the heap
     * @throws IllegalStateException if {@code word}'s view is closed
     */
    public static void unmarkTakeOver(MemorySegment word) {
        LONG.getAndAdd(word, 0L, -TAKE_OVER); // volatile: after the taker's CAS
    }

    /** Removes one attachment of this process; the last one frees its slot. Does nothing if it has no slot. */
    public static void detach(MemorySegment segment) {
        long me = ProcessIdentity.currentToken();
        PROCESS_LOCK.lock();
        try {
            int mine = find(segment, me);
            if (mine < 0) {
                return; // the slot was overwritten (damaged bytes): nothing of ours to remove
            }
            long left = ((long) LONG.getAndAdd(segment, field(mine, SLOT_ATTACHMENTS_OFFSET), -1L) - 1) & OPENS;
            if (left == 0) {
                free(segment, mine, me);
            }
        } finally {
            PROCESS_LOCK.unlock();
        }
    }

    /**
     * Frees slot {@code mine} of this process ({@code me}): its take-overs in flight too, whose views are all closed
     * (a count through a closed view throws), so none of them can still CAS.
     */
    private static void free(MemorySegment segment, int mine, long me) {
        LONG.setRelease(segment, field(mine, SLOT_ATTACHMENTS_OFFSET), 0L); // release: before the free below
        LONG.setRelease(segment, field(mine, SLOT_FLOCK_TOKEN_OFFSET), 0L); // release: likewise
        LONG.compareAndSet(segment, field(mine, SLOT_TOKEN_OFFSET), me, 0L); // volatile: frees the slot
        // last: if it fails (an Error), the slot is free anyway, and the next claim of that index puts its own
        CLAIMS.remove(new SlotKey(heapId(segment), mine));
    }

    /** @return the id of the heap in {@code segment}: plain, written once before any process could attach to it */
    private static long heapId(MemorySegment segment) {
        return segment.get(JAVA_LONG, HEAP_ID_OFFSET);
    }

    /**
     * Records that this process's attachments of the heap, of which it has exactly one, all hold a shared
     * {@link HeapFileFlock}: for a creator, which attaches before its heap's file can be opened by its name.
     */
    public static void markFlocked(MemorySegment segment) {
        long me = ProcessIdentity.currentToken();
        PROCESS_LOCK.lock();
        try {
            int mine = find(segment, me);
            if (mine >= 0 && ((long) LONG.getAcquire(segment, field(mine, SLOT_ATTACHMENTS_OFFSET)) & OPENS) == 1L) {
                LONG.setRelease(segment, field(mine, SLOT_FLOCK_TOKEN_OFFSET), me); // release: after the claim
            }
        } finally {
            PROCESS_LOCK.unlock();
        }
    }

    /**
     * @return true if every slot in use says its process holds a {@link HeapFileFlock} on the heap's file: if no
     *         descriptor holds one, none of those processes has the heap open (they are dead, whatever their pids
     *         name here); false if a slot's process may have it open without a flock (or is still filling its slot)
     */
    public static boolean allFlocked(MemorySegment segment) {
        for (int i = 0; i < ATTACH_CAPACITY; i++) {
            // volatile: an adopter reads the table after its volatile write of the pid namespace (Dekker with attach)
            long token = (long) LONG.getVolatile(segment, field(i, SLOT_TOKEN_OFFSET));
            if (token != 0 && (long) LONG.getAcquire(segment, field(i, SLOT_FLOCK_TOKEN_OFFSET)) != token) {
                return false;
            }
        }
        return true;
    }

    /** @return true if a slot belongs to a live process (this one included) */
    public static boolean anyAlive(MemorySegment segment) {
        for (int i = 0; i < ATTACH_CAPACITY; i++) {
            // volatile: read after the remover's volatile CAS of the removal word
            long token = (long) LONG.getVolatile(segment, field(i, SLOT_TOKEN_OFFSET));
            if (token != 0 && ProcessIdentity.isAlive(token)) {
                return true;
            }
        }
        return false;
    }

    /** @return the processes of the slots in use, in table order; the start time is 0 while a slot is being filled */
    public static List<HeapProcess> processes(MemorySegment segment) {
        List<HeapProcess> processes = new ArrayList<>();
        for (int i = 0; i < ATTACH_CAPACITY; i++) {
            long token = (long) LONG.getAcquire(segment, field(i, SLOT_TOKEN_OFFSET)); // acquire: then its fields
            if (token != 0) {
                long start = (long) LONG.getAcquire(segment, field(i, SLOT_START_STAMP_OFFSET));
                long count = (long) LONG.getAcquire(segment, field(i, SLOT_ATTACHMENTS_OFFSET)) & OPENS;
                long startMillis = ProcessIdentity.startMatches(token, start) ? ProcessIdentity.startMillis(start) : 0;
                processes.add(new HeapProcess(ProcessIdentity.pid(token), startMillis, count,
                        ProcessIdentity.isAlive(token)));
            }
        }
        return List.copyOf(processes); // unmodifiable, as SharedHeap.blocks()
    }

    /**
     * @return true if the process of {@code token} has a slot: it has the heap open (read-only opens have none); false
     *         for token 0, which names no process (it is every free slot's)
     */
    public static boolean isAttached(MemorySegment segment, long token) {
        return token != 0 && find(segment, token) >= 0;
    }

    private static void reclaimDead(MemorySegment segment, long me) {
        for (int i = 0; i < ATTACH_CAPACITY; i++) {
            long token = (long) LONG.getVolatile(segment, field(i, SLOT_TOKEN_OFFSET));
            if (token != 0 && token != me && !ProcessIdentity.isAlive(token)) {
                LONG.compareAndSet(segment, field(i, SLOT_TOKEN_OFFSET), token, 0L); // a dead owner never writes again
            }
        }
    }

    private static int find(MemorySegment segment, long token) {
        for (int i = 0; i < ATTACH_CAPACITY; i++) {
            if ((long) LONG.getVolatile(segment, field(i, SLOT_TOKEN_OFFSET)) == token) {
                return i;
            }
        }
        return -1;
    }

    private static long field(int slot, long fieldOffset) {
        return HeapLayout.slotOffset(slot) + fieldOffset;
    }
}
