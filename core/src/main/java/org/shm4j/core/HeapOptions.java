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
 * @param initTimeout     how long an opener waits for a heap that another process is still initialising, and an
 *                        allocator for another process's allocation to finish (default 10 s)
 * @param permissions     permissions of a new named or file heap (default owner read and write, 0600)
 */
public record HeapOptions(int catalogCapacity, Duration initTimeout, Set<PosixFilePermission> permissions) {
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

    /** @return 64 catalog entries, a 10 s wait bound and owner-only permissions */
    public static HeapOptions defaults() {
        return new HeapOptions(64, Duration.ofSeconds(10), SharedMemory.OWNER_ONLY);
    }

    /** @return these options with another catalog capacity */
    public HeapOptions withCatalogCapacity(int capacity) {
        return new HeapOptions(capacity, initTimeout, permissions);
    }

    /** @return these options with another wait bound */
    public HeapOptions withInitTimeout(Duration timeout) {
        return new HeapOptions(catalogCapacity, timeout, permissions);
    }

    /** @return these options with other permissions for a new heap */
    public HeapOptions withPermissions(Set<PosixFilePermission> newPermissions) {
        return new HeapOptions(catalogCapacity, initTimeout, newPermissions);
    }
}
