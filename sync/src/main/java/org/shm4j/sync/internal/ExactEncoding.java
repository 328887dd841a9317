package org.shm4j.sync.internal;

import org.shm4j.sync.Codec;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.function.Function;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Writes a codec's value as exactly the bytes its {@code encodedLength} gave, for the structures that store encoded
 * values (queues, pipes, lists, maps), so that a value taking more bytes than measured (a list or array in a record
 * changed by another thread meanwhile, an accessor that returns another value each time, a faulty codec) never
 * lands on the bytes around its place:
 * <ul>
 *   <li>the built-in codecs (nested in {@link Codec}) and record or sealed codecs of primitives and enums alone
 *       write in place: no value of theirs changes length;</li>
 *   <li>other record and sealed codecs ({@link CodecShape}) write where they may overrun harmlessly, and report what
 *       they wrote: in place if the caller's bytes around the place are its own ({@code ownBytes}), else into the
 *       thread's {@link EncodeStaging} bytes, copied in only if they took exactly the length (from a virtual thread,
 *       or above {@link EncodeStaging#MOST} bytes, into a slice of exactly the length instead);</li>
 *   <li>any other codec writes in place with a guard word after the place if the bytes are the caller's own, else
 *       into a slice of exactly the length (an object per write unless the JIT removes it): writing past the place
 *       fails either way (one that writes fewer bytes than it said cannot be told).</li>
 * </ul>
 * Which codecs have a shape is told by {@code org.shm4j.sync}'s shape codecs when their class initializes
 * ({@link #registerShapes}), before any of them exists.
 */
public final class ExactEncoding {
    /** Whether a codec class is one of the built-in codecs (nested in {@link Codec}), which write exactly. */
    private static final ClassValue<Boolean> BUILT_IN = new ClassValue<>() {
        @Override
        protected Boolean computeValue(Class<?> type) {
            return type.getNestHost() == Codec.class;
        }
    };
    /** Written after the place of a value a codec writes into the caller's own bytes: see guarded(). */
    private static final long GUARD = 0x5A17_C0DE_6A2D_0E1FL;
    /** The one class that may register shapes. */
    private static final String SHAPE_CODECS = "org.shm4j.sync.ShapeCodec";
    /** The shape of a record or sealed codec, or null for another codec. */
    private static volatile Function<Codec<?>, CodecShape> shapes = codec -> null;

    private ExactEncoding() {
    }

    /**
     * Called once, by the class of the record and sealed codecs, with the way to find a codec's shape.
     *
     * @throws IllegalCallerException if called by another class (this package is not exported, but a class path
     *                                makes it reachable)
     */
    public static void registerShapes(Function<Codec<?>, CodecShape> shapeOf) {
        Class<?> caller = StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE).getCallerClass();
        if (!caller.getName().equals(SHAPE_CODECS) || caller.getModule() != ExactEncoding.class.getModule()) {
            throw new IllegalCallerException(caller.getName() + " may not register codec shapes");
        }
        shapes = Objects.requireNonNull(shapeOf, "shapeOf");
    }

    /**
     * Writes {@code value} (not null), which {@code codec} said takes {@code length} bytes, at {@code offset} of
     * {@code target}; bytes outside {@code [offset, offset + length)} are written only if {@code ownBytes}. Callers
     * use {@link #writeExactly}.
     *
     * @param ownBytes true if the bytes around the place belong to the caller alone (a thread's buffer), so a value
     *                 may be written there and its length checked after
     * @return how many bytes the value took: {@code length}, or for a record or sealed codec whose value changed
     *         meanwhile, another number (then nothing was written into the place unless {@code ownBytes})
     * @throws IndexOutOfBoundsException if the codec wrote past the place (or past the caller's bytes)
     */
    static <T> long write(Codec<T> codec, T value, int length, MemorySegment target, long offset,
                          boolean ownBytes) {
        CodecShape shape = shapes.apply(codec);
        if (shape == null) {
            if (BUILT_IN.get(codec.getClass())) {
                codec.encode(value, target, offset);
            } else if (ownBytes && target.byteSize() - offset - length >= Long.BYTES) {
                guarded(codec, value, length, target, offset);
            } else {
                codec.encode(value, target.asSlice(offset, length), 0);
            }
            return length;
        } else if (shape.fixedLength()) {
            shape.write(value, target, offset);
            return length;
        } else if (ownBytes) {
            return shape.write(value, target, offset) - offset;
        } else if (length > EncodeStaging.MOST || Thread.currentThread().isVirtual()) {
            // a virtual thread's staging would be used once and kept as long as the thread (one per task)
            return shape.write(value, target.asSlice(offset, length), 0);
        }
        EncodeStaging staging = EncodeStaging.take(length);
        try {
            long written = shape.write(value, staging.bytes(), 0); // past its bytes: IndexOutOfBoundsException
            if (written == length) {
                MemorySegment.copy(staging.bytes(), 0, target, offset, length);
            }
            return written;
        } finally {
            staging.release();
        }
    }

    /**
     * Lets {@code codec} write into the caller's own bytes with a guard word right after the {@code length} bytes,
     * which a codec writing more changes (unless it writes exactly the guard: a faulty codec is caught, not proven).
     *
     * @throws IndexOutOfBoundsException if the guard changed
     */
    private static <T> void guarded(Codec<T> codec, T value, int length, MemorySegment target, long offset) {
        long guardAt = offset + length;
        target.set(JAVA_LONG_UNALIGNED, guardAt, GUARD);
        codec.encode(value, target, offset);
        if (target.get(JAVA_LONG_UNALIGNED, guardAt) != GUARD) {
            throw new IndexOutOfBoundsException("the guard word after the " + length + " bytes changed");
        }
    }

    /**
     * @return {@code codec.encodedLength(value)}, which is not negative
     * @throws IllegalArgumentException if the codec refused the value (a string UTF-8 cannot hold, say), or measured
     *                                  it as a negative length (a faulty codec, whose length a map would store),
     *                                  naming {@code what} (the structure, e.g. {@code "queue 'q'"}) first
     */
    public static <T> int measure(Codec<T> codec, T value, String what) {
        int length;
        try {
            length = codec.encodedLength(value);
        } catch (IllegalArgumentException e) {
            String reason = e.getMessage();
            if (reason != null && reason.startsWith(what)) {
                throw e;
            }
            throw new IllegalArgumentException(what + ": " + reason, e);
        }
        if (length < 0) {
            throw new IllegalArgumentException(what + ": encodedLength=" + length + " of its codec (type "
                    + Blocks.typeId(codec.typeId()) + ") (expected: >= 0)");
        }
        return length;
    }

    /**
     * {@link #write}, refusing a value that did not take exactly {@code length} bytes.
     *
     * @param what    the structure, e.g. {@code "queue 'q'"}
     * @param notDone what the value was not, e.g. {@code "queued"}
     * @throws IllegalStateException naming {@code what}, if the codec wrote past the place or the value took another
     *                               number of bytes: nothing was written into the place unless {@code ownBytes}
     */
    public static <T> void writeExactly(Codec<T> codec, T value, int length, MemorySegment target, long offset,
                                        boolean ownBytes, String what, String notDone) {
        long written;
        try {
            written = write(codec, value, length, target, offset, ownBytes);
        } catch (IndexOutOfBoundsException e) {
            throw notExact(what, notDone, codec, "wrote past the " + length + " bytes its encodedLength gave", e);
        }
        if (written != length) {
            throw notExact(what, notDone, codec, "wrote " + written + " bytes where its encodedLength gave " + length,
                    null);
        }
    }

    private static IllegalStateException notExact(String what, String notDone, Codec<?> codec, String wrote,
                                                  Throwable cause) {
        return new IllegalStateException(what + ": the value was not " + notDone + ": its codec (type "
                + Blocks.typeId(codec.typeId()) + ") " + wrote + " (the value changed while it was encoded: a list or"
                + " array changed by another thread, an accessor that returns another value each time, or a faulty"
                + " codec)", cause);
    }
}
