package org.shm4j.sync.atomic;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.SyncLayout;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A {@code boolean} flag in shared memory with the operations of
 * {@link java.util.concurrent.atomic.AtomicBoolean}, across the threads of every process that maps it. Stored as a
 * 4-byte int (0 = false, 1 = true; any non-zero value reads as true), because atomic compare-and-set needs at least an
 * int.
 *
 * <h2>Layout (heap block type {@code 0x53480004} v1, 64 bytes, 64-aligned)</h2>
 * <table class="striped">
 * <caption>SharedBoolean block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>4</td><td>value: 0 or 1, little-endian int</td><td>as the method names say</td></tr>
 * <tr><td>4</td><td>60</td><td>padding, zero</td><td>—</td></tr>
 * </table>
 *
 * <p>Memory consistency effects: as for {@link SharedLong}.
 */
public final class SharedBoolean {
    // VarHandle mechanics
    private static final VarHandle VALUE = JAVA_INT.varHandle();
    private static final long SIZE = SyncLayout.CACHE_LINE;

    private final MemorySegment segment;
    private final String closedMessage;

    private SharedBoolean(MemorySegment segment, String closedMessage) {
        this.segment = segment;
        this.closedMessage = closedMessage;
    }

    /** Creates a flag of false named {@code name} in {@code heap}. */
    public static SharedBoolean create(SharedHeap heap, String name) {
        return create(heap, name, false);
    }

    /** Creates a flag named {@code name} in {@code heap}. */
    public static SharedBoolean create(SharedHeap heap, String name, boolean initialValue) {
        return Blocks.opening(heap, () -> new SharedBoolean(Blocks.create(heap, name, SyncLayout.BOOLEAN, SIZE,
                s -> s.set(JAVA_INT, 0, bits(initialValue))), Blocks.closedMessage("SharedBoolean", name, heap)));
    }

    /** Opens the flag named {@code name}. */
    public static SharedBoolean open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedBoolean(Blocks.open(heap, name, SyncLayout.BOOLEAN, SIZE,
                "SharedBoolean"), Blocks.closedMessage("SharedBoolean", name, heap)));
    }

    /** Opens the flag named {@code name}, or creates it holding false. */
    public static SharedBoolean openOrCreate(SharedHeap heap, String name) {
        return openOrCreate(heap, name, false);
    }

    /** Opens the flag named {@code name}, or creates it holding {@code initialValue}. */
    public static SharedBoolean openOrCreate(SharedHeap heap, String name, boolean initialValue) {
        return Blocks.opening(heap, () -> new SharedBoolean(Blocks.openOrCreate(heap, name, SyncLayout.BOOLEAN, SIZE,
                s -> s.set(JAVA_INT, 0, bits(initialValue))), Blocks.closedMessage("SharedBoolean", name, heap)));
    }

    /**
     * Views the 4 bytes at {@code offset} of a native segment.
     *
     * @throws IllegalArgumentException  if the address is not 4-byte aligned
     * @throws IndexOutOfBoundsException if the 4 bytes are not inside the segment
     */
    public static SharedBoolean wrap(MemorySegment segment, long offset) {
        return new SharedBoolean(Blocks.wrap(segment, offset, Integer.BYTES, Integer.BYTES, "SharedBoolean"),
                Blocks.closedMessage("SharedBoolean", offset));
    }

    /** @return the flag, volatile */
    public boolean get() {
        try {
            return (int) VALUE.getVolatile(segment, 0L) != 0;
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the flag, volatile. */
    public void set(boolean newValue) {
        try {
            VALUE.setVolatile(segment, 0L, bits(newValue));
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the flag, acquire (pairs with {@link #setRelease(boolean)}) */
    public boolean getAcquire() {
        try {
            return (int) VALUE.getAcquire(segment, 0L) != 0;
        } catch (IllegalStateException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** Sets the flag, release. */
    public void setRelease(boolean newValue) {
        try {
            VALUE.setRelease(segment, 0L, bits(newValue));
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /**
     * @return true if the flag was {@code expected} and is now {@code newValue}; as for {@link #get()}, any non-zero
     *         int (another writer's, say) counts as true
     */
    public boolean compareAndSet(boolean expected, boolean newValue) {
        try {
            if (!expected) {
                return VALUE.compareAndSet(segment, 0L, 0, bits(newValue));
            }
            while (true) {
                int current = (int) VALUE.getVolatile(segment, 0L);
                if (current == 0) {
                    return false;
                }
                if (VALUE.compareAndSet(segment, 0L, current, bits(newValue))) {
                    return true;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the previous flag, after setting {@code newValue} */
    public boolean getAndSet(boolean newValue) {
        try {
            return (int) VALUE.getAndSet(segment, 0L, bits(newValue)) != 0;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw Blocks.closedOr(e, segment.scope(), closedMessage);
        }
    }

    /** @return the 4 bytes of the flag */
    public MemorySegment segment() {
        return segment.asSlice(0, Integer.BYTES);
    }

    @Override
    public String toString() {
        return Blocks.unlessClosed(segment.scope(), () -> Boolean.toString(get()), closedMessage);
    }

    private static int bits(boolean value) {
        return value ? 1 : 0;
    }
}
