package org.shm4j.core.internal;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Gives a new region's file its blocks before it is mapped, so that a file system without room for the whole region
 * refuses it at creation. A file only extended to its size is sparse: on a tmpfs such as {@code /dev/shm} (64 MB in a
 * Docker container unless {@code --shm-size} says more) its creation passes as long as the free space check does, and
 * when the regions of several processes together outgrow the file system, the first touch of a page that finds no
 * room faults (SIGBUS): an {@link InternalError} in compiled code, and a crash of the JVM in an interpreted
 * compare-and-set, long after the creation that could have been refused.
 *
 * <p>On Linux with native access enabled for this module (as {@link PidProbe} needs it), {@code posix_fallocate(3)}
 * through {@link Libc} reserves the blocks (a tmpfs allocates its pages, a disk file system its extents, without
 * writing them). Otherwise, or with {@code -Dshm4j.fallocate=false}, or where the file system does not support it,
 * zeros are written over the whole file through its channel, which reserves the same blocks more slowly.
 */
public final class FileSpace {
    /** {@code O_RDWR}, with {@link Libc#O_CLOEXEC}. */
    private static final int OPEN_FLAGS = 2 | Libc.O_CLOEXEC;
    /** {@code ENOSPC}: no space left on the device. */
    private static final int ENOSPC = 28;
    private static final int RESERVED = 0;
    private static final int NO_SPACE = 1;
    private static final int UNSUPPORTED = 2;
    /** Bytes written at a time by the fallback. */
    private static final int ZEROS = 1 << 20;
    /** {@code posix_fallocate}, or why it is not called. */
    private static final Downcall FALLOCATE = "false".equals(System.getProperty("shm4j.fallocate"))
            ? Downcall.none("turned off by -Dshm4j.fallocate=false")
            : Libc.link(FileSpace.class, "posix_fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG,
            JAVA_LONG));

    private FileSpace() {
    }

    /** @return why the blocks are reserved by writing zeros, or empty if {@code posix_fallocate} reserves them */
    public static Optional<String> fallbackReason() {
        return FALLOCATE.reason();
    }

    /**
     * Reserves {@code size} bytes of blocks for {@code file}, open as {@code channel} and empty (just created),
     * through a descriptor of its own, closed before it returns: the process's {@code fcntl} locks on the file go
     * with it (a maker that holds one calls {@link #reserve(Descriptor, Path, FileChannel, long)}).
     *
     * @return false if the file system has no room for them
     * @throws IOException if writing fails otherwise
     */
    public static boolean reserve(Path file, FileChannel channel, long size) throws IOException {
        try (Descriptor descriptor = open(file)) {
            return reserve(descriptor, file, channel, size);
        }
    }

    /**
     * {@link #reserve(Path, FileChannel, long)} through {@code descriptor}, which the caller keeps open while it
     * holds {@code fcntl} locks on the file that must last (see {@link Descriptor}).
     */
    public static boolean reserve(Descriptor descriptor, Path file, FileChannel channel, long size)
            throws IOException {
        int result = descriptor.fd >= 0 ? fallocate(descriptor.fd, file, size) : UNSUPPORTED;
        return result == UNSUPPORTED ? writeZeros(channel, size) : result == RESERVED;
    }

    /**
     * @return a descriptor of {@code file} for {@code posix_fallocate}, or an empty one where it is not called (or
     *         the open failed: the channel's writes then say what is wrong, if anything)
     */
    public static Descriptor open(Path file) {
        return new Descriptor(FALLOCATE.handle() != null ? Libc.open(file, OPEN_FLAGS) : -1);
    }

    /**
     * A descriptor of a file being made, for {@code posix_fallocate}: closing any descriptor of a file drops every
     * {@code fcntl} lock the process holds on it ({@link java.nio.channels.FileLock}s included, whatever channel took
     * them), so a maker that locks the file keeps this open until it no longer needs the lock. Nothing is written
     * through it.
     */
    public static final class Descriptor implements AutoCloseable {
        private final int fd; // -1: none

        private Descriptor(int fd) {
            this.fd = fd;
        }

        /** Closes it, dropping this process's {@code fcntl} locks on the file; idempotence is the caller's. */
        @Override
        public void close() {
            if (fd >= 0) {
                Libc.close(fd);
            }
        }
    }

    /** @return {@link #RESERVED}, {@link #NO_SPACE}, or {@link #UNSUPPORTED} by this file system or descriptor */
    private static int fallocate(int fd, Path file, long size) {
        try {
            int error = (int) FALLOCATE.handle().invokeExact(fd, 0L, size); // returns the error number
            // else EOPNOTSUPP or the like: the file system cannot, zeros can
            return error == 0 ? RESERVED : error == ENOSPC ? NO_SPACE : UNSUPPORTED;
        } catch (Throwable t) {
            throw new IllegalStateException("posix_fallocate of " + file + " failed", t);
        }
    }

    /** @return false if the file system ran out of room */
    private static boolean writeZeros(FileChannel channel, long size) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocateDirect((int) Math.min(ZEROS, size));
        try {
            for (long position = 0; position < size; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - position));
                position += channel.write(zeros, position);
            }
            return true;
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT).contains("no space")) {
                return false;
            }
            throw e;
        }
    }
}
