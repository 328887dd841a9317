package org.shm4j.core.internal;

import org.shm4j.core.ShmException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.core.internal.HeapLayout.HEAP_ID_OFFSET;
import static org.shm4j.core.internal.HeapLayout.REMOVAL_OFFSET;

/**
 * Removes a heap's name only when no live process has the heap open or is opening it, and lets an opener find out
 * whether the heap it attached to is being removed. The rules are the "Removal" section of
 * {@link org.shm4j.core.SharedHeap}'s Javadoc; in short:
 *
 * <ul>
 * <li>The header's removal word is 0, or the owner token of the one process allowed to remove the heap's name.
 *     Every removal by shm4j claims it first (CAS from 0, or from a dead process's token), so at most one live process
 *     removes a given heap, and while it holds the word the name cannot change under it.</li>
 * <li>Remover: claim the word (volatile CAS), <em>then</em> read the attach table; if a live process is there, give
 *     the word back (CAS to 0). Opener: claim a table slot (volatile CAS), <em>then</em> read the word. As in Dekker's
 *     algorithm, with both orders sequentially consistent at least one of them sees the other: the remover backs
 *     off, or the opener sees a non-zero word and does not use the heap until the word is 0 again or the name no
 *     longer leads to this heap.</li>
 * <li>"The name leads to this heap" is checked by reading the random heap id through the path (a fresh
 *     {@code open} and 8-byte read) and comparing it with the id in the mapping; java.nio has no {@code fstat} of a
 *     mapped file, and an id also tells two heaps apart whose inode numbers were reused.</li>
 * </ul>
 */
public final class HeapRemoval {
    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private HeapRemoval() {
    }

    /** What must be true of the heap for it to be removed. */
    public enum Condition {
        /** No live process attached, and its creator dead. */
        STALE,
        /** No live process attached. */
        UNUSED
    }

    /** The result of {@link #tryRemove}. */
    public enum Outcome {
        /** This call removed the name. */
        REMOVED,
        /** A live process is attached (or, for {@link Condition#STALE}, the creator lives): nothing done. */
        IN_USE,
        /** Another live process holds the removal word: it is deciding, or removed the heap. */
        BUSY,
        /** The name no longer leads to this heap: nothing to do. */
        GONE
    }

    /** @return true if the heap in {@code segment} is stale: its creator and every process attached are dead */
    public static boolean isStale(MemorySegment segment) {
        return !AttachTable.anyAlive(segment) && !ProcessIdentity.isAlive(HeapHeader.creatorToken(segment));
    }

    /**
     * Removes {@code path} if it still leads to the heap mapped at {@code segment} and {@code condition} holds.
     *
     * @param segment a validated heap, mapped read-write
     * @param heapId  its heap id
     * @throws ShmException if the name cannot be removed
     */
    public static Outcome tryRemove(MemorySegment segment, long heapId, Path path, Condition condition) {
        long me = ProcessIdentity.currentToken();
        long word = (long) LONG.getVolatile(segment, REMOVAL_OFFSET);
        if (word != 0 && ProcessIdentity.isAlive(word)) {
            return idAt(path) == heapId ? Outcome.BUSY : Outcome.GONE;
        }
        // volatile CAS: the claim precedes, in the total order, our reads of the attach table below
        if (!LONG.compareAndSet(segment, REMOVAL_OFFSET, word, me)) {
            return Outcome.BUSY;
        }
        if (idAt(path) != heapId) {
            return Outcome.GONE; // a remover that died after unlinking left the word set; the heap is gone anyway
        }
        boolean removable = condition == Condition.UNUSED ? !AttachTable.anyAlive(segment) : isStale(segment);
        if (!removable) {
            LONG.compareAndSet(segment, REMOVAL_OFFSET, me, 0L); // volatile: give the word back
            return Outcome.IN_USE;
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LONG.compareAndSet(segment, REMOVAL_OFFSET, me, 0L);
            throw new ShmException("cannot remove " + path + ": " + e, e);
        }
        return Outcome.REMOVED;
    }

    /**
     * {@link #tryRemove}, waiting (bounded) while another live process holds the removal word.
     *
     * @param what the heap, for the exception message
     * @return {@link Outcome#REMOVED}, {@link Outcome#IN_USE} or {@link Outcome#GONE}
     * @throws ShmException if another live process holds the removal word longer than {@code timeout}
     */
    public static Outcome remove(MemorySegment segment, long heapId, Path path, Condition condition, Duration timeout,
                                 String what) {
        long start = System.nanoTime();
        int step = 0;
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            Outcome outcome = tryRemove(segment, heapId, path, condition);
            while (outcome == Outcome.BUSY) {
                if (System.nanoTime() - start > Timeouts.nanos(timeout)) {
                    throw new ShmException(what + " is being removed by another live process, still undecided after "
                            + timeout.toMillis() + " ms");
                }
                interrupted |= Backoff.takeInterrupt(); // not interruptible: else each park would return at once
                step = Backoff.idle(step, Long.MAX_VALUE);
                outcome = tryRemove(segment, heapId, path, condition);
            }
            return outcome;
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /**
     * Called by an opener after it claimed its attach slot: waits (bounded) until the heap is known to be in use or
     * known to be removed from its name.
     *
     * @param heapId  the heap id of the mapping
     * @param path    the heap's name or file
     * @param timeout how long to wait for a live remover to decide
     * @param what    the heap, for the exception message
     * @return true if the heap may be used (no removal is pending, and none can remove it while we stay attached);
     *         false if {@code path} no longer leads to it: the caller detaches and opens the path again
     * @throws ShmException if a live remover holds the removal word longer than {@code timeout}
     */
    public static boolean confirmAttached(MemorySegment segment, long heapId, Path path, Duration timeout,
                                          String what) {
        long start = System.nanoTime();
        int step = 0;
        boolean interrupted = false; // taken while waiting, set again at the end (see Backoff.takeInterrupt)
        try {
            while (true) {
                // volatile: read after our volatile CAS of the slot (see the class comment)
                long word = (long) LONG.getVolatile(segment, REMOVAL_OFFSET);
                if (word == 0) {
                    return true;
                }
                if (idAt(path) != heapId) {
                    return false;
                }
                if (!ProcessIdentity.isAlive(word) && LONG.compareAndSet(segment, REMOVAL_OFFSET, word,
                        ProcessIdentity.currentToken())) {
                    // the word is ours: nobody can remove the name now, so this answer stays true
                    boolean here = idAt(path) == heapId;
                    if (here) {
                        LONG.compareAndSet(segment, REMOVAL_OFFSET, ProcessIdentity.currentToken(), 0L);
                    }
                    return here;
                }
                if (System.nanoTime() - start > Timeouts.nanos(timeout)) {
                    throw new ShmException(what + " is being removed by live " + ProcessIdentity.describe(word)
                            + ", still undecided after " + timeout.toMillis() + " ms");
                }
                interrupted |= Backoff.takeInterrupt(); // not interruptible: else each park would return at once
                step = Backoff.idle(step, Long.MAX_VALUE);
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /** @return the heap id of the heap that {@code path} leads to now, or 0 if none (missing, short or unreadable) */
    public static long idAt(Path path) {
        if (!MappedFiles.regularOrMissing(path)) {
            return 0; // a FIFO's open would wait for a writer for ever: no heap there
        }
        boolean interrupted = Backoff.takeInterrupt(); // see MappedFiles.open: else the read fails at once
        try {
            while (true) {
                try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
                    ByteBuffer id = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.nativeOrder());
                    while (id.hasRemaining()) {
                        if (channel.read(id, HEAP_ID_OFFSET + id.position()) < 0) {
                            return 0;
                        }
                    }
                    return id.getLong(0);
                } catch (ClosedByInterruptException e) {
                    interrupted |= Backoff.takeInterrupt(); // one that came meanwhile: read again, as MappedFiles.open
                }
            }
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new ShmException("cannot read the heap id of " + path + ": " + e, e);
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }
}
