package org.shm4j.core;

import org.shm4j.core.internal.Checks;
import org.shm4j.core.internal.HeapLayout;

import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * Settings of a {@link SharedHeap}. Start from {@link #defaults()} and change what you need with the
 * {@code with...} methods.
 *
 * @param catalogCapacity how many named blocks a new heap can hold (1 to 65536; default 64); ignored when opening
 * @param initTimeout     how long an allocator waits for another process's allocation to finish, and an opener or
 *                        creator for another process's removal or replacement of the heap at the name (default
 *                        10 s); no one waits for a heap's header, which is complete before the name appears
 * @param permissions     permissions of a new named or file heap (default owner read and write, 0600)
 * @param replaceStale    whether {@code create} and {@code openOrCreate} replace a {@linkplain SharedHeap stale} heap
 *                        found at the name or file (removed as {@link SharedHeap#unlinkIfStale(String)} does, then
 *                        created anew) instead of throwing {@link ShmAlreadyExistsException} or opening it (default
 *                        false). A heap in use by a live process is never replaced.
 * @param unlinkOnLastDetach whether a heap this call creates is removed from its name or file when the last process
 *                        that has it open closes it (default false); recorded in the heap, so it holds whichever
 *                        process closes last; ignored when opening, and for anonymous heaps
 */
public record HeapOptions(int catalogCapacity, Duration initTimeout, Set<PosixFilePermission> permissions,
                          boolean replaceStale, boolean unlinkOnLastDetach) {
    /**
     * @throws IllegalArgumentException if a value is out of range
     */
    public HeapOptions {
        Checks.inRange("catalogCapacity", catalogCapacity, 1, HeapLayout.MAX_CATALOG_CAPACITY);
        Objects.requireNonNull(initTimeout, "initTimeout");
        if (initTimeout.isNegative()) {
            throw new IllegalArgumentException("initTimeout=" + initTimeout + " (expected: >= 0)");
        }
        permissions = Set.copyOf(Objects.requireNonNull(permissions, "permissions"));
    }

    /** @return 64 catalog entries, a 10 s wait bound, owner-only permissions, no replacing, no removal on close */
    public static HeapOptions defaults() {
        return new HeapOptions(64, Duration.ofSeconds(10), SharedMemory.OWNER_ONLY, false, false);
    }

    /** @return these options with another catalog capacity */
    public HeapOptions withCatalogCapacity(int capacity) {
        return new HeapOptions(capacity, initTimeout, permissions, replaceStale, unlinkOnLastDetach);
    }

    /** @return these options with another wait bound */
    public HeapOptions withInitTimeout(Duration timeout) {
        return new HeapOptions(catalogCapacity, timeout, permissions, replaceStale, unlinkOnLastDetach);
    }

    /** @return these options with other permissions for a new heap */
    public HeapOptions withPermissions(Set<PosixFilePermission> newPermissions) {
        return new HeapOptions(catalogCapacity, initTimeout, newPermissions, replaceStale, unlinkOnLastDetach);
    }

    /** @return these options, replacing a stale heap or not */
    public HeapOptions withReplaceStale(boolean replace) {
        return new HeapOptions(catalogCapacity, initTimeout, permissions, replace, unlinkOnLastDetach);
    }

    /** @return these options, a new heap being removed when its last process closes it or not */
    public HeapOptions withUnlinkOnLastDetach(boolean unlink) {
        return new HeapOptions(catalogCapacity, initTimeout, permissions, replaceStale, unlink);
    }
}
