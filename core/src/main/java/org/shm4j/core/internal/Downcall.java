package org.shm4j.core.internal;

import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * A native function linked through {@link java.lang.foreign.Linker} when a class is initialised, or why it could not
 * be: what each class that makes one kind of native call ({@link PidProbe}, and sync's futex and membarrier calls)
 * keeps, so that it can fall back and say why.
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

    /** @return why the call is not made, or empty if it is */
    public Optional<String> reason() {
        return Optional.ofNullable(fallbackReason);
    }
}
