package org.shm4j.sync.atomic;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CompanionLocks;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.SharedLock;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

/**
 * A {@code double} in shared memory, atomic across the threads of every process that maps it: Python's
 * {@code multiprocessing.Value('d')} without lost updates. Additions are a compare-and-set loop on the value;
 * {@link #compareAndSet(double, double)} compares the raw IEEE 754 bits (so {@code NaN} matches {@code NaN} of the
 * same bits, and {@code 0.0} does not match {@code -0.0}).
 *
 * <h2>Layout (heap block type {@code 0x53480003} v1, 64 bytes, 64-aligned)</h2>
 * <table class="striped">
 * <caption>SharedDouble block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>value, IEEE 754 binary64, little-endian</td><td>as the method names say</td></tr>
 * <tr><td>8</td><td>56</td><td>padding, zero</td><td>—</td></tr>
 * </table>
 *
 * <p>Memory consistency effects: as for {@link SharedLong}.
 */
public final class SharedDouble {
    // VarHandle mechanics
    private static final VarHandle VALUE = JAVA_DOUBLE.varHandle();
    private static final long SIZE = SyncLayout.CACHE_LINE;

    private final MemorySegment segment;
    private final SharedLock lock;
    private final String closedMessage;

    private SharedDouble(MemorySegment segment, SharedLock lock, String closedMessage) {
        this.segment = segment;
        this.lock = lock;
        this.closedMessage = closedMessage;
    }

    /** Creates a value of 0.0 named {@code name} in {@code heap}, without a lock. */
    public static SharedDouble create(SharedHeap heap, String name) {
        return create(heap, name, 0.0, false);
    }

    /** Creates a value holding {@code initialValue} named {@code name} in {@code heap}, without a lock. */
    public static SharedDouble create(SharedHeap heap, String name, double initialValue) {
        return create(heap, name, initialValue, false);
    }

    /**
     * Creates a value named {@code name} in {@code heap}.
     *
     * @param withLock also create the {@link SharedLock} {@code <name>.lock}, returned by {@link #lock()}
     */
    public static SharedDouble create(SharedHeap heap, String name, double initialValue, boolean withLock) {
        return Blocks.opening(heap, () -> {
            SharedLock lock = withLock ? CompanionLocks.create(heap, name) : null; // lock first, see there
            return new SharedDouble(Blocks.create(heap, name, SyncLayout.DOUBLE, SIZE,
                    s -> s.set(JAVA_DOUBLE, 0, initialValue)), lock, Blocks.closedMessage("SharedDouble", name, heap));
        });
    }

    /** Opens the value named {@code name}, with its lock if it has one. */
    public static SharedDouble open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedDouble(Blocks.open(heap, name, SyncLayout.DOUBLE, SIZE,
                "SharedDouble"), CompanionLocks.find(heap, name), Blocks.closedMessage("SharedDouble", name, heap)));
    }

    /** Opens the value named {@code name}, or creates it (without a lock) holding 0.0. */
    public static SharedDouble openOrCreate(SharedHeap heap, String name) {
        return openOrCreate(heap, name, 0.0);
    }

    /** Opens the value named {@code name}, or creates it holding {@code initialValue}. */
    public static SharedDouble openOrCreate(SharedHeap heap, String name, double initialValue) {
        return Blocks.opening(heap, () -> new SharedDouble(Blocks.openOrCreate(heap, name, SyncLayout.DOUBLE, SIZE,
                s -> s.set(JAVA_DOUBLE, 0, initialValue)), CompanionLocks.find(heap, name),
                Blocks.closedMessage("SharedDouble", name, heap)));
    }

    /**
     * Views the 8 bytes at {@code offset} of a native segment.
     *
     * @throws IllegalArgumentException  if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the 8 bytes are not inside the segment
     */
    public static SharedDouble wrap(MemorySegment segment, long offset) {
        return new SharedDouble(Blocks.wrap(segment, offset, Double.BYTES, Double.BYTES, "SharedDouble"), null,
                Blocks.closedMessage("SharedDouble", offset));
    }

    /** @return the value, with volatile semantics */
    public double get() {
        try {
            return (double) VALUE.getVolatile(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with volatile semantics. */
    public void set(double newValue) {
        try {
            VALUE.setVolatile(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value, with acquire semantics */
    public double getAcquire() {
        try {
            return (double) VALUE.getAcquire(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with release semantics. */
    public void setRelease(double newValue) {
        try {
            VALUE.setRelease(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value, opaque: coherent, no ordering of other accesses */
    public double getOpaque() {
        try {
            return (double) VALUE.getOpaque(segment, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value, opaque. */
    public void setOpaque(double newValue) {
        try {
            VALUE.setOpaque(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value with a plain read: use under a lock */
    public double getPlain() {
        try {
            return segment.get(JAVA_DOUBLE, 0L);
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the value with a plain write: use under a lock. */
    public void setPlain(double newValue) {
        try {
            segment.set(JAVA_DOUBLE, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return true if the value had the bits of {@code expected} and is now {@code newValue} */
    public boolean compareAndSet(double expected, double newValue) {
        try {
            return VALUE.compareAndSet(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the value before the call; it became {@code newValue} if its bits equal {@code expected}'s */
    public double compareAndExchange(double expected, double newValue) {
        try {
            return (double) VALUE.compareAndExchange(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with plain semantics, but it may fail spuriously */
    public boolean weakCompareAndSetPlain(double expected, double newValue) {
        try {
            return VALUE.weakCompareAndSetPlain(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with volatile semantics, but it may fail spuriously */
    public boolean weakCompareAndSetVolatile(double expected, double newValue) {
        try {
            return VALUE.weakCompareAndSet(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with acquire semantics, but it may fail spuriously */
    public boolean weakCompareAndSetAcquire(double expected, double newValue) {
        try {
            return VALUE.weakCompareAndSetAcquire(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndSet}, with release semantics, but it may fail spuriously */
    public boolean weakCompareAndSetRelease(double expected, double newValue) {
        try {
            return VALUE.weakCompareAndSetRelease(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndExchange}, with acquire semantics */
    public double compareAndExchangeAcquire(double expected, double newValue) {
        try {
            return (double) VALUE.compareAndExchangeAcquire(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return as {@link #compareAndExchange}, with release semantics */
    public double compareAndExchangeRelease(double expected, double newValue) {
        try {
            return (double) VALUE.compareAndExchangeRelease(segment, 0L, expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous value, after setting {@code newValue} */
    public double getAndSet(double newValue) {
        try {
            return (double) VALUE.getAndSet(segment, 0L, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous value, after adding {@code delta} atomically */
    public double getAndAdd(double delta) {
        return getAndUpdate(v -> v + delta);
    }

    /** @return the new value, after adding {@code delta} atomically */
    public double addAndGet(double delta) {
        return updateAndGet(v -> v + delta);
    }

    /** @return the previous value, after applying {@code update} atomically (it may run more than once) */
    public double getAndUpdate(DoubleUnaryOperator update) {
        double prev = get();
        while (true) {
            double witness = compareAndExchange(prev, update.applyAsDouble(prev));
            if (Double.doubleToRawLongBits(witness) == Double.doubleToRawLongBits(prev)) {
                return prev;
            }
            prev = witness;
        }
    }

    /** @return the new value, after applying {@code update} atomically (it may run more than once) */
    public double updateAndGet(DoubleUnaryOperator update) {
        double prev = get();
        while (true) {
            double next = update.applyAsDouble(prev);
            double witness = compareAndExchange(prev, next);
            if (Double.doubleToRawLongBits(witness) == Double.doubleToRawLongBits(prev)) {
                return next;
            }
            prev = witness;
        }
    }

    /** @return the previous value, after replacing it with {@code op(previous, x)} atomically */
    public double getAndAccumulate(double x, DoubleBinaryOperator op) {
        return getAndUpdate(prev -> op.applyAsDouble(prev, x));
    }

    /** @return the new value, {@code op(previous, x)}, applied atomically */
    public double accumulateAndGet(double x, DoubleBinaryOperator op) {
        return updateAndGet(prev -> op.applyAsDouble(prev, x));
    }

    /** @return the lock created with this value ({@code <name>.lock}) */
    public SharedLock lock() {
        return CompanionLocks.require(lock, closedMessage);
    }

    /**
     * Applies {@code update} to the value under {@link #lock()} with plain accesses (the lock orders them).
     * A close of this heap view by another thread that cuts the call short gives the lock back through another open
     * view of the heap, if this process has one, marked inconsistent for its next holder (see
     * {@link SharedLock#withLock(Runnable)}).
     *
     * @return the new value
     */
    public double withLock(DoubleUnaryOperator update) {
        Objects.requireNonNull(update, "update");
        SharedLock l = lock();
        l.lock();
        try {
            double next = update.applyAsDouble(getPlain());
            setPlain(next);
            return next;
        } finally {
            l.unlockInCall(); // this call's hold: given back if a close cuts the call short
        }
    }

    /** @return the 8 bytes of the value */
    public MemorySegment segment() {
        return segment.asSlice(0, Double.BYTES);
    }

    @Override
    public String toString() {
        return Blocks.unlessClosed(segment.scope(), () -> Double.toString(get()), closedMessage);
    }
}
