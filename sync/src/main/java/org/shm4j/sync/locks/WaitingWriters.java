package org.shm4j.sync.locks;

import org.shm4j.core.internal.HeapMappings;
import org.shm4j.sync.internal.ProcessSlots;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.shm4j.sync.internal.SyncLayout.RW_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RW_WAITING_WRITERS_OFFSET;

/**
 * The waiting writers of a {@link SharedReadWriteLock}: each process slot's count of its writers waiting for the
 * writer's mutex and the waitingWriters bit kept in step with it (see the lock's layout and Protocol), this process's
 * own count of them per lock, which sets the slot's count right after a view's close cut a change of it short, and
 * the dropping of a dead process's bit.
 */
final class WaitingWriters {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    /** Serializes, in this process, the changes of a slot's waiting-writer count with its waitingWriters bit. */
    private static final Object WAITING_WRITERS = new Object();
    /**
     * This process's waiting writers, per lock (known as {@link ReadHolds} knows it) with one or more: what the
     * slot's count is set to when a close cut a change of it short. Guarded by {@link #WAITING_WRITERS}.
     */
    private static final Map<LockKey, Integer> WAITING_HERE = new HashMap<>();

    private final MemorySegment segment;
    private final ProcessSlots slots;
    /** The lock, as {@link ReadHolds} knows it in this process. */
    private final LockKey key;

    /**
     * @param segment the lock's memory
     * @param slots   the lock's process slots
     */
    WaitingWriters(MemorySegment segment, ProcessSlots slots) {
        this.segment = segment;
        this.slots = slots;
        this.key = LockKey.of(segment);
    }

    /** @return the lock, as {@link ReadHolds} knows it in this process */
    LockKey key() {
        return key;
    }

    /**
     * Counts a waiting writer of this process ({@code delta} 1) or uncounts it (-1), keeping its bit in step, in the
     * slot and in {@link #WAITING_HERE}. If another thread closed this view meanwhile, the write lock call throws, so
     * it is not waiting: through another open view of the heap, if this process has one, the slot's count is set to
     * the process's waiting writers as counted here, without the thread, and the bit to match. Set, not added: the
     * JDK may report a close after the access it cut short took effect, so whether the slot's add happened is not
     * known (an add taken for not done left the count 1 too high, holding back every reader that waits while this
     * process lives; a subtract taken for not done was done twice, dropping another waiting writer's count and bit).
     */
    void countWaitingWriter(int me, int delta) {
        synchronized (WAITING_WRITERS) {
            int here = countHere(delta);
            try {
                int count = slots.add(me, ProcessSlots.SECOND, delta);
                if (count == 1 && delta > 0) {
                    INT.getAndBitwiseOr(segment, RW_WAITING_WRITERS_OFFSET, 1 << me);
                } else if (count == 0) {
                    INT.getAndBitwiseAnd(segment, RW_WAITING_WRITERS_OFFSET, ~(1 << me));
                }
            } catch (IllegalStateException closed) {
                storeThroughAnotherView(me, delta > 0 ? countHere(-1) : here);
                throw closed;
            }
        }
    }

    /**
     * Adds {@code delta} to this process's count of its waiting writers of this lock; the caller holds
     * {@link #WAITING_WRITERS}.
     *
     * @return the count after it
     */
    private int countHere(int delta) {
        // null removes the key at 0: a lock keeps no entry while none of its writers waits here
        Integer count = WAITING_HERE.merge(key, delta, (was, d) -> was + d != 0 ? was + d : null);
        return count == null ? 0 : count;
    }

    /**
     * Sets this process's waiting-writer count in its slot to {@code count}, and its waitingWriters bit set exactly
     * while it is not 0, through another open view of the heap (none: nothing is done); the caller holds
     * {@link #WAITING_WRITERS}, so no other thread of this process changes them meanwhile, and no other process
     * changes the slot of a live one. Only for a lock known by its heap's attach period: one known by its memory's
     * scope counts here only the writers of views of that scope, and the other view's may not be among them.
     */
    private void storeThroughAnotherView(int me, int count) {
        if (!(key.owner() instanceof HeapMappings.AttachPeriod)) {
            return;
        }
        HeapMappings.throughAnotherOpenView(segment, view -> {
            // volatile: the count before the bit, as a waiting writer's own add and its bit
            INT.setVolatile(view, RW_SLOTS_OFFSET + me * ProcessSlots.SLOT_SIZE + ProcessSlots.SECOND, count);
            if (count == 0) {
                INT.getAndBitwiseAnd(view, RW_WAITING_WRITERS_OFFSET, ~(1 << me));
            } else {
                INT.getAndBitwiseOr(view, RW_WAITING_WRITERS_OFFSET, 1 << me);
            }
            return true;
        });
    }

    /** Frees the slots of dead processes and clears the waitingWriters bits no live process's count backs. */
    void dropDeadWaitingWriters() {
        slots.reclaimDead();
        int waiting = (int) INT.getVolatile(segment, RW_WAITING_WRITERS_OFFSET);
        for (int left = waiting; left != 0; left &= left - 1) {
            int i = Integer.numberOfTrailingZeros(left);
            if (slots.get(i, ProcessSlots.SECOND) == 0) { // a dead waiter's slot may already be another process's
                INT.getAndBitwiseAnd(segment, RW_WAITING_WRITERS_OFFSET, ~(1 << i));
                if (slots.get(i, ProcessSlots.SECOND) > 0) { // a new process took the slot and waits: set it again
                    INT.getAndBitwiseOr(segment, RW_WAITING_WRITERS_OFFSET, 1 << i);
                }
            }
        }
    }


    /**
     * A lock as {@link ReadHolds} knows it in this process: its heap's attach period (or scope) and offset.
     *
     * @param owner  what names the lock in a thread's {@link ReadHolds}: see {@link ReadHolds.Counter#owner}
     * @param offset the lock's offset in its heap (or its address)
     */
    record LockKey(Object owner, long offset) {
        /** @return the key of the lock in {@code segment} */
        static LockKey of(MemorySegment segment) {
            HeapMappings.Place place = HeapMappings.placeOf(segment);
            if (place != null) { // the same in every mapping of the heap, while this process keeps one open
                return new LockKey(place.period(), segment.address() - place.base());
            }
            return new LockKey(segment.scope(), segment.address());
        }

        /** Written out, not generated: see {@link org.shm4j.core.BlockType#equals}. */
        @Override
        public boolean equals(Object o) {
            return o instanceof LockKey other && owner.equals(other.owner) && offset == other.offset;
        }

        /** Written out for the reason {@link #equals} is. */
        @Override
        public int hashCode() {
            return 31 * owner.hashCode() + Long.hashCode(offset);
        }
    }
}
