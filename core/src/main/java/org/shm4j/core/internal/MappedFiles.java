package org.shm4j.core.internal;

import org.shm4j.core.SharedMemory;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmException;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmNotFoundException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Creates and maps the files behind named and file-backed regions.
 *
 * <p>Creation is exclusive and atomic: the file is made under a temporary name in the same folder, sized and given its
 * permissions, mapped and (optionally) filled by the caller, then published with a hard link that fails if the name
 * exists. Another process therefore never sees the region with a wrong size, wide permissions or half-written
 * contents.
 *
 * <p>While it makes its temporary file, a creator holds a write lock on it ({@code fcntl}, through
 * {@link FileChannel#tryLock()}), which the kernel drops when the creator dies. A temporary file is taken for a dead
 * creation's leftover only if the pid and start stamp in its name name no live process <em>and</em> nobody holds that
 * lock: a creator in another pid namespace (a container sharing {@code /dev/shm} or a volume) has a pid that means
 * nothing here, and its file was deleted under it.
 */
public final class MappedFiles {
    private static final AtomicLong TEMP_SEQUENCE = new AtomicLong();
    /** Every temporary name starts so, this version's and older ones'. */
    private static final String TEMP_PREFIX = ".shm4j-";
    /** This version's temporary names: {@code .shm4j-t-<pid>-<start stamp bits>-<sequence>.tmp}. */
    private static final String STAMPED_PREFIX = TEMP_PREFIX + "t-";
    private static final String TEMP_SUFFIX = ".tmp";
    /**
     * The longest a creation refused for room without its turn goes on trying while other creations are in progress
     * in its folder (one may name the same region, or give the room back); see {@link #mayTryAgain}.
     */
    private static final long RACING_CREATION_NANOS = 5_000_000_000L;
    /** How many times a creator tries its temporary file's lock, 100 µs apart (see {@link #holdWhileMade}). */
    private static final int MADE_LOCK_ATTEMPTS = 100;
    /**
     * A temporary file's name as this version makes it: the creating process's pid and start stamp bits (as in its
     * token), a sequence number.
     */
    private static final Pattern STAMPED_NAME = Pattern.compile("\\.shm4j-t-(\\d{1,10})-(\\d{1,10})-\\d+\\.tmp");
    /**
     * Names of older versions: the pid, then epoch-ms start bits (another clock than the stamp's, so not compared)
     * or nothing, then a sequence number.
     */
    private static final Pattern OLDER_NAME = Pattern.compile("\\.shm4j-(\\d{1,10})-(?:\\d{1,10}-)?\\d+\\.tmp");

    /** What the JDK says when a read-only map finds the file shorter than the size asked for (JDK 22 to 25). */
    private static final String CANNOT_EXTEND = "cannot extend file to required size";

    private MappedFiles() {
    }

    /**
     * Creates {@code file} with {@code size} zero bytes, maps it read-write into {@code arena}, runs
     * {@code beforeLink} on the mapping and only then makes the file appear under its name. A pending interrupt of
     * the thread is taken first and set again at the end (see {@link #open}); one that arrives while it waits for its
     * folder's turn ({@link CreationLock}) stops it, nothing made, and stays set.
     *
     * @param arena      a shared or global arena: the map runs on a thread nobody interrupts
     *                   ({@link UninterruptedMap})
     * @param beforeLink writes the initial contents; if it throws, no file appears
     * @throws ShmAlreadyExistsException if the file exists
     * @throws ShmException               if the folder is missing, has too little space, or I/O fails
     */
    public static MemorySegment create(Path file, long size, Set<PosixFilePermission> permissions, Arena arena,
                                       Consumer<MemorySegment> beforeLink) {
        boolean interrupted = Backoff.takeInterrupt(); // see open: set again once made
        try {
            return createTakingTurn(file, size, permissions, arena, beforeLink);
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /** {@link #create}, the thread's interrupt not pending as it begins. */
    private static MemorySegment createTakingTurn(Path file, long size, Set<PosixFilePermission> permissions,
                                                  Arena arena, Consumer<MemorySegment> beforeLink) {
        Path dir = file.toAbsolutePath().getParent();
        try (CreationLock turn = CreationLock.take(dir)) {
            if (Thread.currentThread().isInterrupted()) { // one that came while it waited for its turn: it stops
                throw new ShmException("creation of " + file + " interrupted: nothing was made");
            }
            removeTemporariesOfDeadProcesses(dir);
            long start = System.nanoTime();
            while (true) {
                if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                    // before the room is judged: an existing region's blocks are taken already, and openOrCreate or
                    // a stale heap's replacement must learn that it exists, not that there is no room for another
                    throw new ShmAlreadyExistsException(file + " already exists");
                }
                String noRoom = roomMissing(dir, size);
                if (noRoom == null) {
                    MemorySegment segment = createNew(file, dir, size, permissions, arena, beforeLink);
                    if (segment != null) {
                        return segment;
                    }
                    noRoom = "posix_fallocate or writing its blocks: no space left on device";
                }
                // with the turn, only a creation that went ahead without one can hold room: a shorter bound
                long bound = turn.held() ? CreationLock.WAIT_NANOS : RACING_CREATION_NANOS;
                if (!mayTryAgain(file, dir, size, start, bound)) {
                    throw new ShmException("not enough space in " + dir + " for " + file.getFileName() + ": " + size
                            + " bytes (" + noRoom
                            + (dir.equals(SharedMemory.SHM_DIR) ? "; a container's /dev/shm is 64 MB unless docker"
                            + " run --shm-size says more" : "") + ")");
                }
                // apart, so that creators refused together do not collide again
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000, 2_000_000));
            }
        }
    }

    /**
     * Whether a creation refused for room should try again: a creator racing this one may hold the room in its
     * temporary file (its region, once named, is the one openOrCreate opens), or may have been refused too (the
     * blocks are taken as they go, so two can fail together), and then the room comes back. Creations that have
     * their turns ({@link CreationLock}) never race each other; one that went ahead without its turn (no native
     * access, or a turn not had in time) may race any.
     *
     * @param bound how long since {@code start} it goes on: {@link #RACING_CREATION_NANOS} without the turn, less
     *              with it (only a creation without a turn can hold room then, and anyone may plant a temporary file
     *              that looks alive)
     * @return true while, within {@code bound} of {@code start} and not interrupted, another creation is in progress
     *         in {@code dir}, the room is back, or the region was named meanwhile (the retry then says it exists)
     */
    private static boolean mayTryAgain(Path file, Path dir, long size, long start, long bound) {
        // each look twice, in this order: a creation that began after the first look at temporary files holds room
        // in one by the second; one that ended meanwhile gave its room back (refused) or named its region (a creator
        // names it before it deletes its temporary file)
        boolean changing = creationInProgress(dir) || roomMissing(dir, size) == null
                || creationInProgress(dir) || roomMissing(dir, size) == null
                || Files.exists(file, LinkOption.NOFOLLOW_LINKS);
        return changing && System.nanoTime() - start <= bound && !Thread.currentThread().isInterrupted();
    }

    /**
     * {@link #create}'s work once the name was free and the room there: a temporary file with its blocks, filled,
     * then linked under the name.
     *
     * @return the mapping, or null if the file system refused the blocks (the room was taken meanwhile)
     */
    private static MemorySegment createNew(Path file, Path dir, long size, Set<PosixFilePermission> permissions,
                                           Arena arena, Consumer<MemorySegment> beforeLink) {
        long token = ProcessIdentity.currentToken();
        Path temp = dir.resolve(STAMPED_PREFIX + ProcessIdentity.pid(token) + "-" + (token & 0xFFFF_FFFFL) + "-"
                + TEMP_SEQUENCE.incrementAndGet() + TEMP_SUFFIX);
        Set<StandardOpenOption> options = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            try (FileChannel channel = FileChannel.open(temp, options,
                    PosixFilePermissions.asFileAttribute(permissions))) {
                holdWhileMade(channel); // released when a descriptor of the file closes, or we die
                // posix_fallocate's descriptor is closed after the link: its close drops the lock
                try (FileSpace.Descriptor forBlocks = FileSpace.open(temp)) {
                    Files.setPosixFilePermissions(temp, permissions); // the umask may have narrowed the create mode
                    if (!FileSpace.reserve(forBlocks, temp, channel, size)) { // its blocks: no fault at first touch
                        return null;
                    }
                    MemorySegment segment = UninterruptedMap.map(channel, FileChannel.MapMode.READ_WRITE, size,
                            arena);
                    beforeLink.accept(segment);
                    link(file, temp, dir);
                    return segment;
                }
            } finally {
                // after the channel is closed: blocks of a refused reservation are given back before the name goes,
                // so that a racing creator that sees no creation in progress sees the room too (see mayTryAgain)
                Files.deleteIfExists(temp);
            }
        } catch (FileAlreadyExistsException e) {
            throw new ShmAlreadyExistsException(file + " already exists");
        } catch (NoSuchFileException e) {
            throw new ShmNotFoundException("folder " + dir + " does not exist");
        } catch (ClosedByInterruptException e) { // one that came meanwhile: it stays set, as the channel left it
            throw new ShmException("creation of " + file + " interrupted: nothing was made", e);
        } catch (IOException | UnsupportedOperationException e) {
            throw new ShmException("cannot create " + file + ": " + e, e);
        }
    }

    /**
     * Takes the write lock that tells other processes this creation of {@code channel}'s temporary file is alive
     * (see the class comment). A process's {@code fcntl} locks on a file go when it closes any descriptor of it, so
     * none is closed before the link ({@link FileSpace.Descriptor}). Best effort: a file system without locks leaves
     * the verdict to the pid in the name. Refused while another process's cleanup probes the file (its shared lock,
     * held for a moment), the lock is tried again a few times.
     */
    private static void holdWhileMade(FileChannel channel) {
        for (int attempt = 0; attempt < MADE_LOCK_ATTEMPTS; attempt++) {
            try {
                if (channel.tryLock() != null) {
                    return;
                }
            } catch (IOException | OverlappingFileLockException e) {
                return;
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /**
     * Links the filled temporary file under its name.
     *
     * @throws ShmException if the temporary file is gone (another process deleted it meanwhile), saying so
     */
    private static void link(Path file, Path temp, Path dir) throws IOException {
        try {
            Files.createLink(file, temp);
        } catch (NoSuchFileException e) {
            if (!Files.isDirectory(dir)) {
                throw e;
            }
            throw new ShmException("cannot create " + file + ": its temporary file " + temp.getFileName()
                    + " was deleted by another process while this one made it; nothing was made", e);
        }
    }

    /**
     * Deletes the temporary files in {@code dir} that processes killed in the middle of {@link #create} left behind
     * (a process that exits normally deletes its own). A file whose pid and start time name a live process, or whose
     * lock a live creator holds, is left alone, so a creation in progress is never disturbed, while one whose pid a
     * new process reuses is deleted (an
     * older version's name, whose start bits are of another clock, is kept while its pid lives); a temporary file is
     * never the only name of a published region (the region's own name is a hard link), so deleting one never loses
     * a region. Best effort: a folder that cannot be listed is skipped.
     */
    static void removeTemporariesOfDeadProcesses(Path dir) {
        for (Path temporary : temporariesOfDeadProcesses(dir)) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException | SecurityException e) {
                // best effort: a leftover temporary file costs space, never correctness
            }
        }
    }

    /**
     * @return the temporary files in {@code dir} that {@link #removeTemporariesOfDeadProcesses} deletes (for a tool's
     *         dry run); none if the folder cannot be listed
     */
    public static List<Path> temporariesOfDeadProcesses(Path dir) {
        return temporaries(dir, false);
    }

    /**
     * @return the temporary files in {@code dir} whose creating process may live ({@code live}) or is gone; none if
     *         the folder cannot be listed (best effort: a leftover costs space, a missed creation one more try)
     */
    private static List<Path> temporaries(Path dir, boolean live) {
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> temporaries = Files.newDirectoryStream(dir, TEMP_PREFIX + "*" + TEMP_SUFFIX)) {
            for (Path temporary : temporaries) {
                boolean mayLive = creatorMayLive(temporary.getFileName().toString()) || lockedByItsCreator(temporary);
                if (mayLive == live) {
                    found.add(temporary);
                }
            }
        } catch (IOException | SecurityException e) {
            // best effort, as above
        }
        return found;
    }

    /** @return true if {@code name} is a temporary name of {@link #create} (this version's or an older one's) */
    public static boolean isTemporaryName(String name) {
        return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
    }

    /** @return false only for a temporary name of this or an older version whose creating process is gone */
    private static boolean creatorMayLive(String name) {
        Matcher stamped = STAMPED_NAME.matcher(name);
        if (stamped.matches()) {
            return ProcessIdentity.isAlive(ProcessIdentity.token(Long.parseLong(stamped.group(1)),
                    Long.parseLong(stamped.group(2))));
        }
        Matcher older = OLDER_NAME.matcher(name);
        return !older.matches() || ProcessIdentity.isPidAlive(Long.parseLong(older.group(1)));
    }

    /**
     * @return true if a process holds the lock a creator keeps on its temporary file (see the class comment): its
     *         creation goes on, though the pid in the name may name no process here (another pid namespace's); also
     *         true if this process may not open it for reading and writing (no probe: kept); false if the file is
     *         gone, not a regular file (not opened), or cannot be looked at otherwise
     */
    private static boolean lockedByItsCreator(Path temporary) {
        BasicFileAttributes attributes = attributes(temporary, false);
        if (attributes == null || !attributes.isRegularFile()) {
            return false;
        }
        // read and write: a FIFO put under the name since the look above (a rename) would make a read-only open wait
        // for a writer for ever, with the folder's creation turn held; Linux opens a FIFO read-write at once
        try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.READ, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            FileLock probe = channel.tryLock(0, Long.MAX_VALUE, true); // shared: conflicts with the creator's only
            return probe == null; // released with the channel
        } catch (OverlappingFileLockException heldInThisJvm) {
            return true;
        } catch (AccessDeniedException | SecurityException unreadable) {
            // another user's file (a creator of another namespace, say): its lock cannot be probed, and in a folder
            // without the sticky bit it could still be deleted; a leftover costs space, a deletion a live creation
            return true;
        } catch (IOException gone) {
            return false; // the name's verdict stands
        }
    }

    /**
     * Maps the whole of an existing {@code file} into {@code arena}.
     *
     * <p>A pending interrupt of the thread is taken first and set again at the end, as {@code ReentrantLock.lock()}
     * does ({@link Backoff#takeInterrupt}): a channel's size, map, read or write would otherwise close it at once
     * ({@link ClosedByInterruptException}), and a cancelled task's cleanup could open nothing. One that arrives
     * meanwhile, which closes the channel so, is taken too and the file opened again. {@link #create} takes a pending
     * one likewise. The map itself runs on a thread nobody interrupts ({@link UninterruptedMap}): an interrupt in it
     * would leak the mapping.
     *
     * @param arena       a shared or global arena (the map runs on another thread)
     * @param followLinks false for a named region in {@code /dev/shm}, which is never opened through a symbolic link
     *                    (glibc's {@code shm_open}, and so Python's {@code SharedMemory}, open with
     *                    {@code O_NOFOLLOW}): anyone may plant one there, pointing at a file of the opener's
     * @throws ShmNotFoundException if the file does not exist
     * @throws ShmException         if the file is empty, a symbolic link not to be followed, or I/O fails
     */
    public static MemorySegment open(Path file, boolean readOnly, boolean followLinks, Arena arena) {
        boolean interrupted = Backoff.takeInterrupt();
        try {
            MemorySegment segment = map(file, readOnly, followLinks, arena);
            while (segment == null) {
                interrupted |= Backoff.takeInterrupt(); // the one that closed the channel
                segment = map(file, readOnly, followLinks, arena);
            }
            return segment;
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * {@link #open}, the thread's interrupt not pending as it begins.
     *
     * @return the mapping, or null if an interrupt of the thread closed the channel meanwhile (it is pending then)
     */
    private static MemorySegment map(Path file, boolean readOnly, boolean followLinks, Arena arena) {
        Set<OpenOption> options = new HashSet<>(List.of(StandardOpenOption.READ));
        if (!readOnly) {
            options.add(StandardOpenOption.WRITE);
        }
        if (!followLinks) {
            options.add(LinkOption.NOFOLLOW_LINKS);
        }
        requireNoSpecialFile(file, followLinks);
        try (FileChannel channel = FileChannel.open(file, options)) {
            return mapWhole(file, channel, readOnly ? FileChannel.MapMode.READ_ONLY : FileChannel.MapMode.READ_WRITE,
                    arena);
        } catch (NoSuchFileException e) {
            throw new ShmNotFoundException(file + " does not exist");
        } catch (AccessDeniedException e) {
            throw new ShmException("no permission to open " + file + (readOnly ? " for reading" : " for writing"), e);
        } catch (ClosedByInterruptException e) {
            return null;
        } catch (IOException e) {
            if (!followLinks && Files.isSymbolicLink(file)) {
                throw new ShmException(file + " is a symbolic link: a named region is never opened through one, as "
                        + "shm_open refuses them", e);
            }
            throw new ShmException("cannot open " + file + ": " + e, e);
        }
    }

    /**
     * Maps the whole of {@code channel}'s file. A file that shrinks between the size read and the map (another process
     * truncating it) fails a read-only map, which cannot extend the file ("Channel not open for writing - cannot
     * extend file to required size"): the size is read and the map tried again, once.
     *
     * @throws ShmFormatException if the file is empty
     * @throws ShmException       naming the file and both sizes, if it shrank again under the second map
     */
    private static MemorySegment mapWhole(Path file, FileChannel channel, FileChannel.MapMode mode, Arena arena)
            throws IOException {
        for (int attempt = 1; ; attempt++) {
            long size = channel.size();
            if (size == 0) {
                throw new ShmFormatException(file + " is empty: nothing to map"); // a heap's open promises this kind
            }
            try {
                return UninterruptedMap.map(channel, mode, size, arena);
            } catch (ClosedByInterruptException e) {
                throw e; // see map: the file is opened again
            } catch (IOException e) {
                long now = channel.size(); // the file may have grown back meanwhile: the JDK's words tell then
                boolean shrank = now < size || mode == FileChannel.MapMode.READ_ONLY && e.getMessage() != null
                        && e.getMessage().contains(CANNOT_EXTEND);
                if (!shrank) {
                    throw e;
                }
                if (attempt == 2) {
                    throw new ShmException(file + " shrank below the " + size + " bytes read while it was being "
                            + "mapped, twice in a row (now " + now + " bytes): another process is truncating it", e);
                }
            }
        }
    }

    /**
     * Refuses a FIFO, device, socket or folder before it is opened: a FIFO's open for reading waits for a writer, for
     * ever (and {@code /dev/shm} is writable by every user). A file missing, or a link not followed, is left to the
     * open to report. The type may change between this look and the open; that needs a process replacing the file.
     *
     * @throws ShmFormatException if {@code file} is there and is not a regular file
     */
    private static void requireNoSpecialFile(Path file, boolean followLinks) {
        BasicFileAttributes attributes = attributes(file, followLinks);
        if (attributes != null && !attributes.isRegularFile() && !attributes.isSymbolicLink()) {
            throw new ShmFormatException(file + " is not a regular file (" + (attributes.isDirectory() ? "a folder"
                    : "a FIFO, device or socket") + "): nothing to map");
        }
    }

    /**
     * @return false if {@code file} (links followed) is there and is not a regular file: a FIFO, device, socket or
     *         folder, which a reader of heap bytes must not open (see {@link #requireNoSpecialFile})
     */
    public static boolean regularOrMissing(Path file) {
        BasicFileAttributes attributes = attributes(file, true);
        return attributes == null || attributes.isRegularFile();
    }

    /** @return the attributes of {@code file}, or null if it is missing or unreadable (its open then says why) */
    private static BasicFileAttributes attributes(Path file, boolean followLinks) {
        try {
            return followLinks ? Files.readAttributes(file, BasicFileAttributes.class)
                    : Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | SecurityException missingOrUnreadable) {
            return null;
        }
    }

    /** @return true if {@code dir} holds a temporary file of {@link #create} whose process may be alive */
    private static boolean creationInProgress(Path dir) {
        return !temporaries(dir, true).isEmpty();
    }

    /**
     * @return why the file system cannot hold {@code size} more bytes, or null if its free space can: a sparse
     *         mapping past the free space would fault on write
     */
    private static String roomMissing(Path dir, long size) {
        try {
            FileStore store = Files.getFileStore(dir);
            if (store.getTotalSpace() == 0) {
                // /proc, /sys and the like: no space at all, so "not enough space" would mislead
                throw new ShmException("cannot create a region in " + dir + ": its file system (" + store.type()
                        + ") holds no file data (total space 0)");
            }
            long usable = store.getUsableSpace();
            return size > usable ? "usable=" + usable + " bytes" : null;
        } catch (NoSuchFileException e) {
            throw new ShmNotFoundException("folder " + dir + " does not exist");
        } catch (IOException e) {
            throw new ShmException("cannot read free space of " + dir + ": " + e, e);
        }
    }
}
