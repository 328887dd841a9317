package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.DeadlockWatch;
import org.shm4j.sync.internal.FairClosedView;
import org.shm4j.sync.internal.FairTurns;
import org.shm4j.sync.internal.FairWord;
import org.shm4j.sync.internal.GiveUpCheck;
import org.shm4j.sync.internal.ProcessSlots;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.ThreadKeys;
import org.shm4j.sync.internal.WaitLayout;
import org.shm4j.sync.internal.Waits;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.FAIR_FLAGS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_HELD_SINCE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_OWNER_THREAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_PROCESSES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_QUEUE;
import static org.shm4j.sync.internal.SyncLayout.FAIR_RECOVERIES_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.FAIR_TAKEN;
import static org.shm4j.sync.internal.SyncLayout.FAIR_TICKET_MASK;
import static org.shm4j.sync.internal.SyncLayout.FAIR_WORD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;

/**
 * A first-come, first-served lock in shared memory (a ticket lock) for the threads of every process that maps it,
 * that survives the death of its owner and of its waiters. Like {@link SharedLock} otherwise: not reentrant,
 * conditions ({@link #newCondition()}), futex waits where native access is enabled, owner death reported through
 * {@link #isConsistent()}.
 *
 * <h2>Layout (heap block type {@code 0x53480022} v4, 1600 bytes, 64-aligned)</h2>
 * Version 3 counted the blocked waiters at 8 (each undid its count on leaving, so a waiter killed while counted made
 * every later contended unlock wake); version 2 wrote a ticket slot's ticket before its token, and reclaimed process
 * slots without marking them ({@link ProcessSlots#RECLAIMING}); older blocks are refused.
 * <table class="striped">
 * <caption>SharedFairLock block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>ticket word: serving ticket (bits 0..19), taken (bit 20), next ticket (bits 32..51);
 *     while taken, the holder's owner bits (process slot and an 18-bit hash of its token) in bits 21..31 and 52..63
 *     (see {@code FairWord}); its low 32 bits (native order) are the futex word waiters block on</td>
 *     <td>CAS (acquire when taking, release when passing on)</td></tr>
 * <tr><td>8</td><td>4</td><td>waiters flag: 1 once a waiter about to block in futex on the ticket word announced
 *     itself, 0 once a pass of the turn took that announcement</td><td>waiters: volatile load, then a volatile store
 *     of 1 if 0; passers: an atomic swap to 0 before the CAS that passes, a volatile load after it</td></tr>
 * <tr><td>12</td><td>4</td><td>flags: bit 0 = an owner died holding the lock</td><td>atomic or/and</td></tr>
 * <tr><td>16</td><td>8</td><td>recoveries: take-overs from dead owners</td><td>atomic add</td></tr>
 * <tr><td>24</td><td>8</td><td>heldSinceMillis: when a waiter first saw the owner holding it, 0 if none</td>
 *     <td>opaque, set by CAS</td></tr>
 * <tr><td>32</td><td>8</td><td>ownerThread: the owner's thread key (as {@code SharedLock}'s: thread id XOR (pid
 *     &lt;&lt; 33)), 0 when free</td><td>opaque</td></tr>
 * <tr><td>40</td><td>24</td><td>zero</td><td></td></tr>
 * <tr><td>64</td><td>512</td><td>32 process slots of 16 bytes: owner token (long: pid in bits 62..32, low 32 bits
 *     of the start stamp (see {@code SharedLock}); 0 = free; bit 63 set: that process is reclaiming the slot of a
 *     dead one) and two int counters, unused (0)</td><td>volatile, claimed by CAS</td></tr>
 * <tr><td>576</td><td>1024</td><td>64 ticket slots of 16 bytes, slot {@code ticket % 64}: a waiter's token (0 =
 *     empty, 1 = abandoned by a waiter that timed out) and its ticket (int)</td><td>volatile; the token is written
 *     before the ticket, read after it</td></tr>
 * </table>
 *
 * <h2>Protocol</h2>
 * Uncontended, a thread takes the lock with one CAS on the ticket word that hands out the next ticket, takes its turn
 * and writes its process's owner bits, all at once (only when the lock is free and no ticket is out), and unlocks
 * with one CAS that passes the turn on. Otherwise a thread takes a ticket with a CAS (only while fewer than 64 are
 * out, else it waits), writes its token into the ticket's slot, and waits until its ticket is served; it then takes
 * the turn with a CAS that sets the taken bit and its owner bits. Because taking and skipping are both CASes on the
 * ticket word, exactly one of them wins. A waiter that gives up (timeout, interrupt) marks its slot abandoned and is
 * skipped at once when its turn comes; until then its ticket stays out. So first-come, first-served holds for up to
 * 64 tickets out, live or given up: while 64 are out (say 60 waiters gave up during one long hold), a newcomer waits
 * for a ticket, and newcomers waiting for tickets get them in no set order. A taken turn whose owner bits name a dead
 * process (or a process slot that no longer holds it) is
 * skipped within about 50 ms and the lock is marked inconsistent, as in {@link SharedLock}; a turn not yet taken is
 * skipped within about 50 ms if its ticket slot shows a dead process, and after 1 s if its slot was never written
 * (its taker died between taking a ticket and writing its slot). After skipping a dead process's turn a waiter
 * checks the next turn's process at once, so the later turns of dead processes (one process's many queued threads,
 * killed; or many processes) are skipped in about one period in all. Every waiter applies these rules to the serving
 * turn, including one waiting for a ticket while all 64 are out: so a queue whose every ticket is dead is emptied by
 * the next blocking or timed locker (the untimed {@code tryLock()} skips only abandoned turns). A live thread that
 * finds its turn skipped takes a new ticket. At most 32 live processes use one fair lock (one process slot each,
 * kept until the process exits, even after it closed the heap; a dead process's slot is reclaimed).
 *
 * <p>Blocking. A waiter past its spin (for its turn, or for a ticket while 64 are out) reads the ticket word, sets
 * the waiters flag, then sleeps in futex while the word's low half is unchanged, at most until its next liveness
 * check (about 50 ms); it never clears the flag. Whoever passes the turn on (an unlock with tickets out
 * beside its own, or a skip) first takes the flag (clears it by an atomic swap), then passes the turn with its CAS,
 * then wakes every sleeper if it took the flag or the flag is set again. A waiter whose announcement was erased read
 * the word before, and the word changes after, so its wait ends at once and it announces itself again; a pass whose
 * CAS fails sets a flag it took again and wakes the sleepers. A waiter that timed out or was killed leaves the flag
 * set: the next contended unlock clears it with one spare wake-up, and the ones after it pay none.
 *
 * <p>A closed view. A lock call that another thread's close of the heap view it went through cuts short throws;
 * while this process keeps another view of the heap open (never taken for gone), what the call left is finished
 * through that view ({@link FairClosedView}): a turn its CAS had taken is passed on and a ticket it waited with is
 * given up, since its caller holds nothing; an unlock that throws leaves the lock its caller's (named again as the
 * holder if the unlock had cleared that field), to unlock through the other view. A {@code withLock} call whose
 * unlock throws so holds nothing either: its turn is passed on through the other view, and the lock marked
 * inconsistent ({@link #isConsistent()} false for the next holder, {@link #recoveries()} higher), since the close
 * may have cut its action short too. Once the process has closed its last view, others take what it held over as a
 * dead process's; if it opens the heap again first, that open renames what it held as a gone process's, so the
 * next locker (in any process, the thread that held it too) skips a turn it held, marking the lock inconsistent and
 * counting a recovery, and skips a ticket it waited with as given up.
 *
 * <p>Memory consistency effects: as for {@link SharedLock}.
 */
public final class SharedFairLock extends TimedLock {
    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private static final String KIND = "fair lock";

    private final MemorySegment segment;
    private final ProcessSlots processes;
    private final SharedHeap heap; // where newCondition() finds the lock's conditions; null if wrapped
    private final String name; // null if wrapped
    private final NewConditions conditions = new NewConditions();
    /** The liveness check of callers that give up before their wait's own check comes. */
    private final GiveUpCheck giveUps = new GiveUpCheck();
    /** This process's owner bits, 0 until its process slot is claimed (on first lock); the same in every thread. */
    private volatile long me;
    /**
     * The ticket word the last take through this view set. Plain: written by the taking thread while it holds the
     * lock, and trusted by a releasing thread only through a CAS that expects this very word (its ticket numbers make
     * it unique to one take), so a stale value is harmless.
     */
    private long heldWord;
    /**
     * The idle ticket word this view's last release left, or 0 (a new lock): if nobody used the lock since, the
     * uncontended lock's CAS expects it without reading the word first. Plain: a stale value only fails that CAS.
     */
    private long idleGuess;

    /** Outcome of waiting for a turn. */
    private enum Turn { TAKEN, SKIPPED, TIMED_OUT }

    private SharedFairLock(MemorySegment segment, String description, SharedHeap heap, String name) {
        super(description, DeadlockWatch.of(heap, segment, WaitLayout.KIND_FAIR, description), segment);
        Waits.prepare(); // the native wait calls linked now, not in the first timed wait
        FairTurns.Waiter.initialize(); // here, shallow: a wait must not be the first to initialize it
        this.processes = new ProcessSlots(segment, FAIR_PROCESSES_OFFSET, description);
        FairWord.check(segment, processes, description);
        this.segment = segment;
        this.heap = heap;
        this.name = name;
    }

    /** Creates a free fair lock named {@code name} in {@code heap}. */
    public static SharedFairLock create(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedFairLock(Blocks.create(heap, name, SyncLayout.FAIR_LOCK,
                SyncLayout.FAIR_SIZE, s -> { }), KIND + " '" + name + "'", heap, name));
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
        return Blocks.opening(heap, () -> new SharedFairLock(Blocks.open(heap, name, SyncLayout.FAIR_LOCK,
                SyncLayout.FAIR_SIZE, KIND), KIND + " '" + name + "'", heap, name));
    }

    /** Opens the fair lock named {@code name}, or creates it free. */
    public static SharedFairLock openOrCreate(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedFairLock(Blocks.openOrCreate(heap, name, SyncLayout.FAIR_LOCK,
                SyncLayout.FAIR_SIZE, s -> { }), KIND + " '" + name + "'", heap, name));
    }

    /**
     * Views the {@value org.shm4j.sync.internal.SyncLayout#FAIR_SIZE} bytes at {@code offset} of a native segment as
     * a fair lock; all-zero bytes are a free lock. There is no magic, so the bytes are checked for states no fair lock
     * has: more than {@value org.shm4j.sync.internal.SyncLayout#FAIR_QUEUE} tickets out, a taken turn with no ticket
     * out, owner bits on a turn not taken, flags other than bit 0, a waiters flag other than 0 or 1, negative
     * recoveries, heldSince or thread id, a process or ticket slot token that is neither 0, 1 (abandoned, ticket slots
     * only) nor a pid, a negative slot ticket or counter, or a non-zero byte where the layout has none.
     *
     * @throws IllegalArgumentException          if the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException         if the bytes are not inside the segment
     * @throws org.shm4j.core.ShmFormatException if the bytes hold a state no fair lock has
     */
    public static SharedFairLock wrap(MemorySegment segment, long offset) {
        MemorySegment slice = Blocks.wrapped(Blocks.wrap(segment, offset, SyncLayout.FAIR_SIZE, Long.BYTES, KIND),
                SyncLayout.FAIR_LOCK);
        return new SharedFairLock(slice, Blocks.describe(KIND, slice.address()), null, null);
    }

    /**
     * Returns a new condition of this lock, as {@code new ReentrantLock(true).newCondition()} does, numbered as
     * {@link SharedMutex#newCondition()} numbers a lock's: the first call on this lock object returns the
     * {@link SharedCondition} named {@code "<lock name>.condition"} in the lock's heap, the {@code n}-th
     * {@code "<lock name>.condition.<n>"}. A signalled waiter takes its turn in the lock's queue again, behind the
     * threads queued before it.
     *
     * @throws UnsupportedOperationException if this lock was wrapped over raw memory
     */
    @Override
    public SharedCondition newCondition() {
        if (heap == null) {
            throw new UnsupportedOperationException(description() + " is not in a heap: it has no condition");
        }
        return conditions.next(KIND, name, named -> whileOpen(() -> SharedCondition.openOrCreate(heap, named, this)));
    }

    /**
     * Takes the lock only if it is free and nobody waits: barging is not allowed.
     *
     * <p>Does not wait, but for one case: when another thread of this process closes the heap view this lock lives
     * in during the call, the call throws {@link IllegalStateException}, and if the close met the CAS that takes the
     * lock (the JDK may report it after the CAS took effect) while this process keeps another view of the heap open,
     * the call first watches the lock through that view for up to 100 ms, parked (an interrupt does not end the watch,
     * and stays set): another thread of this process whose CAS took the lock names itself within that bound and keeps
     * it, else the lock this call's CAS may have taken is given back. The watch ends at once if the lock is free,
     * another process's, or held by a named thread.
     *
     * @throws IllegalMonitorStateException if the current thread holds the lock (not reentrant), as {@link #lock()}
     */
    @Override
    public boolean tryLock() {
        try {
            if (tryTakeIdle()) {
                return true;
            }
            refuseHolder();
            FairTurns.skipAbandonedTurns(segment);
            if (tryTakeIdle()) {
                return true;
            }
            long now = System.nanoTime();
            return giveUps.due(now) && skipDeadTurns(now) && tryTakeIdle();
        } catch (IllegalStateException | IllegalArgumentException failure) {
            throw closedOr(failure);
        }
    }

    /**
     * For a caller giving up (see {@link GiveUpCheck}): passes on the serving turns of dead processes, as a waiter's
     * liveness check does.
     *
     * @return true if it passed one on
     */
    private boolean skipDeadTurns(long now) {
        FairTurns.Waiter waiter = FairTurns.Waiter.waiter(segment, now);
        try {
            boolean skipped = false;
            for (int i = 0; i < FAIR_QUEUE
                    && waiter.skipIfGone((long) LONG.getVolatile(segment, FAIR_WORD_OFFSET), now, true); i++) {
                skipped = true;
            }
            return skipped;
        } finally {
            waiter.clear();
        }
    }

    /**
     * The uncontended lock: one CAS that takes a ticket, its turn and names this process, if no ticket is out; first
     * without reading the word, expecting the one this view's last release left (nobody used the lock since).
     */
    private boolean tryTakeIdle() {
        MemorySegment s = segment;
        long owner = me();
        return takeIdle(s, idleGuess, owner)
                || takeIdle(s, (long) LONG.getOpaque(s, FAIR_WORD_OFFSET), owner); // opaque: the CAS checks it
    }

    private boolean takeIdle(MemorySegment s, long word, long owner) {
        long taken = FairWord.takenBy(FairWord.withTicket(word), owner);
        if (!FairWord.isIdle(word)) {
            return false;
        }
        try { // the handler is not on the fast path: it costs it nothing
            if (!LONG.compareAndSet(s, FAIR_WORD_OFFSET, word, taken)) { // linearization point
                return false;
            }
        } catch (IllegalStateException closed) {
            // the JDK may report the close after the CAS took the turn; another thread of this process may take the
            // same turn with the same word, so the turn is watched before it is given back
            FairClosedView.giveBackIdleTake(s, taken);
            throw closed;
        }
        claim(s, taken);
        return true;
    }

    @Override
    void release() {
        MemorySegment s = segment;
        long current = ThreadKeys.current();
        long word = heldWord; // as the take through this view set it, unless tickets came or another view took it
        // opaque: a thread of the holding process writes its own key there only while it holds the word. Read
        // outside the handler: a caller not named there cleared nothing, and the handler must not name it
        if ((long) LONG.getOpaque(s, FAIR_OWNER_THREAD_OFFSET) == current) {
            try { // the handler is not on the fast path: it costs it nothing
                // opaque: never an older value of ours; read since this view may not be the one that took it
                if ((long) LONG.getOpaque(s, FAIR_WORD_OFFSET) == word) {
                    // opaque: diagnostics and the owner check; the release CAS below orders it before the next owner's
                    LONG.setOpaque(s, FAIR_OWNER_THREAD_OFFSET, 0L);
                    long passed = FairWord.passed(word);
                    boolean announced = FairTurns.takeAnnouncementBeforeRelease(s, word);
                    if (LONG.compareAndSet(s, FAIR_WORD_OFFSET, word, passed)) { // the release
                        idleGuess = passed;
                        FairTurns.afterPass(s, word, announced);
                        return;
                    }
                    FairTurns.restoreAnnouncement(s, announced);
                    LONG.setOpaque(s, FAIR_OWNER_THREAD_OFFSET, current); // opaque: as in claim
                }
            } catch (IllegalStateException closed) {
                throw stillHeld(word, closed);
            }
        }
        releaseChecked(s);
    }

    /**
     * The unlock of a {@code withLock} call: when another thread's close of this view cuts it short, the call throws,
     * so the hold it took must not outlive it. Through another open view of the heap, if this process has one and the
     * current thread still holds the lock there, the lock is marked inconsistent and its turn passed on to the next
     * ticket (see {@link FairClosedView#giveBackHold}).
     */
    @Override
    void unlockInWithLock(int outer) { // not reentrant: no outer hold
        try {
            unlock();
        } catch (IllegalStateException closed) {
            if (!segment.scope().isAlive()) { // not a damaged word's failure in an open view: that one is thrown
                FairClosedView.giveBackHold(segment, me());
            }
            throw closed;
        }
    }

    /** Releases after checking the holder in shared memory: taken through another view, or tickets came. */
    private void releaseChecked(MemorySegment s) {
        long word = (long) LONG.getVolatile(s, FAIR_WORD_OFFSET);
        if (!heldByCurrentThread(s, word)) {
            throw new IllegalMonitorStateException(description() + " is not held by this thread; held by "
                    + owner().map(LockOwner::toString).orElse("nobody"));
        }
        boolean passed;
        try {
            passed = FairTurns.passTaken(s, word); // the holder field cleared first
        } catch (IllegalStateException closed) {
            throw stillHeld(word, closed);
        }
        if (!passed) { // only tickets may come meanwhile: serving and owner are ours
            throw new IllegalStateException(description() + " was taken over while held by this live thread");
        }
    }

    /**
     * For an unlock of the turn taken in {@code word} that met this view closed by another thread: the unlock
     * throws, so its caller still holds the lock (unless the pass was done before the close was reported), which it
     * may unlock through another view of the heap: names it there again if the unlock had cleared the holder field.
     *
     * @return {@code closed}
     */
    private IllegalStateException stillHeld(long word, IllegalStateException closed) {
        FairClosedView.nameHolderAgain(segment, word);
        return closed;
    }

    /** @return true if the current thread holds the lock */
    public boolean isHeldByCurrentThread() {
        try { // not through whileOpen: a queued acquire and a condition call this, and its lambda would allocate
            return heldByCurrentThread(segment, (long) LONG.getVolatile(segment, FAIR_WORD_OFFSET));
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    private boolean heldByCurrentThread(MemorySegment s, long word) {
        return FairWord.taken(word) && FairWord.owner(word) == me()
                // opaque: only this thread writes its own key there, so a stale value cannot be its own
                && (long) LONG.getOpaque(s, FAIR_OWNER_THREAD_OFFSET) == ThreadKeys.current();
    }

    /** @return true if some thread of some process holds the lock */
    public boolean isLocked() {
        return FairWord.taken(word());
    }

    /**
     * @return the holder and the waiters with tickets: the tickets out, less those given up (a snapshot: each
     *         ticket's slot is read after the ticket word); threads waiting for a ticket while 64 are out are not
     *         counted
     */
    public int queueLength() {
        return whileOpen(() -> {
            long word = (long) LONG.getVolatile(segment, FAIR_WORD_OFFSET);
            return FairWord.out(word) - FairTurns.abandonedOut(segment, word);
        });
    }

    /** @return the ticket word, read volatile; named after this lock once its memory is closed */
    private long word() {
        return whileOpen(() -> (long) LONG.getVolatile(segment, FAIR_WORD_OFFSET));
    }

    /** @return who holds the lock now, if anyone (pid 0 if its process died and its process slot was reclaimed) */
    public Optional<LockOwner> owner() {
        return whileOpen(() -> {
            long word = (long) LONG.getVolatile(segment, FAIR_WORD_OFFSET);
            if (!FairWord.taken(word)) {
                return Optional.empty();
            }
            return Optional.of(FairWord.holder(segment, FairWord.holderToken(segment, 0, word)));
        });
    }

    /** @return false after the lock was taken over from a dead owner, until {@link #markConsistent()} */
    public boolean isConsistent() {
        return whileOpen(() -> ((int) INT.getVolatile(segment, FAIR_FLAGS_OFFSET) & LOCK_OWNER_DIED) == 0);
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
        whileOpen(() -> (int) INT.getAndBitwiseAnd(segment, FAIR_FLAGS_OFFSET, ~LOCK_OWNER_DIED));
    }

    /**
     * Returns how many times the lock was taken over from a dead owner. The waiter that skips a dead holder's turn
     * marks the lock, passes the turn on, then counts: one killed between the pass and the count (a few
     * instructions) held nothing, so that recovery is not counted, while the owner-died mark
     * ({@link #isConsistent()}) stays. (Counting before the pass would count twice when the skipper is killed before
     * it: the next waiter skips the same turn again.)
     *
     * @return the take-overs counted
     */
    public long recoveries() {
        return whileOpen(() -> (long) LONG.getVolatile(segment, FAIR_RECOVERIES_OFFSET));
    }

    @Override
    Optional<LockOwner> holder() {
        return owner();
    }

    @Override
    boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        return tryTakeIdle() || acquireQueued(timeoutNanos, interruptible); // small, so that it inlines
    }

    /** @throws IllegalMonitorStateException if the current thread holds the lock: it is not reentrant */
    private void refuseHolder() {
        if (isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException(description() + " is already held by this thread and is not "
                    + "reentrant");
        }
    }

    /** The slow path of {@link #acquire}: takes a ticket and waits for its turn. */
    private boolean acquireQueued(long timeoutNanos, boolean interruptible) throws InterruptedException {
        refuseHolder();
        long start = System.nanoTime();
        FairTurns.Waiter waiter = FairTurns.Waiter.waiter(segment, start);
        try {
            return acquireQueued(waiter, start, timeoutNanos, interruptible);
        } finally {
            waiter.clear();
        }
    }

    /** {@link #acquireQueued(long, boolean)} with this thread's {@code waiter}, reset for this wait. */
    private boolean acquireQueued(FairTurns.Waiter waiter, long start, long timeoutNanos, boolean interruptible)
            throws InterruptedException {
        while (true) {
            int ticket = takeTicket(waiter, start, timeoutNanos, interruptible);
            if (ticket < 0) {
                return false;
            }
            Turn turn;
            try {
                FairTurns.publishSlot(segment, ticket);
                turn = awaitTurn(waiter, ticket, start, timeoutNanos, interruptible);
            } catch (InterruptedException | RuntimeException e) {
                abandon(ticket);
                throw e;
            }
            switch (turn) {
                case TAKEN -> {
                    return true;
                }
                case TIMED_OUT -> {
                    abandon(ticket);
                    return false;
                }
                case SKIPPED -> {
                    // take a new ticket; the stale slot is overwritten by its next user (cleared only if it now
                    // names a later ticket beside this process's token: see FairTurns.unpublishSkipped)
                    FairTurns.unpublishSkipped(segment, ticket);
                }
            }
        }
    }

    /**
     * Gives up {@code ticket} (see {@link FairTurns#abandon}); through another open view of the heap if another
     * thread closed this one, which then throws: a ticket left out would hold back every later turn.
     */
    private void abandon(int ticket) {
        try {
            FairTurns.abandon(segment, ticket);
        } catch (IllegalStateException closed) {
            FairClosedView.abandon(segment, ticket);
            throw closed;
        }
    }

    /**
     * @return a ticket, or -1 if the timeout passed while 64 tickets were out. While they are, this thread applies
     *         the skip rule to the serving turn (every ticket may belong to a dead process, leaving nobody else to)
     *         and blocks, announced, until a pass or a skip changes the serving ticket, or the next liveness check
     * @throws InterruptedException if {@code interruptible} and the thread is interrupted while 64 tickets are out
     *                              (it holds no ticket yet: nothing to abandon)
     * @throws DeadlockException    if this wait closed a cycle of waits and was chosen to break it (no ticket either)
     */
    private int takeTicket(FairTurns.Waiter waiter, long start, long timeoutNanos, boolean interruptible)
            throws InterruptedException {
        MemorySegment s = segment;
        int step = 0;
        DeadlockWatch.Wait published = null; // a wait for a ticket is a wait for the holder too: see awaitTurn
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                long word = (long) LONG.getVolatile(s, FAIR_WORD_OFFSET);
                if (FairWord.out(word) < FAIR_QUEUE) {
                    if (LONG.compareAndSet(s, FAIR_WORD_OFFSET, word, FairWord.withTicket(word))) {
                        return FairWord.next(word);
                    }
                    continue;
                }
                interrupted |= Backoff.takeInterrupt(interruptible);
                long now = System.nanoTime();
                boolean livenessDue = waiter.livenessDue(now);
                if (livenessDue && watch() != null) {
                    published = watch().poll(published, now - start); // throws to the victim of a deadlock
                }
                if (waiter.skipIfGone(word, now, livenessDue)) {
                    continue;
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
                if (left <= 0) {
                    if (giveUps.due(now) && waiter.skipIfGone(word, now, true)) { // a wait too short for its check
                        continue;
                    }
                    return -1;
                }
                step = FairTurns.idle(s, step, (int) word, waiter.blockBound(now, left));
            }
        } finally {
            DeadlockWatch.end(published);
            Backoff.restoreInterrupt(interrupted);
        }
    }

    private Turn awaitTurn(FairTurns.Waiter waiter, int ticket, long start, long timeoutNanos, boolean interruptible)
            throws InterruptedException {
        int step = 0;
        DeadlockWatch.Wait published = null; // set once the wait is longer than the detection threshold
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                long word = (long) LONG.getVolatile(segment, FAIR_WORD_OFFSET);
                int turn = FairWord.serving(word);
                if (turn == ticket) {
                    if (takeOwnTurn(word, ticket)) {
                        return Turn.TAKEN;
                    }
                    continue;
                }
                if (((turn - ticket) & FAIR_TICKET_MASK) < FAIR_TAKEN >>> 1) {
                    return Turn.SKIPPED; // the turn passed us while we were presumed dead
                }
                interrupted |= Backoff.takeInterrupt(interruptible);
                long now = System.nanoTime();
                boolean livenessDue = waiter.livenessDue(now);
                if (livenessDue && watch() != null) {
                    published = watch().poll(published, now - start); // throws to the victim of a deadlock
                }
                if (waiter.skipIfGone(word, now, livenessDue)) {
                    continue;
                }
                if (step == Backoff.SPIN_STEPS && FairWord.taken(word)) {
                    LONG.compareAndSet(segment, FAIR_HELD_SINCE_OFFSET, 0L, System.currentTimeMillis());
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
                if (left <= 0) {
                    if (giveUps.due(now) && waiter.skipIfGone(word, now, true)) { // a wait too short for its check
                        continue;
                    }
                    return Turn.TIMED_OUT;
                }
                step = FairTurns.idle(segment, step, (int) word, waiter.blockBound(now, left));
            }
        } finally {
            DeadlockWatch.end(published);
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /** @return true if this waiter took its own turn {@code ticket}, served in {@code word}; false to look again */
    private boolean takeOwnTurn(long word, int ticket) {
        if (FairWord.taken(word)) { // only this waiter takes its own turn: the word was damaged
            throw new ShmFormatException(description() + " is corrupted: turn " + ticket
                    + " is marked taken while its ticket holder is still waiting");
        }
        long taken = FairWord.takenBy(word, me());
        boolean won;
        try { // not on the fast path
            won = LONG.compareAndSet(segment, FAIR_WORD_OFFSET, word, taken);
        } catch (IllegalStateException closed) {
            // the JDK may report the close after the CAS took the turn: only this waiter takes its own turn, so a
            // word taken so in another view is this call's take, which no one else would ever pass on
            throw givenBack(taken, closed);
        }
        if (!won) {
            return false;
        }
        claim(segment, taken);
        try {
            // the CAS is the linearization point; a skip would have failed it. A waiter's late note of the previous
            // holder is not ours: opaque, diagnostics
            if ((long) LONG.getOpaque(segment, FAIR_HELD_SINCE_OFFSET) != 0) {
                LONG.setOpaque(segment, FAIR_HELD_SINCE_OFFSET, 0L);
            }
        } catch (IllegalStateException closed) {
            throw givenBack(taken, closed);
        }
        return true;
    }

    /** @return this process's owner bits, claiming its process slot on first use */
    private long me() {
        long bits = me;
        if (bits == 0) {
            bits = FairWord.ownerBits(processes.mine(), ProcessIdentity.currentToken());
            me = bits;
        }
        return bits;
    }

    /** Records the current thread as the holder in shared memory, and {@code word} as this view's take. */
    private void claim(MemorySegment s, long word) {
        try { // the handler is not on the fast path: it costs it nothing
            // opaque: read by this thread on release and by diagnostics; the ticket word orders it for the next owner
            LONG.setOpaque(s, FAIR_OWNER_THREAD_OFFSET, ThreadKeys.current());
        } catch (IllegalStateException closed) {
            throw givenBack(word, closed);
        }
        heldWord = word;
    }

    /**
     * For a lock call whose CAS took the turn {@code taken} and which then met this view closed by another thread:
     * the call throws, so its caller holds nothing; passes the turn on through another open view of the heap.
     *
     * @return {@code closed}
     */
    private IllegalStateException givenBack(long taken, IllegalStateException closed) {
        FairClosedView.giveBackTurn(segment, taken);
        return closed;
    }
}
