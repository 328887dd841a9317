package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.foreign.ValueLayout;
import java.util.ConcurrentModificationException;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * One component of a record: its accessor, bound once to a {@link MethodHandle}, and its encoding. A primitive
 * component is read through an exactly typed handle, so that encoding it boxes nothing.
 */
sealed interface Component {
    /** @return the component's name */
    String name();

    /** Writes this component of {@code record} at {@code offset} and returns the offset after it. */
    long write(Object record, MemorySegment target, long offset);

    /** @return this component's value that {@code reader} holds next, boxed if primitive */
    Object read(MessageReader reader);

    /** Appends "type name" as the schema shows it. */
    void describe(StringBuilder out, boolean names);

    /**
     * A primitive component: always {@link Primitive#size} bytes.
     *
     * @param getter the accessor as {@code (Object)p}, {@code p} the primitive type
     */
    record Fixed(String name, Primitive primitive, MethodHandle getter) implements Component {
        @Override
        public long write(Object record, MemorySegment target, long offset) {
            try {
                switch (primitive) {
                    case BOOLEAN -> target.set(JAVA_BYTE, offset, (boolean) getter.invokeExact(record) ? (byte) 1 : 0);
                    case BYTE -> target.set(JAVA_BYTE, offset, (byte) getter.invokeExact(record));
                    case SHORT -> target.set((ValueLayout.OfShort) primitive.layout, offset,
                            (short) getter.invokeExact(record));
                    case CHAR -> target.set((ValueLayout.OfChar) primitive.layout, offset,
                            (char) getter.invokeExact(record));
                    case INT -> target.set(Primitive.INT_LE, offset, (int) getter.invokeExact(record));
                    case LONG -> target.set((ValueLayout.OfLong) primitive.layout, offset,
                            (long) getter.invokeExact(record));
                    case FLOAT -> target.set(Primitive.INT_LE, offset, // every NaN as one, as Primitive.write
                            Float.floatToIntBits((float) getter.invokeExact(record)));
                    case DOUBLE -> target.set(Primitive.LONG_LE, offset,
                            Double.doubleToLongBits((double) getter.invokeExact(record)));
                }
            } catch (Throwable e) {
                throw RecordShape.unchecked(e);
            }
            return offset + primitive.size;
        }

        @Override
        public Object read(MessageReader reader) {
            return primitive.read(reader);
        }

        @Override
        public void describe(StringBuilder out, boolean names) {
            out.append(primitive.type.getName()).append(' ').append(name);
        }
    }

    /**
     * A reference-typed component.
     *
     * @param where  its path from the top-level record, e.g. {@code Order.lines[].items}, for messages
     * @param getter the accessor as {@code (Object)Object}
     */
    record Variable(String name, String where, ValueCodec codec, MethodHandle getter) implements Component {
        /** @return how many bytes this component of {@code record} takes */
        long length(Object record) {
            try {
                return codec.length(get(record));
            } catch (ConcurrentModificationException e) {
                throw changed(e);
            } catch (IllegalArgumentException e) { // a value its encoding refuses: a string UTF-8 cannot hold
                throw refused(e);
            }
        }

        /**
         * @return {@code e}, a value of this component that its encoding refused when measured, naming the component;
         *         as it is if a component inside this one named it already (its cause is then the refusal itself)
         */
        private IllegalArgumentException refused(IllegalArgumentException e) {
            if (e.getCause() instanceof IllegalArgumentException) {
                return e;
            }
            return new IllegalArgumentException("record component " + where + ": " + e.getMessage(), e);
        }

        @Override
        public long write(Object record, MemorySegment target, long offset) {
            try {
                return codec.write(get(record), target, offset);
            } catch (ConcurrentModificationException e) {
                throw changed(e);
            }
        }

        /**
         * @return a list's {@code e}, met while this component was encoded, naming it; as it is if a component inside
         *         this one named it already (its cause is then the list's own)
         */
        private ConcurrentModificationException changed(ConcurrentModificationException e) {
            if (e.getCause() instanceof ConcurrentModificationException) {
                return e;
            }
            return new ConcurrentModificationException("record component " + where + " changed while it was encoded"
                    + " (another thread's change of a List in it, which must not change until its encode returns)", e);
        }

        @Override
        public Object read(MessageReader reader) {
            return codec.read(reader);
        }

        @Override
        public void describe(StringBuilder out, boolean names) {
            codec.describe(out, names);
            out.append(' ').append(name);
        }

        private Object get(Object record) {
            try {
                return getter.invokeExact(record);
            } catch (Throwable e) {
                throw RecordShape.unchecked(e);
            }
        }
    }
}
