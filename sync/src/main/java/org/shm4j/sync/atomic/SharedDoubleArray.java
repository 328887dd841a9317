package org.shm4j.sync.atomic;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.ArrayBlocks;
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
 * A fixed-length array of {@code double}s in shared memory with per-element atomic operations, like
 * {@link java.util.concurrent.atomic.AtomicLongArray of doubles}, across the threads of every process that maps it:
 * Python's
 * {@code multiprocessing.Array('d', n)}.
 *
 * <p>Layout: the shared array block of {@link SharedArray}, heap block type {@code 0x53480013} v1, element size 8.
 * {@link #wrap(MemorySegment, long, long)} views {@code length} 8-byte aligned elements of any native segment
 * instead (no header).
 *
 * <p>Memory consistency effects: per element, as for {@link SharedDouble}. The bulk methods ({@link #copyFrom},
 * {@link #copyTo}, {@link #fill}) use plain accesses and are not atomic as a whole: guard them with a lock when other
 * threads write at the same time.
 */
public final class SharedDoubleArray extends SharedArray {
    // VarHandle mechanics
    private static final VarHandle ELEMENT = JAVA_DOUBLE.varHandle();
    private static final int SIZE = Double.BYTES;

    private SharedDoubleArray(MemorySegment elements, SharedLock lock, String closedMessage) {
        super(elements, SIZE, lock, closedMessage);
    }

    /**
     * Creates a zeroed array of {@code length} elements named {@code name} in {@code heap}, without a lock.
     *
     * @throws IllegalArgumentException if {@code length} is not positive
     */
    public static SharedDoubleArray create(SharedHeap heap, String name, long length) {
        return create(heap, name, length, false);
    }

    /**
     * Creates a zeroed array of {@code length} elements named {@code name} in {@code heap}.
     *
     * @param withLock also create the {@link SharedLock} {@code <name>.lock}, returned by {@link #lock()}
     *                 (Python's {@code Array('d', n, lock=True).get_lock()})
     * @throws IllegalArgumentException                 if {@code length} is not positive
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedDoubleArray create(SharedHeap heap, String name, long length, boolean withLock) {
        return Blocks.opening(heap, () -> {
            ArrayBlocks.Created created = ArrayBlocks.create(heap, name, SyncLayout.DOUBLE_ARRAY, length, SIZE,
                    withLock);
            return new SharedDoubleArray(created.elements(), created.lock(),
                    Blocks.closedMessage("SharedDoubleArray", name, heap));
        });
    }

    /**
     * Opens the array named {@code name}, with its lock if it has one.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a {@code SharedDoubleArray}
     */
    public static SharedDoubleArray open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedDoubleArray(ArrayBlocks.open(heap, name, SyncLayout.DOUBLE_ARRAY,
                SIZE), CompanionLocks.find(heap, name), Blocks.closedMessage("SharedDoubleArray", name, heap)));
    }

    /**
     * Opens the array named {@code name} (with its lock if it has one), or creates it zeroed without a lock.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists with another length
     */
    public static SharedDoubleArray openOrCreate(SharedHeap heap, String name, long length) {
        return Blocks.opening(heap, () -> new SharedDoubleArray(ArrayBlocks.openOrCreate(heap, name,
                SyncLayout.DOUBLE_ARRAY, length, SIZE),
                CompanionLocks.find(heap, name), Blocks.closedMessage("SharedDoubleArray", name, heap)));
    }

    /**
     * Views {@code length} elements at {@code offset} of a native segment.
     *
     * @throws IllegalArgumentException  if the address is not 8-byte aligned or {@code length} is not positive
     * @throws IndexOutOfBoundsException if the elements are not inside the segment
     */
    public static SharedDoubleArray wrap(MemorySegment segment, long offset, long length) {
        return new SharedDoubleArray(ArrayBlocks.wrap(segment, offset, length, SIZE), null,
                Blocks.closedMessage("SharedDoubleArray", offset));
    }

    /** @return element {@code index}, volatile */
    public double get(long index) {
        try {
            return (double) ELEMENT.getVolatile(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, volatile. */
    public void set(long index, double newValue) {
        try {
            ELEMENT.setVolatile(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, acquire */
    public double getAcquire(long index) {
        try {
            return (double) ELEMENT.getAcquire(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, release. */
    public void setRelease(long index, double newValue) {
        try {
            ELEMENT.setRelease(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, opaque */
    public double getOpaque(long index) {
        try {
            return (double) ELEMENT.getOpaque(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, opaque. */
    public void setOpaque(long index, double newValue) {
        try {
            ELEMENT.setOpaque(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, plain: use under a lock */
    public double getPlain(long index) {
        try {
            return elements.get(JAVA_DOUBLE, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, plain: use under a lock. */
    public void setPlain(long index, double newValue) {
        try {
            elements.set(JAVA_DOUBLE, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return true if element {@code index} had the bits of {@code expected} and is now {@code newValue} */
    public boolean compareAndSet(long index, double expected, double newValue) {
        try {
            return ELEMENT.compareAndSet(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index} before the call; it became {@code newValue} if that equals {@code expected} */
    public double compareAndExchange(long index, double expected, double newValue) {
        try {
            return (double) ELEMENT.compareAndExchange(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with plain semantics, but it may fail spuriously */
    public boolean weakCompareAndSetPlain(long index, double expected, double newValue) {
        try {
            return ELEMENT.weakCompareAndSetPlain(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with volatile semantics, but it may fail spuriously */
    public boolean weakCompareAndSetVolatile(long index, double expected, double newValue) {
        try {
            return ELEMENT.weakCompareAndSet(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with acquire semantics, but it may fail spuriously */
    public boolean weakCompareAndSetAcquire(long index, double expected, double newValue) {
        try {
            return ELEMENT.weakCompareAndSetAcquire(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with release semantics, but it may fail spuriously */
    public boolean weakCompareAndSetRelease(long index, double expected, double newValue) {
        try {
            return ELEMENT.weakCompareAndSetRelease(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndExchange}, with acquire semantics */
    public double compareAndExchangeAcquire(long index, double expected, double newValue) {
        try {
            return (double) ELEMENT.compareAndExchangeAcquire(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndExchange}, with release semantics */
    public double compareAndExchangeRelease(long index, double expected, double newValue) {
        try {
            return (double) ELEMENT.compareAndExchangeRelease(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the previous element, after setting {@code newValue} */
    public double getAndSet(long index, double newValue) {
        try {
            return (double) ELEMENT.getAndSet(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the previous element, after adding {@code delta} atomically (a compare-and-set loop) */
    public double getAndAdd(long index, double delta) {
        return getAndUpdate(index, v -> v + delta);
    }

    /** @return the new element, after adding {@code delta} atomically (a compare-and-set loop) */
    public double addAndGet(long index, double delta) {
        return updateAndGet(index, v -> v + delta);
    }

    /** @return the previous element, after applying {@code update} atomically (it may run more than once) */
    public double getAndUpdate(long index, DoubleUnaryOperator update) {
        double prev = get(index);
        while (true) {
            double witness = compareAndExchange(index, prev, update.applyAsDouble(prev));
            if (Double.doubleToRawLongBits(witness) == Double.doubleToRawLongBits(prev)) {
                return prev;
            }
            prev = witness;
        }
    }

    /** @return the new element, after applying {@code update} atomically (it may run more than once) */
    public double updateAndGet(long index, DoubleUnaryOperator update) {
        double prev = get(index);
        while (true) {
            double next = update.applyAsDouble(prev);
            double witness = compareAndExchange(index, prev, next);
            if (Double.doubleToRawLongBits(witness) == Double.doubleToRawLongBits(prev)) {
                return next;
            }
            prev = witness;
        }
    }

    /** @return the previous element, after replacing it with {@code op(previous, x)} atomically */
    public double getAndAccumulate(long index, double x, DoubleBinaryOperator op) {
        return getAndUpdate(index, prev -> op.applyAsDouble(prev, x));
    }

    /** @return the new element, {@code op(previous, x)}, applied atomically */
    public double accumulateAndGet(long index, double x, DoubleBinaryOperator op) {
        return updateAndGet(index, prev -> op.applyAsDouble(prev, x));
    }

    /**
     * Copies {@code count} elements of {@code source} from {@code sourceIndex} into this array from {@code index}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    public void copyFrom(double[] source, int sourceIndex, long index, int count) {
        copyFromArray(Objects.requireNonNull(source, "source"), source.length, sourceIndex, JAVA_DOUBLE, index, count);
    }

    /**
     * Copies {@code count} elements of this array from {@code index} into {@code target} from {@code targetIndex}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    public void copyTo(long index, double[] target, int targetIndex, int count) {
        copyToArray(index, Objects.requireNonNull(target, "target"), target.length, targetIndex, JAVA_DOUBLE, count);
    }

    /** Sets every element to {@code value} with plain writes. */
    public void fill(double value) {
        try {
            for (long i = 0; i < length(); i++) {
                elements.setAtIndex(JAVA_DOUBLE, i, value);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return a copy of all elements (plain reads)
     * @throws IllegalStateException naming this array, if it has more elements than a Java array holds
     */
    public double[] toArray() {
        checkFitsInJavaArray();
        try {
            return elements.toArray(JAVA_DOUBLE);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    String element(long index) {
        return Double.toString(get(index));
    }
}
