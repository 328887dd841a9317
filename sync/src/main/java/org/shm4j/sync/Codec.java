package org.shm4j.sync;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Turns values of a {@link SharedQueue} into message bytes and back. The {@link #typeId()} travels with each message,
 * so a queue read with the wrong codec fails clearly instead of decoding garbage.
 *
 * @param <T> the value type
 */
public interface Codec<T> {
    /** @return the message type this codec writes and accepts, {@code >= 1}; the built-in codecs use 1 to 3 */
    int typeId();

    /** @return how many bytes {@link #encode} writes for {@code value} */
    int encodedLength(T value);

    /** Writes {@code value} as {@link #encodedLength} bytes at {@code offset} of {@code target}. */
    void encode(T value, MemorySegment target, long offset);

    /** @return the value held by the {@code length} bytes at {@code offset} of {@code source} */
    T decode(MemorySegment source, long offset, int length);

    /** @return a codec of {@code Long}s as 8 little-endian bytes (type 1) */
    static Codec<Long> longs() {
        return new Codec<>() {
            @Override
            public int typeId() {
                return 1;
            }

            @Override
            public int encodedLength(Long value) {
                return Long.BYTES;
            }

            @Override
            public void encode(Long value, MemorySegment target, long offset) {
                target.set(JAVA_LONG_UNALIGNED, offset, value);
            }

            @Override
            public Long decode(MemorySegment source, long offset, int length) {
                return source.get(JAVA_LONG_UNALIGNED, offset);
            }
        };
    }

    /** @return a codec of {@code String}s as UTF-8 (type 2) */
    static Codec<String> utf8() {
        return new Codec<>() {
            @Override
            public int typeId() {
                return 2;
            }

            @Override
            public int encodedLength(String value) {
                int length = 0;
                for (int i = 0; i < value.length(); i++) {
                    char c = value.charAt(i);
                    if (c < 0x80) {
                        length += 1;
                    } else if (c < 0x800) {
                        length += 2;
                    } else if (Character.isHighSurrogate(c) && i + 1 < value.length()
                            && Character.isLowSurrogate(value.charAt(i + 1))) {
                        length += 4;
                        i++;
                    } else {
                        length += Character.isSurrogate(c) ? 1 : 3; // a lone surrogate encodes as '?'
                    }
                }
                return length;
            }

            @Override
            public void encode(String value, MemorySegment target, long offset) {
                byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
                MemorySegment.copy(bytes, 0, target, JAVA_BYTE, offset, bytes.length);
            }

            @Override
            public String decode(MemorySegment source, long offset, int length) {
                return new String(source.asSlice(offset, length).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
            }
        };
    }

    /** @return a codec of {@code byte[]}s as themselves (type 3) */
    static Codec<byte[]> bytes() {
        return new Codec<>() {
            @Override
            public int typeId() {
                return 3;
            }

            @Override
            public int encodedLength(byte[] value) {
                return value.length;
            }

            @Override
            public void encode(byte[] value, MemorySegment target, long offset) {
                MemorySegment.copy(value, 0, target, JAVA_BYTE, offset, value.length);
            }

            @Override
            public byte[] decode(MemorySegment source, long offset, int length) {
                return source.asSlice(offset, length).toArray(JAVA_BYTE);
            }
        };
    }
}
