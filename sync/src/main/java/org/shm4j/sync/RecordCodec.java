package org.shm4j.sync;

import org.shm4j.sync.internal.RecordShape;

/**
 * A {@link Codec} of one record type, made by {@link Codec#record(Class)}: the record's components, in declaration
 * order, written one after the other. The canonical constructor and the accessors are bound to method handles once,
 * when the codec is made; encoding and decoding use no reflection.
 *
 * <h2>Supported components</h2>
 * Primitives and their boxes, {@code String}, enums, records (nested to any depth, but not recursive), sealed
 * interfaces whose alternatives are records (see {@link SealedCodec}), and arrays or {@code List}s of any of these
 * (including arrays of arrays, {@code byte[]}, and lists of lists). Anything else (an {@code Object}, a
 * {@code Map}, a class that is not a record, a type variable, a wildcard, a raw {@code List}) is refused with an
 * {@link IllegalArgumentException} naming the record and the component; so is a record whose components take more
 * than 253 parameter slots ({@code long} and {@code double} two each), the most a method handle to its canonical
 * constructor can take (group them into nested records). A parameterized record or sealed interface
 * ({@code Tagged<String>}, {@code Result<String>}) is encoded as its records' components say, whatever its type
 * arguments. Every reference-typed value may be null, at the top level only the record itself may not. A decoded
 * list is unmodifiable (and may hold nulls); a decoded array is a new array.
 *
 * <h2>Wire format (version 1)</h2>
 * Little-endian, unaligned, no padding; the top-level record is its components' encodings back to back (it is never
 * null, so it has no flag). "length" is a 32-bit signed int.
 * <table>
 *   <caption>Encoding of each component type</caption>
 *   <tr><th>Type</th><th>Bytes</th><th>Encoding</th></tr>
 *   <tr><td>{@code boolean}</td><td>1</td><td>0 or 1</td></tr>
 *   <tr><td>{@code byte}</td><td>1</td><td>the byte</td></tr>
 *   <tr><td>{@code short}, {@code char}</td><td>2</td><td>the value (a UTF-16 unit for {@code char})</td></tr>
 *   <tr><td>{@code int}, {@code float}</td><td>4</td><td>the value; a float as its IEEE 754 bits, every NaN as
 *       {@link Float#floatToIntBits} gives it</td></tr>
 *   <tr><td>{@code long}, {@code double}</td><td>8</td><td>the value; a double as its IEEE 754 bits, every NaN as
 *       {@link Double#doubleToLongBits} gives it (one NaN, so that records that {@code equals} calls equal, a
 *       NaN computed at run time and {@code Double.NaN} say, are one map key)</td></tr>
 *   <tr><td>a box ({@code Integer}...)</td><td>1 or 1 + size</td><td>flag byte: 0 null, 1 present; then the
 *       primitive</td></tr>
 *   <tr><td>{@code String}</td><td>4 + n</td><td>length n of the UTF-8 bytes (-1: null); then those bytes (a string
 *       with a lone surrogate, which UTF-8 cannot hold, is refused when measured: an
 *       {@link IllegalArgumentException} naming the component, e.g. {@code Shelf.items[].label})</td></tr>
 *   <tr><td>primitive array ({@code byte[]}, {@code int[]}...)</td><td>4 + n &times; size</td><td>length n (-1:
 *       null); then the elements as above</td></tr>
 *   <tr><td>enum</td><td>4</td><td>the ordinal (-1: null)</td></tr>
 *   <tr><td>record</td><td>1 or 1 + its components</td><td>flag byte: 0 null, 1 present; then its components in
 *       this format</td></tr>
 *   <tr><td>sealed interface</td><td>4 + the record's components</td><td>the index of the value's record among
 *       the interface's alternatives (-1: null; see {@link SealedCodec}); then that record's components</td></tr>
 *   <tr><td>other array, {@code List}</td><td>4 + the elements</td><td>element count n (-1: null); then each element
 *       in its own encoding</td></tr>
 * </table>
 * Decoding checks every length, count, flag and ordinal against the bytes the message has left before it allocates
 * anything, and that the record ends exactly where the message does: corrupted bytes give an
 * {@link IllegalStateException} naming this codec, never an {@link IndexOutOfBoundsException} or an oversized
 * allocation. (A compact constructor that refuses decoded values throws what it throws.)
 *
 * <h2>Schema and fingerprint</h2>
 * {@link #schema()} describes the shape: the record's simple name, then each component's type and name, nested
 * records and enums (with their constants) written out, e.g. {@code Trade(long id, String symbol, Side{BUY, SELL}
 * side, List<Fill(int quantity, double price)> fills)}. The {@link #fingerprint()} hashes the same text without the
 * record and enum class names ({@code shm4j-record-v1 (long id, String symbol, {BUY, SELL} side, ...)}): FNV-1a 64
 * of its UTF-8 bytes, folded to 30 bits, with bit 30 set. So renaming a record or enum class, or moving it to another
 * package, keeps the fingerprint (except the records of a sealed interface component, whose simple names tell them
 * apart: see {@link SealedCodec}); changing a component's type, name or position, or an enum's constants or their
 * order, changes it. The fingerprint is the codec's {@link #typeId()}, kept in the header of the structures that
 * record their codec: {@link SharedQueue#open} (and {@code openOrCreate}), the maps and {@code SharedList} refuse a
 * codec of another shape with a {@link org.shm4j.core.ShmTypeMismatchException}: a queue's saying "record shape
 * differs", with both fingerprints and the expected schema; a map's giving the key and value type ids it holds and
 * those expected; a list's giving the type id it holds and the codec given, with its schema. It is also written with
 * every {@link SharedQueue} message, so a message of another shape met in a queue whose ring declares no codec (an
 * MPMC {@link org.shm4j.sync.ring.SharedRing} made without one, then opened as a queue) throws an
 * {@link IllegalStateException} saying "record shape differs" too.
 *
 * <h2>Access</h2>
 * {@link Codec#record(Class)} reaches the records through this module's own lookup: each record type (the nested
 * ones too) must be public, and on the module path its package exported or opened to {@code org.shm4j.sync}.
 * {@link Codec#record(Class, java.lang.invoke.MethodHandles.Lookup)} uses the caller's lookup instead, e.g.
 * {@code MethodHandles.lookup()} for a private or local record. A record that cannot be reached is refused with an
 * {@link IllegalArgumentException} saying which and how to fix it.
 *
 * <h2>Allocation</h2>
 * {@link #encodedLength} and {@link #encode} allocate nothing for primitive components, boxes, strings (written as
 * UTF-8 straight into the target), primitive arrays and enums; arrays and lists of references iterate (an array
 * through an {@code Arrays.asList} view), which may allocate an iterator the JIT usually removes. Decoding allocates
 * the record, its component values, and an {@code Object[]} of them for the constructor, with primitive components
 * boxed on the way. A value must not be changed by another thread while it is being encoded: its length is computed
 * first, then it is written (each accessor called once for each). A queue, pipe or list writes a record of
 * primitives and enums alone in place (it cannot change length); any other into bytes of the sending platform thread,
 * reused (no allocation once they have grown to its longest value, up to 64 KiB; a longer value, or one sent from a
 * virtual thread, is written into a slice of its place), checked to take exactly its encoded length and then copied
 * in (a map writes into its own buffer and checks the same). A value that changed length meanwhile (another thread's
 * change of a list or array in it, or an accessor overridden to return another value each time) fails with an
 * {@link IllegalStateException} naming the structure and is not stored, and the bytes around its place are never
 * overwritten; a change that a list's iterator detects throws its {@link java.util.ConcurrentModificationException},
 * wrapped in one naming the record component (e.g. {@code Order.items}).
 *
 * @param <R> the record type
 */
public final class RecordCodec<R extends Record> extends ShapeCodec<R> {
    RecordCodec(Class<R> type, RecordShape shape) {
        super(type, shape);
    }

    /** @return the record type */
    public Class<R> recordType() {
        return valueType();
    }
}
