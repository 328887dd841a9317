package org.shm4j.sync.internal;

import org.shm4j.core.BlockType;

import java.nio.ByteOrder;

/**
 * The heap block types of {@code org.shm4j.sync} and the byte layouts of its structures, in one place. Each
 * structure's class Javadoc has the layout table; the constants here are the single source for the code.
 */
public final class SyncLayout {
    /** Every value and lock block is one cache line. */
    public static final long CACHE_LINE = 64;

    public static final BlockType INT = BlockType.named("SharedInt", 0x5348_0001, 1);
    public static final BlockType LONG = BlockType.named("SharedLong", 0x5348_0002, 1);
    public static final BlockType DOUBLE = BlockType.named("SharedDouble", 0x5348_0003, 1);
    public static final BlockType BOOLEAN = BlockType.named("SharedBoolean", 0x5348_0004, 1);
    public static final BlockType INT_ARRAY = BlockType.named("SharedIntArray", 0x5348_0011, 1);
    public static final BlockType LONG_ARRAY = BlockType.named("SharedLongArray", 0x5348_0012, 1);
    public static final BlockType DOUBLE_ARRAY = BlockType.named("SharedDoubleArray", 0x5348_0013, 1);
    public static final BlockType BYTE_ARRAY = BlockType.named("SharedByteArray", 0x5348_0014, 1);
    public static final BlockType LOCK = BlockType.named("SharedLock", 0x5348_0021, 3);
    public static final BlockType READ_WRITE_LOCK = BlockType.named("SharedReadWriteLock", 0x5348_0023, 8);
    public static final BlockType FAIR_LOCK = BlockType.named("SharedFairLock", 0x5348_0022, 4);
    public static final BlockType REENTRANT_LOCK = BlockType.named("SharedReentrantLock", 0x5348_0024, 1);
    public static final BlockType RING = BlockType.named("SharedRing", 0x5348_0031, 11);

    /** Ring: the smallest data capacity in bytes. */
    public static final int RING_MIN_CAPACITY = 1024;
    /** Ring: the largest data capacity in bytes. */
    public static final int RING_MAX_CAPACITY = 1 << 30;
    /** Ring: data capacity in bytes (int), a power of two. */
    public static final long RING_CAPACITY_OFFSET = 0;
    /** Ring: longest message payload (int), capacity / 8 - record header. */
    public static final long RING_MAX_MESSAGE_OFFSET = 4;
    /** Ring: kind (int): 1 = one producer, 2 = many producers, 3 = many producers and many consumers. */
    public static final long RING_KIND_OFFSET = 8;
    /** Ring: layout version (int), {@link #RING}'s. */
    public static final long RING_VERSION_OFFSET = 12;
    /** Ring: magic (long), {@link #RING_MAGIC}. */
    public static final long RING_MAGIC_OFFSET = 16;
    /** Ring: the magic, the ASCII bytes {@code "SHM4JRNG"} read as a little-endian long. */
    public static final long RING_MAGIC = 0x474E_524A_344D_4853L;
    /** Ring: the stall timeout in nanoseconds (long), read by every consumer; set at creation, changeable. */
    public static final long RING_STALL_TIMEOUT_OFFSET = RING_MAGIC_OFFSET + Long.BYTES;
    /** Ring: records skipped as abandoned by their producers (long), by the stall rule or {@code unblock()}. */
    public static final long RING_SKIPPED_OFFSET = RING_STALL_TIMEOUT_OFFSET + Long.BYTES;
    /** Ring: times a consumer freed records a dead consumer had handed over but not freed (long). */
    public static final long RING_RECOVERIES_OFFSET = RING_SKIPPED_OFFSET + Long.BYTES;
    /**
     * Ring: the message type its creator declared (long): 0 if none, else {@link #RING_TYPE_DECLARED} or'ed with the
     * type as an unsigned int; set at creation, never changed.
     */
    public static final long RING_MESSAGE_TYPE_OFFSET = RING_RECOVERIES_OFFSET + Long.BYTES;
    /** Ring: the bit of the message-type field that says a type is declared (its low 32 bits are the type). */
    public static final long RING_TYPE_DECLARED = 1L << 32;
    /** Ring: tail, the producers' position in bytes since creation (long). */
    public static final long RING_TAIL_OFFSET = 128;
    /**
     * Ring (SPSC): the producer process (long), the {@code ProcessIdentity} token of the process that holds the single
     * producer's role, or 0; written only when a process claims or releases the role, so it may share tail's line.
     */
    public static final long RING_PRODUCER_PROCESS_OFFSET = RING_TAIL_OFFSET + Long.BYTES;
    /**
     * Ring (MPSC, MPMC): the orphan bound (long): a claim never marked that starts below it may be the claim of a
     * producer that died with no slot of the producer table naming it any more. Raised, by a CAS to the maximum, to
     * a tail read after such a death was seen, or to {@link Long#MAX_VALUE} by a producer that found no slot.
     */
    public static final long RING_ORPHAN_BOUND_OFFSET = 256;
    /** Ring: head, the consumer's position (long): bytes freed for the producers. */
    public static final long RING_HEAD_OFFSET = 384;
    /**
     * Ring: consumedTo, the consumer's commit point (long): bytes handed over to handlers; the records in
     * [head, consumedTo) are consumed but maybe not zeroed yet. On head's cache line: only the consumer touches both.
     */
    public static final long RING_CONSUMED_TO_OFFSET = RING_HEAD_OFFSET + Long.BYTES;
    /**
     * Ring (SPSC, MPSC): the consumer process (long), the {@code ProcessIdentity} token of the process that holds the
     * single consumer's role, or 0; written only when a process claims or releases the role.
     */
    public static final long RING_CONSUMER_PROCESS_OFFSET = RING_CONSUMED_TO_OFFSET + Long.BYTES;
    /**
     * Ring: the stall clock's key (long): the consumer position of the uncommitted record a consumer last noted
     * stuck, plus 1; 0 if none was. Written by the consumer (MPMC: in the consumers' turn) only on its stall checks.
     */
    public static final long RING_STALL_AT_OFFSET = RING_CONSUMER_PROCESS_OFFSET + Long.BYTES;
    /** Ring: the tail (long) seen when the record the stall clock's key names was first noted stuck. */
    public static final long RING_STALL_TAIL_OFFSET = RING_STALL_AT_OFFSET + Long.BYTES;
    /** Ring: the {@code System.nanoTime()} (long) at which the record the stall clock's key names was first noted. */
    public static final long RING_STALL_SINCE_OFFSET = RING_STALL_TAIL_OFFSET + Long.BYTES;
    /**
     * Ring: the {@code System.currentTimeMillis()} (long) at which the record the stall clock's key names was first
     * noted: a clock every time namespace shares, which the start's must agree with for the clock to be trusted.
     */
    public static final long RING_STALL_WALL_OFFSET = RING_STALL_SINCE_OFFSET + Long.BYTES;

    /**
     * @return the offset of a ring's consumer position, its commit point: head for an SPSC ring (whose consumer frees a
     *         record as it hands it over; consumedTo stays 0), else consumedTo
     */
    public static long ringConsumerPosition(boolean spsc) {
        return spsc ? RING_HEAD_OFFSET : RING_CONSUMED_TO_OFFSET;
    }
    /** Ring: sequence (int) bumped when a message is published to a blocked consumer; its futex word. */
    public static final long RING_NOT_EMPTY_SEQ_OFFSET = 512;
    /**
     * Ring: the consumers' waiters word (int): {@link #RING_WAITING} set by a consumer about to block (after it read
     * the not-empty sequence) and cleared by the producer that then bumps the sequence and wakes them all;
     * {@link #RING_BLOCKED_BEFORE} set with the first announcement and never cleared.
     */
    public static final long RING_NOT_EMPTY_WAITERS_OFFSET = 516;
    /** Ring: sequence (int) bumped when space is freed for a blocked producer; its futex word. */
    public static final long RING_NOT_FULL_SEQ_OFFSET = 640;
    /** Ring: the producers' waiters word (int), as the consumers' one, on the not-full sequence. */
    public static final long RING_NOT_FULL_WAITERS_OFFSET = 644;
    /** Ring waiters word: bit 0, a waiter of that side announced itself since the last signal took the bit. */
    public static final int RING_WAITING = 1;
    /**
     * Ring waiters word: bit 1, sticky: a waiter has blocked on that side of this ring at some time, so its signals
     * fence before they look at {@link #RING_WAITING}.
     */
    public static final int RING_BLOCKED_BEFORE = 2;
    /** Ring: the consumers' robust mutex (many-consumer rings only). */
    public static final long RING_CONSUMER_MUTEX_OFFSET = 768;
    /**
     * Ring (MPSC, MPMC): the producer table, {@link #RING_PRODUCER_SLOTS} ints on cache lines of their own: each 0
     * (free) or the producer id of a process that opened the ring, as claim marks carry it.
     */
    public static final long RING_PRODUCERS_OFFSET = 896;
    /** Ring: slots of the producer table. */
    public static final int RING_PRODUCER_SLOTS = 32;
    /** Ring producer id (claim marks, producer table): the pid in its low 22 bits, start-stamp bits above. */
    public static final int RING_PRODUCER_PID_BITS = 22;
    /** Ring producer id: the mask of its pid bits. */
    public static final int RING_PRODUCER_PID_MASK = (1 << RING_PRODUCER_PID_BITS) - 1;

    /** @return the offset of the producer table's slot {@code slot} (an int) in a ring's header */
    public static long ringProducerSlot(int slot) {
        return RING_PRODUCERS_OFFSET + (long) slot * Integer.BYTES;
    }
    /** Ring: header size; the data starts here. */
    public static final long RING_HEADER_SIZE = 1024;
    /** Ring record: header size (length int, type int); records are aligned to it. */
    public static final int RING_RECORD_HEADER = 8;
    /** Ring record: type of a padding record (wrap-around filler or aborted claim). */
    public static final int RING_PADDING_TYPE = -1;

    /**
     * Fair lock: the ticket word (long): the ticket being served in bits 0..19, {@link #FAIR_TAKEN} (bit 20), the
     * next ticket to hand out in bits 32..51, and while taken the holder's owner bits (its process slot and a hash of
     * its token, see {@link #FAIR_OWNER_LOW_SHIFT}) in bits 21..31 and 52..63.
     */
    public static final long FAIR_WORD_OFFSET = 0;
    /** Fair lock: the low 32 bits of the ticket word (serving, taken, low owner bits), native order; the futex word. */
    public static final long FAIR_SERVING_OFFSET = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 0 : 4;
    /** Fair lock: the high 32 bits of the ticket word (next ticket, high owner bits) in native order. */
    public static final long FAIR_NEXT_TICKET_OFFSET = 4 - FAIR_SERVING_OFFSET;
    /**
     * Fair lock: the waiters flag (int, 0 or 1): set by a waiter about to block in futex on the serving word (after
     * it read the word), cleared by whoever then passes the turn on and wakes them all.
     */
    public static final long FAIR_WAITERS_OFFSET = FAIR_WORD_OFFSET + Long.BYTES;
    /** Fair lock: flags (int), {@link #LOCK_OWNER_DIED}. */
    public static final long FAIR_FLAGS_OFFSET = FAIR_WAITERS_OFFSET + Integer.BYTES;
    /** Fair lock: take-overs from dead owners (long). */
    public static final long FAIR_RECOVERIES_OFFSET = FAIR_FLAGS_OFFSET + Integer.BYTES;
    /** Fair lock: epoch ms by which the owner held it, set by the first waiter; 0 if none (long). */
    public static final long FAIR_HELD_SINCE_OFFSET = FAIR_RECOVERIES_OFFSET + Long.BYTES;
    /** Fair lock: the owner's {@linkplain #OWNER_THREAD_PID_SHIFT thread key}, 0 when free (long). */
    public static final long FAIR_OWNER_THREAD_OFFSET = FAIR_HELD_SINCE_OFFSET + Long.BYTES;
    /** Fair lock: the process slots (owner tokens of the processes that use the lock; counters unused). */
    public static final long FAIR_PROCESSES_OFFSET = CACHE_LINE;
    /** Fair lock: the ticket slots. */
    public static final long FAIR_SLOTS_OFFSET = FAIR_PROCESSES_OFFSET + ProcessSlots.SIZE;
    /** Fair lock: number of ticket slots, so at most this many threads wait or hold at once. */
    public static final int FAIR_QUEUE = 64;
    /** Fair lock: bytes per ticket slot: owner token (long) at 0, ticket (int) at 8. */
    public static final long FAIR_SLOT_SIZE = 16;
    /** Fair lock: block size. */
    public static final long FAIR_SIZE = FAIR_SLOTS_OFFSET + FAIR_QUEUE * FAIR_SLOT_SIZE;
    /** Fair lock: the serving ticket has been taken by its holder (bit 20 of the ticket word). */
    public static final int FAIR_TAKEN = 1 << 20;
    /** Fair lock: ticket numbers are 20-bit counters. */
    public static final int FAIR_TICKET_MASK = FAIR_TAKEN - 1;
    /** Fair lock: the low 11 owner bits sit at bits 21..31 of the ticket word. */
    public static final int FAIR_OWNER_LOW_SHIFT = 21;
    /** Fair lock: the high 12 owner bits sit at bits 52..63 of the ticket word. */
    public static final int FAIR_OWNER_HIGH_SHIFT = 52;
    /** Fair lock: slot token of a ticket whose waiter gave up; no real token has this value. */
    public static final long FAIR_ABANDONED = 1;

    /** Read-write lock: the writer's robust mutex. */
    public static final long RW_WRITER_OFFSET = 0;
    /**
     * Read-write lock: waiting writers (int), bit i set while the process in process slot i has threads waiting for
     * the writer's mutex; readers that see a bit wait.
     */
    public static final long RW_WAITING_WRITERS_OFFSET = RW_WRITER_OFFSET + SyncLayout.MUTEX_SIZE;
    /**
     * Read-write lock: reader slots (int), bit i set once the process in process slot i has taken a read lock; never
     * cleared. A writer checks the read holds of these slots only.
     */
    public static final long RW_READER_SLOTS_OFFSET = RW_WAITING_WRITERS_OFFSET + Integer.BYTES;
    /** Read-write lock: count of reader releases seen by a writer (int), the futex word writers drain readers on. */
    public static final long RW_READER_RELEASES_OFFSET = 64;
    /** Read-write lock: the process slots (read-hold word, waiting writers). */
    public static final long RW_SLOTS_OFFSET = 128;
    /**
     * Read-write lock: what one read hold adds to its slot's read-hold word (the holds are the word shifted right by
     * one), so that adding and removing holds never touches {@link #RW_WRITER_FLAG}.
     */
    public static final int RW_READ_HOLD = 2;
    /**
     * Read-write lock: bit 0 of a slot's read-hold word, set by the writer that holds the mutex in every announced
     * slot from its CAS until its release: the reader's atomic add returns it, so a reader learns of a writer without
     * reading the writer's word.
     */
    public static final int RW_WRITER_FLAG = 1;
    /**
     * Read-write lock: the most read holds one process's slot counts; a read lock that would pass it is refused (a
     * thread's reentry, or a first hold that waited), so the read-hold word, an int, never reaches its sign bit (the
     * unchecked first holds of the fast path would need about as many more threads).
     */
    public static final int RW_MAX_READ_HOLDS = 1 << 29;

    /**
     * @return the read holds a read-write lock slot's read-hold word counts (negative for an instant in a refused
     *         unlock, which a writer counts as holding)
     */
    public static int rwReadHolds(int word) {
        return word >> 1; // arithmetic: -1 stays -1
    }
    /** Read-write lock: block size. */
    public static final long RW_SIZE = RW_SLOTS_OFFSET + ProcessSlots.SIZE;

    /** Array block: {@code length} (long) at 0, elements from {@link #ARRAY_ELEMENTS_OFFSET}. */
    public static final long ARRAY_LENGTH_OFFSET = 0;
    /** Array block: element size in bytes (int) at 8, so a reader can check it. */
    public static final long ARRAY_ELEMENT_SIZE_OFFSET = 8;
    /** Array block: the first element, one cache line in. */
    public static final long ARRAY_ELEMENTS_OFFSET = 64;

    /**
     * Robust mutex, relative to its base: the lock word (long), 0 when free, else the owner's {@link #LOCK_PID_MASK
     * pid} and maybe {@link #LOCK_WAITERS} (and, in a read-write lock's writer mutex, {@link #LOCK_ENTERING}) in its
     * low 32 bits and the start bits of the owner process's token in its high 32 bits (see {@code ProcessIdentity}:
     * the low 32 bits of its start stamp, clock ticks since boot on Linux; all ones if unknown; never 0).
     */
    public static final long MUTEX_WORD = 0;
    /**
     * Robust mutex: the owner's {@linkplain #OWNER_THREAD_PID_SHIFT thread key} (long), 0 when free or not yet
     * recorded.
     */
    public static final long MUTEX_OWNER_THREAD = MUTEX_WORD + Long.BYTES;
    /** Robust mutex: flags (int); {@link #LOCK_OWNER_DIED} set while the data is marked inconsistent. */
    public static final long MUTEX_FLAGS = MUTEX_OWNER_THREAD + Long.BYTES;
    /**
     * Robust mutex: the wake word (int), the futex word its blocked waiters sleep on: bits 0..14 count the waiters
     * in (or about to enter) futex wait ({@link #MUTEX_SLEEPERS_MASK}), bits 15..30 are a wake sequence to which a
     * releaser that saw {@link #LOCK_WAITERS} adds 1 after it frees the lock word, bit 31 is clear.
     */
    public static final long MUTEX_WAKES = MUTEX_FLAGS + Integer.BYTES;
    /** Robust mutex: the sleepers count in {@link #MUTEX_WAKES}; a waiter that finds it full parks uncounted. */
    public static final int MUTEX_SLEEPERS_MASK = 0x7FFF;
    /** Robust mutex: 1 in the wake sequence of {@link #MUTEX_WAKES}. */
    public static final int MUTEX_WAKE_SEQ_ONE = MUTEX_SLEEPERS_MASK + 1;
    /** Robust mutex: the bits of {@link #MUTEX_WAKES} in use (bit 31 is clear). */
    public static final int MUTEX_WAKES_MASK = 0x7FFF_FFFF;
    /** Robust mutex: epoch ms by which the current owner held it (long), set by the first blocked waiter; 0 if none. */
    public static final long MUTEX_HELD_SINCE = MUTEX_FLAGS + Long.BYTES;
    /** Robust mutex: number of take-overs from a dead owner (long). */
    public static final long MUTEX_RECOVERIES = MUTEX_HELD_SINCE + Long.BYTES;
    /** Robust mutex: its size. */
    public static final long MUTEX_SIZE = MUTEX_RECOVERIES + Long.BYTES;
    /**
     * Reentrant lock: how many times its owner holds it (int), after its robust mutex; 0 when free. Written by the
     * owner thread only: set to 1 by each new owner (a take-over's included), or to the holds a condition's wait
     * released when the waiter takes the lock back.
     */
    public static final long REENTRANT_HOLDS_OFFSET = MUTEX_SIZE;

    /**
     * Owner thread fields (of the robust mutex and the fair lock) hold a thread key: the owner's Java thread id XOR its
     * process's pid shifted left by this many bits. Thread ids repeat across JVMs, pids (below 2^30) do not among live
     * processes, so two threads of different processes have different keys while their ids stay below 2^33; and
     * within a process the key is as unique as the id. Never negative.
     */
    public static final int OWNER_THREAD_PID_SHIFT = 33;
    /** Lock word: pid bits. */
    public static final int LOCK_PID_MASK = 0x3FFF_FFFF;
    /** Lock word: set when a thread may be blocked in futex wait and the releaser must wake one. */
    public static final int LOCK_WAITERS = 0x4000_0000;
    /**
     * Lock word of a read-write lock's writer mutex: set while its holder has not entered what the lock guards (a
     * writer waiting for readers to leave, a reader clearing its stale writer flag), so that a take-over from it when
     * it dies finds nothing to repair. Set by the CAS that takes the word or by an atomic or, cleared by an atomic and
     * or by the release; bit 31 of every other mutex's word is clear.
     */
    public static final long LOCK_ENTERING = 0x8000_0000L;
    /** Lock flags: the previous owner died holding the lock. */
    public static final int LOCK_OWNER_DIED = 1;

    // Pipe: the end-state block of a SharedPipe (its two rings are RING blocks); table in SharedPipe's Javadoc.

    /** Pipe: heap block type of the end-state block, named as the pipe itself. */
    public static final BlockType PIPE = BlockType.named("SharedPipe", 0x5348_0041, 1);
    /** Pipe: magic (long), {@link #PIPE_MAGIC}. */
    public static final long PIPE_MAGIC_OFFSET = 0;
    /** Pipe: the magic, the ASCII bytes {@code "SHM4JPIP"} read as a little-endian long. */
    public static final long PIPE_MAGIC = 0x5049_504A_344D_4853L;
    /** Pipe: layout version (int), {@link #PIPE}'s. */
    public static final long PIPE_VERSION_OFFSET = PIPE_MAGIC_OFFSET + Long.BYTES;
    /** Pipe: the first end's state, one cache line in; the second end's follows one line later. */
    public static final long PIPE_FIRST_END_OFFSET = CACHE_LINE;
    /** Pipe: bytes from one end's state to the next. */
    public static final long PIPE_END_STRIDE = CACHE_LINE;
    /** Pipe end: owner token of the holding process (long), 0 while no process has claimed the end. */
    public static final long PIPE_END_OWNER = 0;
    /** Pipe end: state (int), {@link #PIPE_END_OPEN} or {@link #PIPE_END_CLOSED}. */
    public static final long PIPE_END_STATE = PIPE_END_OWNER + Long.BYTES;
    /** Pipe end state: open (claimed or not). */
    public static final int PIPE_END_OPEN = 0;
    /** Pipe end state: closed by its holder; final. */
    public static final int PIPE_END_CLOSED = 1;
    /** Pipe: block size, the header line and one line per end. */
    public static final long PIPE_SIZE = PIPE_FIRST_END_OFFSET + 2 * PIPE_END_STRIDE;

    // ---- Coordination types (SharedSemaphore, SharedCountDownLatch, SharedEvent, SharedBarrier, SharedCondition) ----

    /** Heap block type of a {@code SharedSemaphore}. */
    public static final BlockType SEMAPHORE = BlockType.named("SharedSemaphore", 0x5348_0061, 3);
    /** Heap block type of a {@code SharedCountDownLatch}. */
    public static final BlockType LATCH = BlockType.named("SharedCountDownLatch", 0x5348_0062, 1);
    /** Heap block type of a {@code SharedEvent}. */
    public static final BlockType EVENT = BlockType.named("SharedEvent", 0x5348_0063, 1);
    /** Heap block type of a {@code SharedBarrier}. */
    public static final BlockType BARRIER = BlockType.named("SharedBarrier", 0x5348_0064, 4);
    /** Heap block type of a {@code SharedCondition}. */
    public static final BlockType CONDITION = BlockType.named("SharedCondition", 0x5348_0065, 5);
    /** Heap block type of a {@code SharedJoinableQueue}'s task count, under the queue's own name. */
    public static final BlockType TASKS = BlockType.named("SharedJoinableQueue tasks", 0x5348_0066, 2);

    /** Coordination header: magic (long), {@link #COORD_MAGIC}. */
    public static final long COORD_MAGIC_OFFSET = 0;
    /** Coordination header: the block type's tag (int), so that a block of one type is never read as another. */
    public static final long COORD_TAG_OFFSET = COORD_MAGIC_OFFSET + Long.BYTES;
    /** Coordination header: the block type's layout version (int). */
    public static final long COORD_VERSION_OFFSET = COORD_TAG_OFFSET + Integer.BYTES;
    /** Coordination header: the first parameter (int), fixed at creation. */
    public static final long COORD_PARAM1_OFFSET = COORD_VERSION_OFFSET + Integer.BYTES;
    /** Coordination header: the second parameter (int), fixed at creation. */
    public static final long COORD_PARAM2_OFFSET = COORD_PARAM1_OFFSET + Integer.BYTES;
    /** Coordination header: the ASCII bytes {@code "SHM4JCRD"} read as a little-endian long. */
    public static final long COORD_MAGIC = 0x4452_434A_344D_4853L;
    /** Coordination: the futex word, one cache line after the header (which is read only when opened). */
    public static final long COORD_WORD_OFFSET = CACHE_LINE;
    /** Coordination: bit 31 of a futex word, set by a waiter before it blocks; whoever clears it wakes all. */
    public static final int COORD_WAITERS = 0x8000_0000;
    /** Coordination: the value bits (0..30) of a futex word. */
    public static final int COORD_VALUE_MASK = 0x7FFF_FFFF;

    /** Semaphore: the header's first parameter of an undo semaphore (its kind's ordinal + 1). */
    public static final int SEM_KIND_UNDO = 3;
    /** Semaphore: the robust mutex that serialises acquire and release of an undo semaphore. */
    public static final long SEM_MUTEX_OFFSET = COORD_WORD_OFFSET + CACHE_LINE;
    /** Semaphore: the process slots of an undo semaphore; the first counter is the permits a process holds. */
    public static final long SEM_SLOTS_OFFSET = SEM_MUTEX_OFFSET + CACHE_LINE;
    /** Semaphore: block size. */
    public static final long SEM_SIZE = SEM_SLOTS_OFFSET + ProcessSlots.SIZE;

    /** Latch and event: block size (header line, word line). */
    public static final long LATCH_SIZE = COORD_WORD_OFFSET + CACHE_LINE;
    /** Joinable queue task count: block size (the header line and the futex word's line). */
    public static final long TASKS_SIZE = COORD_WORD_OFFSET + CACHE_LINE;
    /**
     * Joinable queue task count: the state (long, 8-aligned) at {@link #COORD_WORD_OFFSET}, changed as a whole by
     * compare-and-set: in its low half (the int at {@link #COORD_WORD_OFFSET} on little-endian, as a ring's record
     * header keeps its length) the futex word, in its high half the tag at {@link #TASKS_TAG_OFFSET}.
     */
    public static final long TASKS_STATE_OFFSET = COORD_WORD_OFFSET;
    /**
     * Joinable queue task count: the tag (int) of the record last counted, the low 32 bits of its ring position / 8
     * + 1 (0: none yet); the high half of the state.
     */
    public static final long TASKS_TAG_OFFSET = COORD_WORD_OFFSET + Integer.BYTES;
    /** Event: bit 0 of the word, the flag. */
    public static final int EVENT_SET = 1;
    /** Event: the generation, bits 1..30 of the word, bumped by every set that finds the flag clear. */
    public static final int EVENT_GENERATION_UNIT = 2;

    /**
     * Barrier: the state (long) at {@link #COORD_WORD_OFFSET}: its low 32 bits (the futex word, at
     * {@link #BARRIER_FUTEX}) hold the generation (bits 0..29), {@link #BARRIER_BROKEN} and {@link #COORD_WAITERS};
     * its high 32 bits the number of parties that arrived in this generation.
     */
    public static final long BARRIER_STATE_OFFSET = COORD_WORD_OFFSET;
    /** Barrier: the futex word, the low 32 bits of the state in native byte order. */
    public static final long BARRIER_FUTEX = BARRIER_STATE_OFFSET
            + (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 0 : 4);
    /**
     * Barrier: the broken generations (ints), entry {@code g % }{@link #BARRIER_BROKEN_GENERATIONS} holding 1 + the
     * last generation {@code g} that a reset left broken (written only while {@code g} is current, so never set
     * back), so that a late waiter of it still sees that it broke, and one of a generation that tripped sees an
     * older generation there.
     */
    public static final long BARRIER_BROKEN_GENERATIONS_OFFSET = BARRIER_STATE_OFFSET + Long.BYTES;
    /** Barrier: the entries of the broken generations. */
    public static final int BARRIER_BROKEN_GENERATIONS = 8;
    /** Barrier: bit 30 of the futex word, set while the current generation is broken. */
    public static final int BARRIER_BROKEN = 0x4000_0000;
    /** Barrier: the generation bits of the futex word. */
    public static final int BARRIER_GENERATION_MASK = 0x3FFF_FFFF;
    /** Barrier: the arrival slots, one per arrival index: owner token (long), generation (int), zero (int). */
    public static final long BARRIER_SLOTS_OFFSET = BARRIER_STATE_OFFSET + CACHE_LINE;
    /** Barrier: bytes per arrival slot. */
    public static final long BARRIER_SLOT_SIZE = 16;
    /** Barrier: the most parties one barrier can have. */
    public static final int BARRIER_MAX_PARTIES = 1024;
    /** Barrier: bytes per registration: the owner token of a registered party's process (long), 0 if free. */
    public static final long BARRIER_REGISTRATION_SIZE = Long.BYTES;

    /**
     * Condition: the signal word (long, 8-aligned) holding the epoch (the unsigned short at
     * {@link #COND_EPOCH_OFFSET}), the tokens ({@link #COND_TOKENS_OFFSET}), the served waiters
     * ({@link #COND_SERVED_OFFSET}) and the arrived waiters ({@link #COND_ARRIVED_OFFSET}), changed together by
     * compare-and-set.
     */
    public static final long COND_WORD_OFFSET = COORD_WORD_OFFSET;
    /** Condition: the int holding the epoch and the tokens, which every signal changes: the futex word. */
    public static final long COND_FUTEX_OFFSET = COND_WORD_OFFSET;
    /**
     * Condition: the epoch (unsigned short, wraps), bumped when a signal serves the arrived waiters (they become the
     * served ones, and the served ones before them are released) and by 2 on {@code signalAll} (all released).
     */
    public static final long COND_EPOCH_OFFSET = COND_WORD_OFFSET;
    /** Condition: the tokens (unsigned short): wake-ups handed to served waiters and not yet taken. */
    public static final long COND_TOKENS_OFFSET = COND_EPOCH_OFFSET + Short.BYTES;
    /**
     * Condition: the served waiters (unsigned short): counted waiters that arrived before the epoch's last bump, which
     * alone may take the tokens; a waiter killed while counted stays counted until its group is released.
     */
    public static final long COND_SERVED_OFFSET = COND_TOKENS_OFFSET + Short.BYTES;
    /** Condition: the arrived waiters (unsigned short): counted waiters that arrived since the epoch's last bump. */
    public static final long COND_ARRIVED_OFFSET = COND_SERVED_OFFSET + Short.BYTES;
    /**
     * Condition: the most waiters one condition counts at once (served and arrived); a waiter that finds this many
     * releases them all before it counts itself.
     */
    public static final int COND_MAX_WAITERS = 0xFFFF;
    /**
     * Condition: when the tokens last went from none to some, or one was taken with others left (long,
     * {@code System.nanoTime()}, whose clock is the machine's monotonic clock, the same in every process), for the
     * hand-over of tokens that stay untaken.
     */
    public static final long COND_TOKENS_SINCE_OFFSET = COND_WORD_OFFSET + Long.BYTES;
    /** Condition: how long tokens stay untaken before an arrived waiter hands them over to its own group. */
    public static final long COND_HAND_OVER_MILLIS = 1000;

    /**
     * @return where the condition's field of {@code bytes} bytes at {@code offset} (sequence, tokens, waiters) sits in
     *         the signal word read as a {@code long} in native byte order: the shift of its lowest bit
     */
    public static int condShift(long offset, int bytes) {
        long at = offset - COND_WORD_OFFSET;
        return (int) (Byte.SIZE * (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? at : Long.BYTES - at - bytes));
    }

    /** @return the unsigned field of {@code bytes} bytes at {@code offset} of a condition's signal word {@code word} */
    public static long condField(long word, long offset, int bytes) {
        return word >>> condShift(offset, bytes) & (-1L >>> (Long.SIZE - Byte.SIZE * bytes));
    }
    /** Condition: block size. */
    public static final long COND_SIZE = COORD_WORD_OFFSET + CACHE_LINE;

    /** @return the offset of a barrier's registration table (one entry per party), after its arrival slots */
    public static long barrierRegistrationsOffset(int parties) {
        return BARRIER_SLOTS_OFFSET + parties * BARRIER_SLOT_SIZE;
    }

    /** @return the size of a barrier block for {@code parties} */
    public static long barrierSize(int parties) {
        return barrierRegistrationsOffset(parties) + parties * BARRIER_REGISTRATION_SIZE;
    }

    private SyncLayout() {
    }
}
