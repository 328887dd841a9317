package org.shm4j.sync.internal;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.ProcessIdentity;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.PIPE_END_CLOSED;
import static org.shm4j.sync.internal.SyncLayout.PIPE_END_OWNER;
import static org.shm4j.sync.internal.SyncLayout.PIPE_END_STATE;
import static org.shm4j.sync.internal.SyncLayout.PIPE_END_STRIDE;
import static org.shm4j.sync.internal.SyncLayout.PIPE_FIRST_END_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.PIPE_MAGIC;
import static org.shm4j.sync.internal.SyncLayout.PIPE_MAGIC_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.PIPE_VERSION_OFFSET;

/**
 * The end-state block of a {@link org.shm4j.sync.SharedPipe} (layout table in its Javadoc): for each of the two ends
 * the {@linkplain ProcessIdentity owner token} of the process holding it and whether its holder closed it.
 *
 * <p>Protocol: an end is claimed by a CAS of its owner word from 0, from this process's own token (a no-op), or from
 * the token of a process that is dead; closing sets its state word to closed with a release store, after which the
 * end is never claimed again. The owner word keeps the closer's token, so the peer can name it.
 *
 * <p>Invariants: the state word goes from open to closed once and never back; it is closed only while the owner
 * word holds the closer's token. Non-invariant: a process that finds an end's holder dead may take it over at any
 * moment, so a dead token read by a peer may already have been replaced by a live one.
 */
public final class PipeEnds {
    /** Index of the first end. */
    public static final int FIRST = 0;
    /** Index of the second end. */
    public static final int SECOND = 1;
    /** How often a waiter checks, at most, that the holder of the other end lives. */
    public static final long LIVENESS_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private static final String[] NAMES = {"first", "second"};

    // VarHandle mechanics
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment block;
    private final String pipeName;
    private final String closedMessage;
    private final PipeTurns turns;

    private PipeEnds(SharedHeap heap, MemorySegment block, String pipeName, String closedMessage) {
        long magic = block.get(JAVA_LONG, PIPE_MAGIC_OFFSET);
        if (magic != PIPE_MAGIC) {
            throw new ShmFormatException("pipe '" + pipeName + "' end-state block has magic=0x"
                    + Long.toHexString(magic) + " (expected: 0x" + Long.toHexString(PIPE_MAGIC) + ", \"SHM4JPIP\")");
        }
        int version = block.get(JAVA_INT, PIPE_VERSION_OFFSET);
        if (version != SyncLayout.PIPE.layoutVersion()) {
            throw new ShmFormatException("pipe '" + pipeName + "' end-state block has layout version " + version
                    + " (expected: " + SyncLayout.PIPE.layoutVersion() + ")");
        }
        this.block = block;
        this.pipeName = pipeName;
        this.closedMessage = closedMessage;
        this.turns = PipeTurns.of(heap, block);
    }

    /** @return the end-state block of a new pipe named {@code name}: both ends open and unclaimed */
    public static PipeEnds create(SharedHeap heap, String name) {
        return new PipeEnds(heap, Blocks.create(heap, name, SyncLayout.PIPE, SyncLayout.PIPE_SIZE, block -> {
            block.set(JAVA_INT, PIPE_VERSION_OFFSET, SyncLayout.PIPE.layoutVersion());
            block.set(JAVA_LONG, PIPE_MAGIC_OFFSET, PIPE_MAGIC); // plain: the heap publishes the block after this
        }), name, Blocks.closedMessage("SharedPipe", name, heap));
    }

    /**
     * @return the end-state block of the existing pipe named {@code name}
     * @throws ShmFormatException if its magic or layout version is not this one's
     */
    public static PipeEnds open(SharedHeap heap, String name) {
        return new PipeEnds(heap, Blocks.open(heap, name, SyncLayout.PIPE, SyncLayout.PIPE_SIZE, "SharedPipe"), name,
                Blocks.closedMessage("SharedPipe", name, heap));
    }

    /**
     * Renames this process's hold of each open end of the pipe whose end-state block is {@code block} as a gone
     * process's ({@link ProcessIdentity#abandonedToken()}), for a process that opens again a heap it had closed (see
     * {@code ReopenSweep}): that close gave the end up (see {@code SharedPipe}: Holding an end), so the peer's receive
     * reports the end gone (end of stream, naming this pid), and the next claim, by another process or by this one,
     * takes the end over as a dead holder's. An end this process closed keeps its token: it names the closer, and a
     * closed end is never claimed again. A volatile CAS from this process's own token: an owner word naming another
     * process (one that took the end over meanwhile) is left alone, no other process closes this process's end, and
     * no thread of this one claims or closes meanwhile (the sweep runs before the reopened heap is handed out).
     *
     * @throws ShmFormatException if the block is smaller than an end-state block, or its magic or layout version is
     *                            not this one's
     */
    static void abandon(MemorySegment block) {
        if (block.byteSize() < SyncLayout.PIPE_SIZE) {
            throw Blocks.corrupt("pipe end-state block", "block size", block.byteSize(), ">= " + SyncLayout.PIPE_SIZE);
        }
        long magic = block.get(JAVA_LONG, PIPE_MAGIC_OFFSET); // plain: written before the block was published
        int version = block.get(JAVA_INT, PIPE_VERSION_OFFSET); // plain: likewise
        if (magic != PIPE_MAGIC || version != SyncLayout.PIPE.layoutVersion()) {
            throw new ShmFormatException("pipe end-state block has magic=0x" + Long.toHexString(magic)
                    + " and layout version " + version + " (expected: 0x" + Long.toHexString(PIPE_MAGIC) + " and "
                    + SyncLayout.PIPE.layoutVersion() + ")");
        }
        for (int end = FIRST; end <= SECOND; end++) {
            // acquire: as isClosed reads it; only this process closes an end it holds, and none of its threads can now
            if ((int) INT.getAcquire(block, offset(end, PIPE_END_STATE)) != PIPE_END_CLOSED) {
                LONG.compareAndSet(block, offset(end, PIPE_END_OWNER), ProcessIdentity.currentToken(),
                        ProcessIdentity.abandonedToken());
            }
        }
    }

    /**
     * @return what a pipe method throws for {@code failure}: a message naming the pipe if its heap is closed, else
     *         {@code failure} itself
     */
    public RuntimeException closedOr(RuntimeException failure) {
        return Blocks.closedOr(failure, block.scope(), closedMessage);
    }

    /** @return the turns of this process's threads at the pipe's ends, shared by every pipe object of this process */
    public PipeTurns turns() {
        return turns;
    }

    /** @return the pipe's name */
    public String pipeName() {
        return pipeName;
    }

    /** @return {@code "first"} or {@code "second"} */
    public static String name(int end) {
        return NAMES[end];
    }

    /**
     * Claims {@code end} for this process: a no-op if it holds it already (and has not closed it).
     *
     * @throws IllegalStateException if the end was closed (by this process too), or a live other process holds it
     */
    public void claim(int end) {
        long me = ProcessIdentity.currentToken();
        long owner = owner(end);
        while (true) {
            if (isClosed(end)) { // this process's own closed end too (helper-119: a new pipe object handed it out)
                throw new IllegalStateException(describe(end) + " was closed by " + ProcessIdentity.describe(owner)
                        + " (a closed end is never reopened)");
            }
            if (owner == me) {
                return;
            }
            // not dead, nor closed the heap; counted as taking over until the CAS (the holder may claim anew)
            MemorySegment takingOver = owner == 0 ? MemorySegment.NULL : HeapMappings.beginTakeOver(block, owner);
            if (takingOver == null) {
                throw new IllegalStateException(describe(end) + " is held by live " + ProcessIdentity.describe(owner)
                        + " (expected: unclaimed, or held by a process that died)");
            }
            long witness;
            try {
                witness = (long) LONG.compareAndExchange(block, offset(end, PIPE_END_OWNER), owner, me);
            } finally {
                HeapMappings.endTakeOver(takingOver);
            }
            if (witness == owner) { // the successful CAS is the linearization point: the end is ours
                if (isClosed(end)) { // its dead holder closed it after our check: closed ends stay closed
                    throw new IllegalStateException(describe(end) + " was closed by "
                            + ProcessIdentity.describe(owner) + " (a closed end is never reopened)");
                }
                return;
            }
            owner = witness;
        }
    }

    /**
     * Closes {@code end}, held by this process; a no-op if it is closed already.
     *
     * @throws IllegalStateException if another process holds it
     */
    public void close(int end) {
        long owner = owner(end);
        if (owner != ProcessIdentity.currentToken()) {
            throw new IllegalStateException(describe(end) + " is held by " + ProcessIdentity.describe(owner)
                    + ", not by this process");
        }
        // release: every message this end sent before is visible to a peer that reads the closed state (acquire)
        INT.setRelease(block, offset(end, PIPE_END_STATE), PIPE_END_CLOSED);
    }

    /** @return true if {@code end}'s holder closed it */
    public boolean isClosed(int end) {
        // acquire: pairs with close's release, so the messages sent before the close are seen after this
        return (int) INT.getAcquire(block, offset(end, PIPE_END_STATE)) == PIPE_END_CLOSED;
    }

    /** @return the owner token of the process holding {@code end}, 0 if none ever claimed it */
    public long owner(int end) {
        return (long) LONG.getVolatile(block, offset(end, PIPE_END_OWNER));
    }

    /** @return e.g. {@code first end of pipe 'p'} */
    public String describe(int end) {
        return name(end) + " end of pipe '" + pipeName + "'";
    }

    private static long offset(int end, long field) {
        return PIPE_FIRST_END_OFFSET + end * PIPE_END_STRIDE + field;
    }

    /**
     * One end's view of the other: whether it is gone, with the liveness of its holder checked at most every
     * {@link #LIVENESS_NANOS}. Used by the sending and the receiving thread of one end; its two fields are volatile,
     * and a race between them costs at most one extra liveness check.
     */
    public static final class Peer {
        private final PipeEnds ends;
        private final int end;
        private volatile long nextLivenessCheck = System.nanoTime() - LIVENESS_NANOS; // check at the first wait
        private volatile long deadOwner; // the last token found dead: a dead process stays dead

        /**
         * @param ends the pipe's end-state block
         * @param end  the end watched, {@link #FIRST} or {@link #SECOND}
         */
        public Peer(PipeEnds ends, int end) {
            this.ends = ends;
            this.end = end;
        }

        /** @return the watched end's index */
        public int end() {
            return end;
        }

        /** @return true if the watched end was closed (no liveness check) */
        public boolean isClosed() {
            return ends.isClosed(end);
        }

        /**
         * @return 0 while the watched end is unclaimed, or open and held by a live process; else the owner token of
         *         the process that closed it or died holding it. Read it before the poll that finds the ring empty.
         */
        public long gone() {
            boolean closed = ends.isClosed(end);
            long owner = ends.owner(end);
            if (closed || owner != 0 && owner == deadOwner) {
                return owner;
            }
            long now = System.nanoTime();
            if (owner == 0 || now - nextLivenessCheck < 0) {
                return 0;
            }
            nextLivenessCheck = now + LIVENESS_NANOS;
            if (HeapMappings.isPresent(ends.block, owner)) {
                return 0;
            }
            deadOwner = owner;
            return owner;
        }
    }
}
