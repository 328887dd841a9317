package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A bounded cursor over one encoded record: every read first checks that the message still holds the bytes it needs,
 * and every count is checked against what is left before anything is allocated for it, so that corrupted bytes give
 * an {@link IllegalStateException} naming the codec, never an {@link IndexOutOfBoundsException} or a huge allocation.
 */
final class MessageReader {
    private final MemorySegment source;
    private final long start;
    private final long end;
    private final CodecShape codec;
    private long position;

    MessageReader(MemorySegment source, long offset, int length, CodecShape codec) {
        this.source = source;
        this.start = offset;
        this.end = offset + length;
        this.codec = codec;
        this.position = offset;
    }

    MemorySegment source() {
        return source;
    }

    /** @return the offset of the next {@code n} bytes, which the cursor then moves past */
    long take(long n) {
        if (n > end - position) {
            throw corrupt("needs " + n + " bytes at byte " + (position - start));
        }
        long at = position;
        position += n;
        return at;
    }

    /** @return the boolean held by the byte at {@code at}, which must be 0 or 1 */
    boolean bool(long at) {
        byte b = source.get(JAVA_BYTE, at);
        if (b != 0 && b != 1) {
            throw corrupt("holds " + b + " at byte " + (at - start) + " where a boolean or null flag (0 or 1) belongs");
        }
        return b == 1;
    }

    /** @return the next presence flag: true if a value follows, false for null */
    boolean present() {
        return bool(take(1));
    }

    /**
     * @param minElementLength the fewest bytes one element takes
     * @return the next length or element count, or {@link ValueCodec#NULL}; checked to fit in what is left
     */
    int count(int minElementLength) {
        long at = take(Integer.BYTES);
        int n = source.get(Primitive.INT_LE, at);
        if (n < ValueCodec.NULL || (long) n * minElementLength > end - position) {
            throw corrupt("holds length " + n + " at byte " + (at - start) + " (expected: -1.."
                    + (end - position) / minElementLength + ")");
        }
        return n;
    }

    /**
     * @param n    how many values the index may name: an enum's constants, a sealed interface's alternatives
     * @param what what the index is, for the message ({@code "enum ordinal"}, {@code "alternative"})
     * @return the next index, checked to be {@link ValueCodec#NULL} or below {@code n}
     */
    int index(int n, String what) {
        long at = take(Integer.BYTES);
        int index = source.get(Primitive.INT_LE, at);
        if (index < ValueCodec.NULL || index >= n) {
            throw corrupt("holds " + what + " " + index + " at byte " + (at - start) + " (expected: -1.." + (n - 1)
                    + ")");
        }
        return index;
    }

    /** Checks that the whole message was read. */
    void finish() {
        if (position != end) {
            throw corrupt("has " + (end - position) + " bytes left over after the record");
        }
    }

    IllegalStateException corrupt(String what) {
        return new IllegalStateException(codec + ": the message of " + (end - start)
                + " bytes " + what + "; it is corrupted or was written for another "
                + codec.kind() + " shape");
    }
}
