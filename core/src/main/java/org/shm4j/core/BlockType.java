package org.shm4j.core;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What a heap block holds: a type tag naming the structure (for example a shared long or a ring buffer) and the
 * version of that structure's layout. Both are stored in the block's catalog entry and checked when the block is
 * looked up, so a process cannot open a block as the wrong structure or with a layout it does not know.
 *
 * <p>A structure may give its tag a human name with {@link #named(String, int, int)}; a type mismatch then names
 * the kinds (for example "a SharedInt") beside the tags, which other languages reading the heap still need.
 *
 * @param tag           the structure's type tag; shm4j's own structures use tags {@code 0x5348_0000} and up
 * @param layoutVersion the version of the structure's byte layout, {@code >= 1}
 */
public record BlockType(int tag, int layoutVersion) {
    /** Kind names by tag, filled by {@link #named}; read only to build messages. */
    private static final Map<Integer, String> KINDS = new ConcurrentHashMap<>();

    /**
     * @throws IllegalArgumentException if {@code layoutVersion < 1}
     */
    public BlockType {
        if (layoutVersion < 1) {
            throw new IllegalArgumentException("layoutVersion=" + layoutVersion + " (expected: >= 1)");
        }
    }

    /**
     * Returns a block type and records {@code kind} as the name of its tag, for messages in this JVM. The first
     * name given to a tag is kept.
     *
     * @param kind the structure's name as users know it, for example {@code "SharedLong"}
     * @throws IllegalArgumentException if {@code layoutVersion < 1} or {@code kind} is blank
     */
    public static BlockType named(String kind, int tag, int layoutVersion) {
        if (Objects.requireNonNull(kind, "kind").isBlank()) {
            throw new IllegalArgumentException("kind is blank (expected: a structure's name)");
        }
        BlockType type = new BlockType(tag, layoutVersion);
        KINDS.putIfAbsent(tag, kind);
        return type;
    }

    /** @return the name recorded for this type's tag by {@link #named}, if any */
    public Optional<String> kindName() {
        return Optional.ofNullable(KINDS.get(tag));
    }

    /**
     * Written out rather than generated: a record's generated {@code equals} links through
     * {@code java.lang.runtime.ObjectMethods}, and a lookup deep in a thread's stack that linked it first could
     * overflow in that class's initialization, which leaves it erroneous for every record in the JVM.
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof BlockType other && tag == other.tag && layoutVersion == other.layoutVersion;
    }

    /** Written out for the reason {@link #equals} is. */
    @Override
    public int hashCode() {
        return 31 * tag + layoutVersion;
    }

    @Override
    public String toString() {
        return "type 0x" + Integer.toHexString(tag) + " v" + layoutVersion;
    }

    /** @return for messages: "a SharedLong, type 0x53480002 v1" when the tag is named, else "type 0x100 v1" */
    String describe() {
        return kindName().map(kind -> "a " + kind + ", " + this).orElseGet(this::toString);
    }
}
