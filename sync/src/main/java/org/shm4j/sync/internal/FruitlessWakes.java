package org.shm4j.sync.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Per process: for each {@link RobustMutex} (by address, in a small table where two may share a slot), the wake word
 * that this process's last wake through it left behind if that wake woke nobody, and when. A waiter killed while
 * counted in the wake word leaves its count there for good, and a release that frees the lock word with a store
 * ({@link RobustMutex#ASYMMETRIC}) wakes whenever the count is not 0: without this table, every later release of that
 * mutex would cost a futex call. With it, a release that finds the word such a wake left, less than
 * {@link #VALID_NANOS} after that wake moved the sequence, skips its own: one futex call per 50 µs at most, instead
 * of one per release.
 *
 * <p>Why the skip loses no wake: only a sleeper in its long sleep relies on a release to wake it (one in its first
 * sleep looks at the lock word again when that sleep ends, after {@link WakeWord#FIRST_SLEEP_NANOS}), and it counted
 * itself at least that long before the release. A sleeper counted before the wake's sequence move was not asleep in
 * futex when the wake found nobody (the futex queue is shared by every process mapping the word), and it never
 * sleeps on a word of a later sequence without looking again ({@code EAGAIN}, then the moved sequence, ends its
 * sleep): so a sleeper in its long sleep counted itself after the move, which the entry's time precedes (it is read
 * before the move), more than {@link WakeWord#FIRST_SLEEP_NANOS} before the release; the skip, allowed only
 * {@link #VALID_NANOS} (half of that: a margin for the release's clock read, which may come before its store is
 * visible) after the entry's time, cannot be that release. The time, not the word, makes the argument (a word can
 * come back to an earlier value); the word only narrows the skip further.
 *
 * <p>Entries are immutable objects, read and written opaque: a racy hint shared by this process's threads, where a
 * lost or overwritten entry costs one more futex call. One is made per wake that woke nobody, a path that has just
 * made a system call.
 */
final class FruitlessWakes {
    /** How long after a wake for nobody moved the sequence a release may skip its own. */
    static final long VALID_NANOS = WakeWord.FIRST_SLEEP_NANOS / 2;
    /** Table size, a power of two: mutexes with dead sleepers' counts in one process are few. */
    private static final int SLOTS = 64;

    // VarHandle mechanics
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Entry[].class);

    private static final Entry[] ENTRIES = new Entry[SLOTS];

    private FruitlessWakes() {
    }

    /**
     * @return true if this process's last wake through the mutex at {@code mutexAddress} woke nobody, left the wake
     *         word {@code wakes}, and moved the sequence less than {@link #VALID_NANOS} ago
     */
    static boolean isKnown(long mutexAddress, int wakes) {
        Entry e = (Entry) SLOT.getOpaque(ENTRIES, slot(mutexAddress)); // opaque: a hint (see the class doc)
        return e != null && e.mutexAddress == mutexAddress && e.wakes == wakes
                && System.nanoTime() - e.movedAt < VALID_NANOS;
    }

    /**
     * Notes that a wake through the mutex at {@code mutexAddress} woke nobody and left the wake word {@code wakes}.
     *
     * @param movedAt {@link System#nanoTime()} read before the wake moved the sequence
     */
    static void remember(long mutexAddress, int wakes, long movedAt) {
        Entry entry;
        try {
            entry = new Entry(mutexAddress, wakes, movedAt);
        } catch (OutOfMemoryError e) { // after the lock is free: a missing entry only costs the next release a call
            return;
        }
        SLOT.setOpaque(ENTRIES, slot(mutexAddress), entry); // opaque: see isKnown
    }

    private static int slot(long mutexAddress) {
        return (int) (mutexAddress >>> 3) & (SLOTS - 1); // mutexes are 8-byte aligned
    }

    /** A wake that woke nobody: the mutex's address, the wake word it left, and when it moved the sequence. */
    private record Entry(long mutexAddress, int wakes, long movedAt) {
    }
}
