package org.shm4j.core.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Asks the kernel whether a pid exists, with {@code kill(pid, 0)} called through {@link Linker}: for the pids that
 * {@code /proc} does not show. Under {@code /proc} mounted with {@code hidepid=2} ({@code invisible}) or
 * {@code hidepid=4} ({@code ptraceable}), the entries of other users' processes are missing, so a live process of
 * another user looks gone there; {@code kill(2)} with signal 0 sends nothing and answers from the process table
 * itself: 0 (the caller may signal it) or {@code EPERM} (it may not) mean the pid exists, {@code ESRCH} that it does
 * not. A zombie exists for {@code kill(2)} too, so this answers "exists", never "alive": callers ask it only when
 * {@code /proc} has no entry at all, and a zombie's entry is visible to its own user.
 *
 * <p>Available on Linux when this class's module has native access enabled ({@code --enable-native-access=ALL-UNNAMED}
 * on the class path, {@code --enable-native-access=org.shm4j.core} on the module path); native access is checked
 * before linking, so the JDK prints no warning without it. Otherwise {@link #isAvailable()} is false,
 * {@link #fallbackReason()} says why, and {@link #exists(long)} answers false: the caller keeps what {@code /proc}
 * said (no such process), which is right everywhere {@code /proc} shows every process and wrong only under
 * {@code hidepid=2}, where a live process of another user is then taken for dead.
 */
public final class PidProbe {
    /** {@code EPERM} on Linux: the process exists but the caller may not signal it. */
    private static final int EPERM = 1;
    private static final Downcall LINKED = link();
    private static final MethodHandle KILL = LINKED.handle();

    private PidProbe() {
    }

    /** @return true if {@link #exists(long)} asks the kernel here */
    public static boolean isAvailable() {
        return KILL != null;
    }

    /** @return why {@link #exists(long)} cannot ask the kernel (it then answers false), or empty if it can */
    public static Optional<String> fallbackReason() {
        return LINKED.reason();
    }

    /**
     * Allocates a small native segment per call: it serves the rare case of a pid that {@code /proc} does not show,
     * never a live owner's check.
     *
     * @return true if the kernel says a process (or zombie) with this pid exists, whether or not this process may see
     *         or signal it; false if it says there is none, if {@code pid} is not a pid (not in 1..2<sup>31</sup>-1:
     *         {@code kill} would take 0 and negative values for process groups), or if this probe is not available
     */
    public static boolean exists(long pid) {
        if (KILL == null || pid <= 0 || pid > Integer.MAX_VALUE) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
            int result = (int) KILL.invokeExact(state, (int) pid, 0);
            return result == 0 || Downcall.errno(state) == EPERM; // otherwise ESRCH: no such process
        } catch (Throwable t) {
            throw new IllegalStateException("kill(" + pid + ", 0) failed", t);
        }
    }

    private static Downcall link() {
        Downcall kill = Downcall.link(PidProbe.class, "kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT),
                Linker.Option.captureCallState("errno"));
        return kill.reason().map(why -> Downcall.none(why
                + " (needed to ask the kernel about pids that /proc does not show)")).orElse(kill);
    }
}
