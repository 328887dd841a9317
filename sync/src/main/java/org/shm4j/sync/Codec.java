package org.shm4j.sync;

import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.RecordShape;
import org.shm4j.sync.internal.SealedShape;
import org.shm4j.sync.internal.Utf8;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Turns values of a {@link SharedQueue} or a {@link SharedPipe} into message bytes and back. The {@link #typeId()}
 * travels with each message, so a queue or pipe read with the wrong codec fails clearly instead of decoding garbage.
 *
 * @param <T> the value type
 */
public interface Codec<T> {
    /**
     * @return the message type this codec writes and accepts, {@code >= 1}; the built-in codecs use 1 to 3, record
     *         and sealed codecs the fingerprint of their shape (2<sup>30</sup> and above)
     */
    int typeId();

    /** @return how many bytes {@link #encode} writes for {@code value} */
    int encodedLength(T value);

    /**
     * Writes {@code value} as {@link #encodedLength} bytes at {@code offset} of {@code target}. A queue, pipe or
     * list hands a codec of your own a segment that ends with those bytes, a map its own buffer with a guard word
     * after them: one that writes more fails, and the value is not stored ({@link IllegalStateException} naming the
     * structure). One that writes fewer cannot be told: the bytes it left are stored as they were.
     */
    void encode(T value, MemorySegment target, long offset);

    /**
     * @return the value held by the {@code length} bytes at {@code offset} of {@code source}, which is valid only
     *         during the call: the value must not keep a view of it (a queue's or pipe's ring space is reused once
     *         its message is taken; maps and lists decode from a buffer of the thread, reused by its next read);
     *         never null (a queue or pipe refuses a message decoded to null, as its receive returns null for no
     *         message)
     */
    T decode(MemorySegment source, long offset, int length);

    /**
     * @return a codec of {@code Long}s as 8 little-endian bytes (type 1); its {@code decode} throws
     *         {@link IllegalStateException} for a message of another length
     */
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
                if (length != Long.BYTES) { // a message of this type id written by other code: never half a long
                    throw new IllegalStateException("Codec.longs(): a message of " + length
                            + " bytes (expected: 8)");
                }
                Blocks.checkRange("Codec.longs()", "message", source, offset, length);
                return source.get(JAVA_LONG_UNALIGNED, offset);
            }

            @Override
            public String toString() {
                return "Codec.longs()";
            }
        };
    }

    /**
     * @return a new codec of the record type {@code type} (each call builds one with reflection: make it once and
     *         reuse it); its type id is the fingerprint of the record's shape, so that a reader with a differently
     *         shaped record fails clearly (see {@link RecordCodec})
     * @throws IllegalArgumentException if a component's type is not supported, a record (this one or a nested one)
     *                                  is not public or not exported to {@code org.shm4j.sync}, or a record's
     *                                  canonical constructor takes more than 253 parameter slots ({@code long} and
     *                                  {@code double} take two), the most a method handle can call
     */
    static <R extends Record> RecordCodec<R> record(Class<R> type) {
        return new RecordCodec<>(type, RecordShape.of(type));
    }

    /**
     * @param lookup a lookup that can reach the records' canonical constructors and accessors, for example the
     *               caller's {@code MethodHandles.lookup()} for records that are not public
     * @return a codec of the record type {@code type}, as {@link #record(Class)}
     * @throws IllegalArgumentException if a component's type is not supported, or {@code lookup} cannot reach a record
     */
    static <R extends Record> RecordCodec<R> record(Class<R> type, MethodHandles.Lookup lookup) {
        return new RecordCodec<>(type, RecordShape.of(type, lookup));
    }

    /**
     * @return a new codec of the sealed interface {@code type}, whose alternatives are records (each call builds one
     *         with reflection: make it once and reuse it); its type id is the fingerprint of the alternatives' shapes
     *         (see {@link SealedCodec})
     * @throws IllegalArgumentException if {@code type} is not a sealed interface, an alternative is not a record (or
     *                                  a sealed interface of records), a component's type is not supported, or a
     *                                  record is not public or not exported to {@code org.shm4j.sync}
     */
    static <T> SealedCodec<T> sealed(Class<T> type) {
        return new SealedCodec<>(type, SealedShape.of(type));
    }

    /**
     * @param lookup a lookup that can reach the records' canonical constructors and accessors, for example the
     *               caller's {@code MethodHandles.lookup()} for records that are not public
     * @return a codec of the sealed interface {@code type}, as {@link #sealed(Class)}
     * @throws IllegalArgumentException as {@link #sealed(Class)}, or if {@code lookup} cannot reach a record
     */
    static <T> SealedCodec<T> sealed(Class<T> type, MethodHandles.Lookup lookup) {
        return new SealedCodec<>(type, SealedShape.of(type, lookup));
    }

    /**
     * @return a codec of {@code String}s as UTF-8 (type 2); a string with a lone surrogate, which UTF-8 cannot hold,
     *         is refused with {@link IllegalArgumentException} when measured ({@code encodedLength}), before anything
     *         is stored, rather than stored as another string; so is a string of over {@code Integer.MAX_VALUE}
     *         UTF-8 bytes
     */
    static Codec<String> utf8() {
        return new Codec<>() {
            @Override
            public int typeId() {
                return 2;
            }

            /** @throws IllegalArgumentException if the encoding would be over {@code Integer.MAX_VALUE} bytes */
            @Override
            public int encodedLength(String value) {
                return Blocks.encodedLength("Codec.utf8()", Utf8.textLength(value));
            }

            @Override
            public void encode(String value, MemorySegment target, long offset) {
                Utf8.writeText(value, target, offset);
            }

            @Override
            public String decode(MemorySegment source, long offset, int length) {
                Blocks.checkRange("Codec.utf8()", "message", source, offset, length);
                return Utf8.read(source, offset, length);
            }

            @Override
            public String toString() {
                return "Codec.utf8()";
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
                Blocks.checkRange("Codec.bytes()", "message", source, offset, length);
                byte[] value = new byte[length];
                MemorySegment.copy(source, JAVA_BYTE, offset, value, 0, length); // no slice: the array only
                return value;
            }

            @Override
            public String toString() {
                return "Codec.bytes()";
            }
        };
    }
}
