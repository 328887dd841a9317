package org.shm4j.core.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;
import java.util.Optional;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/**
 * A native function linked through {@link java.lang.foreign.Linker} when a class is initialised, or why it could not
 * be: what each class that makes one kind of native call ({@link PidProbe}, {@link Libc}, {@link FileSpace},
 * {@link FolderFlock}, and sync's futex and membarrier calls) keeps, so that it can fall back and say why.
 *
 * @param handle         the downcall, or null
 * @param fallbackReason why there is none, or null
 */
public record Downcall(MethodHandle handle, String fallbackReason) {
    /** The {@code errno} a call linked with {@code captureCallState("errno")} leaves in its state segment. */
    private static final VarHandle ERRNO = Linker.Option.captureStateLayout().varHandle(groupElement("errno"));

    /** @return a linked call */
    public static Downcall of(MethodHandle handle) {
        return new Downcall(handle, null);
    }

    /** @return no call, for {@code why} */
    public static Downcall none(String why) {
        return new Downcall(null, why);
    }

    /**
     * Says whether {@code caller} may link native calls here, before it tries (so that the JDK prints no warning
     * without native access).
     *
     * @param call the call, for the message, e.g. {@code "flock"}
     * @return why not (this is not Linux, or {@code caller}'s module has no native access, with the flag that gives
     *         it), or empty if it may
     */
    public static Optional<String> unavailable(Class<?> caller, String call) {
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(Locale.ROOT).contains("linux")) {
            return Optional.of(call + " is called on Linux only; this is " + os);
        }
        Module module = caller.getModule();
        if (!module.isNativeAccessEnabled()) {
            return Optional.of("native access is not enabled for " + module + "; start java with "
                    + "--enable-native-access=" + (module.isNamed() ? module.getName() : "ALL-UNNAMED"));
        }
        return Optional.empty();
    }

    /**
     * Links the C library's function {@code name} for {@code caller}, after {@link #unavailable} (so that the JDK
     * prints no warning without native access).
     *
     * @return the call, or none saying why: not Linux, no native access, or no such function
     */
    public static Downcall link(Class<?> caller, String name, FunctionDescriptor descriptor,
                                Linker.Option... options) {
        Optional<String> unavailable = unavailable(caller, name);
        if (unavailable.isPresent()) {
            return none(unavailable.get());
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find(name).map(f -> of(linker.downcallHandle(f, descriptor, options)))
                    .orElseGet(() -> none("the C library has no " + name + " function"));
        } catch (IllegalCallerException | UnsupportedOperationException e) {
            return none("native access was refused: " + e.getMessage());
        }
    }

    /** @return the {@code errno} a call linked with {@code captureCallState("errno")} left in {@code state} */
    public static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** @return why the call is not made, or empty if it is */
    public Optional<String> reason() {
        return Optional.ofNullable(fallbackReason);
    }
}
