package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.internal.Timeouts;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.Rethrow;
import org.shm4j.sync.internal.RingRoom;
import org.shm4j.sync.internal.WordWait;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.RingStats;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;

import java.time.Duration;
import java.util.AbstractQueue;
import java.util.Collection;
import java.util.Iterator;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A bounded queue of typed values in shared memory for any producers and consumers in any processes, like Python's
 * {@code multiprocessing.Queue} without its feeder thread and pipe: values are encoded by a {@link Codec} straight
 * into an MPMC {@link SharedRing} and each goes to exactly one consumer. It is a
 * {@link java.util.concurrent.BlockingQueue}: {@code offer}/{@code poll}/{@code peek} never wait for a value or for
 * room (a {@code poll} or {@code peek} may wait up to 1 s for the consumers' turn while another consumer holds it,
 * see {@link SharedRing}),
 * {@code put}/{@code take} wait, the timed forms wait at most that long, {@code drainTo} moves what is queued; but,
 * as Agrona's array queues, it cannot be iterated ({@link #iterator()}, and so {@code contains},
 * {@code remove(Object)} and {@code toArray}, throw {@link UnsupportedOperationException}). Waiting blocks in futex
 * ({@link WaitStrategy#BLOCKING}).
 *
 * <p>Values longer than the ring's {@link SharedRing#maxMessageLength()} once encoded are refused with
 * {@link IllegalArgumentException}; {@code null} is refused with {@link NullPointerException}. A value's claim is
 * skipped by consumers only once its producer's process is dead, however long its encoding takes (see
 * {@link SharedRing}'s stall rule for the exceptions): if that happened to a live producer's value after its claim was
 * marked (by {@link SharedRing#unblock()}, say), {@code offer} and {@code put} throw {@link IllegalStateException}
 * saying so, and the value is not queued. One exception is not caught so: a producer stopped for the whole stall
 * timeout between claiming and marking its claim (a window of a few instructions) when another producer process's
 * death is seen, or once more than 32 live producer processes used the queue, can lose a value, its own or another's,
 * although {@code offer} returned true. A queue's ring declares
 * its codec's type id ({@link SharedRing#messageType()}), so opening it with another codec (a record of another
 * shape) throws {@link ShmTypeMismatchException}. A message of another type in a ring that declares none (a ring made
 * by {@link SharedRing#create(SharedHeap, String, SharedRing.Kind, int)} and opened as a queue) makes {@code poll}
 * throw {@link IllegalStateException}, and one its codec cannot decode (corrupted bytes: messages carry no checksum,
 * so most damage to a value's bytes decodes as a wrong value instead) makes it throw
 * {@link ShmFormatException} naming the queue; either message is consumed.
 *
 * <p>A consumer process that dies (SIGKILL) while it holds the consumers' turn has it taken over by the next consumer
 * (see {@link SharedRing}): a value whose decoding it had not finished is delivered again, to one consumer; a value
 * it had decoded, which {@code poll} or {@code take} was about to return, is gone with it. So each value reaches at
 * most one consumer, and a consumer's death loses at most the one value it was taking. A producer that dies before
 * its {@code offer} or {@code put} returned may or may not have queued its value; one whose call returned has, but
 * for the exception above.
 *
 * @param <T> the value type
 */
public final class SharedQueue<T> extends AbstractQueue<T> implements BlockingQueue<T> {
    private static final Duration FOREVER = Duration.ofNanos(Long.MAX_VALUE); // about 292 years

    private final SharedRing ring;
    private final Codec<T> codec;
    /** The name its user gave: the queue's, or the joinable queue's (not its queue's {@code "<name>.queue"}). */
    private final String name;
    /** {@code "queue '<name>'"}, made once: an offer names the queue only when it fails, and allocates nothing. */
    private final String description;
    private final SharedHeap heap;
    /** Each thread's claim, reused by its offers so that an offer allocates nothing (see {@link #claim()}). */
    private final ThreadLocal<RingClaim> claims = ThreadLocal.withInitial(RingClaim::new);
    /** Each thread's receiver, reused by its polls: a poll allocates only the value (see {@link #receiver()}). */
    private final ThreadLocal<CodecMessages.Receiver<T>> receivers;
    /** A joinable queue's count of tasks taken, which each poll counts up in the ring's handler; else null. */
    private final TaskCount tasks;

    private SharedQueue(SharedRing ring, Codec<T> codec, String name, SharedHeap heap) {
        this(ring, codec, name, describe(name), heap, null);
    }

    private SharedQueue(SharedRing ring, Codec<T> codec, String name, String description, SharedHeap heap,
                        TaskCount tasks) {
        this.ring = ring;
        this.codec = codec;
        this.name = name;
        this.description = description;
        this.heap = heap;
        this.tasks = tasks;
        this.receivers = ThreadLocal.withInitial(this::newReceiver);
    }

    /**
     * @return this queue, counting each item it takes (poll, take, drainTo, clear) in {@code tasks}, in the ring's
     *         handler, before the ring moves past the item, and named {@code description} in messages, and as the
     *         {@code SharedJoinableQueue} called {@code joinableName} once its heap is closed
     */
    SharedQueue<T> counting(TaskCount tasks, String joinableName, String description) {
        return new SharedQueue<>(ring, codec, joinableName, description, heap, tasks);
    }

    /**
     * Creates an empty queue named {@code name} in {@code heap}, over an MPMC ring of {@code capacity} bytes.
     *
     * @throws IllegalArgumentException if the capacity is not a power of two from 1024 to 2<sup>30</sup>
     * @throws ShmFullException         naming the queue and a capacity that fits, if the heap has no room for it
     */
    public static <T> SharedQueue<T> create(SharedHeap heap, String name, int capacity, Codec<T> codec) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec"); // before the ring is made: a refused call leaves nothing behind
            Blocks.checkRingCapacity(describe(name), capacity);
            int type = CodecMessages.checkedTypeId(codec, describe(name));
            try {
                return new SharedQueue<>(SharedRing.create(heap, name, SharedRing.Kind.MPMC, capacity, type),
                        codec, name, heap);
            } catch (ShmFullException e) {
                throw RingRoom.refused(describe(name), capacity, heap, e);
            }
        });
    }

    /**
     * Opens the queue named {@code name}.
     *
     * @throws ShmTypeMismatchException if its ring declares another codec type (a record of another shape)
     */
    public static <T> SharedQueue<T> open(SharedHeap heap, String name, Codec<T> codec) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec");
            SharedRing ring = SharedRing.open(heap, name, SharedRing.Kind.MPMC);
            String differs = codecDiffers(ring, codec, name);
            if (differs != null) {
                throw new ShmTypeMismatchException(differs);
            }
            return new SharedQueue<>(ring, codec, name, heap);
        });
    }

    /**
     * Opens the queue named {@code name}, or creates it empty.
     *
     * @throws ShmTypeMismatchException if it exists with another capacity, or its ring declares another codec type
     * @throws ShmFullException         naming the queue and a capacity that fits, if the heap has no room for it
     */
    public static <T> SharedQueue<T> openOrCreate(SharedHeap heap, String name, int capacity, Codec<T> codec) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec"); // before the ring is made: a refused call leaves nothing behind
            Blocks.checkRingCapacity(describe(name), capacity);
            int type = CodecMessages.checkedTypeId(codec, describe(name));
            try {
                return new SharedQueue<>(SharedRing.openOrCreate(heap, name, SharedRing.Kind.MPMC, capacity, type),
                        codec, name, heap);
            } catch (ShmTypeMismatchException e) {
                throw Blocks.mismatch(e, () -> {
                    SharedRing existing = SharedRing.open(heap, name);
                    String differs = codecDiffers(existing, codec, name);
                    if (differs != null) {
                        return differs;
                    }
                    if (existing.kind() == SharedRing.Kind.MPMC && existing.capacity() != capacity) {
                        return describe(name) + " exists with capacity " + existing.capacity() + " (asked: " + capacity
                                + ")";
                    }
                    throw e; // neither: the ring's own message stands (mismatch returns e)
                });
            } catch (ShmFullException e) {
                throw RingRoom.refused(describe(name), capacity, heap, e);
            }
        });
    }

    /** @return why {@code ring} cannot be read with {@code codec}, or null if its declared type (if any) is codec's */
    private static String codecDiffers(SharedRing ring, Codec<?> codec, String name) {
        OptionalInt declared = ring.messageType();
        return declared.isEmpty() || declared.getAsInt() == codec.typeId() ? null
                : CodecMessages.typeDiffers(codec, describe(name), declared.getAsInt(),
                        "was created for messages of type");
    }


    /** @return true if the value was queued; false if the queue is full now */
    @Override
    public boolean offer(T value) {
        requireValue(value);
        try {
            return offer(value, Duration.ZERO);
        } catch (InterruptedException e) { // the codec's, thrown sneakily: an offer that does not wait has no interrupt
            throw Rethrow.asThrown(e); // the value is not queued, as for a RuntimeException of the codec's
        }
    }

    /**
     * @return true if the value was queued within the timeout
     * @throws InterruptedException if interrupted before or while waiting
     */
    @Override
    public boolean offer(T value, long timeout, TimeUnit unit) throws InterruptedException {
        requireValue(value); // first, as ArrayBlockingQueue's: a null is refused whatever the interrupt status
        long nanos = WordWait.nanos(timeout, unit); // so is a null unit
        throwIfInterrupted();
        return offer(value, Duration.ofNanos(nanos));
    }

    /**
     * Queues the value, waiting for room as long as it takes.
     *
     * @throws InterruptedException if interrupted before or while waiting
     */
    @Override
    public void put(T value) throws InterruptedException {
        requireValue(value); // first, as ArrayBlockingQueue's: a null is refused whatever the interrupt status
        throwIfInterrupted();
        while (!offer(value, FOREVER)) {
            Thread.onSpinWait(); // FOREVER elapsed: keep waiting
        }
    }

    /**
     * Queues the value if there is room now, as {@link java.util.Queue#add}.
     *
     * @return true
     * @throws IllegalStateException naming the queue, if it is full
     */
    @Override
    public boolean add(T value) {
        if (offer(value)) {
            return true;
        }
        throw new IllegalStateException(description + " is full: no room for the value in its ring of "
                + ring.capacity() + " bytes (" + size() + " values, " + ring.size() + " bytes in use)");
    }

    /** @return the head value, or null if the queue is empty now */
    @Override
    public T poll() {
        try {
            return poll(Duration.ZERO);
        } catch (InterruptedException e) { // the codec's, thrown sneakily: a poll that does not wait has no interrupt
            throw Rethrow.asThrown(e); // the item is consumed (a joinable queue's task done), as for an Error
        }
    }

    /**
     * @return the head value, or null if none came within the timeout
     * @throws InterruptedException if interrupted before or while waiting
     */
    @Override
    public T poll(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = WordWait.nanos(timeout, unit); // first, as ArrayBlockingQueue's: a null unit whatever the status
        throwIfInterrupted();
        return poll(Duration.ofNanos(nanos));
    }

    /**
     * @return the head value, waiting for one as long as it takes
     * @throws InterruptedException if interrupted before or while waiting
     */
    @Override
    public T take() throws InterruptedException {
        throwIfInterrupted();
        while (true) {
            T value = poll(FOREVER);
            if (value != null) {
                return value;
            }
        }
    }

    /**
     * @return true if no value is queued: a snapshot, as {@code size() == 0} (a value still being offered, claimed
     *         and not committed, does not count) but stopping at the first value
     */
    @Override
    public boolean isEmpty() {
        return whileOpen(() -> !ring.hasMessage());
    }

    /**
     * @return the number of values queued (committed and not yet taken), at most {@link Integer#MAX_VALUE}: a
     *         snapshot, counted by walking the ring ({@link SharedRing#messageCount()}), so it costs a read per queued
     *         value
     */
    @Override
    public int size() {
        return (int) Math.min(Integer.MAX_VALUE, queued());
    }

    /** @return the values queued, {@link SharedRing#messageCount()}, named as this queue if the heap was closed */
    long queued() {
        return whileOpen(ring::messageCount);
    }

    /**
     * @return the head value without taking it (a later poll returns it, unless another consumer takes it first), or
     *         null if the queue is empty now, or if another consumer's turn (a live process's, its handler running
     *         long or the process stopped) did not end within 1 s, as {@link #poll()} then returns null too: so
     *         {@code element()} may throw while {@code size()} is above 0; a consuming call as {@code poll()} is (see
     *         {@link SharedRing#peek})
     * @throws IllegalStateException     if the value is of another type than the codec's (it stays queued)
     * @throws ShmFormatException        if the codec cannot decode the value (it stays queued)
     */
    @Override
    public T peek() {
        try {
            return decodeInPlace();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closed(e);
        }
    }

    /** @return {@link #peek()}'s value: the head message decoded where it lies, or null if none was handed over */
    private T decodeInPlace() {
        CodecMessages.Receiver<T> receiver = receiver();
        receiver.busy = true;
        receiver.peeking = true;
        try {
            int got;
            try {
                got = ring.peek(receiver);
            } catch (IllegalStateException | IllegalArgumentException e) {
                // the ring's own (a codec's are failures in the receiver), such as the turn not given back through a
                // view the handler closed: what the handler threw before it stays with the exception, as suppressed
                throw receiver.keepEscaped(closed(e));
            }
            return got == 0 ? null : receiver.result();
        } finally {
            receiver.clear();
        }
    }

    /**
     * @return how many more values of the smallest size could be queued now: the ring's free bytes over the 8 bytes
     *         of a record with an empty value (a value of n encoded bytes takes 8 + n, rounded up to a multiple of
     *         8), so an upper bound, as {@link BlockingQueue#remainingCapacity()} allows
     */
    @Override
    public int remainingCapacity() {
        return whileOpen(() -> (int) ((ring.capacity() - ring.size()) / Long.BYTES));
    }

    /**
     * Moves every value queued now into {@code target}, as {@link BlockingQueue#drainTo(Collection)}: at most as many
     * as were queued when it started (a target over the same ring, another queue object, gets each once); each is
     * taken by a poll, then added, so one whose {@code add} throws is in neither.
     *
     * @return how many were moved
     * @throws IllegalArgumentException if {@code target} is this queue
     */
    @Override
    public int drainTo(Collection<? super T> target) {
        return drainTo(target, Integer.MAX_VALUE);
    }

    /**
     * Moves at most {@code maxElements} values queued now into {@code target}: see {@link #drainTo(Collection)}.
     *
     * @return how many were moved
     */
    @Override
    public int drainTo(Collection<? super T> target, int maxElements) {
        if (Objects.requireNonNull(target, "target") == this) {
            throw new IllegalArgumentException(description + ": drainTo(itself)");
        }
        // at most what is queued at the start, as ArrayBlockingQueue's: a target over the same ring, or producers
        // faster than the drain, would keep it going for ever
        int limit = Math.min(maxElements, size());
        int moved = 0;
        for (T value; moved < limit && (value = poll()) != null; moved++) {
            try {
                target.add(value);
            } catch (Throwable e) { // an Error, or a checked exception the target threw sneakily, too
                if (tasks != null) {
                    tasks.decrement(); // a joinable queue's task taken, not moved: done, or join waits for it
                }
                throw e;
            }
        }
        return moved;
    }

    /**
     * Takes every value queued now and discards it without decoding it (so a value of another type, or one its codec
     * cannot decode, is discarded too), at most as many as were queued when it started, as {@link #drainTo}. Through
     * a {@link SharedJoinableQueue}, each value discarded is a task taken and done at once: {@code join} no longer
     * waits for it, and no {@code taskDone} is due for it. Not atomic, and it stops where {@link #poll()} would
     * return null: at a claim not committed yet at the head (an offer under way, or a dead producer's until the stall
     * rule skips it), with the values committed behind it left queued, or when another consumer's turn does not end
     * within 1 s; so the queue may not be empty when it returns even with no offer since.
     */
    @Override
    public void clear() {
        whileOpen(() -> {
            // at most what is queued at the start, as drainTo: producers faster than the clear would keep it going
            for (int left = size(); left > 0 && discardOne(); left--) {
                // discardOne took one
            }
            return null;
        });
    }

    /**
     * Refused, as Agrona's array queues refuse it: the values are in a ring that consumers in other
     * processes take from and free, so there is nothing to walk safely without taking them; so are the
     * {@code Collection} methods built on it ({@code contains}, {@code remove(Object)}, {@code toArray}). Take values
     * with {@link #poll()} or {@link #drainTo}, or look at the next with {@link #peek()}.
     *
     * @throws UnsupportedOperationException naming the queue
     */
    @Override
    public Iterator<T> iterator() {
        throw new UnsupportedOperationException(description + " cannot be iterated: its values are in a ring that"
                + " consumers in any process take from and free (use poll, drainTo or peek)");
    }

    /**
     * @return how long a value may stay claimed by a producer before consumers look whether that producer died and
     *         skip it if so (stored in the queue's shared header; default 5 s), timed from when any consumer, in any
     *         process, first saw the claim stuck, so consumer processes that come and go still skip it; a claim whose
     *         process is seen dead is skipped sooner (see {@link SharedRing}'s stall rule)
     * @see SharedRing#stallTimeout()
     */
    public Duration stallTimeout() {
        return whileOpen(ring::stallTimeout);
    }

    /**
     * Sets the stall timeout for every process using the queue.
     *
     * @throws IllegalArgumentException if {@code timeout} is not positive
     * @see SharedRing#setStallTimeout(Duration)
     */
    public void setStallTimeout(Duration timeout) {
        whileOpen(() -> {
            // refused here, not by the ring, which would name itself: the caller knows the queue
            Timeouts.positiveNanos(description, "stallTimeout", timeout);
            ring.setStallTimeout(timeout);
            return null;
        });
    }

    /** @return what the queue's rules did so far: values skipped as abandoned, consumer recoveries and take-overs */
    public RingStats stats() {
        return whileOpen(ring::stats);
    }

    /** @return the ring under this queue */
    public SharedRing ring() {
        return ring;
    }

    @Override
    public String toString() {
        return description + " on " + ring;
    }

    /**
     * Called first by the methods that may wait, as {@code LinkedBlockingQueue}'s: an interrupted thread gets
     * {@link InterruptedException} (its status cleared) even when a value or room is there at once.
     */
    private static void throwIfInterrupted() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
    }

    private boolean offer(T value, Duration timeout) throws InterruptedException {
        try {
            return encodeIntoRing(value, timeout);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closed(e);
        }
    }

    /** @throws NullPointerException naming the queue, if {@code value} is null */
    private void requireValue(T value) {
        if (value == null) {
            throw new NullPointerException(description + ": a null value (a SharedQueue, as a BlockingQueue,"
                    + " holds none; where Python code puts None as a stop sentinel, put a value of its own, e.g. a"
                    + " record with a stop flag)");
        }
    }

    /** Queues {@code value}, which {@link #requireValue} passed. */
    private boolean encodeIntoRing(T value, Duration timeout) throws InterruptedException {
        int length = CodecMessages.encodedLength(codec, value, ring, description);
        RingClaim claim = claim();
        boolean claimed = timeout.isZero() ? ring.tryClaim(codec.typeId(), length, claim)
                : ring.tryClaim(codec.typeId(), length, claim, timeout, WaitStrategy.BLOCKING);
        if (!claimed) {
            return false;
        }
        CodecMessages.encodeAndCommit(claim, codec, value, ring, description, "queued");
        return true;
    }

    private T poll(Duration timeout) throws InterruptedException {
        try {
            return decodeFromRing(timeout);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closed(e);
        }
    }

    private T decodeFromRing(Duration timeout) throws InterruptedException {
        CodecMessages.Receiver<T> receiver = receiver();
        receiver.busy = true;
        try {
            int got;
            try {
                got = timeout.isZero() ? ring.poll(receiver) : ring.poll(receiver, timeout, WaitStrategy.BLOCKING);
            } catch (IllegalStateException | IllegalArgumentException e) {
                // the ring's own (a codec's are failures in the receiver): a view closed in the handler leaves the
                // item queued and its count to the next consumer, so no task is done here; what the handler threw
                // before it stays with the exception, as suppressed
                throw receiver.keepEscaped(closed(e));
            } catch (Throwable e) { // the handler's own: an Error, or a checked exception a codec threw sneakily
                if (receiver.handlerThrew(e)) {
                    tasks.decrement(); // no caller gets the item, which the ring consumed: as finishUndelivered
                }
                throw e;
            }
            finishUndelivered(receiver);
            return got == 0 ? null : receiver.result();
        } finally {
            receiver.clear();
        }
    }

    /** @return true if a value was taken and discarded (a joinable queue's task done), false if none was queued */
    private boolean discardOne() {
        CodecMessages.Receiver<T> receiver = receiver();
        receiver.busy = true;
        receiver.discarding = true;
        try {
            int got = ring.poll(receiver);
            finishUndelivered(receiver);
            if (got == 0) {
                return false;
            }
            receiver.result(); // a count's refusal or a close passes through
            return true;
        } finally {
            receiver.clear();
        }
    }

    /**
     * Marks done a joinable queue's task that a poll into {@code receiver} counted and does not hand out
     * ({@link CodecMessages.Receiver#taskUndelivered()}).
     */
    private void finishUndelivered(CodecMessages.Receiver<T> receiver) {
        if (receiver.taskUndelivered()) {
            // after the ring moved past the item, not in its handler: a consumer handed it again (this one killed in
            // the handler) takes the task over uncounted, which a count-down there would have finished twice
            tasks.decrement();
        }
    }

    /**
     * @return this thread's claim, or a new one if it is still active: an offer its codec made inside another (its
     *         encode offering to this queue), or one whose commit or abort failed on a closed heap
     */
    private RingClaim claim() {
        RingClaim claim = claims.get();
        return claim.isActive() ? new RingClaim() : claim;
    }

    /** @return this thread's receiver, or a new one for a poll its codec made inside another (decode polling here) */
    private CodecMessages.Receiver<T> receiver() {
        CodecMessages.Receiver<T> receiver = receivers.get();
        return receiver.busy ? newReceiver() : receiver;
    }

    private CodecMessages.Receiver<T> newReceiver() {
        return new CodecMessages.Receiver<>(codec, description, "holds a message of type", tasks);
    }

    /** @return how messages name the queue called {@code name} */
    private static String describe(String name) {
        return "queue '" + name + "'";
    }

    /** @return what {@code body} returns; run naming this queue, not its ring, if the heap was closed */
    private <R> R whileOpen(Supplier<R> body) {
        try {
            return body.get();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closed(e);
        }
    }

    /** @return what a method throws for {@code e}; see {@link Blocks#closedOr} */
    private RuntimeException closed(RuntimeException e) {
        String kind = tasks != null ? "SharedJoinableQueue" : "SharedQueue"; // only a joinable queue counts tasks
        return Blocks.closedOr(e, heap.memory().segment().scope(), Blocks.closedMessage(kind, name, heap));
    }
}
