package org.shm4j.sync.atomic;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmException;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.internal.Checks;
import org.shm4j.core.internal.Timeouts;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.CountersLayout;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.Utf8;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.CountersLayout.ALLOCATED;
import static org.shm4j.sync.internal.CountersLayout.CAPACITY_OFFSET;
import static org.shm4j.sync.internal.CountersLayout.COUNTERS;
import static org.shm4j.sync.internal.CountersLayout.FREED;
import static org.shm4j.sync.internal.CountersLayout.FREE_DEADLINE;
import static org.shm4j.sync.internal.CountersLayout.LABEL;
import static org.shm4j.sync.internal.CountersLayout.LABEL_LENGTH;
import static org.shm4j.sync.internal.CountersLayout.LAST_ID_OFFSET;
import static org.shm4j.sync.internal.CountersLayout.MAGIC;
import static org.shm4j.sync.internal.CountersLayout.MAGIC_OFFSET;
import static org.shm4j.sync.internal.CountersLayout.MAX_CAPACITY;
import static org.shm4j.sync.internal.CountersLayout.MAX_LABEL_BYTES;
import static org.shm4j.sync.internal.CountersLayout.MUTEX_OFFSET;
import static org.shm4j.sync.internal.CountersLayout.REGISTRATION_ID;
import static org.shm4j.sync.internal.CountersLayout.REUSE_DELAY_OFFSET;
import static org.shm4j.sync.internal.CountersLayout.STATE;
import static org.shm4j.sync.internal.CountersLayout.UNUSED;
import static org.shm4j.sync.internal.CountersLayout.VERSION_OFFSET;
import static org.shm4j.sync.internal.CountersLayout.blockSize;
import static org.shm4j.sync.internal.CountersLayout.metadataOffset;
import static org.shm4j.sync.internal.CountersLayout.valueOffset;

/**
 * Labeled 64-bit counters allocated by name in one heap block, for a system's processes to count into and for outside
 * tools ({@code shm4j inspect}, {@code shm4j watch}) to read live, like Agrona's {@code CountersManager}. Each
 * {@link #allocate(String)} hands out a {@link SharedCounter} with the access modes of {@link SharedLong}; any process
 * finds it by label with {@link #find(String)} and every reader sees all of them with {@link #snapshot()}.
 *
 * <h2>Reuse delay</h2>
 * {@link SharedCounter#free()} returns a slot, but the slot is given to a new label only after the block's reuse delay
 * (default 1 s): a process still holding the old handle, or a reader between its reads, then has that long before the
 * slot means something else. Each allocation also gets a new registration id; {@link #snapshot()} reads a slot's id
 * before and after its label and value and keeps the reading only if the id did not change, so a reading never pairs
 * one counter's label with another's value.
 *
 * <h2>Layout (heap block type {@code 0x53480081} v2, {@code 128 + 256 * capacity} bytes, 64-aligned)</h2>
 * <table class="striped">
 * <caption>SharedCounters block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic {@code 0x544E434A344D4853}, the ASCII bytes {@code "SHM4JCNT"}</td>
 *     <td>plain; written before the block is published</td></tr>
 * <tr><td>8</td><td>4</td><td>layoutVersion: 2 (1 had the mutex of a v2 {@code SharedLock})</td>
 *     <td>plain; likewise</td></tr>
 * <tr><td>12</td><td>4</td><td>capacity: counter slots, 1 to 65536</td><td>plain; likewise</td></tr>
 * <tr><td>16</td><td>8</td><td>reuseDelayMillis, &gt;= 0</td><td>plain; likewise</td></tr>
 * <tr><td>24</td><td>8</td><td>lastRegistrationId</td><td>plain, under the mutex</td></tr>
 * <tr><td>32</td><td>32</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>40</td><td>robust mutex of allocate and free (as a {@code SharedLock}'s 40 bytes), then 24
 *     zero bytes</td><td>as in {@code SharedLock}</td></tr>
 * <tr><td>128 + 128 i</td><td>128</td><td>metadata of slot i, below</td><td></td></tr>
 * <tr><td>128 + 128 capacity + 128 i</td><td>128</td><td>value of slot i (long at +0), then padding</td>
 *     <td>as the method names say</td></tr>
 * </table>
 * <table class="striped">
 * <caption>Metadata of a slot: 128 bytes, written only under the mutex</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>4</td><td>state: 0 unused, 1 allocated, 2 freed</td><td>release store, last of an allocation
 *     or free; readers load it with acquire</td></tr>
 * <tr><td>4</td><td>4</td><td>labelLength, 0 to 104</td><td>plain; published by state</td></tr>
 * <tr><td>8</td><td>8</td><td>registrationId: non-zero once allocated, new for each allocation</td><td>opaque
 *     store, the first of an allocation, then a store-store fence (before the value and the label); readers load it
 *     with acquire before the state, and volatile after the label and value and a load-load fence</td></tr>
 * <tr><td>16</td><td>8</td><td>freeDeadlineMillis: epoch ms from which a freed slot may be reused</td><td>plain;
 *     published by state</td></tr>
 * <tr><td>24</td><td>104</td><td>label, UTF-8, zero-padded</td><td>plain; published by state</td></tr>
 * </table>
 * Values sit two cache lines apart, so counters written by different processes never share a line (nor, with
 * adjacent-line prefetch, a pair). Allocation zeroes the value before it publishes the state. A holder of the mutex
 * that dies leaves a slot as it was before (state is written last), so a take-over needs no repair.
 *
 * <p>Memory consistency effects: a counter's accesses are those of {@link SharedLong}; an allocation in one process
 * happens-before a {@link #find(String)} or {@link #snapshot()} in another that sees it.
 */
public final class SharedCounters {
    /** Default reuse delay of a freed slot. */
    public static final Duration DEFAULT_REUSE_DELAY = Duration.ofSeconds(1);
    private static final long MUTEX_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment block;
    private final int capacity;
    private final long reuseDelayMillis;
    private final RobustMutex mutex;
    private final String description;
    /** The heap the block lives in, as it names itself ({@code heap 'h'}), for the message of a full block. */
    private final String heap;

    private SharedCounters(MemorySegment block, String description, SharedHeap heap) {
        this.block = block;
        this.description = description;
        this.heap = heap.toString();
        this.capacity = CountersLayout.check(block, description);
        this.reuseDelayMillis = block.get(JAVA_LONG, REUSE_DELAY_OFFSET);
        this.mutex = new RobustMutex(block, MUTEX_OFFSET, description + " allocation mutex");
    }

    /** Creates {@code capacity} free counter slots named {@code name} in {@code heap}, with the default delay. */
    public static SharedCounters create(SharedHeap heap, String name, int capacity) {
        return create(heap, name, capacity, DEFAULT_REUSE_DELAY);
    }

    /**
     * Creates {@code capacity} free counter slots named {@code name} in {@code heap}.
     *
     * @param reuseDelay how long a freed slot stays unused, at least 0
     * @throws IllegalArgumentException if the capacity is not 1 to 65536 or the delay is negative
     * @throws org.shm4j.core.ShmAlreadyExistsException if the name exists
     */
    public static SharedCounters create(SharedHeap heap, String name, int capacity, Duration reuseDelay) {
        return Blocks.opening(heap, () -> {
            long delay = checkArguments(name, capacity, reuseDelay);
            return new SharedCounters(Blocks.create(heap, name, COUNTERS, blockSize(capacity),
                    s -> format(s, capacity, delay)), what(name), heap);
        });
    }

    /**
     * Opens the counters named {@code name}; works on a heap opened read-only, for readers.
     *
     * @throws org.shm4j.core.ShmNotFoundException if there is no block of that name
     * @throws ShmTypeMismatchException            if the block is not a {@code SharedCounters} of this layout
     * @throws ShmFormatException                  if its header is corrupted
     */
    public static SharedCounters open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedCounters(Blocks.open(heap, name, COUNTERS), what(name), heap));
    }

    /**
     * Opens the counters named {@code name}, or creates them with the default reuse delay.
     *
     * @throws ShmTypeMismatchException if they exist with another capacity
     */
    public static SharedCounters openOrCreate(SharedHeap heap, String name, int capacity) {
        return Blocks.opening(heap, () -> {
            long delay = checkArguments(name, capacity, DEFAULT_REUSE_DELAY);
            try {
                return new SharedCounters(Blocks.openOrCreate(heap, name, COUNTERS, blockSize(capacity),
                        s -> format(s, capacity, delay)), what(name), heap);
            } catch (ShmTypeMismatchException e) { // worded in block bytes: say it in slots
                throw Blocks.mismatch(e, () -> {
                    int existing = open(heap, name).capacity();
                    if (existing == capacity) {
                        throw e; // not the capacity: the block's own message stands (mismatch returns e)
                    }
                    return what(name) + " exists with capacity " + existing + " (asked: " + capacity + ")";
                });
            }
        });
    }

    /**
     * Allocates a counter of value 0 with {@code label} (labels need not be unique): an unused slot, else a freed one
     * whose reuse delay has passed.
     *
     * @param label UTF-8 of at most 104 bytes
     * @throws IllegalArgumentException if the label is longer
     * @throws ShmFullException         if every slot is allocated or freed too recently
     * @throws ShmException             if another process holds the allocation mutex for more than 10 s
     */
    public SharedCounter allocate(String label) {
        long length = Utf8.length(Objects.requireNonNull(label, "label"));
        if (length > MAX_LABEL_BYTES) {
            throw new IllegalArgumentException(description + ": label of " + length + " UTF-8 bytes (expected: <= "
                    + MAX_LABEL_BYTES + ")");
        }
        return whileOpen(() -> allocateLocked(label));
    }

    private SharedCounter allocateLocked(String label) {
        lockMutex();
        try {
            int id = freeSlot(System.currentTimeMillis());
            long meta = metadataOffset(id);
            long registration = block.get(JAVA_LONG, LAST_ID_OFFSET) + 1;
            block.set(JAVA_LONG, LAST_ID_OFFSET, registration); // plain: only mutex holders touch it
            // opaque, then a store-store fence: the new id first, so a reader that saw any store below (the zeroed
            // value, a label byte) finds the id changed when it checks it again
            LONG.setOpaque(block, meta + REGISTRATION_ID, registration);
            VarHandle.storeStoreFence();
            LONG.setVolatile(block, valueOffset(capacity, id), 0L); // before the state: a reader sees 0 or later
            block.asSlice(meta + LABEL, MAX_LABEL_BYTES).fill((byte) 0); // plain: published by the state
            int written = Utf8.write(label, block, meta + LABEL);
            block.set(JAVA_INT, meta + LABEL_LENGTH, written); // plain: published by the state
            INT.setRelease(block, meta + STATE, ALLOCATED); // release: publishes label and value, last
            return new SharedCounter(this, block.asSlice(valueOffset(capacity, id), Long.BYTES), id, registration,
                    asStored(label));
        } finally {
            try {
                mutex.release(false, description);
            } catch (StackOverflowError e) { // the mutex left held: see RobustMutex.leaked and lockMutex
                mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
    }

    /** @return the allocated counter with this label that was allocated first (lowest slot), if any */
    public Optional<SharedCounter> find(String label) {
        String stored = asStored(Objects.requireNonNull(label, "label"));
        for (Entry entry : snapshot()) {
            if (entry.label().equals(stored)) {
                return Optional.of(new SharedCounter(this, block.asSlice(valueOffset(capacity, entry.id()),
                        Long.BYTES), entry.id(), entry.registrationId(), stored));
            }
        }
        return Optional.empty();
    }

    /** @return what {@code body} returns; once the heap is closed, an exception naming this block */
    private <T> T whileOpen(Supplier<T> body) {
        return Blocks.whileOpen(block.scope(), description + " cannot be used: its heap is closed", body);
    }

    /**
     * Reads every allocated counter: label and value as of one moment each (not all at one moment). Never writes,
     * never blocks: works on a heap opened read-only.
     *
     * @return the allocated counters, by slot (an unmodifiable list)
     */
    public List<Entry> snapshot() {
        return whileOpen(() -> {
            List<Entry> entries = new ArrayList<>();
            for (int id = 0; id < capacity; id++) {
                Entry entry = read(id);
                if (entry != null) {
                    entries.add(entry);
                }
            }
            return List.copyOf(entries); // unmodifiable: a snapshot, not a view
        });
    }

    /** @return the number of counter slots */
    public int capacity() {
        return capacity;
    }

    /** @return how long a freed slot stays unused */
    public Duration reuseDelay() {
        return Duration.ofMillis(reuseDelayMillis);
    }

    @Override
    public String toString() {
        return description;
    }

    /**
     * One counter as {@link #snapshot()} read it.
     *
     * @param id             its slot
     * @param registrationId the allocation's id, unique in this block
     * @param label          its label
     * @param value          its value when read
     */
    public record Entry(int id, long registrationId, String label, long value) {
    }

    /** Frees {@code counter}'s slot, if it still holds that allocation; see {@link SharedCounter#free()}. */
    void free(SharedCounter counter) {
        whileOpen(() -> {
            freeLocked(counter);
            return null;
        });
    }

    private void freeLocked(SharedCounter counter) {
        lockMutex();
        try {
            long meta = metadataOffset(counter.id());
            if ((int) INT.getAcquire(block, meta + STATE) != ALLOCATED
                    || block.get(JAVA_LONG, meta + REGISTRATION_ID) != counter.registrationId()) {
                throw new IllegalStateException(description + ": counter '" + counter.label() + "' (slot "
                        + counter.id() + ") is already freed");
            }
            block.set(JAVA_LONG, meta + FREE_DEADLINE, System.currentTimeMillis() + reuseDelayMillis); // plain
            INT.setRelease(block, meta + STATE, FREED); // release: publishes the deadline
        } finally {
            try {
                mutex.release(false, description);
            } catch (StackOverflowError e) { // the mutex left held: see RobustMutex.leaked and lockMutex
                mutex.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
    }

    /** @return the entry of slot {@code id}, or null if it is not allocated or changed while being read */
    private Entry read(int id) {
        long meta = metadataOffset(id);
        // acquire, before the state: an allocation stores the id first and the state last, so an id read here is
        // never newer than the allocation whose state is read next
        long registration = (long) LONG.getAcquire(block, meta + REGISTRATION_ID);
        if ((int) INT.getAcquire(block, meta + STATE) != ALLOCATED) { // acquire: then label and value
            return null;
        }
        // plain: checked by the id's re-read below
        int length = Math.clamp(block.get(JAVA_INT, meta + LABEL_LENGTH), 0, MAX_LABEL_BYTES);
        String label = new String(block.asSlice(meta + LABEL, length).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        long value = (long) LONG.getVolatile(block, valueOffset(capacity, id));
        VarHandle.loadLoadFence(); // the label's plain loads before the re-read: a volatile load does not order them
        // volatile: after the value; an unchanged id and state mean no other allocation came in between
        if ((long) LONG.getVolatile(block, meta + REGISTRATION_ID) != registration
                || (int) INT.getVolatile(block, meta + STATE) != ALLOCATED) {
            return null;
        }
        return new Entry(id, registration, label, value);
    }

    private int freeSlot(long now) {
        int reusable = -1;
        for (int id = 0; id < capacity; id++) {
            long meta = metadataOffset(id);
            int state = (int) INT.getAcquire(block, meta + STATE);
            if (state == UNUSED) {
                return id;
            }
            if (reusable < 0 && state == FREED && block.get(JAVA_LONG, meta + FREE_DEADLINE) - now <= 0) {
                reusable = id;
            }
        }
        if (reusable < 0) {
            throw new ShmFullException(description + " in " + heap + " is full: all of its capacity=" + capacity
                    + " counters are allocated or were freed less than " + reuseDelayMillis + " ms ago (the capacity"
                    + " is fixed at creation)");
        }
        return reusable;
    }

    /** @return {@code label} as its UTF-8 bytes read back: a lone surrogate is stored as '?', as getBytes does */
    private static String asStored(String label) {
        return new String(label.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
    }

    /**
     * Takes the allocation mutex. A release of it that a {@link StackOverflowError} cut short (the releases run in a
     * {@code finally}, at about the depth where the allocation or free overflowed) left it held by no thread that will
     * release it, and every later allocation or free, in any process, would time out: each release's catch notes
     * the hold in {@link RobustMutex#leaked} (a field store, not a helper's call, which could overflow at its entry),
     * and the next acquire through this object takes it over. Nothing needs repair: each change stores its state last.
     */
    private void lockMutex() {
        if (block.isReadOnly()) { // allocate and free write; reading (snapshot, find) works on a read-only heap
            throw new IllegalStateException(description + " is read-only here: its heap was opened read-only");
        }
        try {
            // a dead holder's changes are all-or-nothing, its state stored last: nothing to repair
            if (!mutex.acquireWhole(MUTEX_TIMEOUT_NANOS, false, description)) {
                throw new ShmException(description + ": allocation mutex not acquired within "
                        + TimeUnit.NANOSECONDS.toMillis(MUTEX_TIMEOUT_NANOS) + " ms; held by "
                        + mutex.owner().map(Object::toString).orElse("nobody"));
            }
        } catch (InterruptedException e) {
            throw new AssertionError("an uninterruptible acquire threw InterruptedException", e);
        }
    }

    private static long checkArguments(String name, int capacity, Duration reuseDelay) {
        Checks.inRange(what(name) + ": capacity", capacity, 1, MAX_CAPACITY);
        if (Objects.requireNonNull(reuseDelay, "reuseDelay").isNegative()) {
            throw new IllegalArgumentException(what(name) + ": reuseDelay: " + reuseDelay + " (expected: >= 0)");
        }
        // too long for nanoseconds (ChronoUnit.FOREVER's duration): never reuse, as Long.MAX_VALUE milliseconds does
        return Timeouts.nanos(reuseDelay) == Long.MAX_VALUE ? Long.MAX_VALUE : reuseDelay.toMillis();
    }

    private static void format(MemorySegment block, int capacity, long reuseDelayMillis) {
        block.set(JAVA_LONG, MAGIC_OFFSET, MAGIC);
        block.set(JAVA_INT, VERSION_OFFSET, COUNTERS.layoutVersion());
        block.set(JAVA_INT, CAPACITY_OFFSET, capacity);
        block.set(JAVA_LONG, REUSE_DELAY_OFFSET, reuseDelayMillis);
    }

    private static String what(String name) {
        return "SharedCounters '" + name + "'";
    }
}
