package org.shm4j.sync.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.Optional;

/**
 * What {@link Futex} and {@link Membarrier} share: the C library's {@code syscall} function as a downcall, and the
 * system call numbers of the platforms they run on (Linux on x86-64 and aarch64).
 */
final class Syscalls {
    private Syscalls() {
    }

    /** @return the call's number here: {@code x86} on x86-64 Linux, {@code aarch64} on aarch64 Linux, else -1 */
    static long number(long x86, long aarch64) {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return -1;
        }
        return switch (System.getProperty("os.arch", "")) {
            case "amd64", "x86_64" -> x86;
            case "aarch64" -> aarch64;
            default -> -1;
        };
    }

    /**
     * @param descriptor the call's signature, the call number first; the arguments after it are variadic in C
     * @return {@code syscall} as a downcall of that signature, or empty if the C library has none
     * @throws IllegalCallerException        if this module has no native access
     * @throws UnsupportedOperationException if the platform has no native linker
     */
    static Optional<MethodHandle> link(FunctionDescriptor descriptor) {
        Linker linker = Linker.nativeLinker();
        return linker.defaultLookup().find("syscall").map((MemorySegment syscall) ->
                linker.downcallHandle(syscall, descriptor, Linker.Option.firstVariadicArg(1)));
    }
}
