package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * The encoding of one record type, built once by {@link #of}: its components in declaration order, each with its
 * accessor bound to a {@link MethodHandle}, and its canonical constructor as one handle taking an {@code Object[]}.
 * The wire format and the fingerprint are specified in {@code org.shm4j.sync.RecordCodec}. Immutable; safe to share
 * between threads.
 */
public final class RecordShape implements CodecShape {
    /** Hashed in front of the shape, so that a change of the wire format changes every fingerprint. */
    private static final String FORMAT = "shm4j-record-v1 ";
    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private final Class<?> type;
    private final Component[] components;
    private final Component.Variable[] variable;
    private final long fixedBytes;
    /** See {@link #fixedLength()}: computed once, as every write asks. */
    private final boolean fixedLength;
    private final MethodHandle construct;
    private final String schema;
    private final int fingerprint;

    /** @param construct the canonical constructor as {@code (Object[])Object} */
    RecordShape(Class<?> type, Component[] components, MethodHandle construct) {
        this(type, components, construct, null);
    }

    /** @param description the schema and fingerprint, null to work them out from {@code components} */
    private RecordShape(Class<?> type, Component[] components, MethodHandle construct, Description description) {
        this.type = type;
        this.components = components;
        this.variable = Arrays.stream(components).filter(c -> c instanceof Component.Variable)
                .toArray(Component.Variable[]::new);
        this.fixedBytes = Arrays.stream(components).filter(c -> c instanceof Component.Fixed)
                .mapToLong(c -> ((Component.Fixed) c).primitive().size).sum();
        this.fixedLength = Arrays.stream(variable).allMatch(v -> v.codec().fixedLength());
        this.construct = construct;
        Description described = description != null ? description : Description.of(this::describe);
        this.schema = described.schema();
        this.fingerprint = described.fingerprint();
    }

    /** @return component {@code i}, in declaration order */
    Component component(int i) {
        return components[i];
    }

    /**
     * @param placed the components of this record type at another place of the codec, naming that place's path
     * @return the shape of this record type there: its constructor, schema and fingerprint are this one's
     */
    RecordShape at(Component[] placed) {
        return new RecordShape(type, placed, construct, new Description(schema, fingerprint));
    }

    /**
     * Builds the shape of {@code type}, reaching its canonical constructor and accessors through this module's own
     * lookup: the record types must be public and their packages exported to (or open to) {@code org.shm4j.sync}.
     *
     * @throws IllegalArgumentException if {@code type} is not a record, a component's type is not supported, the
     *                                  records refer to themselves, or a record is not accessible
     */
    public static RecordShape of(Class<?> type) {
        Objects.requireNonNull(type, "type");
        return new RecordShapeBuilder(MethodHandles.lookup(), false).shape(type, type.getSimpleName());
    }

    /**
     * Builds the shape of {@code type} through the caller's {@code lookup}, which must be able to reach the records'
     * canonical constructors and accessors (for example the caller's own {@code MethodHandles.lookup()}).
     *
     * @throws IllegalArgumentException as {@link #of(Class)}
     */
    public static RecordShape of(Class<?> type, MethodHandles.Lookup lookup) {
        Objects.requireNonNull(type, "type");
        return new RecordShapeBuilder(Objects.requireNonNull(lookup, "lookup"), true)
                .shape(type, type.getSimpleName());
    }

    /** @return the record type */
    @Override
    public Class<?> type() {
        return type;
    }

    /** @return the schema: the record's simple name and its components' types and names, nested ones included */
    @Override
    public String schema() {
        return schema;
    }

    @Override
    public int fingerprint() {
        return fingerprint;
    }

    /** @return true if its components are primitives and enums: every record of this shape takes the same bytes */
    @Override
    public boolean fixedLength() {
        return fixedLength;
    }

    /**
     * @return how many bytes {@link #write} writes for {@code record} (not null), unless another thread changes an
     *         array's elements or a list in it meanwhile, or an accessor returns another value the second time
     * @throws ClassCastException if {@code record} is not of this record type (a value of a raw or unchecked type),
     *                            which a map, list or collection view takes for "not an element"
     */
    @Override
    public long length(Object record) {
        if (record.getClass() != type) { // records are final; a record of no components calls no accessor to fail
            throw new ClassCastException(this + ": a " + record.getClass().getName() + " is not a " + type.getName()
                    + " (a value of a raw or unchecked type)");
        }
        long length = fixedBytes;
        for (Component.Variable v : variable) {
            length += v.length(record);
        }
        return length;
    }

    /** Writes the components of {@code record} (not null) at {@code offset} and returns the offset after them. */
    @Override
    public long write(Object record, MemorySegment target, long offset) {
        long at = offset;
        for (Component c : components) {
            at = c.write(record, target, at);
        }
        return at;
    }

    /**
     * @return the record held by exactly the {@code length} bytes at {@code offset}
     * @throws IllegalStateException if those bytes are not a record of this shape
     */
    @Override
    public Object read(MemorySegment source, long offset, int length) {
        Blocks.checkRange(toString(), "message", source, offset, length);
        MessageReader reader = new MessageReader(source, offset, length, this);
        Object record = read(reader);
        reader.finish();
        return record;
    }

    Object read(MessageReader reader) {
        Object[] values = new Object[components.length];
        for (int i = 0; i < values.length; i++) {
            values[i] = components[i].read(reader);
        }
        try {
            return construct.invokeExact(values);
        } catch (Throwable e) {
            throw unchecked(e);
        }
    }

    void describe(StringBuilder out, boolean names) {
        out.append(names ? type.getSimpleName() : "").append('(');
        for (int i = 0; i < components.length; i++) {
            components[i].describe(out.append(i == 0 ? "" : ", "), names);
        }
        out.append(')');
    }

    @Override
    public String kind() {
        return "record";
    }

    @Override
    public String toString() {
        return "record codec " + schema;
    }

    /** @return what a failed handle call throws: unchecked throwables as they are (records declare no others) */
    static RuntimeException unchecked(Throwable e) {
        if (e instanceof Error error) {
            throw error;
        }
        return e instanceof RuntimeException r ? r : new IllegalStateException(e);
    }

    /** @return a new array of {@code length} from {@code newArray}, an {@code (int)Object[]} handle */
    static Object[] newArray(MethodHandle newArray, int length) {
        try {
            return (Object[]) newArray.invokeExact(length);
        } catch (Throwable e) {
            throw unchecked(e);
        }
    }

    /**
     * The schema and the fingerprint of a shape, from what its {@code describe(out, names)} writes: with the names of
     * its records and enums, and without them (after {@link #FORMAT}) for the fingerprint.
     */
    record Description(String schema, int fingerprint) {
        static Description of(BiConsumer<StringBuilder, Boolean> describe) {
            StringBuilder out = new StringBuilder();
            describe.accept(out, true);
            String schema = out.toString();
            out.setLength(0);
            describe.accept(out.append(FORMAT), false);
            return new Description(schema, RecordShape.fingerprint(out.toString()));
        }
    }

    /** @return FNV-1a (64-bit) of the UTF-8 bytes of {@code shape}, folded to 30 bits, with bit 30 set */
    private static int fingerprint(String shape) {
        long hash = FNV_OFFSET;
        for (byte b : shape.getBytes(StandardCharsets.UTF_8)) {
            hash = (hash ^ (b & 0xFF)) * FNV_PRIME;
        }
        return (int) (hash ^ hash >>> 32) & 0x3FFF_FFFF | 0x4000_0000;
    }
}
