package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static org.shm4j.sync.internal.SyncLayout.LATCH_SIZE;

/**
 * A count-down latch in shared memory: {@link java.util.concurrent.CountDownLatch} for the threads of every process
 * that maps it. Threads await until the count, set at creation, has been counted down to zero; it is never reset.
 *
 * <h2>Layout (heap block type {@code 0x53480062} v1, 128 bytes, 64-aligned, native byte order)</h2>
 * <table class="striped">
 * <caption>SharedCountDownLatch block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code "SHM4JCRD"} in ASCII</td><td rowspan="4">plain; written once
 *     before the block is published, checked when opened</td></tr>
 * <tr><td>8</td><td>4</td><td>tag</td><td>{@code 0x53480062}</td></tr>
 * <tr><td>12</td><td>4</td><td>version</td><td>1</td></tr>
 * <tr><td>16</td><td>4</td><td>count</td><td>the initial count</td></tr>
 * <tr><td>20</td><td>44</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>4</td><td>word</td><td>the futex word: bits 0..30 the count left, bit 31 a waiter may be
 *     blocked (cleared, with a wake of every waiter, by the count-down that reaches zero)</td>
 *     <td>volatile; CAS</td></tr>
 * <tr><td>68</td><td>60</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 *
 * <h2>Waiting</h2>
 * An awaiting thread spins, yields, then sets bit 31 and blocks in futex (or parks up to 1 ms at a time without
 * native access), waking at least every 50 ms to check its deadline and interrupt status.
 *
 * <h2>Process death</h2>
 * The latch has no owner: a process that dies before counting down leaves the count where it was, and the waiters
 * wait until their timeouts (use {@link #await(long, TimeUnit)}; nothing hangs that was given one). A waiter that
 * dies costs nothing but, at most, one wasted futex wake.
 *
 * <p>Memory consistency effects: actions of a thread before {@code countDown()} happen-before actions after a
 * successful return from {@code await} in another thread or process.
 */
public final class SharedCountDownLatch {
    private static final String KIND = "latch";

    private final MemorySegment segment;
    private final CountWord count;
    private final String description;

    private SharedCountDownLatch(MemorySegment segment, String description) {
        Waits.prepare(); // the native wait calls linked now, not in the first timed wait
        CoordinationBlocks.requireUnusedParams(segment, 1, description);
        this.segment = segment;
        this.description = description;
        this.count = new CountWord(segment, description);
    }

    /**
     * Creates a latch named {@code name} in {@code heap}.
     *
     * @param count 0 to 2<sup>31</sup>-1
     * @throws IllegalArgumentException                 if {@code count} is negative
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedCountDownLatch create(SharedHeap heap, String name, int count) {
        return Blocks.opening(heap, () -> new SharedCountDownLatch(CoordinationBlocks.create(heap, name,
                SyncLayout.LATCH, LATCH_SIZE, checkCount(named(name), count), 0, count), named(name)));
    }

    /**
     * Opens the latch named {@code name}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a latch
     * @throws org.shm4j.core.ShmFormatException       if its header is corrupted
     */
    public static SharedCountDownLatch open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedCountDownLatch(CoordinationBlocks.open(heap, name,
                SyncLayout.LATCH, named(name)), named(name)));
    }

    /**
     * Opens the latch named {@code name}, or creates it with {@code count}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists with another initial count
     */
    public static SharedCountDownLatch openOrCreate(SharedHeap heap, String name, int count) {
        return Blocks.opening(heap, () -> {
            try {
                return new SharedCountDownLatch(CoordinationBlocks.openOrCreate(heap, name, SyncLayout.LATCH,
                        LATCH_SIZE, checkCount(named(name), count), 0, count, named(name)), named(name));
            } catch (ShmTypeMismatchException e) {
                throw Blocks.mismatch(e, () -> named(name) + " exists with initial count "
                        + CoordinationBlocks.param1(open(heap, name).segment) + " (asked: " + count + ")");
            }
        });
    }

    /**
     * Lays out a latch over the {@link #requiredBytes()} bytes at {@code offset} of a native segment, zeroing them.
     *
     * @throws IllegalArgumentException  if {@code count} is negative or the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the bytes are not inside the segment
     */
    public static SharedCountDownLatch format(MemorySegment segment, long offset, int count) {
        MemorySegment block = CoordinationBlocks.format(segment, offset, SyncLayout.LATCH, LATCH_SIZE,
                checkCount(KIND, count), 0, count);
        return new SharedCountDownLatch(block, CoordinationBlocks.describe(KIND, block));
    }

    /**
     * Views a latch laid out by {@link #format} at {@code offset} of a native segment.
     *
     * @throws org.shm4j.core.ShmFormatException if the bytes there are not a latch's
     * @throws IndexOutOfBoundsException         if they are not inside the segment
     */
    public static SharedCountDownLatch wrap(MemorySegment segment, long offset) {
        MemorySegment block = CoordinationBlocks.wrap(segment, offset, SyncLayout.LATCH, p -> LATCH_SIZE, KIND);
        return new SharedCountDownLatch(block, CoordinationBlocks.describe(KIND, block));
    }

    /** @return the bytes a latch needs in raw memory */
    public static long requiredBytes() {
        return LATCH_SIZE;
    }

    /** Decrements the count, if it is not zero yet; the count-down that reaches zero wakes every waiter. */
    public void countDown() {
        count.decrement();
    }

    /** @return the count left */
    public long getCount() {
        return count.value();
    }

    /**
     * Waits until the count is zero.
     *
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public void await() throws InterruptedException {
        count.awaitZero(-1);
    }

    /**
     * Waits until the count is zero, at most {@code timeout}.
     *
     * @return true if the count reached zero; false if the timeout passed first
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        return count.awaitZero(WordWait.nanos(timeout, unit));
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(segment.scope(), description,
                () -> description + " (count " + getCount() + ")");
    }

    /** @param what the latch, for messages */
    private static int checkCount(String what, int count) {
        if (count < 0) {
            throw new IllegalArgumentException(what + ": count=" + count + " (expected: >= 0)");
        }
        return count;
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }
}
