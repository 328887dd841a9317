package org.shm4j.sync.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Per process: for each {@link RobustMutex} (by address, in a small table where two may share a slot), the wake word
 * that this process's last wake through it left behind if that wake woke nobody. A waiter killed while counted in
 * the wake word leaves its count there for good, and a release that frees the lock word with a store
 * ({@link RobustMutex#ASYMMETRIC}) wakes whenever the count is not 0: without this table, every later release of that
 * mutex would cost a futex call. With it, a release that finds the very word its process's fruitless wake left skips
 * the wake, since no live waiter can be asleep on it: a waiter sleeps only on a word its own counting CAS made, and
 * after a wake the word never returns to an earlier value ({@link WakeWord#uncount} moves the sequence once more
 * when it takes a count back in a later sequence), except after 65,536 wakes of the 16-bit sequence, which cost a
 * late wake of at most a first sleep ({@link WakeWord#FIRST_SLEEP_NANOS}).
 *
 * <p>Each entry is one long (the address's bits 3..34 high, the wake word low), read and written opaque: a racy hint
 * shared by this process's threads, where a lost or overwritten entry costs one more futex call.
 */
final class FruitlessWakes {
    /** Table size, a power of two: mutexes with dead sleepers' counts in one process are few. */
    private static final int SLOTS = 64;

    // VarHandle mechanics
    private static final VarHandle ENTRY = MethodHandles.arrayElementVarHandle(long[].class);

    private static final long[] ENTRIES = new long[SLOTS];

    private FruitlessWakes() {
    }

    /** @return true if this process's last wake through the mutex at {@code mutexAddress} woke nobody and left {@code wakes} */
    static boolean isKnown(long mutexAddress, int wakes) {
        // opaque: a hint; a stale entry costs a futex call, or skips one that no live sleeper needs
        return (long) ENTRY.getOpaque(ENTRIES, slot(mutexAddress)) == entry(mutexAddress, wakes);
    }

    /** Notes that a wake through the mutex at {@code mutexAddress} woke nobody and left the wake word {@code wakes}. */
    static void remember(long mutexAddress, int wakes) {
        ENTRY.setOpaque(ENTRIES, slot(mutexAddress), entry(mutexAddress, wakes)); // opaque: see isKnown
    }

    private static int slot(long mutexAddress) {
        return (int) (mutexAddress >>> 3) & (SLOTS - 1); // mutexes are 8-byte aligned
    }

    private static long entry(long mutexAddress, int wakes) {
        return (mutexAddress >>> 3) << 32 | wakes & 0xFFFF_FFFFL;
    }
}
