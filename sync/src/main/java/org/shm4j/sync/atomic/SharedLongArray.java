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
import java.util.function.LongBinaryOperator;
import java.util.function.LongUnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A fixed-length array of {@code long}s in shared memory with per-element atomic operations, like
 * {@link java.util.concurrent.atomic.AtomicLongArray}, across the threads of every process that maps it: Python's
 * {@code multiprocessing.Array('q', n)}.
 *
 * <p>Layout: the shared array block of {@link SharedArray}, heap block type {@code 0x53480012} v1, element size 8.
 * {@link #wrap(MemorySegment, long, long)} views {@code length} 8-byte aligned elements of any native segment
 * instead (no header).
 *
 * <p>Memory consistency effects: per element, as for {@link SharedLong}. The bulk methods ({@link #copyFrom},
 * {@link #copyTo}, {@link #fill}) use plain accesses and are not atomic as a whole: guard them with a lock when other
 * threads write at the same time.
 */
public final class SharedLongArray extends SharedArray {
    // VarHandle mechanics
    private static final VarHandle ELEMENT = JAVA_LONG.varHandle();
    private static final int SIZE = Long.BYTES;

    private SharedLongArray(MemorySegment elements, SharedLock lock, String closedMessage) {
        super(elements, SIZE, lock, closedMessage);
    }

    /**
     * Creates a zeroed array of {@code length} elements named {@code name} in {@code heap}, without a lock.
     *
     * @throws IllegalArgumentException if {@code length} is not positive
     */
    public static SharedLongArray create(SharedHeap heap, String name, long length) {
        return create(heap, name, length, false);
    }

    /**
     * Creates a zeroed array of {@code length} elements named {@code name} in {@code heap}.
     *
     * @param withLock also create the {@link SharedLock} {@code <name>.lock}, returned by {@link #lock()}
     *                 (Python's {@code Array('q', n, lock=True).get_lock()})
     * @throws IllegalArgumentException                 if {@code length} is not positive
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedLongArray create(SharedHeap heap, String name, long length, boolean withLock) {
        return Blocks.opening(heap, () -> {
            ArrayBlocks.Created created = ArrayBlocks.create(heap, name, SyncLayout.LONG_ARRAY, length, SIZE,
                    withLock);
            return new SharedLongArray(created.elements(), created.lock(),
                    Blocks.closedMessage("SharedLongArray", name, heap));
        });
    }

    /**
     * Opens the array named {@code name}, with its lock if it has one.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a {@code SharedLongArray}
     */
    public static SharedLongArray open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedLongArray(ArrayBlocks.open(heap, name, SyncLayout.LONG_ARRAY, SIZE),
                CompanionLocks.find(heap, name), Blocks.closedMessage("SharedLongArray", name, heap)));
    }

    /**
     * Opens the array named {@code name} (with its lock if it has one), or creates it zeroed without a lock.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists with another length
     */
    public static SharedLongArray openOrCreate(SharedHeap heap, String name, long length) {
        return Blocks.opening(heap, () -> new SharedLongArray(ArrayBlocks.openOrCreate(heap, name,
                SyncLayout.LONG_ARRAY, length, SIZE),
                CompanionLocks.find(heap, name), Blocks.closedMessage("SharedLongArray", name, heap)));
    }

    /**
     * Views {@code length} elements at {@code offset} of a native segment.
     *
     * @throws IllegalArgumentException  if the address is not 8-byte aligned or {@code length} is not positive
     * @throws IndexOutOfBoundsException if the elements are not inside the segment
     */
    public static SharedLongArray wrap(MemorySegment segment, long offset, long length) {
        return new SharedLongArray(ArrayBlocks.wrap(segment, offset, length, SIZE), null,
                Blocks.closedMessage("SharedLongArray", offset));
    }

    /** @return element {@code index}, volatile */
    public long get(long index) {
        try {
            return (long) ELEMENT.getVolatile(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, volatile. */
    public void set(long index, long newValue) {
        try {
            ELEMENT.setVolatile(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, acquire */
    public long getAcquire(long index) {
        try {
            return (long) ELEMENT.getAcquire(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, release. */
    public void setRelease(long index, long newValue) {
        try {
            ELEMENT.setRelease(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, opaque */
    public long getOpaque(long index) {
        try {
            return (long) ELEMENT.getOpaque(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, opaque. */
    public void setOpaque(long index, long newValue) {
        try {
            ELEMENT.setOpaque(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, plain: use under a lock */
    public long getPlain(long index) {
        try {
            return elements.get(JAVA_LONG, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, plain: use under a lock. */
    public void setPlain(long index, long newValue) {
        try {
            elements.set(JAVA_LONG, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return true if element {@code index} was {@code expected} and is now {@code newValue} */
    public boolean compareAndSet(long index, long expected, long newValue) {
        try {
            return ELEMENT.compareAndSet(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index} before the call; it became {@code newValue} if that equals {@code expected} */
    public long compareAndExchange(long index, long expected, long newValue) {
        try {
            return (long) ELEMENT.compareAndExchange(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with plain semantics, but it may fail spuriously */
    public boolean weakCompareAndSetPlain(long index, long expected, long newValue) {
        try {
            return ELEMENT.weakCompareAndSetPlain(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with volatile semantics, but it may fail spuriously */
    public boolean weakCompareAndSetVolatile(long index, long expected, long newValue) {
        try {
            return ELEMENT.weakCompareAndSet(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with acquire semantics, but it may fail spuriously */
    public boolean weakCompareAndSetAcquire(long index, long expected, long newValue) {
        try {
            return ELEMENT.weakCompareAndSetAcquire(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndSet}, with release semantics, but it may fail spuriously */
    public boolean weakCompareAndSetRelease(long index, long expected, long newValue) {
        try {
            return ELEMENT.weakCompareAndSetRelease(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndExchange}, with acquire semantics */
    public long compareAndExchangeAcquire(long index, long expected, long newValue) {
        try {
            return (long) ELEMENT.compareAndExchangeAcquire(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return as {@link #compareAndExchange}, with release semantics */
    public long compareAndExchangeRelease(long index, long expected, long newValue) {
        try {
            return (long) ELEMENT.compareAndExchangeRelease(elements, offset(index), expected, newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the previous element, after setting {@code newValue} */
    public long getAndSet(long index, long newValue) {
        try {
            return (long) ELEMENT.getAndSet(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the previous element, after adding {@code delta} */
    public long getAndAdd(long index, long delta) {
        try {
            return (long) ELEMENT.getAndAdd(elements, offset(index), delta);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return the new element, after adding {@code delta} */
    public long addAndGet(long index, long delta) {
        return getAndAdd(index, delta) + delta;
    }

    /** @return the new element, after adding 1 */
    public long incrementAndGet(long index) {
        return addAndGet(index, 1L);
    }

    /** @return the new element, after subtracting 1 */
    public long decrementAndGet(long index) {
        return addAndGet(index, -1L);
    }

    /** @return the previous element, after adding 1 */
    public long getAndIncrement(long index) {
        return getAndAdd(index, 1L);
    }

    /** @return the previous element, after subtracting 1 */
    public long getAndDecrement(long index) {
        return getAndAdd(index, -1L);
    }

    /** @return the previous element, after applying {@code update} atomically (it may run more than once) */
    public long getAndUpdate(long index, LongUnaryOperator update) {
        long prev = get(index);
        while (true) {
            long witness = compareAndExchange(index, prev, update.applyAsLong(prev));
            if (witness == prev) {
                return prev;
            }
            prev = witness;
        }
    }

    /** @return the new element, after applying {@code update} atomically (it may run more than once) */
    public long updateAndGet(long index, LongUnaryOperator update) {
        long prev = get(index);
        while (true) {
            long next = update.applyAsLong(prev);
            long witness = compareAndExchange(index, prev, next);
            if (witness == prev) {
                return next;
            }
            prev = witness;
        }
    }

    /** @return the previous element, after replacing it with {@code op(previous, x)} atomically */
    public long getAndAccumulate(long index, long x, LongBinaryOperator op) {
        return getAndUpdate(index, prev -> op.applyAsLong(prev, x));
    }

    /** @return the new element, {@code op(previous, x)}, applied atomically */
    public long accumulateAndGet(long index, long x, LongBinaryOperator op) {
        return updateAndGet(index, prev -> op.applyAsLong(prev, x));
    }

    /**
     * Copies {@code count} elements of {@code source} from {@code sourceIndex} into this array from {@code index}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    public void copyFrom(long[] source, int sourceIndex, long index, int count) {
        copyFromArray(Objects.requireNonNull(source, "source"), source.length, sourceIndex, JAVA_LONG, index, count);
    }

    /**
     * Copies {@code count} elements of this array from {@code index} into {@code target} from {@code targetIndex}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    public void copyTo(long index, long[] target, int targetIndex, int count) {
        copyToArray(index, Objects.requireNonNull(target, "target"), target.length, targetIndex, JAVA_LONG, count);
    }

    /** Sets every element to {@code value} with plain writes. */
    public void fill(long value) {
        try {
            for (long i = 0; i < length(); i++) {
                elements.setAtIndex(JAVA_LONG, i, value);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return a copy of all elements (plain reads)
     * @throws IllegalStateException naming this array, if it has more elements than a Java array holds
     */
    public long[] toArray() {
        checkFitsInJavaArray();
        try {
            return elements.toArray(JAVA_LONG);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    String element(long index) {
        return Long.toString(get(index));
    }
}
