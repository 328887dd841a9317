package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMED_TO_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PADDING_TYPE;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;

/**
 * A {@link SharedRing} consumer's drain: hands committed records over in order and frees them (SPSC: moves head;
 * MPSC and MPMC: moves consumedTo, zeroes, then moves head once per drain, finishing a dead consumer's freeing
 * first), and for MPMC takes the consumers' turn (spinning briefly, then in the mutex), after a look without it that
 * lets a poll of an empty ring return at once. Static methods taking the ring, whose final fields they read into
 * locals as the ring's own methods would: no object lies between the ring and its segment on the poll path.
 */
final class RingConsumer {
    /**
     * How long a poll or drain without a timeout waits for the MPMC consumers' turn while a live consumer holds it
     * (in a handler that runs long, or stopped): then it returns 0 rather than block for as long as that takes.
     */
    static final long UNTIMED_TURN_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final int TURN_SPINS = 128;
    private static final int TURN_TAKEN = 0;
    private static final int TURN_EMPTY = 1;
    private static final int TURN_BUSY = 2;

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private RingConsumer() {
    }

    /**
     * Does what {@link SharedRing#poll(MessageHandler, java.time.Duration, WaitStrategy)} documents, or with a null
     * {@code handler} what {@link SharedRing#awaitMessage} does (waits for a committed message, takes none).
     *
     * @return 1 if a message was handled (or, with no handler, is queued), 0 if none came within {@code timeoutNanos}
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    static int poll(SharedRing ring, MessageHandler handler, long timeoutNanos, WaitStrategy strategy)
            throws InterruptedException {
        Objects.requireNonNull(strategy, "strategy"); // before the first look, not only once a wait is needed
        long start = System.nanoTime();
        int step = 0;
        while (true) {
            // MPMC: the consumers' turn is waited for within the timeout too
            int handled = handler == null ? look(ring)
                    : ring.consumers == null ? drainAsConsumer(ring, handler, 1)
                    : drainInTurn(ring, handler, 1, Math.max(0, timeoutNanos - (System.nanoTime() - start)), true);
            if (handled > 0) {
                return handled;
            }
            long left = timeoutNanos - (System.nanoTime() - start);
            if (left <= 0) {
                return 0;
            }
            step = RingWaits.awaitNotEmpty(ring, strategy, step, left);
        }
    }

    /**
     * The look of a wait that takes no message ({@link SharedRing#awaitMessage}): frees the padding at the consumer's
     * position, as a poll would on its way to the next message (else the wait's look before it blocks would find it
     * committed and never block, and the stall rule would never reach a dead producer's claim behind it), then says
     * whether a committed message is queued.
     *
     * @return 1 if a committed message is queued, else 0
     */
    private static int look(SharedRing ring) throws InterruptedException {
        long position = (long) LONG.getAcquire(ring.block, ring.positionOffset); // acquire: another consumer's
        long record = (long) LONG.getAcquire(ring.block, RING_HEADER_SIZE + (position & ring.mask));
        if (RingRecords.length(record) > 0 && RingRecords.type(record) == RING_PADDING_TYPE) {
            if (ring.kind == SharedRing.Kind.SPSC) {
                skipPaddingSpsc(ring);
            } else if (ring.consumers == null) {
                drainZeroing(ring, null, Integer.MAX_VALUE);
            } else {
                drainInTurn(ring, null, Integer.MAX_VALUE, 0, true); // only if the turn is free now
            }
        }
        return ring.recovery.hasMessage() ? 1 : 0;
    }

    /**
     * MPMC: {@link #peekAsConsumer} in the consumers' turn, waited for at most {@link #UNTIMED_TURN_NANOS}; as a
     * poll, it does not take the turn when nothing is committed at consumedTo, but for every
     * {@value RingStallRule#CHECK_EVERY}th such look (for the stall rule).
     *
     * @return 1 if a message was handed over, 0 if none is committed, or the turn did not come in time
     */
    static int peekInTurn(SharedRing ring, MessageHandler handler) throws InterruptedException {
        if (nothingCommitted(ring)) {
            return 0;
        }
        if (!ring.consumers.tryAcquire() && !ring.consumers.acquire(UNTIMED_TURN_NANOS, false)
                && !ring.consumers.takeOverIfOwnerDead()) {
            return 0;
        }
        try {
            return peekAsConsumer(ring, handler);
        } finally {
            try {
                ring.consumers.release(false, ring.consumersName);
            } catch (StackOverflowError e) { // the turn left held: see RobustMutex.leaked
                ring.consumers.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
    }

    /**
     * Hands the message at the consumer's position to {@code handler} without taking it; the caller is the consumer
     * (SPSC, MPSC: in its role; MPMC: in the consumers' turn). Where there is padding, a claim or nothing, it frees
     * the padding and applies the stall rule as a poll would, then looks once more.
     *
     * @return 1 if a message was handed over, 0 if none is committed there
     */
    static int peekAsConsumer(SharedRing ring, MessageHandler handler) {
        if (handOverInPlace(ring, handler)) {
            return 1;
        }
        if (ring.kind == SharedRing.Kind.SPSC) {
            long position = (long) LONG.getOpaque(ring.block, RING_HEAD_OFFSET); // opaque: only this consumer moves it
            long record = (long) LONG.getAcquire(ring.block, RING_HEADER_SIZE + (position & ring.mask));
            if (RingRecords.length(record) < 0 && ring.stall.emptyPoll(RingStallRule.CHECK_EVERY)) {
                ring.stallRule.skipIfStalled(position); // a dead producer's claim becomes padding, freed below
            }
            skipPaddingSpsc(ring);
        } else {
            drainZeroing(ring, null, Integer.MAX_VALUE); // padding freed, stopped at the first message, stall rule
        }
        return handOverInPlace(ring, handler) ? 1 : 0;
    }

    /** @return true if a committed message at the consumer's position was handed to {@code handler}, left there */
    private static boolean handOverInPlace(SharedRing ring, MessageHandler handler) {
        // opaque: the consumer's own position, or one the consumers' turn orders (MPMC)
        long position = (long) LONG.getOpaque(ring.block, ring.positionOffset);
        int index = (int) (position & ring.mask);
        long record = (long) LONG.getAcquire(ring.block, RING_HEADER_SIZE + index); // acquire: the producer's release
        int length = RingRecords.length(record);
        int type = RingRecords.type(record);
        if (length <= 0 || type == RING_PADDING_TYPE) { // none, a claim, or padding
            return false;
        }
        checkLength(ring, record, position, index, length);
        handler.onMessage(type, ring.data, index + RING_RECORD_HEADER, length - RING_RECORD_HEADER);
        return true;
    }

    /** SPSC: frees the padding records at head that tail has passed, and takes no message. */
    private static void skipPaddingSpsc(SharedRing ring) {
        while (true) {
            long position = (long) LONG.getOpaque(ring.block, RING_HEAD_OFFSET); // opaque: only this consumer writes it
            int index = (int) (position & ring.mask);
            long record = (long) LONG.getAcquire(ring.block, RING_HEADER_SIZE + index); // acquire: producer's release
            int length = RingRecords.length(record);
            if (length <= 0 || RingRecords.type(record) != RING_PADDING_TYPE
                    || !freePaddingSpsc(ring, position, index, record, length)) {
                return;
            }
        }
    }

    /**
     * The look of a consumer about to block, after it announced itself ({@link RingWaits}): whether a record is
     * committed at the consumer's position, one that a drain would hand over or free. Volatile loads, so that they
     * stay after the announcement's store. SPSC: a padding record counts only once tail has passed it (one left by a
     * producer killed before moving tail would otherwise keep the consumer from sleeping).
     *
     * @return true if the consumer should drain again rather than sleep
     */
    static boolean committedAtPosition(SharedRing ring) {
        final MemorySegment block = ring.block;
        // MPMC: another consumer may move consumedTo meanwhile; else only this thread moves the position
        long position = (long) LONG.getVolatile(block, ring.positionOffset);
        int index = (int) (position & ring.mask);
        long record = (long) LONG.getVolatile(block, RING_HEADER_SIZE + index);
        int length = RingRecords.length(record);
        return length > 0 && (ring.kind != SharedRing.Kind.SPSC || RingRecords.type(record) != RING_PADDING_TYPE
                || tailPassed(block, position + RingRecords.align(length), index, record));
    }

    /**
     * Drains as an MPMC consumer: in the consumers' turn, waited for up to {@code turnNanos} (negative: for ever).
     *
     * @return the number of messages handled; 0 if the turn did not come in time, or nothing was committed
     */
    static int drainInTurn(SharedRing ring, MessageHandler handler, int limit, long turnNanos,
                           boolean interruptible) throws InterruptedException {
        boolean lastFound = ring.lastTurnFound.plain() != 0; // plain: see SharedRing's field
        if (!lastFound && nothingCommitted(ring)) {
            return 0;
        }
        if (!ring.consumers.tryAcquire()) {
            int spun = spinForTurn(ring);
            // nothing committed at consumedTo, so no waiter in the mutex would notice a dead holder: check for one
            if (spun == TURN_EMPTY && !ring.stallRule.takeOverDeadTurn()) {
                noteTurn(ring, lastFound, 0);
                return 0;
            }
            // a timed wait may end before the mutex's periodic liveness check: then check the holder once
            if (spun == TURN_BUSY && !ring.consumers.acquire(turnNanos, interruptible)
                    && !ring.consumers.takeOverIfOwnerDead()) {
                return 0;
            }
        }
        int handled;
        try {
            handled = drainAsConsumer(ring, handler, limit);
        } finally {
            try {
                ring.consumers.release(false, ring.consumersName);
            } catch (StackOverflowError e) { // the turn left held: see RobustMutex.leaked
                ring.consumers.leaked = true; // a store, not a call: a call would overflow the stack again
                throw e;
            }
        }
        noteTurn(ring, lastFound, handled);
        return handled;
    }

    /** Records whether a turn handed messages over, writing the shared local field only when that changes. */
    private static void noteTurn(SharedRing ring, boolean lastFound, int handled) {
        if (lastFound != handled > 0) {
            ring.lastTurnFound.setPlain(handled > 0 ? 1 : 0); // plain: see SharedRing's field
        }
    }

    /**
     * Waits for the consumers' turn by spinning, up to {@value #TURN_SPINS} rounds, while another consumer holds it:
     * a turn is usually held for one drain of a few records, far shorter than blocking in the futex and being woken
     * (the mutex's own acquire blocks after a few reads). Each round looks at the record at consumedTo without the
     * turn first, and gives up as soon as nothing is committed there.
     *
     * @return {@link #TURN_TAKEN} if this thread now holds the turn, {@link #TURN_EMPTY} if nothing was committed at
     *         some instant (a poll may return 0), {@link #TURN_BUSY} if the turn is still held
     */
    private static int spinForTurn(SharedRing ring) {
        for (int i = 0; i < TURN_SPINS; i++) {
            Thread.onSpinWait();
            if (lookEmpty(ring)) {
                return TURN_EMPTY;
            }
            if (!ring.consumers.isHeld() && ring.consumers.tryAcquire()) {
                return TURN_TAKEN;
            }
        }
        return TURN_BUSY;
    }

    /**
     * Looks, without the consumers' turn, at the record at consumedTo: if it is not committed, and consumedTo did not
     * move meanwhile, there is no message at that instant, and the poll need not take the turn. Every
     * {@value RingStallRule#CHECK_EVERY}th such look takes the turn anyway, for the stall rule and a dead consumer's
     * freeing.
     *
     * @return true if the poll may return 0 at once
     */
    private static boolean nothingCommitted(SharedRing ring) {
        if (!lookEmpty(ring)) {
            return false;
        }
        long looks = ring.emptyLooks.plain() + 1; // plain: see SharedRing's field
        ring.emptyLooks.setPlain(looks);
        return (looks & (RingStallRule.CHECK_EVERY - 1)) != 0;
    }

    /** @return true if the record at consumedTo was not committed, at an instant consumedTo held still */
    private static boolean lookEmpty(SharedRing ring) {
        final MemorySegment block = ring.block;
        long position = (long) LONG.getAcquire(block, RING_CONSUMED_TO_OFFSET); // acquire: a consumer's zeroing first
        // acquire: the re-read of consumedTo after it; a consumer moves consumedTo (fenced) before zeroing a record
        long record = (long) LONG.getAcquire(block, RING_HEADER_SIZE + (position & ring.mask));
        return RingRecords.length(record) <= 0 && (long) LONG.getAcquire(block, RING_CONSUMED_TO_OFFSET) == position;
    }

    /**
     * Hands up to {@code limit} records over as the ring's only consumer at this moment (SPSC and MPSC: the caller's
     * thread; MPMC: the holder of the consumers' turn), then frees them and applies the stall rule after an empty
     * look that may have met a stalled record.
     *
     * @return the number of messages handled
     */
    static int drainAsConsumer(SharedRing ring, MessageHandler handler, int limit) {
        return ring.kind == SharedRing.Kind.SPSC ? drainSpsc(ring, handler, limit) : drainZeroing(ring, handler, limit);
    }

    /**
     * {@link #drainAsConsumer} for SPSC: one {@link #pollSpsc} after another, so a wake check per message where the
     * drain of every kind made one per drain (about 1.4 ns each); the poll of one message is the path kept small.
     */
    private static int drainSpsc(SharedRing ring, MessageHandler handler, int limit) {
        int handled = 0;
        while (handled < limit && pollSpsc(ring, handler) == 1) {
            handled++;
        }
        return handled;
    }

    /**
     * Hands the next message of an SPSC ring over, if there is one: head is the commit point, freed bytes stay as they
     * are, and each message freed is a wake check. Small on purpose, with the rare records (a claim not committed yet,
     * padding, a corrupted header) handled by a call, so that the JIT inlines it into a caller's poll loop: HotSpot
     * inlines a hot callee of at most 325 bytes of bytecode whose compiled code, if it has some already, is under
     * 2,500 bytes, and every checked segment access adds to that. The drain of every kind in one method (485 bytes of
     * bytecode) was never inlined, and an 8-byte round trip between two processes spinning on {@code poll} took
     * 560-600 ns at the median where Agrona's took 450-480.
     *
     * @return 1 if a message was handled, else 0
     */
    static int pollSpsc(SharedRing ring, MessageHandler handler) {
        final MemorySegment block = ring.block; // local copy: no reload after the acquire read below
        long position = (long) LONG.getOpaque(block, RING_HEAD_OFFSET); // opaque: only this consumer writes it
        int index = (int) (position & ring.mask);
        long record = (long) LONG.getAcquire(block, RING_HEADER_SIZE + index); // acquire: the producer's release
        int length = RingRecords.length(record);
        if (length == 0) {
            // empty: the producer marks a claim before it moves tail, so no claim can be stalled here (and the
            // spinning consumer never reads the producer's tail line)
            return 0;
        }
        int type = RingRecords.type(record);
        if (length < 0 || type == RING_PADDING_TYPE || !fits(ring, index, length)) {
            return pollSpscRare(ring, handler, position, index, record);
        }
        LocalPosition guard = ring.consumerClaimed; // a poll from the handler, or another thread's, finds IN_USE
        long claimed = guard.plain();
        guard.setPlain(SharedRing.IN_USE);
        try {
            handler.onMessage(type, ring.data, index + RING_RECORD_HEADER, length - RING_RECORD_HEADER);
        } finally {
            // release: the handler's reads before the producer's writes there
            LONG.setRelease(block, RING_HEAD_OFFSET, position + RingRecords.align(length));
            guard.setPlain(claimed); // after head: a poll let in now reads the next record
            RingWaits.signalNotFull(block);
        }
        return 1;
    }

    /**
     * {@link #pollSpsc} at a record that is not a committed message: a claim not committed yet (every
     * {@value RingStallRule#CHECK_EVERY}th such look applies the stall rule); padding, freed once tail has passed it
     * (see {@link #tailPassed}), and then the message after it; or a header whose length does not fit.
     *
     * @return 1 if a message was handled, else 0
     */
    private static int pollSpscRare(SharedRing ring, MessageHandler handler, long position, int index, long record) {
        int length = RingRecords.length(record);
        if (length < 0) {
            if (ring.stall.emptyPoll(RingStallRule.CHECK_EVERY)) {
                ring.stallRule.skipIfStalled(position);
            }
            return 0;
        }
        // padding: freed, then the record at 0 after it
        return freePaddingSpsc(ring, position, index, record, length) ? pollSpsc(ring, handler) : 0;
    }

    /**
     * SPSC: frees the committed padding {@code record} of {@code length} bytes at head ({@code position}), once tail
     * has passed it; checks its length first (a committed header that is not padding and does not fit is corrupted).
     *
     * @return true if head moved past it
     */
    private static boolean freePaddingSpsc(SharedRing ring, long position, int index, long record, int length) {
        checkLength(ring, record, position, index, length);
        long end = position + RingRecords.align(length);
        if (!tailPassed(ring.block, end, index, record)) {
            return false;
        }
        LONG.setRelease(ring.block, RING_HEAD_OFFSET, end); // release: the commit point, after the reads of tail
        RingWaits.signalNotFull(ring.block);
        return true;
    }

    /**
     * {@link #drainAsConsumer} for MPSC and MPMC: moves consumedTo past each record, zeroes it, then moves head once
     * per drain, finishing a dead consumer's freeing first. With a null {@code handler} (a look), it frees padding
     * only and stops at the first message. A {@link StackOverflowError} can cut {@link #consumed} short too (after a
     * handler that overflowed, it is called from the same frame): head then moves only past the records it zeroed,
     * and this object's position stays there, so the next drain finishes the freeing as after a dead consumer (if
     * consumedTo moved) or hands the record over again (if it did not, as a consumer killed in its handler leaves it).
     * Moving head past the record left it committed in free space, where a drain a lap later took it for a new
     * message beyond tail.
     */
    private static int drainZeroing(SharedRing ring, MessageHandler handler, int limit) {
        final MemorySegment block = ring.block; // local copies: no reloads after the acquire reads below
        final MemorySegment data = ring.data;
        final int mask = ring.mask;
        // opaque: only a consumer writes it, and the consumers' mutex (MPMC) or the caller orders consumers
        long position = (long) LONG.getOpaque(block, RING_CONSUMED_TO_OFFSET);
        final long head = position;
        // another consumer ran since this one did (or none yet)
        if (position != ring.consumerPosition.plain()) {
            ring.recovery.finishPending(position);
            ring.consumerPosition.setPlain(position);
        }
        int handled = 0;
        long freed = position; // where consumed() finished: head moves no further (a cut-short one leaves a record)
        try {
            while (handled < limit) {
                int index = (int) (position & mask);
                // acquire: pairs with the producer's release
                long record = (long) LONG.getAcquire(block, RING_HEADER_SIZE + index);
                int length = RingRecords.length(record);
                if (length <= 0) {
                    break;
                }
                checkLength(ring, record, position, index, length);
                int type = RingRecords.type(record);
                if (handler == null && type != RING_PADDING_TYPE) {
                    break; // a look (no handler): padding freed, no message taken
                }
                int aligned = RingRecords.align(length);
                position += aligned;
                try {
                    if (type != RING_PADDING_TYPE) {
                        handled++;
                        handler.onMessage(type, data, index + RING_RECORD_HEADER, length - RING_RECORD_HEADER);
                    }
                } finally {
                    consumed(block, index, aligned, position);
                    freed = position; // a local store: not reached if a StackOverflowError cut consumed() short
                }
            }
        } finally {
            endZeroingDrain(ring, head, freed);
        }
        return handled;
    }

    /**
     * The end of a zeroing drain that started at {@code head} and stopped at {@code position}: moves head and wakes
     * producers waiting for room if it freed anything; else applies the stall rule, since an empty look may have met
     * a stalled record, even at a zero: a producer marks its claim only after winning the tail CAS (MPMC:
     * {@code nothingCommitted} already let only every {@value RingStallRule#CHECK_EVERY}-th empty look take the turn;
     * MPSC: every such look).
     */
    private static void endZeroingDrain(SharedRing ring, long head, long position) {
        if (position != head) {
            LONG.setRelease(ring.block, RING_HEAD_OFFSET, position); // release: the zeroed bytes first
            ring.consumerPosition.setPlain(position);
            RingWaits.signalNotFull(ring.block);
            if (ring.stall.busyDrain(RingStallRule.RETIRE_CHECK_EVERY)) { // a ring never empty retires them too
                ring.stallRule.retireDeadProducers();
            }
        } else if (ring.consumers != null || ring.stall.emptyPoll(RingStallRule.CHECK_EVERY)) {
            ring.stallRule.skipIfStalled(position);
        }
    }

    /** @return whether a committed record's {@code length} fits between its {@code index} and the buffer's end */
    private static boolean fits(SharedRing ring, int index, int length) {
        return Integer.compareUnsigned(length - RING_RECORD_HEADER, ring.capacity - index - RING_RECORD_HEADER) <= 0;
    }

    /** Throws if a committed record's {@code length} does not fit between its {@code index} and the buffer's end. */
    private static void checkLength(SharedRing ring, long record, long position, int index, int length) {
        if (!fits(ring, index, length)) {
            throw ring.recovery.corrupted("record header 0x" + Long.toHexString(record) + " at " + position);
        }
    }

    /**
     * SPSC, at a padding record: whether tail has passed it, so that the consumer may free it. Its producer writes the
     * padding, then moves tail past it (and past the record at 0 after it); a producer killed or preempted between
     * the two leaves the padding at tail, and a consumer that freed it would move head past tail: every later open
     * would then refuse the ring as corrupted, and a later producer would write behind head. Such a padding stays at
     * tail until the next producer claims from there: that one overwrites it (with its mark, or the same padding)
     * before it moves tail, so the header, read again after tail, shows whether it is still the padding tail passed.
     * Called once a lap (and for an aborted claim), so the offer and poll of a message pay nothing for it.
     *
     * @param end    the position where the padding ends
     * @param record the padding's header, read at {@code index}
     * @return true if the padding may be freed; false if tail has not passed it, or its header changed meanwhile
     *         (the caller stops: the next drain reads the new record)
     */
    private static boolean tailPassed(MemorySegment block, long end, int index, long record) {
        // acquire: the producer's writes at index before its release of tail come before the re-read below
        long tail = (long) LONG.getAcquire(block, RING_TAIL_OFFSET);
        // acquire: ordered after the read of tail
        return tail - end >= 0 && (long) LONG.getAcquire(block, RING_HEADER_SIZE + index) == record;
    }

    /**
     * Frees a record handed over (MPSC, MPMC): moves the commit point past it, then zeroes it; head moves later, once
     * per drain.
     */
    private static void consumed(MemorySegment block, int index, int aligned, long end) {
        // opaque: read only by the next consumer, after the consumers' mutex or the death of this one orders it
        LONG.setOpaque(block, RING_CONSUMED_TO_OFFSET, end);
        VarHandle.storeStoreFence(); // no zero of the record before the commit point, even in a process killed here
        RingRecords.zero(block, RING_HEADER_SIZE + index, aligned);
    }
}
