package org.shm4j.core.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A {@code flock(2)} on a heap's file, through {@link FolderFlock}'s linkage: every process that has a named or file
 * heap open for writing holds a shared lock on a descriptor of its own (opened read-only), from before it validates
 * the header until its heap is closed, and says so in its attach slot ({@link AttachTable}); the death of the process
 * releases it. So an exclusive lock granted at once proves that no such process has the heap open, whatever the pids
 * in the heap name (which is what a process of another pid namespace cannot judge: see
 * {@link HeapHeader#adoptPidNamespace}). {@code flock}, not {@code fcntl}: an fcntl lock drops when any descriptor of
 * the file in the process closes, and another heap object of the same file may be closed at any time.
 *
 * <p>A descriptor is checked to lead to the heap that was mapped by reading the heap id through it ({@code pread}):
 * the path may have been removed and given to another heap meanwhile. Linux with native access for this module only
 * ({@link Libc}); otherwise nothing is held ({@link #NONE}) and callers behave as before this class.
 */
public final class HeapFileFlock {
    /** No lock: no native call is linked here, the file cannot be opened, it is another heap, or time ran out. */
    public static final int NONE = -1;
    /** {@link #exclusiveNow}: another descriptor (a process that has the heap open) holds a lock on the file. */
    public static final int HELD = -2;
    /** {@code O_RDONLY | O_NONBLOCK} (a FIFO planted at the path does not block the open), with O_CLOEXEC. */
    private static final int OPEN_FLAGS = 0 | 04000 | Libc.O_CLOEXEC;
    /** {@code pread}, or null where no native call is linked. */
    private static final MethodHandle PREAD = Libc.link(HeapFileFlock.class, "pread", FunctionDescriptor.of(JAVA_LONG,
            JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG)).handle();

    private HeapFileFlock() {
    }

    /**
     * Takes a shared lock on a new descriptor of {@code path}, trying again while an exclusive one is held (an
     * adopting or removing process holds it for a few system calls), until {@code deadline} ({@link System#nanoTime}).
     *
     * @return the descriptor, for {@link #keepIfOf} and {@link #release}; or {@link #NONE}
     */
    public static int share(Path path, long deadline) {
        int fd = lockNew(path, FolderFlock.LOCK_SHARED_NOW, deadline, 0);
        return fd == HELD ? NONE : fd;
    }

    /**
     * @return {@code fd} if it is a descriptor of the heap {@code heapId}; otherwise {@link #NONE}, having released it
     */
    public static int keepIfOf(int fd, long heapId) {
        if (fd >= 0 && idOf(fd) != heapId) {
            release(fd);
            return NONE;
        }
        return fd;
    }

    /**
     * Tries once to take an exclusive lock on a new descriptor of {@code path}, which must be the heap
     * {@code heapId}.
     *
     * @return the descriptor, holding the lock; {@link #HELD} if another descriptor holds a lock on the file; or
     *         {@link #NONE} (no native call, the file cannot be opened or is another heap, flock failed otherwise)
     */
    public static int exclusiveNow(Path path, long heapId) {
        return lockNew(path, FolderFlock.LOCK_EXCLUSIVE_NOW, System.nanoTime(), heapId);
    }

    /**
     * Tries once to take a shared lock on a new descriptor of {@code path}, and gives it back: after
     * {@link #exclusiveNow} found the file {@link #HELD}, tells a passing exclusive lock (another remover, an adopter
     * or a stale check, each holding it for a few system calls) from the shared ones of processes that have it open.
     *
     * @return true if another descriptor holds an exclusive lock on the file
     */
    public static boolean exclusiveElsewhere(Path path) {
        int fd = lockNew(path, FolderFlock.LOCK_SHARED_NOW, System.nanoTime(), 0);
        release(fd);
        return fd == HELD;
    }

    /**
     * Turns the exclusive lock of {@code fd} into a shared one, trying again until {@code deadline}. Not atomic
     * ({@code flock(2)}: the old lock goes first), so another process may take an exclusive lock in between.
     *
     * @return true if {@code fd} now holds a shared lock
     */
    public static boolean downgrade(int fd, long deadline) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            return FolderFlock.flock(state, fd, FolderFlock.LOCK_SHARED_NOW, deadline);
        }
    }

    /**
     * Runs {@code adoption} in the creation turn of the folder of {@code file} ({@link CreationLock}, best effort):
     * openers of one pid namespace racing to adopt a heap (a restarted container's processes) take turns, rather than
     * each holding a shared lock that refuses every other's exclusive one. An interrupt of the thread, pending or
     * arriving while it waits for the turn, is taken and set again at the end: else the wait would end without it.
     */
    public static <T> T inAdoptionTurn(Path file, Supplier<T> adoption) {
        Path dir = file.toAbsolutePath().getParent();
        boolean interrupted = Backoff.takeInterrupt();
        try (CreationLock turn = CreationLock.takeUninterruptibly(dir)) {
            return adoption.get();
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /** Closes {@code fd}, which releases its lock; does nothing for {@link #NONE} or {@link #HELD}. Never throws. */
    public static void release(int fd) {
        if (fd >= 0) {
            Libc.close(fd);
        }
    }

    /**
     * Takes the flock {@code operation} on a new descriptor of {@code path}, trying again while it conflicts until
     * {@code deadline} ({@link System#nanoTime}).
     *
     * @param heapId the heap the file must be, or 0 for any file
     * @return the descriptor, holding the lock; {@link #HELD} if another descriptor held a conflicting lock at the
     *         last try; or {@link #NONE} (no native call, the file cannot be opened or is another heap, flock failed
     *         otherwise)
     */
    private static int lockNew(Path path, int operation, long deadline, long heapId) {
        if (!FolderFlock.linked() || PREAD == null) {
            return NONE;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout()); // before the open: no leak
            int fd = Libc.open(path, OPEN_FLAGS);
            if (fd < 0) {
                return NONE;
            }
            if (heapId != 0 && idOf(fd) != heapId) {
                release(fd);
                return NONE;
            }
            if (FolderFlock.flock(state, fd, operation, deadline)) {
                return fd;
            }
            release(fd);
            // EWOULDBLOCK: a lock conflicts; any other error (a file system without flock) proves nothing
            return Downcall.errno(state) == FolderFlock.EWOULDBLOCK ? HELD : NONE;
        }
    }

    /** @return the heap id in the file of {@code fd}, or 0 if it cannot be read (a short or foreign file) */
    private static long idOf(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment id = arena.allocate(JAVA_LONG);
            long read = (long) PREAD.invokeExact(fd, id, JAVA_LONG.byteSize(), HeapLayout.HEAP_ID_OFFSET);
            return read == JAVA_LONG.byteSize() ? id.get(JAVA_LONG, 0) : 0;
        } catch (Throwable t) {
            throw new IllegalStateException("pread failed", t);
        }
    }
}
