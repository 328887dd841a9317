package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.BarrierGenerations;
import org.shm4j.sync.internal.BarrierRegistry;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.shm4j.sync.internal.SyncLayout.BARRIER_BROKEN;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_BROKEN_GENERATIONS;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_BROKEN_GENERATIONS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.BARRIER_MAX_PARTIES;

/**
 * A cyclic barrier in shared memory: {@link java.util.concurrent.CyclicBarrier} (and Python's
 * {@code multiprocessing.Barrier}) for parties in any threads of any processes. Each generation trips when the
 * {@code parties}-th party arrives; {@code await} returns the arrival index ({@code parties - 1} for the first, 0
 * for the last). A timeout, an interrupt, {@link #reset()} or the death of a waiting party breaks the generation:
 * every waiter, and every later arrival until {@code reset()}, gets {@link BrokenBarrierException};
 * {@link #abort()} breaks it on purpose. A view made by {@link #withAction(Runnable)} runs a barrier action in the
 * last party to arrive before the others are released.
 *
 * <h2>Layout (heap block type {@code 0x53480064} v4, 128 + 24 &times; parties bytes, 64-aligned, native byte
 * order)</h2>
 * Version 3 had no barrier action (an arrival count equal to parties was refused, so a process of that version
 * would take a running action for damage); version 2 kept only the last generation a reset broke (at 72), so a
 * party asleep through two resets of the barrier returned from {@code await} as if its generation had tripped;
 * version 1, without the registrations. All three are refused.
 * <table class="striped">
 * <caption>SharedBarrier block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code "SHM4JCRD"} in ASCII</td><td rowspan="4">plain; written once
 *     before the block is published, checked (parties: 1..1024, and the block's size) before the block is sized
 *     from it</td></tr>
 * <tr><td>8</td><td>4</td><td>tag</td><td>{@code 0x53480064}</td></tr>
 * <tr><td>12</td><td>4</td><td>version</td><td>4 (older versions are refused)</td></tr>
 * <tr><td>16</td><td>4</td><td>parties</td><td>1 to 1024</td></tr>
 * <tr><td>20</td><td>44</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>8</td><td>state</td><td>low 32 bits, the futex word (offset 64 on little-endian machines, 68
 *     on big-endian ones): bits 0..29 the generation, bit 30 broken, bit 31 a waiter may be blocked (any low word
 *     is valid); high 32 bits: the parties arrived in this generation, 0 to parties - 1 (the next arrival's slot),
 *     or parties while the last party runs the barrier action (it counted itself in, and writes its slot, parties -
 *     1, right after); any other count is refused by open and by await</td><td>volatile; 64-bit CAS (an arrival,
 *     the trip, the last arrival before an action, a break and a reset are each one CAS)</td></tr>
 * <tr><td>72</td><td>4 &times; 8</td><td>brokenGenerations</td><td>entry {@code g % 8}: 1 + the last generation
 *     {@code g} that ended broken ({@link #reset()} writes it while {@code g} is current, before it starts the next
 *     generation, so an entry never goes back); 0 if none</td><td>volatile; CAS</td></tr>
 * <tr><td>104</td><td>24</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>128</td><td>16 &times; parties</td><td>arrival slots</td><td>slot {@code i} (the {@code i}-th arrival of a
 *     generation): owner token of the party's process (long), 1 + the generation it arrived in (int), zero
 *     (int)</td><td>token opaque, then generation release; read generation acquire, then token</td></tr>
 * <tr><td>128 + 16 &times; parties</td><td>8 &times; parties</td><td>registrations</td><td>one entry per
 *     {@linkplain #register() registered} party: the owner token (pid and start time) of its process (long); 0 if
 *     free</td><td>volatile; claimed by a CAS from 0, freed by a CAS back to 0</td></tr>
 * </table>
 *
 * <h2>Waiting</h2>
 * A waiting party spins, yields, then sets bit 31 and blocks in futex on the state's low word (or parks up to 1 ms
 * at a time without native access); the trip or a break clears the bit and wakes every waiter. A blocked party
 * wakes at least every 50 ms to check its deadline, its interrupt status and the liveness of other parties.
 *
 * <h2>Process death</h2>
 * <ul>
 *   <li>A party that arrived and died while waiting (its pid gone, or reused with another start time) is noticed within
 *       about 50 ms by a live waiting party in a neighbouring arrival slot (every waiter checks the slots just before
 *       and after its own, so any dead arrival next to a live one is found, and a chain of dead arrivals is found from
 *       its live end), or by the next party to arrive (before its arrival counts, so that the last arrival never trips
 *       over the party just before it), or by {@link #isBroken()} and {@link #getNumberWaiting()}, which check every
 *       arrival of the current generation (at most every 50 ms per barrier object; through a heap opened read-only
 *       they report it broken without writing), so that a monitor sees the generation broken even while no live
 *       party waits. The generation breaks and every waiter gets {@link BrokenBarrierException}. A party that dies
 *       waiting after the next party arrived, when the last party arrives before any of those checks looked, is
 *       passed over: it counts as arrived and the generation trips, as if it had died just after the trip (the last
 *       arrival does not ask the OS about every earlier arrival's process, a system call each at every trip).</li>
 *   <li>A party that {@linkplain #register() registered} and died before arriving (or while arriving) is noticed
 *       by any waiting party within about 50 ms (each check asks the OS about at most 16 registered processes,
 *       going on where the last stopped, so with more registered processes it takes a few checks), and the
 *       generation breaks the same way. One killed after its arrival counted and before it wrote its slot is also
 *       found by the last party to arrive, which asks the OS about every registered process whenever an arrival of
 *       its generation has no slot yet: it breaks the generation instead of tripping it, even if it arrives before
 *       any waiter's check (and gets {@link BrokenBarrierException} itself, its action not run). Its registration
 *       stays until {@link #reset()} frees it: until then every generation breaks at its first check, so reset the
 *       barrier before a replacement registers.</li>
 *   <li>A process that closed its last view of the heap (see {@code SharedHeap.close()}) counts as dead in both
 *       cases: a party of it can neither arrive nor wait any more, and its registration cannot be withdrawn. So
 *       too once it opens the heap again: that open renames what its parties left as a gone process's, so a party
 *       its close left waiting breaks the generation (the first arrival after it, in any process, gets
 *       {@link BrokenBarrierException}), and its registrations stay those of a dead process until {@link #reset()}
 *       frees them.</li>
 *   <li>A party that did not register and dies before arriving is not known to the barrier: the others wait until
 *       their timeouts, and the first timeout breaks the generation for all, as with {@code CyclicBarrier}. An
 *       unregistered party killed between winning its arrival CAS and writing its slot (a few instructions) is not
 *       known either, and counts as arrived: the generation trips if its last party arrives before a waiter's
 *       timeout, and breaks at that timeout otherwise.</li>
 *   <li>The last party, killed while it runs the barrier action, is a waiting arrival like the others (its slot is
 *       written before the action starts): noticed within about 50 ms, the generation breaks. Killed between counting
 *       itself in and writing its slot, it is noticed by any waiting party (or party waiting to arrive) after about
 *       1 s: the generation breaks. Timeouts do not end a wait on a running action, so both rules matter.</li>
 * </ul>
 * Registration is opt-in, as in {@link java.util.concurrent.Phaser#register()}, but it does not change the number
 * of parties: it only tells the barrier whose death to watch for. Python's {@code Barrier} hangs in the first case
 * even with a timeout; this one does not.
 *
 * <p>A waiter that wakes after its generation ended learns how from the state (the generation still current, and
 * broken) or, once a reset started the next one, from the broken generations: its generation's entry names it if it
 * broke, an earlier generation (or none) if it tripped, and a later one only if a reset broke a generation 8, 16...
 * later since, which only a party that wakes 8 or more generations late can see; such a party cannot tell a trip
 * from a break, and gets {@link BrokenBarrierException} (a false break, never a false trip). A reset finds nothing
 * to break, and starts no generation, while no party has arrived in the current one and it is not broken.
 *
 * <p>Memory consistency effects: actions of each party before {@code await} happen-before actions after every
 * party's successful return from that generation's {@code await}.
 */
public final class SharedBarrier {
    private static final String KIND = "barrier";

    private final MemorySegment segment;
    private final int parties;
    private final String description;
    private final BarrierRegistry registry;
    private final BarrierGenerations generations;
    private final Runnable action; // run by the last party of a generation through this view; null if none

    private SharedBarrier(MemorySegment segment, String description) {
        Waits.prepare(); // the native wait calls linked now, not in the first timed wait
        CoordinationBlocks.requireUnusedParams(segment, 1, description);
        this.segment = segment;
        this.parties = checkStoredParties(CoordinationBlocks.param1(segment), description);
        this.description = description;
        long size = SyncLayout.barrierSize(parties);
        if (segment.byteSize() != size) { // a heap block of the right type made with another size
            throw Blocks.corrupt(description, "block size", segment.byteSize(), size + " for " + parties + " parties");
        }
        Blocks.requireZero(segment, BARRIER_BROKEN_GENERATIONS_OFFSET + BARRIER_BROKEN_GENERATIONS * Integer.BYTES,
                SyncLayout.BARRIER_SLOTS_OFFSET, description); // once the size is known to hold them
        this.registry = new BarrierRegistry(segment, SyncLayout.barrierRegistrationsOffset(parties), parties);
        this.generations = new BarrierGenerations(segment, parties, description, registry);
        this.action = null;
        generations.checkedCount(generations.state());
    }

    private SharedBarrier(SharedBarrier view, Runnable action) {
        this.segment = view.segment;
        this.parties = view.parties;
        this.description = view.description;
        this.registry = view.registry;
        this.generations = view.generations;
        this.action = action;
    }

    /**
     * Creates a barrier named {@code name} in {@code heap} for {@code parties} parties.
     *
     * @throws IllegalArgumentException                 if {@code parties} is not 1..1024
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedBarrier create(SharedHeap heap, String name, int parties) {
        return Blocks.opening(heap, () -> new SharedBarrier(CoordinationBlocks.create(heap, name, SyncLayout.BARRIER,
                size(named(name), parties), parties, 0, 0), named(name)));
    }

    /**
     * Opens the barrier named {@code name}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a barrier
     * @throws ShmFormatException                      if its header is corrupted, its block is not the size its
     *                                                 parties need, or its arrival count is not 0 to parties
     */
    public static SharedBarrier open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedBarrier(CoordinationBlocks.open(heap, name, SyncLayout.BARRIER,
                named(name)), named(name)));
    }

    /**
     * Opens the barrier named {@code name}, or creates it for {@code parties}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists for another number of parties
     */
    public static SharedBarrier openOrCreate(SharedHeap heap, String name, int parties) {
        return Blocks.opening(heap, () -> {
            try {
                return new SharedBarrier(CoordinationBlocks.openOrCreate(heap, name, SyncLayout.BARRIER,
                        size(named(name), parties), parties, 0, 0, named(name)), named(name));
            } catch (ShmTypeMismatchException e) {
                throw Blocks.mismatch(e, () -> {
                    SharedBarrier existing = open(heap, name);
                    return existing.description + " exists for " + existing.parties + " parties (asked: " + parties
                            + ")";
                });
            }
        });
    }

    /**
     * Lays out a barrier over the {@link #requiredBytes(int)} bytes at {@code offset} of a native segment, zeroing
     * them.
     *
     * @throws IllegalArgumentException  if {@code parties} is not 1..1024 or the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the bytes are not inside the segment
     */
    public static SharedBarrier format(MemorySegment segment, long offset, int parties) {
        MemorySegment block = CoordinationBlocks.format(segment, offset, SyncLayout.BARRIER, size(KIND, parties),
                parties, 0, 0);
        return new SharedBarrier(block, CoordinationBlocks.describe(KIND, block));
    }

    /**
     * Views a barrier laid out by {@link #format} at {@code offset} of a native segment.
     *
     * @throws ShmFormatException        if the bytes there are not a barrier's (see {@link #open})
     * @throws IndexOutOfBoundsException if they are not inside the segment
     */
    public static SharedBarrier wrap(MemorySegment segment, long offset) {
        MemorySegment block = CoordinationBlocks.wrap(segment, offset, SyncLayout.BARRIER,
                p -> SyncLayout.barrierSize(checkStoredParties(p, "barrier at offset " + offset)), KIND);
        return new SharedBarrier(block, CoordinationBlocks.describe(KIND, block));
    }

    /**
     * @return the bytes a barrier for {@code parties} needs in raw memory
     * @throws IllegalArgumentException if {@code parties} is not 1..1024
     */
    public static long requiredBytes(int parties) {
        return size(KIND, parties);
    }

    /**
     * Registers a party, so that the death of this process breaks the barrier (see "Process death" above) until the
     * party {@linkplain Party#close() deregisters}. Register once for each party that awaits (usually one thread
     * each), before its first {@code await}, and deregister after its last; the barrier still needs
     * {@link #getParties()} arrivals per generation, registered or not.
     *
     * @return the registration, to close when the party leaves
     * @throws IllegalStateException if {@link #getParties()} registrations are taken (those of dead processes are
     *                               freed by {@link #reset()})
     */
    public Party register() {
        try {
            return new Party(registry.register(description));
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Waits until all parties have arrived.
     *
     * @return the arrival index: {@code getParties() - 1} for the first to arrive, 0 for the last
     * @throws BrokenBarrierException if the generation broke before or while this party waited (also to a thread
     *                                interrupted before the call, whose interrupt stays set, as in
     *                                {@code CyclicBarrier})
     * @throws InterruptedException   if the thread was interrupted while waiting (the generation breaks)
     * @throws ShmFormatException     if the barrier's arrival count was damaged (not 0 to parties): the party
     *                                does not arrive, and the generation breaks, so that its waiters get
     *                                {@link BrokenBarrierException}; {@link #reset()} starts a generation with a
     *                                valid count
     */
    public int await() throws InterruptedException, BrokenBarrierException {
        try {
            return await(-1);
        } catch (TimeoutException impossible) {
            throw new AssertionError(impossible);
        }
    }

    /**
     * Waits until all parties have arrived, at most {@code timeout}.
     *
     * @return the arrival index: {@code getParties() - 1} for the first to arrive, 0 for the last
     * @throws TimeoutException       if the timeout passed first (the generation breaks; but one that passes while
     *                                the last party runs a {@linkplain #withAction barrier action} waits for its
     *                                end, and one that passes while this party waits to arrive, behind another
     *                                generation's action, breaks nothing)
     * @throws BrokenBarrierException if the generation broke before or while this party waited
     * @throws InterruptedException   if the thread was interrupted while waiting (the generation breaks, except as
     *                                for a timeout)
     * @throws ShmFormatException     if the barrier's arrival count was damaged (see {@link #await()})
     */
    public int await(long timeout, TimeUnit unit)
            throws InterruptedException, BrokenBarrierException, TimeoutException {
        return await(WordWait.nanos(timeout, unit));
    }

    /**
     * Returns a view of this barrier whose {@code await} runs {@code action} when its party is the last to arrive in
     * a generation, before any party is released: {@code CyclicBarrier}'s barrier action, Python's
     * {@code Barrier(parties, action)}. The action runs in the process of that last party, so give every process's
     * view the same action (a generation whose last party arrives through a view without one trips without it).
     * If the action throws, the generation breaks (every waiter gets {@link BrokenBarrierException}) and its
     * exception reaches the last party's {@code await}. While it runs, the waiting parties' timeouts and interrupts
     * wait for its end (their generation trips or breaks by the action alone, as {@code CyclicBarrier}'s waiters
     * wait for its lock), a party of the next generation waits before it arrives, and the death of the last party's
     * process breaks the generation within about 50 ms. {@link #reset()} and {@link #abort()} break it even then
     * (where {@code CyclicBarrier.reset()} waits for the action): the action still ends, and its party gets
     * {@link BrokenBarrierException}; after a reset the next generation may trip, and run its own action, before
     * the broken one's action has ended. Whatever the action throws, a checked exception thrown sneakily included,
     * reaches that party's {@code await} as it was thrown. The action must not await this barrier.
     *
     * @return a view with {@code action}; this view is unchanged
     */
    public SharedBarrier withAction(Runnable action) {
        return new SharedBarrier(this, Objects.requireNonNull(action, "action"));
    }

    /**
     * Breaks the current generation and leaves it broken, as Python's {@code Barrier.abort()}: its waiters, and every
     * party that arrives until {@link #reset()}, get {@link BrokenBarrierException}. Does nothing if it is broken
     * already.
     */
    public void abort() {
        try {
            generations.abort();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Breaks the current generation (its waiters get {@link BrokenBarrierException}) and starts a new one, as
     * {@link java.util.concurrent.CyclicBarrier#reset()} does; while nobody has arrived in the current generation
     * and it is not broken, there is nothing to break and it stays. A process killed inside {@code reset()} may
     * leave the generation broken without starting the next: parties then get {@link BrokenBarrierException} until
     * someone calls {@code reset()} again, as after any broken generation. The new generation's state is written
     * whole, so a damaged arrival count is replaced by 0.
     */
    public void reset() {
        try {
            generations.reset();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return true if the current generation is broken; a party that arrived in it and died breaks it first (as a
     *         live waiting party or the next arrival would; checked at most every 50 ms per barrier object), so a
     *         generation that can no longer trip reads broken even while no live party waits
     */
    public boolean isBroken() {
        return ((int) observedState() & BARRIER_BROKEN) != 0;
    }

    /**
     * @return the parties waiting in the current generation, 0 once it is broken; a party that arrived and died
     *         breaks it first (see {@link #isBroken()}), so a dead party is never counted
     * @throws ShmFormatException if the barrier's arrival count was damaged (see {@link #await()})
     */
    public int getNumberWaiting() {
        long s = observedState();
        return ((int) s & BARRIER_BROKEN) != 0 ? 0 : generations.checkedCount(s);
    }

    private long observedState() {
        try {
            return generations.observedState();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the parties registered now, including any whose process died and that no {@link #reset()} freed */
    public int getRegisteredParties() {
        try {
            return registry.tokens().length;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the parties needed to trip the barrier */
    public int getParties() {
        return parties;
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(segment.scope(), description, () -> {
            long s = generations.state();
            boolean broken = ((int) s & BARRIER_BROKEN) != 0;
            int arrived = (int) (s >>> 32);
            return description + (generations.isCount(arrived)
                    ? " (" + (broken ? 0 : arrived) + " of " + parties + " waiting"
                    : " (corrupted: arrived=" + arrived) + (broken ? ", broken)" : ")");
        });
    }

    private int await(long timeoutNanos) throws InterruptedException, BrokenBarrierException, TimeoutException {
        try {
            return generations.arriveAndWait(timeoutNanos, action);
        } catch (BarrierGenerations.ActionFailure failure) {
            throw failure.rethrowCause(); // as the action threw it: not taken for a failure of the barrier's memory
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return what a method throws for {@code failure}; see {@link CoordinationBlocks#closedOr} */
    private RuntimeException closedOr(RuntimeException failure) {
        return CoordinationBlocks.closedOr(failure, segment, description);
    }

    /** @param what the barrier, for messages */
    private static long size(String what, int parties) {
        if (parties < 1 || parties > BARRIER_MAX_PARTIES) {
            throw new IllegalArgumentException(what + ": parties=" + parties + " (expected: 1.." + BARRIER_MAX_PARTIES
                    + ")");
        }
        return SyncLayout.barrierSize(parties);
    }

    private static int checkStoredParties(int parties, String what) {
        if (parties < 1 || parties > BARRIER_MAX_PARTIES) {
            throw new ShmFormatException(what + " has a corrupted header: parties=" + parties);
        }
        return parties;
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }

    /**
     * A party's registration, made by {@link SharedBarrier#register()}. It belongs to a party, not to a thread (any
     * thread may await for it), and the barrier watches the process that made it: a party thread that ends without
     * arriving while its process lives is not noticed, so close the registration in a {@code finally} block.
     */
    public final class Party implements AutoCloseable {
        private final int entry;
        // written under this party's monitor (close), so that a close waits for one beside it and sees its outcome;
        // volatile for toString, which reads it without the monitor
        private volatile boolean registered = true;

        private Party(int entry) {
            this.entry = entry;
        }

        /** @return the barrier this party is registered with */
        public SharedBarrier barrier() {
            return SharedBarrier.this;
        }

        /**
         * Deregisters the party: the death of its process no longer breaks the barrier. Closing again does nothing.
         * Threads closing one party at once take turns, so each sees the outcome: all return, or all throw.
         *
         * @throws IllegalStateException if the heap or segment the barrier lives in is closed: the party stays
         *                               registered (a later close throws again), and once this process has closed
         *                               every view of the heap, it counts as dead until
         *                               {@link SharedBarrier#reset()} frees it
         */
        @Override
        public synchronized void close() {
            if (registered) {
                try {
                    registry.deregister(entry);
                } catch (IllegalStateException | IllegalArgumentException e) {
                    throw closedOr(e); // not deregistered: the entry is still this process's
                }
                registered = false;
            }
        }

        @Override
        public String toString() {
            return "party of " + description + (registered ? " (registered)" : " (deregistered)");
        }
    }
}
