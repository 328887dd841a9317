package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * UTF-8 straight into a segment, without an intermediate {@code byte[]}, and out of one through a buffer of the
 * thread ({@link #read}). A lone surrogate becomes {@code '?'}, as
 * {@link String#getBytes(java.nio.charset.Charset)} does, so both give the same bytes; values that codecs store are
 * measured by {@link #textLength}, which refuses one instead, since '?' in its place would store another string.
 */
public final class Utf8 {
    /** The longest text a thread's {@link #read} buffer is grown for; longer text gets an array of its own. */
    private static final int MAX_BUFFERED = 1 << 16;
    private static final ThreadLocal<byte[][]> READ_BUFFER = ThreadLocal.withInitial(() -> new byte[][] {new byte[64]});

    private Utf8() {
    }

    /**
     * Initializes this class: every structure's open calls this (through {@link Blocks#opening}), shallow, so that
     * an operation deep in a thread's stack is never the first to, where a {@link StackOverflowError} in the
     * initializer would leave the class erroneous and every later use in the JVM throwing
     * {@link NoClassDefFoundError}.
     */
    public static void initialize() {
        // the JVM initializes the class before it runs a static method: nothing else to do
    }

    /**
     * @return the {@code length} UTF-8 bytes at {@code offset} of {@code source} as a String (malformed input
     *         replaced, as {@code new String(bytes, UTF_8)} does), copied through a buffer of the thread, so that only
     *         the String is allocated
     */
    public static String read(MemorySegment source, long offset, int length) {
        Objects.checkFromIndexSize(offset, length, source.byteSize()); // the array read below is not checked
        if (source.heapBase().orElse(null) instanceof byte[] array && source.address() + offset <= Integer.MAX_VALUE) {
            // a heap segment (a list's or map's buffer): decode the array in place, no second copy
            return new String(array, (int) (source.address() + offset), length, StandardCharsets.UTF_8);
        }
        byte[][] holder = READ_BUFFER.get();
        byte[] bytes = holder[0];
        if (length > bytes.length) {
            bytes = new byte[length];
            if (length <= MAX_BUFFERED) {
                holder[0] = bytes;
            }
        }
        MemorySegment.copy(source, JAVA_BYTE, offset, bytes, 0, length);
        return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }

    /**
     * @return how many bytes {@link #write} writes for {@code s}, a value a codec stores
     * @throws IllegalArgumentException if {@code s} has a lone surrogate, which UTF-8 cannot hold: written as '?',
     *                                  two different strings would be stored as one (two map keys, say)
     */
    public static long textLength(String s) {
        return length(s, true);
    }

    /** @return how many bytes {@link #write} writes for {@code s} (a lone surrogate: one, its '?') */
    public static long length(String s) {
        return length(s, false);
    }

    private static long length(String s, boolean refuseLoneSurrogates) {
        long length = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                length += 1;
            } else if (c < 0x800) {
                length += 2;
            } else if (isPair(s, i)) {
                length += 4;
                i++;
            } else if (!Character.isSurrogate(c)) {
                length += 3;
            } else if (refuseLoneSurrogates) {
                throw loneSurrogate(s, i);
            } else {
                length += 1; // a lone surrogate encodes as '?'
            }
        }
        return length;
    }

    /**
     * Writes {@code s} as UTF-8 at {@code offset}; the caller made room for {@link #length} bytes.
     *
     * @return the number of bytes written
     */
    public static int write(String s, MemorySegment target, long offset) {
        return write(s, target, offset, false);
    }

    /**
     * Writes {@code s}, a value a codec stores, as {@link #write} does; the caller made room for {@link #textLength}
     * bytes.
     *
     * @return the number of bytes written
     * @throws IllegalArgumentException as {@link #textLength}, if {@code s} has a lone surrogate (a string that
     *                                  changed since it was measured), with the bytes before it written
     */
    public static int writeText(String s, MemorySegment target, long offset) {
        return write(s, target, offset, true);
    }

    private static int write(String s, MemorySegment target, long offset, boolean refuseLoneSurrogates) {
        long at = offset;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                target.set(JAVA_BYTE, at++, (byte) c);
            } else if (c < 0x800) {
                target.set(JAVA_BYTE, at++, (byte) (0xC0 | c >> 6));
                target.set(JAVA_BYTE, at++, (byte) (0x80 | c & 0x3F));
            } else if (isPair(s, i)) {
                int cp = Character.toCodePoint(c, s.charAt(++i));
                target.set(JAVA_BYTE, at++, (byte) (0xF0 | cp >> 18));
                target.set(JAVA_BYTE, at++, (byte) (0x80 | cp >> 12 & 0x3F));
                target.set(JAVA_BYTE, at++, (byte) (0x80 | cp >> 6 & 0x3F));
                target.set(JAVA_BYTE, at++, (byte) (0x80 | cp & 0x3F));
            } else if (Character.isSurrogate(c)) {
                if (refuseLoneSurrogates) {
                    throw loneSurrogate(s, i);
                }
                target.set(JAVA_BYTE, at++, (byte) '?');
            } else {
                target.set(JAVA_BYTE, at++, (byte) (0xE0 | c >> 12));
                target.set(JAVA_BYTE, at++, (byte) (0x80 | c >> 6 & 0x3F));
                target.set(JAVA_BYTE, at++, (byte) (0x80 | c & 0x3F));
            }
        }
        return (int) (at - offset);
    }

    private static IllegalArgumentException loneSurrogate(String s, int i) {
        return new IllegalArgumentException("a String with a lone surrogate (U+" + Integer.toHexString(s.charAt(i))
                .toUpperCase(java.util.Locale.ROOT) + " at index " + i + " of " + s.length() + " chars): UTF-8 cannot"
                + " hold it, and '?' in its place would store another string (expected: text that UTF-8 can encode,"
                + " as Python's str.encode requires)");
    }

    private static boolean isPair(String s, int i) {
        return Character.isHighSurrogate(s.charAt(i)) && i + 1 < s.length()
                && Character.isLowSurrogate(s.charAt(i + 1));
    }
}
