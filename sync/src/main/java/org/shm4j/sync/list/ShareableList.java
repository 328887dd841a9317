package org.shm4j.sync.list;

import org.shm4j.core.SharedMemory;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.Settling;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.ListIterator;
import java.util.Objects;
import java.util.RandomAccess;
import java.util.StringJoiner;

/**
 * A fixed-length list of {@code long}, {@code double}, {@code boolean}, {@code String}, {@code byte[]} and
 * {@code null} items, byte-compatible with CPython 3.11 to 3.13's {@code multiprocessing.shared_memory.ShareableList}:
 * a list Python made ({@code ShareableList([...], name="x")}) opens here with {@link #open(String)}, and one made here
 * with {@link #create(String, List)} opens in Python with {@code ShareableList(name="x")}.
 *
 * <h2>Layout (CPython's; native byte order, 8-byte words)</h2>
 * <table class="striped">
 * <caption>A list of N items</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>N ({@code q})</td><td>plain; written once at creation</td></tr>
 * <tr><td>8</td><td>8 (N + 1)</td><td>offset of item i's slot from the data area ({@code q}); entry N is the data
 *     area's length; slots are multiples of 8 bytes, at least 8</td><td>plain; written once at creation</td></tr>
 * <tr><td>8 (N + 2)</td><td>offsets[N]</td><td>data area: the item slots</td><td>opaque 8-byte words for numbers,
 *     booleans and None; plain bytes for str and bytes</td></tr>
 * <tr><td>8 (N + 2) + offsets[N]</td><td>8 N</td><td>each item's {@code struct} format, ASCII, NUL-padded:
 *     {@code q} (int), {@code d} (float), {@code xxxxxxx?} (bool, in byte 7), {@code xxxxxx?x} (None, all zero),
 *     {@code <n>s} (str as UTF-8, or bytes, NUL-padded)</td><td>opaque 8-byte word</td></tr>
 * <tr><td>8 (2N + 2) + offsets[N]</td><td>N</td><td>each item's back-transform code ({@code b}): 0 int, float or
 *     bool; 1 str; 2 bytes; 3 None</td><td>opaque byte</td></tr>
 * </table>
 *
 * <h2>Python's rules are this class's</h2>
 * <ul>
 * <li>The length is fixed; an item's slot is fixed at creation: 8 bytes, or {@code 8 * (len / 8 + 1)} for str and
 *     bytes. A write that does not fit throws {@link IllegalArgumentException} (Python raises {@code ValueError}).
 *     An item may change kind (Python allows it) if the new value fits its slot.</li>
 * <li>Python sizes a str slot by its number of <em>characters</em>, so it truncates a non-ASCII str at creation
 *     (python/cpython#88336). This class sizes by UTF-8 bytes, so lists it creates are never truncated; reading a str
 *     that Python cut inside a character throws {@link ShmFormatException} naming the item (a cut between characters
 *     cannot be detected, here or in Python).</li>
 * <li>Python strips trailing NUL bytes from str and bytes on read (python/cpython#96779); writing a {@code String} or
 *     {@code byte[]} that ends in a NUL byte is refused with {@link IllegalArgumentException}, so that nothing reads
 *     back different from what was written.</li>
 * <li>{@code Integer}, {@code Short} and {@code Byte} are stored as Python ints ({@code long}), {@code Float} as a
 *     float ({@code double}); they read back as {@code Long} and {@code Double}.</li>
 * </ul>
 *
 * <h2>Not synchronised</h2>
 * Like Python's, this list has no lock and no atomic protocol: CPython reads and writes it with plain {@code struct}
 * calls. Here, an 8-byte number, boolean or None and each format word are written with one opaque store (never torn, no
 * ordering); str and bytes are copied with plain stores, so a reader racing a writer of the same item may see a mix of
 * the old and new text; an item that changes kind is written value first, then format, then code, so a racing reader
 * may decode one item with the wrong kind. A format and a code that disagree (a writer killed between the two, or a
 * reader racing it) are read by the format, which names the kind of the value already in the slot (a str or bytes
 * format as {@code byte[]}), and the next write of the item sets both; such an item is not damage, so the list still
 * opens, after up to 1 s ({@link #open} waits that long for a list a CPython creator may still be filling;
 * CPython's read of the item may raise {@code AttributeError}, as for any torn item). A writer killed between the
 * value and the format may leave a number's bytes under a str format: {@link #get} refuses that item with {@link
 * ShmFormatException}, and {@link #set} still writes it whole. CPython's {@code struct.pack_into} zero-fills the bytes
 * it packs before it writes them, so while CPython rewrites an item a reader may find its format word or code zero
 * (even when the kind stays), its number 0, its str empty or cut inside a character: a read that finds an item
 * malformed reads it again for up to 1 s (spinning, then yielding its CPU to the writer) before it throws
 * {@link ShmFormatException}, and one that finds its format and code disagreeing for up to 10 ms before it reads it
 * by its format, so a racing CPython writer is not reported as
 * damage (CPython's own reader raises {@code ValueError} there), but a 0 or an empty str is read as it is. A CPython
 * writer killed there leaves an item with a zero format or one cut short: the list still opens (as in Python),
 * {@link #get} refuses that item with {@link ShmFormatException} saying so, and {@link #set} writes it whole.
 * Coordinate writers and readers of one item yourself (a lock, or a pipe), in either language.
 *
 * <h2>Region lifetime</h2>
 * This class never unlinks a region. {@link #close()} unmaps a region that {@link #create(String, List)} or
 * {@link #open(String)} mapped, and leaves a caller's {@link SharedMemory} open. Python 3.12 and older unlink a
 * segment when any Python process that attached to it exits: a Python process that opens a list made here calls
 * {@code resource_tracker.unregister(sl.shm._name, "shared_memory")} right after opening it (3.13's
 * {@code track=False} is not passed through by {@code ShareableList}).
 */
public final class ShareableList extends AbstractList<Object> implements RandomAccess, AutoCloseable {
    /** The kind of an item, as Python knows it. */
    public enum Kind {
        /** A Python {@code int} (64-bit signed): {@code Long}. */
        LONG,
        /** A Python {@code float}: {@code Double}. */
        DOUBLE,
        /** A Python {@code bool}: {@code Boolean}. */
        BOOLEAN,
        /** A Python {@code str}, UTF-8: {@code String}. */
        STRING,
        /** A Python {@code bytes}: {@code byte[]}. */
        BYTES,
        /** Python's {@code None}: {@code null}. */
        NONE
    }

    private final SharedMemory region;
    private final boolean ownsRegion;
    private final String what;
    private final ShareableSlots slots;

    private ShareableList(SharedMemory region, boolean ownsRegion) {
        this.region = region;
        this.ownsRegion = ownsRegion;
        this.what = "ShareableList " + region;
        this.slots = new ShareableSlots(region.segment(), what);
    }

    /**
     * Creates the named region {@code /dev/shm/<name>} of exactly the size Python would, holding {@code items}.
     *
     * @throws IllegalArgumentException              if an item is of another type, a str or bytes item ends in a NUL
     *                                               byte or is too long for Python's format, or the name is invalid
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static ShareableList create(String name, List<?> items) {
        String what = "ShareableList '" + name + "'";
        Objects.requireNonNull(items, "items");
        long size = ShareableLayout.byteSize(items, what);
        // written before the name appears: a creator killed here leaves no half-written list under it
        SharedMemory region = SharedMemory.create(name, size, SharedMemory.OWNER_ONLY,
                segment -> ShareableLayout.write(segment, items, what));
        try {
            return new ShareableList(region, true);
        } catch (RuntimeException | Error e) {
            region.close();
            SharedMemory.unlink(name); // ours: created above
            throw e;
        }
    }

    /**
     * Writes {@code items} at the start of a caller's region of at least {@link #byteSize(List)} bytes, then views it.
     * The region stays the caller's: {@link #close()} leaves it open.
     *
     * @throws IllegalArgumentException if the region is smaller, or an item is refused as by {@link #create}
     * @throws IllegalStateException    if the region is closed
     */
    public static ShareableList create(SharedMemory region, List<?> items) {
        requireOpen(region);
        String what = "ShareableList " + region;
        Objects.requireNonNull(items, "items");
        long size = ShareableLayout.byteSize(items, what);
        if (region.byteSize() < size) {
            throw new IllegalArgumentException(what + ": region of " + region.byteSize()
                    + " bytes (expected: at least " + size + " for " + items.size() + " items)");
        }
        ShareableLayout.write(region.segment(), items, what);
        return new ShareableList(region, false);
    }

    /**
     * Opens the list in the named region {@code /dev/shm/<name>}, made by Python or by this class. CPython's
     * {@code ShareableList} makes its region under its name (empty, then zero-filled) before it writes the count,
     * offsets, items, formats and codes: a list that reads half-made (an empty region, bytes that are not a valid list,
     * no items in a region larger than an empty list, or an item whose format is missing or disagrees with its code)
     * is read again for up to 1 s, then taken as it reads, or refused. A region no creator could be filling (too short
     * for a list, or an item count it has no room for, as a {@code SharedHeap}'s) is refused at once; a region with no
     * items in a size no list of one or more items has (CPython sizes its region exactly, as {@link #byteSize(List)})
     * is taken at once as the empty list it reads as, as Python takes it.
     *
     * @throws org.shm4j.core.ShmNotFoundException if there is no region of that name
     * @throws ShmFormatException                  if the bytes are not a valid list
     */
    public static ShareableList open(String name) {
        SharedMemory region = null;
        Settling settling = null;
        try {
            while (true) {
                boolean late = Settling.waited(settling, ShareableSlots.MALFORMED_SETTLE_NANOS);
                try {
                    region = region != null ? region : SharedMemory.open(name); // mapped once it is not empty
                    ShareableList list = new ShareableList(region, true);
                    boolean finalEmpty = list.isEmpty() && !ShareableLayout.someListsSize(region.byteSize());
                    if (late || !list.slots.halfMade() || finalEmpty) { // finalEmpty: no creator is still writing
                        return list;
                    }
                } catch (ShmFormatException halfMade) {
                    if (late || region != null && ShareableLayout.noListEver(region.segment())) {
                        throw halfMade;
                    }
                }
                settling = Settling.pause(settling);
            }
        } catch (RuntimeException | Error e) {
            if (region != null) {
                region.close();
            }
            throw e;
        } finally {
            Settling.end(settling);
        }
    }

    /**
     * Views the list at the start of a caller's region; {@link #close()} leaves the region open.
     *
     * @throws ShmFormatException    if the bytes are not a valid list
     * @throws IllegalStateException if the region is closed
     */
    public static ShareableList wrap(SharedMemory region) {
        return new ShareableList(requireOpen(region), false);
    }

    /** @return {@code region}, if it is open */
    private static SharedMemory requireOpen(SharedMemory region) {
        if (Objects.requireNonNull(region, "region").isClosed()) {
            throw new IllegalStateException("ShareableList " + region + ": the region is closed");
        }
        return region;
    }

    /**
     * @return the bytes Python's layout takes for {@code items}: {@code 8 (N + 2)}, the slots, then 9 per item
     * @throws IllegalArgumentException if an item is refused as by {@link #create(String, List)}
     */
    public static long byteSize(List<?> items) {
        return ShareableLayout.byteSize(items, "ShareableList");
    }

    /** @return the number of items, fixed at creation */
    @Override
    public int size() {
        slots.checkOpen(); // known without the region, but refused after close as every other access is
        return slots.length();
    }

    /**
     * @return the item at {@code index}: a {@code Long}, {@code Double}, {@code Boolean}, {@code String},
     *         {@code byte[]} or {@code null}
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size())}
     * @throws ShmFormatException        if the item's format, code or text is damaged
     */
    @Override
    public Object get(int index) {
        return slots.read(index, null);
    }

    /**
     * @return the kind of the item at {@code index}; the kind its format names if its code is another kind's for
     *         longer than a writer takes (a kind change cut between its two stores: see the class doc)
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size())}
     * @throws ShmFormatException        if the item's code is none of Python's, or its format is no kind's
     */
    public Kind kind(int index) {
        return slots.kind(index);
    }

    /**
     * @return the bytes of the item's slot: the longest UTF-8 str or bytes value it takes
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size())}
     */
    public int capacity(int index) {
        return slots.capacity(index);
    }

    /** @return the item at {@code index} as a long @throws ClassCastException if it is not a {@link Kind#LONG} */
    public long getLong(int index) {
        return slots.getWord(index, Kind.LONG);
    }

    /** @return the item at {@code index} as a double @throws ClassCastException if it is not a {@link Kind#DOUBLE} */
    public double getDouble(int index) {
        return Double.longBitsToDouble(slots.getWord(index, Kind.DOUBLE));
    }

    /** @return the item at {@code index} as a boolean @throws ClassCastException if it is not a boolean */
    public boolean getBoolean(int index) {
        return slots.getBoolean(index);
    }

    /** @return the item at {@code index} as a String @throws ClassCastException if it is not a {@link Kind#STRING} */
    public String getString(int index) {
        return (String) slots.read(index, Kind.STRING);
    }

    /** @return the item at {@code index} as bytes @throws ClassCastException if it is not a {@link Kind#BYTES} */
    public byte[] getBytes(int index) {
        return (byte[]) slots.read(index, Kind.BYTES);
    }

    /**
     * Replaces the item at {@code index}, changing its kind if {@code value}'s differs (as Python allows).
     *
     * @param value a {@code Long}, {@code Integer}, {@code Short}, {@code Byte}, {@code Double}, {@code Float},
     *              {@code Boolean}, {@code String}, {@code byte[]} or {@code null}
     * @return the previous item; if it cannot be read ({@link #get} throws {@link ShmFormatException}: a writer killed
     *         while it changed the item's kind left the new value under the old str format), its slot's bytes as a
     *         {@code byte[]}, which this write replaces whole
     * @throws IndexOutOfBoundsException if {@code index} is not in {@code [0, size())}
     * @throws IllegalArgumentException  if the value is of another type, does not fit the slot ({@link #capacity}),
     *                                   or is a str or bytes ending in a NUL byte
     */
    @Override
    public Object set(int index, Object value) {
        return slots.set(index, value);
    }

    /** Sets the item at {@code index} to a Python int. @throws IndexOutOfBoundsException for a bad index */
    public void setLong(int index, long value) {
        slots.setWord(index, Kind.LONG, value);
    }

    /** Sets the item at {@code index} to a Python float. @throws IndexOutOfBoundsException for a bad index */
    public void setDouble(int index, double value) {
        slots.setWord(index, Kind.DOUBLE, Double.doubleToRawLongBits(value));
    }

    /** Sets the item at {@code index} to a Python bool. @throws IndexOutOfBoundsException for a bad index */
    public void setBoolean(int index, boolean value) {
        slots.setWord(index, Kind.BOOLEAN, value ? ShareableLayout.TRUE_WORD : 0L);
    }

    /**
     * Finds the first item equal to {@code o} by what is stored: a {@code byte[]} by its bytes (as Python's
     * {@code index} compares bytes), an {@code Integer}, {@code Short} or {@code Byte} as the {@code Long} it is
     * stored as, a {@code Float} as its {@code Double}. Unlike Python, numbers of different kinds are not equal here
     * ({@code 1} does not find {@code 1.0} or {@code True}).
     *
     * @return its index, or -1
     */
    @Override
    public int indexOf(Object o) {
        Object sought = asStored(o);
        for (int i = 0; i < size(); i++) {
            if (sameItem(get(i), sought)) {
                return i;
            }
        }
        return -1;
    }

    /** @return true if an item equals {@code o} as {@link #indexOf} compares them */
    @Override
    public boolean contains(Object o) {
        return indexOf(o) >= 0;
    }

    /** @return the index of the last item equal to {@code o} as {@link #indexOf} compares them, or -1 */
    @Override
    public int lastIndexOf(Object o) {
        Object sought = asStored(o);
        for (int i = size() - 1; i >= 0; i--) {
            if (sameItem(get(i), sought)) {
                return i;
            }
        }
        return -1;
    }

    /** @return {@code o} as an item holding it reads back: whole numbers as Long, Float as Double */
    private static Object asStored(Object o) {
        return switch (o) {
            case Integer i -> (long) i;
            case Short s -> (long) s;
            case Byte b -> (long) b;
            case Float f -> (double) f;
            case null, default -> o;
        };
    }

    /**
     * @return true if {@code o} is a list of as many items, each equal to this list's item at its index, as
     *         {@code AbstractList}'s; against another {@code ShareableList}, {@code byte[]} items are compared by
     *         their bytes, since each read makes a new array (against other lists by {@code equals}, as those lists
     *         compare them, so that equality stays symmetric): two views of one list are equal
     */
    @Override
    public boolean equals(Object o) {
        if (o == this) {
            return true;
        }
        if (!(o instanceof ShareableList other)) {
            return super.equals(o);
        }
        Iterator<?> theirs = other.iterator();
        for (Object item : this) {
            if (!theirs.hasNext() || !sameItem(item, theirs.next())) {
                return false;
            }
        }
        return !theirs.hasNext();
    }

    /**
     * @return {@link List#hashCode()}'s hash of the items, a {@code byte[]} hashed by its bytes: an unchanged list
     *         gives the same hash each time, though each read makes a new array
     */
    @Override
    public int hashCode() {
        int hash = 1;
        for (Object item : this) {
            hash = 31 * hash + (item instanceof byte[] bytes ? Arrays.hashCode(bytes) : Objects.hashCode(item));
        }
        return hash;
    }

    private static boolean sameItem(Object item, Object sought) {
        return item instanceof byte[] bytes && sought instanceof byte[] other ? Arrays.equals(bytes, other)
                : Objects.equals(item, sought);
    }

    /**
     * @return a view of the items in {@code [from, to)}, as {@link AbstractList#subList}
     * @throws IndexOutOfBoundsException naming this list, if the range is not inside {@code [0, size()]}
     */
    @Override
    public List<Object> subList(int from, int to) {
        if (from < 0 || to > size() || from > to) {
            throw new IndexOutOfBoundsException(what + ": subList(" + from + ", " + to + ") (expected: 0 <= from <= to"
                    + " <= " + size() + ", the list's fixed length)");
        }
        return super.subList(from, to);
    }

    /**
     * @return an iterator from {@code index}, as {@link AbstractList#listIterator(int)}
     * @throws IndexOutOfBoundsException naming this list, if {@code index} is not in {@code [0, size()]}
     */
    @Override
    public ListIterator<Object> listIterator(int index) {
        if (index < 0 || index > size()) {
            throw new IndexOutOfBoundsException(what + ": listIterator(" + index + ") (expected: 0.." + size()
                    + ", the list's fixed length)");
        }
        return super.listIterator(index);
    }

    /** Refused: the length is fixed, as Python's. @throws UnsupportedOperationException naming this list */
    @Override
    public void add(int index, Object element) {
        throw fixedLength("add");
    }

    /** Refused: the length is fixed, as Python's. @throws UnsupportedOperationException naming this list */
    @Override
    public Object remove(int index) {
        throw fixedLength("remove");
    }

    /** @return the region the list lives in */
    public SharedMemory region() {
        return region;
    }

    /** Unmaps the region if this list mapped it ({@link #create(String, List)}, {@link #open}); never unlinks. */
    @Override
    public void close() {
        if (ownsRegion) {
            region.close();
        }
    }

    /**
     * @return the list's region and its items, as {@code ShareableList <region> [1, a, null]} (unlike
     *         {@code AbstractList}'s, which shows the items alone: Python's {@code repr} names the region too), or
     *         the region and "(closed)" once closed
     */
    @Override
    public String toString() {
        if (!slots.isOpen()) {
            return what + " (closed)";
        }
        StringJoiner items = new StringJoiner(", ", "[", "]");
        for (Object item : this) { // bytes shown by value ([1, 2]), not as an array's identity
            items.add(item instanceof byte[] bytes ? Arrays.toString(bytes) : String.valueOf(item));
        }
        return what + " " + items;
    }

    private UnsupportedOperationException fixedLength(String call) {
        return new UnsupportedOperationException(what + ": " + call + " refused: the length is fixed at "
                + slots.length() + " items (as Python's ShareableList; set an item instead, or make a new list)");
    }
}
