package org.shm4j.core.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Lets one creation at a time judge and take the room of a folder, across the threads of this JVM and across
 * processes, so that a creation refused for room is refused for the room alone: without it, creators racing for the
 * same name in a nearly full file system (Python-style {@code openOrCreate} from several processes) could each find
 * the room held by another's reservation that then failed or was not yet named, and more than one, or all, be refused
 * while the room sufficed for one.
 *
 * <p>In this JVM a {@link ReentrantLock} per folder; between processes an exclusive {@code fcntl} record lock
 * ({@link FileChannel#tryLock()}) on {@value #FILE_NAME} in the folder, which the kernel releases when its process
 * dies, so a creator killed mid-creation never keeps it. The file is empty, made readable and writable by all (as the
 * sticky, world-writable {@code /dev/shm} is shared by all users), and left in place: removing a lock file races with
 * its next taker. Best effort: if the file cannot be opened for writing (another user made it narrower, or it is a
 * symbolic link, which is never followed) or the lock is not free within {@link #WAIT_NANOS} (a creator stopped
 * mid-creation), the creation goes ahead unlocked.
 */
final class CreationLock implements AutoCloseable {
    /** The lock file's name in each folder where regions are created; a dot name that is no region's. */
    static final String FILE_NAME = ".shm4j-create.lock";
    /** How long a creation waits for another one in its folder before it goes ahead unlocked. */
    static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final Set<PosixFilePermission> EVERYONE = PosixFilePermissions.fromString("rw-rw-rw-");
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_THIS_JVM = new ConcurrentHashMap<>();

    private final ReentrantLock threads;
    private final FileChannel channel;
    private final boolean held;

    private CreationLock(ReentrantLock threads, FileChannel channel, boolean held) {
        this.threads = threads;
        this.channel = channel;
        this.held = held;
    }

    /** @return the folder's creation lock, taken; or, best effort, not taken (see the class comment); never null */
    static CreationLock take(Path dir) {
        long deadline = System.nanoTime() + WAIT_NANOS;
        ReentrantLock threads = IN_THIS_JVM.computeIfAbsent(dir, d -> new ReentrantLock());
        if (threads.isHeldByCurrentThread()) {
            // a creation inside another's beforeLink: this thread holds the folder already, record lock and all
            threads.lock();
            return new CreationLock(threads, null, true);
        }
        try {
            if (!threads.tryLock(WAIT_NANOS, TimeUnit.NANOSECONDS)) {
                return new CreationLock(null, null, false);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // kept for the caller; the creation goes ahead unlocked
            return new CreationLock(null, null, false);
        }
        FileChannel channel = open(dir.resolve(FILE_NAME));
        if (channel != null && lock(channel, deadline) == null) {
            closeQuietly(channel);
            channel = null;
        }
        return new CreationLock(threads, channel, channel != null);
    }

    /** @return true if this creation holds the lock across processes too (for tests) */
    boolean held() {
        return held;
    }

    @Override
    public void close() {
        if (channel != null) {
            closeQuietly(channel); // releases the record lock
        }
        if (threads != null) {
            threads.unlock();
        }
    }

    /** @return the lock file open for writing, made first if missing; null if it cannot be */
    private static FileChannel open(Path file) {
        try {
            try {
                FileChannel made = FileChannel.open(file, Set.of(StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(EVERYONE));
                Files.setPosixFilePermissions(file, EVERYONE); // the umask narrowed the create mode
                return made;
            } catch (FileAlreadyExistsException e) {
                // never through a symbolic link: anyone may plant one in /dev/shm, pointing at a file of ours
                return FileChannel.open(file, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            }
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return null; // best effort: the creation goes ahead unlocked
        }
    }

    /** @return the record lock, or null if another process holds it past {@code deadline} or it cannot be taken */
    private static FileLock lock(FileChannel channel, long deadline) {
        while (true) {
            try {
                FileLock lock = channel.tryLock();
                if (lock != null) {
                    return lock;
                }
            } catch (OverlappingFileLockException e) {
                // this JVM holds it through the same folder named another way (a symbolic link): wait as for another
            } catch (IOException e) {
                return null; // a file system without record locks: unlocked
            }
            if (System.nanoTime() - deadline > 0) {
                return null;
            }
            LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000, 1_000_000));
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // closing releases the lock whatever it reports
        }
    }
}
