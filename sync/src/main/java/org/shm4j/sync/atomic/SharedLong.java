package org.shm4j.sync.atomic;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CompanionLocks;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedLock;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.function.LongBinaryOperator;
import java.util.function.LongUnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A {@code long} in shared memory with the operations of {@link java.util.concurrent.atomic.AtomicLong}, atomic
 * across the threads of every process that maps it: Python's {@code multiprocessing.Value('q')} without lost updates.
 *
 * <h2>Layout (heap block type {@code 0x53480002} v1, 64 bytes, 64-aligned)</h2>
 * <table class="striped">
 * <caption>SharedLong block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>value, little-endian two's complement</td><td>as the method names say</td></tr>
 * <tr><td>8</td><td>56</td><td>padding, zero (keeps neighbours off the cache line)</td><td>—</td></tr>
 * </table>
 * {@link #wrap(MemorySegment, long)} views any 8-byte aligned {@code long} of a native segment instead.
 *
 * <p>Memory consistency effects: {@link #get()}/{@link #set(long)} and the read-modify-write methods are volatile
 * accesses; {@link #getAcquire()} pairs with {@link #setRelease(long)}; {@link #getOpaque()}/{@link #setOpaque(long)}
 * are coherent but unordered; {@link #getPlain()}/{@link #setPlain(long)} have no ordering and are for data guarded
 * by a lock.
 *
 * <p>With a lock ({@link #create(SharedHeap, String, long, boolean)}), {@link #lock()} returns a {@link SharedLock}
 * stored in the heap block {@code <name>.lock}, as Python's {@code Value(..., lock=True).get_lock()}.
 */
public final class SharedLong {
    // VarHandle mechanics
    private static final VarHandle VALUE = JAVA_LONG.varHandle();
    private static final long SIZE = SyncLayout.CACHE_LINE;

    private final MemorySegment segment;
    private final SharedLock lock;
    private final String closedMessage;

    private SharedLong(MemorySegment segment, SharedLock lock, String closedMessage) {
        this.segment = segment;
        this.lock = lock;
        this.closedMessage = closedMessage;
    }

    /** Creates a value of 0 named {@code name} in {@code heap}, without a lock. */
    public static SharedLong create(SharedHeap heap, String name) {
        return create(heap, name, 0L, false);
    }

    /** Creates a value holding {@code initialValue} named {@code name} in {@code heap}, without a lock. */
    public static SharedLong create(SharedHeap heap, String name, long initialValue) {
        return create(heap, name, initialValue, false);
    }

    /**
     * Creates a value named {@code name} in {@code heap}.
     *
     * @param withLock also create the {@link SharedLock} {@code <name>.lock}, returned by {@link #lock()}
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedLong create(SharedHeap heap, String name, long initialValue, boolean withLock) {
        return Blocks.opening(heap, () -> {
            SharedLock lock = withLock ? CompanionLocks.create(heap, name) : null; // lock first, see there
            return new SharedLong(Blocks.create(heap, name, SyncLayout.LONG, SIZE,
                    s -> s.set(JAVA_LONG, 0, initialValue)), lock, Blocks.closedMessage("SharedLong", name, heap));
        });
    }

    /**
     * Opens the value named {@code name}, with its lock if it has one.
     *
     * @throws org.shm4j.core.ShmNotFoundException      if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException  if the block is not a {@code SharedLong}
     */
    public static SharedLong open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedLong(Blocks.open(heap, name, SyncLayout.LONG, SIZE, "SharedLong"),
                CompanionLocks.find(heap, name), Blocks.closedMessage("SharedLong", name, heap)));
    }

    /** Opens the value named {@code name}, or creates it (without a lock) holding 0. */
    public static SharedLong openOrCreate(SharedHeap heap, String name) {
        return openOrCreate(heap, name, 0L);
    }

    /** Opens the value named {@code name}, or creates it (without a lock) holding {@code initialValue}. */
    public static SharedLong openOrCreate(SharedHeap heap, String name, long initialValue) {
        return Blocks.opening(heap, () -> {
            MemorySegment segment = Blocks.openOrCreate(heap, name, SyncLayout.LONG, SIZE,
                    s -> s.set(JAVA_LONG, 0, initialValue));
            return new SharedLong(segment, CompanionLocks.find(heap, name),
                    Blocks.closedMessage("SharedLong", name, heap));
        });
    }

    /**
     * Views the 8 bytes at {@code offset} of a native segment (for layouts shared with other code or languages).
     *
     * @throws IllegalArgumentException  if the address is not 8-byte aligned or the segment is not native
     * @throws IndexOutOfBoundsException if the 8 bytes are not inside the segment
     */
    public static SharedLong wrap(MemorySegment segment, long offset) {
        return new SharedLong(Blocks.wrap(segment, offset, Long.BYTES, Long.BYTES, "SharedLong"), null,
                Blocks.closedMessage("SharedLong", offset));
    }

    /** @return the value, with volatile semantics */
    public long get() {
        try {
            return (long) VALUE.getVolatile(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with volatile semantics. */
    public void set(long newValue) {
        try {
            VALUE.setVolatile(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value, with acquire semantics (pairs with {@link #setRelease(long)}) */
    public long getAcquire() {
        try {
            return (long) VALUE.getAcquire(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with release semantics. */
    public void setRelease(long newValue) {
        try {
            VALUE.setRelease(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value, opaque: coherent, no ordering of other accesses */
    public long getOpaque() {
        try {
            return (long) VALUE.getOpaque(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value, opaque. */
    public void setOpaque(long newValue) {
        try {
            VALUE.setOpaque(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value with a plain read: use under a lock */
    public long getPlain() {
        try {
            return segment.get(JAVA_LONG, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with a plain write: use under a lock. */
    public void setPlain(long newValue) {
        try {
            segment.set(JAVA_LONG, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return true if the value was {@code expected} and is now {@code newValue} */
    public boolean compareAndSet(long expected, long newValue) {
        try {
            return VALUE.compareAndSet(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value before the call; it became {@code newValue} if that equals {@code expected} */
    public long compareAndExchange(long expected, long newValue) {
        try {
            return (long) VALUE.compareAndExchange(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with plain semantics, but it may fail spuriously */
    public boolean weakCompareAndSetPlain(long expected, long newValue) {
        try {
            return VALUE.weakCompareAndSetPlain(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with volatile semantics, but it may fail spuriously */
    public boolean weakCompareAndSetVolatile(long expected, long newValue) {
        try {
            return VALUE.weakCompareAndSet(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with acquire semantics, but it may fail spuriously */
    public boolean weakCompareAndSetAcquire(long expected, long newValue) {
        try {
            return VALUE.weakCompareAndSetAcquire(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with release semantics, but it may fail spuriously */
    public boolean weakCompareAndSetRelease(long expected, long newValue) {
        try {
            return VALUE.weakCompareAndSetRelease(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndExchange}, with acquire semantics */
    public long compareAndExchangeAcquire(long expected, long newValue) {
        try {
            return (long) VALUE.compareAndExchangeAcquire(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndExchange}, with release semantics */
    public long compareAndExchangeRelease(long expected, long newValue) {
        try {
            return (long) VALUE.compareAndExchangeRelease(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous value, after setting {@code newValue} */
    public long getAndSet(long newValue) {
        try {
            return (long) VALUE.getAndSet(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous value, after adding {@code delta} */
    public long getAndAdd(long delta) {
        try {
            return (long) VALUE.getAndAdd(segment, 0L, delta);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the new value, after adding {@code delta} */
    public long addAndGet(long delta) {
        try {
            return (long) VALUE.getAndAdd(segment, 0L, delta) + delta;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous value, after adding 1 */
    public long getAndIncrement() {
        return getAndAdd(1L);
    }

    /** @return the new value, after adding 1 */
    public long incrementAndGet() {
        return addAndGet(1L);
    }

    /** @return the new value, after subtracting 1 */
    public long decrementAndGet() {
        return addAndGet(-1L);
    }

    /** @return the previous value, after subtracting 1 */
    public long getAndDecrement() {
        return getAndAdd(-1L);
    }

    /** @return the previous value, after applying {@code update} atomically (it may run more than once) */
    public long getAndUpdate(LongUnaryOperator update) {
        long prev = get();
        while (true) {
            long witness = compareAndExchange(prev, update.applyAsLong(prev));
            if (witness == prev) {
                return prev;
            }
            prev = witness;
        }
    }

    /** @return the new value, after applying {@code update} atomically (it may run more than once) */
    public long updateAndGet(LongUnaryOperator update) {
        long prev = get();
        while (true) {
            long next = update.applyAsLong(prev);
            long witness = compareAndExchange(prev, next);
            if (witness == prev) {
                return next;
            }
            prev = witness;
        }
    }

    /** @return the previous value, after replacing it with {@code op(previous, x)} atomically */
    public long getAndAccumulate(long x, LongBinaryOperator op) {
        return getAndUpdate(prev -> op.applyAsLong(prev, x));
    }

    /** @return the new value, {@code op(previous, x)}, applied atomically */
    public long accumulateAndGet(long x, LongBinaryOperator op) {
        return updateAndGet(prev -> op.applyAsLong(prev, x));
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
    public long withLock(LongUnaryOperator update) {
        Objects.requireNonNull(update, "update");
        SharedLock l = lock();
        l.lock();
        try {
            long next = update.applyAsLong(getPlain());
            setPlain(next);
            return next;
        } finally {
            l.unlockInCall(); // this call's hold: given back if a close cuts the call short
        }
    }

    /** @return the 8 bytes of the value */
    public MemorySegment segment() {
        return segment.asSlice(0, Long.BYTES);
    }

    @Override
    public String toString() {
        return Blocks.unlessClosed(segment.scope(), () -> Long.toString(get()), closedMessage);
    }
}
