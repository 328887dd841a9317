package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.DeadlockWatch;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.WaitLayout;
import org.shm4j.sync.internal.Waits;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.FAIR_ABANDONED;
import static org.shm4j.sync.internal.SyncLayout.FAIR_FLAGS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_HELD_SINCE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_NEXT_TICKET_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_OWNER_THREAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_QUEUE;
import static org.shm4j.sync.internal.SyncLayout.FAIR_RECOVERIES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SERVING_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SLOTS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_SLOT_SIZE;
import static org.shm4j.sync.internal.SyncLayout.FAIR_TAKEN;
import static org.shm4j.sync.internal.SyncLayout.FAIR_TICKET_MASK;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WAITERS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;

/**
 * A first-come, first-served lock in shared memory (a ticket lock) for the threads of every process that maps it,
 * that survives the death of its owner and of its waiters. Like {@link SharedLock} otherwise: not reentrant, no
 * conditions, futex waits where native access is enabled, owner death reported through {@link #isConsistent()}.
 *
 * <h2>Layout (heap block type {@code 0x53480022} v1, 1152 bytes, 64-aligned)</h2>
 * <table class="striped">
 * <caption>SharedFairLock block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>4</td><td>nextTicket: the next ticket to hand out, a 31-bit counter</td><td>CAS</td></tr>
 * <tr><td>64</td><td>4</td><td>serving: bits 0..30 the ticket whose turn it is, bit 31 set once its holder has taken
 *     the lock; the futex word waiters block on</td><td>CAS (acquire when taking, release when passing on)</td></tr>
 * <tr><td>68</td><td>4</td><td>waiters: threads blocked in futex on serving</td><td>atomic add</td></tr>
 * <tr><td>72</td><td>4</td><td>flags: bit 0 = an owner died holding the lock</td><td>atomic or/and</td></tr>
 * <tr><td>80</td><td>8</td><td>recoveries: take-overs from dead owners</td><td>atomic add</td></tr>
 * <tr><td>88</td><td>8</td><td>heldSinceMillis: when a waiter first saw the owner holding it, 0 if none</td>
 *     <td>opaque, set by CAS</td></tr>
 * <tr><td>96</td><td>8</td><td>ownerThreadId, 0 when free</td><td>opaque</td></tr>
 * <tr><td>128</td><td>1024</td><td>64 ticket slots of 16 bytes, slot {@code ticket % 64}: owner token (long: pid in
 *     bits 63..32, low 32 bits of the start time in epoch ms; 0 = empty, 1 = abandoned by a waiter that timed out)
 *     and the ticket (int)</td><td>volatile; the ticket is written before the token, read after it</td></tr>
 * </table>
 *
 * <h2>Protocol</h2>
 * A thread takes a ticket with a CAS on nextTicket (only while fewer than 64 tickets are out, else it waits),
 * writes its token into the ticket's slot, and waits until serving equals its ticket; it then takes the lock with a
 * CAS that sets bit 31. Unlock passes the turn on with a CAS to the next ticket and wakes the waiters. Because taking
 * and skipping are both CASes on serving, exactly one of them wins. A waiter that gives up (timeout, interrupt)
 * marks its slot abandoned and is skipped at once. A turn whose slot shows a dead process is skipped within about
 * 50 ms (if it had taken the lock, the lock is marked inconsistent, as in {@link SharedLock}); a turn whose slot was
 * never written (its taker died between taking a ticket and writing its slot) is skipped after 1 s. A live thread
 * that finds its turn skipped takes a new ticket.
 *
 * <p>Memory consistency effects: as for {@link SharedLock}.
 */
public final class SharedFairLock extends TimedLock {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final int BLOCK_STEP = Backoff.PARK_FROM;
    private static final String KIND = "fair lock";

    private final MemorySegment segment;

    /** Outcome of waiting for a turn. */
    private enum Turn { TAKEN, SKIPPED, TIMED_OUT }

    private SharedFairLock(MemorySegment segment, String description, SharedHeap heap) {
        super(description, DeadlockWatch.of(heap, segment, WaitLayout.KIND_FAIR, description), segment);
        check(segment, description);
        this.segment = segment;
    }

    /** Creates a free fair lock named {@code name} in {@code heap}. */
    public static SharedFairLock create(SharedHeap heap, String name) {
        return new SharedFairLock(Blocks.create(heap, name, SyncLayout.FAIR_LOCK, SyncLayout.FAIR_SIZE, s -> { }),
                KIND + " '" + name + "'", heap);
    }

    /**
     * Opens the fair lock named {@code name}. A fair lock has no magic (all-zero bytes are a free lock), so opening
     * checks for states no fair lock has: see {@link #wrap(MemorySegment, long)}.
     *
     * @throws org.shm4j.core.ShmNotFoundException     if there is none
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a fair lock
     * @throws org.shm4j.core.ShmFormatException       if the block holds a state no fair lock has
     */
    public static SharedFairLock open(SharedHeap heap, String name) {
        return new SharedFairLock(Blocks.open(heap, name, SyncLayout.FAIR_LOCK, SyncLayout.FAIR_SIZE, KIND),
                KIND + " '" + name + "'", heap);
    }

    /** Opens the fair lock named {@code name}, or creates it free. */
    public static SharedFairLock openOrCreate(SharedHeap heap, String name) {
        return new SharedFairLock(Blocks.openOrCreate(heap, name, SyncLayout.FAIR_LOCK, SyncLayout.FAIR_SIZE,
                s -> { }), KIND + " '" + name + "'", heap);
    }

    /**
     * Views the {@value org.shm4j.sync.internal.SyncLayout#FAIR_SIZE} bytes at {@code offset} of a native segment as
     * a fair lock; all-zero bytes are a free lock. There is no magic, so the bytes are checked for states no fair lock
     * has: a next ticket with bit 31 set, more than {@value org.shm4j.sync.internal.SyncLayout#FAIR_QUEUE} tickets
     * out, a taken turn with no ticket out, flags other than bit 0, a negative waiter count, recoveries, heldSince or
     * thread id, a slot token that is neither 0, 1 (abandoned) nor a pid, a negative slot ticket, or a non-zero byte
     * where the layout has none.
     *
     * @throws IllegalArgumentException          if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException         if the bytes are not inside the segment
     * @throws org.shm4j.core.ShmFormatException if the bytes hold a state no fair lock has
     */
    public static SharedFairLock wrap(MemorySegment segment, long offset) {
        MemorySegment slice = Blocks.wrap(segment, offset, SyncLayout.FAIR_SIZE, Long.BYTES, KIND);
        return new SharedFairLock(slice, Blocks.describe(KIND, slice.address()), null);
    }

    /** The checks {@link #wrap(MemorySegment, long)} describes. */
    private static void check(MemorySegment segment, String what) {
        checkTickets(segment, what);
        Blocks.requireZero(segment, FAIR_NEXT_TICKET_OFFSET + Integer.BYTES, FAIR_SERVING_OFFSET, what);
        int waiters = (int) INT.getVolatile(segment, FAIR_WAITERS_OFFSET);
        if (waiters < 0) {
            throw Blocks.corrupt(what, "waiters", waiters, ">= 0");
        }
        int flags = (int) INT.getVolatile(segment, FAIR_FLAGS_OFFSET);
        if ((flags & ~LOCK_OWNER_DIED) != 0) {
            throw Blocks.corrupt(what, "flags", flags, "0 or " + LOCK_OWNER_DIED);
        }
        Blocks.requireZero(segment, FAIR_FLAGS_OFFSET + Integer.BYTES, FAIR_RECOVERIES_OFFSET, what);
        RobustMutex.checkNotNegative(segment, FAIR_RECOVERIES_OFFSET, "recoveries", what);
        RobustMutex.checkNotNegative(segment, FAIR_HELD_SINCE_OFFSET, "heldSince", what);
        RobustMutex.checkNotNegative(segment, FAIR_OWNER_THREAD_OFFSET, "owner thread", what);
        Blocks.requireZero(segment, FAIR_OWNER_THREAD_OFFSET + Long.BYTES, FAIR_SLOTS_OFFSET, what);
        for (int i = 0; i < FAIR_QUEUE; i++) {
            long slot = FAIR_SLOTS_OFFSET + i * FAIR_SLOT_SIZE;
            long token = (long) LONG.getVolatile(segment, slot);
            if (token < 0 || token > FAIR_ABANDONED && ProcessIdentity.pid(token) == 0) {
                throw Blocks.corrupt(what, "slot " + i + " token", "0x" + Long.toHexString(token),
                        "0, 1 or a pid in bits 63..32");
            }
            int ticket = (int) INT.getVolatile(segment, slot + Long.BYTES);
            if (ticket < 0) {
                throw Blocks.corrupt(what, "slot " + i + " ticket", ticket, ">= 0");
            }
            Blocks.requireZero(segment, slot + Long.BYTES + Integer.BYTES, slot + FAIR_SLOT_SIZE, what);
        }
    }

    /**
     * Checks the next ticket and how many are out, from a consistent view: serving read before and after the next
     * ticket, retried while other threads move it (if they keep moving it, its holders' own checks keep it sane).
     */
    private static void checkTickets(MemorySegment segment, String what) {
        for (int attempt = 0; attempt < 4; attempt++) {
            int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
            int next = (int) INT.getVolatile(segment, FAIR_NEXT_TICKET_OFFSET);
            if ((next & ~FAIR_TICKET_MASK) != 0) {
                throw Blocks.corrupt(what, "next ticket", next, "0.." + FAIR_TICKET_MASK);
            }
            if ((int) INT.getVolatile(segment, FAIR_SERVING_OFFSET) != serving) {
                continue;
            }
            int out = (next - (serving & FAIR_TICKET_MASK)) & FAIR_TICKET_MASK;
            if (out > FAIR_QUEUE || out == 0 && (serving & FAIR_TAKEN) != 0) {
                throw Blocks.corrupt(what, "tickets out (next ticket " + next + " - serving)", out,
                        ((serving & FAIR_TAKEN) != 0 ? "1" : "0") + ".." + FAIR_QUEUE);
            }
            return;
        }
    }

    /** Takes the lock only if it is free and nobody waits: barging is not allowed. */
    @Override
    public boolean tryLock() {
        try {
            skipAbandonedTurns();
            int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
            int next = (int) INT.getVolatile(segment, FAIR_NEXT_TICKET_OFFSET);
            if ((serving & FAIR_TAKEN) != 0 || next != serving
                    || !INT.compareAndSet(segment, FAIR_NEXT_TICKET_OFFSET, next, following(next))) {
                return false;
            }
            publishSlot(next);
            if (INT.compareAndSet(segment, FAIR_SERVING_OFFSET, next, next | FAIR_TAKEN)) {
                claim();
                return true;
            }
            abandon(next);
            return false;
        } catch (IllegalStateException failure) {
            throw closedOr(failure);
        }
    }

    @Override
    void release() {
        int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
        int ticket = serving & FAIR_TICKET_MASK;
        if (!isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException(description() + " is not held by this thread; held by "
                    + owner().map(LockOwner::toString).orElse("nobody"));
        }
        // opaque: diagnostics only, ordered before the next owner by the release CAS below
        LONG.setOpaque(segment, FAIR_OWNER_THREAD_OFFSET, 0L);
        if ((long) LONG.getOpaque(segment, FAIR_HELD_SINCE_OFFSET) != 0) {
            LONG.setOpaque(segment, FAIR_HELD_SINCE_OFFSET, 0L);
        }
        LONG.setVolatile(segment, slot(ticket), 0L);
        if (!INT.compareAndSet(segment, FAIR_SERVING_OFFSET, serving, following(ticket))) {
            throw new IllegalStateException(description() + " was taken over while held by this live thread");
        }
        wakeWaiters();
    }

    /** @return true if the current thread holds the lock */
    public boolean isHeldByCurrentThread() {
        int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
        return (serving & FAIR_TAKEN) != 0
                && (long) LONG.getVolatile(segment, slot(serving & FAIR_TICKET_MASK)) == ProcessIdentity.currentToken()
                && (long) LONG.getOpaque(segment, FAIR_OWNER_THREAD_OFFSET) == Thread.currentThread().threadId();
    }

    /** @return true if some thread of some process holds the lock */
    public boolean isLocked() {
        return ((int) INT.getVolatile(segment, FAIR_SERVING_OFFSET) & FAIR_TAKEN) != 0;
    }

    /** @return how many tickets are out: the holder and the waiters */
    public int queueLength() {
        int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
        int next = (int) INT.getVolatile(segment, FAIR_NEXT_TICKET_OFFSET);
        return (next - (serving & FAIR_TICKET_MASK)) & FAIR_TICKET_MASK;
    }

    /** @return who holds the lock now, if anyone */
    public Optional<LockOwner> owner() {
        int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
        if ((serving & FAIR_TAKEN) == 0) {
            return Optional.empty();
        }
        long token = (long) LONG.getVolatile(segment, slot(serving & FAIR_TICKET_MASK));
        long since = (long) LONG.getOpaque(segment, FAIR_HELD_SINCE_OFFSET);
        return Optional.of(new LockOwner(ProcessIdentity.pid(token),
                (long) LONG.getOpaque(segment, FAIR_OWNER_THREAD_OFFSET),
                since == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(since))));
    }

    /** @return false after the lock was taken over from a dead owner, until {@link #markConsistent()} */
    public boolean isConsistent() {
        return ((int) INT.getVolatile(segment, FAIR_FLAGS_OFFSET) & LOCK_OWNER_DIED) == 0;
    }

    /**
     * Declares the protected data repaired after an owner died.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     */
    public void markConsistent() {
        if (!isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException(description() + " must be held to mark it consistent");
        }
        INT.getAndBitwiseAnd(segment, FAIR_FLAGS_OFFSET, ~LOCK_OWNER_DIED);
    }

    /** @return how many times the lock was taken over from a dead owner */
    public long recoveries() {
        return (long) LONG.getVolatile(segment, FAIR_RECOVERIES_OFFSET);
    }

    @Override
    public String toString() {
        return description() + owner().map(o -> " held by " + o).orElse(" (free)");
    }

    @Override
    Optional<LockOwner> holder() {
        return owner();
    }

    @Override
    boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        if (isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException(description() + " is already held by this thread and is not "
                    + "reentrant");
        }
        long start = System.nanoTime();
        while (true) {
            int ticket = takeTicket(start, timeoutNanos);
            if (ticket < 0) {
                return false;
            }
            publishSlot(ticket);
            Turn turn;
            try {
                turn = awaitTurn(ticket, start, timeoutNanos, interruptible);
            } catch (InterruptedException | RuntimeException e) {
                abandon(ticket);
                throw e;
            }
            switch (turn) {
                case TAKEN -> {
                    claim();
                    return true;
                }
                case TIMED_OUT -> {
                    abandon(ticket);
                    return false;
                }
                case SKIPPED -> {
                    // take a new ticket; the stale slot is overwritten by its next user, never cleared here,
                    // since another thread of this process (same token) may be publishing into it
                }
            }
        }
    }

    /** @return a ticket, or -1 if the timeout passed while 64 tickets were out */
    private int takeTicket(long start, long timeoutNanos) {
        int step = 0;
        while (true) {
            int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
            int next = (int) INT.getVolatile(segment, FAIR_NEXT_TICKET_OFFSET);
            if (((next - (serving & FAIR_TICKET_MASK)) & FAIR_TICKET_MASK) < FAIR_QUEUE) {
                if (INT.compareAndSet(segment, FAIR_NEXT_TICKET_OFFSET, next, following(next))) {
                    return next;
                }
                continue;
            }
            long elapsed = System.nanoTime() - start;
            if (timeoutNanos >= 0 && elapsed >= timeoutNanos) {
                return -1;
            }
            step = Waits.idle(Math.min(step, BLOCK_STEP - 1), segment, FAIR_SERVING_OFFSET, serving, 0);
        }
    }

    private Turn awaitTurn(int ticket, long start, long timeoutNanos, boolean interruptible)
            throws InterruptedException {
        long nextLivenessCheck = System.nanoTime() + RobustMutex.LIVENESS_NANOS;
        int stalledTurn = -1;
        long stalledSince = 0;
        int step = 0;
        DeadlockWatch.Wait published = null; // set once the wait is longer than the detection threshold
        try {
            while (true) {
                int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
                int turn = serving & FAIR_TICKET_MASK;
                if (turn == ticket) {
                    if ((serving & FAIR_TAKEN) != 0) { // only this waiter takes its own turn: the word was damaged
                        throw new ShmFormatException(description() + " is corrupted: turn " + ticket
                                + " is marked taken while its ticket holder is still waiting");
                    }
                    if (INT.compareAndSet(segment, FAIR_SERVING_OFFSET, serving, serving | FAIR_TAKEN)) {
                        return Turn.TAKEN; // the CAS is the linearization point; a skip would have failed it
                    }
                    continue;
                }
                if (((turn - ticket) & FAIR_TICKET_MASK) < (1 << 30)) {
                    return Turn.SKIPPED; // the turn passed us while we were presumed dead
                }
                if (interruptible && Thread.interrupted()) {
                    throw new InterruptedException();
                }
                long now = System.nanoTime();
                boolean livenessDue = now - nextLivenessCheck >= 0;
                if (livenessDue) {
                    nextLivenessCheck = now + RobustMutex.LIVENESS_NANOS;
                    if (watch() != null) {
                        published = watch().poll(published, now - start); // throws to the victim of a deadlock
                    }
                }
                long token = (long) LONG.getVolatile(segment, slot(turn));
                boolean slotWritten = token != 0 && (int) INT.getVolatile(segment, slot(turn) + 8) == turn;
                if (!slotWritten && stalledTurn != turn) {
                    stalledTurn = turn;
                    stalledSince = now;
                }
                boolean skip = slotWritten
                        ? token == FAIR_ABANDONED || livenessDue && !ProcessIdentity.isAlive(token)
                        : (serving & FAIR_TAKEN) == 0 && stalledTurn == turn && now - stalledSince > STALL_NANOS;
                if (skip && skipTurn(serving, token)) {
                    continue;
                }
                if (step == Backoff.SPIN_STEPS && (serving & FAIR_TAKEN) != 0) {
                    LONG.compareAndSet(segment, FAIR_HELD_SINCE_OFFSET, 0L, System.currentTimeMillis());
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
                if (left <= 0) {
                    return Turn.TIMED_OUT;
                }
                step = idle(step, serving, Math.min(left, nextLivenessCheck - now));
            }
        } finally {
            DeadlockWatch.end(published);
        }
    }

    /** Passes the turn {@code serving} on, because its ticket holder is dead, gone or never arrived. */
    private boolean skipTurn(int serving, long token) {
        int turn = serving & FAIR_TICKET_MASK;
        if (!INT.compareAndSet(segment, FAIR_SERVING_OFFSET, serving, following(turn))) {
            return false;
        }
        if ((serving & FAIR_TAKEN) != 0) { // the dead process held the lock
            INT.getAndBitwiseOr(segment, FAIR_FLAGS_OFFSET, LOCK_OWNER_DIED);
            LONG.getAndAdd(segment, FAIR_RECOVERIES_OFFSET, 1L);
            LONG.setOpaque(segment, FAIR_HELD_SINCE_OFFSET, 0L);
        }
        clearSlot(turn, token);
        wakeWaiters();
        return true;
    }

    private int idle(int step, int serving, long maxBlockNanos) {
        if (step < BLOCK_STEP) {
            return Waits.idle(step, segment, FAIR_SERVING_OFFSET, serving, maxBlockNanos);
        }
        INT.getAndAdd(segment, FAIR_WAITERS_OFFSET, 1); // before the futex compares serving: no lost wake-up
        try {
            return Waits.idle(step, segment, FAIR_SERVING_OFFSET, serving, maxBlockNanos);
        } finally {
            INT.getAndAdd(segment, FAIR_WAITERS_OFFSET, -1);
        }
    }

    private void wakeWaiters() {
        if ((int) INT.getVolatile(segment, FAIR_WAITERS_OFFSET) > 0) {
            Waits.wake(segment, FAIR_SERVING_OFFSET, Integer.MAX_VALUE);
        }
    }

    private void skipAbandonedTurns() {
        while (true) {
            int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
            int turn = serving & FAIR_TICKET_MASK;
            if ((serving & FAIR_TAKEN) != 0 || (int) INT.getVolatile(segment, FAIR_NEXT_TICKET_OFFSET) == turn
                    || (long) LONG.getVolatile(segment, slot(turn)) != FAIR_ABANDONED
                    || (int) INT.getVolatile(segment, slot(turn) + 8) != turn) {
                return;
            }
            skipTurn(serving, FAIR_ABANDONED);
        }
    }

    /** Gives up {@code ticket}: if it is being served and not taken, passes the turn on; else marks it abandoned. */
    private void abandon(int ticket) {
        long slot = slot(ticket);
        if (!LONG.compareAndSet(segment, slot, ProcessIdentity.currentToken(), FAIR_ABANDONED)) {
            return; // already skipped and cleared by another waiter
        }
        int serving = (int) INT.getVolatile(segment, FAIR_SERVING_OFFSET);
        if (serving == ticket) {
            skipTurn(serving, FAIR_ABANDONED);
        }
    }

    private void publishSlot(int ticket) {
        INT.setVolatile(segment, slot(ticket) + 8, ticket); // the ticket first: a reader checks it after the token
        LONG.setVolatile(segment, slot(ticket), ProcessIdentity.currentToken());
    }

    /** Empties the slot of a skipped {@code ticket}, if it still holds {@code token} (dead or abandoned). */
    private void clearSlot(int ticket, long token) {
        if ((int) INT.getVolatile(segment, slot(ticket) + 8) == ticket) {
            LONG.compareAndSet(segment, slot(ticket), token, 0L);
        }
    }

    private void claim() {
        // opaque: read only by diagnostics
        LONG.setOpaque(segment, FAIR_OWNER_THREAD_OFFSET, Thread.currentThread().threadId());
    }

    private static long slot(int ticket) {
        return FAIR_SLOTS_OFFSET + (long) (ticket % FAIR_QUEUE) * FAIR_SLOT_SIZE;
    }

    private static int following(int ticket) {
        return (ticket + 1) & FAIR_TICKET_MASK;
    }
}
