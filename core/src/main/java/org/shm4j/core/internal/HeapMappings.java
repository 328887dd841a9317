package org.shm4j.core.internal;

import org.shm4j.core.BlockType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * The named and file heaps this process has mapped, by address, so that a lock, role or slot held in one of them can
 * ask whether its holder still has the heap open.
 *
 * <p>A holder that closed the heap (its process lives on) can no longer be inside a critical section through it: a
 * heap's close unmaps its memory, which stops every thread of that process from touching it, before it removes the
 * process from the attach table (see {@code SharedHeap.close()}). So a waiter may treat such a holder as a dead one.
 * Without this, a heap closed by one thread while another of its threads held a lock left that lock held by a live
 * process: every other process waited for it until that process exited. Anonymous heaps are not listed: no other
 * process maps them. A word names its holder by process, not by hold, so a take-over from such a holder is counted
 * from its judgment to its CAS ({@link #beginTakeOver}): the holder's process, should it open the heap again
 * meanwhile, waits for it before it can hold anything anew.
 *
 * <p>Looked up only on the slow paths of waiters and claimers (a liveness check, at most every few milliseconds),
 * never on a lock's or ring's hot path; adding and removing copy the list (opens and closes are rare).
 */
public final class HeapMappings {
    private static final CopyOnWriteArrayList<Listed> MAPPED = new CopyOnWriteArrayList<>();
    /** The periods not over, guarded by itself. */
    private static final List<AttachPeriod> PERIODS = new ArrayList<>();
    /**
     * Where each attached mapping listed since lay, by its scope: kept after its close (see {@link #inAnotherOpenView})
     * for as long as segments of it are reachable. Guarded by itself.
     */
    private static final Map<MemorySegment.Scope, Place> PLACES = new WeakHashMap<>();
    /** How many views {@link #throughAnotherOpenView} tries in turn: views may open as fast as they close. */
    private static final int VIEW_TRIES = 4;
    /** {@link #endTakeOver} through another view: made here, not where first needed (possibly deep in a stack). */
    private static final Predicate<MemorySegment> UNMARK = word -> {
        AttachTable.unmarkTakeOver(word);
        return true;
    };

    private HeapMappings() {
    }

    /** A listed mapping: the whole heap, and its attach period (null for a read-only heap, which is not attached). */
    private record Listed(MemorySegment heap, AttachPeriod period) {
        /** @return true if {@code address} lies in this mapping */
        boolean holds(long address) {
            return address - heap.address() >= 0 && address - heap.address() < heap.byteSize();
        }
    }

    /**
     * A stretch of time in which this process keeps at least one attached view of one heap (a file and a heap id)
     * open. While it lasts, no other process takes this process for gone from that heap, so what its threads hold
     * there stays theirs; once it is over, other processes may have dropped it (a read lock's holds, for one). So
     * what this process remembers of its threads' holds in a heap (a read-write lock's per-thread counts) is kept per
     * period: a period over is never the current one again, and a count kept under it is stale. Identity is what
     * tells periods apart.
     *
     * <p>A period ends as its last view starts to close, before that view detaches, so a view opened meanwhile starts
     * a new period but counts in the same slot of the attach table: the two periods share their slot's
     * {@linkplain AttachTable#claimOf claim}, which a take-over counted in that slot needs (see {@link #endTakeOver}).
     */
    public static final class AttachPeriod {
        private final Object file; // see fileIdentity
        private final long heapId;
        /** This process's claim of its slot in the heap's attach table while the period lasts; null if unknown. */
        private final Object claim;
        private final ReentrantLock allocation = new ReentrantLock();
        /** The attached views of the heap open in this process: guarded by {@link #PERIODS}. */
        private int views;
        /** Set once the last view closed: volatile, read by any thread without the lock. */
        private volatile boolean over;

        private AttachPeriod(Object file, long heapId, Object claim) {
            this.file = file;
            this.heapId = heapId;
            this.claim = claim;
        }

        /**
         * @return true if this process's attachments in both periods count in one claim of one slot: of one file too,
         *         since a heap file and a copy of it (one heap id) key their claims alike in {@link AttachTable}, so
         *         that a view of one may have taken the other's claim (helper-268: a take-over counted in the original
         *         was ended in the copy's slot, its count below zero there, every other process's attach of the copy
         *         failing after 5 s)
         */
        private boolean inSameSlot(AttachPeriod other) {
            return claim != null && claim == other.claim && heapId == other.heapId && file.equals(other.file);
        }

        /** @return true once every attached view of the heap in this process that made up this period closed */
        public boolean isOver() {
            return over;
        }

        /**
         * @return the JVM-local lock that this process's threads take before the heap's allocation lock, through
         *         whichever view they allocate: one of them at the shared word at a time (its value, the process
         *         token, tells none of them apart), the others wait here
         */
        public ReentrantLock allocationLock() {
            return allocation;
        }
    }

    /** Where a segment lies in an attached heap's mapping: that heap's period and the mapping's start address. */
    public record Place(AttachPeriod period, long base) {
    }

    /**
     * Counts an attached view of the heap {@code heapId} at {@code file} opening.
     *
     * @param heap the view's mapping, attached
     * @return the period it belongs to: the current one of that heap in this process, or a new one
     */
    public static AttachPeriod enter(Path file, long heapId, MemorySegment heap) {
        Object identity = fileIdentity(file);
        Object claim = AttachTable.claimOf(heap); // outside the lock: the same for as long as the view is attached
        synchronized (PERIODS) {
            for (AttachPeriod period : PERIODS) {
                if (period.heapId == heapId && period.file.equals(identity)) {
                    period.views++;
                    return period;
                }
            }
            AttachPeriod period = new AttachPeriod(identity, heapId, claim);
            period.views = 1;
            PERIODS.add(period);
            return period;
        }
    }

    /**
     * @return what tells {@code file} from other files: its file key (device and inode on Linux), the same through
     *         any path, relative, linked or not, and different for a copy moved over it (helper-142: two paths to
     *         one heap counted apart, a copy moved over an open heap's path counted with it); its absolute, normal path
     *         where the file system gives no key
     */
    private static Object fileIdentity(Path file) {
        try {
            Object key = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
            if (key != null) {
                return key;
            }
        } catch (IOException | SecurityException unreadable) {
            // the path, then: as good as the caller's
        }
        return file.toAbsolutePath().normalize();
    }

    /** Counts a view that {@link #enter} counted closing: the last one ends its period. */
    public static void leave(AttachPeriod period) {
        synchronized (PERIODS) {
            if (--period.views == 0) {
                period.over = true;
                PERIODS.remove(period);
            }
        }
    }

    /** Lists {@code heap}, the whole mapping of an open named or file heap, with its period (null if not attached). */
    public static void add(MemorySegment heap, AttachPeriod period) {
        if (period != null) {
            synchronized (PLACES) { // replaces the place of a close that failed: its period may be a new one
                PLACES.put(heap.scope(), new Place(period, heap.address()));
            }
        }
        MAPPED.add(new Listed(heap, period));
    }

    /** Stops listing {@code heap}, before it is unmapped. */
    public static void remove(MemorySegment heap) {
        MAPPED.removeIf(listed -> listed.heap == heap);
    }

    /**
     * @return where {@code memory} lies in a listed heap this process is attached to (its period and the mapping's
     *         start), or null if it lies in none: an anonymous or read-only heap, or memory outside any heap
     */
    public static Place placeOf(MemorySegment memory) {
        Listed listed = attachedListing(memory.address());
        return listed == null ? null : new Place(listed.period, listed.heap.address());
    }

    /**
     * For memory of a heap view this process closed: the same bytes in another view of that heap that this process
     * still has open, through which a hold cut short by the close can be released. Unlike {@link #placeOf}, it finds
     * a mapping that is no longer listed: a close stops listing its view before it unmaps it, so a structure opened
     * or first used in that instant through the closing view lies in no listed heap.
     *
     * @param closed a segment of an attached mapping of a named or file heap (a block's, a slice of one)
     * @return the same bytes in an open, listed view of that heap with the same attach period; null if
     *         {@code closed} is still open (its failure was another), lies in no such mapping (an anonymous or
     *         read-only heap, a segment made from a bare address), or no other view of it is open (the period is
     *         over, or its last views are closing: others then take its holds over as a gone process's)
     */
    public static MemorySegment inAnotherOpenView(MemorySegment closed) {
        return inAnotherOpenView(closed, false);
    }

    /**
     * @param sameSlot whether a view of a later period of the same slot will do (see {@link AttachPeriod})
     * @see #inAnotherOpenView(MemorySegment)
     */
    private static MemorySegment inAnotherOpenView(MemorySegment closed, boolean sameSlot) {
        if (closed.scope().isAlive()) {
            return null;
        }
        Place place;
        synchronized (PLACES) {
            place = PLACES.get(closed.scope());
        }
        if (place == null) {
            return null;
        }
        for (Listed listed : MAPPED) {
            boolean same = listed.period == place.period()
                    || sameSlot && listed.period != null && place.period().inSameSlot(listed.period);
            if (same && listed.heap.scope().isAlive()) {
                return listed.heap.asSlice(closed.address() - place.base(), closed.byteSize());
            }
        }
        return null;
    }

    /**
     * Runs {@code access} on the same bytes as {@code closed} in another open view of its heap ({@link
     * #inAnotherOpenView}); if that view closes too before {@code access} is done, runs it again in the next open
     * view, if any, trying {@value #VIEW_TRIES} views at most. Without the retry a handler gave up when the first
     * view it found closed, although a third one was open: the hold it was to release stayed this process's.
     *
     * @param closed a segment of a closed attached view, as for {@link #inAnotherOpenView}
     * @param access the handler's work in the view it is given; run again after a close cut it short, so it must
     *               check what it changes (a release checks that the caller still holds the word)
     * @return what {@code access} returned; false if no open view was found, each one tried closed under it, or
     *         {@code access} failed with an {@link IllegalStateException} in a view still open
     */
    public static boolean throughAnotherOpenView(MemorySegment closed, Predicate<MemorySegment> access) {
        return throughAnotherOpenView(closed, false, access);
    }

    /**
     * @param sameSlot whether a view of a later period of the same slot will do (see {@link AttachPeriod})
     * @see #throughAnotherOpenView(MemorySegment, Predicate)
     */
    private static boolean throughAnotherOpenView(MemorySegment closed, boolean sameSlot,
                                                  Predicate<MemorySegment> access) {
        for (int tries = 0; tries < VIEW_TRIES; tries++) {
            MemorySegment view = inAnotherOpenView(closed, sameSlot);
            if (view == null) {
                return false;
            }
            try {
                return access.test(view);
            } catch (IllegalStateException alsoClosed) {
                if (view.scope().isAlive()) { // another failure, not that view's close: as before, give up
                    return false;
                }
            }
        }
        return false;
    }

    /**
     * @param memory where the lock, role or slot lies (any segment: a heap block, a wrapped segment)
     * @param token  the holder's {@linkplain ProcessIdentity owner token}
     * @return true unless the holder is known to be gone: its process dead, or {@code memory} lies in a heap this
     *         process has mapped and the holder's process has no slot in that heap's attach table (it closed the
     *         heap); a holder of memory outside any listed heap is judged by its process alone
     */
    public static boolean isPresent(MemorySegment memory, long token) {
        return ProcessIdentity.isAlive(token) && hasOpen(memory, token);
    }

    /**
     * Begins a take-over from a holder that may be gone: judges it as {@link #isPresent} does, and if it is gone,
     * keeps this process counted as taking over in the heap's attach table until {@link #endTakeOver}, so that the
     * holder's process, if it closed the heap and opens it again meanwhile, waits before it can hold anything anew
     * (see {@link AttachTable}): else the caller's CAS from the holder's word, which names a process and not a
     * hold, could take a hold made after the judgment. The caller ends it once that CAS is done (or given up).
     *
     * @param memory where the lock, role or slot lies, as for {@link #isPresent}
     * @param token  the holder's {@linkplain ProcessIdentity owner token}
     * @return null if the holder is present (take nothing over); else what to pass to {@link #endTakeOver}
     */
    public static MemorySegment beginTakeOver(MemorySegment memory, long token) {
        if (isPresent(memory, token)) { // the common answer, without a count
            return null;
        }
        Listed listed = attachedListing(memory.address());
        if (listed == null) { // judged by its process alone, which stays dead once dead: nothing to count
            return MemorySegment.NULL;
        }
        MemorySegment mark;
        try {
            mark = AttachTable.markTakeOver(listed.heap);
        } catch (IllegalStateException closedMeanwhile) { // this process closed that view: cannot take over through it
            return null;
        }
        if (mark == null) { // no slot: a view closing, whose holds others may take but not it
            return null;
        }
        boolean present;
        try {
            present = isPresent(memory, token); // judged again, now counted: the answer that counts
        } catch (Throwable e) { // an Error too (it reads /proc): a count left would hold up every new attach
            endTakeOver(mark);
            throw e;
        }
        if (present) {
            endTakeOver(mark);
            return null;
        }
        return mark;
    }

    /**
     * Ends a take-over that {@link #beginTakeOver} began; through another open view of the heap in the same slot if the
     * caller's view closed meanwhile, of its attach period or of a later one (a view opened while the caller's closed,
     * between that one's period's end and its detach, keeps the slot and the count: helper-266, every other process's
     * attach then waited for it and failed for as long as that view was open); if none is open, this process's slot
     * went with the last one, and its count with it.
     *
     * @param mark what {@link #beginTakeOver} returned, not null
     */
    public static void endTakeOver(MemorySegment mark) {
        if (mark.byteSize() == 0) {
            return;
        }
        try {
            AttachTable.unmarkTakeOver(mark);
        } catch (IllegalStateException closed) {
            throughAnotherOpenView(mark, true, UNMARK);
        }
    }

    /**
     * @return the listed, attached mapping that holds {@code address}, or null
     */
    /**
     * Records that a structure of {@code type} was made with {@code wrap} over {@code memory}, for the sweep of a
     * heap this process opens again ({@link AttachTable#onReopen}), which finds structures by the catalog and would
     * miss it: the same bytes of that heap are swept as a block of {@code type}. Does nothing for memory outside an
     * attached view of a named or file heap (no reopen can find holds there left by a close).
     */
    public static void noteWrapped(MemorySegment memory, BlockType type) {
        Listed listed = attachedListing(memory.address());
        if (listed != null) {
            AttachTable.noteWrapped(listed.period.heapId, memory.address() - listed.heap.address(), memory.byteSize(),
                    type);
        }
    }

    private static Listed attachedListing(long address) {
        for (Listed listed : MAPPED) {
            if (listed.period != null && listed.holds(address)) {
                return listed;
            }
        }
        return null;
    }

    /**
     * @param memory where the lock, role or slot lies, as for {@link #isPresent}
     * @param token  the holder's {@linkplain ProcessIdentity owner token}
     * @return false if {@code memory} lies in a heap this process has mapped (attached or read-only) and the holder's
     *         process has no slot in that heap's attach table (it closed the heap, or only opened it read-only);
     *         true otherwise, also where that cannot be judged (memory outside any listed heap): the half of
     *         {@link #isPresent} that does not ask whether the process lives, which diagnostics show apart from it
     */
    public static boolean hasOpen(MemorySegment memory, long token) {
        long address = memory.address();
        for (Listed listed : MAPPED) {
            if (listed.holds(address)) {
                try {
                    return AttachTable.isAttached(listed.heap, token);
                } catch (IllegalStateException closedMeanwhile) { // this process closed that heap: cannot judge
                    return true;
                }
            }
        }
        return true;
    }
}
