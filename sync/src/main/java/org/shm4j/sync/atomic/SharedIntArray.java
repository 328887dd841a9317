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
import java.util.function.IntBinaryOperator;
import java.util.function.IntUnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A fixed-length array of {@code int}s in shared memory with per-element atomic operations, like
 * {@link java.util.concurrent.atomic.AtomicIntegerArray}, across the threads of every process that maps it: Python's
 * {@code multiprocessing.Array('i', n)}.
 *
 * <p>Layout: the shared array block of {@link SharedArray}, heap block type {@code 0x53480011} v1, element size 4.
 * {@link #wrap(MemorySegment, long, long)} views {@code length} 4-byte aligned elements of any native segment
 * instead (no header).
 *
 * <p>Memory consistency effects: per element, as for {@link SharedInt}. The bulk methods ({@link #copyFrom},
 * {@link #copyTo}, {@link #fill}) use plain accesses and are not atomic as a whole: guard them with a lock when other
 * threads write at the same time.
 */
public final class SharedIntArray extends SharedArray {
    // VarHandle mechanics
    private static final VarHandle ELEMENT = JAVA_INT.varHandle();
    private static final int SIZE = Integer.BYTES;

    private SharedIntArray(MemorySegment elements, SharedLock lock, String closedMessage) {
        super(elements, SIZE, lock, closedMessage);
    }

    /**
     * Creates a zeroed array of {@code length} elements named {@code name} in {@code heap}, without a lock.
     *
     * @throws IllegalArgumentException if {@code length} is not positive
     */
    public static SharedIntArray create(SharedHeap heap, String name, long length) {
        return create(heap, name, length, false);
    }

    /**
     * Creates a zeroed array of {@code length} elements named {@code name} in {@code heap}.
     *
     * @param withLock also create the {@link SharedLock} {@code <name>.lock}, returned by {@link #lock()}
     *                 (Python's {@code Array('i', n, lock=True).get_lock()})
     * @throws IllegalArgumentException                 if {@code length} is not positive
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedIntArray create(SharedHeap heap, String name, long length, boolean withLock) {
        return Blocks.opening(heap, () -> {
            ArrayBlocks.Created created = ArrayBlocks.create(heap, name, SyncLayout.INT_ARRAY, length, SIZE,
                    withLock);
            return new SharedIntArray(created.elements(), created.lock(),
                    Blocks.closedMessage("SharedIntArray", name, heap));
        });
    }

    /**
     * Opens the array named {@code name}, with its lock if it has one.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a {@code SharedIntArray}
     */
    public static SharedIntArray open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedIntArray(ArrayBlocks.open(heap, name, SyncLayout.INT_ARRAY, SIZE),
                CompanionLocks.find(heap, name), Blocks.closedMessage("SharedIntArray", name, heap)));
    }

    /**
     * Opens the array named {@code name} (with its lock if it has one), or creates it zeroed without a lock.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists with another length
     */
    public static SharedIntArray openOrCreate(SharedHeap heap, String name, long length) {
        return Blocks.opening(heap, () -> new SharedIntArray(ArrayBlocks.openOrCreate(heap, name, SyncLayout.INT_ARRAY,
                length, SIZE), CompanionLocks.find(heap, name), Blocks.closedMessage("SharedIntArray", name, heap)));
    }

    /**
     * Views {@code length} elements at {@code offset} of a native segment.
     *
     * @throws IllegalArgumentException  if the address is not 4-byte aligned or {@code length} is not positive
     * @throws IndexOutOfBoundsException if the elements are not inside the segment
     */
    public static SharedIntArray wrap(MemorySegment segment, long offset, long length) {
        return new SharedIntArray(ArrayBlocks.wrap(segment, offset, length, SIZE), null,
                Blocks.closedMessage("SharedIntArray", offset));
    }

    /** @return element {@code index}, volatile */
    public int get(long index) {
        try {
            return (int) ELEMENT.getVolatile(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, volatile. */
    public void set(long index, int newValue) {
        try {
            ELEMENT.setVolatile(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, acquire */
    public int getAcquire(long index) {
        try {
            return (int) ELEMENT.getAcquire(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, release. */
    public void setRelease(long index, int newValue) {
        try {
            ELEMENT.setRelease(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, opaque */
    public int getOpaque(long index) {
        try {
            return (int) ELEMENT.getOpaque(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, opaque. */
    public void setOpaque(long index, int newValue) {
        try {
            ELEMENT.setOpaque(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, plain: use under a lock */
    public int getPlain(long index) {
        try {
            return elements.get(JAVA_INT, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, plain: use under a lock. */
    public void setPlain(long index, int newValue) {
        try {
            elements.set(JAVA_INT, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return true if element {@code index} was {@code expected} and is now {@code newValue} */
    public boolean compareAndSet(long index, int expected, int newValue) {
        try {
            return ELEMENT.compareAndSet(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index} before the call; it became {@code newValue} if that equals {@code expected} */
    public int compareAndExchange(long index, int expected, int newValue) {
        try {
            return (int) ELEMENT.compareAndExchange(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with plain semantics, but it may fail spuriously */
    public boolean weakCompareAndSetPlain(long index, int expected, int newValue) {
        try {
            return ELEMENT.weakCompareAndSetPlain(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with volatile semantics, but it may fail spuriously */
    public boolean weakCompareAndSetVolatile(long index, int expected, int newValue) {
        try {
            return ELEMENT.weakCompareAndSet(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with acquire semantics, but it may fail spuriously */
    public boolean weakCompareAndSetAcquire(long index, int expected, int newValue) {
        try {
            return ELEMENT.weakCompareAndSetAcquire(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with release semantics, but it may fail spuriously */
    public boolean weakCompareAndSetRelease(long index, int expected, int newValue) {
        try {
            return ELEMENT.weakCompareAndSetRelease(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndExchange}, with acquire semantics */
    public int compareAndExchangeAcquire(long index, int expected, int newValue) {
        try {
            return (int) ELEMENT.compareAndExchangeAcquire(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndExchange}, with release semantics */
    public int compareAndExchangeRelease(long index, int expected, int newValue) {
        try {
            return (int) ELEMENT.compareAndExchangeRelease(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the previous element, after setting {@code newValue} */
    public int getAndSet(long index, int newValue) {
        try {
            return (int) ELEMENT.getAndSet(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the previous element, after adding {@code delta} */
    public int getAndAdd(long index, int delta) {
        try {
            return (int) ELEMENT.getAndAdd(elements, offset(index), delta);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the new element, after adding {@code delta} */
    public int addAndGet(long index, int delta) {
        return getAndAdd(index, delta) + delta;
    }

    /** @return the new element, after adding 1 */
    public int incrementAndGet(long index) {
        return addAndGet(index, 1);
    }

    /** @return the new element, after subtracting 1 */
    public int decrementAndGet(long index) {
        return addAndGet(index, -1);
    }

    /** @return the previous element, after adding 1 */
    public int getAndIncrement(long index) {
        return getAndAdd(index, 1);
    }

    /** @return the previous element, after subtracting 1 */
    public int getAndDecrement(long index) {
        return getAndAdd(index, -1);
    }

    /** @return the previous element, after applying {@code update} atomically (it may run more than once) */
    public int getAndUpdate(long index, IntUnaryOperator update) {
        int prev = get(index);
        while (true) {
            int witness = compareAndExchange(index, prev, update.applyAsInt(prev));
            if (witness == prev) {
                return prev;
            }
            prev = witness;
        }
    }

    /** @return the new element, after applying {@code update} atomically (it may run more than once) */
    public int updateAndGet(long index, IntUnaryOperator update) {
        int prev = get(index);
        while (true) {
            int next = update.applyAsInt(prev);
            int witness = compareAndExchange(index, prev, next);
            if (witness == prev) {
                return next;
            }
            prev = witness;
        }
    }

    /** @return the previous element, after replacing it with {@code op(previous, x)} atomically */
    public int getAndAccumulate(long index, int x, IntBinaryOperator op) {
        return getAndUpdate(index, prev -> op.applyAsInt(prev, x));
    }

    /** @return the new element, {@code op(previous, x)}, applied atomically */
    public int accumulateAndGet(long index, int x, IntBinaryOperator op) {
        return updateAndGet(index, prev -> op.applyAsInt(prev, x));
    }

    /**
     * Copies {@code count} elements of {@code source} from {@code sourceIndex} into this array from {@code index}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    public void copyFrom(int[] source, int sourceIndex, long index, int count) {
        copyFromArray(Objects.requireNonNull(source, "source"), source.length, sourceIndex, JAVA_INT, index, count);
    }

    /**
     * Copies {@code count} elements of this array from {@code index} into {@code target} from {@code targetIndex}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    public void copyTo(long index, int[] target, int targetIndex, int count) {
        copyToArray(index, Objects.requireNonNull(target, "target"), target.length, targetIndex, JAVA_INT, count);
    }

    /** Sets every element to {@code value} with plain writes. */
    public void fill(int value) {
        try {
            for (long i = 0; i < length(); i++) {
                elements.setAtIndex(JAVA_INT, i, value);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return a copy of all elements (plain reads)
     * @throws IllegalStateException naming this array, if it has more elements than a Java array holds
     */
    public int[] toArray() {
        checkFitsInJavaArray();
        try {
            return elements.toArray(JAVA_INT);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    String element(long index) {
        return Integer.toString(get(index));
    }
}
