package org.shm4j.core.internal;

/**
 * Argument checks with one message format: {@code what=value (expected: rule)}.
 */
public final class Checks {
    private Checks() {
    }

    /**
     * @return {@code value} if it is {@code > 0}
     * @throws IllegalArgumentException otherwise
     */
    public static long positive(String what, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(what + "=" + value + " (expected: > 0)");
        }
        return value;
    }

    /**
     * @return {@code value} if it lies in {@code [min, max]}
     * @throws IllegalArgumentException otherwise
     */
    public static long inRange(String what, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(what + "=" + value + " (expected: " + min + ".." + max + ")");
        }
        return value;
    }

    /**
     * @return {@code value} if it is a positive power of two
     * @throws IllegalArgumentException otherwise
     */
    public static long powerOfTwo(String what, long value) {
        if (value <= 0 || Long.bitCount(value) != 1) {
            throw new IllegalArgumentException(what + "=" + value + " (expected: a positive power of 2)");
        }
        return value;
    }

    /**
     * @return {@code offset} if it is a multiple of {@code alignment} (a power of two)
     * @throws IllegalArgumentException otherwise
     */
    public static long aligned(String what, long offset, long alignment) {
        if ((offset & (alignment - 1)) != 0) {
            throw new IllegalArgumentException(what + "=" + offset + " (expected: a multiple of " + alignment + ")");
        }
        return offset;
    }

    /**
     * @return {@code value} rounded up to a multiple of {@code alignment} (a power of two)
     */
    public static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
