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

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A fixed-length array of {@code byte}s in shared memory with volatile, acquire/release and opaque
 * element access, across the threads of every process that maps it: Python's
 * {@code multiprocessing.Array('b', n)}.
 *
 * <p>Layout: the shared array block of {@link SharedArray}, heap block type {@code 0x53480014} v1, element size 1.
 * {@link #wrap(MemorySegment, long, long)} views {@code length} bytes of any native segment
 * instead (no header).
 *
 * <p>Memory consistency effects: per element, as the method names say; there are no
 * read-modify-write operations on single bytes (FFM supports none). The bulk methods ({@link #copyFrom},
 * {@link #copyTo}, {@link #fill}) use plain accesses and are not atomic as a whole: guard them with a lock when other
 * threads write at the same time.
 */
public final class SharedByteArray extends SharedArray {
    // VarHandle mechanics
    private static final VarHandle ELEMENT = JAVA_BYTE.varHandle();
    private static final int SIZE = Byte.BYTES;

    private SharedByteArray(MemorySegment elements, SharedLock lock, String closedMessage) {
        super(elements, SIZE, lock, closedMessage);
    }

    /**
     * Creates a zeroed array of {@code length} elements named {@code name} in {@code heap}, without a lock.
     *
     * @throws IllegalArgumentException if {@code length} is not positive
     */
    public static SharedByteArray create(SharedHeap heap, String name, long length) {
        return create(heap, name, length, false);
    }

    /**
     * Creates a zeroed array of {@code length} elements named {@code name} in {@code heap}.
     *
     * @param withLock also create the {@link SharedLock} {@code <name>.lock}, returned by {@link #lock()}
     *                 (Python's {@code Array('b', n, lock=True).get_lock()})
     * @throws IllegalArgumentException                 if {@code length} is not positive
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedByteArray create(SharedHeap heap, String name, long length, boolean withLock) {
        return Blocks.opening(heap, () -> {
            ArrayBlocks.Created created = ArrayBlocks.create(heap, name, SyncLayout.BYTE_ARRAY, length, SIZE,
                    withLock);
            return new SharedByteArray(created.elements(), created.lock(),
                    Blocks.closedMessage("SharedByteArray", name, heap));
        });
    }

    /**
     * Opens the array named {@code name}, with its lock if it has one.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a {@code SharedByteArray}
     */
    public static SharedByteArray open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedByteArray(ArrayBlocks.open(heap, name, SyncLayout.BYTE_ARRAY, SIZE),
                CompanionLocks.find(heap, name), Blocks.closedMessage("SharedByteArray", name, heap)));
    }

    /**
     * Opens the array named {@code name} (with its lock if it has one), or creates it zeroed without a lock.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if it exists with another length
     */
    public static SharedByteArray openOrCreate(SharedHeap heap, String name, long length) {
        return Blocks.opening(heap, () -> new SharedByteArray(ArrayBlocks.openOrCreate(heap, name,
                SyncLayout.BYTE_ARRAY, length, SIZE),
                CompanionLocks.find(heap, name), Blocks.closedMessage("SharedByteArray", name, heap)));
    }

    /**
     * Views {@code length} elements at {@code offset} of a native segment.
     *
     * @throws IllegalArgumentException  if {@code length} is not positive
     * @throws IndexOutOfBoundsException if the elements are not inside the segment
     */
    public static SharedByteArray wrap(MemorySegment segment, long offset, long length) {
        return new SharedByteArray(ArrayBlocks.wrap(segment, offset, length, SIZE), null,
                Blocks.closedMessage("SharedByteArray", offset));
    }

    /** @return element {@code index}, volatile */
    public byte get(long index) {
        try {
            return (byte) ELEMENT.getVolatile(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, volatile. */
    public void set(long index, byte newValue) {
        try {
            ELEMENT.setVolatile(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, acquire */
    public byte getAcquire(long index) {
        try {
            return (byte) ELEMENT.getAcquire(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, release. */
    public void setRelease(long index, byte newValue) {
        try {
            ELEMENT.setRelease(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, opaque */
    public byte getOpaque(long index) {
        try {
            return (byte) ELEMENT.getOpaque(elements, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, opaque. */
    public void setOpaque(long index, byte newValue) {
        try {
            ELEMENT.setOpaque(elements, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return element {@code index}, plain: use under a lock */
    public byte getPlain(long index) {
        try {
            return elements.get(JAVA_BYTE, offset(index));
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** Sets element {@code index}, plain: use under a lock. */
    public void setPlain(long index, byte newValue) {
        try {
            elements.set(JAVA_BYTE, offset(index), newValue);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Copies {@code count} elements of {@code source} from {@code sourceIndex} into this array from {@code index}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    public void copyFrom(byte[] source, int sourceIndex, long index, int count) {
        copyFromArray(Objects.requireNonNull(source, "source"), source.length, sourceIndex, JAVA_BYTE, index, count);
    }

    /**
     * Copies {@code count} elements of this array from {@code index} into {@code target} from {@code targetIndex}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    public void copyTo(long index, byte[] target, int targetIndex, int count) {
        copyToArray(index, Objects.requireNonNull(target, "target"), target.length, targetIndex, JAVA_BYTE, count);
    }

    /** Sets every element to {@code value} with plain writes. */
    public void fill(byte value) {
        try {
            elements.fill(value);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return a copy of all elements (plain reads)
     * @throws IllegalStateException naming this array, if it has more elements than a Java array holds
     */
    public byte[] toArray() {
        checkFitsInJavaArray();
        try {
            return elements.toArray(JAVA_BYTE);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    String element(long index) {
        return Byte.toString(get(index));
    }
}
