package org.shm4j.sync.ring;

import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.SyncLayout;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_CAPACITY_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMER_MUTEX_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMED_TO_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMER_PROCESS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_KIND_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_MAGIC;
import static org.shm4j.sync.internal.SyncLayout.RING_MAGIC_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_MAX_MESSAGE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_MESSAGE_TYPE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_EMPTY_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_SEQ_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_NOT_FULL_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_ORPHAN_BOUND_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PRODUCERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PRODUCER_PROCESS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_TIMEOUT_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_WALL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TYPE_DECLARED;
import static org.shm4j.sync.internal.SyncLayout.RING_VERSION_OFFSET;

/**
 * A {@link SharedRing}'s header (its layout is in that class's Javadoc): its geometry and how it is written when a
 * ring is created, and the checks made when a ring is opened, wrapped or created, before anything is sized from the
 * header: that the block holds a header, then the magic and layout version, then the geometry (capacity,
 * maxMessageLength, kind), the declared message type and the stall timeout, then the positions. Each failure is a
 * {@link ShmFormatException} naming the ring, the field and the value found.
 */
final class RingHeaders {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    /** Reads of the positions to try for a view in which head did not move. */
    private static final int POSITION_ATTEMPTS = 4;
    /** The stall timeout a new ring's header holds. */
    private static final long DEFAULT_STALL_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(5);

    private RingHeaders() {
    }

    /** @return the longest message payload of a ring of {@code capacity}: a record fits an eighth of it */
    static int maxMessageLength(int capacity) {
        return capacity / 8 - RING_RECORD_HEADER;
    }

    /** Writes the header of an empty ring with the default stall timeout (5 s), as the four-argument format does. */
    static void format(MemorySegment block, SharedRing.Kind kind, int capacity) {
        format(block, kind, capacity, DEFAULT_STALL_TIMEOUT_NANOS);
    }

    /** As {@link #format(MemorySegment, SharedRing.Kind, int)}, declaring the type of every message. */
    static void formatTyped(MemorySegment block, SharedRing.Kind kind, int capacity, int messageType) {
        block.set(JAVA_LONG, RING_MESSAGE_TYPE_OFFSET, RING_TYPE_DECLARED | Integer.toUnsignedLong(messageType));
        format(block, kind, capacity, DEFAULT_STALL_TIMEOUT_NANOS); // plain store above, before format's magic
    }

    /**
     * Writes the geometry, layout version, stall timeout and, last, the magic of an empty ring into {@code block},
     * whose other bytes are zero. Plain stores, then the magic with a release store: a process killed while it
     * formats raw memory ({@link SharedRing#format}) leaves no magic, which {@link #check} refuses, rather than a
     * header with some fields still zero. A heap block is published by its caller after this anyway.
     *
     * @param stallNanos the stall timeout, positive
     */
    static void format(MemorySegment block, SharedRing.Kind kind, int capacity, long stallNanos) {
        block.set(JAVA_INT, RING_CAPACITY_OFFSET, capacity);
        block.set(JAVA_INT, RING_MAX_MESSAGE_OFFSET, maxMessageLength(capacity));
        block.set(JAVA_INT, RING_KIND_OFFSET, Objects.requireNonNull(kind, "kind").ordinal() + 1);
        block.set(JAVA_INT, RING_VERSION_OFFSET, SyncLayout.RING.layoutVersion());
        block.set(JAVA_LONG, RING_STALL_TIMEOUT_OFFSET, stallNanos);
        LONG.setRelease(block, RING_MAGIC_OFFSET, RING_MAGIC); // release: every field above before the magic
    }

    /**
     * @param block at least the header; the fields read here are written before the block is published
     * @return the capacity, once magic, version, capacity, maxMessageLength, kind and stall timeout are valid
     * @throws ShmFormatException if one is not
     */
    static int check(MemorySegment block, String what) {
        if (block.byteSize() < RING_HEADER_SIZE) {
            throw Blocks.corrupt(what, "block size", block.byteSize(), ">= the " + RING_HEADER_SIZE
                    + "-byte ring header");
        }
        long magic = (long) LONG.getAcquire(block, RING_MAGIC_OFFSET); // acquire: pairs with format's release
        if (magic != RING_MAGIC) {
            throw new ShmFormatException(what + " is not a ring: magic=0x" + Long.toHexString(magic)
                    + " (expected: 0x" + Long.toHexString(RING_MAGIC) + ", \"SHM4JRNG\")");
        }
        int version = block.get(JAVA_INT, RING_VERSION_OFFSET); // plain, as the loads below: written before the magic
        if (version != SyncLayout.RING.layoutVersion()) {
            throw new ShmFormatException(what + " has ring layout version " + version + " (expected: "
                    + SyncLayout.RING.layoutVersion() + ")");
        }
        int capacity = block.get(JAVA_INT, RING_CAPACITY_OFFSET);
        if (capacity < SharedRing.MIN_CAPACITY || capacity > SharedRing.MAX_CAPACITY
                || Integer.bitCount(capacity) != 1) {
            throw Blocks.corrupt(what, "capacity", capacity, "a power of 2 from " + SharedRing.MIN_CAPACITY + " to "
                    + SharedRing.MAX_CAPACITY);
        }
        int maxMessage = block.get(JAVA_INT, RING_MAX_MESSAGE_OFFSET);
        if (maxMessage != maxMessageLength(capacity)) {
            throw Blocks.corrupt(what, "maxMessageLength", maxMessage, maxMessageLength(capacity)
                    + " for capacity " + capacity);
        }
        int kind = block.get(JAVA_INT, RING_KIND_OFFSET);
        if (kind < 1 || kind > SharedRing.Kind.values().length) {
            throw Blocks.corrupt(what, "kind", kind, "1 (SPSC), 2 (MPSC) or 3 (MPMC)");
        }
        long messageType = block.get(JAVA_LONG, RING_MESSAGE_TYPE_OFFSET); // plain: written before the magic
        if (messageType != 0 && (messageType & ~0xFFFF_FFFFL) != RING_TYPE_DECLARED) {
            throw Blocks.corrupt(what, "messageType", "0x" + Long.toHexString(messageType),
                    "0, or 0x1 in bits 63..32 and the declared type below");
        }
        // volatile: setStallTimeout may store it meanwhile
        long stallTimeout = (long) LONG.getVolatile(block, RING_STALL_TIMEOUT_OFFSET);
        if (stallTimeout <= 0) {
            throw Blocks.corrupt(what, "stallTimeout", stallTimeout, "> 0 nanoseconds");
        }
        return capacity;
    }

    /**
     * Checks a whole ring block: its header as {@link #check} does, then that the block is exactly the header and the
     * capacity it gives.
     *
     * @return the capacity
     * @throws ShmFormatException if the header is not valid or the block's size does not match it
     */
    static int checkBlock(MemorySegment block, String what) {
        int cap = check(block, what);
        if (block.byteSize() != RING_HEADER_SIZE + cap) {
            throw Blocks.corrupt(what, "capacity", cap, (block.byteSize() - RING_HEADER_SIZE) + ", the block's "
                    + block.byteSize() + " bytes less the header");
        }
        // the reserved bytes between the fields, which every ring keeps zero (its creator zeroed the header)
        Blocks.requireZero(block, RING_MESSAGE_TYPE_OFFSET + Long.BYTES, RING_TAIL_OFFSET, what);
        Blocks.requireZero(block, RING_PRODUCER_PROCESS_OFFSET + Long.BYTES, RING_ORPHAN_BOUND_OFFSET, what);
        Blocks.requireZero(block, RING_ORPHAN_BOUND_OFFSET + Long.BYTES, RING_HEAD_OFFSET, what);
        Blocks.requireZero(block, RING_STALL_WALL_OFFSET + Long.BYTES, RING_NOT_EMPTY_SEQ_OFFSET, what);
        Blocks.requireZero(block, RING_NOT_EMPTY_WAITERS_OFFSET + Integer.BYTES, RING_NOT_FULL_SEQ_OFFSET, what);
        Blocks.requireZero(block, RING_NOT_FULL_WAITERS_OFFSET + Integer.BYTES, RING_CONSUMER_MUTEX_OFFSET, what);
        Blocks.requireZero(block, RING_CONSUMER_MUTEX_OFFSET + SyncLayout.MUTEX_SIZE, RING_PRODUCERS_OFFSET, what);
        return cap;
    }

    /**
     * Checks the role words ({@link RingRoles}): the consumer process of an SPSC or MPSC ring and the producer process
     * of an SPSC ring are 0 or a process token; the words of the roles a kind does not have are 0.
     *
     * @throws ShmFormatException if one is not
     */
    static void checkRoles(MemorySegment block, SharedRing.Kind kind, String what) {
        checkRole(block, RING_CONSUMER_PROCESS_OFFSET, kind != SharedRing.Kind.MPMC, what, "consumerProcess");
        checkRole(block, RING_PRODUCER_PROCESS_OFFSET, kind == SharedRing.Kind.SPSC, what, "producerProcess");
    }

    private static void checkRole(MemorySegment block, long offset, boolean used, String what, String field) {
        if (used) {
            RingRoles.check(block, offset, what, field);
        } else {
            Blocks.requireZero(block, offset, offset + Long.BYTES, what);
        }
    }

    /**
     * Checks the positions, which other processes may be moving: head, tail and consumedTo are multiples of the
     * record alignment, head &lt;= tail &lt;= head + capacity and head &lt;= consumedTo &lt;= head + capacity, checked
     * in a view where head did not move while tail was read (consumedTo only if {@code kind} uses it).
     *
     * @throws ShmFormatException if they are not
     */
    static void checkPositions(MemorySegment block, int capacity, SharedRing.Kind kind, String what) {
        for (int attempt = 0; attempt < POSITION_ATTEMPTS; attempt++) {
            long head = (long) LONG.getVolatile(block, RING_HEAD_OFFSET);
            long tail = (long) LONG.getVolatile(block, RING_TAIL_OFFSET);
            checkPosition(what, "head", head);
            checkPosition(what, "tail", tail);
            if ((long) LONG.getVolatile(block, RING_HEAD_OFFSET) != head) {
                continue; // a consumer moved on while tail was read: look again
            }
            if (tail - head < 0 || tail - head > capacity) {
                throw Blocks.corrupt(what, "tail", tail, "head " + head + " to head + capacity " + capacity);
            }
            if (kind == SharedRing.Kind.SPSC) {
                return; // consumedTo unused
            }
            long consumedTo = (long) LONG.getVolatile(block, RING_CONSUMED_TO_OFFSET); // after head: never behind it
            checkPosition(what, "consumedTo", consumedTo);
            if (consumedTo - head < 0 || consumedTo - head > capacity) {
                throw Blocks.corrupt(what, "consumedTo", consumedTo,
                        "head " + head + " to head + capacity " + capacity);
            }
            return;
        }
    }

    private static void checkPosition(String what, String field, long position) {
        if (position < 0 || position % RING_RECORD_HEADER != 0) {
            throw Blocks.corrupt(what, field, position, "a multiple of " + RING_RECORD_HEADER + ", >= 0");
        }
    }
}
