package org.shm4j.core;

import org.shm4j.core.internal.AttachTable;
import org.shm4j.core.internal.Checks;
import org.shm4j.core.internal.HeapCatalog;
import org.shm4j.core.internal.HeapClosed;
import org.shm4j.core.internal.HeapFileFlock;
import org.shm4j.core.internal.HeapHeader;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.Names;
import org.shm4j.core.internal.OwnerLock;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.core.internal.Undo;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A managed region: a header, a catalog of named blocks and a data area, so that any process that opens the heap
 * finds a structure by name and type (like Boost.Interprocess' {@code managed_shared_memory}). Every structure of
 * {@code org.shm4j.sync} lives in a heap block.
 *
 * <h2>Use</h2>
 * <pre>{@code
 * HeapOptions options = HeapOptions.defaults().withUnlinkOnLastDetach(true); // the last process out removes it
 * try (SharedHeap heap = SharedHeap.openOrCreate("app", 1 << 20, options)) {
 *     HeapBlock block = heap.allocateOrLookup("stats", new BlockType(0x100, 1), 64, 64, init -> { });
 *     block.segment().set(ValueLayout.JAVA_LONG, 0, 42L);
 * }
 * }</pre>
 * Without {@code withUnlinkOnLastDetach(true)} a named heap outlives its processes, as a file does, until
 * {@link #unlink} (or {@code shm4j gc} once it is stale) removes it; the next {@code openOrCreate} opens it again.
 * Factories mirror {@link SharedMemory}: named ({@code /dev/shm/<name>}), file-backed ({@link Path}) and anonymous.
 * {@code openOrCreate} lets racing processes agree: exactly one creates and initialises the heap, whose name appears
 * only once it is ready, so the others open it complete (a region at the name with no heap header is refused at
 * once, without waiting). Likewise {@link #allocateOrLookup} makes exactly
 * one process allocate and initialise a block; the others get the same block. A block is published only after its
 * initializer returned, so no process ever sees a half-initialised structure. Opening, creating and removing are not
 * interruptible: a thread whose interrupt is pending does them as any other and keeps it set, as
 * {@code ReentrantLock.lock()} does (an interrupt that arrives while a creation is under way may stop it, saying so,
 * with nothing made).
 *
 * <h2>Layout (version 3)</h2>
 * All integers are little-endian, in the platform's native order (shm4j supports little-endian platforms only). A
 * heap of another layout version (version 1 had no attach table, version 2 kept start times in epoch milliseconds)
 * is refused with {@link ShmFormatException}.
 * <table class="striped">
 * <caption>Header: bytes 0 to 255</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic</td><td>{@code 0x5045484A344D4853}, the ASCII bytes {@code "SHM4JHEP"};
 *     0 while the creator initialises</td><td>written last with release; read with acquire</td></tr>
 * <tr><td>8</td><td>4</td><td>layoutVersion</td><td>3</td><td>plain; published by magic</td></tr>
 * <tr><td>12</td><td>4</td><td>headerLength</td><td>256</td><td>plain; published by magic</td></tr>
 * <tr><td>16</td><td>8</td><td>heapSize</td><td>size of the region in bytes</td><td>plain; published by magic</td></tr>
 * <tr><td>24</td><td>8</td><td>catalogOffset</td><td>2304</td><td>plain; published by magic</td></tr>
 * <tr><td>32</td><td>4</td><td>catalogCapacity</td><td>number of catalog entries, 1..65536</td>
 *     <td>plain; published by magic</td></tr>
 * <tr><td>36</td><td>4</td><td>entryLength</td><td>128</td><td>plain; published by magic</td></tr>
 * <tr><td>40</td><td>8</td><td>dataOffset</td><td>{@code 2304 + 128 * catalogCapacity}, rounded up to 128</td>
 *     <td>plain; published by magic</td></tr>
 * <tr><td>48</td><td>8</td><td>creatorPid</td><td>pid of the creating process</td><td>written first with
 *     release, so a waiter can tell a dead creator</td></tr>
 * <tr><td>56</td><td>8</td><td>creatorStartStamp</td><td>creator's start stamp (0 if unknown; see the owner token
 *     below)</td><td>plain; published by magic</td></tr>
 * <tr><td>64</td><td>8</td><td>heapId</td><td>random, non-zero: tells this heap from a later one at the same
 *     name</td><td>plain; published by magic</td></tr>
 * <tr><td>72</td><td>8</td><td>attachOffset</td><td>256</td><td>plain; published by magic</td></tr>
 * <tr><td>80</td><td>4</td><td>attachCapacity</td><td>64</td><td>plain; published by magic</td></tr>
 * <tr><td>84</td><td>4</td><td>attachSlotLength</td><td>32</td><td>plain; published by magic</td></tr>
 * <tr><td>88</td><td>4</td><td>flags</td><td>bit 0: remove the name when the last process detaches; other bits
 *     0</td><td>plain; published by magic</td></tr>
 * <tr><td>92</td><td>4</td><td>headerChecksum</td><td>CRC-32C (Castagnoli) of bytes 8..91, then 96..103: it covers
 *     the fixed fields only, not the mutable words below nor the attach table</td><td>plain; published by magic</td>
 *     </tr>
 * <tr><td>96</td><td>8</td><td>creatorPidNamespace</td><td>inode of the creator's pid namespace
 *     ({@code /proc/self/ns/pid}; 0 if unknown): a process of another namespace is refused, since the pids in owner
 *     tokens would not name its processes, unless it adopts a heap open nowhere (see "Pid namespaces")</td>
 *     <td>plain; published by magic; an adopter writes it with a volatile store under an exclusive flock</td></tr>
 * <tr><td>104</td><td>8</td><td>previousPidNamespace</td><td>0, or the namespace the last adoption wrote over (or
 *     the one the checksum covered, if an adopter before it died between its writes): not covered by the checksum;
 *     a header whose checksum is that of the header with this namespace in place of the creator's is whole (an
 *     adopter between its two writes, or killed there)</td><td>volatile, before the namespace; read with
 *     acquire after it</td></tr>
 * <tr><td>112</td><td>16</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>128</td><td>8</td><td>allocLock</td><td>0, or the owner token of the allocating process: pid in bits
 *     63..32, low 32 bits of its start stamp in bits 31..0 (see Start stamps below)</td><td>CAS to take, CAS back to
 *     0 to release; a dead owner's token is replaced by CAS</td></tr>
 * <tr><td>136</td><td>8</td><td>allocTop</td><td>first free byte of the data area</td><td>written under the lock
 *     with release; read with acquire</td></tr>
 * <tr><td>144</td><td>4</td><td>entryCount</td><td>number of published catalog entries</td><td>written under the
 *     lock with release after the entry; read with acquire</td></tr>
 * <tr><td>148</td><td>4</td><td>—</td><td>zero</td><td></td></tr>
 * <tr><td>152</td><td>8</td><td>removal</td><td>0, or the owner token of the one process that may remove the
 *     heap's name</td><td>volatile CAS from 0 or from a dead token to take, CAS back to 0 to give back</td></tr>
 * <tr><td>160</td><td>96</td><td>—</td><td>zero</td><td></td></tr>
 * </table>
 * <table class="striped">
 * <caption>Attach slot {@code i}: 32 bytes at {@code 256 + 32 * i}, {@code i} in 0..63</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>token</td><td>0 (free), or the owner token of a process that has the heap open</td>
 *     <td>volatile CAS from 0 (or a dead token) to claim, back to 0 to free</td></tr>
 * <tr><td>8</td><td>8</td><td>startStamp</td><td>that process's start stamp (0 if unknown)</td>
 *     <td>release after the claim</td></tr>
 * <tr><td>16</td><td>8</td><td>attachments</td><td>bits 0..31: how many heap objects that process has open; bits
 *     32..63: how many of its threads are taking a hold over from a gone process (an open that claims a slot waits
 *     until no live process has one: see {@code AttachTable})</td>
 *     <td>written only by that process; release, the high half by volatile add</td></tr>
 * <tr><td>24</td><td>8</td><td>flockToken</td><td>equal to token while every attachment of that process holds a
 *     shared {@code flock(2)} on the heap's file (see "Pid namespaces" below); anything else (0, or a former owner's
 *     token: versions before this field leave it as it was) says nothing</td>
 *     <td>written only by that process; release after the claim</td></tr>
 * </table>
 * <table class="striped">
 * <caption>Catalog entry {@code i}: 128 bytes at {@code 2304 + 128 * i}; immutable once published</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Meaning</th></tr>
 * <tr><td>0</td><td>4</td><td>typeTag</td><td>{@link BlockType#tag()}</td></tr>
 * <tr><td>4</td><td>4</td><td>layoutVersion</td><td>{@link BlockType#layoutVersion()}</td></tr>
 * <tr><td>8</td><td>8</td><td>offset</td><td>offset of the block from the heap start; a multiple of alignment</td></tr>
 * <tr><td>16</td><td>8</td><td>byteSize</td><td>size of the block</td></tr>
 * <tr><td>24</td><td>4</td><td>alignment</td><td>power of two, at most 2<sup>30</sup></td></tr>
 * <tr><td>28</td><td>4</td><td>nameLength</td><td>1..92</td></tr>
 * <tr><td>32</td><td>92</td><td>name</td><td>UTF-8 name, zero-padded</td></tr>
 * <tr><td>124</td><td>4</td><td>checksum</td><td>CRC-32C of bytes 0..123 of the entry</td></tr>
 * </table>
 *
 * <p>Start stamps. On Linux a process's start stamp is its start time in clock ticks since boot, field 22
 * ({@code starttime}) of {@code /proc/<pid>/stat} less the boot-time offset of the reader's time namespace
 * ({@code /proc/self/timens_offsets}), plus this boot's salt: the boot id {@code /proc/sys/kernel/random/boot_id}
 * read as a UUID, its most and least significant 64 bits XORed, {@code & 0x7FFFFFFF} (so that a process of an
 * earlier boot, named in a file-backed heap, is not taken for the process that has its pid and start tick now).
 * Where {@code /proc} does not describe the process, it is the start time in epoch milliseconds; 0 means unknown.
 * A process of another language that records itself here computes it the same way, or shm4j takes it for dead.
 *
 * <h2>Validation</h2>
 * Opening checks the size, magic, layout version, header checksum and every fixed field; reading an entry checks its
 * checksum, name, offset, size and alignment, and that the block starts at or after the end of the entry before it
 * (blocks are allocated upwards, so an entry rewritten with a valid checksum still cannot make two blocks overlap).
 * Any failure throws {@link ShmFormatException}; corrupted bytes never
 * cause an out-of-bounds access, a crash or a hang. Damaged mutable words (lock, removal word, attach slots) are not
 * detectable by a checksum; at worst they make an open or allocation wait its bounded time and throw.
 *
 * <h2>Allocation</h2>
 * Bump allocation under {@code allocLock}: the allocator checks that the name is new, zeroes the block, runs the
 * initializer, writes the entry, then stores {@code allocTop} and {@code entryCount} with release. If the allocating
 * process dies, nothing it did is published; the next allocator takes the lock over and reuses the space (allocTop is
 * set back to the end of the last published block if the dead allocator had moved it; {@link #freeBytes()} counts
 * that space free meanwhile). Only a dead process's lock is taken over, never a live one's, even once it has closed
 * the heap: its token could come back with its next open (a taker that judged it gone, then paused before its CAS,
 * would take the lock from under that process's new allocation); instead {@link #close()} waits for an allocation
 * through the view it closes, so no process leaves the lock holding its token when it detaches. Blocks are never
 * freed.
 *
 * <h2>Processes and removal</h2>
 * A named or file heap is written in full, its creator attached, before its name appears. Every open (except
 * read-only: it cannot write the table) records its process in the attach table, {@link #close()} removes it, and
 * {@link #attachedProcesses()} lists them; a killed process's entry shows dead until the next open reclaims it. A
 * 65th live process gets {@link ShmFullException}. A heap is <em>stale</em> when its creator and every process in
 * its table are dead: what a run killed by SIGKILL (or SIGTERM: shm4j installs no shutdown hook) leaves behind.
 * {@link #unlinkIfStale(String)}, {@link HeapOptions#replaceStale()} ({@code create} and {@code openOrCreate} replace
 * a stale heap) and {@link HeapOptions#unlinkOnLastDetach()} (the last {@code close} removes the name) remove heaps
 * safely; {@link #unlink(String)} removes unconditionally.
 *
 * <p>A process that closed its last view of the heap holds nothing in it any more: others take its locks, roles and
 * slots over as a dead process's. Those words name a process, not a hold, so an open that takes a new slot in the
 * table first waits until no live process is in the middle of such a take-over (each counts itself in the high half
 * of its slot's attachments word from its judgment to its CAS): else a taker could take a hold this process makes
 * anew right after the open. The wait is bounded: after 5 s the open throws {@link ShmException} naming that
 * process (stopped, or cut short midway, it keeps its count until it closes the heap or exits).
 *
 * <p>The race: remover R decides "nobody uses it" while opener O has mapped the heap but not yet attached. R must
 * take the {@code removal} word (CAS) before reading the table; O reads the word after claiming its slot (both
 * sequentially consistent), so at least one sees the other:
 * <ol>
 * <li>R takes the word before O reads it: O does not return the heap but waits (bounded by
 *     {@link HeapOptions#initTimeout()}) until R gives the word back (R saw O, or the heap's creator lives: O returns
 *     the heap) or the name no longer leads to this heap (R removed it: O detaches and opens the name again, finding
 *     nothing, a newer heap, or, in {@code openOrCreate}, creating one).</li>
 * <li>O reads the word before R takes it: O's slot claim came earlier still, so R sees O alive and gives the word
 *     back without removing anything.</li>
 * <li>R dies holding the word: O or another remover takes it over from the dead token and, as its holder, checks
 *     whether the name still leads to this heap (R may have removed it just before dying).</li>
 * </ol>
 * Hence a heap that an open or create returned is not removed by these three while its process lives and has not
 * closed it, and a removal that reports success removed no heap that an open returns. "The name leads to this heap"
 * compares the {@code heapId} read through the path with the mapping's (java.nio cannot {@code fstat} a mapping; the
 * random id also survives inode reuse). Only the word's holder removes the name, so its check and its {@code unlink}
 * cannot be split by another removal. File heaps follow the same rules; anonymous heaps have no name. (Python's
 * {@code resource_tracker}, by contrast, unlinks a segment when any process that attached to it exits.)
 *
 * <h2>Pid namespaces</h2>
 * Owner tokens hold pids, which mean nothing in another pid namespace, so a process of a namespace other than the
 * creator's (header offset 96) is refused by {@code open} and the stale removal. But a heap open nowhere is adopted:
 * with native access, every writable open and create holds a shared {@code flock(2)} on the heap's file (its own
 * read-only descriptor, from before it reads the header until {@link #close()} has detached) and sets its slot's
 * {@code flockToken}. An opener of another namespace tries an exclusive flock without waiting; if it is granted and
 * every slot in use has its {@code flockToken}, those processes are gone (their flocks went with them). It then
 * writes its namespace and the checksum, reads the table again (an opener holding no flock claims its slot, then
 * reads the namespace, volatile both: one of the two sees the other, and gives up), turns its lock shared, and reads
 * the namespace once more (the turn is not atomic: another namespace's adopter may have come in between). The dead
 * processes' slots and tokens are then judged here by pid and start stamp: a pid alive here has another start. A
 * heap that a process of another namespace holds open, or whose table has a slot without {@code flockToken} (no native
 * access, or a shm4j before it), is still refused. Stale removal keeps a heap whose file any process holds a flock on.
 */
public final class SharedHeap implements AutoCloseable {
    private final SharedMemory memory;
    private final HeapOptions options;
    private final HeapHeader.Geometry geometry;
    private final HeapCatalog catalog;
    private final OwnerLock allocLock;
    /** The JVM-local allocation lock of a view with no attach period (anonymous): no other view shares its word. */
    private final ReentrantLock unsharedLock = new ReentrantLock();
    private final AtomicBoolean attached;
    /** The whole mapping, listed in {@link HeapMappings} while open; null for an anonymous heap (not listed). */
    private final MemorySegment listed;
    /**
     * This view's attach period in {@link HeapMappings}: null unless listed and attached. Changed only by a close
     * that failed, under the {@link #attached} monitor.
     */
    private HeapMappings.AttachPeriod period;
    /**
     * A descriptor of the heap's file holding a shared {@code flock} while this view is open (see
     * {@link HeapFileFlock}), or {@link HeapFileFlock#NONE}; released once the view is unmapped, under the
     * {@link #attached} monitor.
     */
    private int flock;

    /** @param flock a descriptor of the heap's file holding a shared flock, or {@link HeapFileFlock#NONE} */
    SharedHeap(SharedMemory memory, HeapOptions options, HeapHeader.Geometry geometry, boolean attached, int flock) {
        this.memory = memory;
        this.flock = flock;
        this.options = options;
        this.geometry = geometry;
        this.attached = new AtomicBoolean(attached);
        this.catalog = new HeapCatalog(memory.segment(), geometry, "heap " + memory);
        this.allocLock = new OwnerLock(memory.segment(), HeapLayout.ALLOC_LOCK_OFFSET);
        memory.gate(new SharedMemory.CloseGate() { // heap.memory().close() cuts no allocation short either
            @Override
            public void shut() {
                allocLock.shut(SharedMemory.CLOSE_WAIT_NANOS, SharedHeap.this.toString());
            }

            @Override
            public void reopen() {
                allocLock.reopen();
            }
        });
        this.listed = memory.path().isPresent() ? memory.segment() : null;
        this.period = listed != null && attached
                ? HeapMappings.enter(memory.path().get(), geometry.heapId(), listed) : null;
        if (listed != null) {
            try {
                HeapMappings.add(listed, period);
            } catch (Throwable e) { // an Error (adding allocates): else the period never ends, this view never closed
                Undo.after(e, () -> HeapMappings.remove(listed));
                if (period != null) {
                    Undo.after(e, () -> HeapMappings.leave(period));
                }
                throw e;
            }
        }
    }

    /** Creates the named heap {@code /dev/shm/<name>} of {@code size} bytes with default options. */
    public static SharedHeap create(String name, long size) {
        return create(name, size, HeapOptions.defaults());
    }

    /**
     * Creates the named heap {@code /dev/shm/<name>}, fully initialised and with this process attached before the
     * name appears. With {@link HeapOptions#replaceStale()}, a stale heap at the name is removed first.
     *
     * @throws ShmAlreadyExistsException if the name exists (and, with {@code replaceStale}, is not a stale heap)
     * @throws ShmFormatException        if {@code replaceStale} finds a region at the name that is not a valid heap
     * @throws IllegalArgumentException  if the name is invalid or {@code size} cannot hold the header and catalog
     */
    public static SharedHeap create(String name, long size, HeapOptions options) {
        return create(name, size, options, true);
    }

    /** {@link #create(String, long, HeapOptions)}; {@code hintStale}: see {@link HeapLifecycle#create}. */
    private static SharedHeap create(String name, long size, HeapOptions options, boolean hintStale) {
        Objects.requireNonNull(options, "options");
        Names.checkRegionName(name);
        return HeapLifecycle.create(init -> SharedMemory.create(name, size, options.permissions(), init),
                () -> SharedMemory.open(name), null, "heap '" + name + "'", size, options, hintStale);
    }

    /** Opens the named heap with default options. */
    public static SharedHeap open(String name) {
        return open(name, HeapOptions.defaults());
    }

    /**
     * Opens the named heap and records this process in its attach table.
     *
     * @throws ShmNotFoundException if it does not exist
     * @throws ShmFormatException   if it is not a valid heap
     * @throws ShmException         if it was made in another pid namespace (see "One pid namespace" in the README),
     *                              or another process has been taking over a gone process's hold in it for 5 s (an
     *                              open waits for such take-overs: see "Processes and removal")
     */
    public static SharedHeap open(String name, HeapOptions options) {
        Objects.requireNonNull(options, "options");
        return HeapLifecycle.open(() -> SharedMemory.open(name), options);
    }

    /**
     * Opens the named heap read-only: lookups work, allocation throws {@link UnsupportedOperationException}. A
     * read-only heap cannot write the attach table, so it does not count as attached: the heap may be removed from
     * its name while it is open (its mapping stays valid).
     */
    public static SharedHeap openReadOnly(String name) {
        return HeapLifecycle.open(() -> SharedMemory.openReadOnly(name), HeapOptions.defaults());
    }

    /** Opens the named heap, or creates it with {@code size} bytes and default options. */
    public static SharedHeap openOrCreate(String name, long size) {
        return openOrCreate(name, size, HeapOptions.defaults());
    }

    /**
     * Opens the named heap, or creates it; when several processes race, exactly one creates and initialises it.
     * {@code size}, the catalog capacity and {@link HeapOptions#unlinkOnLastDetach()} apply only when creating. With
     * {@link HeapOptions#replaceStale()}, a stale heap at the name is replaced by a new one instead of opened.
     */
    public static SharedHeap openOrCreate(String name, long size, HeapOptions options) {
        Objects.requireNonNull(options, "options");
        Names.checkRegionName(name);
        return HeapLifecycle.openOrCreate(() -> create(name, size, options, false), () -> open(name, options), null);
    }

    /**
     * Removes the name of the heap unconditionally, as {@link SharedMemory#unlink(String)} does, even while live
     * processes use it (they keep their mappings, but new opens find nothing or a new heap). To remove a heap only
     * when nobody uses it, use {@link #unlinkIfStale(String)} or {@link HeapOptions#unlinkOnLastDetach()}.
     *
     * @return true if the name existed
     * @throws ShmFormatException       if the name is a folder
     * @throws ShmException             as {@link SharedMemory#unlink(String)}
     * @throws IllegalArgumentException if the name is invalid
     */
    public static boolean unlink(String name) {
        return SharedMemory.unlink(name);
    }

    /**
     * Removes the named heap if it is stale: its creator and every process recorded in its attach table are dead.
     * Never removes a heap that a live process has open or is opening (see "Processes and removal" above).
     *
     * @return true if this call removed the name; false if there is no such name, the heap is in use, or another
     *         process removed it meanwhile
     * @throws ShmFormatException if the region at the name is not a valid heap of this layout version (remove such a
     *                            region with {@link #unlink(String)})
     * @throws ShmException       if another process is removing the heap and has not decided within the default
     *                            {@link HeapOptions#initTimeout()}, or the heap was made in another pid namespace
     *                            (whose processes this one cannot judge)
     */
    public static boolean unlinkIfStale(String name) {
        Names.checkRegionName(name);
        return HeapLifecycle.unlinkIfStale(() -> SharedMemory.open(name));
    }

    /** Creates a file-backed heap with default options. */
    public static SharedHeap create(Path file, long size) {
        return create(file, size, HeapOptions.defaults());
    }

    /**
     * Creates a file-backed, persistent heap, as {@link #create(String, long, HeapOptions)} creates a named one.
     * Beware that {@link HeapOptions#replaceStale()} replaces a file heap whenever no process that used it still
     * runs, for example after a reboot: use it only for files that hold nothing worth keeping.
     *
     * @throws ShmAlreadyExistsException if the file exists (and, with {@code replaceStale}, is not a stale heap)
     */
    public static SharedHeap create(Path file, long size, HeapOptions options) {
        return create(file, size, options, true);
    }

    /** {@link #create(Path, long, HeapOptions)}; {@code hintStale}: see {@link HeapLifecycle#create}. */
    private static SharedHeap create(Path file, long size, HeapOptions options, boolean hintStale) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(file, "file");
        return HeapLifecycle.create(init -> SharedMemory.create(file, size, options.permissions(), init),
                () -> SharedMemory.open(file), file, "heap " + file, size, options, hintStale);
    }

    /** Opens a file-backed heap with default options. */
    public static SharedHeap open(Path file) {
        return open(file, HeapOptions.defaults());
    }

    /**
     * Opens a file-backed heap and records this process in its attach table.
     *
     * @throws ShmNotFoundException if the file does not exist
     * @throws ShmFormatException   if it is not a valid heap
     * @throws ShmException         if it was made in another pid namespace (see "One pid namespace" in the README),
     *                              or another process has been taking over a gone process's hold in it for 5 s (an
     *                              open waits for such take-overs: see "Processes and removal")
     */
    public static SharedHeap open(Path file, HeapOptions options) {
        Objects.requireNonNull(options, "options");
        return HeapLifecycle.open(() -> SharedMemory.open(file), options);
    }

    /** Opens a file-backed heap read-only; as {@link #openReadOnly(String)}, it does not count as attached. */
    public static SharedHeap openReadOnly(Path file) {
        return HeapLifecycle.open(() -> SharedMemory.openReadOnly(file), HeapOptions.defaults());
    }

    /** Opens a file-backed heap, or creates it with default options. */
    public static SharedHeap openOrCreate(Path file, long size) {
        return openOrCreate(file, size, HeapOptions.defaults());
    }

    /** Opens a file-backed heap, or creates it; racing processes agree on one creator. */
    public static SharedHeap openOrCreate(Path file, long size, HeapOptions options) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(file, "file");
        return HeapLifecycle.openOrCreate(() -> create(file, size, options, false), () -> open(file, options), file);
    }

    /**
     * Deletes a heap file if it is stale, as {@link #unlinkIfStale(String)} removes a named heap. Every process that
     * used a persistent file is dead after a reboot, so the file is then stale: only call this for files that hold
     * nothing worth keeping.
     *
     * @return true if this call deleted the file
     * @throws ShmException if the heap was made in another pid namespace, whose processes this one cannot judge
     */
    public static boolean unlinkIfStale(Path file) {
        Objects.requireNonNull(file, "file");
        return HeapLifecycle.unlinkIfStale(() -> SharedMemory.open(file));
    }

    /** Creates a heap in anonymous memory, shared by the threads of this process, with default options. */
    public static SharedHeap anonymous(long size) {
        return anonymous(size, HeapOptions.defaults());
    }

    /** Creates a heap in anonymous memory, shared by the threads of this process. */
    public static SharedHeap anonymous(long size, HeapOptions options) {
        Objects.requireNonNull(options, "options");
        HeapHeader.checkSize("anonymous heap", size, options.catalogCapacity());
        return HeapLifecycle.anonymous(SharedMemory.anonymous(size), options);
    }

    /**
     * Allocates a zeroed block of {@code byteSize} bytes, aligned to a cache line (64 bytes).
     *
     * @see #allocate(String, BlockType, long, long, Consumer)
     */
    public HeapBlock allocate(String name, BlockType type, long byteSize) {
        return allocate(name, type, byteSize, HeapLayout.CACHE_LINE, block -> { });
    }

    /**
     * Allocates a new named block, zeroes it, runs {@code initializer} on it and then publishes it in the catalog.
     * The initializer runs while this heap's allocation lock is held: keep it short, and do not allocate from it.
     *
     * @param alignment   a power of two up to 2<sup>30</sup>
     * @param initializer writes the structure's initial state; if it throws, nothing is published
     * @throws ShmAlreadyExistsException if a block of that name exists
     * @throws ShmFullException          if the catalog or the data area is full
     * @throws IllegalArgumentException  if the name, size or alignment is invalid
     */
    public HeapBlock allocate(String name, BlockType type, long byteSize, long alignment,
                              Consumer<MemorySegment> initializer) {
        return allocateLocked(name, type, byteSize, alignment, initializer, existing -> {
            throw new ShmAlreadyExistsException("block '" + name + "' already exists in heap " + memory);
        });
    }

    /**
     * Returns the named block if it exists with this type and size, at an offset of this alignment, else allocates it
     * as {@link #allocate(String, BlockType, long, long, Consumer)} does. Racing processes get the same block, and its
     * initializer runs once.
     *
     * @throws ShmTypeMismatchException if the block exists with another type, layout version or size, or at an offset
     *                                  that is not a multiple of {@code alignment}
     */
    public HeapBlock allocateOrLookup(String name, BlockType type, long byteSize, long alignment,
                                      Consumer<MemorySegment> initializer) {
        return allocateLocked(name, type, byteSize, alignment, initializer, existing -> {
            HeapBlock block = checkType(existing, type);
            if (block.byteSize() != byteSize) {
                throw new ShmTypeMismatchException("block '" + name + "' in heap " + memory + " has byteSize="
                        + block.byteSize() + " (expected: " + byteSize + ")");
            }
            if (block.offset() % alignment != 0) { // alignment checked above: a power of two
                throw new ShmTypeMismatchException("block '" + name + "' in heap " + memory + " has offset="
                        + block.offset() + " (alignment " + block.alignment() + "; expected: a multiple of "
                        + alignment + ")");
            }
            return block;
        });
    }

    /**
     * Finds a block by name and checks its type.
     *
     * @throws ShmNotFoundException     if there is no block of that name
     * @throws ShmTypeMismatchException if its type tag or layout version differs from {@code type}
     */
    public HeapBlock lookup(String name, BlockType type) {
        Objects.requireNonNull(type, "type");
        return checkType(find(name).orElseThrow(() ->
                new ShmNotFoundException("no block named '" + name + "' in heap " + memory)), type);
    }

    /** @return the block of that name, of whatever type */
    public Optional<HeapBlock> find(String name) {
        ensureOpen();
        byte[] utf8 = Names.checkBlockName(name, HeapLayout.MAX_NAME_BYTES, this);
        try {
            return Optional.ofNullable(catalog.find(utf8)).map(this::toBlock);
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** @return every published block, in allocation order */
    public List<HeapBlock> blocks() {
        ensureOpen();
        try {
            return catalog.entries().stream().map(this::toBlock).toList();
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return bytes left in the data area after the last published block (before alignment padding); the space an
     *         allocator that died midway had taken counts as free, since the next allocation takes it
     * @throws ShmFormatException if the catalog's count or its last entry is corrupted (then no allocation succeeds)
     */
    public long freeBytes() {
        ensureOpen();
        try {
            return geometry.heapSize() - catalog.publishedEnd();
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /** @return the number of blocks a catalog of this heap can hold */
    public int catalogCapacity() {
        return geometry.catalogCapacity();
    }

    /** @return the size of the whole heap in bytes */
    public long byteSize() {
        return geometry.heapSize();
    }

    /** @return the region under this heap */
    public SharedMemory memory() {
        return memory;
    }

    /**
     * Reads the attach table: the processes that have this heap open, this one included (unless it opened the heap
     * read-only), and processes that died with it open and whose entries no later open has reclaimed yet.
     *
     * @return one entry per process, in table order (an unmodifiable list, as {@link #blocks()})
     * @throws IllegalStateException if this heap is closed
     */
    public List<HeapProcess> attachedProcesses() {
        ensureOpen();
        try {
            return AttachTable.processes(memory.segment());
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /**
     * Reads the creator's pid and start time from the header, for diagnostics.
     *
     * @return the process that created this heap, alive or not; its {@code attachments} is 0 (the attach table, see
     *         {@link #attachedProcesses()}, counts its opens)
     * @throws IllegalStateException if this heap is closed
     */
    public HeapProcess creator() {
        ensureOpen();
        long token;
        long startStamp;
        try {
            token = HeapHeader.creatorToken(memory.segment());
            startStamp = HeapHeader.creatorStartStamp(memory.segment());
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
        long startMillis = ProcessIdentity.startMillis(startStamp);
        return new HeapProcess(ProcessIdentity.pid(token), startMillis, 0, ProcessIdentity.isAlive(token));
    }

    /**
     * Tells, without changing anything, whether the heap is stale (its creator and every process in its attach table
     * are dead), as {@link #unlinkIfStale(String)} decides; a snapshot, for diagnostics: only that method removes a
     * heap safely.
     *
     * @throws IllegalStateException if this heap is closed
     */
    public boolean isStale() {
        return !creator().alive() && attachedProcesses().stream().noneMatch(HeapProcess::alive);
    }

    /**
     * Detaches this process (one attachment of it) from the heap and unmaps it; its blocks' segments become
     * inaccessible. If the heap was created with {@link HeapOptions#unlinkOnLastDetach()} and no live process is
     * left attached, its name or file is removed. Idempotent.
     *
     * <p>Close a heap after the threads using it are done (a close during another thread's access may crash the JVM on
     * a JDK without the fix of JDK-8364167: see {@link SharedMemory}). A thread blocked through it in a lock, queue or
     * other wait gets {@link IllegalStateException}; a thread that holds a lock through it (a {@code SharedLock}, a map
     * segment's lock during a write) cannot release it through the unmapped memory. So a named or file heap is unmapped
     * <em>before</em> this process leaves its attach table (through a second, short-lived mapping): from then on no
     * thread of this process can touch it, and when this was its last view of the heap, other processes treat what it
     * held as a dead process's: they take over its locks (marked inconsistent, as after an owner's death), read holds,
     * UNDO permits, ring roles and pipe ends, break a barrier it registered with, and skip its fair-lock turns and its
     * waits for deadlock detection, at their next liveness check. If this process opens the heap again before they
     * looked, that open (its attach, before it returns) renames each such hold still naming this process as a gone
     * process's, so the next taker, here or in another process, takes it over as after a death, instead of finding it
     * this process's again, held by no call: each hold in a structure the heap's catalog lists, or that this process
     * made with {@code wrap} or {@code format} over the heap's memory (it keeps a record of each). While this process
     * keeps another view of the heap open, or within this process, what it held stays held until it closes that view or
     * exits; but a structure's own lock that an operation held through this view (a map segment's, a list's) is
     * released through the other view when the operation fails, marked for repair as a dead holder's. So is a user's
     * lock ({@code SharedLock}, {@code SharedReentrantLock}, {@code SharedFairLock}, a read-write lock's write lock
     * with the flags and the waiting-writer count its call set) whose lock call this close cut short after it took the
     * lock, and a fair lock's ticket that a queued call held: the call throws, so its caller holds nothing (not marked:
     * nothing was entered); a thread whose unlock throws still holds the lock, and may unlock it through the other
     * view, unless the close was reported only after the unlock had freed it (that unlock then throws {@link
     * IllegalMonitorStateException}). An anonymous heap is mapped by this process alone. Other views of the heap, in
     * this process or others, go on working.
     *
     * <p>An allocation is never cut short by a close: before it touches anything, the close waits for an allocation
     * through this view that holds the heap's allocation lock (its initializer runs to its end and the block is
     * published), and an allocation through this view that has not taken the lock yet does not take it: it fails as
     * on a closed heap once the close is done (it waits meanwhile, and goes on if the close fails).
     *
     * @throws ShmException           if the heap should be removed but its file cannot be deleted (it is unmapped
     *                                 anyway)
     * @throws IllegalStateException   if a thread of this process still holds the heap's memory after 1 s (see
     *                                 {@link SharedMemory#close()}), or an allocation through this view still holds
     *                                 the allocation lock after 1 s: the heap stays open, mapped and attached, and a
     *                                 later {@code close} tries again; or if called from the initializer of an
     *                                 allocation through this view (nothing is done)
     */
    @Override
    public void close() {
        synchronized (attached) { // one close at a time, so that a close that failed leaves the heap as it was
            if (!memory.isClosed()) { // else idempotent: the lock was shut by the close that closed it
                // first: an allocation through this view is waited for, never cut short (see OwnerLock)
                allocLock.shut(SharedMemory.CLOSE_WAIT_NANOS, toString());
            }
            if (listed != null) {
                HeapMappings.remove(listed);
            }
            boolean wasAttached = attached.get();
            if (wasAttached && period != null) {
                // before the detach: a view opened meanwhile by another thread, attached after it, must not join a
                // period that the detach may end (helper-142)
                HeapMappings.leave(period);
            }
            try {
                if (wasAttached) {
                    HeapLifecycle.close(memory, geometry, options, flock >= 0);
                } else {
                    memory.close();
                }
            } finally {
                if (memory.isClosed()) {
                    attached.set(false);
                    if (flock >= 0) { // none for an anonymous heap: its close links no native call
                        HeapFileFlock.release(flock); // after the detach: held for as long as the slot says so
                        flock = HeapFileFlock.NONE;
                    }
                } else { // still mapped (see SharedMemory.close()): attached, listed, closable
                    allocLock.reopen();
                    if (wasAttached && period != null) { // the period goes on if another view kept it, else anew
                        period = HeapMappings.enter(memory.path().orElseThrow(), geometry.heapId(), listed);
                    }
                    if (listed != null) {
                        HeapMappings.add(listed, period);
                    }
                }
            }
        }
    }

    @Override
    public String toString() {
        return "heap " + memory;
    }

    /**
     * Called first by every method that reads the heap's memory, so that a closed heap is named rather than met with
     * the JDK's bare "Already closed" (a close racing with the call may still give that).
     *
     * @throws IllegalStateException if this heap is closed
     */
    private void ensureOpen() {
        if (memory.isClosed()) {
            throw closed(null);
        }
    }

    private HeapBlock allocateLocked(String name, BlockType type, long byteSize, long alignment,
                                     Consumer<MemorySegment> initializer, Function<HeapBlock, HeapBlock> onExisting) {
        byte[] utf8 = Names.checkBlockName(name, HeapLayout.MAX_NAME_BYTES, this);
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(initializer, "initializer");
        ensureOpen();
        if (byteSize <= 0 || alignment <= 0 || Long.bitCount(alignment) != 1 || alignment > HeapLayout.MAX_ALIGNMENT) {
            String block = this + ": block '" + name + "': "; // built only for a refusal: lookups allocate nothing
            Checks.positive(block + "byteSize", byteSize);
            Checks.powerOfTwo(block + "alignment", alignment);
            Checks.inRange(block + "alignment", alignment, 1, HeapLayout.MAX_ALIGNMENT);
        }
        if (memory.isReadOnly()) {
            throw new UnsupportedOperationException("heap " + memory + " is open read-only");
        }
        try {
            HeapCatalog.Entry found = catalog.find(utf8);
            if (found != null) {
                return onExisting.apply(toBlock(found)); // lock-free fast path: published entries never change
            }
            ReentrantLock localLock = localLock();
            if (localLock.isHeldByCurrentThread()) {
                throw new IllegalStateException("allocate called from an initializer of heap " + memory);
            }
            localLock.lock();
            try {
                allocLock.lock(options.initTimeout(), "heap " + memory);
                try {
                    return allocateHoldingLock(name, utf8, type, byteSize, alignment, initializer, onExisting);
                } finally {
                    allocLock.unlock(); // before a close of this view unmaps it: the close waits for it
                }
            } finally {
                localLock.unlock();
            }
        } catch (IllegalStateException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return the JVM-local lock taken before {@code allocLock}: its attach period's, shared by every view of the heap
     *         in this process (the shared word's value, the process token, tells none of their threads apart), else
     *         this view's own
     */
    private ReentrantLock localLock() {
        HeapMappings.AttachPeriod current = period; // a plain read: changed only by a close that failed
        return current != null ? current.allocationLock() : unsharedLock;
    }

    /**
     * @return for a failure met in this view's memory once another thread closed it (the JDK's bare "Already
     *         closed"), the exception {@link #ensureOpen()} throws, naming the heap; else {@code failure} itself
     */
    private IllegalStateException closedOr(IllegalStateException failure) {
        return memory.isClosed() ? closed(failure) : failure;
    }

    /** @return the exception for a use of this heap once closed, naming it; {@code cause} may be null */
    private IllegalStateException closed(Throwable cause) {
        return HeapClosed.exception(this, cause);
    }

    private HeapBlock allocateHoldingLock(String name, byte[] utf8, BlockType type, long byteSize, long alignment,
                                          Consumer<MemorySegment> initializer,
                                          Function<HeapBlock, HeapBlock> onExisting) {
        HeapCatalog.Entry found = catalog.find(utf8);
        if (found != null) {
            return onExisting.apply(toBlock(found));
        }
        int index = catalog.count();
        if (index == geometry.catalogCapacity()) {
            throw new ShmFullException("catalog of heap " + memory + " is full: " + index + " blocks; cannot add '"
                    + name + "'");
        }
        long top = catalog.freeStart(index);
        long offset = Checks.alignUp(top, alignment);
        if (offset > geometry.heapSize() || byteSize > geometry.heapSize() - offset) {
            throw new ShmFullException("heap " + memory + " is full: block '" + name + "' needs byteSize="
                    + byteSize + " at alignment=" + alignment + ", free=" + (geometry.heapSize() - top));
        }
        MemorySegment segment = memory.segment().asSlice(offset, byteSize);
        segment.fill((byte) 0); // a dead allocator may have left bytes here
        initializer.accept(segment);
        catalog.append(index, utf8, type.tag(), type.layoutVersion(), offset, byteSize, alignment,
                offset + byteSize);
        return new HeapBlock(name, type, offset, alignment, segment);
    }

    private HeapBlock toBlock(HeapCatalog.Entry entry) {
        return entry.block(memory.segment());
    }

    private HeapBlock checkType(HeapBlock block, BlockType type) {
        if (!block.type().equals(type)) {
            throw new ShmTypeMismatchException("block '" + block.name() + "' in heap " + memory + " is "
                    + block.type().describe() + " (expected: " + type.describe() + ")");
        }
        return block;
    }
}
