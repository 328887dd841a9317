package org.shm4j.core.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * An exclusive {@code flock(2)} on a folder itself, through {@link Linker}: taken on a descriptor of the folder
 * opened read-only, released when that descriptor is closed, which the death of its process does too. No file is
 * made, so nothing is left in the folder and no file planted there (a symbolic link, a FIFO) is ever opened; any
 * process that may read the folder can take it.
 *
 * <p>Linux with native access for this module only; otherwise {@link #unavailable()} says why and
 * {@link #lock(Path, long)} takes nothing.
 */
final class FolderFlock {
    /** {@code O_RDONLY | O_NONBLOCK | O_CLOEXEC}: the generic values, which x86-64 and aarch64 share. */
    private static final int OPEN_FLAGS = 0 | 04000 | 02000000;
    /** {@code LOCK_EX | LOCK_NB}: exclusive, and fail at once (EWOULDBLOCK) if another descriptor holds it. */
    private static final int LOCK_EXCLUSIVE_NOW = 2 | 4;
    /** {@code EWOULDBLOCK} ({@code EAGAIN}) on Linux: another descriptor holds the lock. */
    private static final int EWOULDBLOCK = 11;
    /** {@code EINTR}: a signal came in the call. */
    private static final int EINTR = 4;
    private static final VarHandle ERRNO = Linker.Option.captureStateLayout().varHandle(groupElement("errno"));
    private static final Linked LINKED = link();

    private FolderFlock() {
    }

    /** The three calls, or why they are not made. */
    private record Linked(MethodHandle open, MethodHandle flock, MethodHandle close, String fallbackReason) {
    }

    /** @return why folders are not locked across processes here, or empty if they are */
    static Optional<String> unavailable() {
        return Optional.ofNullable(LINKED.fallbackReason());
    }

    /**
     * Takes the lock of {@code dir}, trying again 0.1 to 1 ms apart while another process (or another descriptor of
     * this one) holds it, until {@code deadline} ({@link System#nanoTime()}).
     *
     * @return the folder's descriptor, locked: give it to {@link #unlock(int)}; or -1 if the lock was not taken (held
     *         past the deadline, the folder cannot be opened, the file system has no flock, or it is unavailable)
     */
    static int lock(Path dir, long deadline) {
        if (LINKED.flock() == null) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) LINKED.open().invokeExact(arena.allocateFrom(dir.toString()), OPEN_FLAGS);
            if (fd < 0) {
                return -1;
            }
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            while (true) {
                if ((int) LINKED.flock().invokeExact(state, fd, LOCK_EXCLUSIVE_NOW) == 0) {
                    return fd;
                }
                int errno = (int) ERRNO.get(state, 0L);
                if (errno != EWOULDBLOCK && errno != EINTR || System.nanoTime() - deadline > 0) {
                    unlock(fd);
                    return -1;
                }
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000, 1_000_000));
            }
        } catch (Throwable t) {
            throw new IllegalStateException("flock of " + dir + " failed", t);
        }
    }

    /** Closes a descriptor {@link #lock} returned, which releases its lock. */
    static void unlock(int fd) {
        try {
            int closed = (int) LINKED.close().invokeExact(fd); // a close that fails still drops the lock
        } catch (Throwable t) {
            throw new IllegalStateException("close of a folder's descriptor failed", t);
        }
    }

    private static Linked link() {
        Optional<String> unavailable = Downcall.unavailable(FolderFlock.class, "flock");
        if (unavailable.isPresent()) {
            return new Linked(null, null, null, unavailable.get());
        }
        try {
            Linker linker = Linker.nativeLinker();
            Optional<MemorySegment> open = linker.defaultLookup().find("open");
            Optional<MemorySegment> flock = linker.defaultLookup().find("flock");
            Optional<MemorySegment> close = linker.defaultLookup().find("close");
            if (open.isEmpty() || flock.isEmpty() || close.isEmpty()) {
                return new Linked(null, null, null, "the C library lacks open, flock or close");
            }
            return new Linked(
                    // open is variadic; no mode follows flags without O_CREAT
                    linker.downcallHandle(open.get(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT),
                            Linker.Option.firstVariadicArg(2)),
                    linker.downcallHandle(flock.get(), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT),
                            Linker.Option.captureCallState("errno")),
                    linker.downcallHandle(close.get(), FunctionDescriptor.of(JAVA_INT, JAVA_INT)), null);
        } catch (IllegalCallerException | UnsupportedOperationException | IllegalArgumentException e) {
            return new Linked(null, null, null, "native access was refused: " + e.getMessage());
        }
    }
}
