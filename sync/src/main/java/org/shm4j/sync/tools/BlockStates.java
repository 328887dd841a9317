package org.shm4j.sync.tools;

import org.shm4j.core.BlockType;
import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.atomic.SharedCounters;
import org.shm4j.sync.internal.BarrierGenerations;
import org.shm4j.sync.internal.BarrierRegistry;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.CountersLayout;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.WaitLayout;
import org.shm4j.sync.internal.WaitTable;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.map.SharedMapStats;
import org.shm4j.sync.ring.RingStats;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.IntUnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.*;

/**
 * Reads the live state of each kind of block in a heap opened read-only, with loads only (volatile, or opaque for
 * diagnostics): nothing here writes, takes a lock or waits. A block of an unknown tag, of another layout version, or
 * whose header fails its checks is reported as unreadable with the reason, never read further.
 */
final class BlockStates {
    // VarHandle mechanics
    private static final VarHandle I32 = JAVA_INT.varHandle();
    private static final VarHandle I64 = JAVA_LONG.varHandle();

    /** How many elements of an array block a report shows. */
    private static final int SHOWN_ELEMENTS = 8;

    /** The state reader of each known block type, by tag. */
    private static final Map<Integer, Reader> READERS = readers();

    private BlockStates() {
    }

    /** @return the block's catalog entry and, under "state" or "unreadable", its live state or why it is unreadable */
    static Map<String, Object> describe(SharedHeap heap, HeapBlock block) {
        BlockType type = block.type();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("name", block.name());
        report.put("kind", type.kindName().orElse("unknown"));
        report.put("tag", "0x" + Integer.toHexString(type.tag()));
        report.put("layoutVersion", type.layoutVersion());
        report.put("offset", block.offset());
        report.put("size", block.byteSize());
        Reader reader = READERS.get(type.tag());
        if (reader == null) {
            // the type prints as "type 0x100 v1"
            report.put("unreadable", "unknown block " + type + ": not a structure this tool knows");
        } else if (reader.type().layoutVersion() != type.layoutVersion()) {
            report.put("unreadable", "layout version " + type.layoutVersion() + " (this tool reads version "
                    + reader.type().layoutVersion() + " of " + type.kindName().orElse("it") + ")");
        } else {
            try {
                report.put("state", reader.read().apply(heap, block));
            } catch (RuntimeException e) {
                report.put("unreadable", e.getMessage() == null ? e.toString() : e.getMessage());
            }
        }
        return report;
    }

    private record Reader(BlockType type, BiFunction<SharedHeap, HeapBlock, Map<String, Object>> read) {
    }

    private static Map<Integer, Reader> readers() {
        Map<Integer, Reader> readers = new LinkedHashMap<>();
        add(readers, INT, (h, b) -> value((int) I32.getVolatile(b.segment(), 0L)));
        add(readers, LONG, (h, b) -> value((long) I64.getVolatile(b.segment(), 0L)));
        add(readers, DOUBLE, (h, b) -> value(Double.longBitsToDouble((long) I64.getVolatile(b.segment(), 0L))));
        add(readers, BOOLEAN, (h, b) -> value((int) I32.getVolatile(b.segment(), 0L) != 0));
        add(readers, INT_ARRAY, (h, b) -> array(b.segment(), Integer.BYTES, (s, i) -> s.get(JAVA_INT, i)));
        add(readers, LONG_ARRAY, (h, b) -> array(b.segment(), Long.BYTES, (s, i) -> s.get(JAVA_LONG, i)));
        add(readers, DOUBLE_ARRAY, (h, b) -> array(b.segment(), Long.BYTES, (s, i) -> s.get(JAVA_DOUBLE, i)));
        add(readers, BYTE_ARRAY, (h, b) -> array(b.segment(), 1, null));
        add(readers, LOCK, (h, b) -> LockStates.mutex(b.segment(), 0, "lock '" + b.name() + "'"));
        add(readers, REENTRANT_LOCK, (h, b) -> LockStates.reentrant(b.segment(), "reentrant lock '" + b.name()
                + "'"));
        add(readers, READ_WRITE_LOCK, (h, b) -> LockStates.readWrite(b.segment(), "read-write lock '" + b.name()
                + "'"));
        add(readers, FAIR_LOCK, (h, b) -> LockStates.fair(b.segment()));
        add(readers, RING, BlockStates::ring);
        add(readers, PIPE, (h, b) -> pipe(b.segment()));
        add(readers, SEMAPHORE, (h, b) -> semaphore(coordination(b, SEMAPHORE), SEMAPHORE.kindName().orElseThrow()
                + " '" + b.name() + "'"));
        add(readers, LATCH, (h, b) -> {
            int word = (int) I32.getVolatile(coordination(b, LATCH), COORD_WORD_OFFSET);
            return coordinationState("count", word & COORD_VALUE_MASK, word);
        });
        add(readers, TASKS, (h, b) -> tasks(coordination(b, TASKS)));
        add(readers, EVENT, (h, b) -> {
            int word = (int) I32.getVolatile(coordination(b, EVENT), COORD_WORD_OFFSET);
            Map<String, Object> state = coordinationState("set", (word & EVENT_SET) != 0, word);
            state.put("generation", (word & COORD_VALUE_MASK) / EVENT_GENERATION_UNIT);
            return state;
        });
        add(readers, BARRIER, (h, b) -> barrier(coordination(b, BARRIER)));
        add(readers, CONDITION, (h, b) -> {
            MemorySegment s = coordination(b, CONDITION);
            Map<String, Object> state = new LinkedHashMap<>();
            long word = (long) I64.getVolatile(s, COND_WORD_OFFSET); // the four fields change together
            long served = condField(word, COND_SERVED_OFFSET, Short.BYTES);
            long arrived = condField(word, COND_ARRIVED_OFFSET, Short.BYTES);
            state.put("waiters", (int) (served + arrived));
            state.put("served", (int) served);
            state.put("tokens", (int) condField(word, COND_TOKENS_OFFSET, Short.BYTES));
            state.put("epoch", (int) condField(word, COND_EPOCH_OFFSET, Short.BYTES));
            return state;
        });
        add(readers, CountersLayout.COUNTERS, BlockStates::counters);
        add(readers, SharedMap.blockType(), (h, b) -> map(SharedMap.inspect(h, b.name())));
        add(readers, SharedMap.segmentsBlockType(), (h, b) -> extension("segments of a SharedMap split"));
        add(readers, SharedList.blockType(), (h, b) -> {
            Map<String, Object> state = new LinkedHashMap<>();
            state.put("size", SharedList.sizeOf(h, b.name()));
            return state;
        });
        add(readers, SharedList.chunkBlockType(), (h, b) -> extension("elements of a SharedList"));
        add(readers, WaitLayout.TABLE, BlockStates::waitTable); // also names the kind: nothing else here loads it
        return readers;
    }

    /** The heap's wait table: how many waits are published now (those {@code inspect} lists after the blocks). */
    private static Map<String, Object> waitTable(SharedHeap heap, HeapBlock block) {
        if (!block.name().equals(WaitLayout.BLOCK_NAME)) {
            throw new IllegalStateException("a wait table named other than '" + WaitLayout.BLOCK_NAME
                    + "' (no waiter publishes there)");
        }
        WaitTable table = WaitTable.find(heap).orElseThrow(); // validates the header; reads only
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("published", table.entries().size());
        state.put("capacity", WaitLayout.ENTRIES);
        state.put("refused", table.refused()); // waits that found it full: they try again once a second
        return state;
    }

    private static Map<String, Object> map(SharedMapStats stats) {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("entries", stats.entries());
        state.put("segments", stats.segments().size());
        state.put("fullestSegmentFill", Math.round(stats.fullestSegment() * 1000) / 1000.0);
        state.put("repairs", stats.repairs());
        state.put("compactions", stats.compactions());
        List<Object> fills = new ArrayList<>();
        for (SharedMapStats.Segment segment : stats.segments()) {
            fills.add(Math.round(segment.fill() * 1000) / 1000.0);
        }
        state.put("segmentFill", fills);
        return state;
    }

    private static Map<String, Object> extension(String holds) {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("holds", holds);
        return state;
    }

    private static void add(Map<Integer, Reader> readers, BlockType type,
                            BiFunction<SharedHeap, HeapBlock, Map<String, Object>> read) {
        readers.put(type.tag(), new Reader(type, read));
    }

    private static Map<String, Object> value(Object value) {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("value", value);
        return state;
    }

    /** Reads an element of an array block at a byte offset. */
    private interface Element {
        Object get(MemorySegment segment, long offset);
    }

    private static Map<String, Object> array(MemorySegment block, int elementSize, Element element) {
        long length = block.get(JAVA_LONG, ARRAY_LENGTH_OFFSET);
        long fits = (block.byteSize() - ARRAY_ELEMENTS_OFFSET) / elementSize;
        if (length < 0 || length > fits) {
            throw new IllegalStateException("array length " + length + " (expected: 0 to " + fits + ")");
        }
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("length", length);
        if (element != null) {
            List<Object> first = new ArrayList<>();
            for (long i = 0; i < Math.min(length, SHOWN_ELEMENTS); i++) {
                first.add(element.get(block, ARRAY_ELEMENTS_OFFSET + i * elementSize));
            }
            state.put("first", first);
        }
        return state;
    }

    private static Map<String, Object> ring(SharedHeap heap, HeapBlock block) {
        SharedRing ring = SharedRing.open(block); // validates the header; reads only; not by name: see open
        MemorySegment header = block.segment();
        RingStats stats = ring.stats();
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("ringKind", ring.kind().name());
        state.put("capacity", ring.capacity());
        boolean spsc = ring.kind() == SharedRing.Kind.SPSC;
        long consumedTo = (long) I64.getVolatile(header, SyncLayout.ringConsumerPosition(spsc)); // its commit point
        long tail = (long) I64.getVolatile(header, RING_TAIL_OFFSET); // after consumedTo: never behind it
        // from the consumers' commit point, as messagesQueued: not from head, which stays behind the records a
        // consumer handed over until it freed them (for good, if it died freeing them, until the next consumer does)
        state.put("bytesQueued", tail - consumedTo);
        state.put("messagesQueued", ring.messageCount());
        state.put("tail", tail);
        state.put("head", (long) I64.getVolatile(header, RING_HEAD_OFFSET));
        // the record the next consumer reads: a claim not yet committed (length <= 0) holds every message behind it
        long next = RING_HEADER_SIZE + (consumedTo & (ring.capacity() - 1));
        state.put("headStalled", consumedTo < tail && (int) I32.getVolatile(header, next) <= 0);
        state.put("recordsSkipped", stats.skippedRecords());
        state.put("consumerRecoveries", stats.consumerRecoveries());
        state.put("consumerTakeOvers", stats.consumerTakeovers());
        state.put("stallTimeoutMillis", stats.stallTimeout().toMillis());
        // the stall clock: the record a consumer last noted claimed but uncommitted (maybe consumed since), the tail
        // then (the bound of a skip) and how long ago by the wall clock, which every time namespace shares; else null
        long stallAt = (long) I64.getVolatile(header, RING_STALL_AT_OFFSET);
        state.put("stallNotedAt", stallAt == 0 ? null : stallAt - 1);
        state.put("stallNotedTail", stallAt == 0 ? null : (long) I64.getVolatile(header, RING_STALL_TAIL_OFFSET));
        state.put("stallNotedMillisAgo", stallAt == 0 ? null
                : System.currentTimeMillis() - (long) I64.getVolatile(header, RING_STALL_WALL_OFFSET));
        // the waiting bits: a waiter announced itself since the last signal (maybe since timed out or died)
        int consumersWord = (int) I32.getVolatile(header, RING_NOT_EMPTY_WAITERS_OFFSET);
        int producersWord = (int) I32.getVolatile(header, RING_NOT_FULL_WAITERS_OFFSET);
        state.put("consumersWaiting", (consumersWord & RING_WAITING) != 0);
        state.put("producersWaiting", (producersWord & RING_WAITING) != 0);
        if (ring.kind() == SharedRing.Kind.MPMC) {
            state.put("consumerTurn", LockStates.mutex(header, RING_CONSUMER_MUTEX_OFFSET, "ring consumers"));
        } else { // the process holding the single consumer's role (and SPSC: the producer's), see SharedRing's Roles
            putProcess(state, "consumer", header, (long) I64.getVolatile(header, RING_CONSUMER_PROCESS_OFFSET));
        }
        if (spsc) {
            putProcess(state, "producer", header, (long) I64.getVolatile(header, RING_PRODUCER_PROCESS_OFFSET));
        }
        if (!spsc) { // the processes named in the producer table, which the stall rule asks about a claim not marked
            List<Long> producerPids = new ArrayList<>();
            for (int slot = 0; slot < RING_PRODUCER_SLOTS; slot++) {
                int id = (int) I32.getVolatile(header, ringProducerSlot(slot));
                if (id != 0) {
                    producerPids.add((long) (id & RING_PRODUCER_PID_MASK));
                }
            }
            state.put("producerPids", producerPids);
            state.put("orphanBound", (long) I64.getVolatile(header, RING_ORPHAN_BOUND_OFFSET));
        }
        return state;
    }

    /** A pipe's end states; its depths are those of its two rings, the blocks {@code <name>.ab} and {@code .ba}. */
    private static Map<String, Object> pipe(MemorySegment block) {
        long magic = block.get(JAVA_LONG, PIPE_MAGIC_OFFSET);
        if (magic != PIPE_MAGIC) {
            throw new IllegalStateException("pipe magic 0x" + Long.toHexString(magic) + " (expected: 0x"
                    + Long.toHexString(PIPE_MAGIC) + ")");
        }
        Map<String, Object> state = new LinkedHashMap<>();
        for (int end = 0; end < 2; end++) {
            long at = PIPE_FIRST_END_OFFSET + end * PIPE_END_STRIDE;
            long token = (long) I64.getVolatile(block, at + PIPE_END_OWNER);
            Map<String, Object> endState = new LinkedHashMap<>();
            endState.put("closed", (int) I32.getVolatile(block, at + PIPE_END_STATE) == PIPE_END_CLOSED);
            putProcess(endState, "owner", block, token);
            state.put(end == 0 ? "first" : "second", endState);
        }
        return state;
    }

    /**
     * Puts {@code <role>Pid}, {@code <role>Alive} and {@code <role>Attached} (whether that process still has the heap
     * of {@code block} open): the process a token names, or nulls for a token of 0.
     */
    private static void putProcess(Map<String, Object> state, String role, MemorySegment block, long token) {
        state.put(role + "Pid", token == 0 ? null : ProcessIdentity.pid(token));
        state.put(role + "Alive", token == 0 ? null : ProcessIdentity.isAlive(token));
        state.put(role + "Attached", token == 0 ? null : HeapMappings.hasOpen(block, token));
    }

    /** @return the block, once its coordination header names {@code type} (as the structure's own open checks) */
    private static MemorySegment coordination(HeapBlock block, BlockType type) {
        // the library's checks, which name what is wrong (a block of the type made too small for the word after the
        // header fails the read's bounds check instead, reported as unreadable all the same)
        return CoordinationBlocks.checked(block.segment(), type, type.kindName().orElseThrow() + " '" + block.name()
                + "'");
    }

    private static Map<String, Object> coordinationState(String field, Object value, int word) {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put(field, value);
        state.put("waiters", (word & COORD_WAITERS) != 0);
        return state;
    }

    /**
     * A joinable queue's count: the tasks taken and not yet done (not those queued, which its ring's state shows),
     * and where the record counted last lies in the ring: its tag's position, exact below 32 GiB consumed (the tag
     * keeps its low 35 bits), or null if none was counted.
     */
    private static Map<String, Object> tasks(MemorySegment block) {
        long taskState = (long) I64.getVolatile(block, TASKS_STATE_OFFSET); // the word and the tag change together
        int word = (int) taskState; // the low half: see SyncLayout.TASKS_STATE_OFFSET
        long tag = taskState >>> 32;
        Map<String, Object> state = coordinationState("takenNotDone", word & COORD_VALUE_MASK, word);
        state.put("lastCountedAt", tag == 0 ? null : (tag - 1) * Long.BYTES);
        return state;
    }

    private static Map<String, Object> semaphore(MemorySegment block, String what) {
        int word = (int) I32.getVolatile(block, COORD_WORD_OFFSET);
        int kind = CoordinationBlocks.param1(block);
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("semaphoreKind", kind >= 1 && kind <= 3 ? List.of("UNBOUNDED", "BOUNDED", "UNDO").get(kind - 1)
                : "unknown " + kind);
        state.put("initialPermits", CoordinationBlocks.param2(block));
        if (kind == SEM_KIND_UNDO) { // the word is a release sequence; permits are the initial less those held
            state.put("holders", LockStates.holders(block, SEM_SLOTS_OFFSET, IntUnaryOperator.identity(), what));
            state.put("mutex", LockStates.mutex(block, SEM_MUTEX_OFFSET, "semaphore mutex"));
        } else {
            state.put("permits", word & COORD_VALUE_MASK);
        }
        state.put("waiters", (word & COORD_WAITERS) != 0);
        return state;
    }

    private static Map<String, Object> barrier(MemorySegment block) {
        long barrierState = (long) I64.getVolatile(block, BARRIER_STATE_OFFSET);
        int word = (int) barrierState;
        int parties = CoordinationBlocks.param1(block);
        if (parties < 1 || parties > BARRIER_MAX_PARTIES || block.byteSize() < barrierSize(parties)) {
            throw new IllegalStateException("barrier parties=" + parties + " in a block of " + block.byteSize()
                    + " bytes (expected: 1.." + BARRIER_MAX_PARTIES + " parties and the block they need)");
        }
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("parties", parties);
        state.put("arrived", (int) (barrierState >>> 32));
        state.put("generation", word & BARRIER_GENERATION_MASK);
        state.put("broken", (word & BARRIER_BROKEN) != 0);
        state.put("actionRuns", barrierState >>> 32 == parties && (word & BARRIER_BROKEN) == 0);
        state.put("arrivals", barrierArrivals(block, parties, word & BARRIER_GENERATION_MASK));
        List<Object> registered = new ArrayList<>(); // read-only: the registry's tokens() only loads
        for (long token : new BarrierRegistry(block, barrierRegistrationsOffset(parties), parties).tokens()) {
            registered.add(process(new LinkedHashMap<>(), block, token));
        }
        state.put("registered", registered);
        return state;
    }

    /**
     * @return the parties that arrived in {@code generation} and wait (or run its action), by arrival slot: pid,
     *         whether it lives and whether it has the heap open, so that a gone one shows before a live party's check
     *         breaks the generation
     */
    private static List<Object> barrierArrivals(MemorySegment block, int parties, int generation) {
        List<Object> arrivals = new ArrayList<>();
        for (int slot = 0; slot < parties; slot++) {
            if (BarrierGenerations.arrivedIn(block, slot, generation)) {
                Map<String, Object> party = new LinkedHashMap<>();
                party.put("slot", slot);
                arrivals.add(process(party, block, BarrierGenerations.slotToken(block, slot)));
            }
        }
        return arrivals;
    }

    /**
     * @return {@code entry} with the pid of the process that owner token {@code token} names, whether it lives and
     *         whether it still has the heap of {@code block} open
     */
    private static Map<String, Object> process(Map<String, Object> entry, MemorySegment block, long token) {
        entry.put("pid", ProcessIdentity.pid(token));
        entry.put("alive", ProcessIdentity.isAlive(token));
        entry.put("attached", HeapMappings.hasOpen(block, token));
        return entry;
    }

    private static Map<String, Object> counters(SharedHeap heap, HeapBlock block) {
        SharedCounters counters = SharedCounters.open(heap, block.name()); // validates the header; reads only
        List<Object> entries = new ArrayList<>();
        for (SharedCounters.Entry entry : counters.snapshot()) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("id", entry.id());
            map.put("registrationId", entry.registrationId());
            map.put("label", entry.label());
            map.put("value", entry.value());
            entries.add(map);
        }
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("capacity", counters.capacity());
        state.put("allocated", entries.size());
        state.put("counters", entries);
        return state;
    }
}
