package org.shm4j.sync.internal;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.Downcall;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Linux {@code futex(2)} WAIT and WAKE on a 32-bit word in shared memory, called through
 * {@link java.lang.foreign.Linker}. The shared (not {@code FUTEX_PRIVATE_FLAG}) operations are used, so waiter and
 * waker may be in different processes.
 *
 * <p>Available only on Linux x86-64 and aarch64, when this class's module has native access enabled
 * ({@code --enable-native-access}) and the system property {@code shm4j.futex} is not {@code false}; otherwise
 * {@link #isAvailable()} is false, {@link #fallbackReason()} says why, and callers fall back to spinning and parking.
 * When the fallback is taken because native access is not enabled, this class logs it once (when it is first used),
 * at {@link System.Logger.Level#WARNING} on the logger {@value #LOGGER}, naming the flag that enables futex.
 */
public final class Futex {
    /** The logger that reports a fallback for want of native access. */
    public static final String LOGGER = "org.shm4j.sync";

    private static final int FUTEX_WAIT = 0;
    private static final int FUTEX_WAKE = 1;
    private static final long SYS_FUTEX = Syscalls.number(202, 98);
    private static final Downcall LINKED = link();
    private static final MethodHandle SYSCALL = LINKED.handle();
    private static final ThreadLocal<MemorySegment> TIMESPEC =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

    private Futex() {
    }

    /** @return true if futex calls are possible here */
    public static boolean isAvailable() {
        return SYSCALL != null;
    }

    /** @return why futex is not used (waits spin and park instead), or empty if it is used */
    public static Optional<String> fallbackReason() {
        return LINKED.reason();
    }

    /**
     * Sleeps while the int at {@code address} equals {@code expected}, at most {@code timeoutNanos}; returns early on
     * a wake, a signal or a spurious wake-up. Callers always re-check their condition.
     *
     * @return true if a {@link #wake} ended the sleep (the kernel counted this thread in what it returned), false if
     *         the word differed ({@code EAGAIN}), the time ran out or a signal came
     */
    public static boolean await(long address, int expected, long timeoutNanos) {
        MemorySegment timespec = TIMESPEC.get();
        timespec.set(JAVA_LONG, 0, timeoutNanos / 1_000_000_000L);
        timespec.set(JAVA_LONG, 8, timeoutNanos % 1_000_000_000L);
        try {
            return (long) SYSCALL.invokeExact(SYS_FUTEX, address, FUTEX_WAIT, expected, timespec.address(), 0L, 0)
                    == 0; // 0 only when woken; -1 with EAGAIN, ETIMEDOUT or EINTR otherwise
        } catch (RuntimeException | Error e) { // a StackOverflowError stays one: see RobustMutex, leaked holds
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("futex wait failed", t);
        }
    }

    /**
     * Wakes up to {@code count} threads, in any process, waiting on the int at {@code address}.
     *
     * @return how many it woke (0 on an error, which a valid address never gives)
     */
    public static int wake(long address, int count) {
        try {
            long woken = (long) SYSCALL.invokeExact(SYS_FUTEX, address, FUTEX_WAKE, count, 0L, 0L, 0);
            return (int) Math.max(0, woken);
        } catch (RuntimeException | Error e) { // as in await
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("futex wake failed", t);
        }
    }

    private static Downcall link() {
        if (SYS_FUTEX <= 0) {
            return Downcall.none("futex needs Linux on x86-64 or aarch64; this is " + System.getProperty("os.name")
                    + " on " + System.getProperty("os.arch"));
        }
        if ("false".equals(System.getProperty("shm4j.futex"))) {
            return Downcall.none("turned off by -Dshm4j.futex=false");
        }
        Module module = Futex.class.getModule();
        if (!module.isNativeAccessEnabled()) {
            return refused("native access is not enabled for " + module);
        }
        try {
            // addresses pass as 64-bit integers: no MemorySegment to allocate per call
            return Syscalls.link(FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                            JAVA_LONG, JAVA_INT))
                    .map(Downcall::of)
                    .orElseGet(() -> Downcall.none("the C library has no syscall function"));
        } catch (IllegalCallerException | UnsupportedOperationException e) {
            return refused("native access was refused: " + e.getMessage());
        }
    }

    /** @return no futex because native access is not granted; logged once, since this runs in class init */
    private static Downcall refused(String why) {
        Module module = Futex.class.getModule();
        // named: core's module too, whose liveness check of owners hidden by hidepid=2 also calls native code
        String flag = "--enable-native-access=" + (module.isNamed()
                ? module.getName() + "," + SharedHeap.class.getModule().getName() : "ALL-UNNAMED");
        String reason = why + "; start java with " + flag + " to use futex";
        System.getLogger(LOGGER).log(System.Logger.Level.WARNING, "shm4j blocking waits spin and park instead of "
                + "using futex: " + reason + " (or with -Dshm4j.futex=false to choose spinning and parking quietly)");
        return Downcall.none(reason);
    }

}
