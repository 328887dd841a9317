package org.shm4j.sync.ring;

import java.lang.foreign.MemorySegment;

/**
 * Space claimed in a {@link SharedRing} for one message, to be written in place and then committed or aborted
 * exactly once. Reusable: pass the same instance to {@link SharedRing#tryClaim(int, int, RingClaim)} again after
 * commit or abort, so that claiming allocates nothing. A claim whose ring's heap (or segment) was closed in this
 * process is over as well: it can be neither committed nor aborted (both throw {@link IllegalStateException} naming
 * the ring), is no longer {@linkplain #isActive() active}, and may claim again, in another ring. The space it claimed
 * then holds the ring's consumers up as any claim never committed does, until this process exits, or opens the heap
 * again (which renames its mark as a gone producer's, so the stall rule skips it), or {@link SharedRing#unblock()}
 * pads it over (see {@link SharedRing}: A producer that dies).
 *
 * <pre>{@code
 * RingClaim claim = new RingClaim();
 * if (ring.tryClaim(type, 16, claim)) {
 *     try {
 *         claim.buffer().set(ValueLayout.JAVA_LONG_UNALIGNED, claim.offset(), value);
 *         claim.commit();
 *     } catch (RuntimeException e) {
 *         claim.abort();
 *         throw e;
 *     }
 * }
 * }</pre>
 */
public final class RingClaim {
    private SharedRing ring;
    private long index = -1;
    private int type;
    private int length;

    /** Creates an idle claim, to be filled by {@link SharedRing#tryClaim(int, int, RingClaim)}. */
    public RingClaim() {
        // nothing claimed yet
    }

    /**
     * @return the ring's data memory, to write the message into at {@link #offset()}
     * @throws IllegalStateException naming the ring if the memory it lives in is closed (closed after this returns,
     *                               the segment's own accesses throw the JDK's "Already closed")
     */
    public MemorySegment buffer() {
        return active().dataSegment();
    }

    /** @return where the message goes in {@link #buffer()} */
    public long offset() {
        active();
        return index + org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;
    }

    /**
     * @return the claimed bytes as a slice of the ring (a new object: use {@link #buffer()} to allocate nothing)
     * @throws IllegalStateException naming the ring if the memory it lives in is closed
     */
    public MemorySegment segment() {
        return buffer().asSlice(offset(), length);
    }

    /** @return the claimed message length */
    public int length() {
        active();
        return length;
    }

    /**
     * Publishes the message to the consumer with one release store, the fastest way. A claim held longer than the
     * ring's stall timeout may have been skipped meanwhile (if this process was taken for dead: see
     * {@link SharedRing}'s stall rule): use {@link #tryCommit()} then.
     */
    public void commit() {
        SharedRing r = active();
        try {
            r.publish(index, type, length);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw r.closedOr(e);
        }
        ring = null;
    }

    /**
     * Publishes the message to the consumer unless the claim was skipped meanwhile: a consumer applies the stall rule
     * to a claim whose producer it sees dead (or {@link SharedRing#unblock()} to any), and pads it over. One
     * compare-and-set of the record header instead of {@link #commit()}'s store, so that a late commit never
     * overwrites space that is another claim's by then. The claim is over either way.
     *
     * @return true if the message is published; false if it was skipped and will never be delivered
     */
    public boolean tryCommit() {
        SharedRing r = active();
        boolean published;
        try {
            published = r.publishIfClaimed(index, type, length);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw r.closedOr(e);
        }
        ring = null;
        return published;
    }

    /**
     * Gives the space up: the consumer skips it. A compare-and-set of the record header, which leaves it alone if the
     * stall rule skipped the claim already.
     */
    public void abort() {
        SharedRing r = active();
        try {
            r.publishIfClaimed(index, org.shm4j.sync.internal.SyncLayout.RING_PADDING_TYPE, length);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw r.closedOr(e);
        }
        ring = null;
    }

    /**
     * @return true while claimed and not yet committed or aborted, nor over because the memory its ring lives in was
     *         closed (see the class comment)
     */
    public boolean isActive() {
        return ring != null && ring.isOpen();
    }

    void start(SharedRing owner, long recordIndex, int messageType, int messageLength) {
        this.ring = owner;
        this.index = recordIndex;
        this.type = messageType;
        this.length = messageLength;
    }

    private SharedRing active() {
        if (ring == null) {
            throw new IllegalStateException("no claim in progress: claim first, then commit or abort once");
        }
        return ring;
    }
}
