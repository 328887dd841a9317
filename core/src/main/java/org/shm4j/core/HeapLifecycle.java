package org.shm4j.core;

import org.shm4j.core.internal.AttachTable;
import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.HeapFileFlock;
import org.shm4j.core.internal.HeapHeader;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.HeapRemoval;
import org.shm4j.core.internal.Timeouts;
import org.shm4j.core.internal.Undo;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * How a {@link SharedHeap} is created, opened, closed and removed: attach-table bookkeeping and the removal protocol
 * (see the "Processes and removal" section of {@link SharedHeap}). Named and file heaps differ only in how their
 * region is made, so each step takes that as a function.
 */
final class HeapLifecycle {
    /**
     * How many times an opener of another pid namespace, in its adoption turn, tries the exclusive flock of a heap's
     * file that another descriptor locks (an opener that has not yet read the header holds it for a moment), 0.1 to
     * 1 ms apart, before it refuses: a process that has the heap open holds it for ever.
     */
    private static final int ADOPT_ATTEMPTS = 10;
    /**
     * How long a remover watches a heap's file held shared and never exclusive, while no live process is attached,
     * before it calls the heap in use: the looks of other removers hold it shared for a few system calls each, a
     * process that has the heap open (of another namespace, or behind a reused pid) for ever.
     */
    private static final long SHARED_LOOK_NANOS = 50_000_000L;
    /** Why a file heap's path can be neither created nor opened. */
    private static final String LEADS_NOWHERE = "is a symbolic link to a file that does not exist (create does not go "
            + "through a link)";

    private HeapLifecycle() {
    }

    /**
     * Creates a named or file heap: the header is written and this process attached before the name appears. With
     * {@link HeapOptions#replaceStale()}, a stale heap at the name is removed first.
     *
     * @param create makes the region, running the given initializer before its name appears
     * @param open   maps the existing region, for the stale check
     * @param file   the heap's file, or null for a named heap (whose name is never opened through a link)
     * @param what      the heap to be, for messages
     * @param hintStale whether a refusal for an existing name says if the heap there is stale (a plain create's:
     *                  openOrCreate, which then opens the heap, would pay for the look for nothing)
     */
    static SharedHeap create(Function<Consumer<MemorySegment>, SharedMemory> create, Supplier<SharedMemory> open,
                             Path file, String what, long size, HeapOptions options, boolean hintStale) {
        HeapHeader.checkSize(what, size, options.catalogCapacity());
        int flags = options.unlinkOnLastDetach() ? HeapLayout.FLAG_UNLINK_ON_LAST_DETACH : 0;
        long start = System.nanoTime();
        while (true) {
            try {
                SharedMemory memory = create.apply(segment -> {
                    HeapHeader.initialise(segment, options.catalogCapacity(), flags);
                    AttachTable.attach(segment, "a new heap", false); // no flock before the name appears
                });
                return created(memory, options, start);
            } catch (ShmAlreadyExistsException exists) {
                if (!options.replaceStale()) {
                    throw hintStale ? hintIfStale(exists, open) : exists;
                }
                HeapRemoval.Outcome outcome = remove(open, HeapRemoval.Condition.STALE, options);
                if (outcome == HeapRemoval.Outcome.GONE && leadsNowhere(file)) { // no heap to replace, ever
                    throw new ShmAlreadyExistsException(exists.getMessage() + ": " + LEADS_NOWHERE);
                }
                if (outcome == HeapRemoval.Outcome.IN_USE
                        || System.nanoTime() - start > Timeouts.nanos(options.initTimeout())) {
                    throw new ShmAlreadyExistsException(exists.getMessage() + " and is not stale: a live process "
                            + "created it or has it open");
                }
            }
        }
    }

    /**
     * @return {@code exists}, or, if the region at the name is a heap whose creator and attached processes are all
     *         dead, the same refusal saying so and how to replace it (best effort: any doubt keeps {@code exists})
     */
    private static ShmAlreadyExistsException hintIfStale(ShmAlreadyExistsException exists,
                                                         Supplier<SharedMemory> open) {
        try (SharedMemory memory = open.get()) {
            MemorySegment segment = memory.segment();
            long heapId = HeapHeader.validateComplete(segment, "heap " + memory).heapId();
            HeapHeader.checkPidNamespace(segment, "heap " + memory); // another namespace's processes: no verdict
            int fd = HeapFileFlock.exclusiveNow(memory.path().orElseThrow(), heapId);
            HeapFileFlock.release(fd);
            if (fd == HeapFileFlock.HELD || !HeapRemoval.isStale(segment)) { // a flock: some process has it open
                return exists;
            }
        } catch (RuntimeException cannotTell) {
            return exists;
        }
        ShmAlreadyExistsException hinted = new ShmAlreadyExistsException(exists.getMessage() + ": a stale heap (its "
                + "creator and every process attached are dead); HeapOptions.withReplaceStale(true) replaces it, "
                + "SharedHeap.unlinkIfStale removes it");
        hinted.initCause(exists);
        return hinted;
    }

    /**
     * Opens a named or file heap and attaches this process (unless read-only); if the heap is removed from its name
     * meanwhile, detaches and opens the name again.
     *
     * @throws ShmNotFoundException if there is no region at the name
     * @throws ShmFormatException   if the region is not a valid heap
     */
    static SharedHeap open(Supplier<SharedMemory> open, HeapOptions options) {
        long start = System.nanoTime();
        long deadline = start + Timeouts.nanos(options.initTimeout());
        while (true) {
            SharedMemory memory = open.get();
            int flock = HeapFileFlock.NONE;
            boolean attached = false; // whether a failure must give back the attach slot: never twice
            try {
                String what = "heap " + memory; // in the try: even this may fail (a StackOverflowError)
                if (memory.isReadOnly()) {
                    return new SharedHeap(memory, options, HeapHeader.validateComplete(memory.segment(), what), false,
                            HeapFileFlock.NONE);
                }
                // before the header is read: an adopter rewrites it under an exclusive flock
                flock = HeapFileFlock.share(memory.path().orElseThrow(), deadline);
                HeapHeader.Geometry geometry = HeapHeader.validateComplete(memory.segment(), what);
                flock = HeapFileFlock.keepIfOf(flock, geometry.heapId()); // the path may lead to another heap now
                if (HeapHeader.ofAnotherPidNamespace(memory.segment())) {
                    int shared = flock;
                    flock = HeapFileFlock.NONE; // adopt releases it, even when it throws: never closed twice here
                    flock = adopt(memory, geometry, shared, deadline, what);
                }
                AttachTable.attach(memory.segment(), what, flock >= 0);
                attached = true;
                if (HeapHeader.ofAnotherPidNamespace(memory.segment())) { // adopted meanwhile, we holding no flock
                    throw HeapHeader.pidNamespaceRefusal(memory.segment(), what, "");
                }
                if (confirm(memory, geometry, options)) {
                    return new SharedHeap(memory, options, geometry, true, flock);
                }
                attached = false;
                AttachTable.detach(memory.segment());
            } catch (Throwable e) { // an Error too (a StackOverflowError midway): else the mapping is left for good
                if (attached) { // before the flock's release: held for as long as the slot says so
                    Undo.after(e, () -> AttachTable.detach(memory.segment()));
                }
                int held = flock;
                Undo.after(e, () -> HeapFileFlock.release(held));
                Undo.after(e, memory::close);
                throw e;
            }
            HeapFileFlock.release(flock);
            memory.close();
            if (System.nanoTime() - start > Timeouts.nanos(options.initTimeout())) {
                throw new ShmException("heap " + memory + " was removed and replaced again and again for "
                        + options.initTimeout().toMillis() + " ms while opening it");
            }
        }
    }

    /**
     * Makes a heap of another pid namespace this one's if no process has it open: an exclusive {@link HeapFileFlock}
     * granted at once, with every attach slot flocked, proves that (see {@link HeapHeader#adoptPidNamespace}). A
     * container restarted over a heap file it kept on a volume runs in a new pid namespace each time.
     *
     * @param shared this opener's shared flock on the heap's file, or {@link HeapFileFlock#NONE}: released here
     * @return a descriptor holding a shared flock on the heap's file, the header now naming this pid namespace
     * @throws ShmException the namespace refusal, saying why the heap could not be adopted
     */
    private static int adopt(SharedMemory memory, HeapHeader.Geometry geometry, int shared, long deadline,
                             String what) {
        MemorySegment segment = memory.segment();
        if (shared < 0) {
            throw HeapHeader.pidNamespaceRefusal(segment, what, "; without a flock on its file (native access) "
                    + "this process cannot tell that no process has it open");
        }
        HeapFileFlock.release(shared); // our own shared lock would refuse our exclusive one, and others'
        Path path = memory.path().orElseThrow();
        return HeapFileFlock.inAdoptionTurn(path, () -> {
            int fd = HeapFileFlock.keepIfOf(HeapFileFlock.share(path, deadline), geometry.heapId());
            if (fd >= 0 && !HeapHeader.ofAnotherPidNamespace(segment)) {
                return fd; // an opener of this namespace adopted it while we waited for our turn
            }
            HeapFileFlock.release(fd);
            boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
            try {
                for (int attempt = 1; ; attempt++) {
                    fd = HeapFileFlock.exclusiveNow(path, geometry.heapId());
                    if (fd >= 0) {
                        return adoptHolding(segment, fd, deadline, what);
                    }
                    if (fd != HeapFileFlock.HELD) {
                        throw HeapHeader.pidNamespaceRefusal(segment, what, "; its file could not be locked");
                    }
                    if (attempt == ADOPT_ATTEMPTS) {
                        throw HeapHeader.pidNamespaceRefusal(segment, what, "; a process holds it open");
                    }
                    // an opener still reading the header (before its turn) holds a shared lock for a moment
                    interrupted |= Backoff.takeInterrupt(); // not interruptible: else each park would return at once
                    LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000, 1_000_000));
                }
            } finally {
                Backoff.restoreInterrupt(interrupted);
            }
        });
    }

    /**
     * Adopts the heap, {@code fd} holding an exclusive flock on its file: released here if it throws.
     *
     * @return {@code fd}, its lock now shared
     */
    private static int adoptHolding(MemorySegment segment, int fd, long deadline, String what) {
        try {
            if (!AttachTable.allFlocked(segment)) {
                throw HeapHeader.pidNamespaceRefusal(segment, what, "; a process in its attach table holds no flock on"
                        + " it (an older shm4j, or one without native access), so whether it lives cannot be told");
            }
            long before = HeapHeader.adoptPidNamespace(segment);
            if (!AttachTable.allFlocked(segment)) { // an opener without a flock claimed a slot meanwhile: give back
                HeapHeader.setPidNamespace(segment, before);
                throw HeapHeader.pidNamespaceRefusal(segment, what, "; a process without a flock on it was opening it");
            }
            if (!HeapFileFlock.downgrade(fd, deadline) || HeapHeader.ofAnotherPidNamespace(segment)) {
                // another namespace's opener may take the exclusive lock in the gap of the downgrade, and adopt it
                throw HeapHeader.pidNamespaceRefusal(segment, what, "; another process adopted it meanwhile");
            }
            return fd;
        } catch (Throwable e) { // an Error too (see open)
            Undo.after(e, () -> HeapFileFlock.release(fd));
            throw e;
        }
    }

    /** Lays a heap out over anonymous memory and attaches this process. */
    static SharedHeap anonymous(SharedMemory memory, HeapOptions options) {
        try {
            HeapHeader.Geometry geometry = HeapHeader.initialise(memory.segment(), options.catalogCapacity(), 0);
            AttachTable.attach(memory.segment(), "heap " + memory, false);
            return new SharedHeap(memory, options, geometry, true, HeapFileFlock.NONE);
        } catch (Throwable e) { // an Error too (see open)
            Undo.after(e, memory::close);
            throw e;
        }
    }

    /** @return true if this call removed the stale heap that {@code open} maps */
    static boolean unlinkIfStale(Supplier<SharedMemory> open) {
        return remove(open, HeapRemoval.Condition.STALE, HeapOptions.defaults()) == HeapRemoval.Outcome.REMOVED;
    }

    /**
     * Maps the region {@code open} gives and removes it if {@code condition} holds.
     *
     * @return {@link HeapRemoval.Outcome#GONE} if there is no region
     */
    static HeapRemoval.Outcome remove(Supplier<SharedMemory> open, HeapRemoval.Condition condition,
                                      HeapOptions options) {
        SharedMemory memory;
        try {
            memory = open.get();
        } catch (ShmNotFoundException absent) {
            return HeapRemoval.Outcome.GONE;
        }
        try (memory) {
            MemorySegment segment = memory.segment();
            String what = "heap " + memory;
            HeapHeader.Geometry geometry = HeapHeader.validateComplete(segment, what);
            Path path = memory.path().orElseThrow();
            int fd = exclusiveOnceLooksEnd(path, geometry.heapId(), segment, options);
            try {
                if (HeapHeader.ofAnotherPidNamespace(segment)) { // whose processes it cannot judge, unless gone
                    if (fd == HeapFileFlock.HELD) {
                        throw HeapHeader.pidNamespaceRefusal(segment, what, "; a process holds it open");
                    }
                    if (fd < 0 || !AttachTable.allFlocked(segment)) {
                        throw HeapHeader.pidNamespaceRefusal(segment, what, "");
                    }
                } else if (fd == HeapFileFlock.HELD) {
                    return HeapRemoval.Outcome.IN_USE; // whatever pids and namespace numbers say (inode reuse)
                }
                return HeapRemoval.remove(segment, geometry.heapId(), memory.path().orElseThrow(), condition,
                        options.initTimeout(), what);
            } finally {
                HeapFileFlock.release(fd);
            }
        }
    }

    /**
     * The exclusive flock of a heap's file for its removal. Another remover (racing {@code replaceStale} creators),
     * an adopter or a stale check holds it exclusive for a few system calls, and another remover's look
     * ({@link HeapFileFlock#exclusiveElsewhere}) holds it shared for one: they are waited out (bounded by the init
     * timeout) rather than the heap called in use; only an open heap holds it shared for longer. A pending interrupt
     * of the thread is kept for the end (see {@link Backoff#takeInterrupt}).
     *
     * @return a descriptor holding the exclusive flock, or {@link HeapFileFlock#HELD} if a process has the heap open
     *         (or the lock was held past the init timeout), or another negative value as
     *         {@link HeapFileFlock#exclusiveNow} returns
     */
    private static int exclusiveOnceLooksEnd(Path path, long heapId, MemorySegment segment, HeapOptions options) {
        long start = System.nanoTime();
        int fd = HeapFileFlock.exclusiveNow(path, heapId);
        long sharedSince = 0;
        boolean sharedSeen = false;
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (fd == HeapFileFlock.HELD && System.nanoTime() - start <= Timeouts.nanos(options.initTimeout())) {
                if (HeapFileFlock.exclusiveElsewhere(path)) {
                    sharedSeen = false;
                } else if (!sharedSeen) {
                    if (!HeapHeader.ofAnotherPidNamespace(segment) && AttachTable.anyAlive(segment)) {
                        break; // a live process has it open, as its pid says here: in use, with no watch
                    }
                    sharedSeen = true;
                    sharedSince = System.nanoTime();
                } else if (System.nanoTime() - sharedSince > SHARED_LOOK_NANOS) {
                    break; // held shared for longer than any look: a process has it open
                }
                interrupted |= Backoff.takeInterrupt(); // not interruptible: else each park would return at once
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000, 1_000_000));
                fd = HeapFileFlock.exclusiveNow(path, heapId);
            }
            return fd;
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * Closes an attached heap. A named or file heap is unmapped first, so that no thread of this process can touch its
     * memory any more, and only then detached, through a second mapping of the same region: a process that is no
     * longer attached can hold no lock, role or slot of the heap, which lets waiters elsewhere take those over (see
     * {@link org.shm4j.core.internal.HeapMappings}). If the name no longer leads to this heap (it was removed, or
     * replaced by another heap) or cannot be mapped again, and for an anonymous heap (no other process maps it), the
     * heap is detached before it is unmapped, as before; if it then cannot be unmapped (see
     * {@link SharedMemory#close()}), it is attached again, so that it stays open as it was: detached but mapped, its
     * threads could hold what other processes, and this one, would take for a gone process's.
     */
    static void close(SharedMemory memory, HeapHeader.Geometry geometry, HeapOptions options, boolean flocked) {
        SharedMemory again = mapAgain(memory, geometry);
        if (again == null) {
            closeDetachedFirst(memory, geometry, options, flocked);
            return;
        }
        try (again) {
            memory.close();
            detach(again, geometry, options);
        }
    }

    /**
     * Detaches, then unmaps if no thread holds the memory, else attaches again at once and tries again after 1 ms,
     * for up to about 1 s (as {@link SharedMemory#close()} waits): while detached, other processes may take this one
     * for gone and take over what its threads hold, so each gap lasts one attempt, not the whole wait (helper-142: a
     * writer elsewhere got in beside a reader of this process during a 1 s gap).
     */
    private static void closeDetachedFirst(SharedMemory memory, HeapHeader.Geometry geometry, HeapOptions options,
                                           boolean flocked) {
        memory.closeRetrying(() -> {
            detach(memory, geometry, options);
            IllegalStateException held = memory.tryClose();
            if (held != null) {
                AttachTable.attachAgain(memory.segment(), "heap " + memory, flocked); // its holds live on
            }
            return held;
        }, 1_000_000);
    }

    /** @return a second mapping of the region of {@code memory} if its name or path still leads to this heap */
    private static SharedMemory mapAgain(SharedMemory memory, HeapHeader.Geometry geometry) {
        if (memory.path().isEmpty()) {
            return null;
        }
        SharedMemory again;
        try {
            again = memory.name().isPresent() ? SharedMemory.open(memory.name().get())
                    : SharedMemory.open(memory.path().get());
        } catch (RuntimeException removedOrRefused) {
            return null;
        }
        try {
            if (HeapHeader.validateComplete(again.segment(), "heap " + again).heapId() == geometry.heapId()) {
                return again;
            }
        } catch (RuntimeException notThisHeap) {
            // another region now at the name: fall through
        }
        again.close();
        return null;
    }

    /**
     * Detaches this process from an attached heap; if the heap asks for it and no live process is left attached,
     * removes its name. Does not unmap.
     */
    static void detach(SharedMemory memory, HeapHeader.Geometry geometry, HeapOptions options) {
        AttachTable.detach(memory.segment());
        if (geometry.unlinkOnLastDetach() && memory.path().isPresent()) {
            HeapRemoval.remove(memory.segment(), geometry.heapId(), memory.path().get(), HeapRemoval.Condition.UNUSED,
                    options.initTimeout(), "heap " + memory);
        }
    }

    private static boolean confirm(SharedMemory memory, HeapHeader.Geometry geometry, HeapOptions options) {
        if (memory.path().isEmpty()) {
            return true;
        }
        return HeapRemoval.confirmAttached(memory.segment(), geometry.heapId(), memory.path().get(),
                options.initTimeout(), "heap " + memory);
    }

    /**
     * @return the heap this process just created in {@code memory}, attached before its name appeared; if this
     *         fails, detached, its flock released and closed
     */
    private static SharedHeap created(SharedMemory memory, HeapOptions options, long start) {
        int flock = HeapFileFlock.NONE;
        try {
            HeapHeader.Geometry geometry = HeapHeader.validateComplete(memory.segment(), "heap " + memory);
            flock = HeapFileFlock.keepIfOf(HeapFileFlock.share(memory.path().orElseThrow(),
                    start + Timeouts.nanos(options.initTimeout())), geometry.heapId());
            if (flock >= 0) {
                AttachTable.markFlocked(memory.segment());
            }
            return new SharedHeap(memory, options, geometry, true, flock);
        } catch (Throwable e) { // an Error too (see open)
            Undo.after(e, () -> AttachTable.detach(memory.segment())); // before the flock's release (see open)
            int held = flock;
            Undo.after(e, () -> HeapFileFlock.release(held));
            Undo.after(e, memory::close);
            throw e;
        }
    }

    /**
     * Creates, or else opens, until one works: the name may be removed between a failed create and the open.
     *
     * @param file the heap's file, or null for a named heap
     * @throws ShmNotFoundException if {@code file} is a symbolic link that leads nowhere: create finds it taken and
     *                              open finds no file, for ever
     */
    static SharedHeap openOrCreate(Supplier<SharedHeap> create, Supplier<SharedHeap> open, Path file) {
        while (true) {
            try {
                return create.get();
            } catch (ShmAlreadyExistsException exists) {
                try {
                    return open.get();
                } catch (ShmNotFoundException unlinkedMeanwhile) {
                    if (leadsNowhere(file)) {
                        throw new ShmNotFoundException(file + " " + LEADS_NOWHERE);
                    }
                    // removed between our create and open: try to create it again
                }
            }
        }
    }

    /**
     * @return true if {@code file} (null for a named heap) is a symbolic link to a file that does not exist, as
     *         {@link SharedMemory#openOrCreate(Path, long)} refuses it
     */
    private static boolean leadsNowhere(Path file) {
        return file != null && Files.isSymbolicLink(file) && Files.notExists(file);
    }
}
