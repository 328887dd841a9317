package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Encodes one reference-typed value of a record (a component, an array element or a list element), null included.
 * The encodings are specified in {@code org.shm4j.sync.RecordCodec}; every implementation is built once per record
 * type by {@link RecordShapeBuilder}.
 */
sealed interface ValueCodec {
    /** The length, count or ordinal that stands for null. */
    int NULL = -1;

    /** @return how many bytes {@link #write} writes for {@code value} (which may be null) */
    long length(Object value);

    /** Writes {@code value} (which may be null) at {@code offset} and returns the offset after it. */
    long write(Object value, MemorySegment target, long offset);

    /** @return the value {@code reader} holds next; null for the null encoding */
    Object read(MessageReader reader);

    /** @return the fewest bytes any value takes: that of null */
    int minLength();

    /** Appends this type as the schema shows it; {@code names}: with record and enum class names. */
    void describe(StringBuilder out, boolean names);

    /**
     * @return true if every value of this type, null included, takes the same number of bytes (an enum), so that no
     *         value can take more bytes in {@link #write} than {@link #length} said, even if it changed in between
     */
    default boolean fixedLength() {
        return false;
    }

    /** A box: a presence flag byte, then the primitive. */
    record Box(Primitive primitive) implements ValueCodec {
        @Override
        public long length(Object value) {
            return value == null ? 1 : 1 + primitive.size;
        }

        @Override
        public long write(Object value, MemorySegment target, long offset) {
            target.set(JAVA_BYTE, offset, value == null ? (byte) 0 : (byte) 1);
            if (value == null) {
                return offset + 1;
            }
            primitive.write(target, offset + 1, value);
            return offset + 1 + primitive.size;
        }

        @Override
        public Object read(MessageReader reader) {
            return reader.present() ? primitive.read(reader) : null;
        }

        @Override
        public int minLength() {
            return 1;
        }

        @Override
        public void describe(StringBuilder out, boolean names) {
            out.append(primitive.box.getSimpleName());
        }
    }

    /** A string: its UTF-8 length ({@link #NULL} for null), then its UTF-8 bytes. */
    record Text() implements ValueCodec {
        @Override
        public long length(Object value) {
            return value == null ? Integer.BYTES : Integer.BYTES + Utf8.textLength((String) value);
        }

        @Override
        public long write(Object value, MemorySegment target, long offset) {
            int length = value == null ? NULL : Utf8.writeText((String) value, target, offset + Integer.BYTES);
            target.set(Primitive.INT_LE, offset, length);
            return offset + Integer.BYTES + Math.max(length, 0);
        }

        @Override
        public Object read(MessageReader reader) {
            int length = reader.count(1);
            if (length == NULL) {
                return null;
            }
            byte[] bytes = new byte[length];
            MemorySegment.copy(reader.source(), JAVA_BYTE, reader.take(length), bytes, 0, length);
            return new String(bytes, StandardCharsets.UTF_8);
        }

        @Override
        public int minLength() {
            return Integer.BYTES;
        }

        @Override
        public void describe(StringBuilder out, boolean names) {
            out.append("String");
        }
    }

    /** An array of a primitive type ({@code byte[]} too): its length ({@link #NULL} for null), then the elements. */
    record PrimitiveArray(Primitive primitive) implements ValueCodec {
        /**
         * @throws ClassCastException if {@code value} is not an array of this primitive type (in a list of a raw or
         *                            unchecked type): a {@code byte[]} would be read back as a {@code boolean[]}
         */
        @Override
        public long length(Object value) {
            if (value == null) {
                return Integer.BYTES;
            }
            if (value.getClass().componentType() != primitive.type) {
                throw new ClassCastException("a " + value.getClass().getTypeName() + " is not a "
                        + primitive.type.getName() + "[] (a value of a raw or unchecked type)");
            }
            return Integer.BYTES + (long) Array.getLength(value) * primitive.size;
        }

        @Override
        public long write(Object value, MemorySegment target, long offset) {
            int length = value == null ? NULL : Array.getLength(value);
            target.set(Primitive.INT_LE, offset, length);
            long at = offset + Integer.BYTES;
            if (value instanceof boolean[] flags) {
                for (int i = 0; i < length; i++) {
                    target.set(JAVA_BYTE, at + i, flags[i] ? (byte) 1 : (byte) 0);
                }
            } else if (length > 0) {
                MemorySegment.copy(value, 0, target, primitive.layout, at, length);
                Primitive.canonicalNaNs(value, target, at); // every NaN as one, as Primitive.write
            }
            return at + (long) Math.max(length, 0) * primitive.size;
        }

        @Override
        public Object read(MessageReader reader) {
            int length = reader.count(primitive.size);
            if (length == NULL) {
                return null;
            }
            long at = reader.take((long) length * primitive.size);
            if (primitive == Primitive.BOOLEAN) {
                boolean[] flags = new boolean[length];
                for (int i = 0; i < length; i++) {
                    flags[i] = reader.bool(at + i);
                }
                return flags;
            }
            Object array = Array.newInstance(primitive.type, length);
            MemorySegment.copy(reader.source(), primitive.layout, at, array, 0, length);
            return array;
        }

        @Override
        public int minLength() {
            return Integer.BYTES;
        }

        @Override
        public void describe(StringBuilder out, boolean names) {
            out.append(primitive.type.getName()).append("[]");
        }
    }

    /** An enum: its ordinal ({@link #NULL} for null); the constants' names are part of the schema. */
    record EnumValue(Class<?> type, List<?> constants) implements ValueCodec {
        @Override
        public boolean fixedLength() {
            return true;
        }

        @Override
        public long length(Object value) {
            return Integer.BYTES;
        }

        /**
         * @throws ClassCastException if {@code value} is a constant of another enum (in a list of a raw or unchecked
         *                            type): its ordinal would be read back as a constant of this one
         */
        @Override
        public long write(Object value, MemorySegment target, long offset) {
            if (value != null && ((Enum<?>) value).getDeclaringClass() != type) {
                throw new ClassCastException("enum " + type.getName() + ": " + value + " is a constant of "
                        + ((Enum<?>) value).getDeclaringClass().getName() + " (a value of a raw or unchecked type)");
            }
            target.set(Primitive.INT_LE, offset, value == null ? NULL : ((Enum<?>) value).ordinal());
            return offset + Integer.BYTES;
        }

        @Override
        public Object read(MessageReader reader) {
            int ordinal = reader.index(constants.size(), "enum ordinal");
            return ordinal == NULL ? null : constants.get(ordinal);
        }

        @Override
        public int minLength() {
            return Integer.BYTES;
        }

        @Override
        public void describe(StringBuilder out, boolean names) {
            out.append(names ? type.getSimpleName() : "").append('{');
            for (int i = 0; i < constants.size(); i++) {
                out.append(i == 0 ? "" : ", ").append(((Enum<?>) constants.get(i)).name());
            }
            out.append('}');
        }
    }

    /** A nested record: a presence flag byte, then its components. */
    record RecordValue(RecordShape shape) implements ValueCodec {
        @Override
        public long length(Object value) {
            return value == null ? 1 : 1 + shape.length(value);
        }

        @Override
        public long write(Object value, MemorySegment target, long offset) {
            target.set(JAVA_BYTE, offset, value == null ? (byte) 0 : (byte) 1);
            return value == null ? offset + 1 : shape.write(value, target, offset + 1);
        }

        @Override
        public Object read(MessageReader reader) {
            return reader.present() ? shape.read(reader) : null;
        }

        @Override
        public int minLength() {
            return 1;
        }

        @Override
        public void describe(StringBuilder out, boolean names) {
            shape.describe(out, names);
        }
    }

    /**
     * A value of a sealed interface: the index of its record among the interface's alternatives ({@link #NULL} for
     * null), then that record's components. The alternatives are the interface's permitted records, a permitted
     * sealed interface's in its place, in the order the class file lists them (its {@code permits} clause, else the
     * order of declaration).
     *
     * @param type         the sealed interface
     * @param alternatives the records a value may be, each once
     */
    record OneOf(Class<?> type, RecordShape[] alternatives) implements ValueCodec {
        @Override
        public long length(Object value) {
            return value == null ? Integer.BYTES : Integer.BYTES + alternatives[index(value)].length(value);
        }

        @Override
        public long write(Object value, MemorySegment target, long offset) {
            if (value == null) {
                target.set(Primitive.INT_LE, offset, NULL);
                return offset + Integer.BYTES;
            }
            int index = index(value);
            target.set(Primitive.INT_LE, offset, index);
            return alternatives[index].write(value, target, offset + Integer.BYTES);
        }

        @Override
        public Object read(MessageReader reader) {
            int index = reader.index(alternatives.length, "alternative");
            return index == NULL ? null : alternatives[index].read(reader);
        }

        @Override
        public int minLength() {
            return Integer.BYTES;
        }

        /** Every alternative with its record's simple name, which tells alternatives of one shape apart. */
        @Override
        public void describe(StringBuilder out, boolean names) {
            out.append(names ? type.getSimpleName() : "").append('{');
            for (int i = 0; i < alternatives.length; i++) {
                out.append(i == 0 ? "" : " | ");
                if (!names) { // a record's own describe leaves its name out: here it is part of the shape
                    out.append(alternatives[i].type().getSimpleName());
                }
                alternatives[i].describe(out, names);
            }
            out.append('}');
        }

        /**
         * @return the index of the alternative {@code value} is (a scan: a sealed interface has few)
         * @throws ClassCastException if it is none of them, as a record codec throws for a value of another class
         *                            ({@link RecordShape#length}): a map, list or collection view takes that for
         *                            "not an element"
         */
        private int index(Object value) {
            Class<?> c = value.getClass();
            for (int i = 0; i < alternatives.length; i++) {
                if (alternatives[i].type() == c) {
                    return i;
                }
            }
            throw new ClassCastException("sealed codec " + type.getName() + ": a " + c.getName()
                    + " is not one of its records (a value of a raw or unchecked type)");
        }
    }

    /**
     * An array of a reference type or a {@code List}: its length ({@link #NULL} for null), then each element in its
     * own encoding. A list decodes as an unmodifiable list that may hold nulls.
     *
     * @param newArray for an array, {@code (int)Object[]} making one of the array's type; null for a list
     */
    record Sequence(ValueCodec element, MethodHandle newArray) implements ValueCodec {
        @Override
        public long length(Object value) {
            long length = Integer.BYTES;
            if (value != null) {
                for (Object e : elements(value)) {
                    length += element.length(e);
                }
            }
            return length;
        }

        @Override
        public long write(Object value, MemorySegment target, long offset) {
            if (value == null) {
                target.set(Primitive.INT_LE, offset, NULL);
                return offset + Integer.BYTES;
            }
            Iterable<?> elements = elements(value);
            int count = 0;
            long at = offset + Integer.BYTES;
            for (Object e : elements) {
                at = element.write(e, target, at);
                count++;
            }
            target.set(Primitive.INT_LE, offset, count);
            return at;
        }

        @Override
        public Object read(MessageReader reader) {
            int count = reader.count(element.minLength());
            if (count == NULL) {
                return null;
            }
            Object[] elements = newArray == null ? new Object[count] : RecordShape.newArray(newArray, count);
            for (int i = 0; i < count; i++) {
                elements[i] = element.read(reader);
            }
            return newArray == null ? Collections.unmodifiableList(Arrays.asList(elements)) : elements;
        }

        @Override
        public int minLength() {
            return Integer.BYTES;
        }

        @Override
        public void describe(StringBuilder out, boolean names) {
            if (newArray == null) {
                out.append("List<");
                element.describe(out, names);
                out.append('>');
            } else {
                element.describe(out, names);
                out.append("[]");
            }
        }

        private Iterable<?> elements(Object value) {
            return newArray == null ? (List<?>) value : Arrays.asList((Object[]) value);
        }
    }
}
