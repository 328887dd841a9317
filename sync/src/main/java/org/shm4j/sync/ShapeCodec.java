package org.shm4j.sync;

import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CodecShape;
import org.shm4j.sync.internal.ExactEncoding;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * What {@link RecordCodec} and {@link SealedCodec} share: a codec built once from a type's declaration
 * ({@link CodecShape}), whose type id is the fingerprint of that shape.
 *
 * @param <T> the value type
 */
abstract sealed class ShapeCodec<T> implements Codec<T> permits RecordCodec, SealedCodec {
    static { // before any record or sealed codec exists: the structures then write its values exactly
        ExactEncoding.registerShapes(codec -> codec instanceof ShapeCodec<?> shaped ? shaped.shape : null);
    }

    private final Class<T> type;
    private final CodecShape shape;

    ShapeCodec(Class<T> type, CodecShape shape) {
        this.type = type;
        this.shape = shape;
    }

    /** @return the type of the values: the record type, or the sealed interface */
    final Class<T> valueType() {
        return type;
    }

    /** @return the fingerprint of the shape; see the class comment */
    public int fingerprint() {
        return shape.fingerprint();
    }

    /** @return the schema; see the class comment */
    public String schema() {
        return shape.schema();
    }

    /** @return the {@link #fingerprint()} */
    @Override
    public int typeId() {
        return shape.fingerprint();
    }

    /**
     * @throws IllegalArgumentException if the encoding would be over {@code Integer.MAX_VALUE} bytes
     * @throws ClassCastException       if {@code value} (or a record or primitive array in it) is of another class,
     *                                  passed by a raw or unchecked call: a map, list or collection view takes that
     *                                  for "not an element"
     */
    @Override
    public int encodedLength(T value) {
        return Blocks.encodedLength(this, shape.length(Objects.requireNonNull(value, "value")));
    }

    /**
     * @throws ClassCastException if a list in {@code value}, of a raw or unchecked type, holds an enum constant or a
     *                            box of another type than its elements'
     */
    @Override
    public void encode(T value, MemorySegment target, long offset) {
        shape.write(Objects.requireNonNull(value, "value"), target, offset);
    }

    /**
     * @throws IllegalStateException if the bytes are not a value of this shape
     */
    @Override
    public T decode(MemorySegment source, long offset, int length) {
        return type.cast(shape.read(source, offset, length));
    }

    /** @return why a message of type {@code found} cannot be read by this codec */
    final String shapeDiffers(int found) {
        return shape.kind() + " shape differs: expected fingerprint " + Blocks.typeId(fingerprint()) + " ("
                + schema() + "), found " + Blocks.typeId(found)
                + (found >>> 30 == 1 ? "" : " (not a " + shape.kind() + " fingerprint)");
    }

    @Override
    public String toString() {
        return shape.kind() + " codec " + schema() + " (fingerprint " + Blocks.typeId(fingerprint()) + ")";
    }
}
