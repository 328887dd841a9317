package org.shm4j.sync.atomic;

import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CompanionLocks;
import org.shm4j.sync.locks.SharedLock;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;
import java.util.StringJoiner;

/**
 * What every shared array has: a fixed length, its elements' memory, and bulk copies to and from other memory. The
 * typed subclasses add element access and copies to and from Java arrays.
 *
 * <h2>Layout of a shared array block (64-aligned)</h2>
 * <table class="striped">
 * <caption>Shared array block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>length (number of elements)</td>
 *     <td>plain; written before the block is published</td></tr>
 * <tr><td>8</td><td>4</td><td>element size in bytes: 1, 4 or 8</td><td>plain; likewise</td></tr>
 * <tr><td>12</td><td>52</td><td>zero</td><td>—</td></tr>
 * <tr><td>64</td><td>size × length</td><td>elements, little-endian (doubles as IEEE 754 binary64)</td>
 *     <td>as the method names say</td></tr>
 * </table>
 * Opening checks the element size and that the length matches the block size. The typed {@code wrap} methods
 * view elements of any native segment instead, with no header.
 */
public abstract sealed class SharedArray permits SharedByteArray, SharedDoubleArray, SharedIntArray, SharedLongArray {
    /** The most elements {@link #toString()} shows. */
    private static final int SHOWN = 32;

    /** The elements, without the block header. */
    final MemorySegment elements;
    /** What a method throws, with the JDK's exception as the cause, once the memory is closed. */
    final String closedMessage;
    private final long length;
    private final int elementSize;
    private final SharedLock lock; // the companion lock <name>.lock, or null

    SharedArray(MemorySegment elements, int elementSize, SharedLock lock, String closedMessage) {
        this.elements = elements;
        this.lock = lock;
        this.closedMessage = closedMessage;
        this.elementSize = elementSize;
        this.length = elements.byteSize() / elementSize;
    }

    /** @return the number of elements */
    public final long length() {
        return length;
    }

    /**
     * Returns the lock created with this array ({@code <name>.lock}, by {@code create(heap, name, length, true)}), as
     * Python's {@code Array(..., lock=True).get_lock()}, but a {@link SharedLock}: not reentrant, where Python's is
     * an {@code RLock}. Guard updates of several elements, or a read-modify-write with plain accesses, with
     * {@code array.lock().withLock(() -> ...)}.
     *
     * @throws IllegalStateException if the array was created without one (or wrapped over raw memory)
     */
    public final SharedLock lock() {
        return CompanionLocks.require(lock, closedMessage);
    }

    /** @return the elements' memory (without the block header) */
    public final MemorySegment segment() {
        return elements;
    }

    /**
     * Copies {@code count} elements from the bytes at {@code sourceOffset} of {@code source} into this array from
     * {@code index}, with plain writes.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     * @throws IllegalStateException     naming this array, if {@code source} is closed (or this array's heap)
     */
    public final void copyFrom(MemorySegment source, long sourceOffset, long index, long count) {
        long offset = rangeOffset(index, count);
        checkSegmentRange("source", Objects.requireNonNull(source, "source"), sourceOffset, count * elementSize);
        try {
            MemorySegment.copy(source, sourceOffset, elements, offset, count * elementSize);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e, source, "source");
        }
    }

    /**
     * Copies {@code count} elements of this array from {@code index} to the bytes at {@code targetOffset} of
     * {@code target}, with plain reads.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     * @throws IllegalArgumentException  if {@code target} is read-only
     * @throws IllegalStateException     naming this array, if {@code target} is closed (or this array's heap)
     */
    public final void copyTo(long index, MemorySegment target, long targetOffset, long count) {
        long offset = rangeOffset(index, count);
        checkSegmentRange("target", Objects.requireNonNull(target, "target"), targetOffset, count * elementSize);
        if (target.isReadOnly()) { // the caller's segment: not this array's memory, which closedOr would name
            throw new IllegalArgumentException(Blocks.subject(closedMessage) + ": the target segment is read-only");
        }
        try {
            MemorySegment.copy(elements, offset, target, targetOffset, count * elementSize);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e, target, "target");
        }
    }

    /**
     * @return the elements as {@code AtomicLongArray}'s {@code toString} shows them, {@code [1, 2, 3]}, the first
     *         {@value #SHOWN} of a longer array followed by how many there are: {@code [1, 2, ... (1000 elements)]}
     *         (a volatile read each: a snapshot of no instant); once the memory is closed, what an access would throw
     *         says
     */
    @Override
    public final String toString() {
        return Blocks.unlessClosed(elements.scope(), () -> {
            StringJoiner shown = new StringJoiner(", ", "[", "]");
            for (long i = 0; i < Math.min(length, SHOWN); i++) {
                shown.add(element(i));
            }
            if (length > SHOWN) {
                shown.add("... (" + length + " elements)");
            }
            return shown.toString();
        }, closedMessage);
    }

    /**
     * Checks, for the typed {@code toArray} methods, that the elements fit in a Java array.
     *
     * @throws IllegalStateException naming this array, if it has more than {@link Integer#MAX_VALUE} elements
     */
    final void checkFitsInJavaArray() {
        if (length > Integer.MAX_VALUE) {
            throw new IllegalStateException(Blocks.subject(closedMessage) + ": its " + length + " elements do not fit"
                    + " in a Java array (at most " + Integer.MAX_VALUE + "); copy ranges of it with copyTo");
        }
    }

    /** @return element {@code index} as {@link #toString()} shows it */
    abstract String element(long index);

    /**
     * @return what a method throws for {@code failure}: an exception naming this array if its memory is closed,
     *         else {@code failure}
     */
    final RuntimeException closedOr(RuntimeException failure) {
        return Blocks.closedOr(failure, elements.scope(), closedMessage);
    }

    /**
     * @return what a bulk copy with the caller's {@code segment} throws for {@code failure}: as {@link #closedOr},
     *         else, if that segment is closed, an exception naming this array and the side (the JDK's bare
     *         "Already closed" would read as this array's heap closing)
     */
    private RuntimeException closedOr(RuntimeException failure, MemorySegment segment, String side) {
        RuntimeException named = closedOr(failure);
        if (named == failure && failure instanceof IllegalStateException && !segment.scope().isAlive()) {
            return new IllegalStateException(Blocks.subject(closedMessage) + ": the " + side + " segment is closed",
                    failure);
        }
        return named;
    }

    /**
     * The typed subclasses' copy from a Java array of their element type ({@code source}, of {@code sourceLength}
     * elements, read as {@code layout}), each range checked and named.
     */
    final void copyFromArray(Object source, int sourceLength, int sourceIndex, ValueLayout layout, long index,
                             int count) {
        long offset = rangeOffset(index, count);
        checkArrayRange("source", sourceIndex, count, sourceLength);
        try {
            MemorySegment.copy(source, sourceIndex, elements, layout, offset, count);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** The typed subclasses' copy to a Java array of their element type: see {@link #copyFromArray}. */
    final void copyToArray(long index, Object target, int targetLength, int targetIndex, ValueLayout layout,
                           int count) {
        long offset = rangeOffset(index, count);
        checkArrayRange("target", targetIndex, count, targetLength);
        try {
            MemorySegment.copy(elements, layout, offset, target, targetIndex, count);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Checks the Java array's side of a bulk copy (the caller checks this array's side with {@link #rangeOffset}).
     *
     * @param side   {@code "source"} or {@code "target"}, for the message
     * @param length the Java array's length
     * @throws IndexOutOfBoundsException naming this array and the side, if {@code count} elements from {@code from}
     *                                   do not fit in the Java array
     */
    private void checkArrayRange(String side, int from, int count, int length) {
        if (from < 0 || count < 0 || from > length - count) {
            throw new IndexOutOfBoundsException(Blocks.subject(closedMessage) + ": " + side + " array elements ["
                    + from + ", " + ((long) from + count) + ") outside its " + length + " elements");
        }
    }

    /** As {@link #checkArrayRange}, for {@code bytes} bytes at {@code from} of a segment. */
    private void checkSegmentRange(String side, MemorySegment segment, long from, long bytes) {
        if (from < 0 || from > segment.byteSize() - bytes) {
            throw new IndexOutOfBoundsException(Blocks.subject(closedMessage) + ": " + side + " segment bytes ["
                    + from + ", " + endOf(from, bytes) + ") outside its " + segment.byteSize() + " bytes");
        }
    }

    /** @return the end of the range, for a message: "2^63" where the sum passes Long.MAX_VALUE */
    private static String endOf(long from, long bytes) {
        long end = from + bytes;
        return end < from ? "2^63" : Long.toString(end);
    }

    /**
     * @return the byte offset of element {@code index}
     * @throws IndexOutOfBoundsException naming this array, if {@code index} is out of bounds
     */
    final long offset(long index) {
        try {
            return Objects.checkIndex(index, length) * elementSize;
        } catch (IndexOutOfBoundsException e) {
            throw named(e);
        }
    }

    /**
     * @return the byte offset of element {@code index}, after checking that {@code count} elements fit there
     * @throws IndexOutOfBoundsException naming this array, if the range is out of bounds
     */
    final long rangeOffset(long index, long count) {
        try {
            return Objects.checkFromIndexSize(index, count, length) * elementSize;
        } catch (IndexOutOfBoundsException e) {
            throw named(e);
        }
    }

    /** @return the JDK's index exception with this array named in front of its message */
    private IndexOutOfBoundsException named(IndexOutOfBoundsException e) {
        return new IndexOutOfBoundsException(Blocks.subject(closedMessage) + ": " + e.getMessage());
    }
}
