package org.shm4j.core.internal;

import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.Optional;

/**
 * A native function linked through {@link java.lang.foreign.Linker} when a class is initialised, or why it could not
 * be: what each class that makes one kind of native call ({@link PidProbe}, and sync's futex and membarrier calls)
 * keeps, so that it can fall back and say why; and {@link #unavailable}, the check they (and {@link Libc}) make first.
 *
 * @param handle         the downcall, or null
 * @param fallbackReason why there is none, or null
 */
public record Downcall(MethodHandle handle, String fallbackReason) {
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

    /** @return why the call is not made, or empty if it is */
    public Optional<String> reason() {
        return Optional.ofNullable(fallbackReason);
    }
}
