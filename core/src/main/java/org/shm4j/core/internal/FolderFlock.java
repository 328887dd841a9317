package org.shm4j.core.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * An exclusive {@code flock(2)} on a folder itself, through {@link Linker}: taken on a descriptor of the folder
 * opened read-only, released when that descriptor is closed, which the death of its process does too. No file is
 * made, so nothing is left in the folder and no file planted there (a symbolic link, a FIFO) is ever opened; any
 * process that may read the folder can take it. Linux with native access for this module only ({@link Libc});
 * otherwise {@link #lock(Path, long)} takes nothing. {@link HeapFileFlock} shares its linkage and its retry loop
 * ({@link #flock(MemorySegment, int, int, long)}).
 */
final class FolderFlock {
    /** {@code O_RDONLY | O_NONBLOCK}, with {@link Libc#O_CLOEXEC}. */
    private static final int OPEN_FLAGS = 0 | 04000 | Libc.O_CLOEXEC;
    /** {@code LOCK_SH | LOCK_NB}: shared, and fail at once (EWOULDBLOCK) if another descriptor holds it exclusive. */
    static final int LOCK_SHARED_NOW = 1 | 4;
    /** {@code LOCK_EX | LOCK_NB}: exclusive, and fail at once (EWOULDBLOCK) if another descriptor holds it. */
    static final int LOCK_EXCLUSIVE_NOW = 2 | 4;
    /** {@code EWOULDBLOCK} ({@code EAGAIN}) on Linux: another descriptor holds the lock. */
    static final int EWOULDBLOCK = 11;
    /** {@code EINTR}: a signal came in the call. */
    private static final int EINTR = 4;
    /** {@code flock}, or null where no native call is linked. */
    private static final MethodHandle FLOCK = Libc.link(FolderFlock.class, "flock", FunctionDescriptor.of(JAVA_INT,
            JAVA_INT, JAVA_INT), Linker.Option.captureCallState("errno")).handle();

    private FolderFlock() {
    }

    /** @return true if {@code flock} is linked here (Linux, native access) */
    static boolean linked() {
        return FLOCK != null;
    }

    /**
     * Takes the lock of {@code dir}, trying again 0.1 to 1 ms apart while another process (or another descriptor of
     * this one) holds it, until {@code deadline} ({@link System#nanoTime()}); a pending interrupt of the thread is
     * kept for the end, not acted on (the wait is bounded, and a heap opened without its flock would be weaker).
     *
     * @return the folder's descriptor, locked: give it to {@link #unlock(int)}; or -1 if the lock was not taken (held
     *         past the deadline, the folder cannot be opened, the file system has no flock, or no native call is
     *         linked here)
     */
    static int lock(Path dir, long deadline) {
        if (FLOCK == null) {
            return -1;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout()); // before the open: no leak
            int fd = Libc.open(dir, OPEN_FLAGS);
            if (fd < 0) {
                return -1;
            }
            boolean locked = false;
            try {
                locked = flock(state, fd, LOCK_EXCLUSIVE_NOW, deadline);
            } finally {
                if (!locked) {
                    Libc.close(fd);
                }
            }
            return locked ? fd : -1;
        }
    }

    /** Closes a descriptor {@link #lock} returned, which releases its lock; never throws. */
    static void unlock(int fd) {
        Libc.close(fd);
    }

    /**
     * Applies {@code operation} (one of the {@code *_NOW} constants) to {@code fd}, trying again 0.1 to 1 ms apart
     * while another descriptor's lock conflicts, until {@code deadline}: a deadline already past makes one attempt.
     * Only where {@link #linked()}.
     *
     * @param state a {@code captureStateLayout} segment for the errno: after a false return, {@link Downcall#errno}
     *              of it tells why ({@link #EWOULDBLOCK}: another descriptor's lock conflicts)
     * @return true once {@code fd} holds the lock; false past {@code deadline} or on an error
     */
    static boolean flock(MemorySegment state, int fd, int operation, long deadline) {
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                int result;
                try {
                    result = (int) FLOCK.invokeExact(state, fd, operation);
                } catch (Throwable t) {
                    throw new IllegalStateException("flock failed", t);
                }
                if (result == 0) {
                    return true;
                }
                int errno = Downcall.errno(state); // read only after a failure
                if (errno != EWOULDBLOCK && errno != EINTR || System.nanoTime() - deadline > 0) {
                    return false;
                }
                interrupted |= Backoff.takeInterrupt(); // not interruptible: else each park would return at once
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000, 1_000_000));
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }
}
