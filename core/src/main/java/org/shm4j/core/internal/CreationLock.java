package org.shm4j.core.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Lets one creation at a time judge and take the room of a folder, across the threads of this JVM and across
 * processes, so that a creation refused for room is refused for the room alone: without it, creators racing for the
 * same name in a nearly full file system (Python-style {@code openOrCreate} from several processes) could each find
 * the room held by another's reservation that then failed or was not yet named, and more than one be refused while
 * the room sufficed for one. Openers adopting a heap of another pid namespace in the folder take the same turns
 * ({@link HeapFileFlock#inAdoptionTurn}).
 *
 * <p>In this JVM a {@link ReentrantLock} per folder (by device and inode, so that every spelling of a folder, bind
 * mounts included, shares it; dropped when no creation uses it); between processes a {@link FolderFlock} on the
 * folder, which the kernel releases when its holder dies, so a creator killed mid-creation never keeps it, and which
 * leaves nothing in the folder. A creation inside another's {@code beforeLink}, on the same thread, goes on at once.
 * Best effort: without native access only the threads of a JVM take turns, and a creation that waited
 * {@link #WAIT_NANOS} for its turn (a creator stopped mid-creation, or any process holding a flock on the folder)
 * goes ahead without it; the creation's own retries then cover most races.
 */
final class CreationLock implements AutoCloseable {
    /** How long a creation waits for its turn before it goes ahead without it. */
    static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** The folders some creation of this JVM uses now, by {@link #identity}; guarded by itself. */
    private static final Map<Object, Turns> IN_THIS_JVM = new HashMap<>();

    private final Object folder;
    private final Turns turns;
    private final boolean threadsHeld;
    private final int fd;
    private final boolean nested;

    private CreationLock(Object folder, Turns turns, boolean threadsHeld, int fd, boolean nested) {
        this.folder = folder;
        this.turns = turns;
        this.threadsHeld = threadsHeld;
        this.fd = fd;
        this.nested = nested;
    }

    /** A folder's lock among this JVM's threads, and how many creations use it. */
    private static final class Turns {
        final ReentrantLock lock = new ReentrantLock();
        int users;
    }

    /**
     * Takes {@code dir}'s turn for a creation: an interrupt of the thread while it waits among this JVM's threads ends
     * the wait without the turn, and stays set.
     *
     * @return {@code dir}'s creation lock, taken; or, best effort, not taken (see the class comment); never null
     */
    static CreationLock take(Path dir) {
        return take(dir, true);
    }

    /**
     * Takes {@code dir}'s turn for an adoption ({@link HeapFileFlock#inAdoptionTurn}): an interrupt of the thread,
     * pending or arriving while it waits, is taken and set again once the wait ends, as {@code ReentrantLock.lock()}
     * does, so that it does not go on without its turn.
     *
     * @return as {@link #take(Path)}
     */
    static CreationLock takeUninterruptibly(Path dir) {
        return take(dir, false);
    }

    private static CreationLock take(Path dir, boolean interruptible) {
        long deadline = System.nanoTime() + WAIT_NANOS;
        Path path = realPath(dir);
        Object folder = identity(path);
        Turns turns = enter(folder);
        if (turns.lock.isHeldByCurrentThread()) {
            turns.lock.lock(); // a creation inside another's beforeLink: this thread holds the folder already
            return new CreationLock(folder, turns, true, -1, true);
        }
        boolean threadsHeld = false;
        try {
            threadsHeld = tryLock(turns.lock, deadline, interruptible);
            int fd = threadsHeld ? FolderFlock.lock(path, deadline) : -1;
            return new CreationLock(folder, turns, threadsHeld, fd, false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // kept: MappedFiles.create then stops, nothing made
            return new CreationLock(folder, turns, false, -1, false);
        } catch (RuntimeException | Error e) { // nothing kept by a turn not had
            if (threadsHeld) {
                turns.lock.unlock();
            }
            leave(folder, turns);
            throw e;
        }
    }

    /**
     * Tries {@code lock} until {@code deadline} ({@link System#nanoTime}); if not {@code interruptible}, an interrupt
     * is taken and the wait goes on, the interrupt set again at the end (see {@link Backoff#takeInterrupt}).
     *
     * @return true if the lock was taken
     */
    private static boolean tryLock(ReentrantLock lock, long deadline, boolean interruptible)
            throws InterruptedException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return lock.tryLock(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    if (interruptible) {
                        throw e;
                    }
                    interrupted = true;
                }
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /** @return true if this creation has its turn across processes, or is nested in one of this thread */
    boolean held() {
        return fd >= 0 || nested;
    }

    @Override
    public void close() {
        if (fd >= 0) {
            FolderFlock.unlock(fd); // never throws
        }
        if (threadsHeld) {
            turns.lock.unlock();
        }
        leave(folder, turns);
    }

    /** @return the number of folders this JVM keeps a lock for now (for tests) */
    static int foldersInUse() {
        synchronized (IN_THIS_JVM) {
            return IN_THIS_JVM.size();
        }
    }

    private static Turns enter(Object folder) {
        synchronized (IN_THIS_JVM) {
            Turns turns = IN_THIS_JVM.computeIfAbsent(folder, f -> new Turns());
            turns.users++;
            return turns;
        }
    }

    private static void leave(Object folder, Turns turns) {
        synchronized (IN_THIS_JVM) {
            if (--turns.users == 0) {
                IN_THIS_JVM.remove(folder);
            }
        }
    }

    /**
     * @return what tells one folder from another as flock does: its device and inode ({@code fileKey}), so that a
     *         symbolic link, a bind mount or any other spelling of a folder shares its turns; else its path
     */
    private static Object identity(Path folder) {
        try {
            Object key = Files.readAttributes(folder, BasicFileAttributes.class).fileKey();
            return key != null ? key : folder;
        } catch (IOException | SecurityException e) {
            return folder; // missing: the create says so
        }
    }

    /** @return {@code dir}'s real path, or its normalised absolute path if it has none (missing: the create says so) */
    private static Path realPath(Path dir) {
        try {
            return dir.toRealPath();
        } catch (IOException | SecurityException e) {
            return dir.toAbsolutePath().normalize();
        }
    }
}
