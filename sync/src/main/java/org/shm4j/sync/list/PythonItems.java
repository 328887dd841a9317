package org.shm4j.sync.list;

import org.shm4j.core.ShmFormatException;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.IntFunction;
import java.util.stream.Stream;

import static org.shm4j.sync.list.ListLayout.PY_CODE_BYTES;
import static org.shm4j.sync.list.ListLayout.PY_CODE_NONE;
import static org.shm4j.sync.list.ListLayout.PY_CODE_STR;
import static org.shm4j.sync.list.ListLayout.PY_CODE_VALUE;
import static org.shm4j.sync.list.ListLayout.PY_FORMAT_BOOLEAN;
import static org.shm4j.sync.list.ListLayout.PY_FORMAT_DOUBLE;
import static org.shm4j.sync.list.ListLayout.PY_FORMAT_LONG;
import static org.shm4j.sync.list.ListLayout.PY_FORMAT_NONE;
import static org.shm4j.sync.list.ListLayout.PY_MAX_SLOT;
import static org.shm4j.sync.list.ListLayout.PY_WORD;

/**
 * The item rules of CPython's {@code ShareableList}: which Java value is which Python kind, how large a slot Python
 * would make for it, the struct formats and back-transform codes, and the two caveats of its str and bytes items
 * (trailing NUL bytes are stripped on read, python/cpython#96779; a str is truncated if it was sized by characters,
 * python/cpython#88336).
 */
final class PythonItems {
    /** Each thread's strict UTF-8 decoder (malformed input reported, as CPython's {@code bytes.decode}), reused. */
    private static final ThreadLocal<CharsetDecoder> DECODERS = ThreadLocal.withInitial(() -> StandardCharsets.UTF_8
            .newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT));

    private PythonItems() {
    }

    /** @return the kind a Java value is stored as */
    static ShareableList.Kind kindOf(Object value, IntFunction<String> names, int index) {
        return switch (value) {
            case null -> ShareableList.Kind.NONE;
            case Long l -> ShareableList.Kind.LONG;
            case Integer i -> ShareableList.Kind.LONG;
            case Short s -> ShareableList.Kind.LONG;
            case Byte b -> ShareableList.Kind.LONG;
            case Double d -> ShareableList.Kind.DOUBLE;
            case Float f -> ShareableList.Kind.DOUBLE;
            case Boolean b -> ShareableList.Kind.BOOLEAN;
            case String s -> ShareableList.Kind.STRING;
            case byte[] b -> ShareableList.Kind.BYTES;
            default -> throw new IllegalArgumentException(names.apply(index) + ": value of "
                    + value.getClass().getName()
                    + " (expected: Long, Integer, Short, Byte, Double, Float, Boolean, String, byte[] or null)");
        };
    }

    /** @return the bytes a str or bytes item is stored as, checked against Python's caveats */
    static byte[] encode(Object value, IntFunction<String> names, int index) {
        byte[] bytes = value instanceof String s ? utf8(s, names, index) : (byte[]) value;
        if (bytes.length > 0 && bytes[bytes.length - 1] == 0) {
            throw new IllegalArgumentException(names.apply(index) + ": a "
                    + (value instanceof String ? "String" : "byte[]") + " ending in a NUL byte (expected: none, since"
                    + " CPython's ShareableList strips trailing NULs on read, python/cpython#96779, so the value would"
                    + " not read back)");
        }
        return bytes;
    }

    /** @return the slot Python makes for an item: 8 bytes, or for str and bytes {@code 8 * (length / 8 + 1)} */
    static int slotBytes(ShareableList.Kind kind, byte[] encoded, IntFunction<String> names, int index) {
        if (encoded == null) {
            return PY_WORD;
        }
        long slot = (long) PY_WORD * (encoded.length / PY_WORD + 1);
        if (slot > PY_MAX_SLOT) {
            throw new IllegalArgumentException(names.apply(index) + ": a " + kind + " of " + encoded.length
                    + " bytes (expected: at most " + (PY_MAX_SLOT - 1) + ", so that its \"<n>s\" struct format fits"
                    + " the 8 format bytes)");
        }
        return (int) slot;
    }

    /** @return the back-transform code of a kind */
    static byte code(ShareableList.Kind kind) {
        return switch (kind) {
            case LONG, DOUBLE, BOOLEAN -> PY_CODE_VALUE;
            case STRING -> PY_CODE_STR;
            case BYTES -> PY_CODE_BYTES;
            case NONE -> PY_CODE_NONE;
        };
    }

    /** @return the format word of a fixed-size kind, or of {@code "<slot>s"} for str and bytes */
    static long format(ShareableList.Kind kind, int slot) {
        return switch (kind) {
            case LONG -> PY_FORMAT_LONG;
            case DOUBLE -> PY_FORMAT_DOUBLE;
            case BOOLEAN -> PY_FORMAT_BOOLEAN;
            case NONE -> PY_FORMAT_NONE;
            case STRING, BYTES -> ListLayout.format(slot + "s");
        };
    }

    /**
     * @return the kind of an item from its format word and code; from its format alone if the code is another kind's
     *         (see {@link #kindOfFormat}); null if the code is none of Python's, the format is no kind's, or an
     *         {@code "<n>s"} format exceeds the slot (then {@link #corrupt} says so)
     */
    static ShareableList.Kind kindOrNull(long format, byte code, int slot) {
        ShareableList.Kind kind = pairKind(format, code, slot);
        return kind != null || code < PY_CODE_VALUE || code > PY_CODE_NONE ? kind : kindOfFormat(format, slot);
    }

    /**
     * The kind of an item whose format and code disagree: a kind change writes the value, then the format, then the
     * code, so a writer killed between the last two (or a reader racing it) leaves the new format beside the old
     * code. The format names the kind of the value already in the slot; a str or bytes format reads as bytes.
     *
     * @return the kind the format word alone names, or null if it names none
     */
    private static ShareableList.Kind kindOfFormat(long format, int slot) {
        return format == PY_FORMAT_LONG ? ShareableList.Kind.LONG
                : format == PY_FORMAT_DOUBLE ? ShareableList.Kind.DOUBLE
                : format == PY_FORMAT_BOOLEAN ? ShareableList.Kind.BOOLEAN
                : format == PY_FORMAT_NONE ? ShareableList.Kind.NONE
                : stringLength(format, slot) >= 0 ? ShareableList.Kind.BYTES : null;
    }

    /** @return the kind of a format and code pair Python writes, or null */
    static ShareableList.Kind pairKind(long format, byte code, int slot) {
        return switch (code) {
            case PY_CODE_VALUE -> format == PY_FORMAT_LONG ? ShareableList.Kind.LONG
                    : format == PY_FORMAT_DOUBLE ? ShareableList.Kind.DOUBLE
                    : format == PY_FORMAT_BOOLEAN ? ShareableList.Kind.BOOLEAN : null;
            case PY_CODE_STR -> stringLength(format, slot) >= 0 ? ShareableList.Kind.STRING : null;
            case PY_CODE_BYTES -> stringLength(format, slot) >= 0 ? ShareableList.Kind.BYTES : null;
            case PY_CODE_NONE -> format == PY_FORMAT_NONE ? ShareableList.Kind.NONE : null;
            default -> null;
        };
    }

    /** @return the exception for an item whose format and code {@link #kindOrNull} refused; {@code what} names it */
    static ShmFormatException corrupt(long format, byte code, int slot, String what) {
        return new ShmFormatException(what + " is corrupted: format=" + describe(format) + ", code=" + code
                + " (expected: q, d, xxxxxxx? with code 0; <n>s with n <= " + slot
                + " and code 1 or 2; xxxxxx?x with code 3; or one of these formats with another of these codes, left"
                + " by a kind change cut between its two stores)" + (cutFormat(format, code, slot)
                ? "; a format cut short is what a CPython writer killed while it wrote the format leaves (it zero-fills"
                + " the 8 format bytes first): set the item to write it whole" : ""));
    }

    /**
     * An item that a CPython writer was killed in while it wrote its format: {@code struct.pack_into} zero-fills the
     * 8 format bytes, then copies the format in (one to a few stores), on every write of an item. Python opens a list
     * holding one (reading the item raises {@code ValueError}), so {@link ShareableList} opens it too.
     *
     * @return true if {@code code} is one of Python's and {@code format} is a NUL-padded proper prefix (the empty one
     *         included) of a format a writer stores in a slot of {@code slot} bytes
     */
    static boolean cutFormat(long format, byte code, int slot) {
        byte[] ascii = ascii(format);
        int end = textLength(ascii);
        if (end < 0) {
            return false;
        }
        String prefix = new String(ascii, 0, end, StandardCharsets.US_ASCII);
        return code >= PY_CODE_VALUE && code <= PY_CODE_NONE
                && Stream.of("q", "d", "xxxxxxx?", "xxxxxx?x", slot + "s")
                        .anyMatch(written -> written.length() > end && written.startsWith(prefix));
    }

    /** @return n of a {@code "<n>s"} format word with {@code n <= slot}, else -1 */
    static int stringLength(long format, int slot) {
        byte[] ascii = ascii(format);
        int end = textLength(ascii);
        if (end < 2 || ascii[end - 1] != 's') {
            return -1;
        }
        long n = 0;
        for (int i = 0; i < end - 1; i++) {
            if (ascii[i] < '0' || ascii[i] > '9') {
                return -1;
            }
            n = n * 10 + ascii[i] - '0';
        }
        return n <= slot ? (int) n : -1;
    }

    /**
     * @param bytes a str or bytes item's bytes, trailing NULs stripped as Python does (this array is returned for
     *              bytes)
     * @return the item's value
     */
    static Object decode(ShareableList.Kind kind, byte[] bytes, IntFunction<String> names, int index) {
        if (kind == ShareableList.Kind.BYTES) {
            return bytes;
        }
        CharsetDecoder decoder = DECODERS.get();
        try {
            return decoder.reset().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ShmFormatException(names.apply(index) + " holds " + bytes.length + " bytes that are not valid"
                    + " UTF-8 (expected: a str; CPython truncates a non-ASCII str it sized by characters,"
                    + " python/cpython#88336, and a writer killed while it changed the item's kind leaves the new"
                    + " value under the str format; the next write of the item sets it whole)");
        }
    }

    private static byte[] utf8(String s, IntFunction<String> names, int index) {
        try {
            ByteBuffer buffer = StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).encode(CharBuffer.wrap(s));
            return Arrays.copyOf(buffer.array(), buffer.limit());
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(names.apply(index) + ": a String with an unpaired surrogate"
                    + " (expected: text that UTF-8 can encode, as Python's str.encode requires)", e);
        }
    }

    /** @return the length of the text before the NUL padding of 8 format bytes, or -1 if a byte follows a NUL */
    private static int textLength(byte[] ascii) {
        int end = 0;
        while (end < PY_WORD && ascii[end] != 0) {
            end++;
        }
        for (int i = end; i < PY_WORD; i++) {
            if (ascii[i] != 0) {
                return -1;
            }
        }
        return end;
    }

    /** @return the 8 format bytes of a format word, as they lie in memory */
    private static byte[] ascii(long format) {
        return ByteBuffer.allocate(PY_WORD).order(java.nio.ByteOrder.nativeOrder()).putLong(format).array();
    }

    private static String describe(long format) {
        StringBuilder out = new StringBuilder("\"");
        for (byte b : ascii(format)) {
            out.append(b >= 0x20 && b < 0x7F ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xFF));
        }
        return out.append('"').toString();
    }
}
