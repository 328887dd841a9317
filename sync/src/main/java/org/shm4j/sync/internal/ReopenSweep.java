package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;
import org.shm4j.core.internal.AttachTable;
import org.shm4j.core.internal.HeapCatalog;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

import static org.shm4j.sync.internal.SyncLayout.BARRIER;
import static org.shm4j.sync.internal.SyncLayout.FAIR_LOCK;
import static org.shm4j.sync.internal.SyncLayout.FAIR_PROCESSES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.LOCK;
import static org.shm4j.sync.internal.SyncLayout.PIPE;
import static org.shm4j.sync.internal.SyncLayout.READ_WRITE_LOCK;
import static org.shm4j.sync.internal.SyncLayout.REENTRANT_LOCK;
import static org.shm4j.sync.internal.SyncLayout.RW_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_WRITER_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.SEMAPHORE;
import static org.shm4j.sync.internal.SyncLayout.SEM_KIND_UNDO;
import static org.shm4j.sync.internal.SyncLayout.SEM_MUTEX_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.SEM_SLOTS_OFFSET;

/**
 * Renames what this process still holds in a heap when it opens that heap again after closing its last view of it:
 * the sweep that {@link AttachTable} runs then (registered by {@link Blocks}, which every structure's open passes,
 * so it is set before this process can hold anything in a heap).
 *
 * <p>A hold names a process, not an attach period. While a process that closed the heap stays away, others take what
 * it held over as a gone process's; once it opens the heap again, its name is back in the attach table, and a hold
 * its close left (a lock its thread held, a map segment's lock an operation cut short by the close had taken) was
 * its own again, held by no call: every later operation on it waited, in every process, and a thread of this process
 * locking it again was told it held it already. At that point (a new attach slot, after the wait for take-overs in
 * flight, under the attach lock) every word that names this process was left by the close, and the sweep renames it
 * with {@link ProcessIdentity#abandonedToken()}: this pid with other start bits, which every judge takes for a gone
 * holder (no attach table lists it, and it is not this process's start). The next taker, in any process or in this
 * one, takes it over as after a holder's death: a mutex marked for repair unless its holder had not entered, a
 * process slot's counts dropped by the next reclaim.
 *
 * <table>
 *   <caption>What the sweep renames, by block kind (blocks of another layout version are left alone)</caption>
 *   <tr><th>Kind</th><th>Word</th><th>Renamed by</th></tr>
 *   <tr><td>{@code SharedLock}, {@code SharedReentrantLock}</td><td>the mutex at 0</td>
 *       <td>{@link RobustMutex#abandon}</td></tr>
 *   <tr><td>{@code SharedReadWriteLock}</td><td>the writer's mutex; the readers' process slots</td>
 *       <td>{@link RobustMutex#abandon}, {@link ProcessSlots#abandon}</td></tr>
 *   <tr><td>{@code SharedFairLock}</td><td>the turn this process took (its owner bits in the ticket word), the
 *       tickets its waiters left out (given up: skipped at once); then the process slots</td>
 *       <td>{@link FairTurns#abandonLeft}, {@link ProcessSlots#abandon}</td></tr>
 *   <tr><td>{@code SharedRing} (and the rings of {@code SharedQueue}, {@code SharedJoinableQueue}, {@code
 *       SharedPipe})</td><td>the consumer's role (SPSC, MPSC) and the producer's (SPSC); the producer slot (MPSC,
 *       MPMC); the consumers' mutex (MPMC); the claim marks from the consumer's position to tail (stepping over the
 *       zero words of claims not marked; SPSC: up to one)</td><td>the ring package's renaming, which it adds
 *       ({@link #addKind}: {@code SharedRing.abandonHeld}), and {@link RobustMutex#abandon}</td></tr>
 *   <tr><td>{@code SharedPipe}</td><td>the owner word of each end this process holds open</td>
 *       <td>{@link PipeEnds#abandon}</td></tr>
 *   <tr><td>{@code SharedSemaphore} (UNDO)</td><td>the mutex; the permit holders' process slots</td>
 *       <td>{@link RobustMutex#abandon}, {@link ProcessSlots#abandon}</td></tr>
 *   <tr><td>{@code SharedBarrier}</td><td>the arrival slots (a party left waiting: a dead arrival, which breaks
 *       the generation); the registrations (dead parties', freed by {@code reset()})</td>
 *       <td>{@link BarrierGenerations#abandon}, {@link BarrierRegistry#abandon}</td></tr>
 *   <tr><td>the heap's wait table</td><td>the published waits' entries (skipped by readers, dropped by the next
 *       reclaim)</td><td>{@link WaitTable#abandon}</td></tr>
 *   <tr><td>{@code SharedCounters}</td><td>the allocation mutex</td><td>{@link CountersLayout#abandon}</td></tr>
 *   <tr><td>{@code SharedMap}, {@code SharedLongMap}</td><td>every segment's mutex, in the map block and in its
 *       extension blocks ({@code "<map>#<b>"})</td><td>{@link RobustMutex#abandon}, at the sites the map package
 *       adds ({@link #addMutexes}: {@code MapCore.mutexSites})</td></tr>
 *   <tr><td>{@code SharedList}</td><td>the writers' mutex in the header block</td><td>{@link RobustMutex#abandon},
 *       at the site the list package adds ({@code ListHeaders.mutexSites})</td></tr>
 * </table>
 *
 * <p>Besides the catalog's blocks, the sweep is given the structures this process made with {@code wrap} or
 * {@code format} over the heap's memory (a user's block holding a lock), which the catalog does not list: each such
 * factory notes its bytes and kind ({@link Blocks#wrapped}), and they are swept as a block of that kind.
 *
 * <p>Each rename is a CAS from this process's word, so a word another process changed meanwhile (a waiter's bit, a
 * reclaim of a slot) is read again or left to it. A block that cannot be read as its kind (damaged) is skipped: its
 * structure reports the damage when it is opened. A process killed midway leaves words named by it or by the renamed
 * name: both a gone process's.
 */
public final class ReopenSweep {
    /** The renaming of each swept kind, by tag, with the layout version it reads. */
    private static final Map<Integer, Kind> KINDS = kinds();
    /**
     * The kinds whose layout lives in another package ({@link #addKind}), by tag: added by a class of theirs that
     * every structure of the kind loads before it can hold anything, so a kind not yet here holds nothing here.
     */
    private static final Map<Integer, Kind> ADDED = new ConcurrentHashMap<>();

    private ReopenSweep() {
    }

    /** One block kind's renaming: {@code rename} runs on a block of {@code type}, given its name and the heap. */
    private record Kind(BlockType type, Renaming rename) {
    }

    /** A renaming of one block of a kind, named {@code name}, which may read the heap's other blocks. */
    @FunctionalInterface
    public interface Renaming {
        /**
         * Renames what this process holds in {@code block} ({@link ProcessIdentity#abandonedToken()}), its header
         * checked first as an open checks it.
         *
         * @throws RuntimeException if the block is not of its kind (damaged): the sweep skips it
         */
        void rename(MemorySegment block, String name, OtherBlocks heap);
    }

    /** The other blocks of the heap being swept, for a kind whose block has companions (a map's extension blocks). */
    @FunctionalInterface
    public interface OtherBlocks {
        /** @return the memory of the block named {@code name}, if there is one of {@code type} (tag and version) */
        Optional<MemorySegment> find(String name, BlockType type);
    }

    /**
     * Where a kind whose layout lives outside this package (a map's, a list's) keeps robust mutexes, which the sweep
     * renames ({@link RobustMutex#abandon}).
     */
    @FunctionalInterface
    public interface MutexSites {
        /**
         * @param block one block of the kind, named {@code name}
         * @param heap  the heap's other blocks
         * @return each robust mutex of the structure, as a slice of the memory that begins with it, found from its
         *         validated header
         * @throws RuntimeException if the block or a companion is not of its kind (damaged): none is renamed then
         */
        List<MemorySegment> of(MemorySegment block, String name, OtherBlocks heap);
    }

    /**
     * Sweeps blocks of {@code type} too, whose layout lives in another package, with {@code rename}. Called from a
     * class of that kind's package that each structure of the kind loads before it holds anything.
     */
    public static void addKind(BlockType type, Renaming rename) {
        ADDED.put(type.tag(), new Kind(type, rename));
    }

    /** {@link #addKind} for a kind whose only holds are the robust mutexes {@code sites} finds in a block. */
    public static void addMutexes(BlockType type, MutexSites sites) {
        addKind(type, (block, name, heap) -> {
            for (MemorySegment mutex : sites.of(block, name, heap)) {
                RobustMutex.abandon(mutex, 0);
            }
        });
    }

    /**
     * Registers the sweep with the heap's attach: called from {@link Blocks}' initialization, which every
     * structure's open runs first, so that this class is initialized there (at an open, not at a later reopen that may
     * come from deep in a thread's stack, where an initialization that overflowed would leave the class erroneous for
     * the JVM's life, and every reopen failing).
     */
    static void register() {
        AttachTable.onReopen(ReopenSweep::sweep);
    }

    /**
     * Renames what this process holds in every block of the heap in {@code heap} (see the class comment).
     *
     * @param blocks the heap's catalog entries
     */
    static void sweep(MemorySegment heap, List<HeapCatalog.Entry> blocks) {
        OtherBlocks others = (name, type) -> blocks.stream()
                .filter(e -> e.name().equals(name) && e.typeTag() == type.tag()
                        && e.layoutVersion() == type.layoutVersion())
                .findFirst().map(e -> heap.asSlice(e.offset(), e.byteSize()));
        for (HeapCatalog.Entry entry : blocks) {
            Kind kind = KINDS.getOrDefault(entry.typeTag(), ADDED.get(entry.typeTag()));
            if (kind == null || kind.type().layoutVersion() != entry.layoutVersion()) {
                continue;
            }
            try {
                kind.rename().rename(heap.asSlice(entry.offset(), entry.byteSize()), entry.name(), others);
            } catch (RuntimeException damaged) { // its header or size is not its kind's: its open reports that
                continue;
            }
        }
    }

    private static Map<Integer, Kind> kinds() {
        Map<Integer, Kind> kinds = new HashMap<>();
        add(kinds, LOCK, block -> RobustMutex.abandon(block, 0));
        add(kinds, REENTRANT_LOCK, block -> RobustMutex.abandon(block, 0));
        add(kinds, READ_WRITE_LOCK, block -> {
            RobustMutex.abandon(block, RW_WRITER_OFFSET);
            ProcessSlots.abandon(block, RW_SLOTS_OFFSET);
        });
        add(kinds, FAIR_LOCK, block -> {
            FairTurns.abandonLeft(block); // first: it knows this process's turn by its process slot, renamed next
            ProcessSlots.abandon(block, FAIR_PROCESSES_OFFSET);
        });
        add(kinds, CountersLayout.COUNTERS, CountersLayout::abandon);
        add(kinds, PIPE, PipeEnds::abandon);
        add(kinds, SEMAPHORE, block -> {
            if (CoordinationBlocks.param1(CoordinationBlocks.checked(block, SEMAPHORE, "semaphore")) == SEM_KIND_UNDO) {
                RobustMutex.abandon(block, SEM_MUTEX_OFFSET);
                ProcessSlots.abandon(block, SEM_SLOTS_OFFSET);
            }
        });
        add(kinds, BARRIER, BarrierGenerations::abandon);
        add(kinds, WaitLayout.TABLE, WaitTable::abandon);
        return Map.copyOf(kinds);
    }

    private static void add(Map<Integer, Kind> kinds, BlockType type, Consumer<MemorySegment> rename) {
        kinds.put(type.tag(), new Kind(type, (block, name, heap) -> rename.accept(block)));
    }
}
