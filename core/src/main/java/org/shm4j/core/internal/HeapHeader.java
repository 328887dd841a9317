package org.shm4j.core.internal;

import org.shm4j.core.ShmException;
import org.shm4j.core.ShmFormatException;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.security.SecureRandom;
import java.util.zip.CRC32C;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.core.internal.HeapLayout.ALLOC_TOP_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ATTACH_CAPACITY;
import static org.shm4j.core.internal.HeapLayout.ATTACH_CAPACITY_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ATTACH_OFFSET_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ATTACH_SLOT_LENGTH;
import static org.shm4j.core.internal.HeapLayout.ATTACH_SLOT_LENGTH_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CATALOG_CAPACITY_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CATALOG_OFFSET_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CREATOR_PID_NAMESPACE_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CREATOR_PID_OFFSET;
import static org.shm4j.core.internal.HeapLayout.CREATOR_START_OFFSET;
import static org.shm4j.core.internal.HeapLayout.DATA_OFFSET_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_COUNT_OFFSET;
import static org.shm4j.core.internal.HeapLayout.ENTRY_LENGTH;
import static org.shm4j.core.internal.HeapLayout.ENTRY_LENGTH_OFFSET;
import static org.shm4j.core.internal.HeapLayout.FLAGS_OFFSET;
import static org.shm4j.core.internal.HeapLayout.HEADER_CHECKSUM_OFFSET;
import static org.shm4j.core.internal.HeapLayout.HEADER_LENGTH;
import static org.shm4j.core.internal.HeapLayout.HEADER_LENGTH_OFFSET;
import static org.shm4j.core.internal.HeapLayout.HEAP_ID_OFFSET;
import static org.shm4j.core.internal.HeapLayout.HEAP_SIZE_OFFSET;
import static org.shm4j.core.internal.HeapLayout.KNOWN_FLAGS;
import static org.shm4j.core.internal.HeapLayout.LAYOUT_VERSION;
import static org.shm4j.core.internal.HeapLayout.LAYOUT_VERSION_OFFSET;
import static org.shm4j.core.internal.HeapLayout.MAGIC;
import static org.shm4j.core.internal.HeapLayout.MAGIC_OFFSET;
import static org.shm4j.core.internal.HeapLayout.MAX_CATALOG_CAPACITY;
import static org.shm4j.core.internal.HeapLayout.PREVIOUS_PID_NAMESPACE_OFFSET;

/**
 * Writes and validates the header of a heap (see the layout table of {@link org.shm4j.core.SharedHeap}).
 *
 * <p>Initialisation protocol: the creator owns a zero-filled region. It stores the creator pid (release), then every
 * other field with plain writes, the header checksum, and last the magic with a release store. A named or file heap
 * is initialised (and its creator attached) before its name appears, so an opener never waits: it reads the magic
 * with acquire, and the right value publishes every other header field, while 0 or anything else is not a heap (a
 * creator pid without a magic names a region some other program left half-made, reported as such).
 *
 * <p>The header checksum covers the fixed fields, bytes [8, 92) (everything from the layout version to the flags),
 * then [96, 104) (the creator's pid namespace, which {@link #adoptPidNamespace} alone rewrites, with the checksum).
 * It does not cover the words that change while the heap is in use: the allocation lock, top and entry count, the
 * removal word and the attach table.
 */
public final class HeapHeader {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle INT = JAVA_INT.varHandle();

    private HeapHeader() {
    }

    private static final SecureRandom IDS = new SecureRandom();

    /**
     * The fixed fields of a validated heap.
     *
     * @param heapId random, non-zero identity of this heap; another heap later made at the same name has another
     * @param flags  {@link HeapLayout#FLAG_UNLINK_ON_LAST_DETACH} or 0
     */
    public record Geometry(long heapSize, int catalogCapacity, long dataOffset, long heapId, int flags) {
        /** @return true if the last process to detach removes the heap's name */
        public boolean unlinkOnLastDetach() {
            return (flags & HeapLayout.FLAG_UNLINK_ON_LAST_DETACH) != 0;
        }
    }

    /**
     * Lays out a new heap over a zero-filled {@code segment}, whose size {@link #checkSize} has accepted.
     *
     * @param flags {@link HeapLayout#FLAG_UNLINK_ON_LAST_DETACH} or 0
     */
    public static Geometry initialise(MemorySegment segment, int catalogCapacity, int flags) {
        long heapSize = segment.byteSize();
        long dataOffset = HeapLayout.dataOffset(catalogCapacity);
        // release: a waiter that sees the pid may test whether the creator still lives
        LONG.setRelease(segment, CREATOR_PID_OFFSET, ProcessHandle.current().pid());
        // plain writes below: all are published by the release store of the magic
        segment.set(JAVA_INT, LAYOUT_VERSION_OFFSET, LAYOUT_VERSION);
        segment.set(JAVA_INT, HEADER_LENGTH_OFFSET, (int) HEADER_LENGTH);
        segment.set(JAVA_LONG, HEAP_SIZE_OFFSET, heapSize);
        segment.set(JAVA_LONG, CATALOG_OFFSET_OFFSET, HeapLayout.catalogOffset());
        segment.set(JAVA_INT, CATALOG_CAPACITY_OFFSET, catalogCapacity);
        segment.set(JAVA_INT, ENTRY_LENGTH_OFFSET, (int) ENTRY_LENGTH);
        segment.set(JAVA_LONG, DATA_OFFSET_OFFSET, dataOffset);
        segment.set(JAVA_LONG, CREATOR_START_OFFSET, ProcessIdentity.currentStartStamp());
        segment.set(JAVA_LONG, CREATOR_PID_NAMESPACE_OFFSET, ProcessIdentity.currentPidNamespace());
        long heapId = newHeapId();
        segment.set(JAVA_LONG, HEAP_ID_OFFSET, heapId);
        segment.set(JAVA_LONG, ATTACH_OFFSET_OFFSET, HeapLayout.attachOffset());
        segment.set(JAVA_INT, ATTACH_CAPACITY_OFFSET, ATTACH_CAPACITY);
        segment.set(JAVA_INT, ATTACH_SLOT_LENGTH_OFFSET, (int) ATTACH_SLOT_LENGTH);
        segment.set(JAVA_INT, FLAGS_OFFSET, flags);
        segment.set(JAVA_LONG, ALLOC_TOP_OFFSET, dataOffset);
        segment.set(JAVA_INT, ENTRY_COUNT_OFFSET, 0);
        segment.set(JAVA_INT, HEADER_CHECKSUM_OFFSET, checksum(segment));
        LONG.setRelease(segment, MAGIC_OFFSET, MAGIC);
        return new Geometry(heapSize, catalogCapacity, dataOffset, heapId, flags);
    }

    /**
     * Refuses a heap made in another pid namespace (a container that shares the heap's file or {@code /dev/shm} but
     * not its processes): pids in owner tokens would name other processes or none, so live owners would look dead
     * and their locks and slots would be taken over. A heap or process that cannot tell its namespace (0) passes.
     *
     * @throws ShmException naming the heap and both namespaces
     */
    public static void checkPidNamespace(MemorySegment segment, String what) {
        if (ofAnotherPidNamespace(segment)) {
            throw pidNamespaceRefusal(segment, what, "");
        }
    }

    /**
     * @param why what stopped the heap from being adopted ({@link #adoptPidNamespace}), e.g. {@code "; a process
     *            holds it open"}, or empty
     * @return the refusal of a heap of another pid namespace, naming the heap and both namespaces
     */
    public static ShmException pidNamespaceRefusal(MemorySegment segment, String what, String why) {
        long creator = (long) LONG.getVolatile(segment, CREATOR_PID_NAMESPACE_OFFSET); // volatile: see adopt
        long mine = ProcessIdentity.currentPidNamespace();
        return new ShmException(what + " was created in pid namespace " + creator + " and this process runs in "
                + mine + why + ": owner-death detection needs one pid namespace for all the processes that have it "
                + "open (share it, e.g. docker --pid=container:<id> or Kubernetes shareProcessNamespace: true)");
    }

    /**
     * @return true if the validated header names a pid namespace and this process runs in another (both known): the
     *         heap's owner tokens name processes this one cannot see
     */
    public static boolean ofAnotherPidNamespace(MemorySegment segment) {
        // volatile: an opener reads it after its slot claim, an adopter writes it before reading the slots (Dekker)
        long creator = (long) LONG.getVolatile(segment, CREATOR_PID_NAMESPACE_OFFSET);
        long mine = ProcessIdentity.currentPidNamespace();
        return creator != 0 && mine != 0 && creator != mine;
    }

    /**
     * Makes a heap of another pid namespace this process's: writes this namespace over the creator's and the header
     * checksum that covers it. Only for a process that holds an exclusive {@link HeapFileFlock} on the heap's file
     * and found every attach slot flocked ({@link AttachTable#allFlocked}): no process has the heap open, so the pids
     * in its owner tokens name processes that are gone, and a process of this namespace judges them so (a pid that
     * lives here has another start stamp). Openers that hold a flock read the header only under a shared lock, so
     * they never see the two words half-written; a reader without one (a read-only open, a stale check, no native
     * access) that reads between them, or any process after this one was killed there, finds the checksum of the
     * header with the namespace it replaced, which {@link #setPidNamespace} keeps beside it first (an older shm4j
     * does not look there: for that instant, or after such a death, it calls the header corrupted).
     *
     * @return the namespace written over, for {@link #setPidNamespace} to put back
     */
    public static long adoptPidNamespace(MemorySegment segment) {
        long before = segment.get(JAVA_LONG, CREATOR_PID_NAMESPACE_OFFSET); // plain: only this process writes it now
        setPidNamespace(segment, ProcessIdentity.currentPidNamespace());
        return before;
    }

    /** Writes {@code namespace} as the creator's pid namespace, then the checksum; see {@link #adoptPidNamespace}. */
    public static void setPidNamespace(MemorySegment segment, long namespace) {
        int sum = checksum(segment, namespace);
        long current = segment.get(JAVA_LONG, CREATOR_PID_NAMESPACE_OFFSET); // plain: only this process writes it now
        // the namespace the stored checksum covers: the current one, or the previous one if an adopter died between
        // its two writes
        long covered = segment.get(JAVA_INT, HEADER_CHECKSUM_OFFSET) == checksum(segment, current) ? current
                : segment.get(JAVA_LONG, PREVIOUS_PID_NAMESPACE_OFFSET);
        // volatile: before the namespace, so that whoever sees the new namespace with the old checksum (a reader
        // between the two writes, or any process after this one died there) finds the namespace the checksum covers
        LONG.setVolatile(segment, PREVIOUS_PID_NAMESPACE_OFFSET, covered);
        // volatile: ordered before the adopter's reads of the attach table (Dekker with an opener's slot claim)
        LONG.setVolatile(segment, CREATOR_PID_NAMESPACE_OFFSET, namespace);
        INT.setRelease(segment, HEADER_CHECKSUM_OFFSET, sum); // release: after the namespace, for validate's acquire
    }

    /** @return the owner token of the heap's creator, from a validated header */
    public static long creatorToken(MemorySegment segment) {
        return ProcessIdentity.token(segment.get(JAVA_LONG, CREATOR_PID_OFFSET), creatorStartStamp(segment));
    }

    /** @return the creator's start stamp (0 if unknown; see {@link ProcessIdentity}), from a validated header */
    public static long creatorStartStamp(MemorySegment segment) {
        return segment.get(JAVA_LONG, CREATOR_START_OFFSET);
    }

    private static long newHeapId() {
        long id = 0;
        while (id == 0) {
            id = IDS.nextLong();
        }
        return id;
    }

    /**
     * Checks that a heap of {@code size} bytes can hold the header, {@code catalogCapacity} entries and one cache
     * line of data.
     *
     * @param what the heap to be, for messages
     * @throws IllegalArgumentException otherwise
     */
    public static void checkSize(String what, long size, int catalogCapacity) {
        Checks.inRange("catalogCapacity", catalogCapacity, 1, MAX_CATALOG_CAPACITY);
        long min = HeapLayout.dataOffset(catalogCapacity) + HeapLayout.CACHE_LINE;
        if (size < min) {
            throw new IllegalArgumentException(what + ": size=" + size + " (expected: >= " + min + " for a header, "
                    + catalogCapacity + " catalog entries and data)");
        }
    }

    /**
     * Validates a named or file heap's header, with no wait: such a heap is complete before its name appears (its
     * creator writes the header, then links the name), so a magic of 0 means no heap.
     *
     * @param what the heap, for messages
     * @throws ShmFormatException if the bytes are not a valid heap header
     */
    public static Geometry validateComplete(MemorySegment segment, String what) {
        if (segment.byteSize() < HEADER_LENGTH) {
            throw new ShmFormatException(what + " is too small for a heap header: size=" + segment.byteSize()
                    + " (expected: >= " + HEADER_LENGTH + ")");
        }
        // acquire: a non-zero magic publishes all header fields written before it
        long magic = (long) LONG.getAcquire(segment, MAGIC_OFFSET);
        if (magic == 0) {
            long creator = (long) LONG.getAcquire(segment, CREATOR_PID_OFFSET);
            if (creator != 0 && !ProcessIdentity.isPidAlive(creator)) {
                throw new ShmFormatException(what + " was left half-initialised: its creator pid " + creator
                        + " died");
            }
            throw new ShmFormatException(what + " has no magic (zero): not a shm4j heap (a heap's name appears only "
                    + "once its header is complete)");
        }
        return validate(segment, magic, what);
    }

    private static Geometry validate(MemorySegment segment, long magic, String what) {
        if (magic != MAGIC) {
            throw new ShmFormatException(what + " has magic 0x" + Long.toHexString(magic) + " (expected: 0x"
                    + Long.toHexString(MAGIC) + "): not a shm4j heap");
        }
        int version = segment.get(JAVA_INT, LAYOUT_VERSION_OFFSET);
        if (version != LAYOUT_VERSION) {
            boolean older = version >= 1 && version < LAYOUT_VERSION; // below 1: damaged bytes, no shm4j's
            throw new ShmFormatException(what + " has layout version " + version + " (expected: " + LAYOUT_VERSION
                    + (older ? "; made by an older shm4j, remove it with SharedHeap.unlink)" : ")"));
        }
        int stored = (int) INT.getAcquire(segment, HEADER_CHECKSUM_OFFSET); // acquire: see setPidNamespace
        if (stored != checksum(segment) && !coversPreviousNamespace(segment, stored)) {
            throw new ShmFormatException(what + " has a corrupted header (checksum mismatch)");
        }
        long heapSize = segment.get(JAVA_LONG, HEAP_SIZE_OFFSET);
        int capacity = segment.get(JAVA_INT, CATALOG_CAPACITY_OFFSET);
        long dataOffset = segment.get(JAVA_LONG, DATA_OFFSET_OFFSET);
        expect(what, "headerLength", segment.get(JAVA_INT, HEADER_LENGTH_OFFSET), HEADER_LENGTH);
        expect(what, "entryLength", segment.get(JAVA_INT, ENTRY_LENGTH_OFFSET), ENTRY_LENGTH);
        expect(what, "catalogOffset", segment.get(JAVA_LONG, CATALOG_OFFSET_OFFSET), HeapLayout.catalogOffset());
        if (heapSize != segment.byteSize()) {
            throw new ShmFormatException(what + " has heapSize=" + heapSize + " in its header, but "
                    + segment.byteSize() + " bytes are mapped (a file truncated or extended since it was made, or a"
                    + " damaged header)");
        }
        expect(what, "attachOffset", segment.get(JAVA_LONG, ATTACH_OFFSET_OFFSET), HeapLayout.attachOffset());
        expect(what, "attachCapacity", segment.get(JAVA_INT, ATTACH_CAPACITY_OFFSET), ATTACH_CAPACITY);
        expect(what, "attachSlotLength", segment.get(JAVA_INT, ATTACH_SLOT_LENGTH_OFFSET), ATTACH_SLOT_LENGTH);
        int flags = segment.get(JAVA_INT, FLAGS_OFFSET);
        if ((flags & ~KNOWN_FLAGS) != 0) {
            throw new ShmFormatException(what + " has flags=0x" + Integer.toHexString(flags) + " (expected: bits 0x"
                    + Integer.toHexString(KNOWN_FLAGS) + " only)");
        }
        long heapId = segment.get(JAVA_LONG, HEAP_ID_OFFSET);
        if (heapId == 0) {
            throw new ShmFormatException(what + " has heapId=0 (expected: non-zero)");
        }
        if (capacity < 1 || capacity > MAX_CATALOG_CAPACITY) {
            throw new ShmFormatException(what + " has catalogCapacity=" + capacity + " (expected: 1.."
                    + MAX_CATALOG_CAPACITY + ")");
        }
        expect(what, "dataOffset", dataOffset, HeapLayout.dataOffset(capacity));
        if (dataOffset > heapSize) {
            throw new ShmFormatException(what + " has dataOffset=" + dataOffset + " beyond heapSize=" + heapSize);
        }
        return new Geometry(heapSize, capacity, dataOffset, heapId, flags);
    }

    private static void expect(String what, String field, long actual, long expected) {
        if (actual != expected) {
            throw new ShmFormatException(what + " has " + field + "=" + actual + " (expected: " + expected + ")");
        }
    }

    /**
     * @return true if {@code stored} is the checksum of the header with the namespace an adoption replaced
     *         ({@link #setPidNamespace}) in place of the creator's: so it is while the new namespace is written and
     *         its checksum not yet, or for good if the adopter died in between
     */
    private static boolean coversPreviousNamespace(MemorySegment segment, int stored) {
        // acquire: the previous namespace was written before the namespace that checksum(segment) read
        long previous = (long) LONG.getAcquire(segment, PREVIOUS_PID_NAMESPACE_OFFSET);
        // 0: no adoption wrote it (a heap of namespace 0 is never adopted), and the checksum with 0 in place would
        // let any namespace word of a heap made where the namespace was unknown pass
        return previous != 0 && stored == checksum(segment, previous);
    }

    /** CRC-32C of the fixed header fields: bytes [8, 92), from the layout version to the flags, then [96, 104). */
    private static int checksum(MemorySegment segment) {
        // acquire: a reader that sees an adopter's namespace sees the previous one it wrote before (setPidNamespace)
        return checksum(segment, (long) LONG.getAcquire(segment, CREATOR_PID_NAMESPACE_OFFSET));
    }

    /** {@link #checksum(MemorySegment)} with {@code namespace} in place of the creator's pid namespace word. */
    private static int checksum(MemorySegment segment, long namespace) {
        CRC32C crc = new CRC32C();
        Crc32cOfMemory.update(crc, segment, LAYOUT_VERSION_OFFSET, HEADER_CHECKSUM_OFFSET - LAYOUT_VERSION_OFFSET);
        Crc32cOfMemory.update(crc, MemorySegment.ofArray(new long[] {namespace}), 0, Long.BYTES);
        return (int) crc.getValue();
    }
}
