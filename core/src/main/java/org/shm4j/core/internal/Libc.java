package org.shm4j.core.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * {@code open(2)} and {@code close(2)} through {@link Linker}, linked once, for the classes that make a native call on
 * a descriptor of their own ({@link FileSpace}'s {@code posix_fallocate}, {@link FolderFlock}'s {@code flock}), and
 * the linking of those calls ({@link #link}). Linux with native access for this module only: otherwise
 * {@link #unavailable()} says why and nothing is linked.
 */
final class Libc {
    /** {@code O_CLOEXEC}: the generic value, which x86-64 and aarch64 share, as every flag used here. */
    static final int O_CLOEXEC = 02000000;
    /** Open is variadic; no mode follows flags without O_CREAT. */
    private static final Downcall OPEN = Downcall.link(Libc.class, "open", FunctionDescriptor.of(JAVA_INT, ADDRESS,
            JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final Downcall CLOSE = Downcall.link(Libc.class, "close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private Libc() {
    }

    /** @return why no native call on a descriptor is made here (not Linux, no native access, no open or close) */
    static Optional<String> unavailable() {
        return OPEN.reason().or(CLOSE::reason);
    }

    /**
     * @return the C library's {@code name} linked for {@code caller} if {@link #unavailable()} is empty too (a call on
     *         a descriptor needs open and close), or none saying why
     */
    static Downcall link(Class<?> caller, String name, FunctionDescriptor descriptor, Linker.Option... options) {
        return unavailable().map(Downcall::none).orElseGet(() -> Downcall.link(caller, name, descriptor, options));
    }

    /** @return a descriptor of {@code path} opened with {@code flags}, or -1 (open's own failure included) */
    static int open(Path path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) OPEN.handle().invokeExact(arena.allocateFrom(path.toString()), flags);
        } catch (Throwable t) {
            throw new IllegalStateException("open of " + path + " failed", t);
        }
    }

    /** Closes {@code fd}, never throwing: a close that fails still releases the descriptor and its locks. */
    static void close(int fd) {
        try {
            int ignored = (int) CLOSE.handle().invokeExact(fd);
        } catch (Throwable t) {
            // the descriptor is gone either way (close(2) releases it even when it reports an error)
        }
    }
}
