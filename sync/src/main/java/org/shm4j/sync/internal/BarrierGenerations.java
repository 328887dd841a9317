package org.shm4j.sync.internal;

import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_BROKEN;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_BROKEN_GENERATIONS;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_BROKEN_GENERATIONS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_FUTEX;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_GENERATION_MASK;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_SLOT_SIZE;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_STATE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.COORD_WAITERS;

/**
 * The generations of a {@code SharedBarrier} (its layout table and rules are in that class's documentation): an
 * arrival, the trip (at once, or after the last party's barrier action), a break, a reset or an abort, each one CAS
 * of the state word; the arrival slots and registrations by which waiting parties notice dead ones; and the broken
 * generations by which a party that wakes late learns how its generation ended.
 */
public final class BarrierGenerations {
    /**
     * How long a waiting party lets a generation whose count says its last party runs the barrier action go on
     * while that party's slot is not written (it writes it a few instructions after it counts itself in) before it
     * breaks the generation.
     */
    private static final long UNKNOWN_RUNNER_NANOS = TimeUnit.SECONDS.toNanos(1);

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment segment;
    private final int parties;
    private final String description;
    private final BarrierRegistry registry;
    /** The generation whose action {@link #unknownRunnerFor} saw without a runner, and since when: this process's. */
    private int unknownGeneration = -1;
    private long unknownSince;
    /** When an observer may probe the arrivals again ({@link #observedState}). */
    private final GiveUpCheck observerCheck = new GiveUpCheck();
    /**
     * The generation in which this read-only view saw a dead arrival it could not break (-1: none). Plain and racy
     * between this object's observers: a lost update only costs one more probe.
     */
    private int deadSeenIn = -1;

    /**
     * @param segment     the barrier's block
     * @param parties     its parties, checked
     * @param description the barrier, for messages
     * @param registry    its registrations
     */
    public BarrierGenerations(MemorySegment segment, int parties, String description, BarrierRegistry registry) {
        this.segment = segment;
        this.parties = parties;
        this.description = description;
        this.registry = registry;
    }

    /**
     * Breaks the current generation and leaves it broken; nothing if it is broken already.
     */
    public void abort() {
        while (true) {
            long s = state();
            if (((int) s & BARRIER_BROKEN) != 0 || breakGeneration((int) s & BARRIER_GENERATION_MASK)) {
                return;
            }
        }
    }

    /**
     * Breaks the current generation, if anyone arrived in it, and starts the next (see {@code SharedBarrier.reset}).
     */
    public void reset() {
        registry.freeDead(); // before the new generation, whose waiters would break on them
        while (true) {
            long s = state();
            int generation = (int) s & BARRIER_GENERATION_MASK;
            if (((int) s & BARRIER_BROKEN) == 0) {
                if (s >>> 32 == 0) {
                    return; // nobody arrived: a new generation would differ only in its number
                }
                breakGeneration(generation);
                continue;
            }
            markBroken(s, generation); // before the new generation: a waiter that wakes after it reads that it broke
            if (LONG.compareAndSet(segment, BARRIER_STATE_OFFSET, s, (long) nextGeneration(generation))) {
                Waits.wakeAllIfAnnounced(segment, BARRIER_FUTEX, (int) s, COORD_WAITERS);
                return;
            }
        }
    }

    /**
     * Arrives in the current generation and waits for its trip.
     *
     * @param timeoutNanos how long to wait, or a negative value for ever
     * @param action       the barrier action this party runs if it is the last to arrive, or null
     * @return the arrival index: {@code parties - 1} for the first to arrive, 0 for the last
     */
    public int arriveAndWait(long timeoutNanos, Runnable action)
            throws InterruptedException, BrokenBarrierException, TimeoutException {
        long start = System.nanoTime();
        long s = state();
        int generation = (int) s & BARRIER_GENERATION_MASK;
        // as CyclicBarrier: a broken generation is reported first (below), the interrupt left set
        if (((int) s & BARRIER_BROKEN) == 0 && Thread.interrupted()) {
            if (s >>> 32 != parties) { // not arrived: the generation whose action runs is not this party's
                breakGeneration(generation);
            }
            throw new InterruptedException();
        }
        while (true) {
            generation = (int) s & BARRIER_GENERATION_MASK;
            int arrived = (int) (s >>> 32);
            if (!isCount(arrived)) { // the next slot's index: checked before this arrival counts or writes a slot
                breakGeneration(generation); // its waiters would wait for a trip that cannot come
                throw corruptCount(arrived);
            }
            if (((int) s & BARRIER_BROKEN) != 0) {
                throw broken();
            }
            if (arrived == parties) { // the last party runs its action: this one arrives in the next generation
                awaitActionBeforeArriving(generation, left(timeoutNanos, start));
                s = state();
                continue;
            }
            // the party just before this one died waiting: checked before this arrival counts, so that the last
            // arrival's trip never passes over it
            if (deadArrival(arrived - 1, generation)) {
                breakGeneration(generation);
                s = state();
                continue;
            }
            if (arrived + 1 == parties) { // the trip: the successful CAS is the linearization point
                // a registered party killed after its arrival counted and before its slot write: only its
                // registration names it, and no waiter may have looked yet, so the last arrival looks before it trips
                if (unwrittenArrival(arrived, generation) && registry.anyDead()) {
                    breakGeneration(generation);
                    s = state();
                    continue;
                }
                if (action != null) {
                    if (LONG.compareAndSet(segment, BARRIER_STATE_OFFSET, s, s + (1L << 32))) {
                        return runActionAndTrip(generation, action);
                    }
                } else if (LONG.compareAndSet(segment, BARRIER_STATE_OFFSET, s, (long) nextGeneration(generation))) {
                    Waits.wakeAllIfAnnounced(segment, BARRIER_FUTEX, (int) s, COORD_WAITERS);
                    return 0;
                }
            } else if (LONG.compareAndSet(segment, BARRIER_STATE_OFFSET, s, s + (1L << 32))) {
                writeSlot(arrived, generation); // the CAS from s makes the checked count this arrival's slot
                return awaitTrip(generation, arrived, left(timeoutNanos, start));
            }
            s = state();
        }
    }

    /** @return what is left at {@link System#nanoTime()} of {@code timeoutNanos} begun at {@code start} (-1: none) */
    private static long left(long timeoutNanos, long start) {
        return timeoutNanos < 0 ? -1 : Math.max(0, timeoutNanos - (System.nanoTime() - start));
    }

    /**
     * The last party of {@code generation}, counted as arrived ({@code parties} in the state): runs the action, then
     * trips the generation unless it broke meanwhile.
     *
     * @return 0, the last party's arrival index
     */
    private int runActionAndTrip(int generation, Runnable action) throws BrokenBarrierException {
        if (ended(generation)) { // broken since the CAS (this party stalled a second): write no slot of another's
            throw broken();
        }
        writeSlot(parties - 1, generation); // its neighbour watches this process while the action runs
        try {
            if (ended(generation)) { // a dead neighbour found by writeSlot, a timeout before this arrival, a reset
                throw broken();
            }
            runAction(generation, action);
            while (true) {
                long s = state();
                if (ended(generation)) {
                    throw new BrokenBarrierException(description + ": broken while its barrier action ran (a reset, "
                            + "an abort, or a party's process died); the action had run");
                }
                if (LONG.compareAndSet(segment, BARRIER_STATE_OFFSET, s, (long) nextGeneration(generation))) {
                    Waits.wakeAllIfAnnounced(segment, BARRIER_FUTEX, (int) s, COORD_WAITERS);
                    return 0;
                }
            }
        } finally {
            // the slot says "this process runs generation's action" no longer: after 2^30 generations a stale one
            // could stand for a runner killed before its own slot write (a CAS: a later runner's write stays)
            INT.compareAndSet(segment, slotGenerationOffset(parties - 1), generation + 1, 0);
        }
    }

    /**
     * Runs the action; whatever it throws (a checked exception thrown sneakily included) breaks the generation and is
     * passed on wrapped in {@link ActionFailure}, so that the barrier's own exception handling leaves it as it is.
     */
    private void runAction(int generation, Runnable action) {
        boolean ran = false;
        try {
            action.run();
            ran = true;
        } catch (Throwable t) {
            throw new ActionFailure(t);
        } finally {
            if (!ran) {
                breakGeneration(generation);
            }
        }
    }

    /**
     * What the barrier action threw, carried past the barrier's handling of its own exceptions ({@code await} throws
     * the cause as it was thrown: {@link #rethrowCause()}).
     */
    public static final class ActionFailure extends RuntimeException {
        private ActionFailure(Throwable cause) {
            super(null, cause, false, false);
        }

        /** Throws the action's exception, unwrapped (checked or not). @return never */
        public RuntimeException rethrowCause() {
            throw Rethrow.asThrown(getCause());
        }
    }

    /** @return what an await of a generation that broke throws: naming the barrier (until a reset) */
    private BrokenBarrierException broken() {
        return new BrokenBarrierException(description + " is broken (a party timed out, was interrupted or died, an "
                + "action failed, or a reset or an abort came)");
    }

    /** @return true if {@code generation} is no longer current, or broken */
    private boolean ended(int generation) {
        return ended((int) state(), generation);
    }

    /** @return true if the state's low word {@code word} shows {@code generation} no longer current, or broken */
    private static boolean ended(int word, int generation) {
        return (word & BARRIER_GENERATION_MASK) != generation || (word & BARRIER_BROKEN) != 0;
    }

    /**
     * A party that found the last party of {@code generation} running its action: waits until that generation ends,
     * breaking it if that party's process dies. Breaks nothing on a timeout or an interrupt: this party has not
     * arrived.
     */
    private void awaitActionBeforeArriving(int generation, long timeoutNanos)
            throws InterruptedException, TimeoutException {
        Runnable watch = partyWatch(generation, parties);
        watch.run(); // at once too: a wait shorter than a liveness slice would never look
        if (!WordWait.await(segment, BARRIER_FUTEX, COORD_WAITERS, timeoutNanos,
                w -> ended(w, generation), watch)) {
            throw new TimeoutException(description + ": the last party of the generation before was still running "
                    + "the barrier action; this party did not arrive");
        }
    }

    private int awaitTrip(int generation, int slot, long timeoutNanos)
            throws InterruptedException, BrokenBarrierException, TimeoutException {
        int index = parties - 1 - slot;
        boolean done;
        try {
            done = WordWait.await(segment, BARRIER_FUTEX, COORD_WAITERS, timeoutNanos,
                    w -> ended(w, generation),
                    partyWatch(generation, slot));
        } catch (InterruptedException e) {
            if (breakUnlessActionRuns(generation)) {
                throw e;
            }
            awaitEnd(generation, slot);
            if (!tripped(generation)) {
                throw e;
            }
            Thread.currentThread().interrupt(); // it tripped first: return normally, keeping the interrupt
            return index;
        }
        if (!done) {
            if (breakUnlessActionRuns(generation)) {
                long arrived = state() >>> 32; // breaking keeps the count (a reset may have cleared it since)
                throw new TimeoutException(description + ": " + arrived + " of " + parties + " parties arrived in "
                        + "time; the barrier is broken for them all until a reset");
            }
            awaitEnd(generation, slot);
        }
        if (!tripped(generation)) {
            throw broken();
        }
        return index;
    }

    /**
     * @return true if {@code generation} tripped; false if it is still current (then broken), ended broken, or its
     *         broken-generations entry was written since by the reset of a later generation sharing it, so that how it
     *         ended cannot be told (see the class doc)
     */
    private boolean tripped(int generation) {
        if (((int) state() & BARRIER_GENERATION_MASK) == generation) {
            return false;
        }
        // after the state showed it ended: a broken generation ends only by a reset, which writes the entry first
        int entry = (int) INT.getVolatile(segment, brokenEntry(generation));
        if (entry == generation + 1) {
            return false;
        }
        int current = (int) state() & BARRIER_GENERATION_MASK; // after the entry
        int late = (current - generation) & BARRIER_GENERATION_MASK;
        if (late < BARRIER_BROKEN_GENERATIONS) {
            return true; // no other generation sharing the entry has been current since: nobody wrote it again
        }
        // entries are written only for the current generation, so they never go back: one whose generation is
        // older than this one (counted back from the current generation), or none, shows that no reset broke it
        return entry == 0 || ((current - (entry - 1)) & BARRIER_GENERATION_MASK) > late;
    }

    /**
     * Writes that {@code generation}, current and broken in the state {@code s} the caller read, ended broken; nothing
     * once the state moved on (then the caller's CAS from {@code s} fails too), so that a reset that read the state
     * and stalled cannot write an older generation over a later one's mark.
     */
    private void markBroken(long s, int generation) {
        long at = brokenEntry(generation);
        while (true) {
            int entry = (int) INT.getVolatile(segment, at);
            if (entry == generation + 1 || state() != s
                    || INT.compareAndSet(segment, at, entry, generation + 1)) {
                return;
            }
        }
    }

    /** @return the offset of {@code generation}'s entry in the broken generations */
    private static long brokenEntry(int generation) {
        return BARRIER_BROKEN_GENERATIONS_OFFSET + (long) (generation % BARRIER_BROKEN_GENERATIONS) * Integer.BYTES;
    }

    /**
     * For a waiter that timed out or was interrupted: breaks {@code generation} unless its last party is running the
     * barrier action, known by its slot (then the action decides; one killed between its arrival and writing its
     * slot is not known, and the generation breaks as without an action).
     *
     * @return true if this call broke it
     */
    private boolean breakUnlessActionRuns(int generation) {
        return !actionRuns(generation, true) && breakGeneration(generation);
    }

    /**
     * Waits, however long and whatever interrupts come (kept for the caller), until {@code generation} ends: for a
     * waiter in {@code slot} whose timeout or interrupt came while the action ran, or after the generation ended.
     * The death of the action's party still breaks it.
     */
    private void awaitEnd(int generation, int slot) {
        boolean interrupted = false;
        while (true) {
            try {
                WordWait.await(segment, BARRIER_FUTEX, COORD_WAITERS, -1,
                        w -> ended(w, generation),
                        partyWatch(generation, slot));
                break;
            } catch (InterruptedException e) {
                interrupted = true; // cleared by the wait: the next one goes on
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * @param known whether its last party must have written its slot
     * @return true if {@code generation} is current, not broken, and its last party counted itself in to run the
     *         barrier action
     */
    private boolean actionRuns(int generation, boolean known) {
        long s = state();
        return ((int) s & (BARRIER_GENERATION_MASK | BARRIER_BROKEN)) == generation && s >>> 32 == parties
                && arrivedIn(segment, parties - 1, generation) == known;
    }

    /**
     * @return what a party waiting in {@code generation} (in {@code slot}; {@code parties} if it waits to arrive)
     *         runs every liveness slice: {@link #breakIfPartyDied}, and a break of a generation whose last party
     *         counted itself in to run the action but has not written its slot for {@link #UNKNOWN_RUNNER_NANOS} (it
     *         died in between, or the count was damaged): nobody else would ever end it
     */
    private Runnable partyWatch(int generation, int slot) {
        return () -> {
            if (actionRuns(generation, false) && unknownRunnerFor(generation)) {
                breakGeneration(generation);
                return;
            }
            breakIfPartyDied(generation, slot);
        };
    }

    /**
     * Remembers, for this view in this process, since when {@code generation}'s action has had no known runner, so
     * that waits shorter than {@link #UNKNOWN_RUNNER_NANOS} add up (a party with short timeouts, alone).
     *
     * @return true once it has had none for {@link #UNKNOWN_RUNNER_NANOS}
     */
    private synchronized boolean unknownRunnerFor(int generation) {
        long now = System.nanoTime();
        if (unknownGeneration != generation) {
            unknownGeneration = generation;
            unknownSince = now;
            return false;
        }
        return now - unknownSince >= UNKNOWN_RUNNER_NANOS;
    }

    /**
     * Breaks {@code generation} if it is current and not broken yet.
     *
     * @return true if this call broke it
     */
    private boolean breakGeneration(int generation) {
        while (true) {
            long s = state();
            int word = (int) s;
            if (ended(word, generation)) {
                return false;
            }
            long broken = (s & ~0xFFFF_FFFFL) | Integer.toUnsignedLong(generation | BARRIER_BROKEN);
            if (LONG.compareAndSet(segment, BARRIER_STATE_OFFSET, s, broken)) {
                Waits.wakeAllIfAnnounced(segment, BARRIER_FUTEX, word, COORD_WAITERS);
                return true;
            }
        }
    }

    /**
     * The state as an observer ({@code isBroken}, {@code getNumberWaiting}) should report it: at most once per
     * {@link RobustMutex#LIVENESS_NANOS} for this object (a probe per arrival costs a system call, and observers
     * poll), first breaks the current generation if a party that arrived in it is dead, as its live neighbours or the
     * next arrival would, so that no dead party stays counted as waiting, and a generation that can no longer trip
     * reads broken while no live party waits to notice. Through a read-only view, which cannot write the break, the
     * state returned is marked broken instead, for the rest of that generation. A registered party's death is left
     * to the parties' own checks: until one arrives, the generation could still trip with a replacement.
     *
     * @return the state after the check
     */
    public long observedState() {
        long s = state();
        int arrived = (int) (s >>> 32);
        if (((int) s & BARRIER_BROKEN) != 0 || !isCount(arrived)) {
            return s;
        }
        int generation = (int) s & BARRIER_GENERATION_MASK;
        if (generation == deadSeenIn) {
            return s | BARRIER_BROKEN;
        }
        if (!observerCheck.due(System.nanoTime())) {
            return s;
        }
        for (int slot = 0; slot < arrived; slot++) {
            if (deadArrival(slot, generation)) {
                if (segment.isReadOnly()) {
                    deadSeenIn = generation;
                    return s | BARRIER_BROKEN;
                }
                breakGeneration(generation);
                return state();
            }
        }
        return s;
    }

    /**
     * Breaks {@code generation} if a party that arrived just before or after slot {@code mine} is dead, or the
     * process of a registered party (which then has not arrived, or died waiting).
     */
    private void breakIfPartyDied(int generation, int mine) {
        if (deadArrival(mine - 1, generation) || deadArrival(mine + 1, generation) || registry.findDead() != 0) {
            breakGeneration(generation);
        }
    }

    /**
     * @return true if one of the first {@code arrived} arrivals of {@code generation} has not written its slot yet: it
     *         is between its arrival CAS and that write, or died there
     */
    private boolean unwrittenArrival(int arrived, int generation) {
        for (int slot = 0; slot < arrived; slot++) {
            if (!arrivedIn(segment, slot, generation)) {
                return true;
            }
        }
        return false;
    }

    private boolean deadArrival(int slot, int generation) {
        if (slot < 0 || slot >= parties) {
            return false;
        }
        // dead, or closed its last view of the heap: it left
        return arrivedIn(segment, slot, generation) && !HeapMappings.isPresent(segment, slotToken(segment, slot));
    }

    /**
     * @param block a barrier's block (read only)
     * @return true if arrival slot {@code slot} holds a party that arrived in {@code generation}, false if it is
     *         empty, being written, or of another generation (acquire: its token is read after this)
     */
    public static boolean arrivedIn(MemorySegment block, int slot, int generation) {
        return (int) INT.getAcquire(block, slotGenerationOffset(slot)) == generation + 1;
    }

    /**
     * @param block a barrier's block (read only)
     * @return the owner token of the party in arrival slot {@code slot}, after {@link #arrivedIn} said it arrived
     *         (opaque: ordered by that acquire)
     */
    public static long slotToken(MemorySegment block, int slot) {
        return (long) LONG.getOpaque(block, BARRIER_SLOTS_OFFSET + slot * BARRIER_SLOT_SIZE);
    }

    /**
     * Renames what this process's parties left in the barrier {@code block} when it closed its last view of the heap,
     * for a process that opens that heap again (see {@code ReopenSweep}): each arrival slot naming this process gets
     * {@link ProcessIdentity#abandonedToken()}, a gone process's token, and so do its registrations
     * ({@link BarrierRegistry#abandon}). A party left waiting by the close (its {@code await} threw) is then a dead
     * arrival: a live neighbour's check or the next arrival (in any process, this one too) breaks the generation,
     * and its waiters get {@link BrokenBarrierException}, as after a waiting party's death. Before, this process's
     * name back in the attach table made it a waiting party again, though none was: the next generation's last
     * arrival tripped it one party short. A slot of an earlier generation is read by nobody (its generation tells),
     * so every slot naming this process is renamed. The header is checked first as an open checks it (magic, type,
     * parties, and the block's size for them), so a damaged block throws {@link ShmFormatException} before anything
     * is sized from it. CASes (volatile) from this process's token: another process writes a slot only in a later
     * generation, with its own token, which the CAS then leaves alone.
     */
    static void abandon(MemorySegment block) {
        String what = CoordinationBlocks.describe("barrier", block);
        CoordinationBlocks.checked(block, SyncLayout.BARRIER, what);
        int parties = CoordinationBlocks.param1(block);
        if (parties < 1 || parties > SyncLayout.BARRIER_MAX_PARTIES) {
            throw Blocks.corrupt(what, "parties", parties, "1.." + SyncLayout.BARRIER_MAX_PARTIES);
        }
        if (block.byteSize() != SyncLayout.barrierSize(parties)) {
            throw Blocks.corrupt(what, "block size", block.byteSize(), SyncLayout.barrierSize(parties) + " for "
                    + parties + " parties");
        }
        long me = ProcessIdentity.currentToken();
        for (int slot = 0; slot < parties; slot++) {
            LONG.compareAndSet(block, BARRIER_SLOTS_OFFSET + slot * BARRIER_SLOT_SIZE, me,
                    ProcessIdentity.abandonedToken());
        }
        BarrierRegistry.abandon(block, SyncLayout.barrierRegistrationsOffset(parties), parties);
    }

    private static long slotGenerationOffset(int slot) {
        return BARRIER_SLOTS_OFFSET + slot * BARRIER_SLOT_SIZE + Long.BYTES;
    }

    private void writeSlot(int slot, int generation) {
        long at = BARRIER_SLOTS_OFFSET + slot * BARRIER_SLOT_SIZE;
        // the generation there is older, so no reader trusts the token while it changes
        LONG.setOpaque(segment, at, ProcessIdentity.currentToken()); // opaque: published by the release below
        INT.setRelease(segment, at + Long.BYTES, generation + 1);
        if (deadArrival(slot - 1, generation)) {
            breakGeneration(generation); // the party before this one died waiting
        }
    }

    /**
     * @return true if {@code arrived} is a count a barrier's state can hold: the index of the next slot, or
     *         {@code parties} while the last party runs the barrier action
     */
    public boolean isCount(int arrived) {
        return arrived >= 0 && arrived <= parties;
    }

    /**
     * @return the arrival count of state {@code s}
     * @throws ShmFormatException if it is not one a barrier has
     */
    public int checkedCount(long s) {
        int arrived = (int) (s >>> 32);
        if (!isCount(arrived)) {
            throw corruptCount(arrived);
        }
        return arrived;
    }

    private ShmFormatException corruptCount(int arrived) {
        return Blocks.corrupt(description, "arrived", arrived, "0.." + parties);
    }

    public long state() {
        try {
            return (long) LONG.getVolatile(segment, BARRIER_STATE_OFFSET);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw CoordinationBlocks.closedOr(e, segment, description);
        }
    }

    /** @return the state word of the generation after {@code generation}: nobody arrived, not broken */
    private static int nextGeneration(int generation) {
        return (generation + 1) & BARRIER_GENERATION_MASK;
    }
}
