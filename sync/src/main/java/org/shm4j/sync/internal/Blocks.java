package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.internal.HeapClosed;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.HeapMappings;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Finding and checking the memory of a sync structure: a named heap block of the right type (and, for fixed-size
 * structures, size), or a caller's segment at an offset that is in bounds and naturally aligned (atomic access needs
 * it); and the one message format of a header that fails its checks.
 */
public final class Blocks {
    private static final String CANNOT_BE_USED = " cannot be used";
    /** What {@code java.lang.foreign} says when a write meets a read-only segment (JDK 22 to 25). */
    private static final String READ_ONLY_WRITE = "write a read-only segment";
    /** The end of the message a write to read-only memory gets, after the structure's name. */
    private static final String READ_ONLY_MESSAGE = " cannot be written here: its memory is mapped read-only (a heap"
            + " opened by openReadOnly, or a read-only segment); reads work";
    /** The classes whose block types name this module's kinds ({@link BlockType#named}, run as each initialises). */
    private static final List<String> LAYOUTS = List.of("org.shm4j.sync.internal.SyncLayout",
            "org.shm4j.sync.internal.CountersLayout", "org.shm4j.sync.internal.WaitLayout",
            "org.shm4j.sync.list.ListLayout", "org.shm4j.sync.map.MapLayout");

    static { // so that a heap's type mismatch names the kind found, whichever structures this JVM used before
        for (String layout : LAYOUTS) {
            try {
                Class.forName(layout, true, Blocks.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
        ReopenSweep.register(); // before any structure can hold anything in a heap
    }

    private Blocks() {
    }

    /** @return the memory of a new block; see {@link SharedHeap#allocate(String, BlockType, long, long, Consumer)} */
    public static MemorySegment create(SharedHeap heap, String name, BlockType type, long byteSize,
                                       Consumer<MemorySegment> init) {
        return Objects.requireNonNull(heap, "heap").allocate(name, type, byteSize, SyncLayout.CACHE_LINE, init)
                .segment();
    }

    /** @return the memory of an existing block, type-checked */
    public static MemorySegment open(SharedHeap heap, String name, BlockType type) {
        return Objects.requireNonNull(heap, "heap").lookup(name, type).segment();
    }

    /**
     * @return the memory of an existing block of a fixed-size structure, type- and size-checked
     * @throws ShmFormatException if the block is not {@code byteSize} bytes (a block of the right type made with the
     *                            wrong size, which the catalog's checksum does not catch)
     */
    public static MemorySegment open(SharedHeap heap, String name, BlockType type, long byteSize, String kind) {
        MemorySegment block = open(heap, name, type);
        if (block.byteSize() != byteSize) {
            throw corrupt(kind + " '" + name + "'", "block size", block.byteSize(), String.valueOf(byteSize));
        }
        return block;
    }

    /** @return the memory of the block, allocated and initialised by exactly one of the racing callers */
    public static MemorySegment openOrCreate(SharedHeap heap, String name, BlockType type, long byteSize,
                                             Consumer<MemorySegment> init) {
        return Objects.requireNonNull(heap, "heap")
                .allocateOrLookup(name, type, byteSize, SyncLayout.CACHE_LINE, init).segment();
    }

    /**
     * Runs a public factory's body ({@code create}, {@code open}, {@code openOrCreate}: the heap's lookup or
     * allocation, then the structure's checks of its header), so that a close of {@code heap} by another thread
     * meanwhile is reported as the heap's own lookups report it. The header checks read the block and know no heap:
     * cut short by the close, they threw the JDK's bare "Already closed".
     *
     * @return what {@code body} returns
     * @throws NullPointerException  naming it, if {@code heap} is null, before {@code body} runs
     * @throws IllegalStateException worded as the heap's own ({@code "heap <region> is closed"}), with the failure
     *                               as its cause, if {@code body} threw one and {@code heap} is closed; else what
     *                               {@code body} threw
     */
    public static <T> T opening(SharedHeap heap, Supplier<T> body) {
        Objects.requireNonNull(heap, "heap"); // first, for every factory: before any other argument is looked at
        Utf8.initialize(); // here, shallow: codecs' text and counters' labels use it in operations
        try {
            return body.get();
        } catch (IllegalStateException e) {
            if (!heap.memory().isClosed()) {
                throw e;
            }
            throw HeapClosed.is(e, heap) ? e : HeapClosed.exception(heap, e); // SharedHeap's own words
        }
    }

    /**
     * @return the exception for a block named {@code name} that already exists in {@code heap}, worded as the heap's
     *         own (for a structure that finds the name taken before it makes its last block)
     */
    public static ShmAlreadyExistsException alreadyExists(SharedHeap heap, String name) {
        return new ShmAlreadyExistsException("block '" + name + "' already exists in " + heap);
    }

    /** @return the message for the {@code kind} named {@code name} used after {@code heap} was closed */
    public static String closedMessage(String kind, String name, SharedHeap heap) {
        return kind + " '" + name + "'" + CANNOT_BE_USED + ": its " + heap + " is closed";
    }

    /** @return the message for the {@code kind} wrapped at {@code offset} of a segment that was then closed */
    public static String closedMessage(String kind, long offset) {
        return kind + " at offset " + offset + " of a wrapped segment" + CANNOT_BE_USED + ": that segment is closed";
    }

    /**
     * @return {@code length}, the encoded length a codec measured, as the {@code int} its {@code encodedLength} returns
     * @throws IllegalArgumentException naming {@code codec} and the limit, if it is over {@code Integer.MAX_VALUE}
     */
    public static int encodedLength(Object codec, long length) {
        if (length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(codec + ": encoded length=" + length + " (expected: 0.."
                    + Integer.MAX_VALUE + ")");
        }
        return (int) length;
    }

    /** @return a codec type id or record fingerprint as messages show it, e.g. {@code 0x00000003} */
    public static String typeId(int typeId) {
        return String.format("0x%08x", typeId);
    }

    /** @return the structure a {@link #closedMessage} names, e.g. {@code SharedLongArray 'prices'}, for messages */
    public static String subject(String closedMessage) {
        int end = closedMessage.indexOf(CANNOT_BE_USED);
        return end < 0 ? closedMessage : closedMessage.substring(0, end);
    }

    /**
     * Turns the failure of a structure's memory access into what its public method throws. Called only from catch
     * blocks around a method's body, so that the hot path pays nothing.
     *
     * @param failure       an {@link IllegalStateException} or {@link IllegalArgumentException} the body threw
     * @param memory        the scope of the structure's memory
     * @param closedMessage {@link #closedMessage(String, String, SharedHeap)} or {@link #closedMessage(String, long)}
     * @return if {@code memory} is closed, an {@link IllegalStateException} naming the structure, with the JDK's bare
     *         "Already closed" as its cause (also when a structure beneath this one, such as a queue's ring, already
     *         named itself: its message is replaced); if {@code failure} is the JDK's refusal to write a read-only
     *         segment, an {@link IllegalStateException} naming the structure and why its memory is read-only, with
     *         that refusal as its cause; otherwise {@code failure} itself
     */
    public static RuntimeException closedOr(RuntimeException failure, MemorySegment.Scope memory,
                                            String closedMessage) {
        IllegalArgumentException readOnly = readOnlyWrite(failure);
        if (readOnly != null) {
            String message = subject(closedMessage) + READ_ONLY_MESSAGE;
            return message.equals(failure.getMessage()) ? failure : new IllegalStateException(message, readOnly);
        }
        if (memory.isAlive() || closedMessage.equals(failure.getMessage())) {
            return failure;
        }
        Throwable jdk = isClosedMessage(failure) ? failure.getCause() : failure;
        return new IllegalStateException(closedMessage, jdk);
    }

    /**
     * @return {@code java.lang.foreign}'s refusal to write a read-only segment if {@code failure} is that refusal or
     *         a structure's re-wording of it (a queue's ring names itself first), else null
     */
    private static IllegalArgumentException readOnlyWrite(RuntimeException failure) {
        Throwable jdk = failure instanceof IllegalStateException && failure.getMessage() != null
                && failure.getMessage().endsWith(READ_ONLY_MESSAGE) ? failure.getCause() : failure;
        return jdk instanceof IllegalArgumentException refusal && refusal.getMessage() != null
                && refusal.getMessage().contains(READ_ONLY_WRITE) ? refusal : null;
    }

    /**
     * @param what the ring, or the queue or pipe over it, for the message ({@code "pipe 'jobs'"})
     * @return the bytes of the block of a ring of {@code capacity}: its header, then the data
     * @throws IllegalArgumentException as {@link #checkRingCapacity} does
     */
    public static long ringBlockSize(String what, int capacity) {
        return SyncLayout.RING_HEADER_SIZE + checkRingCapacity(what, capacity);
    }

    /**
     * Checks a ring's capacity, before anything is made.
     *
     * @param what the ring, or the queue or pipe over it, for the message ({@code "pipe 'jobs'"})
     * @return {@code capacity}
     * @throws IllegalArgumentException naming {@code what} if the capacity is not a power of two from
     *                                  {@link SyncLayout#RING_MIN_CAPACITY} to {@link SyncLayout#RING_MAX_CAPACITY}
     */
    public static int checkRingCapacity(String what, int capacity) {
        if (capacity < SyncLayout.RING_MIN_CAPACITY || capacity > SyncLayout.RING_MAX_CAPACITY
                || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException(what + ": capacity=" + capacity + " (expected: a power of 2 from "
                    + SyncLayout.RING_MIN_CAPACITY + " to " + SyncLayout.RING_MAX_CAPACITY + ")");
        }
        return capacity;
    }

    /**
     * @param what     the ring, queue or pipe end, e.g. {@code queue 'q'}
     * @param quantity what is too long, e.g. {@code message length} or {@code encoded value length}
     * @return the exception for a message of {@code length} bytes, longer than a ring of {@code capacity} bytes takes
     *         ({@code capacity / 8 - 8}): it names the smallest capacity that takes it, if there is one
     */
    public static IllegalArgumentException messageTooLong(String what, String quantity, long length, int capacity) {
        long needed = Math.max(SyncLayout.RING_MIN_CAPACITY, Long.highestOneBit(8 * (length + 8) - 1) << 1);
        String fits = length < 0 ? "" : needed <= SyncLayout.RING_MAX_CAPACITY ? "; a capacity of " + needed
                + " takes it" : "; no capacity takes it: at most " + (SyncLayout.RING_MAX_CAPACITY / 8 - 8) + " bytes";
        return new IllegalArgumentException(what + ": " + quantity + "=" + length + " (expected: 0.."
                + (capacity / 8 - 8) + ", capacity " + capacity + " / 8 - 8" + fits + ")");
    }

    /**
     * Refuses to make a structure of several blocks that the heap has no room for, before its first block is made: a
     * refusal after it would leave that block behind, since a heap frees no block (allocations racing with this
     * check may still fill it in between).
     *
     * @param blockSizes the sizes of the blocks still to make, in order; each is placed as {@link #create} places it,
     *                   at the heap's next cache line
     * @throws ShmFullException naming {@code what}, what it needs and what the heap has
     */
    public static void requireRoom(SharedHeap heap, String what, long... blockSizes) {
        requireRoom(heap, what, () -> "", blockSizes);
    }

    /**
     * As {@link #requireRoom(SharedHeap, String, long...)}, the refusal adding {@code advice}'s words (such as a
     * smaller size that fits) after what the heap has.
     */
    public static void requireRoom(SharedHeap heap, String what, Supplier<String> advice, long... blockSizes) {
        long freeBytes = heap.freeBytes();
        long top = heap.byteSize() - freeBytes; // the heap allocates upwards from there
        long start = top;
        for (long size : blockSizes) {
            top = (top + SyncLayout.CACHE_LINE - 1) / SyncLayout.CACHE_LINE * SyncLayout.CACHE_LINE + size;
        }
        int freeEntries = heap.catalogCapacity() - heap.blocks().size();
        if (freeEntries < blockSizes.length || top - start > freeBytes) {
            throw new ShmFullException(what + " needs " + blockSizes.length + " catalog entries and " + (top - start)
                    + " bytes; heap " + heap.memory() + " has " + freeEntries + " entries and " + freeBytes
                    + " bytes free" + advice.get() + " (nothing was made)");
        }
    }

    /**
     * Checks, before anything is made, that a structure named {@code name} leaves room for the {@code suffix} of a
     * block it makes beside itself, whose name the user never gives (the heap's own check would name that block).
     *
     * @param what the structure, for the message ({@code "SharedLong with a lock"})
     * @throws IllegalArgumentException if {@code name + suffix} would be longer than a heap block name may be
     */
    public static void checkNameRoom(String what, String name, String suffix) {
        int max = HeapLayout.MAX_NAME_BYTES - suffix.length(); // every suffix is ASCII
        long length = Utf8.length(Objects.requireNonNull(name, "name"));
        if (length > max) {
            throw new IllegalArgumentException(what + " name '" + name + "' is " + length + " UTF-8 bytes (expected: "
                    + "at most " + max + ", so that the block '<name>" + suffix + "' beside it fits the heap's "
                    + HeapLayout.MAX_NAME_BYTES + "-byte block names)");
        }
    }

    /**
     * Checks a caller's segment range before anything reads or writes it.
     *
     * @param what the structure or codec, for the message ({@code "ring 'events'"})
     * @param side what the bytes are to it ({@code "source"}, {@code "message"})
     * @throws IndexOutOfBoundsException naming both, if the {@code length} bytes at {@code offset} are not inside
     *                                   {@code segment}
     * @throws NullPointerException      naming {@code side}, if {@code segment} is null
     */
    public static void checkRange(String what, String side, MemorySegment segment, long offset, long length) {
        long size = Objects.requireNonNull(segment, side).byteSize();
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException(what + ": " + side + " bytes [" + offset + ", " + (offset + length)
                    + ") outside the " + size + "-byte segment");
        }
    }

    /**
     * Checks a caller's byte-array range before anything reads it, as {@link #checkRange} checks a segment's.
     *
     * @param what the structure, for the message ({@code "ring 'events'"})
     * @param side what the bytes are to it ({@code "source"}, {@code "message"})
     * @throws IndexOutOfBoundsException naming both, if the {@code length} bytes at {@code offset} are not inside
     *                                   {@code array}
     * @throws NullPointerException      naming {@code side}, if {@code array} is null
     */
    public static void checkArrayRange(String what, String side, byte[] array, int offset, int length) {
        int size = Objects.requireNonNull(array, side).length;
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException(what + ": " + side + " bytes [" + offset + ", "
                    + ((long) offset + length) + ") outside the " + size + "-byte array");
        }
    }

    /**
     * Runs a method's body that reads or writes a structure's memory outside its hot path, re-wording an
     * {@link IllegalStateException} it throws because that memory is closed as {@link #closedOr} does.
     *
     * @return what {@code body} returns
     */
    public static <T> T whileOpen(MemorySegment.Scope memory, String closedMessage, Supplier<T> body) {
        try {
            return body.get();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e, memory, closedMessage);
        }
    }

    /**
     * For the {@code openOrCreate} of a structure that exists with other parameters: the heap's or the header's
     * mismatch {@code e} (worded in block bytes or raw header fields), re-worded by {@code existing}, which opens the
     * structure as it is and describes it beside what was asked; {@code e} itself if it cannot be opened (another
     * kind of block, damaged bytes).
     */
    public static ShmTypeMismatchException mismatch(ShmTypeMismatchException e, Supplier<String> existing) {
        String described;
        try {
            described = existing.get();
        } catch (RuntimeException cannotOpen) {
            return e;
        }
        ShmTypeMismatchException clear = new ShmTypeMismatchException(described);
        clear.initCause(e);
        return clear;
    }

    /**
     * For a structure's {@code toString}, which must not throw (loggers and debuggers call it): {@code live} while
     * its memory is open, else {@code closed}, also when the memory is closed while {@code live} reads it.
     */
    public static String unlessClosed(MemorySegment.Scope memory, Supplier<String> live, String closed) {
        if (memory.isAlive()) {
            try {
                return live.get();
            } catch (IllegalStateException e) {
                if (memory.isAlive()) {
                    throw e;
                }
            }
        }
        return closed;
    }

    /**
     * {@link #unlessClosed} for a structure described by {@code description}: once its memory is closed,
     * {@code description} followed by {@code " (its heap is closed)"}.
     */
    public static String describeUnlessClosed(MemorySegment.Scope memory, String description, Supplier<String> live) {
        return unlessClosed(memory, live, description + " (its heap is closed)");
    }

    /** @return true if {@code failure} is one that {@link #closedOr} made (its messages all end so) */
    private static boolean isClosedMessage(RuntimeException failure) {
        return failure.getCause() instanceof IllegalStateException && failure.getMessage() != null
                && failure.getMessage().endsWith(" is closed");
    }

    /**
     * Notes that a structure of {@code type} is made with {@code wrap} or {@code format} over {@code slice}, so that
     * this process's reopen of its heap renames what a close left held there, as for a block of {@code type} the
     * catalog lists ({@link HeapMappings#noteWrapped}, {@link ReopenSweep}).
     *
     * @return {@code slice}
     */
    public static MemorySegment wrapped(MemorySegment slice, BlockType type) {
        HeapMappings.noteWrapped(slice, type);
        return slice;
    }

    /**
     * @param kind what the bytes are, for messages: they name it {@code "<kind> at 0x<address>"}
     * @return the {@code byteSize} bytes at {@code offset} of {@code segment}
     * @throws IllegalArgumentException  if the segment is not native memory or the address is not a multiple of
     *                                   {@code alignment}
     * @throws IndexOutOfBoundsException if the bytes do not lie inside the segment (a bad index, as in
     *                                   {@code java.lang.foreign})
     * @throws IllegalStateException     naming the structure, if the segment's memory is closed (the JDK's own
     *                                   message, "Already closed", names nothing)
     */
    public static MemorySegment wrap(MemorySegment segment, long offset, long byteSize, long alignment, String kind) {
        Objects.requireNonNull(segment, "segment");
        if (!segment.isNative()) {
            throw new IllegalArgumentException(kind + ": segment=" + segment + " (expected: native memory)");
        }
        long address = segment.address() + offset;
        if (offset < 0 || byteSize > segment.byteSize() - offset) {
            throw new IndexOutOfBoundsException(describe(kind, address) + ": " + byteSize + " bytes at offset "
                    + offset + " (expected: inside the segment of " + segment.byteSize() + " bytes)");
        }
        if (address % alignment != 0) {
            throw new IllegalArgumentException(describe(kind, address) + ": offset=" + offset + " gives address 0x"
                    + Long.toHexString(address) + " (expected: a multiple of " + alignment + " for atomic access)");
        }
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException(describe(kind, address) + ": the segment's memory is closed");
        }
        return segment.asSlice(offset, byteSize);
    }

    /** @return how messages name a structure in raw memory: {@code "<kind> at 0x<address>"} */
    public static String describe(String kind, long address) {
        return kind + " at 0x" + Long.toHexString(address);
    }

    /**
     * @param what     the structure, e.g. {@code "ring 'jobs'"}
     * @param field    the header field
     * @param expected the rule its value breaks
     * @return the exception for a header field whose value no valid structure has
     */
    public static ShmFormatException corrupt(String what, String field, Object value, String expected) {
        return new ShmFormatException(what + " is corrupted: " + field + "=" + value + " (expected: " + expected + ")");
    }

    /**
     * Checks reserved bytes, which every valid structure keeps zero.
     *
     * @throws ShmFormatException if a byte in {@code [from, to)} of {@code block} is not zero
     */
    public static void requireZero(MemorySegment block, long from, long to, String what) {
        for (long at = from; at < to; at++) {
            byte b = block.get(JAVA_BYTE, at);
            if (b != 0) {
                throw corrupt(what, "reserved byte " + at, b, "0");
            }
        }
    }
}
