package org.shm4j.core;

import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.Checks;
import org.shm4j.core.internal.MappedFiles;
import org.shm4j.core.internal.Names;
import org.shm4j.core.internal.Undo;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A raw region of memory mapped into this process: named shared memory, a file, or anonymous memory. Like Python's
 * {@code multiprocessing.shared_memory.SharedMemory} and {@code mmap}, with no hidden header: byte 0 of
 * {@link #segment()} is byte 0 of the region.
 *
 * <h2>Kinds</h2>
 * <table class="striped">
 * <caption>Factories</caption>
 * <tr><th>Kind</th><th>Factories</th><th>Lives until</th></tr>
 * <tr><td>Named</td><td>{@link #create(String, long)}, {@link #open(String)}, {@link #openReadOnly(String)},
 *     {@link #openOrCreate(String, long)}, {@link #unlink(String)}</td>
 *     <td>{@code unlink} or reboot: the file {@code /dev/shm/<name>}, openable by any process of the same user,
 *     including Python's {@code SharedMemory(name)} (byte-compatible both ways)</td></tr>
 * <tr><td>File</td><td>{@link #create(Path, long)}, {@link #open(Path)}, {@link #openReadOnly(Path)},
 *     {@link #openOrCreate(Path, long)}</td><td>the file is deleted; {@link #force()} writes it to disk</td></tr>
 * <tr><td>Anonymous</td><td>{@link #anonymous(long)}</td><td>{@link #close()}; shared by the threads of this
 *     process only</td></tr>
 * </table>
 *
 * <h2>Rules</h2>
 * <ul>
 * <li>{@code create} is exclusive: it throws {@link ShmAlreadyExistsException} if the name or file exists. The new
 *     region is zero-filled and appears atomically with its full size and owner-only permissions (0600) unless others
 *     are asked for.</li>
 * <li>Region names are 1 to 200 characters of {@code [A-Za-z0-9._-]} and do not start with a dot; anything else
 *     ({@code /}, {@code ..}, spaces, an empty name) throws {@link IllegalArgumentException}.</li>
 * <li>Opening and creating are not interruptible: a thread whose interrupt is pending opens or creates as any other
 *     and keeps it set, as {@code ReentrantLock.lock()} does; an interrupt that arrives while a creation is under way
 *     may stop it ({@link ShmException} saying so, nothing made).</li>
 * <li>Sizes must be positive and fit the free space of the file system. A named or file region gets all its blocks
 *     when it is created ({@code posix_fallocate}, or zeros written), so a file system without room for it (a
 *     container's {@code /dev/shm}, 64 MB by default, shared with other processes' regions) refuses the creation with
 *     {@link ShmException}, instead of a first touch of a page faulting later (SIGBUS: an {@link InternalError}, or a
 *     crash of the JVM in an interpreted atomic operation). A region's memory is therefore taken at creation, not as
 *     its pages are first touched (Python's {@code SharedMemory} leaves the file sparse).</li>
 * <li>{@link #close()} unmaps the region; any access through {@link #segment()} afterwards throws
 *     {@link IllegalStateException}, never a crash. Closing twice is harmless. The memory is shared by all threads;
 *     closing while another thread still uses the segment makes that thread's access throw; on a JDK without the
 *     fix of JDK-8364167 (Temurin 25.0.3 has the bug), that thread may instead, rarely, make one more access to the
 *     unmapped memory and crash the JVM: close a region after the threads that use it are done.</li>
 * <li>Python interop: Python (3.13 too, unless it passes {@code track=False}) unlinks a segment when any Python
 *     process that attached to it exits (its {@code resource_tracker}), even while other processes still use it; a
 *     Python process that opens a region made by Java should call
 *     {@code resource_tracker.unregister(shm._name, "shared_memory")}, or pass {@code track=False} on 3.13+.</li>
 * </ul>
 */
public final class SharedMemory implements AutoCloseable {
    /** Folder of POSIX named shared memory on Linux: {@code shm_open("/name")} opens {@code /dev/shm/name}. */
    public static final Path SHM_DIR = Path.of("/dev/shm");

    /** Permissions of a new named or file region unless the caller asks for others: owner read and write. */
    public static final Set<PosixFilePermission> OWNER_ONLY =
            Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);

    private static final long PAGE_SIZE = 4096;
    /**
     * How long {@link #close()} waits for a use that holds the memory (see there) to end; a heap's close waits as long
     * for an allocation of this process in its critical section.
     */
    static final long CLOSE_WAIT_NANOS = 1_000_000_000L;

    private final String name;
    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;
    /** Set once the memory is unmapped; volatile: read by every thread's calls, written under {@link #closing}. */
    private volatile boolean closed;
    private final Object closing = new Object();
    /** What {@link #close()} passes first: null but for a heap's memory (see {@link #gate}); set once, volatile. */
    private volatile CloseGate gate;

    /**
     * A wait that {@link #close()} makes before it unmaps, undone if the region stays open: a heap's wait for an
     * allocation through it, so that a close of the heap's memory itself, as of the heap, cuts none short.
     */
    interface CloseGate {
        /**
         * Waits, before the unmap, for what the close must not cut short, and lets nothing new begin.
         *
         * @throws IllegalStateException if that still goes on after the wait's bound: nothing is closed
         */
        void shut();

        /** Undoes a {@link #shut} that returned, once the close failed and the region stays open. */
        void reopen();
    }

    private SharedMemory(String name, Path path, Arena arena, MemorySegment segment) {
        this.name = name;
        this.path = path;
        this.arena = arena;
        this.segment = segment;
    }

    /**
     * Creates the named region {@code /dev/shm/<name>} of {@code size} zero bytes, owner-only.
     *
     * @throws ShmAlreadyExistsException if the name exists
     * @throws IllegalArgumentException  if the name or size is invalid
     */
    public static SharedMemory create(String name, long size) {
        return create(name, size, OWNER_ONLY);
    }

    /**
     * Creates the named region {@code /dev/shm/<name>} of {@code size} zero bytes with the given permissions.
     *
     * @throws ShmAlreadyExistsException if the name exists
     * @throws IllegalArgumentException  if the name or size is invalid
     */
    public static SharedMemory create(String name, long size, Set<PosixFilePermission> permissions) {
        return createAt(name, namedPath(name), size, permissions, segment -> { });
    }

    /**
     * Creates the named region as {@link #create(String, long, Set)} does, running {@code beforeLink} on the new
     * mapping before the name appears, so that no other process ever sees the region before it is filled: a creator
     * killed or failing in {@code beforeLink} leaves no name (its temporary file is removed by a later create).
     * Creations in one folder take turns, across threads and processes, and {@code beforeLink} runs in its creation's
     * turn: other creations in {@code /dev/shm} wait for it (at most 1 s, then they go ahead without their turn), so
     * it should only write the initial contents.
     *
     * @param beforeLink writes the region's initial contents; if it throws, no region is made and the exception
     *                   propagates (an {@code UnsupportedOperationException} wrapped in {@link ShmException}, as
     *                   from the file system)
     * @throws ShmAlreadyExistsException if the name exists when the region is linked under it
     * @throws IllegalArgumentException  if the name or size is invalid
     */
    public static SharedMemory create(String name, long size, Set<PosixFilePermission> permissions,
                                      Consumer<MemorySegment> beforeLink) {
        return createAt(name, namedPath(name), size, permissions, beforeLink);
    }

    /**
     * Opens the existing named region {@code /dev/shm/<name>} for reading and writing, whatever its size. A symbolic
     * link under that name is refused, as {@code shm_open} (and so Python's {@code SharedMemory}) refuses it.
     *
     * @throws ShmNotFoundException     if there is no region of that name
     * @throws ShmFormatException       if the name is a folder, a FIFO or a device, or an empty file: nothing to map
     * @throws ShmException             if the name is a symbolic link, or the region cannot be opened
     * @throws IllegalArgumentException if the name is invalid
     */
    public static SharedMemory open(String name) {
        return openAt(name, namedPath(name), false);
    }

    /**
     * Opens the existing named region read-only: writes through {@link #segment()} throw the exception
     * {@code java.lang.foreign} specifies for a read-only segment ({@link IllegalArgumentException} since JDK 23).
     *
     * @throws ShmNotFoundException     if there is no region of that name
     * @throws ShmFormatException       as {@link #open(String)}
     * @throws ShmException             if the name is a symbolic link, or the region cannot be opened
     * @throws IllegalArgumentException if the name is invalid
     */
    public static SharedMemory openReadOnly(String name) {
        return openAt(name, namedPath(name), true);
    }

    /**
     * Opens the named region if it exists, else creates it with {@code size} zero bytes, owner-only. When several
     * processes race, exactly one creates it and all map the same memory.
     *
     * @throws ShmException             if the existing region is smaller than {@code size}
     * @throws ShmFormatException       as {@link #open(String)}
     * @throws IllegalArgumentException if the name is invalid or {@code size <= 0} (also when the region exists)
     */
    public static SharedMemory openOrCreate(String name, long size) {
        return openOrCreateAt(name, namedPath(name), size);
    }

    /**
     * Removes the name {@code /dev/shm/<name>}. Processes that have the region mapped keep it until they close it.
     * A folder at the name is not a region: it is refused, as {@code shm_unlink} (Python's
     * {@code SharedMemory.unlink()}) and {@link #open(String)} refuse it.
     *
     * @return true if the name existed
     * @throws ShmFormatException       if the name is a folder
     * @throws ShmException             if the name cannot be removed (no permission, an I/O error)
     * @throws IllegalArgumentException if the name is invalid
     */
    public static boolean unlink(String name) {
        Path file = namedPath(name);
        if (Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS)) {
            throw folderAt(file);
        }
        try {
            return Files.deleteIfExists(file); // a folder made since the look goes too if empty: nio has no unlink(2)
        } catch (DirectoryNotEmptyException e) {
            throw folderAt(file);
        } catch (IOException e) {
            throw new ShmException("cannot unlink " + file + ": " + e, e);
        }
    }

    /**
     * @return true if {@code /dev/shm/<name>} exists: a region, or anything else that takes the name (a symbolic link,
     *         even one that leads nowhere, which {@link #create(String, long)} finds taken)
     */
    public static boolean exists(String name) {
        return Files.exists(namedPath(name), LinkOption.NOFOLLOW_LINKS); // a link takes the name, as create says
    }

    /**
     * Creates {@code file} with {@code size} zero bytes, owner-only, and maps it.
     *
     * @throws ShmAlreadyExistsException if the file exists
     */
    public static SharedMemory create(Path file, long size) {
        return create(file, size, OWNER_ONLY);
    }

    /**
     * Creates {@code file} with {@code size} zero bytes and the given permissions, and maps it.
     *
     * @throws ShmAlreadyExistsException if the file exists
     */
    public static SharedMemory create(Path file, long size, Set<PosixFilePermission> permissions) {
        return createAt(null, checkPath(file), size, permissions, segment -> { });
    }

    /**
     * Creates {@code file} as {@link #create(String, long, Set, Consumer)} creates a named region: filled by
     * {@code beforeLink} before the file appears under its name.
     *
     * @throws ShmAlreadyExistsException if the file exists when it is linked
     */
    public static SharedMemory create(Path file, long size, Set<PosixFilePermission> permissions,
                                      Consumer<MemorySegment> beforeLink) {
        return createAt(null, checkPath(file), size, permissions, beforeLink);
    }

    /**
     * Maps the whole of an existing file for reading and writing. A symbolic link is followed: the region is the file
     * it leads to, named by its real path (so that a heap's removal deletes that file, not the link).
     *
     * @throws ShmNotFoundException if the file does not exist
     * @throws ShmFormatException   if it is a folder, a FIFO or a device, or an empty file: nothing to map
     */
    public static SharedMemory open(Path file) {
        return openAt(null, checkPath(file), false);
    }

    /**
     * Maps the whole of an existing file read-only.
     *
     * @throws ShmNotFoundException if the file does not exist
     * @throws ShmFormatException   as {@link #open(Path)}
     */
    public static SharedMemory openReadOnly(Path file) {
        return openAt(null, checkPath(file), true);
    }

    /**
     * Maps {@code file} if it exists, else creates it with {@code size} zero bytes, owner-only.
     *
     * @throws ShmException             if the existing file is smaller than {@code size}
     * @throws ShmFormatException       as {@link #open(Path)}
     * @throws IllegalArgumentException if {@code size <= 0} (also when the file exists)
     */
    public static SharedMemory openOrCreate(Path file, long size) {
        return openOrCreateAt(null, checkPath(file), size);
    }

    /**
     * Allocates {@code size} zeroed, page-aligned bytes of memory private to this process and shared by its threads.
     *
     * @throws IllegalArgumentException if {@code size <= 0}
     * @throws ShmException if the process cannot get {@code size} bytes of native memory
     */
    public static SharedMemory anonymous(long size) {
        Checks.positive("anonymous region: size", size);
        Arena arena = Arena.ofShared();
        try {
            return new SharedMemory(null, null, arena, arena.allocate(size, PAGE_SIZE));
        } catch (OutOfMemoryError e) { // the arena's native allocation failed (or its size overflowed), not the heap
            throw Undo.after(new ShmException("not enough memory for an anonymous region: size=" + size + " bytes",
                    e), arena::close);
        } catch (Throwable e) { // an Error too (see openAt)
            Undo.after(e, arena::close);
            throw e;
        }
    }

    /**
     * @return the mapped memory; its accessors throw {@link IllegalStateException} once this region is closed
     */
    public MemorySegment segment() {
        return segment;
    }

    /** @return the size of the region in bytes */
    public long byteSize() {
        return segment.byteSize();
    }

    /** @return the region name, for a named region */
    public Optional<String> name() {
        return Optional.ofNullable(name);
    }

    /** @return the backing file ({@code /dev/shm/<name>} for a named region), absent for anonymous memory */
    public Optional<Path> path() {
        return Optional.ofNullable(path);
    }

    /** @return true if the region was opened read-only */
    public boolean isReadOnly() {
        return segment.isReadOnly();
    }

    /**
     * @return true once {@link #close()} has closed the region's memory: from the moment its accessors throw, while
     *         that close may still be finishing on another thread
     */
    public boolean isClosed() {
        // the arena's scope dies before the accessors of other threads throw; closed is set only once close returns
        return closed || !segment.scope().isAlive();
    }

    /**
     * Writes changes of a file-backed region to its storage device ({@code msync}); does nothing for anonymous
     * memory, read-only regions, or named regions (they live in memory).
     *
     * @throws IllegalStateException if the region is closed
     */
    public void force() {
        if (closed) {
            throw new IllegalStateException("region " + this + " is closed");
        }
        if (segment.isMapped() && !segment.isReadOnly()) {
            segment.force();
        }
    }

    /**
     * Unmaps the region. Idempotent. Named and file regions stay in place for other processes. A thread that accesses
     * the memory meanwhile gets {@link IllegalStateException}; one that holds it (a native call it passed the segment
     * to, an operation on a {@code ByteBuffer} over it), which the JDK lets no close interrupt, is waited for up to
     * 1 s.
     *
     * <p>The memory of a {@link SharedHeap} ({@link SharedHeap#memory()}) first waits, as the heap's close does, for
     * an allocation through that heap view (see {@link SharedHeap#close()}); the heap itself stays open, attached.
     *
     * @throws IllegalStateException if such a use still holds the memory after 1 s, or such an allocation still runs
     *                               after 1 s: the region then stays open and mapped ({@link #isClosed()} false),
     *                               and a later {@code close} tries again; or if called from the initializer of such
     *                               an allocation
     */
    @Override
    public void close() {
        synchronized (closing) {
            if (!closed) {
                CloseGate first = gate;
                if (first != null) {
                    first.shut();
                }
                try {
                    closeRetrying(this::tryClose, 100_000);
                } finally {
                    if (first != null && !closed) {
                        first.reopen();
                    }
                }
            }
        }
    }

    /** Sets what {@link #close()} passes first: called once, by the heap laid out in this region, as it opens. */
    void gate(CloseGate first) {
        gate = first;
    }

    /**
     * Repeats {@code attempt} until it reports the region closed, {@code pauseNanos} apart, for up to 1 s (the wait
     * {@link #close()} documents).
     *
     * @param attempt one try to close the region: null once closed, else why not (as {@link #tryClose()})
     * @throws IllegalStateException if the region is still open after the wait
     */
    void closeRetrying(Supplier<IllegalStateException> attempt, long pauseNanos) {
        long start = System.nanoTime();
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                IllegalStateException held = attempt.get();
                if (held == null) {
                    return;
                }
                if (System.nanoTime() - start > CLOSE_WAIT_NANOS) {
                    throw new IllegalStateException("region " + this + " cannot be closed: a thread of this process "
                            + "still holds its memory after 1 s (a native call given the segment, or an operation on "
                            + "a buffer over it); it stays open: close it again once that use ends", held);
                }
                interrupted |= Backoff.takeInterrupt(); // close is not interruptible: else the park returns at once
                LockSupport.parkNanos(pauseNanos);
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * Unmaps the region if no thread holds its memory now (see {@link #close()}), once, without waiting.
     *
     * @return null if the region is closed now, else why not
     */
    IllegalStateException tryClose() {
        synchronized (closing) {
            if (!closed) {
                try {
                    arena.close();
                } catch (IllegalStateException held) { // the arena's session is acquired: see close()
                    return held;
                }
                closed = true;
            }
            return null;
        }
    }

    @Override
    public String toString() {
        return name != null ? "'" + name + "'" : path != null ? path.toString() : "anonymous@" + segment.address();
    }

    /** @return the refusal of {@link #unlink} for a folder at a region's name */
    private static ShmFormatException folderAt(Path file) {
        return new ShmFormatException(file + " is a folder, not a region: not removed");
    }

    /** @return a region to be, for messages: {@code region 'name'} or {@code region /the/file} */
    private static String describe(String name, Path file) {
        return name != null ? "region '" + name + "'" : "region " + file;
    }

    private static Path namedPath(String name) {
        return SHM_DIR.resolve(Names.checkRegionName(name));
    }

    private static Path checkPath(Path file) {
        Objects.requireNonNull(file, "file");
        if (file.getFileName() == null) {
            throw new IllegalArgumentException("file=" + file + " (expected: a path to a file)");
        }
        return file;
    }

    /**
     * @return the file that {@code file} leads to through symbolic links, so that a removal (last detach,
     *         {@code unlinkIfStale}) deletes the file rather than a link to it; {@code file} itself if that cannot be
     *         found out (missing or unreadable: the open then says why)
     */
    private static Path linkTarget(Path file) {
        try {
            return file.toRealPath();
        } catch (IOException | SecurityException e) {
            return file;
        }
    }

    private static SharedMemory createAt(String name, Path file, long size, Set<PosixFilePermission> permissions,
                                         Consumer<MemorySegment> beforeLink) {
        Checks.positive(describe(name, file) + ": size", size);
        Objects.requireNonNull(permissions, "permissions");
        Objects.requireNonNull(beforeLink, "beforeLink");
        Arena arena = Arena.ofShared();
        try {
            return new SharedMemory(name, file, arena, MappedFiles.create(file, size, permissions, arena, beforeLink));
        } catch (Throwable e) { // an Error too: beforeLink is the caller's code (and see openAt)
            Undo.after(e, arena::close);
            throw e;
        }
    }

    private static SharedMemory openAt(String name, Path file, boolean readOnly) {
        Path target = name == null ? linkTarget(file) : file; // a name's links are refused, a file's followed
        Arena arena = Arena.ofShared();
        try {
            return new SharedMemory(name, target, arena, MappedFiles.open(target, readOnly, name == null, arena));
        } catch (Throwable e) { // an Error too (a StackOverflowError midway): else the mapping is left for good
            Undo.after(e, arena::close);
            throw e;
        }
    }

    private static SharedMemory openOrCreateAt(String name, Path file, long size) {
        Checks.positive(describe(name, file) + ": size", size);
        while (true) {
            // first, so that an existing region is judged by its size, not the free space; a link counts as there
            if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    return openAtLeast(name, file, size);
                } catch (ShmNotFoundException unlinkedMeanwhile) {
                    if (Files.isSymbolicLink(file)) { // it leads nowhere: create would find the name taken, for ever
                        throw new ShmNotFoundException(file + " is a symbolic link to a file that does not exist");
                    }
                    // removed between the look and the open: try to create it
                }
            }
            try {
                return createAt(name, file, size, OWNER_ONLY, segment -> { });
            } catch (ShmAlreadyExistsException exists) {
                // created between the look and ours: open it on the next turn
            }
        }
    }

    /** @return the existing region, opened read-write, if it holds at least {@code size} bytes */
    private static SharedMemory openAtLeast(String name, Path file, long size) {
        SharedMemory region = openAt(name, file, false);
        if (region.byteSize() < size) {
            region.close();
            throw new ShmException(file + " exists with size " + region.byteSize() + ", smaller than the size="
                    + size + " asked for");
        }
        return region;
    }
}
