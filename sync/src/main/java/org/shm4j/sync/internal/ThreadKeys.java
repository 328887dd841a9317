package org.shm4j.sync.internal;

import org.shm4j.core.internal.ProcessIdentity;

import static org.shm4j.sync.internal.SyncLayout.OWNER_THREAD_PID_SHIFT;

/**
 * The thread keys that the owner thread fields of the robust mutex and the fair lock hold: a Java thread id XOR its
 * process's pid shifted left by {@link SyncLayout#OWNER_THREAD_PID_SHIFT} (33).
 *
 * <p>Why not the thread id itself: thread ids repeat across JVMs (the main thread is id 3 in every JVM started
 * alike), and a lock's holder is "this process holds the word and the owner field is my thread's". A field that a
 * thread of another process wrote, with an id equal to one of this process's threads, then named that thread:
 * right after a take-over from a dead owner, until the new owner recorded itself, a thread of the taking-over
 * process with the dead owner's thread id counted as the holder (its unlock released the lock). With the pid in the
 * key, a field written by another live or dead process never equals a key of this one (while thread ids stay below
 * 2^33, and unless the pid was recycled for this process).
 *
 * <p>The key costs one xor with a constant on the lock path. Diagnostics decode it back with the owner's pid, which
 * the lock word or the fair lock's process slot gives. Builds before 2026-12-04 wrote the bare thread id: below
 * 2^33, which no key is (a pid is at least 1), so it never matches a key and is read back as it is. Processes of
 * both kinds may share a lock; no layout version moved.
 */
public final class ThreadKeys {
    /** This process's pid, shifted into the key's high bits. */
    private static final long THIS_PROCESS = ProcessIdentity.pid(ProcessIdentity.currentToken())
            << OWNER_THREAD_PID_SHIFT;
    /** The bits of a thread id below the pid's (a key's whole thread id where its pid is not known). */
    private static final long THREAD_BITS = (1L << OWNER_THREAD_PID_SHIFT) - 1;

    private ThreadKeys() {
    }

    /** @return the key of the current thread */
    public static long current() {
        return Thread.currentThread().threadId() ^ THIS_PROCESS;
    }

    /**
     * @param key an owner thread field's value
     * @return true if {@code key} is the key of some thread of this process (never for 0, a bare id an older build
     *         wrote, or another live or dead process's key, unless the pid was recycled for this process)
     */
    public static boolean ofThisProcess(long key) {
        return (key & ~THREAD_BITS) == THIS_PROCESS;
    }

    /**
     * @param key an owner thread field's value (0: none)
     * @param pid the owner's pid, or 0 if not known
     * @return the Java thread id that {@code key} names in process {@code pid}: {@code key} itself if it is below
     *         2^33 (0, or a bare id an older build wrote); its low 33 bits if {@code pid} is 0; 0 (none recorded) if
     *         it is another process's key, which names no thread of {@code pid} (a take-over from a dead owner, until
     *         it claims, leaves the dead owner's key beside the new owner's word)
     */
    public static long threadId(long key, long pid) {
        if ((key & ~THREAD_BITS) == 0) {
            return key;
        }
        if (pid == 0) {
            return key & THREAD_BITS;
        }
        long id = key ^ (pid << OWNER_THREAD_PID_SHIFT);
        return (id & ~THREAD_BITS) == 0 ? id : 0;
    }
}
