package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The encoding of a sealed interface whose alternatives are records, built once by {@link #of}: the index of the
 * value's record among the alternatives, then the record's components ({@link ValueCodec.OneOf}, here never null).
 */
public final class SealedShape implements CodecShape {
    private final ValueCodec.OneOf root;
    private final String schema;
    private final int fingerprint;
    /** See {@link #fixedLength()}: computed once, as every write asks. */
    private final boolean fixedLength;

    private SealedShape(ValueCodec.OneOf root) {
        this.root = root;
        RecordShape.Description description = RecordShape.Description.of(root::describe);
        this.schema = description.schema();
        this.fingerprint = description.fingerprint();
        this.fixedLength = Arrays.stream(root.alternatives()).allMatch(RecordShape::fixedLength);
    }

    /**
     * Builds the shape of the sealed interface {@code type} through this module's own lookup, as
     * {@link RecordShape#of(Class)} builds a record's.
     *
     * @throws IllegalArgumentException if {@code type} is not a sealed interface, an alternative is neither a record
     *                                  nor a sealed interface, a component's type is not supported, or a record is not
     *                                  accessible
     */
    public static SealedShape of(Class<?> type) {
        Objects.requireNonNull(type, "type");
        return new SealedShape(new RecordShapeBuilder(MethodHandles.lookup(), false)
                .oneOf(type, type.getSimpleName()));
    }

    /**
     * Builds the shape of the sealed interface {@code type} through the caller's {@code lookup}.
     *
     * @throws IllegalArgumentException as {@link #of(Class)}
     */
    public static SealedShape of(Class<?> type, MethodHandles.Lookup lookup) {
        Objects.requireNonNull(type, "type");
        return new SealedShape(new RecordShapeBuilder(Objects.requireNonNull(lookup, "lookup"), true)
                .oneOf(type, type.getSimpleName()));
    }

    /** @return the record types a value may be, in the order of their indexes */
    public List<Class<?>> alternatives() {
        return Arrays.stream(root.alternatives()).<Class<?>>map(RecordShape::type).toList();
    }

    @Override
    public Class<?> type() {
        return root.type();
    }

    @Override
    public String schema() {
        return schema;
    }

    @Override
    public int fingerprint() {
        return fingerprint;
    }

    @Override
    public boolean fixedLength() {
        return fixedLength;
    }

    @Override
    public long length(Object value) {
        return root.length(value);
    }

    @Override
    public long write(Object value, MemorySegment target, long offset) {
        return root.write(value, target, offset);
    }

    @Override
    public Object read(MemorySegment source, long offset, int length) {
        Blocks.checkRange(toString(), "message", source, offset, length);
        MessageReader reader = new MessageReader(source, offset, length, this);
        Object value = root.read(reader);
        if (value == null) { // the top level is never null: written only by other code, or damaged
            throw reader.corrupt("holds alternative -1 (null) at byte 0, where a value belongs");
        }
        reader.finish();
        return value;
    }

    @Override
    public String kind() {
        return "sealed";
    }

    @Override
    public String toString() {
        return "sealed codec " + schema;
    }
}
