package org.shm4j.sync.atomic;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CompanionLocks;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedLock;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.function.IntBinaryOperator;
import java.util.function.IntUnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * An {@code int} in shared memory with the operations of {@link java.util.concurrent.atomic.AtomicInteger}, atomic
 * across the threads of every process that maps it: Python's {@code multiprocessing.Value('i')} without lost updates.
 *
 * <h2>Layout (heap block type {@code 0x53480001} v1, 64 bytes, 64-aligned)</h2>
 * <table class="striped">
 * <caption>SharedInt block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>4</td><td>value, little-endian two's complement</td><td>as the method names say</td></tr>
 * <tr><td>4</td><td>60</td><td>padding, zero (keeps neighbours off the cache line)</td><td>—</td></tr>
 * </table>
 * {@link #wrap(MemorySegment, long)} views any 4-byte aligned {@code int} of a native segment instead.
 *
 * <p>Memory consistency effects: {@link #get()}/{@link #set(int)} and the read-modify-write methods are volatile
 * accesses; {@link #getAcquire()} pairs with {@link #setRelease(int)}; {@link #getOpaque()}/{@link #setOpaque(int)}
 * are coherent but unordered; {@link #getPlain()}/{@link #setPlain(int)} have no ordering and are for data guarded
 * by a lock.
 *
 * <p>With a lock ({@link #create(SharedHeap, String, int, boolean)}), {@link #lock()} returns a {@link SharedLock}
 * stored in the heap block {@code <name>.lock}, as Python's {@code Value(..., lock=True).get_lock()}.
 */
public final class SharedInt {
    // VarHandle mechanics
    private static final VarHandle VALUE = JAVA_INT.varHandle();
    private static final long SIZE = SyncLayout.CACHE_LINE;

    private final MemorySegment segment;
    private final SharedLock lock;
    private final String closedMessage;

    private SharedInt(MemorySegment segment, SharedLock lock, String closedMessage) {
        this.segment = segment;
        this.lock = lock;
        this.closedMessage = closedMessage;
    }

    /** Creates a value of 0 named {@code name} in {@code heap}, without a lock. */
    public static SharedInt create(SharedHeap heap, String name) {
        return create(heap, name, 0, false);
    }

    /** Creates a value holding {@code initialValue} named {@code name} in {@code heap}, without a lock. */
    public static SharedInt create(SharedHeap heap, String name, int initialValue) {
        return create(heap, name, initialValue, false);
    }

    /**
     * Creates a value named {@code name} in {@code heap}.
     *
     * @param withLock also create the {@link SharedLock} {@code <name>.lock}, returned by {@link #lock()}
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedInt create(SharedHeap heap, String name, int initialValue, boolean withLock) {
        return Blocks.opening(heap, () -> {
            SharedLock lock = withLock ? CompanionLocks.create(heap, name) : null; // lock first, see there
            return new SharedInt(Blocks.create(heap, name, SyncLayout.INT, SIZE, s -> s.set(JAVA_INT, 0, initialValue)),
                    lock, Blocks.closedMessage("SharedInt", name, heap));
        });
    }

    /**
     * Opens the value named {@code name}, with its lock if it has one.
     *
     * @throws org.shm4j.core.ShmNotFoundException      if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException  if the block is not a {@code SharedInt}
     */
    public static SharedInt open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedInt(Blocks.open(heap, name, SyncLayout.INT, SIZE, "SharedInt"),
                CompanionLocks.find(heap, name), Blocks.closedMessage("SharedInt", name, heap)));
    }

    /** Opens the value named {@code name}, or creates it (without a lock) holding 0. */
    public static SharedInt openOrCreate(SharedHeap heap, String name) {
        return openOrCreate(heap, name, 0);
    }

    /** Opens the value named {@code name}, or creates it (without a lock) holding {@code initialValue}. */
    public static SharedInt openOrCreate(SharedHeap heap, String name, int initialValue) {
        return Blocks.opening(heap, () -> {
            MemorySegment segment = Blocks.openOrCreate(heap, name, SyncLayout.INT, SIZE,
                    s -> s.set(JAVA_INT, 0, initialValue));
            return new SharedInt(segment, CompanionLocks.find(heap, name),
                    Blocks.closedMessage("SharedInt", name, heap));
        });
    }

    /**
     * Views the 4 bytes at {@code offset} of a native segment (for layouts shared with other code or languages).
     *
     * @throws IllegalArgumentException  if the address is not 4-byte aligned or the segment is not native
     * @throws IndexOutOfBoundsException if the 4 bytes are not inside the segment
     */
    public static SharedInt wrap(MemorySegment segment, long offset) {
        return new SharedInt(Blocks.wrap(segment, offset, Integer.BYTES, Integer.BYTES, "SharedInt"), null,
                Blocks.closedMessage("SharedInt", offset));
    }

    /** @return the value, with volatile semantics */
    public int get() {
        try {
            return (int) VALUE.getVolatile(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with volatile semantics. */
    public void set(int newValue) {
        try {
            VALUE.setVolatile(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value, with acquire semantics (pairs with {@link #setRelease(int)}) */
    public int getAcquire() {
        try {
            return (int) VALUE.getAcquire(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with release semantics. */
    public void setRelease(int newValue) {
        try {
            VALUE.setRelease(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value, opaque: coherent, no ordering of other accesses */
    public int getOpaque() {
        try {
            return (int) VALUE.getOpaque(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value, opaque. */
    public void setOpaque(int newValue) {
        try {
            VALUE.setOpaque(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value with a plain read: use under a lock */
    public int getPlain() {
        try {
            return segment.get(JAVA_INT, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with a plain write: use under a lock. */
    public void setPlain(int newValue) {
        try {
            segment.set(JAVA_INT, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return true if the value was {@code expected} and is now {@code newValue} */
    public boolean compareAndSet(int expected, int newValue) {
        try {
            return VALUE.compareAndSet(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value before the call; it became {@code newValue} if that equals {@code expected} */
    public int compareAndExchange(int expected, int newValue) {
        try {
            return (int) VALUE.compareAndExchange(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with plain semantics, but it may fail spuriously */
    public boolean weakCompareAndSetPlain(int expected, int newValue) {
        try {
            return VALUE.weakCompareAndSetPlain(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with volatile semantics, but it may fail spuriously */
    public boolean weakCompareAndSetVolatile(int expected, int newValue) {
        try {
            return VALUE.weakCompareAndSet(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with acquire semantics, but it may fail spuriously */
    public boolean weakCompareAndSetAcquire(int expected, int newValue) {
        try {
            return VALUE.weakCompareAndSetAcquire(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with release semantics, but it may fail spuriously */
    public boolean weakCompareAndSetRelease(int expected, int newValue) {
        try {
            return VALUE.weakCompareAndSetRelease(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndExchange}, with acquire semantics */
    public int compareAndExchangeAcquire(int expected, int newValue) {
        try {
            return (int) VALUE.compareAndExchangeAcquire(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndExchange}, with release semantics */
    public int compareAndExchangeRelease(int expected, int newValue) {
        try {
            return (int) VALUE.compareAndExchangeRelease(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous value, after setting {@code newValue} */
    public int getAndSet(int newValue) {
        try {
            return (int) VALUE.getAndSet(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous value, after adding {@code delta} */
    public int getAndAdd(int delta) {
        try {
            return (int) VALUE.getAndAdd(segment, 0L, delta);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the new value, after adding {@code delta} */
    public int addAndGet(int delta) {
        try {
            return (int) VALUE.getAndAdd(segment, 0L, delta) + delta;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous value, after adding 1 */
    public int getAndIncrement() {
        return getAndAdd(1);
    }

    /** @return the new value, after adding 1 */
    public int incrementAndGet() {
        return addAndGet(1);
    }

    /** @return the new value, after subtracting 1 */
    public int decrementAndGet() {
        return addAndGet(-1);
    }

    /** @return the previous value, after subtracting 1 */
    public int getAndDecrement() {
        return getAndAdd(-1);
    }

    /** @return the previous value, after applying {@code update} atomically (it may run more than once) */
    public int getAndUpdate(IntUnaryOperator update) {
        int prev = get();
        while (true) {
            int witness = compareAndExchange(prev, update.applyAsInt(prev));
            if (witness == prev) {
                return prev;
            }
            prev = witness;
        }
    }

    /** @return the new value, after applying {@code update} atomically (it may run more than once) */
    public int updateAndGet(IntUnaryOperator update) {
        int prev = get();
        while (true) {
            int next = update.applyAsInt(prev);
            int witness = compareAndExchange(prev, next);
            if (witness == prev) {
                return next;
            }
            prev = witness;
        }
    }

    /** @return the previous value, after replacing it with {@code op(previous, x)} atomically */
    public int getAndAccumulate(int x, IntBinaryOperator op) {
        return getAndUpdate(prev -> op.applyAsInt(prev, x));
    }

    /** @return the new value, {@code op(previous, x)}, applied atomically */
    public int accumulateAndGet(int x, IntBinaryOperator op) {
        return updateAndGet(prev -> op.applyAsInt(prev, x));
    }

    /** @return the lock created with this value ({@code <name>.lock}) */
    public SharedLock lock() {
        return CompanionLocks.require(lock, closedMessage);
    }

    /**
     * Applies {@code update} to the value under {@link #lock()} with plain accesses (the lock orders them), like
     * Python's {@code with v.get_lock(): v.value = update(v.value)}.
     * A close of this heap view by another thread that cuts the call short gives the lock back through another open
     * view of the heap, if this process has one, marked inconsistent for its next holder (see
     * {@link SharedLock#withLock(Runnable)}).
     *
     * @return the new value
     */
    public int withLock(IntUnaryOperator update) {
        Objects.requireNonNull(update, "update");
        SharedLock l = lock();
        l.lock();
        try {
            int next = update.applyAsInt(getPlain());
            setPlain(next);
            return next;
        } finally {
            l.unlockInCall(); // this call's hold: given back if a close cuts the call short
        }
    }

    /** @return the 4 bytes of the value */
    public MemorySegment segment() {
        return segment.asSlice(0, Integer.BYTES);
    }

    @Override
    public String toString() {
        return Blocks.unlessClosed(segment.scope(), () -> Integer.toString(get()), closedMessage);
    }
}
