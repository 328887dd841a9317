package org.shm4j.sync;

import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.RingRoom;
import org.shm4j.sync.internal.RingScan;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;
import java.util.AbstractQueue;
import java.util.Collection;
import java.util.Iterator;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

import static org.shm4j.sync.internal.SyncLayout.TASKS_SIZE;

/**
 * A {@link SharedQueue} that counts its unfinished tasks: Python's {@code multiprocessing.JoinableQueue} for the
 * threads of every process that maps it; a {@link BlockingQueue}, that cannot be iterated, as {@link SharedQueue}.
 * Each item queued is a task; a consumer calls {@link #taskDone()} once it has finished with an item it took, and
 * {@link #join()} waits until every task put so far is done. Every way of taking items is a way of taking tasks:
 * {@code poll}, {@code take}, {@code remove()} and {@code drainTo}, each item to be marked done; a peek takes none.
 * {@link #clear()} discards the items queued, each a task taken and done at once (no {@code taskDone} is due for it),
 * as is an item a poll cannot hand out (see Counting).
 *
 * <h2>Layout</h2>
 * The count is the heap block named {@code name}, made last (the joinable queue's commit point, as a pipe's end-state
 * block is), and the queue a {@link SharedQueue} named {@code "<name>.queue"} (its ring, as {@link SharedQueue} lays
 * it out), so that a plain queue is never taken for a joinable one, nor the reverse:
 * <table class="striped">
 * <caption>SharedJoinableQueue task count (heap block type {@code 0x53480066} v2, 128 bytes, 64-aligned, native byte
 * order: little-endian, as on the x86-64 and AArch64 Linux shm4j runs on)</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code "SHM4JCRD"} in ASCII</td><td rowspan="3">plain; written once
 *     before the block is published, checked when opened</td></tr>
 * <tr><td>8</td><td>4</td><td>tag</td><td>{@code 0x53480066}</td></tr>
 * <tr><td>12</td><td>4</td><td>version</td><td>2 (version 1 counted the tasks put, and had no tag; it is
 *     refused)</td></tr>
 * <tr><td>16</td><td>48</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>4</td><td>word</td><td>the futex word: bits 0..30 the tasks taken and not yet done, bit 31 a
 *     joiner may be blocked (set by a joiner about to sleep, whatever the count; cleared, with a wake of every joiner,
 *     by the {@code taskDone} that reaches zero)</td>
 *     <td rowspan="2">one state: the long at 64, word in its low half and tag in its high half (as a ring's record
 *     header keeps length and type); every change is one 8-byte compare-and-set of both, read with 8-byte volatile
 *     loads; joiners sleep in futex on the word, and the {@code taskDone} that clears bit 31 wakes them after its
 *     CAS</td></tr>
 * <tr><td>68</td><td>4</td><td>tag</td><td>the record counted last: its ring position / 8 modulo
 *     2<sup>32</sup>-1, plus 1, as an unsigned int (0: none yet; never a record's)</td></tr>
 * <tr><td>72</td><td>56</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 *
 * <h2>Counting</h2>
 * An item is a task from the instant its offer commits it into the queue, and stays one while it is queued; the count
 * word holds the tasks taken and not yet done. A consumer counts an item up in the ring's handler, before the ring
 * moves its consumer position (consumedTo) past it, so at every instant each task is queued or counted, or both for
 * that instant; it counts before decoding, so an item whose codec cannot decode it is taken and counted too, and,
 * since no caller gets it, marked done by the queue once the ring moved past it: the poll (or {@code take},
 * {@code drainTo}) throws, saying "its task done by the joinable queue (no taskDone() for it)"; so does a message of
 * another type, or one the codec decodes to null. An {@link Error} the codec throws there (a {@link
 * StackOverflowError}, say), or a checked exception its decode throws sneakily, passes through the poll as it is, its
 * item consumed and its task done likewise. The same compare-and-set makes the tag name the item's record, and a
 * consumer that finds the tag naming its record already counts nothing: a consumer killed in the handler after
 * counting leaves the record queued, the ring hands it to the next consumer (once per death), and that one takes over
 * the task counted for it. One tag suffices since consumers
 * take records one at a time in ring order (one consumer role, or the MPMC consumers' turn): the record counted last is
 * that one or an earlier one (only records taken through a plain {@link SharedQueue} view in between count
 * nothing), and a tag repeats only after 32 GiB - 8 bytes of records.
 * {@code taskDone} counts down, and refuses with {@link IllegalStateException} (as Python raises {@code ValueError})
 * when no taken task is unfinished. {@link #join()} returns once a walk of the ring finds no committed item queued and
 * then the count is zero; a claim not committed (an offer under way, or a dead producer's marked claim) is no task,
 * and a claim not marked yet (a producer between claiming and marking, or one killed there until a consumer's stall
 * rule skips it), which hides what lies behind it, keeps join looking. Items offered through the underlying queue
 * opened as a plain {@link SharedQueue} are tasks too (they are queued); items it takes are taken uncounted, so they
 * need no {@code taskDone}. At most 2<sup>31</sup>-1 taken tasks are unfinished at once: a take beyond that throws
 * {@link IllegalStateException} naming the limit, and its item is dropped (the ring consumes a record once its handler
 * ran), with the count and tag unchanged.
 *
 * <h2>Process death</h2>
 * A producer killed at any point leaves a committed item, a real task, or a claim the ring's rules skip, which counts
 * nothing. Join waits for a dead producer only if it was killed between claiming and marking its record (a window of
 * a few instructions), since what lies behind such a claim is unknown: until a consumer's poll or wait skips it by
 * the ring's stall rule (after the stall timeout), and for ever while no consumer polls, even though
 * {@link #unfinishedTasks()} says 0. A consumer killed in the ring's handler, counted or not, leaves its
 * item to the next consumer, which takes over its task (see Counting; a plain {@link SharedQueue} view taking that
 * item next, which counts nothing, leaves the count for good). A task is done only when a consumer (or, for an item
 * discarded or not handed out, the queue) says so: the one death that leaves a task unfinished is a consumer killed
 * holding a task it took, from when the ring moved past its item in its {@code poll} (or {@code take},
 * {@code drainTo}: just after the handler that counted it, so also in the rest of that call, whose decoded item is
 * then gone with it, as {@link SharedQueue} says) until its {@code taskDone} (or, in a {@code clear} or a poll of an
 * item it cannot hand out, between the ring moving past the item and the queue marking it done), as in Python:
 * {@link #join(long, TimeUnit)} then returns false at its timeout, and {@link #unfinishedTasks()} shows it (Python's
 * {@code join()}, which has no timeout, hangs, as {@link #join()} does). Nothing is lost from the queue itself: see
 * {@link SharedQueue} and
 * {@link org.shm4j.sync.ring.SharedRing} for a dead producer's or consumer's messages. A joiner that dies costs
 * nothing but, at most, one wasted futex wake.
 *
 * <p>Memory consistency effects: actions of a thread before {@code taskDone()} happen-before actions after a
 * {@code join} that returns because the count reached zero, in another thread or process.
 *
 * @param <T> the value type
 */
public final class SharedJoinableQueue<T> extends AbstractQueue<T> implements BlockingQueue<T> {
    private static final String KIND = "joinable queue";
    private static final String QUEUE_SUFFIX = ".queue";

    private final SharedQueue<T> queue;
    private final TaskCount tasks;
    private final String description;
    /** {@link RingScan#firstQueued} of the ring, made once: a join that returns at once allocates nothing. */
    private final IntSupplier queued;

    private SharedJoinableQueue(SharedQueue<T> queue, MemorySegment tasks, String name) {
        Waits.prepare(); // the native wait calls linked now, not in the first timed wait
        this.description = named(name);
        CoordinationBlocks.requireUnusedParams(tasks, 0, description);
        SharedRing ring = queue.ring();
        this.tasks = new TaskCount(tasks, ring, description);
        this.queue = queue.counting(this.tasks, name, description); // the same ring object
        this.queued = () -> RingScan.firstQueued(ring);
    }

    /**
     * Creates an empty joinable queue named {@code name} in {@code heap}: its queue {@code "<name>.queue"}, over an
     * MPMC ring of {@code capacity} bytes, then its task count {@code name}. Making the count is the commit point,
     * exclusive as any block's creation: of racing creators exactly one returns. A queue without a count (a creator
     * killed before it, or one still on its way) is used as it is.
     *
     * @throws IllegalArgumentException                 if the capacity is not a power of two from 1024 to
     *                                                  2<sup>30</sup>, or the name leaves no room for the suffix
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     * @throws org.shm4j.core.ShmTypeMismatchException  if {@code "<name>.queue"} is a queue of another codec
     * @throws ShmFullException                         if the heap has no room for both blocks (nothing is made)
     */
    public static <T> SharedJoinableQueue<T> create(SharedHeap heap, String name, int capacity, Codec<T> codec) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec"); // before any block is looked up or made
            Blocks.checkRingCapacity(named(name), capacity); // before any block is made
            Blocks.checkNameRoom(KIND, name, QUEUE_SUFFIX);
            if (heap.find(name).isPresent()) { // before the queue: an existing block's kind is not this call's concern
                throw Blocks.alreadyExists(heap, name);
            }
            checkRoom(heap, name, capacity);
            SharedQueue<T> queue = ownQueue(name, () -> SharedQueue.openOrCreate(heap, name + QUEUE_SUFFIX, capacity,
                    codec));
            return new SharedJoinableQueue<>(queue, CoordinationBlocks.create(heap, name, SyncLayout.TASKS, TASKS_SIZE,
                    0, 0, 0), name); // last: the commit point
        });
    }

    /**
     * Opens the joinable queue named {@code name}, checking the codec as {@link SharedQueue#open} does.
     *
     * @throws ShmNotFoundException                    if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block of that name is not a joinable queue's count (a
     *                                                 plain {@link SharedQueue}, say), or the codec differs
     */
    public static <T> SharedJoinableQueue<T> open(SharedHeap heap, String name, Codec<T> codec) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec"); // before any block is looked up or made
            if (heap.find(name).isEmpty() && heap.find(name + QUEUE_SUFFIX).isPresent()) {
                throw new ShmNotFoundException(named(name) + " has its queue '" + name + QUEUE_SUFFIX + "' but no task"
                        + " count '" + name + "': its creator was killed before finishing it, or the heap filled up"
                        + " meanwhile (create or openOrCreate finishes it)");
            }
            refuseOldCount(heap, name);
            MemorySegment tasks = CoordinationBlocks.open(heap, name, SyncLayout.TASKS, named(name));
            return new SharedJoinableQueue<>(ownQueue(name, () -> SharedQueue.open(heap, name + QUEUE_SUFFIX, codec)),
                    tasks, name);
        });
    }

    /**
     * Opens the joinable queue named {@code name}, or creates it with {@code capacity}: for processes that start in
     * any order.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException as {@link SharedQueue#openOrCreate} does, or if the block of
     *                                                 that name is not a joinable queue's count
     */
    public static <T> SharedJoinableQueue<T> openOrCreate(SharedHeap heap, String name, int capacity,
                                                          Codec<T> codec) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec"); // before any block is looked up or made
            Blocks.checkRingCapacity(named(name), capacity);
            Blocks.checkNameRoom(KIND, name, QUEUE_SUFFIX);
            if (heap.find(name).isPresent()) { // its kind checked before a queue is made beside it
                return open(heap, name, codec);
            }
            checkRoom(heap, name, capacity);
            SharedQueue<T> queue = ownQueue(name, () -> SharedQueue.openOrCreate(heap, name + QUEUE_SUFFIX, capacity,
                    codec));
            return new SharedJoinableQueue<>(queue, CoordinationBlocks.openOrCreate(heap, name, SyncLayout.TASKS,
                    TASKS_SIZE, 0, 0, 0, named(name)), name);
        });
    }

    /**
     * Adds {@code value} as a new task if the queue has room now, as {@link java.util.Queue#add}.
     *
     * @return true
     * @throws IllegalStateException naming the queue, if it is full
     */
    @Override
    public boolean add(T value) {
        return queue.add(value);
    }

    /**
     * Offers {@code value} as a new task, if the queue has room now.
     *
     * @return false if the queue is full
     * @see SharedQueue#offer(Object)
     */
    @Override
    public boolean offer(T value) {
        return queue.offer(value);
    }

    /**
     * Offers {@code value} as a new task, waiting up to {@code timeout} for room.
     *
     * @return false if no room came in time
     * @throws InterruptedException if interrupted before or while waiting
     */
    @Override
    public boolean offer(T value, long timeout, TimeUnit unit) throws InterruptedException {
        return queue.offer(value, timeout, unit);
    }

    /**
     * Puts {@code value} as a new task, waiting for room as long as it takes (Python's {@code put}).
     *
     * @throws InterruptedException if interrupted before or while waiting
     */
    @Override
    public void put(T value) throws InterruptedException {
        queue.put(value);
    }

    /**
     * @return the next item, or null if the queue is empty; call {@link #taskDone()} once it is finished
     * @throws org.shm4j.core.ShmFormatException if the codec cannot decode it, or {@link IllegalStateException} if it
     *                                           is of another type: the item is consumed and its task done by the
     *                                           queue, so no {@code taskDone} is due for it (see Counting)
     */
    @Override
    public T poll() {
        return queue.poll();
    }

    /**
     * @return the next item, waiting up to {@code timeout}; null if none came
     * @throws InterruptedException if interrupted before or while waiting
     */
    @Override
    public T poll(long timeout, TimeUnit unit) throws InterruptedException {
        return queue.poll(timeout, unit);
    }

    /**
     * @return the next item, waiting as long as it takes (Python's {@code get})
     * @throws InterruptedException if interrupted before or while waiting
     */
    @Override
    public T take() throws InterruptedException {
        return queue.take();
    }

    /**
     * Says that a task taken from the queue is finished (Python's {@code task_done()}); the one that finishes the
     * last unfinished task wakes every {@link #join()}.
     *
     * @throws IllegalStateException if no taken task is unfinished: called more times than items were taken
     */
    public void taskDone() {
        if (!tasks.decrement()) {
            throw new IllegalStateException(description + ": taskDone() called more times than items were taken (no"
                    + " taken task is unfinished)");
        }
    }

    /**
     * Waits until every task put so far is done (Python's {@code join()}): until no committed item is queued and no
     * taken task is unfinished (see Counting). Items offered meanwhile are waited for too, if join sees them.
     *
     * @throws InterruptedException if interrupted while waiting
     */
    public void join() throws InterruptedException {
        tasks.awaitZeroAndNone(-1, queued);
    }

    /**
     * Waits until every task put so far is done, at most {@code timeout}: see {@link #join()}.
     *
     * @return true if no task is unfinished; false if the timeout passed first
     * @throws InterruptedException if interrupted while waiting
     */
    public boolean join(long timeout, TimeUnit unit) throws InterruptedException {
        return tasks.awaitZeroAndNone(WordWait.nanos(timeout, unit), queued);
    }

    /**
     * @return the items queued ({@link SharedRing#messageCount()}) plus the tasks taken and not yet done, read in
     *         that order, at most {@link Integer#MAX_VALUE}: a snapshot, which may count an item being handed over
     *         twice, and is never zero while an item is queued (but for items behind a claim not marked yet, which
     *         {@code messageCount} cannot see)
     */
    public int unfinishedTasks() {
        long queuedItems = queue.queued(); // first: an item taken after this is counted before it leaves
        return (int) Math.min(Integer.MAX_VALUE, queuedItems + tasks.value());
    }

    /** @return the items queued: see {@link SharedQueue#size()} */
    @Override
    public int size() {
        return queue.size();
    }

    /**
     * @return the next item without taking it, or null if the queue is empty: see {@link SharedQueue#peek()} (a
     *         peek is no task taken)
     */
    @Override
    public T peek() {
        return queue.peek();
    }

    /** @return see {@link SharedQueue#remainingCapacity()} */
    @Override
    public int remainingCapacity() {
        return queue.remainingCapacity();
    }

    /**
     * Moves every item queued now into {@code target}, as {@link SharedQueue#drainTo(Collection)}: each item moved is
     * a task taken, to be marked done with {@link #taskDone()}; one whose {@code add} throws is marked done here.
     *
     * @return how many were moved
     */
    @Override
    public int drainTo(Collection<? super T> target) {
        return drainTo(target, Integer.MAX_VALUE);
    }

    /**
     * Moves at most {@code maxElements} items queued now into {@code target}: see {@link #drainTo(Collection)}.
     *
     * @return how many were moved
     */
    @Override
    public int drainTo(Collection<? super T> target, int maxElements) {
        if (target == this) {
            throw new IllegalArgumentException(description + ": drainTo(itself)");
        }
        return queue.drainTo(target, maxElements);
    }

    /**
     * Discards every item queued now, as {@link SharedQueue#clear()} does (undecoded, at most as many as were queued
     * when it started): each is a task taken and done at once, so {@link #join()} no longer waits for it and no
     * {@link #taskDone()} is due for it. A consumer killed in a clear leaves at most the task of the item it was
     * discarding counted, as one killed holding a task it took.
     */
    @Override
    public void clear() {
        queue.clear();
    }

    /**
     * Refused, as {@link SharedQueue#iterator()} is.
     *
     * @throws UnsupportedOperationException naming the queue
     */
    @Override
    public Iterator<T> iterator() {
        return queue.iterator();
    }

    /** @return true if no item is queued: see {@link SharedQueue#isEmpty()} */
    @Override
    public boolean isEmpty() {
        return queue.isEmpty();
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(tasks.scope(), description,
                () -> description + " (" + unfinishedTasks() + " unfinished)");
    }

    /**
     * @throws ShmTypeMismatchException naming the joinable queue, if its count block is of version 1, which counted
     *                                  tasks put (made by an older shm4j), not tasks taken
     */
    private static void refuseOldCount(SharedHeap heap, String name) {
        // version 1 only: another (a newer shm4j's) is refused by the heap's own type check, which names both
        heap.find(name).map(HeapBlock::type).filter(t -> t.tag() == SyncLayout.TASKS.tag()
                && t.layoutVersion() == 1).ifPresent(t -> {
                    throw new ShmTypeMismatchException(named(name) + ": its task count is of layout version "
                            + t.layoutVersion() + " (expected: " + SyncLayout.TASKS.layoutVersion() + "; version 1,"
                            + " made by an older shm4j, counted the tasks put, not the tasks taken: make the queue"
                            + " anew, under another name or in another heap)");
                });
    }

    /** @throws ShmFullException if the heap has no room for the count and, unless made already, the queue */
    private static void checkRoom(SharedHeap heap, String name, int capacity) {
        if (heap.find(name + QUEUE_SUFFIX).isPresent()) {
            Blocks.requireRoom(heap, named(name), TASKS_SIZE);
        } else {
            RingRoom.require(heap, named(name), capacity, 1, TASKS_SIZE);
        }
    }

    /**
     * @return the queue {@code open} opens or makes for the joinable queue named {@code name}
     * @throws ShmTypeMismatchException naming the joinable queue as its caller made it, then its queue's block
     */
    private static <T> SharedQueue<T> ownQueue(String name, Supplier<SharedQueue<T>> open) {
        try {
            return open.get();
        } catch (ShmTypeMismatchException e) {
            ShmTypeMismatchException named = new ShmTypeMismatchException(named(name) + ": its " + e.getMessage());
            named.initCause(e);
            throw named;
        }
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }
}
