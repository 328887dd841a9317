package org.shm4j.sync.list;

import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.Codec;
import org.shm4j.sync.RecordCodec;
import org.shm4j.sync.SealedCodec;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.ExactEncoding;
import org.shm4j.sync.internal.Settling;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.list.ListLayout.LIST_CODEC_OFFSET;
import static org.shm4j.sync.list.ListLayout.MAX_CHUNKS;
import static org.shm4j.sync.list.ListLayout.OP_INSERT;
import static org.shm4j.sync.list.ListLayout.OP_REMOVE;
import static org.shm4j.sync.list.ListLayout.OP_SET;

/**
 * A growable list of typed values in a {@link SharedHeap}, for any threads of any processes: Python's
 * {@code Manager().list()} without its server process. Values are encoded by a {@link Codec} (records included) into
 * fixed-size slots of {@code maxElementBytes}, declared at creation; the codec's type id (a record codec's
 * {@linkplain RecordCodec#fingerprint() fingerprint}) is kept in the header, so a process that opens the list with
 * another codec fails clearly.
 *
 * <h2>Operations and their cost</h2>
 * {@link #get}, {@link #set}, {@link #add(Object)} (append), {@link #removeLast()}, {@link #size()} and
 * {@link #clear()} take O(1) (plus the element's bytes); {@link #add(int, Object)} and {@link #remove(int)} shift the
 * slots after the index, O(size - index); {@link #addAll} (Python's {@code extend}) appends several as one change;
 * {@link #indexOf}, {@link #contains} and {@link #remove(Object)} compare elements as stored (their encoded bytes),
 * O(size), under the mutex (through a heap opened read-only, which cannot take it, {@code indexOf} and
 * {@code contains} read as {@link #get} does). Growth allocates chunk blocks in the heap ({@code <name>.chunk<k>},
 * chunk k holding 64 &times; 2<sup>k</sup> slots), so the list grows until the heap is full ({@link ShmFullException}
 * with the figures) or reaches {@link #maxSize()}; blocks are never freed, so removing does not give memory back.
 *
 * <p>Python's list methods in Java's terms: indices run from 0 to {@code size() - 1}, and a negative one is refused
 * with {@link IndexOutOfBoundsException}, not counted from the end as in Python's {@code l[-1]};
 * {@link #removeLast()} is {@code pop()} and {@link #remove(int)} {@code pop(i)}; {@link #add(int, Object)} refuses an
 * index past the size, where Python's {@code insert} appends; {@link #indexOf} answers -1 and
 * {@link #remove(Object)} false where Python raises {@code ValueError}. There is no {@code count} and no slicing:
 * take a {@link #snapshot()}, a {@link List}.
 *
 * <h2>Consistency</h2>
 * Writers take a robust mutex (the same as {@link org.shm4j.sync.locks.SharedLock}'s: pid and start time in the lock
 * word); readers take no lock but a seqlock: they copy an element's bytes and retry if a writer changed anything
 * meanwhile, taking the mutex after 64 failed tries (through a heap opened read-only, which cannot take it, they read
 * again for a second, or up to two while a change that began in it is still under way, then throw {@link
 * IllegalStateException} naming the list). Set, insert and remove first write the new element to a scratch slot and
 * commit a redo journal, so a writer killed at any point leaves the list as before or after its change once the next
 * writer (or a reader that falls back to the mutex) takes the mutex over and finishes it; an append publishes its slot
 * by the size store. No reader sees a half-written element.
 *
 * <p>Iteration is over a snapshot, like {@link java.util.concurrent.CopyOnWriteArrayList}'s: {@link #iterator()}
 * copies every element's bytes in one consistent read (O(size) memory), never throws
 * {@link java.util.ConcurrentModificationException}, and does not see later changes. This is not a
 * {@link java.util.List}: a view (sub-list, list iterator) of a list other processes change would mean little.
 *
 * <p>Memory consistency effects: actions of a thread before a change of the list happen-before actions after a read
 * (in any thread or process) that returns that change.
 *
 * <h2>Layout of the header block (type {@code 0x53480071}, version 2; 1 had the mutex of a v2 {@code SharedLock})</h2>
 * <table class="striped">
 * <caption>Header: 256 bytes, then the scratch slot</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic {@code "SHM4JLST"}</td><td>plain; published with the block</td></tr>
 * <tr><td>8</td><td>4</td><td>codec type id</td><td>plain; published with the block</td></tr>
 * <tr><td>12</td><td>4</td><td>maxElementBytes, 0..2<sup>20</sup></td><td>plain; published with the block</td></tr>
 * <tr><td>16</td><td>4</td><td>slotBytes: 4 + maxElementBytes rounded up to 8</td><td>plain; published with the
 *     block</td></tr>
 * <tr><td>64</td><td>40</td><td>writers' robust mutex</td><td>see {@code SharedLock}</td></tr>
 * <tr><td>128</td><td>8</td><td>seq: odd while a writer changes slots or size</td><td>writer: opaque odd, store-store
 *     fence, changes, release even; reader: acquire, plain copies, load-load fence, opaque</td></tr>
 * <tr><td>136</td><td>8</td><td>size</td><td>release by the writer (after it made the chunks below it); acquire,
 *     validated by seq, for readers</td></tr>
 * <tr><td>144</td><td>4</td><td>journal op: 0 none, 1 set, 2 remove, 3 insert</td><td>release: the commit point
 *     of a set, insert or remove; release back to 0 when done</td></tr>
 * <tr><td>152</td><td>8</td><td>journal index</td><td>plain; published by the op</td></tr>
 * <tr><td>160</td><td>8</td><td>journal progress: the next slot to shift</td><td>release after each slot
 *     shifted</td></tr>
 * <tr><td>168</td><td>8</td><td>journal size: the size before the change</td><td>plain; published by the op</td></tr>
 * <tr><td>256</td><td>slotBytes</td><td>scratch slot: the element being set or inserted</td><td>plain; published by
 *     the op</td></tr>
 * </table>
 * A slot (in a chunk block, type {@code 0x53480072}, of {@code 64 << k} slots) is the element's encoded length (int)
 * and its bytes; other header bytes are zero.
 *
 * @param <T> the element type
 */
public final class SharedList<T> implements Iterable<T> {
    private static final int READ_TRIES = 64;
    /** {@link #indexIn}'s answer for a length out of range read without the mutex: a torn read, or damage. */
    private static final int TORN = -2;

    private final ListStore store;
    private final Codec<T> codec;

    private SharedList(ListStore store, Codec<T> codec) {
        this.store = store;
        this.codec = codec;
    }

    /**
     * Creates an empty list named {@code name} in {@code heap}.
     *
     * @param maxElementBytes the longest encoded element, 0 to 2<sup>20</sup>: every slot has room for it
     * @throws IllegalArgumentException                 if {@code maxElementBytes} is out of range
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static <T> SharedList<T> create(SharedHeap heap, String name, Codec<T> codec, int maxElementBytes) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec");
            return new SharedList<>(ListHeaders.create(heap, name, codec.typeId(), maxElementBytes), codec);
        });
    }

    /**
     * Opens the list named {@code name}.
     *
     * @throws ShmTypeMismatchException             if it was made with another codec (another type id)
     * @throws org.shm4j.core.ShmNotFoundException  if there is no block of that name
     * @throws org.shm4j.core.ShmFormatException    if its header is damaged
     */
    public static <T> SharedList<T> open(SharedHeap heap, String name, Codec<T> codec) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec");
            return checked(new SharedList<>(ListHeaders.open(heap, name), codec));
        });
    }

    /**
     * Opens the list named {@code name}, or creates it empty; exactly one of racing callers creates it.
     *
     * @throws ShmTypeMismatchException if it exists with another codec or another {@code maxElementBytes}
     */
    public static <T> SharedList<T> openOrCreate(SharedHeap heap, String name, Codec<T> codec, int maxElementBytes) {
        return Blocks.opening(heap, () -> {
            Objects.requireNonNull(codec, "codec");
            SharedList<T> list;
            try {
                list = checked(new SharedList<>(ListHeaders.openOrCreate(heap, name, codec.typeId(), maxElementBytes),
                        codec));
            } catch (ShmTypeMismatchException e) { // the header's size follows maxElementBytes: say it so
                throw Blocks.mismatch(e, () -> {
                    SharedList<T> existing = open(heap, name, codec);
                    return existing.store.what() + " exists with maxElementBytes=" + existing.store.maxElementBytes
                            + " (asked: " + maxElementBytes + ")";
                });
            }
            if (list.store.maxElementBytes != maxElementBytes) {
                throw new ShmTypeMismatchException(list.store.what() + " exists with maxElementBytes="
                        + list.store.maxElementBytes + " (expected: " + maxElementBytes + ")");
            }
            return list;
        });
    }

    /** @return the number of elements now (a snapshot) */
    public int size() {
        try {
            return store.size();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /**
     * Reads the size of the list named {@code name} without knowing its codec, for tools such as
     * {@code shm4j inspect}: one load, no lock taken, nothing written (a heap opened read-only will do).
     *
     * @return the number of elements now (a snapshot)
     * @throws org.shm4j.core.ShmNotFoundException     if there is no such block
     * @throws org.shm4j.core.ShmTypeMismatchException if it is not a list of this layout version
     * @throws org.shm4j.core.ShmFormatException       if its header is corrupted
     */
    public static int sizeOf(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> ListHeaders.open(heap, name).size());
    }

    /** @return the heap block type of a list's header block (tag and layout version), for tools */
    public static BlockType blockType() {
        return ListLayout.LIST;
    }

    /** @return the heap block type of the chunk blocks that hold a list's elements, for tools */
    public static BlockType chunkBlockType() {
        return ListLayout.LIST_CHUNK;
    }

    /** @return true if the list has no element now */
    public boolean isEmpty() {
        return size() == 0;
    }

    /** @return the most elements the list can hold (if the heap has room for them) */
    public int maxSize() {
        return (int) ListStore.slotsIn(MAX_CHUNKS);
    }

    /** @return the longest encoded element, fixed at creation */
    public int maxElementBytes() {
        return store.maxElementBytes;
    }

    /**
     * @return the element at {@code index}, read without locking (see the class comment)
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size())}
     * @throws ShmFormatException        if the codec cannot decode the element's bytes (whatever it throws, the
     *                                   cause): damaged bytes, a codec of another shape with the same type id, or
     *                                   one that refuses the value (a record's compact constructor); also from
     *                                   {@link #snapshot()} and iteration
     */
    public T get(int index) {
        try {
            return read(index);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    private T read(int index) {
        ElementBuffer buffer = ElementBuffer.take();
        Settling settling = null;
        try {
            for (int attempt = 0; attempt < READ_TRIES || (settling = store.settleReadOnly(settling)) != null;
                 attempt++) {
                long seq = store.beginRead();
                if ((seq & 1) != 0) {
                    Thread.onSpinWait(); // a writer is changing the list
                    continue;
                }
                int size = store.size();
                int length = index >= 0 && index < size ? store.copyInto(index, buffer) : -1;
                if (store.validate(seq)) {
                    if (length >= 0) {
                        return decode(index, buffer.current(), length);
                    }
                    checkIndex(index, size, size); // a consistent size: the index is out of range, or damage
                    throwIfDamaged(seq, index);
                }
            }
        } finally {
            Settling.end(settling);
            buffer.release();
        }
        lock();
        try {
            checkIndex(index, store.size(), store.size());
            return decodeLocked(index);
        } finally {
            try {
                store.mutex.release(false, store.what());
            } catch (StackOverflowError e) { // the mutex left held: see lock()
                store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
    }

    /**
     * Replaces the element at {@code index}.
     *
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size())}
     * @throws IllegalArgumentException  if the encoded value is longer than {@link #maxElementBytes()}
     */
    public void set(int index, T value) {
        int length = encodedLength(value);
        try {
            lock();
            try {
                checkIndex(index, store.size(), store.size());
                writeScratch(value, length);
                store.apply(OP_SET, index, 0, store.size());
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /**
     * Appends {@code value}.
     *
     * @throws IllegalArgumentException if the encoded value is longer than {@link #maxElementBytes()}
     * @throws ShmFullException         if the heap has no room for the next chunk, or the list has {@link #maxSize()}
     */
    public void add(T value) {
        int length = encodedLength(value);
        try {
            lock();
            try {
                int size = store.size();
                ensureRoomFor(size);
                store.beginWrite();
                try {
                    writeSlot(size, value, length);
                    store.setSize(size + 1);
                } finally {
                    store.endWrite(); // also if the codec threw: the slot past the size is not part of the list
                }
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /**
     * Appends every value of {@code values}, in its order, as one change (Python's {@code extend}): a reader sees
     * none of them or all, and a value that cannot be stored (null, too long, a codec that fails) adds none.
     *
     * @throws NullPointerException     naming this list, if a value is null; nothing is added
     * @throws IllegalArgumentException if an encoded value is longer than {@link #maxElementBytes()}; nothing is added
     * @throws ShmFullException         if the heap has no room for the chunks, or the list would pass
     *                                  {@link #maxSize()}; nothing is added
     */
    public void addAll(Collection<? extends T> values) {
        List<T> copy = new ArrayList<>(Objects.requireNonNull(values, "values")); // one look at one that changes
        int[] lengths = new int[copy.size()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = encodedLength(copy.get(i));
        }
        try {
            lock();
            try {
                int size = store.size();
                for (int i = 0; i < lengths.length; i++) {
                    ensureRoomFor(size + i);
                }
                store.beginWrite();
                try {
                    for (int i = 0; i < lengths.length; i++) {
                        writeSlot(size + i, copy.get(i), lengths[i]);
                    }
                    store.setSize(size + lengths.length);
                } finally {
                    store.endWrite(); // also if a codec threw: the slots past the size are not part of the list
                }
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /** Writes {@code value} into the slot at {@code index}, past the size: the size's release store publishes it. */
    private void writeSlot(int index, T value, int length) {
        MemorySegment chunk = store.slotSegment(index);
        long at = store.slotOffset(index);
        chunk.set(JAVA_INT, at, length); // plain: published by the size's release
        ExactEncoding.writeExactly(codec, value, length, chunk, at + Integer.BYTES, false, store.what(), "added");
    }

    /**
     * Finds the first element stored as {@code value} would be: whose encoded bytes are {@code value}'s (Python's
     * {@code index} finds one equal to it), in one look under the list's mutex (through a heap opened read-only,
     * which cannot take it, in one consistent read, as {@link #get} reads).
     *
     * @return its index, or -1 (also for null, a value of a class the codec does not take, or a value longer than any
     *         element)
     * @throws IllegalArgumentException naming the list, if the codec refuses the value (a string with a lone
     *                                  surrogate, say), as {@link #add(Object)} would
     * @throws IllegalStateException    naming the list, through a heap opened read-only, if writers gave no consistent
     *                                  read for a second, or up to two (see Consistency)
     */
    public int indexOf(T value) {
        byte[] sought = encodedOrNull(value);
        if (sought == null) {
            return -1;
        }
        try {
            if (store.header.isReadOnly()) {
                return indexReadOnly(sought); // it cannot take the mutex
            }
            lock();
            try {
                return indexLocked(sought);
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /**
     * {@link #indexOf} through a heap opened read-only, which cannot take the mutex: one look under the seqlock,
     * read again as {@link #get} reads (64 tries, then for a second, or up to two: see Consistency).
     *
     * @return the index of the first element whose bytes are {@code sought}, or -1
     * @throws IllegalStateException naming the list, once those retries are over ({@link ListStore#settleReadOnly})
     * @throws ShmFormatException    naming the element, if a consistent read finds its length out of range, as under
     *                               the mutex
     */
    private int indexReadOnly(byte[] sought) {
        Settling settling = null;
        try {
            for (int attempt = 0; ; attempt++) {
                long seq = store.beginRead();
                if ((seq & 1) == 0) {
                    int index = indexIn(sought, false);
                    if (store.validate(seq)) {
                        if (index != TORN) {
                            return index;
                        }
                        throwIfDamaged(seq, store.firstDamaged(store.size()));
                    }
                }
                if (attempt < READ_TRIES) {
                    Thread.onSpinWait(); // a writer is changing the list
                } else {
                    settling = store.settleReadOnly(settling); // never null: the heap is read-only
                }
            }
        } finally {
            Settling.end(settling);
        }
    }

    /**
     * @return true if an element is stored as {@code value} would be
     * @throws IllegalArgumentException as {@link #indexOf}
     */
    public boolean contains(T value) {
        return indexOf(value) >= 0;
    }

    /**
     * Removes the first element stored as {@code value} would be (see {@link #indexOf}), found and removed in one
     * hold of the list's mutex, as Python's {@code remove} does: O(size). For a {@code SharedList<Integer>},
     * {@code remove(3)} is {@link #remove(int)}; {@code remove(Integer.valueOf(3))} is this one, as in a
     * {@link List}.
     *
     * @return true if one was removed
     * @throws IllegalArgumentException as {@link #indexOf}
     */
    public boolean remove(Object value) {
        @SuppressWarnings("unchecked") byte[] sought = encodedOrNull((T) value);
        if (sought == null) {
            return false;
        }
        try {
            lock();
            try {
                int index = indexLocked(sought);
                if (index >= 0) {
                    store.apply(OP_REMOVE, index, index, store.size());
                }
                return index >= 0;
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /**
     * @return {@code value} as the codec stores it, or null if it cannot be an element: null, a value of a type the
     *         codec does not take, or one longer than {@link #maxElementBytes()}
     */
    private byte[] encodedOrNull(T value) {
        try {
            int length = value == null ? -1 : ExactEncoding.measure(codec, value, store.what());
            if (length < 0 || length > store.maxElementBytes) {
                return null;
            }
            byte[] bytes = new byte[length + Long.BYTES]; // room for the guard word of a codec's own bytes
            ExactEncoding.writeExactly(codec, value, length, MemorySegment.ofArray(bytes), 0, true, store.what(),
                    "looked for");
            return Arrays.copyOf(bytes, length);
        } catch (ClassCastException e) {
            return null;
        }
    }

    /**
     * After a read in the seqlock section begun at {@code seq} met a length out of range and the section held (not a
     * torn read, then: damage), throws for slot {@code damaged} as a read under the mutex does, if the section still
     * holds (else a writer came in since, and the caller reads again).
     *
     * @param damaged the slot, or -1 if a look again found none (a writer came in)
     */
    private void throwIfDamaged(long seq, int damaged) {
        if (damaged >= 0) {
            ShmFormatException e = store.damagedSlot(damaged); // its length word read in the section, validated next
            if (store.validate(seq)) {
                throw e;
            }
        }
    }

    /** @return the index of the first element whose bytes are {@code sought}, or -1; the caller holds the mutex */
    private int indexLocked(byte[] sought) {
        return indexIn(sought, true);
    }

    /**
     * @return the index of the first element whose bytes are {@code sought}, or -1; or, unless {@code locked} (read
     *         under the mutex, where it throws), {@link #TORN} at a length out of range (the caller validates the
     *         seqlock section it read in)
     */
    private int indexIn(byte[] sought, boolean locked) {
        MemorySegment target = MemorySegment.ofArray(sought);
        ElementBuffer buffer = ElementBuffer.take();
        try {
            int size = store.size();
            for (int i = 0; i < size; i++) {
                int length = store.copyInto(i, buffer);
                if (length < 0) {
                    if (!locked) {
                        return TORN;
                    }
                    throw store.damagedSlot(i);
                }
                if (length == sought.length
                        && MemorySegment.mismatch(buffer.current(), 0, length, target, 0, length) < 0) {
                    return i;
                }
            }
            return -1;
        } finally {
            buffer.release();
        }
    }

    /**
     * Inserts {@code value} at {@code index}, shifting the elements from there up by one: O(size - index).
     *
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size()]}
     * @throws IllegalArgumentException  if the encoded value is longer than {@link #maxElementBytes()}
     * @throws ShmFullException         if the heap has no room for the next chunk, or the list has {@link #maxSize()}
     */
    public void add(int index, T value) {
        int length = encodedLength(value);
        try {
            lock();
            try {
                int size = store.size();
                checkIndex(index, size + 1, size);
                ensureRoomFor(size);
                writeScratch(value, length);
                store.apply(OP_INSERT, index, size, size);
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /**
     * Removes the element at {@code index}, shifting the elements after it down by one: O(size - index).
     *
     * @return the element removed
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size())}
     */
    public T remove(int index) {
        try {
            lock();
            try {
                return removeLocked(index, store.size());
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /**
     * Removes the last element: O(1).
     *
     * @return the element removed
     * @throws NoSuchElementException if the list is empty
     */
    public T removeLast() {
        try {
            lock();
            try {
                int size = store.size();
                if (size == 0) {
                    throw new NoSuchElementException(store.what() + " is empty");
                }
                return removeLocked(size - 1, size);
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /** Removes every element: O(1); the chunks stay allocated for later elements. */
    public void clear() {
        try {
            lock();
            try {
                store.beginWrite();
                store.setSize(0);
                store.endWrite();
            } finally {
                try {
                    store.mutex.release(false, store.what());
                } catch (StackOverflowError e) { // the mutex left held: see lock()
                    store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                    throw e;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /** @return how many times a writer found the mutex held by a dead process and finished that writer's change */
    public long recoveries() {
        try {
            return store.mutex.recoveries();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
    }

    /** @return the elements now, in one consistent read, as an unmodifiable list */
    public List<T> snapshot() {
        List<byte[]> copies;
        try {
            copies = copyAll();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw store.closed(e);
        }
        List<T> values = new ArrayList<>(copies.size());
        for (byte[] bytes : copies) {
            values.add(decode(values.size(), MemorySegment.ofArray(bytes), bytes.length));
        }
        return Collections.unmodifiableList(values);
    }

    /** @return an iterator over a {@link #snapshot()}: it never sees later changes and does not remove */
    @Override
    public Iterator<T> iterator() {
        return snapshot().iterator();
    }

    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(store.header.scope(), store.what(),
                () -> {
                    int size = size();
                    return store.what() + " of " + size + (size == 1 ? " element" : " elements");
                });
    }

    private static <T> SharedList<T> checked(SharedList<T> list) {
        int stored = list.store.header.get(JAVA_INT, LIST_CODEC_OFFSET); // plain: written before publication
        if (stored != list.codec.typeId()) {
            boolean shaped = list.codec instanceof RecordCodec<?> || list.codec instanceof SealedCodec<?>;
            throw new ShmTypeMismatchException(list.store.what() + " holds elements of codec type 0x"
                    + Integer.toHexString(stored) + ", but the codec given "
                    + (shaped ? "is " + list.codec : "has type 0x" + Integer.toHexString(list.codec.typeId())));
        }
        return list;
    }

    private T removeLocked(int index, int size) {
        checkIndex(index, size, size);
        T removed = decodeLocked(index);
        store.apply(OP_REMOVE, index, index, size);
        return removed;
    }

    private List<byte[]> copyAll() {
        Settling settling = null;
        try {
            for (int attempt = 0; attempt < READ_TRIES || (settling = store.settleReadOnly(settling)) != null;
                 attempt++) {
                long seq = store.beginRead();
                if ((seq & 1) != 0) {
                    Thread.onSpinWait(); // a writer is changing the list
                    continue;
                }
                List<byte[]> copies = copyUpTo(store.size(), false);
                if (store.validate(seq)) {
                    if (copies != null) {
                        return copies;
                    }
                    throwIfDamaged(seq, store.firstDamaged(store.size()));
                }
            }
        } finally {
            Settling.end(settling);
        }
        lock();
        try {
            return copyUpTo(store.size(), true);
        } finally {
            try {
                store.mutex.release(false, store.what());
            } catch (StackOverflowError e) { // the mutex left held: see lock()
                store.mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
    }

    /** @return copies of the first {@code size} elements, or null at a length out of range unless {@code locked} */
    private List<byte[]> copyUpTo(int size, boolean locked) {
        List<byte[]> copies = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            byte[] bytes = locked ? readLocked(i) : store.copy(i);
            if (bytes == null) {
                return null;
            }
            copies.add(bytes);
        }
        return copies;
    }

    private byte[] readLocked(int index) {
        byte[] bytes = store.copy(index);
        if (bytes == null) {
            throw store.damagedSlot(index);
        }
        return bytes;
    }

    /** @return the element at {@code index}, decoded under the mutex through the thread's {@link ElementBuffer} */
    private T decodeLocked(int index) {
        ElementBuffer buffer = ElementBuffer.take();
        try {
            int length = store.copyInto(index, buffer);
            if (length < 0) {
                throw store.damagedSlot(index);
            }
            return decode(index, buffer.current(), length);
        } finally {
            buffer.release();
        }
    }

    /**
     * @return element {@code index} decoded from its {@code length} stored bytes at the start of {@code bytes}
     * @throws ShmFormatException naming the list and the element, if the codec fails on them (elements carry no
     *                            checksum: damaged bytes, a codec of another shape with the same type id, or one
     *                            that refuses the value, a record's compact constructor say)
     */
    private T decode(int index, MemorySegment bytes, int length) {
        try {
            return codec.decode(bytes, 0, length);
        } catch (RuntimeException e) {
            throw new ShmFormatException(store.what() + ": its codec (type " + Blocks.typeId(codec.typeId())
                    + ") cannot decode element " + index + " of " + length + " bytes (corrupted bytes, written by a "
                    + "codec of another shape with the same type id, or refused by the codec: see the cause): " + e, e);
        }
    }

    private int encodedLength(T value) {
        if (value == null) {
            throw new NullPointerException(store.what() + ": a null element (a SharedList holds none, as its codec"
                    + " encodes values; where Python code stores None, store a value of its own)");
        }
        int length = ExactEncoding.measure(codec, value, store.what());
        if (length < 0 || length > store.maxElementBytes) {
            throw new IllegalArgumentException(store.what() + ": encoded value length=" + length + " (expected: 0.."
                    + store.maxElementBytes + ", the maxElementBytes fixed at creation)");
        }
        return length;
    }

    private void writeScratch(T value, int length) {
        store.header.set(JAVA_INT, store.scratchOffset(), length); // plain: published by the journal's release
        ExactEncoding.writeExactly(codec, value, length, store.header, store.scratchOffset() + Integer.BYTES, false,
                store.what(), "stored");
    }

    private void ensureRoomFor(int size) {
        if (size >= maxSize()) {
            throw new ShmFullException(store.what() + " is full: size=" + size + ", capacity=" + maxSize()
                    + " elements (its most)");
        }
        store.ensureSlot(size);
    }

    /** @throws IndexOutOfBoundsException unless {@code 0 <= index < bound}, naming the list and its size */
    private void checkIndex(int index, int bound, int size) {
        if (index < 0 || index >= bound) {
            throw new IndexOutOfBoundsException(store.what() + ": index=" + index + (bound == 0
                    ? " (the list is empty)" : " (expected: 0.." + (bound - 1) + ", size " + size + ")"));
        }
    }

    /**
     * Takes the writers' mutex. Each release of it runs in a {@code finally}, at about the depth where a codec or the
     * change overflowed, and a {@link StackOverflowError} that cuts it short leaves the mutex held by no thread that
     * will release it: the release's own catch notes the hold in {@code RobustMutex.leaked} (a field store, in the
     * releasing frame: a helper method's call could overflow at its entry, in the caller's frame, past any catch of
     * its own), and the next lock through this list object takes it over, finishing a journaled change cut short as
     * after a dead writer (see {@link ListStore#recover}).
     */
    private void lock() {
        ListHeaders.lock(store);
    }
}
