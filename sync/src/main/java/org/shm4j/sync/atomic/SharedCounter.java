package org.shm4j.sync.atomic;

import org.shm4j.sync.internal.Blocks;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One labeled 64-bit counter of a {@link SharedCounters} block, with the volatile, acquire/release and opaque accesses,
 * the additions and {@code compareAndSet} of {@link SharedLong} (not its plain accesses, exchanges or update
 * functions). Handed out by {@link SharedCounters#allocate(String)} and {@link SharedCounters#find(String)}; every
 * process that holds a handle of the same allocation counts into the same value.
 *
 * <p>Memory consistency effects: {@link #get()}/{@link #set(long)} and the read-modify-write methods are volatile
 * accesses; {@link #getAcquire()} pairs with {@link #setRelease(long)}; {@link #getOpaque()}/{@link #setOpaque(long)}
 * are coherent but unordered (enough for a statistic that only needs to be exact in the end).
 *
 * <p>After {@link #free()} the handle must not be used: its slot goes to another label once the block's reuse delay
 * has passed. A handle that freed its counter itself refuses every later access with {@link IllegalStateException}
 * (so its writes cannot land in the next label's value); another handle of the same counter, in this process or
 * another, does not know of the free. Used after its heap was closed, every method throws
 * {@link IllegalStateException} naming the counter and its block.
 */
public final class SharedCounter {
    // VarHandle mechanics
    private static final VarHandle VALUE = JAVA_LONG.varHandle();

    /** What {@link #value} becomes once this handle freed its counter: memory of a closed arena, which refuses all. */
    private static final MemorySegment FREED = closedMemory();

    private final SharedCounters counters;
    // the counter's 8 bytes, or FREED once this handle freed the counter. Plain: a thread of this process that still
    // uses the handle while another frees it may write the freed slot once more, before its reuse delay has passed
    private MemorySegment value;
    private final int id;
    private final long registrationId;
    private final String label;

    SharedCounter(SharedCounters counters, MemorySegment value, int id, long registrationId, String label) {
        this.counters = counters;
        this.value = value;
        this.id = id;
        this.registrationId = registrationId;
        this.label = label;
    }

    /** @return the counter's slot in its block */
    public int id() {
        return id;
    }

    /** @return the id of this allocation, unique in its block: a later counter in the same slot has another */
    public long registrationId() {
        return registrationId;
    }

    /** @return the counter's label */
    public String label() {
        return label;
    }

    /** @return the value, with volatile semantics */
    public long get() {
        try {
            return (long) VALUE.getVolatile(value, 0L);
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** @return the value, with acquire semantics (pairs with {@link #setRelease(long)}) */
    public long getAcquire() {
        try {
            return (long) VALUE.getAcquire(value, 0L);
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** @return the value, opaque: coherent, no ordering of other accesses */
    public long getOpaque() {
        try {
            return (long) VALUE.getOpaque(value, 0L);
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets the value with volatile semantics. */
    public void set(long newValue) {
        try {
            VALUE.setVolatile(value, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** Sets the value with release semantics. */
    public void setRelease(long newValue) {
        try {
            VALUE.setRelease(value, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** Sets the value, opaque. */
    public void setOpaque(long newValue) {
        try {
            VALUE.setOpaque(value, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the value before adding {@code delta}, atomically */
    public long getAndAdd(long delta) {
        try {
            return (long) VALUE.getAndAdd(value, 0L, delta);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the value after adding {@code delta}, atomically */
    public long addAndGet(long delta) {
        try {
            return (long) VALUE.getAndAdd(value, 0L, delta) + delta;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the value before adding 1, atomically */
    public long getAndIncrement() {
        return getAndAdd(1L);
    }

    /** @return the value after adding 1, atomically */
    public long incrementAndGet() {
        return addAndGet(1L);
    }

    /** @return the value after subtracting 1, atomically */
    public long decrementAndGet() {
        return addAndGet(-1L);
    }

    /** @return true if the value was {@code expected} and is now {@code newValue} */
    public boolean compareAndSet(long expected, long newValue) {
        try {
            return VALUE.compareAndSet(value, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Frees this counter's slot; it is reused for another label only after the block's reuse delay.
     *
     * @throws IllegalStateException if this allocation was already freed (by any process)
     */
    public void free() {
        counters.free(this);
        value = FREED;
    }

    /**
     * @return the counter and its value, {@code counter 'served' (slot 0) of SharedCounters 'stats' = 42}, as
     *         {@code AtomicLong} shows its value (a volatile read); once this handle freed it or the heap is closed,
     *         the counter and that
     */
    @Override
    public String toString() {
        if (value == FREED) {
            return description() + " (freed by this handle)";
        }
        return Blocks.describeUnlessClosed(value.scope(), description(), () -> description() + " = " + get());
    }

    /** @return the counter as messages name it: {@code counter 'served' (slot 0) of SharedCounters 'stats'} */
    private String description() {
        return "counter '" + label + "' (slot " + id + ") of " + counters;
    }

    /**
     * @return what a value method throws for {@code e}: named, if this handle freed the counter or the heap is closed
     *         (the catch costs no access)
     */
    private RuntimeException closedOr(RuntimeException e) {
        if (value == FREED) {
            return new IllegalStateException(description() + " cannot be used: this handle freed it", e);
        }
        return Blocks.closedOr(e, value.scope(), description() + " cannot be used: its heap is closed");
    }

    private static MemorySegment closedMemory() {
        Arena arena = Arena.ofShared(); // shared: a confined arena's memory throws WrongThreadException elsewhere
        MemorySegment memory = arena.allocate(Long.BYTES, Long.BYTES);
        arena.close();
        return memory;
    }
}
