package org.shm4j.sync.internal;

import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.Backoff;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.locks.LockOwner;
import org.shm4j.sync.locks.SharedLock;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.LOCK_ENTERING;
import static org.shm4j.sync.internal.SyncLayout.LOCK_OWNER_DIED;
import static org.shm4j.sync.internal.SyncLayout.LOCK_PID_MASK;
import static org.shm4j.sync.internal.SyncLayout.LOCK_WAITERS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_FLAGS;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_HELD_SINCE;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_OWNER_THREAD;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_RECOVERIES;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_SIZE;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_SLEEPERS_MASK;
import static org.shm4j.sync.internal.SyncLayout.MUTEX_WORD;

/**
 * The robust futex mutex behind {@link org.shm4j.sync.SharedLock} (and {@code SharedReentrantLock}), the write side of
 * {@link org.shm4j.sync.SharedReadWriteLock} and the consumers' turn of an MPMC {@link org.shm4j.sync.SharedRing}:
 * 40 bytes (see the layout table of {@code SharedLock}) holding a 64-bit lock word with the owner process's pid and
 * start time, the owner thread, the time a waiter first saw it held, a flag for "the previous owner died" and a
 * take-over count.
 *
 * <p>Algorithm: a futex mutex in the style of Drepper's "Futexes Are Tricky" (mutex, take 2). The locked state is the
 * owner's <em>process word</em> (pid in the low half, start time in the high half), so a waiter can tell from one
 * atomic read whether the owner is alive, with no window in which the two disagree; bit 30 means "a waiter may be
 * blocked". Blocked waiters sleep in futex on a separate {@link WakeWord} (bytes 20..23), so that a holder that
 * releases and re-takes the lock word does not end their wait. A thread that has blocked once acquires with the
 * waiters bit set if others are counted there, since they may still be blocked; this costs at most one spurious
 * wake.
 *
 * <p>Release by store ({@link #ASYMMETRIC}). In a process registered for {@link Membarrier}, a release reads the word
 * (opaque: only a waiter's bit can change it while this process holds it), and if it is exactly this process's word,
 * frees it with a release store, then reads the wake word and wakes through it if it counts sleepers; a word with the
 * waiters bit takes the CAS path's slow branch. No atomic instruction and no fence: on x86 the CPU may let that read of
 * the wake word pass the store, so a waiter that counted itself just then can be missed. Waiters make up for it ({@link
 * WakeWord#sleep}): once counted they look at the lock word again, their first futex sleep lasts at most {@link
 * WakeWord#FIRST_SLEEP_NANOS} and is followed by another look, and before sleeping past {@link
 * WakeWord#UNFENCED_SLEEP_NANOS} they call {@link Membarrier#barrier()}, after which every release made before it is
 * visible to them (in another process, every one the kernel reaches: see {@link Membarrier}), while every release after
 * it reads their count. The cost of a fence moves from every release to a waiter's long sleep (2-50 µs, once per sleep
 * that no wake ended within 10 ms); in the two-thread benchmark, where wakes come within microseconds, and in the 2 ms
 * lock hand-off, no barrier is made at all. A waker takes the count of the sleepers the kernel reports woken off the
 * wake word itself, so that the holder's next releases, which look at the count, do not wake them again while they are
 * on their way out of the kernel (see {@link WakeWord#wakeAfterRelease}). Processes with and without {@code membarrier}
 * share mutexes: the CAS release still wakes by the waiters bit, which a sleeper puts back on a hold that lacks it
 * after its first sleep and after its barrier, and every waiter, in either kind of process, looks at the word again
 * once counted and makes its first sleep short.
 *
 * <p>Costs: an uncontended acquire + release is one atomic where releases are stores (the CAS that takes the word; the
 * release's read of the word and of the wake word are on the same cache line), two where they are CASes (the second
 * after a read of the word, as the store release reads it), and three plain accesses to the owner thread field (record,
 * check, clear), each method reading the segment field once into a local (re-reading the field after each atomic makes
 * the JIT check the segment again). A lock object calls the static {@link #tryAcquire(MemorySegment, long)} and {@link
 * #release(MemorySegment, long, boolean, String)} on a segment it holds itself: going through this object's field is
 * one more dependent load in each of lock and unlock (about 3.5 ns a lock + unlock on the bench machine).
 * A contended acquire first reads the word a few times ({@value #SPINS}, as {@code ReentrantLock} retries a few times
 * before it parks), which leaves the holder's cache line shared rather than taking it away, and stops at once when
 * the waiters bit shows that others already block. A longer spin lets a waiter take the mutex in the instant between
 * a holder's release and its next acquire, and each read makes the holder fetch its line again: with two threads
 * taking turns, a spin of up to 256 reads measured 21-26 ops/µs in ten runs, 4 reads 26-31 in six runs on a quiet
 * machine and 76-84 in five while other work ran (the README has the figures). Only a condition's signalled waiter,
 * whose signaller releases soon, spins longer ({@value #AFTER_SIGNAL_SPINS} reads, {@link #acquireAfterSignal()}).
 * Then it blocks until woken (the releaser wakes a waiter only if the waiters bit was set, and clears the bit; a
 * woken waiter that finds the mutex taken again, as a running thread may re-take it first, naps up to
 * {@link #NAP_NANOS} unannounced, then sets the bit again and blocks again: see {@link #block}). With two threads
 * taking turns, the wake word and the nap took the lock from a median of 32.8 ops/µs (15.9-73.9 in nine runs,
 * bimodal) to 71.5 (36.5-75.4 in seven): the holder now runs alone while the waiter sleeps, where before the
 * waiter's futex waits nearly all returned {@code EAGAIN} and each cost the holder a wake call.
 *
 * <p>Invariants: word != 0 iff the mutex is held; the owner thread field is written only by the owner, after its CAS
 * and before its release (so a thread that did not lock sees 0 or another key there, never its own); heldSince is
 * set only by a waiter that announced itself with the waiters bit and cleared by a releaser that saw that bit or a
 * count of sleepers, so the uncontended path does not touch it, and reads the wake word only when it releases with
 * a store. A blocked waiter wakes at least every {@link #LIVENESS_NANOS} to check the owner's liveness, its deadline
 * and its interrupt status. An owner process that closed its last view of the heap the mutex lies in counts as dead
 * ({@link HeapMappings#isPresent}: it can no longer reach the memory); the take-over from it is bracketed by
 * {@link HeapMappings#beginTakeOver} and its end, so that it cannot take a hold the same process made after opening
 * the heap again.
 *
 * <p>A hold left by a live process. A {@link StackOverflowError} can strike at any call, also one in a {@code finally}:
 * a release that it cuts short before the word is free, or an acquire that it cuts short after the CAS that took the
 * word, leaves the word this process's, named by the thread or by none, with no thread left to release it; other
 * processes take it for a live holder's, for as long as this process lives. So, in the library's own structures (not
 * users' locks: see {@code notesLeaks}), the acquire's own steps after the CAS, and the callers' catches around their
 * releases, note such a hold in {@link #leaked} with a field store (a call from a frame whose stack just overflowed
 * overflows again), and the next acquire through this object that finds the word held takes the hold over as from a
 * dead owner ({@link #takeOverLeaked}): at once if it would wait, else at its liveness check. The steps of a release
 * after the word is free (its wake) swallow such an error: the release is done, and a waiter that missed the wake looks
 * again within {@link #LIVENESS_NANOS}. So a noted hold is one that no thread can free meanwhile: only its take-over
 * does. A hold left through another object of this process (another view, another {@code open} of the structure) waits
 * for that object's next acquire.
 *
 * <p>Deadlock detection (when built with a {@link DeadlockWatch}) runs only in the blocked waiter's liveness check:
 * {@link #tryAcquire()} and the first attempt of {@link #acquire} are unchanged by it.
 *
 * <p>The owner thread field holds a {@link ThreadKeys thread key} (the thread id with the process's pid folded in),
 * since thread ids repeat across JVMs: with the bare id, a thread of this process with the id of another process's
 * owner matched the field. A stray unlock by such a thread cleared the field and put it back, which made the true
 * holder's unlock fail in that instant (an outside sweep saw 2-9 failed unlocks a minute with a stray unlock looping
 * in another process; since then a release also reads the word as this process's before it writes the field); and
 * right after a take-over's CAS, until the taker recorded its thread, such a thread of the taking-over process
 * counted as the holder of the dead owner's hold (the same sweep saw a reader refused as the write lock's holder once
 * in about 810 s of kills). A key written by another process never equals one of this process's.
 *
 * <p>Entering. A read-write lock's writer mutex may be held by a thread that has not entered what the lock guards,
 * and may never: a writer waiting for readers to leave, a reader clearing its stale writer flag. Its word then has
 * {@link SyncLayout#LOCK_ENTERING} (bit 31) set, so a take-over from a dead holder whose word has it neither marks the
 * data inconsistent nor counts a recovery. The reader takes the word with the bit set by the same CAS ({@link
 * #tryAcquireEntering}) and releases it from that state, so its death is never a holder's at any instant; a writer
 * sets the bit by an atomic or once it finds readers in ({@link #markEntering()}) and clears it by an atomic and once
 * they left ({@link #clearEntering()}), or releases from that state if they do not leave in time. Before version 8 of
 * the read-write lock the mark was a separate word, written after the CAS: a reader killed between the two was taken
 * for a dead holder (a kill test saw it once in 40 rounds). Every other mutex's word has bit 31 clear.
 */
public final class RobustMutex {
    /** How often a waiter checks that the owner process lives. */
    public static final long LIVENESS_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle LEAKED;

    static {
        try {
            LEAKED = MethodHandles.lookup().findVarHandle(RobustMutex.class, "leaked", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final int BLOCK_STEP = Backoff.PARK_FROM;
    /** How many times a contended acquire reads the word before it blocks. */
    private static final int SPINS = 4;
    /** The same for a waiter its holder just signalled, and will release soon: see {@link #acquireAfterSignal()}. */
    private static final int AFTER_SIGNAL_SPINS = 256;
    /**
     * How long a woken waiter that finds the mutex taken again waits unannounced before it announces itself again:
     * see {@link #block}.
     */
    private static final long NAP_NANOS = TimeUnit.MICROSECONDS.toNanos(50);
    /**
     * How long a release whose freeing access met its view closed watches the word through another view before it
     * takes the word for still its own (see {@link ClosedViewRelease#nameHolderOnceSettled}): a thread that took the
     * word meanwhile names itself a few nanoseconds after its CAS, unless it is descheduled between the two.
     */
    static final long SETTLE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /** The longest park between two looks of that watch, after a short spin. */
    static final long SETTLE_LOOK_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    /**
     * True if this process releases with a store and a read instead of a CAS (see the class doc): it is registered
     * for {@link Membarrier}, so a waiter in any process can make this process's stores visible before it sleeps.
     */
    static final boolean ASYMMETRIC = Membarrier.isAvailable();
    private static final long PID = ProcessHandle.current().pid() & LOCK_PID_MASK;
    /** This process's locked word: its token's start bits high (never 0: see {@link ProcessIdentity}), pid low. */
    private static final long LOCKED = (ProcessIdentity.currentToken() & 0xFFFF_FFFFL) << 32 | PID;
    /** This process's locked word renamed as a gone holder's: {@link ProcessIdentity#abandonedToken()}'s start bits. */
    private static final long ABANDONED = (ProcessIdentity.abandonedToken() & 0xFFFF_FFFFL) << 32 | PID;
    /** What the static acquires name a mutex in the messages of a release through another view (none is thrown). */
    private static final String TAKEN_BY_A_LOCK_CALL = "a mutex taken by a lock call";
    /** The bits of a held word that do not name its owner: a waiter's, and an entering holder's. */
    private static final long STATE_BITS = LOCK_WAITERS | LOCK_ENTERING;

    /** The mutex's own 40 bytes: every access below is at a constant offset, which the JIT checks more cheaply. */
    private final MemorySegment segment;

    /** Publishes long waits for deadlock detection; null if this mutex's waits take no part. */
    private final DeadlockWatch watch;
    /** What the mutex guards, for messages ("ring 'jobs' consumers"). */
    private final String description;
    /** The owner check of callers that give up before their wait's own check comes. */
    private final GiveUpCheck giveUps = new GiveUpCheck();
    /**
     * True while a hold that a thread of this process left through this object waits for its take-over (see the class
     * documentation): set by the acquire's steps after its CAS and by a holder's catch around its release when a
     * {@link StackOverflowError} cut them short, cleared by {@link #takeOverLeaked}. Public and written with a field
     * store, not a call, by the holder's catch: a call there would overflow the stack again. Of releases, only one cut
     * short before the word is free may set it (see {@link #release(boolean, String)}); the acquire's steps set it
     * only with the word taken and only where {@code notesLeaks}.
     */
    public volatile boolean leaked;
    /**
     * Whether the acquire's own steps note a hold in {@link #leaked}: only for the library's structures (made with the
     * three-argument constructor), whose callers never release after an acquire that threw. A user's lock (made with a
     * {@link DeadlockWatch} argument, null or not) notes nothing: its user may release a hold that
     * {@code isHeldByCurrentThread()} reports after such an error, and the note would then take the next holder's.
     */
    private final boolean notesLeaks;

    /**
     * A mutex whose waits take no part in deadlock detection.
     *
     * @param segment     memory holding the mutex
     * @param base        offset of the mutex's 40 bytes, 8-byte aligned
     * @param description what the mutex guards, for messages ("ring 'jobs' consumers")
     */
    public RobustMutex(MemorySegment segment, long base, String description) {
        this(segment, base, description, null, true);
    }

    /**
     * A user's lock: its acquire notes no hold in {@link #leaked} (see {@code notesLeaks}).
     *
     * @param segment     memory holding the mutex
     * @param base        offset of the mutex's 40 bytes, 8-byte aligned
     * @param description what the mutex guards, for messages ("lock 'orders'")
     * @param watch       deadlock detection for its long waits, or null for none (a lock wrapped over raw memory)
     */
    public RobustMutex(MemorySegment segment, long base, String description, DeadlockWatch watch) {
        this(segment, base, description, watch, false);
    }

    private RobustMutex(MemorySegment segment, long base, String description, DeadlockWatch watch,
            boolean notesLeaks) {
        Waits.prepare(); // the native wait calls linked now, not in a lock's first timed wait
        this.segment = segment.asSlice(base, MUTEX_SIZE);
        this.watch = watch;
        this.description = description;
        this.notesLeaks = notesLeaks;
    }

    /**
     * Checks the mutex's 40 bytes for states no valid mutex has, so that a damaged one is refused when it is opened.
     * There is no magic (all-zero bytes are a free mutex); instead: a held word names a pid (bits 0..29 not all 0),
     * has bit 31 clear and start bits (32..63) not all 0, which no process writes (see {@link ProcessIdentity}): one
     * damaged byte in a free word makes such a word, whose pid, 1 say, may never die; flags have no bit but
     * {@link SyncLayout#LOCK_OWNER_DIED}; the wake word has bit 31 clear (any count and sequence are valid); thread
     * id, heldSince and recoveries are not negative. Any other lock word is a possible owner: if its process is not
     * running, the next waiter takes the mutex over as from a dead owner (as it does a word damaged into start bits 0
     * after the check).
     *
     * @param what the structure and the mutex's role in it, for the message
     * @throws org.shm4j.core.ShmFormatException if a field holds a value no valid mutex has
     */
    public static void check(MemorySegment segment, long base, String what) {
        check(segment, base, what, false);
    }

    /**
     * {@link #check(MemorySegment, long, String)} for a mutex whose held word may also have
     * {@link SyncLayout#LOCK_ENTERING} set, if {@code entering} (a read-write lock's writer mutex).
     */
    public static void check(MemorySegment segment, long base, String what, boolean entering) {
        checkWord(segment, base + MUTEX_WORD, what, entering);
        checkFlags(segment, base + MUTEX_FLAGS, what);
        WakeWord.check(segment, base, what);
        checkNotNegative(segment, base + MUTEX_OWNER_THREAD, "owner thread", what);
        checkNotNegative(segment, base + MUTEX_HELD_SINCE, "heldSince", what);
        checkNotNegative(segment, base + MUTEX_RECOVERIES, "recoveries", what);
    }

    /**
     * @throws org.shm4j.core.ShmFormatException if the long at {@code offset} is neither 0 nor a lock word (see
     *                                           {@link #check})
     */
    private static void checkWord(MemorySegment segment, long offset, String what, boolean entering) {
        long word = (long) LONG.getVolatile(segment, offset); // one read: the word is checked as a whole
        long stateBits = entering ? STATE_BITS : LOCK_WAITERS;
        if (word != 0 && !ProcessIdentity.isWellFormed(ownerToken(word))
                || (word & 0xFFFF_FFFFL & ~(LOCK_PID_MASK | stateBits)) != 0) {
            String bit31 = entering ? "bit 31 the entering bit" : "bit 31 clear";
            throw Blocks.corrupt(what, "lock word", "0x" + Long.toHexString(word),
                    "0, or a pid in bits 0..29, " + bit31 + " and start stamp bits 32..63 not all 0");
        }
    }

    /**
     * @throws org.shm4j.core.ShmFormatException if the lock flags (int) at {@code offset} have a bit but
     *                                           {@link SyncLayout#LOCK_OWNER_DIED}
     */
    public static void checkFlags(MemorySegment segment, long offset, String what) {
        int flags = (int) INT.getVolatile(segment, offset);
        if ((flags & ~LOCK_OWNER_DIED) != 0) {
            throw Blocks.corrupt(what, "flags", flags, "0 or " + LOCK_OWNER_DIED);
        }
    }

    /**
     * @throws org.shm4j.core.ShmFormatException if the long at {@code offset}, a count, id or time, is negative
     */
    public static void checkNotNegative(MemorySegment segment, long offset, String field, String what) {
        long value = (long) LONG.getVolatile(segment, offset);
        if (value < 0) {
            throw Blocks.corrupt(what, field, value, ">= 0");
        }
    }

    /** @return true if the mutex was free and is now held by the current thread */
    public boolean tryAcquire() {
        return takeAndClaim(LOCKED);
    }

    /**
     * Takes the free word as {@code locked} and names the current thread in the owner field; notes the hold in
     * {@link #leaked} if a {@link StackOverflowError} strikes between the two (the caller's call then throws, and no
     * thread of this process would release the word).
     *
     * @return true if the mutex was free and is now held by the current thread
     */
    private boolean takeAndClaim(long locked) {
        if (!take(segment, 0, locked, description)) { // the successful CAS is the linearization point
            return false;
        }
        try {
            claimTaken();
        } catch (StackOverflowError e) {
            leaked = notesLeaks; // loads and a store, not a call: see leaked
            throw e;
        }
        return true;
    }

    /**
     * The uncontended acquire of the mutex at {@code base} in {@code s}, for a lock that holds its segment itself:
     * each object between the caller and the segment is one more dependent load, repeated after every atomic.
     *
     * @param base a constant where the caller inlines it, so that every offset below is one
     * @return true if the mutex was free and is now held by the current thread
     */
    public static boolean tryAcquire(MemorySegment s, long base) {
        if (take(s, base, LOCKED, TAKEN_BY_A_LOCK_CALL)) { // the successful CAS is the linearization point
            claimTaken(s, base, TAKEN_BY_A_LOCK_CALL);
            return true;
        }
        return false;
    }

    /**
     * The acquire of a thread that will not enter what the mutex guards (a read-write lock's reader clearing its stale
     * writer flag): the CAS that takes the word also sets {@link SyncLayout#LOCK_ENTERING}, so a take-over from it at
     * any instant until its {@link #release} finds nothing to repair.
     *
     * @return true if the mutex was free and is now held by the current thread, entering
     */
    public static boolean tryAcquireEntering(MemorySegment s, long base) {
        if (take(s, base, LOCKED | LOCK_ENTERING, TAKEN_BY_A_LOCK_CALL)) {
            claimTaken(s, base, TAKEN_BY_A_LOCK_CALL);
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
     * @throws org.shm4j.sync.locks.DeadlockException if the wait closed a cycle of waits and was chosen to break it
     */
    public boolean acquire(long timeoutNanos, boolean interruptible) throws InterruptedException {
        return tryAcquire() || acquireContended(timeoutNanos, interruptible, SPINS, NAP_NANOS);
    }

    /**
     * {@link #acquire} for a lock whose own {@link #tryAcquire(MemorySegment, long)} has just failed: it goes on with
     * the spin and the wait, without a second CAS on the holder's cache line first.
     */
    public boolean acquireContended(long timeoutNanos, boolean interruptible) throws InterruptedException {
        return acquireContended(timeoutNanos, interruptible, SPINS, NAP_NANOS);
    }

    /**
     * Acquires the mutex for a condition's waiter that the holder has just signalled: the holder releases soon, so
     * this spins up to {@value #AFTER_SIGNAL_SPINS} reads of the word before it blocks (a plain acquire spins
     * {@value #SPINS}); woken and blocked again, a condition hand-off costs two futex round trips instead of one.
     * Waits for ever and is not interruptible, as {@code Condition.await} re-acquires its lock.
     */
    public void acquireAfterSignal() {
        try {
            if (!tryAcquire()) {
                acquireContended(-1, false, AFTER_SIGNAL_SPINS, 0); // no nap: see block
            }
        } catch (InterruptedException impossible) {
            throw new AssertionError(impossible);
        }
    }

    /**
     * @throws IllegalMonitorStateException if the current thread holds the mutex: it is not reentrant, and a wait
     *                                      would be for itself (a try, which does not wait, is refused too)
     */
    public void refuseHolder() {
        if (isHeldByCurrentThread()) {
            throw new IllegalMonitorStateException(description + ": already held by this thread, and not reentrant");
        }
    }

    /**
     * The slow path of {@link #acquire}: spins while the holder may soon release, then blocks (announced by the
     * waiters bit), takes over from a dead owner, publishes a long wait.
     */
    private boolean acquireContended(long timeoutNanos, boolean interruptible, int spins, long napNanos)
            throws InterruptedException {
        if (leaked && takeOverLeaked()) {
            return true;
        }
        refuseHolder();
        if (timeoutNanos != 0 && spin(spins)) {
            return true;
        }
        MemorySegment s = segment;
        long start = System.nanoTime();
        long nextLivenessCheck = start + LIVENESS_NANOS;
        int step = BLOCK_STEP; // the spin is over: each step blocks, and a step past it has blocked once
        DeadlockWatch.Wait published = null; // set once the wait is longer than the detection threshold
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        boolean taken = false;
        try {
            while (true) {
                int wakes = WakeWord.read(s, 0); // before the word: see WakeWord
                long w = (long) LONG.getVolatile(s, MUTEX_WORD);
                if (w == 0) {
                    // others may still be blocked: counted, or (uncounted) when the count is full
                    long locked = step > BLOCK_STEP && WakeWord.countsSleepers(wakes) ? LOCKED | LOCK_WAITERS : LOCKED;
                    taken = takeAndClaim(locked);
                    if (taken) {
                        return true;
                    }
                    continue;
                }
                if (Thread.interrupted()) {
                    if (interruptible) {
                        passOnWakeIfSlept(step);
                        throw new InterruptedException();
                    }
                    interrupted = true; // see Backoff.takeInterrupt
                }
                long now = System.nanoTime();
                if (now - nextLivenessCheck >= 0) {
                    nextLivenessCheck = now + LIVENESS_NANOS;
                    taken = takeOverIfOwnerDead(w, 0L);
                    if (taken) {
                        return true;
                    }
                    if (watch != null) {
                        published = pollDeadlocks(published, now - start, step);
                    }
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
                if (left <= 0) {
                    taken = giveUps.due(now) && takeOverIfOwnerDead(w, 0L); // a wait too short for the check above
                    if (!taken) {
                        passOnWakeIfSlept(step);
                    }
                    return taken;
                }
                step = block(step, w, wakes, Math.min(left, nextLivenessCheck - now), napNanos);
            }
        } finally {
            try {
                DeadlockWatch.end(published);
                Backoff.restoreInterrupt(interrupted);
            } catch (StackOverflowError e) {
                if (taken) {
                    leaked = notesLeaks; // the acquire throws with the word taken: see leaked
                }
                throw e;
            }
        }
    }

    /**
     * Reads the word up to {@code spins} times while the holder may release soon (reading, not writing, so that the
     * holder keeps its cache line); gives up at once if others are already blocked, to queue behind them.
     *
     * @return true if the current thread now holds the mutex
     */
    private boolean spin(int spins) {
        MemorySegment s = segment;
        for (int i = 0; i < spins; i++) {
            Thread.onSpinWait();
            long w = (long) LONG.getOpaque(s, MUTEX_WORD); // opaque: a hint; the CAS below decides
            if (w == 0) {
                if (takeAndClaim(LOCKED)) {
                    return true;
                }
            } else if ((w & LOCK_WAITERS) != 0) {
                return false;
            }
        }
        return false;
    }

    /**
     * Takes the mutex over for the current thread if it is held by a process that died (one liveness check), for a
     * caller whose timed {@link #acquire} ran out before the periodic check came.
     *
     * @return true if the current thread now holds it, taken over (the data is then marked inconsistent)
     */
    public boolean takeOverIfOwnerDead() {
        long w = (long) LONG.getVolatile(segment, MUTEX_WORD);
        return w != 0 && takeOverIfOwnerDead(w, 0L);
    }

    /**
     * For a caller that found the mutex taken and gives up without waiting: takes it over if its owner died, checked
     * at most once per {@link #LIVENESS_NANOS} for this view (see {@link GiveUpCheck}).
     *
     * @return true if the current thread now holds it, taken over (the data is then marked inconsistent)
     */
    public boolean takeOverOnGiveUp() {
        return giveUps.due(System.nanoTime()) && takeOverIfOwnerDead();
    }

    /**
     * Frees the mutex if its owner died (one liveness check): takes it over, which marks the data inconsistent, and
     * releases it, waking every waiter. The take-over keeps the dead owner's entering bit on the word until the
     * release: this thread enters nothing either, so if it dies in between, the next take-over finds nothing to
     * repair where the dead owner left nothing (without the bit, a read-write lock's reader killed there left its
     * lock marked inconsistent, and a recovery counted, for a writer that never entered).
     *
     * @return true if it did
     */
    public boolean clearIfOwnerDead() {
        long w = (long) LONG.getVolatile(segment, MUTEX_WORD);
        return w != 0 && clearIfOwnerDead(w);
    }

    private boolean clearIfOwnerDead(long w) {
        if (!takeOverIfOwnerDead(w, w & LOCK_ENTERING)) {
            return false;
        }
        try {
            release(true, "a mutex taken over from a dead owner");
        } catch (StackOverflowError e) {
            leaked = notesLeaks; // loads and a store, not a call: see leaked
            throw e;
        }
        return true;
    }

    /**
     * Marks the current thread, which holds the mutex, as not yet in what it guards (a writer waiting for readers to
     * leave): if its process dies before {@link #clearEntering()} (or before a {@link #release} from this state), the
     * take-over finds nothing to repair, so it neither marks the data inconsistent nor counts a recovery. An atomic
     * or on the word, since a waiter may add its bit meanwhile; a death between the acquire and this still counts as
     * a holder's.
     */
    public void markEntering() {
        LONG.getAndBitwiseOr(segment, MUTEX_WORD, LOCK_ENTERING);
    }

    /**
     * Ends {@link #markEntering()}: from now on a take-over from this owner marks the data inconsistent. An atomic and,
     * a full fence: the caller's writes to what the mutex guards cannot come before it.
     */
    public void clearEntering() {
        LONG.getAndBitwiseAnd(segment, MUTEX_WORD, ~LOCK_ENTERING);
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
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                int wakes = WakeWord.read(segment, 0); // before the word: see WakeWord
                long w = (long) LONG.getVolatile(segment, MUTEX_WORD);
                if (w == 0) {
                    return true;
                }
                interrupted |= Backoff.takeInterrupt(interruptible);
                long now = System.nanoTime();
                if (now - nextLivenessCheck >= 0) {
                    nextLivenessCheck = now + LIVENESS_NANOS;
                    if (clearIfOwnerDead(w)) {
                        return true;
                    }
                }
                long left = timeoutNanos < 0 ? Long.MAX_VALUE : timeoutNanos - (now - start);
                if (left <= 0) {
                    return giveUps.due(now) && clearIfOwnerDead(w); // a wait too short for the check above
                }
                step = block(step, w, wakes, Math.min(left, nextLivenessCheck - now), NAP_NANOS);
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * Releases the mutex and wakes blocked waiters, if any. If the heap view holding it was closed under the holder
     * and this process keeps another view of the heap open, releases it through that view, marked inconsistent (see
     * {@link ClosedViewRelease}), and still throws. A release that a closed view cut short after it cleared the
     * owner field names the caller there again first, at once or, if it met the close at the access that frees the
     * word, once the word settled (see {@link #release(MemorySegment, long, boolean, String)}). A
     * {@link StackOverflowError} it throws left the word held, by no thread that will release it: the caller's catch
     * sets {@link #leaked} before it rethrows ({@code catch (StackOverflowError e) { m.leaked = true; throw e; }}).
     *
     * @param wakeAll wake every waiter (readers wait here too) rather than one
     * @throws IllegalMonitorStateException if the current thread does not hold it
     * @throws IllegalStateException        if the mutex's memory is closed
     */
    public void release(boolean wakeAll, String what) {
        try {
            release(segment, 0, wakeAll, what);
        } catch (IllegalStateException closed) {
            ClosedViewRelease.release(segment, wakeAll, what, closed); // if another view of the heap is open here
            throw closed;
        }
    }

    /**
     * {@link #release(boolean, String)} for a holder whose work right after its acquire failed before it entered its
     * own {@code try}/{@code finally} (a structure's lock method reading its repair state, which meets a view closed
     * meanwhile): a failure of the release is added to {@code failure}, which the caller throws.
     *
     * @param failure what the holder met
     */
    public void releaseAfter(Throwable failure, boolean wakeAll, String what) {
        try {
            release(wakeAll, what);
        } catch (RuntimeException releaseFailed) {
            failure.addSuppressed(releaseFailed);
        }
    }

    /**
     * {@link #acquire} for a structure whose every update a dead holder left whole (each a single store, or
     * all-or-nothing with its state stored last): then clears the mark of a dead holder, as there is nothing to repair.
     * If that meets a view closed under the holder, releases the mutex as {@link #releaseAfter} does and throws. The
     * mark is cleared in this frame, not by a call the caller makes after the acquire: a {@link StackOverflowError} at
     * the entry of such a call would leave the mutex held with nothing noted in {@link #leaked}; here one that cuts
     * the check short is caught, and one that then cuts the release short (before the word is free: see
     * {@link #release(boolean, String)}) is noted.
     *
     * @param timeoutNanos  how long to wait, or a negative value for ever
     * @param interruptible whether an interrupt ends the wait
     * @param what          the structure, for the release's messages
     * @return false if the timeout passed first
     * @throws InterruptedException if {@code interruptible} and the thread is interrupted while waiting
     */
    public boolean acquireWhole(long timeoutNanos, boolean interruptible, String what) throws InterruptedException {
        if (!acquire(timeoutNanos, interruptible)) {
            return false;
        }
        try {
            if (!isConsistent()) {
                markConsistent();
            }
        } catch (RuntimeException | Error e) {
            try {
                releaseAfter(e, false, what);
            } catch (StackOverflowError again) {
                leaked = notesLeaks; // loads and a store, not a call: see leaked
            }
            throw e;
        }
        return true;
    }

    /**
     * Releases the mutex at {@code base} in {@code s} (see {@link #tryAcquire(MemorySegment, long)}) and wakes
     * blocked waiters, if any.
     *
     * <p>A view that another thread closed once the word was free does not fail the release, nor does a
     * {@link StackOverflowError} there: it is done, and a waiter that missed the wake looks at the word again within
     * {@link #LIVENESS_NANOS}. So a release that throws {@code StackOverflowError} left the word the caller's (a
     * stack bang is monotonic: the calls inside the freeing access after its store are shallower than the store's
     * own, and cannot overflow where it did not). A close met before the
     * access that frees the word left the word held, by the caller: one met after the release cleared the owner field
     * names the caller there again through another open view of the heap, if this process has one, so that the holder
     * (of a user's lock: its unlock threw) can still release it through that view. The JDK may report a close met at
     * the freeing access itself after the access took effect, when another thread may have taken the word: the caller
     * is named again only if the word stays this process's, named by no thread, for {@link #SETTLE_NANOS} (see
     * {@link ClosedViewRelease}); else the release threw but took effect, and the caller holds nothing.
     *
     * @param wakeAll wake every waiter (readers wait here too) rather than one
     * @throws IllegalMonitorStateException if the current thread does not hold it
     * @throws IllegalStateException        if the mutex's memory was closed before the word was free (or, reported
     *                                      late, at the access that freed it: see above)
     */
    public static void release(MemorySegment s, long base, boolean wakeAll, String what) {
        // opaque: a thread of the holding process writes its own key there only while it holds the word
        if ((long) LONG.getOpaque(s, base + MUTEX_OWNER_THREAD) != ThreadKeys.current()) {
            throw notHeld(s, base, what);
        }
        // the caller holds the word from here on, until it is free
        if (clearOwnerIfLocked(s, base)) {
            freeCleared(s, base, wakeAll, what);
        } else {
            releaseContended(s, base, wakeAll, what);
        }
    }

    /**
     * The clearing phase of {@link #release(MemorySegment, long, boolean, String)}, once the owner field names the
     * current thread: clears the field if the word is exactly this process's (not a damaged field that matches).
     * A close met here leaves the word the caller's: see {@link #stillHeld}.
     *
     * @return true if the word is this process's with no state bits, and the field is now 0
     */
    static boolean clearOwnerIfLocked(MemorySegment s, long base) {
        try { // not on the fast path: the handler costs it nothing
            // opaque, not volatile: if this process holds the word, only a waiter's bit can change it meanwhile (see
            // the class doc); opaque so that a word another process holds is never read as an older value of ours
            if ((long) LONG.getOpaque(s, base + MUTEX_WORD) != LOCKED) {
                return false;
            }
            // opaque: the owner's own field; the release store or CAS of freeCleared orders it before the next owner's
            LONG.setOpaque(s, base + MUTEX_OWNER_THREAD, 0L);
            return true;
        } catch (IllegalStateException closed) {
            throw stillHeld(s, base, closed);
        }
    }

    /**
     * The freeing phase of {@link #release(MemorySegment, long, boolean, String)}, after {@link #clearOwnerIfLocked}:
     * frees the word and wakes. A close met at the freeing access names the caller again only once the word settled
     * ({@link #heldOnceSettled}); met after it, it is swallowed: the release is done.
     */
    static void freeCleared(MemorySegment s, long base, boolean wakeAll, String what) {
        if (ASYMMETRIC) {
            try {
                LONG.setRelease(s, base + MUTEX_WORD, 0L); // release: publishes the guarded data, frees the word
            } catch (IllegalStateException closed) {
                throw heldOnceSettled(s, base, closed);
            }
            try {
                // a compiler barrier (no instruction on x86; HotSpot keeps every memory access on its side of a
                // fence): the wake word is read after the store above. The CPU may still let that read pass the
                // store: a sleeper's membarrier covers that (WakeWord.sleep), instead of a StoreLoad fence here.
                VarHandle.releaseFence();
                int wakes = WakeWord.readAfterRelease(s, base);
                if (WakeWord.countsSleepers(wakes)) {
                    LONG.setOpaque(s, base + MUTEX_HELD_SINCE, 0L); // opaque: diagnostics, as in releaseContended
                    WakeWord.wakeAfterStore(s, base, wakes, wakeAll);
                }
            } catch (IllegalStateException | StackOverflowError onceFree) {
                // the release is done: see release
            }
            return;
        }
        boolean freed;
        try {
            // volatile: releases the guarded data; fails if a waiter set its bit meanwhile
            freed = LONG.compareAndSet(s, base + MUTEX_WORD, LOCKED, 0L);
        } catch (IllegalStateException closed) {
            throw heldOnceSettled(s, base, closed);
        }
        if (!freed) {
            releaseContended(s, base, wakeAll, what); // a failed CAS wrote nothing: the word is still the caller's
        }
    }

    /**
     * For a release by the holder that met its view closed by another thread before the access that frees the word:
     * the release throws, so its caller still holds the mutex (a user's unlock that throws left the lock held, which
     * its holder may then unlock through another view), but if the release had cleared the owner field, the word named
     * no thread, which no release could then free. Names the current thread again through another open view of the
     * heap, if this process has one and the field is 0: sound only before the freeing access, while no other thread
     * can take the word.
     *
     * @return {@code closed}
     */
    static IllegalStateException stillHeld(MemorySegment s, long base, IllegalStateException closed) {
        ClosedViewRelease.nameHolderAgain(s.asSlice(base, MUTEX_SIZE));
        return closed;
    }

    /**
     * For a release by the holder whose access that frees the word met its view closed by another thread: the JDK may
     * report the close after the access took effect, when another thread of this process may have taken the word and
     * not yet named itself. Names the current thread again as {@link #stillHeld} does only once the word stayed this
     * process's, named by no thread, for {@link #SETTLE_NANOS} (see {@link ClosedViewRelease#nameHolderOnceSettled}).
     *
     * @return {@code closed}
     */
    static IllegalStateException heldOnceSettled(MemorySegment s, long base, IllegalStateException closed) {
        ClosedViewRelease.nameHolderOnceSettled(s.asSlice(base, MUTEX_SIZE), SETTLE_NANOS);
        return closed;
    }

    /**
     * The slow path of {@link #release}: the waiters bit or the entering bit is set, or the word is not this
     * process's (a damaged owner field: then nothing is written). A close met before the swap leaves the word the
     * caller's ({@link #stillHeld}); met at the swap, it names the caller again only once the word settled, as in
     * {@link #freeCleared}.
     */
    private static void releaseContended(MemorySegment s, long base, boolean wakeAll, String what) {
        try {
            long w = (long) LONG.getVolatile(s, base + MUTEX_WORD);
            if ((w & ~STATE_BITS) != LOCKED) {
                throw notHeld(s, base, what); // another process holds it or nobody does: the field was damaged
            }
            // opaque: the swap below orders it before the next owner's
            LONG.setOpaque(s, base + MUTEX_OWNER_THREAD, 0L);
        } catch (IllegalStateException closed) {
            throw stillHeld(s, base, closed);
        }
        // only waiters change the word while we hold it, and only by adding their bit: the word is LOCKED with
        // WAITERS, or ENTERING (released from that state: the holder never entered), or both
        try {
            LONG.getAndSet(s, base + MUTEX_WORD, 0L); // volatile: releases the guarded data
        } catch (IllegalStateException closed) {
            throw heldOnceSettled(s, base, closed);
        }
        try {
            // opaque: diagnostics only; a waiter of the next owner may lose its note, never keep a stale one long
            LONG.setOpaque(s, base + MUTEX_HELD_SINCE, 0L);
            WakeWord.wakeAfterRelease(s, base, wakeAll);
        } catch (IllegalStateException | StackOverflowError onceFree) {
            // the release is done: see release
        }
    }

    private static IllegalMonitorStateException notHeld(MemorySegment s, long base, String what) {
        return new IllegalMonitorStateException(what + " is not held by this thread; held by "
                + owner(s, base).map(LockOwner::toString).orElse("nobody"));
    }

    /**
     * @param what the lock, for the message
     * @throws IllegalMonitorStateException if the current thread does not hold the mutex, saying who does
     */
    public void requireHeldByCurrentThread(String what) {
        requireHeldByCurrentThread(segment, 0, what);
    }

    /**
     * {@link #requireHeldByCurrentThread(String)} for the mutex at {@code base} in {@code s}.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold the mutex, saying who does
     */
    public static void requireHeldByCurrentThread(MemorySegment s, long base, String what) {
        if (!isHeldByCurrentThread(s, base)) {
            throw notHeld(s, base, what);
        }
    }

    /** @return true if the current thread holds the mutex */
    public boolean isHeldByCurrentThread() {
        return isHeldByCurrentThread(segment, 0);
    }

    /**
     * @return true if the current thread holds the mutex at {@code base} in {@code s} (see
     *         {@link #tryAcquire(MemorySegment, long)})
     */
    public static boolean isHeldByCurrentThread(MemorySegment s, long base) {
        long w = (long) LONG.getVolatile(s, base + MUTEX_WORD);
        return (w & ~STATE_BITS) == LOCKED
                // opaque: only this thread writes its own key there, so a stale value cannot be its own
                && (long) LONG.getOpaque(s, base + MUTEX_OWNER_THREAD) == ThreadKeys.current();
    }

    /** @return true if held */
    public boolean isHeld() {
        return (long) LONG.getVolatile(segment, MUTEX_WORD) != 0;
    }

    /** @return who holds the mutex now, if anyone */
    public Optional<LockOwner> owner() {
        return owner(segment, 0);
    }

    private static Optional<LockOwner> owner(MemorySegment s, long base) {
        long w = (long) LONG.getVolatile(s, base + MUTEX_WORD);
        if (w == 0) {
            return Optional.empty();
        }
        long pid = w & LOCK_PID_MASK;
        long key = (long) LONG.getOpaque(s, base + MUTEX_OWNER_THREAD); // opaque: diagnostics
        long thread = ThreadKeys.threadId(key, pid);
        // another process's key: a take-over between its CAS and its claim (or killed there) left the dead owner's
        // key and note, which say nothing of this owner (the take-over clears the note before it claims)
        long since = key != 0 && thread == 0 ? 0 : (long) LONG.getOpaque(s, base + MUTEX_HELD_SINCE); // opaque: as key
        return Optional.of(new LockOwner(pid, thread,
                since == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(since))));
    }

    /** @return false after a take-over from a dead owner, until {@link #markConsistent()} */
    public boolean isConsistent() {
        return ((int) INT.getVolatile(segment, MUTEX_FLAGS) & LOCK_OWNER_DIED) == 0;
    }

    /** Clears the "owner died" mark. The caller checks that it holds the lock. */
    public void markConsistent() {
        INT.getAndBitwiseAnd(segment, MUTEX_FLAGS, ~LOCK_OWNER_DIED);
    }

    /** @return how many times the mutex was taken over from a dead owner */
    public long recoveries() {
        return (long) LONG.getVolatile(segment, MUTEX_RECOVERIES);
    }

    /**
     * @return the blocked waiters the wake word counts (diagnostics: it also counts waiters killed while counted,
     *         which stay counted)
     */
    public int sleepers() {
        return WakeWord.read(segment, 0) & MUTEX_SLEEPERS_MASK;
    }

    /**
     * Announces a waiter (the waiters bit, then heldSince) once the spin is over, then sleeps one step on the wake
     * word ({@link WakeWord}: a holder that releases and re-takes the lock word does not end that sleep). A waiter
     * woken (or whose wait ended) that finds the mutex taken again first naps up to {@code napNanos} unannounced,
     * so that the holder's releases stay on their fast path; at worst the nap delays it by {@code napNanos} after a
     * release that saw no waiters bit. A condition's signalled waiter does not nap ({@code napNanos} 0): its
     * signaller releases soon, and in a hand-off through a condition each side waits for the other. (Condition
     * hand-offs measured 0.04-1.7 per µs with and without the nap, too widely to tell.)
     *
     * @param wakes    the wake word, read before the lock word {@code w}
     * @param napNanos how long a woken waiter naps before it announces itself again; 0 for no nap
     */
    private int block(int step, long w, int wakes, long maxBlockNanos, long napNanos) {
        if (napNanos > 0 && step > BLOCK_STEP && ((step - BLOCK_STEP) & 1) == 1) { // woken, taken again: nap first
            return WakeWord.nap(step, Math.min(napNanos, maxBlockNanos));
        }
        if (step < BLOCK_STEP) {
            return Backoff.idle(step, maxBlockNanos); // spins and yields: only counted sleepers wait on the wake word
        }
        if ((w & LOCK_WAITERS) == 0) {
            if (!LONG.compareAndSet(segment, MUTEX_WORD, w, w | LOCK_WAITERS)) {
                return step; // the word changed: look again at once
            }
        }
        if ((long) LONG.getOpaque(segment, MUTEX_HELD_SINCE) == 0) { // opaque: diagnostics
            LONG.compareAndSet(segment, MUTEX_HELD_SINCE, 0L, System.currentTimeMillis());
        }
        return WakeWord.sleep(segment, 0, step, wakes, w | LOCK_WAITERS, maxBlockNanos);
    }

    /** @return true if the mutex at {@code base} is held by this process, whatever its state bits (a volatile read) */
    static boolean isHeldByThisProcess(MemorySegment s, long base) {
        return isThisProcess((long) LONG.getVolatile(s, base + MUTEX_WORD));
    }

    /**
     * Renames this process's hold of the mutex at {@code base} of {@code s} as a gone holder's (its state bits kept),
     * for a process that opens again a heap it had closed: the hold is one its close left, held by no call, which the
     * next taker (in any process, this one too) takes over as a dead holder's, marked for repair unless it had not
     * entered (see {@code ReopenSweep}). A CAS, retried while only a waiter's bit changes the word: no other process
     * takes over the word of a process attached to the heap, and no thread of this one holds anything there yet.
     */
    public static void abandon(MemorySegment s, long base) {
        while (true) {
            long w = (long) LONG.getVolatile(s, base + MUTEX_WORD); // volatile: as the CAS after it
            if (!isThisProcess(w) || LONG.compareAndSet(s, base + MUTEX_WORD, w, ABANDONED | w & STATE_BITS)) {
                return;
            }
        }
    }

    /** @return true if the lock word {@code word} is held by this process, whatever its state bits */
    static boolean isThisProcess(long word) {
        return (word & ~STATE_BITS) == LOCKED;
    }

    /** @return true if the lock word of the mutex at {@code base} is {@code word} (a volatile read) */
    static boolean isWord(MemorySegment s, long base, long word) {
        return (long) LONG.getVolatile(s, base + MUTEX_WORD) == word;
    }

    /**
     * For a counted sleeper after its first sleep, and after {@link Membarrier#barrier()}: whether the mutex is still
     * held, with the waiters bit on its word (put back with a CAS if the hold lacks it: a releaser that frees with a
     * CAS wakes only then, and one that frees with a store reads the count only after it).
     *
     * @return false if the word is free or changed under the CAS: the sleeper looks again
     */
    static boolean isHeldAnnounced(MemorySegment s, long base) {
        long w = (long) LONG.getVolatile(s, base + MUTEX_WORD);
        return w != 0 && ((w & LOCK_WAITERS) != 0 || LONG.compareAndSet(s, base + MUTEX_WORD, w, w | LOCK_WAITERS));
    }

    /** {@link DeadlockWatch#poll}, passing a wake on (see {@link #passOnWakeIfSlept}) when it picks this waiter. */
    private DeadlockWatch.Wait pollDeadlocks(DeadlockWatch.Wait published, long waitedNanos, int step) {
        try {
            return watch.poll(published, waitedNanos); // throws to the victim of a deadlock
        } catch (RuntimeException victim) {
            passOnWakeIfSlept(step);
            throw victim;
        }
    }

    /**
     * For a waiter leaving {@link #acquireContended} without the mutex at {@code step}: if it slept, the wake that
     * ended its sleep may have been meant for the next sleeper; see {@link WakeWord#passOn}.
     */
    private void passOnWakeIfSlept(int step) {
        if (step > BLOCK_STEP) {
            WakeWord.passOn(segment, 0);
        }
    }

    /**
     * The CAS that takes the free word of the mutex at {@code base} in {@code s} as {@code locked}. The JDK may report
     * a close of this view met at the CAS after the CAS took the word, and the caller's call then throws without
     * knowing: {@link ClosedViewRelease#releaseIfTakenUnnamed} frees such a word through another open view.
     *
     * @param what the mutex, for the release's messages
     * @return true if the word was free and is now {@code locked}
     * @throws IllegalStateException if the mutex's memory is closed
     */
    private static boolean take(MemorySegment s, long base, long locked, String what) {
        try { // the handler costs the fast path nothing: it is not on it
            return LONG.compareAndSet(s, base + MUTEX_WORD, 0L, locked);
        } catch (IllegalStateException closed) {
            ClosedViewRelease.releaseIfTakenUnnamed(s.asSlice(base, MUTEX_SIZE), 0L, false, what, SETTLE_NANOS,
                    closed);
            throw closed;
        }
    }

    /**
     * The CAS that takes the word {@code w} of a dead owner over, with the waiters bit, in the mutex at {@code s}. The
     * JDK may report a close of this view met at the CAS after the CAS took the word: the word is then this process's
     * with the owner field still the dead owner's {@code deadKey}, which names no thread here, and the caller's call
     * throws without knowing. {@link ClosedViewRelease#releaseIfTakenUnnamed} frees such a word through another open
     * view, marked as the take-over marks it (else it stayed held for as long as this process kept a view: no thread
     * here could release it, and no other process takes a live process's word).
     *
     * @param deadKey  the owner field as the dead owner left it, read before the CAS
     * @param entering {@link SyncLayout#LOCK_ENTERING} to take the word as a holder that will not enter (see {@link
     *                 #clearIfOwnerDead()}), else 0
     * @return true if the word was {@code w} and is now this process's
     * @throws IllegalStateException if the mutex's memory is closed
     */
    static boolean takeOver(MemorySegment s, long w, long deadKey, long entering, String what) {
        try { // not on the fast path
            return LONG.compareAndSet(s, MUTEX_WORD, w, LOCKED | LOCK_WAITERS | entering);
        } catch (IllegalStateException closed) {
            // the dead owner had entered unless its word has the entering bit: marked for repair, as below
            ClosedViewRelease.releaseIfTakenUnnamed(s, deadKey, (w & LOCK_ENTERING) == 0, what, SETTLE_NANOS, closed);
            throw closed;
        }
    }

    private static void claim(MemorySegment s, long base) {
        // opaque: read by this thread on release and by diagnostics; the lock word orders it for the next owner
        LONG.setOpaque(s, base + MUTEX_OWNER_THREAD, ThreadKeys.current());
    }

    /**
     * @param word a lock word: the owner's pid in bits 0..29 (with the waiters bit above it), its start time bits in
     *             the high half
     * @return the same owner as a {@link ProcessIdentity} token (pid high, start time bits low); 0 for a free word
     */
    public static long ownerToken(long word) {
        return (word & LOCK_PID_MASK) << 32 | word >>> 32;
    }

    /**
     * Takes the mutex over from a dead owner for the current thread, with the waiters bit (others may be blocked),
     * and marks the data inconsistent, unless the dead owner's word has the entering bit (it never entered).
     *
     * @param entering {@link SyncLayout#LOCK_ENTERING} if the current thread will release the word without entering
     *                 and the dead owner's word has that bit (so that a death of this thread before its release is not
     *                 taken for a holder's either), else 0
     */
    private boolean takeOverIfOwnerDead(long w, long entering) {
        long owner = w & ~STATE_BITS;
        if (owner == LOCKED) {
            return leaked && takeOverLeaked(); // else another thread of this live process holds it
        }
        // dead, or closed the heap: cannot be inside; counted as taking over until the CAS (see beginTakeOver)
        MemorySegment takingOver = HeapMappings.beginTakeOver(segment, ownerToken(owner));
        if (takingOver == null) {
            return false;
        }
        long deadKey;
        boolean taken = false;
        try {
            // volatile, then the word again: the dead owner's key (or 0) if the word was still w after it, as no one
            // writes the field while the word is w; a key read after another thread's take-over would name that one
            deadKey = (long) LONG.getVolatile(segment, MUTEX_OWNER_THREAD);
            taken = (long) LONG.getVolatile(segment, MUTEX_WORD) == w
                    && takeOver(segment, w, deadKey, entering, description);
        } finally {
            if (!taken) {
                HeapMappings.endTakeOver(takingOver);
            }
        }
        if (!taken) {
            return false;
        }
        try {
            HeapMappings.endTakeOver(takingOver); // in here: an overflow in it leaves the word taken, noted below
            // opaque: diagnostics; the dead owner's note, cleared before the claim so that a taker killed after the
            // claim leaves none (until the claim, owner() reports no note beside the dead owner's key)
            LONG.setOpaque(segment, MUTEX_HELD_SINCE, 0L);
            VarHandle.storeStoreFence(); // two opaque stores to two places are not ordered without it (slow path)
            claim(segment, 0); // until then the owner field holds the dead owner's key, which no thread here matches
            if ((w & LOCK_ENTERING) == 0) { // it had entered
                markForRepair(segment, 0);
            }
        } catch (IllegalStateException closed) { // see claimTaken: marked through the other view instead
            ClosedViewRelease.releaseTaken(segment, deadKey, description, (w & LOCK_ENTERING) == 0, closed);
            throw closed;
        } catch (StackOverflowError e) {
            leaked = notesLeaks; // loads and a store, not a call: see leaked
            throw e;
        }
        return true;
    }

    /**
     * Takes over, for the current thread, the hold that {@link #leaked} notes (see the class documentation), if this
     * thread is the one that clears the note: names the current thread as the holder and marks the data
     * inconsistent as after a dead owner's hold (the thread may have stopped midway through what the mutex guards),
     * counting a recovery. A note whose word is no longer this process's (its view closed, and another process took
     * it over as a dead owner's) is dropped.
     *
     * @return true if the current thread now holds the mutex
     */
    private boolean takeOverLeaked() {
        if (!LEAKED.compareAndSet(this, true, false)) {
            return false;
        }
        try {
            if (!isHeldByThisProcess(segment, 0)) {
                return false;
            }
            claim(segment, 0);
            markForRepair(segment, 0);
        } catch (StackOverflowError e) {
            leaked = true; // the hold is still no thread's: noted again
            throw e;
        }
        return true;
    }

    /**
     * Marks what the mutex at {@code base} in {@code s} guards inconsistent, as after a dead holder that may have
     * stopped midway through it, and counts the recovery: for a holder that takes a hold over.
     */
    static void markForRepair(MemorySegment s, long base) {
        INT.getAndBitwiseOr(s, base + MUTEX_FLAGS, LOCK_OWNER_DIED);
        LONG.getAndAdd(s, base + MUTEX_RECOVERIES, 1L);
    }

    /**
     * Records the current thread as the holder of the word its CAS just took. If another thread closed this view
     * after the CAS, the word names this process but no thread of it, and the acquire throws, so no one would release
     * it: frees it through another open view of the heap ({@link ClosedViewRelease#releaseTaken}), then throws.
     *
     * @throws IllegalStateException if the mutex's memory is closed
     */
    private void claimTaken() {
        claimTaken(segment, 0, description);
    }

    /**
     * {@link #claimTaken()} for the mutex at {@code base} in {@code s}: the static acquires' (a user lock's fast path),
     * whose caller holds nothing when it throws either.
     *
     * @param what the mutex, for the release's messages
     */
    private static void claimTaken(MemorySegment s, long base, String what) {
        try {
            claim(s, base);
        } catch (IllegalStateException closed) { // the handler costs the fast path nothing: it is not on it
            // it entered nothing: nothing to repair. A slice of a closed segment still says where it lay
            ClosedViewRelease.releaseTaken(s.asSlice(base, MUTEX_SIZE), 0L, what, false, closed);
            throw closed;
        }
    }

    /**
     * Releases the mutex, which the current thread's acquire in this lock call took, through another open view of
     * the heap, not marked inconsistent, when the call's next step met this view closed by another thread (a
     * reentrant lock recording its first hold): the call throws, so its caller holds nothing and would never release
     * it (see {@link ClosedViewRelease#releaseTaken}). Does nothing if this process has no other open view.
     *
     * @param closed what the step met; a failure of the release is added to it
     */
    public void releaseTakenAfter(IllegalStateException closed) {
        ClosedViewRelease.releaseTaken(segment, 0L, description, false, closed); // its claim ran: the field is its
    }
}
