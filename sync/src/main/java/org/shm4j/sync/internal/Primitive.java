package org.shm4j.sync.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The eight primitive types as a record codec writes them: little-endian, unaligned, {@code boolean} as one byte 0 or
 * 1, {@code float}/{@code double} as their IEEE 754 bits with every NaN as the one {@link Float#floatToIntBits} and
 * {@link Double#doubleToLongBits} give: records, boxes and arrays that {@code equals} calls equal (NaNs of other bits
 * included) then have equal bytes, which is how maps and lists compare keys and values.
 */
enum Primitive {
    BOOLEAN(boolean.class, Boolean.class, JAVA_BYTE),
    BYTE(byte.class, Byte.class, JAVA_BYTE),
    SHORT(short.class, Short.class, ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)),
    CHAR(char.class, Character.class, ValueLayout.JAVA_CHAR_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)),
    INT(int.class, Integer.class, ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)),
    LONG(long.class, Long.class, ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)),
    FLOAT(float.class, Float.class, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)),
    DOUBLE(double.class, Double.class, ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));

    /** The layout of a length, count, ordinal or null marker: a little-endian {@code int}. */
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The layout a {@code double} is written as, its bits from {@link Double#doubleToLongBits}. */
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final Class<?> type;
    final Class<?> box;
    final ValueLayout layout;
    final int size;

    Primitive(Class<?> type, Class<?> box, ValueLayout layout) {
        this.type = type;
        this.box = box;
        this.layout = layout;
        this.size = (int) layout.byteSize();
    }

    /** @return the primitive whose type ({@code boxed} false) or box ({@code boxed} true) is {@code c}, or null */
    static Primitive of(Class<?> c, boolean boxed) {
        for (Primitive p : values()) {
            if ((boxed ? p.box : p.type) == c) {
                return p;
            }
        }
        return null;
    }

    /** Writes the boxed {@code value} of this type at {@code offset}. */
    void write(MemorySegment target, long offset, Object value) {
        switch (this) {
            case BOOLEAN -> target.set(JAVA_BYTE, offset, (Boolean) value ? (byte) 1 : (byte) 0);
            case BYTE -> target.set(JAVA_BYTE, offset, (Byte) value);
            case SHORT -> target.set((ValueLayout.OfShort) layout, offset, (Short) value);
            case CHAR -> target.set((ValueLayout.OfChar) layout, offset, (Character) value);
            case INT -> target.set(INT_LE, offset, (Integer) value);
            case LONG -> target.set((ValueLayout.OfLong) layout, offset, (Long) value);
            case FLOAT -> target.set(INT_LE, offset, Float.floatToIntBits((Float) value));
            case DOUBLE -> target.set(LONG_LE, offset, Double.doubleToLongBits((Double) value));
        }
    }

    /**
     * Rewrites each NaN of {@code array}, a {@code float[]} or {@code double[]} that was copied as it is to
     * {@code offset}, as the one NaN {@link #write} writes; does nothing for another array.
     */
    static void canonicalNaNs(Object array, MemorySegment target, long offset) {
        if (array instanceof float[] floats) {
            for (int i = 0; i < floats.length; i++) {
                if (floats[i] != floats[i]) {
                    target.set(INT_LE, offset + (long) i * Float.BYTES, Float.floatToIntBits(Float.NaN));
                }
            }
        } else if (array instanceof double[] doubles) {
            for (int i = 0; i < doubles.length; i++) {
                if (doubles[i] != doubles[i]) {
                    target.set(LONG_LE, offset + (long) i * Double.BYTES, Double.doubleToLongBits(Double.NaN));
                }
            }
        }
    }

    /** @return the value of this type that {@code reader} holds next, boxed */
    Object read(MessageReader reader) {
        MemorySegment source = reader.source();
        long at = reader.take(size);
        return switch (this) {
            case BOOLEAN -> reader.bool(at);
            case BYTE -> source.get(JAVA_BYTE, at);
            case SHORT -> source.get((ValueLayout.OfShort) layout, at);
            case CHAR -> source.get((ValueLayout.OfChar) layout, at);
            case INT -> source.get(INT_LE, at);
            case LONG -> source.get((ValueLayout.OfLong) layout, at);
            case FLOAT -> source.get((ValueLayout.OfFloat) layout, at);
            case DOUBLE -> source.get((ValueLayout.OfDouble) layout, at);
        };
    }
}
