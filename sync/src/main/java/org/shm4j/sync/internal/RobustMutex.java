package org.shm4j.sync.internal;

import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.LockOwner;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;
import static org.shm4j.sync.internal.SyncLayout.LOCK_PID_MASK;
import static org.shm4j.sync.internal.SyncLayout.LOCK_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_FLAGS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_HELD_SINCE;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_OWNER_START;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_OWNER_THREAD;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_RECOVERIES;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WORD;

/**
 * The robust futex mutex behind {@link org.shm4j.sync.SharedLock} and the write side of
 * {@link org.shm4j.sync.SharedReadWriteLock}: 40 bytes (see the layout table of {@code SharedLock}) holding a futex
 * word with the owner's pid, the owner's start time and thread, the time a waiter first saw it held, a flag for "the
 * previous owner died" and a take-over count.
 *
 * <p>Algorithm: a futex mutex in the style of Drepper's "Futexes Are Tricky" (mutex, take 2), with the owner's pid
 * as the locked state so that a waiter can tell whether the owner is alive, and bit 30 for "a waiter may be blocked".
 * A thread that has blocked once acquires with the waiters bit set, since other threads may still be blocked; this
 * costs at most one spurious wake. Invariants: word != 0 iff the mutex is held; the owner fields are written only by
 * the owner, after its CAS and before its release. A blocked waiter wakes at least every {@link #LIVENESS_NANOS} to
 * check the owner's liveness, its deadline and its interrupt status.
 */
public final class RobustMutex {
    /** How often a waiter checks that the owner process lives. */
    public static final long LIVENESS_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private static final int BLOCK_STEP = Backoff.PARK_FROM;
    private static final int PID = (int) (ProcessHandle.current().pid() & LOCK_PID_MASK);

    private final MemorySegment segment;
    private final long word;

    /**
     * @param segment memory holding the mutex
     * @param base    offset of the mutex's 40 bytes, 8-byte aligned
     */
    public RobustMutex(MemorySegment segment, long base) {
        this.segment = segment;
        this.word = base + MUTEX_WORD;
    }

    /** @return true if the mutex was free and is now held by the current thread */
    public boolean tryAcquire() {
        if (INT.compareAndSet(segment, word, 0, PID)) {
            claim();
            return true;
        }
        return false;
    }

    /**
     * Acquires the mutex, taking it over from a dead owner.
     *
     * @param timeoutNanos how long to wait, or a negative value for ever
     * @return false if the timeout passed first
     * @throws InterruptedException if {@code interruptible} and the thread is interrupted while waiting
     */
    public boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        if (tryAcquire()) {
            return true;
        }
        if (isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException("already held by this thread, and not reentrant");
        }
        long start = System.nanoTime();
        long nextLivenessCheck = start + LIVENESS_NANOS;
        int step = 0;
        while (true) {
            int w = (int) INT.getVolatile(segment, word);
            if (w == 0) {
                int locked = step >= BLOCK_STEP ? PID | LOCK_WAITERS : PID; // others may still be blocked
                if (INT.compareAndSet(segment, word, 0, locked)) {
                    claim();
                    return true;
                }
                continue;
            }
            if (interruptible && Thread.interrupted()) {
                throw new InterruptedException();
            }
            long now = System.nanoTime();
            if (step == Backoff.SPIN_STEPS) {
                noteHeldSince();
            }
            if (now - nextLivenessCheck >= 0) {
                nextLivenessCheck = now + LIVENESS_NANOS;
                if (takeOverIfOwnerDead(w, PID | LOCK_WAITERS)) {
                    claim();
                    return true;
                }
            }
            long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
            if (left <= 0) {
                return false;
            }
            step = block(step, w, Math.min(left, nextLivenessCheck - now));
        }
    }

    /**
     * Waits until the mutex is free (without taking it), clearing it if its owner died.
     *
     * @param timeoutNanos how long to wait, or a negative value for ever
     * @return false if the timeout passed first
     */
    public boolean awaitFree(long timeoutNanos, boolean interruptible) throws InterruptedException {
        long start = System.nanoTime();
        long nextLivenessCheck = start + LIVENESS_NANOS;
        int step = 0;
        while (true) {
            int w = (int) INT.getVolatile(segment, word);
            if (w == 0) {
                return true;
            }
            if (interruptible && Thread.interrupted()) {
                throw new InterruptedException();
            }
            long now = System.nanoTime();
            if (now - nextLivenessCheck >= 0) {
                nextLivenessCheck = now + LIVENESS_NANOS;
                if (takeOverIfOwnerDead(w, 0)) {
                    Waits.wake(segment, word, Integer.MAX_VALUE);
                    return true;
                }
            }
            long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
            if (left <= 0) {
                return false;
            }
            step = block(step, w, Math.min(left, nextLivenessCheck - now));
        }
    }

    /**
     * Releases the mutex and wakes blocked waiters, if any.
     *
     * @param wakeAll wake every waiter (readers wait here too) rather than one
     * @throws IllegalMonitorStateException if the current thread does not hold it
     */
    public void release(boolean wakeAll, String what) {
        if (!isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException(what + " is not held by this thread; held by "
                    + owner().map(LockOwner::toString).orElse("nobody"));
        }
        // opaque: diagnostics only; the release below orders them before the next owner's writes
        LONG.setOpaque(segment, word + MUTEX_OWNER_THREAD, 0L);
        LONG.setOpaque(segment, word + MUTEX_OWNER_START, 0L);
        if ((long) LONG.getOpaque(segment, word + MUTEX_HELD_SINCE) != 0) {
            LONG.setOpaque(segment, word + MUTEX_HELD_SINCE, 0L);
        }
        int previous = (int) INT.getAndSet(segment, word, 0); // volatile: releases the guarded data
        if ((previous & LOCK_WAITERS) != 0) {
            Waits.wake(segment, word, wakeAll ? Integer.MAX_VALUE : 1);
        }
    }

    /** @return true if the current thread holds the mutex */
    public boolean isHeldByCurrentThread() {
        int w = (int) INT.getVolatile(segment, word);
        return (w & LOCK_PID_MASK) == PID
                && (long) LONG.getOpaque(segment, word + MUTEX_OWNER_THREAD) == Thread.currentThread().threadId();
    }

    /** @return true if held */
    public boolean isHeld() {
        return (int) INT.getVolatile(segment, word) != 0;
    }

    /** @return who holds the mutex now, if anyone */
    public Optional<LockOwner> owner() {
        int w = (int) INT.getVolatile(segment, word);
        if (w == 0) {
            return Optional.empty();
        }
        long since = (long) LONG.getOpaque(segment, word + MUTEX_HELD_SINCE);
        return Optional.of(new LockOwner(w & LOCK_PID_MASK,
                (long) LONG.getOpaque(segment, word + MUTEX_OWNER_THREAD),
                since == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(since))));
    }

    /** @return false after a take-over from a dead owner, until {@link #markConsistent()} */
    public boolean isConsistent() {
        return ((int) INT.getVolatile(segment, word + MUTEX_FLAGS) & LOCK_OWNER_DIED) == 0;
    }

    /** Clears the "owner died" mark. The caller checks that it holds the lock. */
    public void markConsistent() {
        INT.getAndBitwiseAnd(segment, word + MUTEX_FLAGS, ~LOCK_OWNER_DIED);
    }

    /** @return how many times the mutex was taken over from a dead owner */
    public long recoveries() {
        return (long) LONG.getVolatile(segment, word + MUTEX_RECOVERIES);
    }

    private int block(int step, int w, long maxBlockNanos) {
        if (step >= BLOCK_STEP && (w & LOCK_WAITERS) == 0) {
            if (!INT.compareAndSet(segment, word, w, w | LOCK_WAITERS)) {
                return step; // the word changed: look again at once
            }
            w |= LOCK_WAITERS;
        }
        return Waits.idle(step, segment, word, w, maxBlockNanos);
    }

    private void claim() {
        // opaque: read only by diagnostics and liveness checks of other processes
        LONG.setOpaque(segment, word + MUTEX_OWNER_START, ProcessIdentity.currentStartMillis());
        LONG.setOpaque(segment, word + MUTEX_OWNER_THREAD, Thread.currentThread().threadId());
    }

    /** Replaces the word of a dead owner by {@code replacement} and marks the data inconsistent. */
    private boolean takeOverIfOwnerDead(int w, int replacement) {
        int pid = w & LOCK_PID_MASK;
        if (pid == PID) {
            return false; // another thread of this live process
        }
        long start = (long) LONG.getOpaque(segment, word + MUTEX_OWNER_START);
        if (ProcessIdentity.isAlive((long) pid << 32 | start & 0xFFFF_FFFFL)) {
            return false;
        }
        if (!INT.compareAndSet(segment, word, w, replacement)) {
            return false;
        }
        INT.getAndBitwiseOr(segment, word + MUTEX_FLAGS, LOCK_OWNER_DIED);
        LONG.getAndAdd(segment, word + MUTEX_RECOVERIES, 1L);
        LONG.setOpaque(segment, word + MUTEX_HELD_SINCE, 0L);
        return true;
    }

    private void noteHeldSince() {
        LONG.compareAndSet(segment, word + MUTEX_HELD_SINCE, 0L, System.currentTimeMillis());
    }
}
