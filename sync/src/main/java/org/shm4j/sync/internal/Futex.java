package org.shm4j.sync.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Linux {@code futex(2)} WAIT and WAKE on a 32-bit word in shared memory, called through {@link Linker}. The shared
 * (not {@code FUTEX_PRIVATE_FLAG}) operations are used, so waiter and waker may be in different processes.
 *
 * <p>Available only on Linux x86-64 and aarch64, when this class's module has native access enabled
 * ({@code --enable-native-access}) and the system property {@code shm4j.futex} is not {@code false}; otherwise
 * {@link #isAvailable()} is false and callers fall back to spinning and parking.
 */
public final class Futex {
    private static final int FUTEX_WAIT = 0;
    private static final int FUTEX_WAKE = 1;
    private static final MethodHandle SYSCALL;
    private static final long SYS_FUTEX;
    private static final ThreadLocal<MemorySegment> TIMESPEC =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

    static {
        long number = futexSyscallNumber();
        MethodHandle handle = null;
        if (number > 0 && !"false".equals(System.getProperty("shm4j.futex"))
                && Futex.class.getModule().isNativeAccessEnabled()) {
            try {
                Linker linker = Linker.nativeLinker();
                Optional<MemorySegment> syscall = linker.defaultLookup().find("syscall");
                if (syscall.isPresent()) {
                    handle = linker.downcallHandle(syscall.get(),
                            // addresses pass as 64-bit integers: no MemorySegment to allocate per call
                            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                                    JAVA_LONG, JAVA_INT),
                            Linker.Option.firstVariadicArg(1));
                }
            } catch (IllegalCallerException | UnsupportedOperationException e) {
                handle = null; // native access refused: the pure-Java fallback is used
            }
        }
        SYSCALL = handle;
        SYS_FUTEX = number;
    }

    private Futex() {
    }

    /** @return true if futex calls are possible here */
    public static boolean isAvailable() {
        return SYSCALL != null;
    }

    /**
     * Sleeps while the int at {@code address} equals {@code expected}, at most {@code timeoutNanos}; returns early on
     * a wake, a signal or a spurious wake-up. Callers always re-check their condition.
     */
    public static void await(long address, int expected, long timeoutNanos) {
        MemorySegment timespec = TIMESPEC.get();
        timespec.set(JAVA_LONG, 0, timeoutNanos / 1_000_000_000L);
        timespec.set(JAVA_LONG, 8, timeoutNanos % 1_000_000_000L);
        try {
            long ignored = (long) SYSCALL.invokeExact(SYS_FUTEX, address, FUTEX_WAIT, expected, timespec.address(),
                    0L, 0); // -1 with EAGAIN, ETIMEDOUT or EINTR all mean "re-check"
        } catch (Throwable t) {
            throw new IllegalStateException("futex wait failed", t);
        }
    }

    /** Wakes up to {@code count} threads, in any process, waiting on the int at {@code address}. */
    public static void wake(long address, int count) {
        try {
            long ignored = (long) SYSCALL.invokeExact(SYS_FUTEX, address, FUTEX_WAKE, count, 0L, 0L, 0);
        } catch (Throwable t) {
            throw new IllegalStateException("futex wake failed", t);
        }
    }

    private static long futexSyscallNumber() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return -1;
        }
        return switch (System.getProperty("os.arch", "")) {
            case "amd64", "x86_64" -> 202;
            case "aarch64" -> 98;
            default -> -1;
        };
    }
}
