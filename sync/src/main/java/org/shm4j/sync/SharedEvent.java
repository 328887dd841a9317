package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.COORD_VALUE_MASK;
import static org.shm4j.sync.internal.SyncLayout.COORD_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.COORD_WORD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.EVENT_GENERATION_UNIT;
import static org.shm4j.sync.internal.SyncLayout.EVENT_SET;
import static org.shm4j.sync.internal.SyncLayout.LATCH_SIZE;

/**
 * A flag in shared memory that threads of every process can wait for: Python's {@code multiprocessing.Event}.
 * {@link #set()} raises it and wakes every waiter, {@link #clear()} lowers it, {@link #await(long, TimeUnit)} waits
 * until it is raised.
 *
 * <h2>Layout (heap block type {@code 0x53480063} v1, 128 bytes, 64-aligned, native byte order)</h2>
 * <table class="striped">
 * <caption>SharedEvent block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code "SHM4JCRD"} in ASCII</td><td rowspan="3">plain; written once
 *     before the block is published, checked when opened</td></tr>
 * <tr><td>8</td><td>4</td><td>tag</td><td>{@code 0x53480063}</td></tr>
 * <tr><td>12</td><td>4</td><td>version</td><td>1</td></tr>
 * <tr><td>16</td><td>48</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>4</td><td>word</td><td>the futex word: bit 0 the flag; bits 1..30 a generation bumped by
 *     every {@code set} that raises the flag; bit 31 a waiter may be blocked (cleared, with a wake of every waiter,
 *     by that {@code set})</td><td>volatile; CAS, atomic and</td></tr>
 * <tr><td>68</td><td>60</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 *
 * <h2>Waiting</h2>
 * A waiter returns true once the flag is raised, or once a {@code set} happened after it began waiting even if a
 * {@code clear} lowered the flag again before it looked (the generation tells it), so a {@code set(); clear();}
 * pulse releases every thread waiting at that moment. It spins, yields, then sets bit 31 and blocks in futex (or
 * parks up to 1 ms at a time without native access), waking at least every 50 ms to check its deadline and
 * interrupt status.
 *
 * <h2>Process death</h2>
 * The event has no owner: if the process that was to set it dies, the waiters wait until their timeouts (use
 * {@link #await(long, TimeUnit)}; nothing hangs that was given one). A waiter that dies costs nothing but, at most,
 * one wasted futex wake. (Python's {@code Event.set()} hangs when a waiter was killed; this one does not.)
 *
 * <p>Memory consistency effects: actions of a thread before {@code set()} happen-before actions after a return of
 * {@code await} that it caused, in another thread or process.
 */
public final class SharedEvent {
    private static final String KIND = "event";
    private static final int GENERATIONS = COORD_VALUE_MASK & ~EVENT_SET;

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final MemorySegment segment;
    private final String description;

    private SharedEvent(MemorySegment segment, String description) {
        Waits.prepare(); // the native wait calls linked now, not in the first timed wait
        CoordinationBlocks.requireUnusedParams(segment, 0, description);
        this.segment = segment;
        this.description = description;
    }

    /**
     * Creates a lowered event named {@code name} in {@code heap}.
     *
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedEvent create(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedEvent(CoordinationBlocks.create(heap, name, SyncLayout.EVENT,
                LATCH_SIZE, 0, 0, 0), named(name)));
    }

    /**
     * Opens the event named {@code name}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not an event
     * @throws org.shm4j.core.ShmFormatException       if its header is corrupted
     */
    public static SharedEvent open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedEvent(CoordinationBlocks.open(heap, name, SyncLayout.EVENT,
                named(name)), named(name)));
    }

    /** Opens the event named {@code name}, or creates it lowered. */
    public static SharedEvent openOrCreate(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedEvent(CoordinationBlocks.openOrCreate(heap, name, SyncLayout.EVENT,
                LATCH_SIZE, 0, 0, 0, named(name)), named(name)));
    }

    /**
     * Lays out a lowered event over the {@link #requiredBytes()} bytes at {@code offset} of a native segment,
     * zeroing them.
     *
     * @throws IllegalArgumentException  if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the bytes are not inside the segment
     */
    public static SharedEvent format(MemorySegment segment, long offset) {
        MemorySegment block = CoordinationBlocks.format(segment, offset, SyncLayout.EVENT, LATCH_SIZE, 0, 0, 0);
        return new SharedEvent(block, CoordinationBlocks.describe(KIND, block));
    }

    /**
     * Views an event laid out by {@link #format} at {@code offset} of a native segment.
     *
     * @throws org.shm4j.core.ShmFormatException if the bytes there are not an event's
     * @throws IndexOutOfBoundsException         if they are not inside the segment
     */
    public static SharedEvent wrap(MemorySegment segment, long offset) {
        MemorySegment block = CoordinationBlocks.wrap(segment, offset, SyncLayout.EVENT, p -> LATCH_SIZE, KIND);
        return new SharedEvent(block, CoordinationBlocks.describe(KIND, block));
    }

    /** @return the bytes an event needs in raw memory */
    public static long requiredBytes() {
        return LATCH_SIZE;
    }

    /** Raises the flag and wakes every waiter; does nothing if it is raised already. */
    public void set() {
        try {
            // a new generation, the flag, and the waiters bit cleared with a wake of them all
            Waits.updateAndWakeAll(segment, COORD_WORD_OFFSET, COORD_WAITERS, w -> (w & EVENT_SET) != 0 ? w
                    : ((w + EVENT_GENERATION_UNIT) & GENERATIONS) | EVENT_SET);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** Lowers the flag; waiters announced in the word stay announced. */
    public void clear() {
        try {
            INT.getAndBitwiseAnd(segment, COORD_WORD_OFFSET, ~EVENT_SET);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return true if the flag is raised */
    public boolean isSet() {
        return (word() & EVENT_SET) != 0;
    }

    /**
     * Waits until the flag is raised.
     *
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public void await() throws InterruptedException {
        await(-1);
    }

    /**
     * Waits until the flag is raised, at most {@code timeout}.
     *
     * @return true if it was raised (possibly lowered again since); false if the timeout passed first
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        return await(WordWait.nanos(timeout, unit));
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(segment.scope(), description,
                () -> description + (isSet() ? " (set)" : " (clear)"));
    }

    private boolean await(long timeoutNanos) throws InterruptedException {
        try {
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            int first = word();
            if ((first & EVENT_SET) != 0) {
                return true; // raised: allocates nothing
            }
            int generation = first & GENERATIONS;
            return WordWait.await(segment, COORD_WORD_OFFSET, COORD_WAITERS, timeoutNanos,
                    w -> (w & EVENT_SET) != 0 || (w & GENERATIONS) != generation);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return what a method throws for {@code failure}; see {@link CoordinationBlocks#closedOr} */
    private RuntimeException closedOr(RuntimeException failure) {
        return CoordinationBlocks.closedOr(failure, segment, description);
    }

    private int word() {
        try {
            return (int) INT.getVolatile(segment, COORD_WORD_OFFSET);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }
}
