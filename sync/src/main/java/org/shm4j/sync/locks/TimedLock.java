package org.shm4j.sync.locks;

import org.shm4j.core.internal.Timeouts;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.DeadlockWatch;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.internal.WordWait;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.function.Supplier;

/**
 * The {@link Lock} methods every shm4j lock shares, built on one timed acquire: blocking, interruptible and timed
 * acquisition, a timed acquire that names the holder when it fails, and {@code withLock} helpers. Conditions are
 * not supported unless a subclass says so.
 */
abstract class TimedLock implements Lock {
    private final String description;
    private final DeadlockWatch watch; // null if the lock's waits take no part in deadlock detection
    private final MemorySegment.Scope memory;
    private final long address; // where the lock lies: a condition checks that it is used with its own lock

    /**
     * @param description what this lock is, for messages
     * @param watch       deadlock detection of its long waits, or null if they take no part (a wrapped lock)
     * @param memory      the memory the lock lives in, to tell a closed heap or segment in messages
     */
    TimedLock(String description, DeadlockWatch watch, MemorySegment memory) {
        this.description = description;
        this.watch = watch;
        this.memory = memory.scope();
        this.address = memory.address();
    }

    /** @return the address of the lock's memory in this process */
    final long address() {
        return address;
    }

    /** @return the deadlock detection of this lock's long waits, or null if they take no part */
    final DeadlockWatch watch() {
        return watch;
    }

    /**
     * Turns deadlock detection on or off for later waits through this view of the lock, in this process (it is on
     * unless the system property {@code shm4j.deadlockDetection} is {@code false}). A wait that takes no part is not
     * published, so no cycle through it is found. A lock wrapped over raw memory never takes part: this does nothing.
     */
    public void setDeadlockDetection(boolean enabled) {
        if (watch != null) {
            watch.setEnabled(enabled);
        }
    }

    /** @return true if this view's waits take part in deadlock detection (never for a lock wrapped over raw memory) */
    public boolean isDeadlockDetectionEnabled() {
        return watch != null && watch.isEnabled();
    }

    /**
     * @param timeoutNanos how long to wait, or a negative value for ever
     * @return true once acquired; false if the timeout passed first
     * @throws InterruptedException if {@code interruptible} and the thread is interrupted while waiting
     * @throws DeadlockException    if the wait closed a cycle of waits and was chosen to break it
     */
    abstract boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException;

    /** @return what this lock is, for messages */
    final String description() {
        return description;
    }

    /**
     * @return what this lock is and who holds it: {@code "lock 'orders' held by pid 7, thread 3"} (a reentrant
     *         lock adds its hold count) or {@code "lock 'orders' (free)"}; once its memory is closed, that it is
     *         (the JDK's locks say {@code [Locked by thread main]} or {@code [Unlocked]})
     */
    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(memory, description,
                () -> description + holder().map(o -> " held by " + o + heldNote()).orElse(" (free)"));
    }

    /** @return what {@link #toString()} adds after the holder of a held lock: nothing here */
    String heldNote() {
        return "";
    }

    /** @return who holds the lock, for messages */
    abstract Optional<LockOwner> holder();

    /**
     * Releases the lock.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold it
     */
    abstract void release();

    @Override
    public void lock() {
        try {
            acquire(-1, false);
        } catch (InterruptedException impossible) {
            throw new AssertionError(impossible);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Takes the lock if that needs no waiting.
     *
     * <p>Does not wait, but for one case: when another thread of this process closes the heap view this lock lives
     * in during the call, the call throws {@link IllegalStateException}, and if the close met the CAS that takes the
     * lock (the JDK may report it after the CAS took effect) while this process keeps another view of the heap open,
     * the call first watches the lock through that view for up to 100 ms, parked (an interrupt does not end the watch,
     * and stays set): another thread of this process whose CAS took the lock names itself within that bound and keeps
     * it, else the lock this call's CAS may have taken is given back. The watch ends at once if the lock is free,
     * another process's, or held by a named thread.
     */
    @Override
    public boolean tryLock() {
        try {
            return acquire(0, false);
        } catch (InterruptedException impossible) {
            throw new AssertionError(impossible);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    @Override
    public void lockInterruptibly() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        try {
            acquire(-1, true);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * As {@link Lock#tryLock(long, TimeUnit)}. A close of the heap view this lock lives in by another thread of this
     * process, met at the CAS that takes the lock, may make the call block up to 100 ms longer than {@code time}
     * before it throws {@link IllegalStateException}, as {@link #tryLock()} describes.
     */
    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        try {
            return acquire(WordWait.nanos(time, unit), true);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Takes the lock for a condition's waiter that its holder has just signalled, and will release soon: a lock may
     * spin longer here before it blocks. Waits for ever, not interruptibly, as {@link #lock()}.
     */
    void lockAfterSignal() {
        lock();
    }

    /**
     * Releases the lock for a condition's wait, entirely: a reentrant lock however many times the current thread
     * holds it. The caller has checked that it holds the lock.
     *
     * @return what {@link #reacquireAfterWait} restores: the hold count of a reentrant lock
     */
    int releaseForWait() {
        release();
        return 1;
    }

    /**
     * Takes the lock again at the end of a condition's wait, as {@link #lockAfterSignal()}, and restores the state
     * {@link #releaseForWait()} returned.
     */
    void reacquireAfterWait(int holds) {
        lockAfterSignal();
    }

    /**
     * Releases the lock and wakes a blocked waiter, if any.
     *
     * <p>Does not wait, but for one case, in the unlock that frees a {@link SharedLock}, a {@link SharedReentrantLock}
     * (its last hold) or a {@link SharedReadWriteLock}'s write lock: when another thread of this process closes the
     * heap view this lock lives in during the call, the call throws {@link IllegalStateException}, and if the close
     * met the access that frees the lock (the JDK may report it after the access took effect) while this process
     * keeps another view of the heap open, the call first watches the lock through that view for up to 100 ms, parked
     * (an interrupt does not end the watch, and stays set): if the lock stays this process's, held by no named thread,
     * the access did not free it, and the caller is named its holder again, to unlock it through another view; else
     * the lock was freed (another thread of this process that took it names itself within that bound) and the caller
     * holds nothing. The watch ends at once if the lock is free, another process's, or held by a named thread. A
     * {@link SharedFairLock}'s unlock and a read lock's do not watch. The same watch can run where these locks are
     * released inside another call: a {@link SharedCondition}'s await, which releases its lock before it sleeps,
     * and a read lock's acquire that clears a writer flag a dead process left (it takes and frees the writer's
     * mutex); each then may block up to 100 ms before it throws the close.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     * @throws IllegalStateException        if the heap or segment the lock lives in is closed
     */
    @Override
    public void unlock() { // not final: javac then gives the public subclasses a public bridge, which reflection calls
        // (Groovy, SpEL, bean tools); a final method of this package-private class gets none
        try {
            release();
        } catch (IllegalStateException | IllegalArgumentException e) { // IllegalMonitorStateException: passed on
            throw closedOr(e);
        }
    }

    /**
     * @return what a lock method throws for {@code failure}: a message naming this lock if the memory it lives in
     *         was closed, else {@code failure} itself. Only called from catch blocks: the hot paths pay nothing.
     */
    final RuntimeException closedOr(RuntimeException failure) {
        return Blocks.closedOr(failure, memory, closedMessage(description));
    }

    /** @return what a method of the lock {@code description} throws once the memory it lives in is closed */
    static String closedMessage(String description) {
        return description + " cannot be used: the heap or segment it lives in is closed";
    }

    /**
     * Runs the body of a method that reads the lock's state (not a hot path): once the memory the lock lives in is
     * closed, it throws an exception naming the lock, as {@code lock} and {@code unlock} do.
     *
     * @return what {@code body} returns
     */
    final <T> T whileOpen(Supplier<T> body) {
        try {
            return body.get();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e); // the message is made here only: building it up front allocated on every call
        }
    }

    /**
     * Acquires the lock or, after {@code timeout}, throws an exception that says who holds it.
     *
     * @throws LockTimeoutException if the lock is still not acquired after {@code timeout}
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public void lock(Duration timeout) throws InterruptedException {
        long nanos = Timeouts.nanos(timeout); // saturated: Duration.toMillis() overflows for the longest ones
        if (!tryLock(nanos, TimeUnit.NANOSECONDS)) {
            throw new LockTimeoutException(description() + " not acquired within "
                    + TimeUnit.NANOSECONDS.toMillis(nanos) + " ms; held by "
                    + holder().map(LockOwner::toString).orElse("nobody now"));
        }
    }

    /**
     * Runs {@code action} holding the lock.
     *
     * <p>When another thread of this process closes the heap view this lock lives in while the call runs, the call
     * throws {@link IllegalStateException}, so its caller holds nothing: the hold the call took is given back through
     * another open view of the heap, if this process has one (else the process is gone from the heap, and other
     * processes take its holds over as a dead owner's). It is marked as a dead owner's hold is, since the close may
     * have cut {@code action} short: the next holder finds {@code isConsistent()} false and {@code recoveries()}
     * higher (by one; by two if a second view closes during the give-back), repairs, and calls
     * {@code markConsistent()}. A reentrant lock's holds taken before the call stay the thread's, unmarked.
     *
     * @throws IllegalStateException if the heap or segment the lock lives in is closed
     */
    public void withLock(Runnable action) {
        Objects.requireNonNull(action, "action"); // before the lock is taken
        int outer = holdsBeforeWithLock();
        lock();
        try {
            action.run();
        } finally {
            unlockInWithLock(outer);
        }
    }

    /**
     * Runs {@code action} holding the lock, as {@link #withLock(Runnable)} (a close that cuts the call short included).
     *
     * @return what {@code action} returns
     */
    public <T> T withLock(Supplier<T> action) {
        Objects.requireNonNull(action, "action"); // before the lock is taken
        int outer = holdsBeforeWithLock();
        lock();
        try {
            return action.get();
        } finally {
            unlockInWithLock(outer);
        }
    }

    /** @return the current thread's holds of this lock before a {@code withLock} call takes its own: 0 here */
    int holdsBeforeWithLock() {
        return 0;
    }

    /**
     * Unlocks the hold a {@code withLock} call took, as {@link #unlock()}. A lock that can give its hold back through
     * another view of its heap when a close cut the call short overrides it: the call throws, so its caller holds
     * nothing and would never unlock.
     *
     * @param outer what {@link #holdsBeforeWithLock()} returned before the call took its hold
     */
    void unlockInWithLock(int outer) {
        unlock();
    }

    /**
     * Not supported by the read lock of a {@link SharedReadWriteLock}, the one lock here that is not exclusive, as a
     * condition needs: {@link SharedLock}, {@link SharedReentrantLock}, {@link SharedFairLock} and the write lock have
     * them.
     */
    @Override
    public Condition newCondition() {
        throw new UnsupportedOperationException(description() + " has no conditions (a condition needs an exclusive "
                + "lock: SharedLock, SharedReentrantLock, SharedFairLock and the write lock of SharedReadWriteLock "
                + "have them)");
    }
}
