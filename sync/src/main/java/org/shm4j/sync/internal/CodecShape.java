package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;

/**
 * The top-level encoding of a codec built from a type's declaration: a record's ({@link RecordShape}) or a sealed
 * interface's ({@link SealedShape}). Built once; immutable; safe to share between threads. The wire format and the
 * fingerprint are specified in {@code org.shm4j.sync.RecordCodec} and {@code org.shm4j.sync.SealedCodec}; the
 * {@link #toString()} names the codec in messages ({@code "record codec Point(int x, int y)"}).
 */
public sealed interface CodecShape permits RecordShape, SealedShape {
    /** @return the type the codec encodes */
    Class<?> type();

    /** @return {@code "record"} or {@code "sealed"}: how messages name the codec and its shape */
    String kind();

    /** @return the schema, with the names of the records and enums in it */
    String schema();

    /** @return the fingerprint of the shape: bit 30 set, bit 31 clear, bits 0-29 hashed from the shape */
    int fingerprint();

    /**
     * @return true if {@link #write} writes exactly {@link #length} bytes whatever happens in between: the value's
     *         records hold primitives and enums only (a string, a box, an array or a list can change, or an
     *         accessor return another value the second time)
     */
    boolean fixedLength();

    /** @return how many bytes {@link #write} writes for {@code value} (not null), unless it changed meanwhile */
    long length(Object value);

    /** Writes {@code value} (not null) at {@code offset} and returns the offset after it. */
    long write(Object value, MemorySegment target, long offset);

    /**
     * @return the value held by exactly the {@code length} bytes at {@code offset}
     * @throws IllegalStateException if those bytes are not a value of this shape
     */
    Object read(MemorySegment source, long offset, int length);
}
