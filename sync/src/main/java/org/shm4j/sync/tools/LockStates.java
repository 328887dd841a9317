package org.shm4j.sync.tools;

import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.internal.FairWord;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.locks.LockOwner;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntUnaryOperator;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.FAIR_FLAGS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_RECOVERIES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WORD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.LOCK_ENTERING;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;
import static org.shm4j.sync.internal.SyncLayout.LOCK_PID_MASK;
import static org.shm4j.sync.internal.SyncLayout.LOCK_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WORD;
import static org.shm4j.sync.internal.SyncLayout.REENTRANT_HOLDS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_WRITER_FLAG;
import static org.shm4j.sync.internal.SyncLayout.RW_WRITER_OFFSET;

/**
 * The live state of the locks in a block, read with loads only: who holds it (pid, thread, since when, alive, and
 * attached: whether its process still has the heap open), whether a waiter is blocked, whether the data is consistent
 * and how often the lock was taken over from a dead owner. A holder that lives but is not attached closed its last view
 * of the heap: the library takes its holds over as a dead process's (see {@link HeapMappings#isPresent}). Every read
 * is volatile or opaque (diagnostics: a recent value will do); nothing here writes or waits.
 */
final class LockStates {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private LockStates() {
    }

    /** @return the state of the robust mutex at {@code base} (a {@code SharedLock}, a writer, a ring's consumers) */
    static Map<String, Object> mutex(MemorySegment block, long base, String what) {
        return mutex(block, base, what, false);
    }

    /** @return the state of a {@code SharedReentrantLock}: its mutex's, and how many times its owner holds it */
    static Map<String, Object> reentrant(MemorySegment block, String what) {
        Map<String, Object> state = mutex(block, 0, what);
        int holds = (int) INT.getOpaque(block, REENTRANT_HOLDS_OFFSET); // opaque: a snapshot, as the rest
        state.put("holds", (Boolean) state.get("held") ? holds : 0);
        return state;
    }

    /** @param entering true for a read-write lock's writer mutex, whose word may have the entering bit */
    private static Map<String, Object> mutex(MemorySegment block, long base, String what, boolean entering) {
        RobustMutex.check(block, base, what, entering);
        RobustMutex mutex = new RobustMutex(block, base, what); // only its read accessors are called
        long word = (long) LONG.getVolatile(block, base + MUTEX_WORD);
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("held", word != 0);
        long token = RobustMutex.ownerToken(word);
        state.put("owner", word == 0 ? null : owner(mutex.owner().orElse(null), ProcessIdentity.isAlive(token),
                HeapMappings.hasOpen(block, token)));
        state.put("waiters", (word & LOCK_WAITERS) != 0);
        state.put("sleepers", mutex.sleepers());
        state.put("consistent", mutex.isConsistent());
        state.put("takeOvers", mutex.recoveries());
        return state;
    }

    /**
     * @return the state of a {@code SharedReadWriteLock}: its writer mutex, whether the writer still waits for readers
     *         to leave (or a reader clears its stale writer flag), the processes holding read locks, the processes
     *         whose writers wait for the writer's mutex (how many threads each; new readers wait while any does, and
     *         for a dead one until a reader's liveness check clears it), and the pids whose writer flag is set:
     *         every announced reader's while a writer holds; with none holding, flags a writer left (it died, or was
     *         unlocked through another lock object), which send that process's next read lock to its slow path once
     */
    static Map<String, Object> readWrite(MemorySegment block, String what) {
        Map<String, Object> state = new LinkedHashMap<>();
        long word = (long) LONG.getVolatile(block, RW_WRITER_OFFSET + MUTEX_WORD);
        state.put("writer", mutex(block, RW_WRITER_OFFSET, what + " writer", true));
        state.put("writerWaitsForReaders", (word & LOCK_ENTERING) != 0);
        state.put("readers", holders(block, RW_SLOTS_OFFSET, SyncLayout::rwReadHolds, what));
        state.put("waitingWriters", slotCounts(block, RW_SLOTS_OFFSET, ProcessSlots.SECOND, IntUnaryOperator.identity(),
                "writers", what));
        state.put("writerFlags", writerFlags(block));
        return state;
    }

    /** @return the pids of the process slots whose read-hold word has the writer flag */
    private static List<Object> writerFlags(MemorySegment block) {
        ProcessSlots slots = new ProcessSlots(block, RW_SLOTS_OFFSET, "inspected block"); // only read
        List<Object> pids = new ArrayList<>();
        for (int i = 0; i < ProcessSlots.SLOTS; i++) {
            if ((slots.get(i, ProcessSlots.FIRST) & RW_WRITER_FLAG) != 0) {
                pids.add(slots.pid(i));
            }
        }
        return pids;
    }

    /**
     * @param holdsOf the holds a slot's first counter counts (a read-write lock's word also has its writer flag)
     * @param what    the structure, for the message of a damaged slot
     * @return the processes whose slot in the process slots at {@code base} holds something (read holds, permits), or
     *         counts a negative number of holds (see {@link #slotCounts})
     * @throws org.shm4j.core.ShmFormatException if a slot's token is damaged (see {@link #slotCounts})
     */
    static List<Object> holders(MemorySegment block, long base, IntUnaryOperator holdsOf, String what) {
        return slotCounts(block, base, ProcessSlots.FIRST, holdsOf, "holds", what);
    }

    /**
     * @param counter   the slot counter read ({@link ProcessSlots#FIRST} or {@link ProcessSlots#SECOND})
     * @param countOf   what the counter's word counts
     * @param countName the name of that count in each process's entry
     * @param what      the structure, for the message of a damaged slot
     * @return the processes whose slot in the process slots at {@code base} counts other than 0 there: a negative
     *         count (damage, which the structure's open refuses, or an instant of a refused unlock) is shown as it is
     * @throws org.shm4j.core.ShmFormatException if a slot's token is damaged, as the structure's open finds it: no
     *         process writes such a token, so the block is reported unreadable rather than a garbage pid listed
     */
    private static List<Object> slotCounts(MemorySegment block, long base, long counter, IntUnaryOperator countOf,
                                           String countName, String what) {
        ProcessSlots slots = new ProcessSlots(block, base, what); // only read: checkToken and get
        List<Object> holders = new ArrayList<>();
        for (int i = 0; i < ProcessSlots.SLOTS; i++) {
            int holds = countOf.applyAsInt(slots.get(i, counter));
            // after the count, as a claim writes the token before counting; read once: pid and liveness of one owner
            long token = slots.checkToken(i);
            if (holds != 0) {
                Map<String, Object> holder = new LinkedHashMap<>();
                holder.put("pid", ProcessIdentity.pid(token));
                holder.put(countName, holds);
                holder.put("alive", ProcessIdentity.isAlive(token)); // its start stamp too: a reused pid is not it
                holder.put("attached", HeapMappings.hasOpen(block, token));
                holders.add(holder);
            }
        }
        return holders;
    }

    /** @return the state of a {@code SharedFairLock}: holder, queue length, consistency, take-overs */
    static Map<String, Object> fair(MemorySegment block) {
        long word = (long) LONG.getVolatile(block, FAIR_WORD_OFFSET);
        boolean held = FairWord.taken(word);
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("held", held);
        Object owner = null;
        if (held) {
            long token = FairWord.holderToken(block, 0, word); // 0 if its process died and its slot was reclaimed
            owner = owner(FairWord.holder(block, token), token != 0 && ProcessIdentity.isAlive(token),
                    token != 0 && HeapMappings.hasOpen(block, token));
        }
        state.put("owner", owner);
        state.put("queued", Math.max(0, FairWord.out(word) - (held ? 1 : 0)));
        state.put("waiters", (int) INT.getVolatile(block, FAIR_WAITERS_OFFSET) != 0); // the flag, as a lock's bit
        state.put("consistent", ((int) INT.getVolatile(block, FAIR_FLAGS_OFFSET) & LOCK_OWNER_DIED) == 0);
        state.put("takeOvers", (long) LONG.getVolatile(block, FAIR_RECOVERIES_OFFSET));
        return state;
    }

    /**
     * @param alive    whether the owner's process lives
     * @param attached whether it still has the heap open (its slot in the attach table)
     */
    private static Map<String, Object> owner(LockOwner owner, boolean alive, boolean attached) {
        if (owner == null) {
            return null; // released between the two reads
        }
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("pid", owner.pid());
        map.put("thread", owner.threadId());
        map.put("alive", alive);
        map.put("attached", attached);
        map.put("heldSince", owner.heldSince().map(Instant::toString).orElse(null));
        return map;
    }
}
