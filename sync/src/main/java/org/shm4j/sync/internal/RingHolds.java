package org.shm4j.sync.internal;

import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Predicate;

import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMER_MUTEX_OFFSET;

/**
 * The renaming of what this process holds in a ring block, for {@link ReopenSweep}: the ring package's part (not
 * public API of that package, which hands it over here when {@link SharedRing} is initialised) and the MPMC
 * consumers' mutex. Before that initialisation no ring object of this process existed, so it holds nothing in any
 * ring.
 */
public final class RingHolds {
    // set once, by SharedRing's initialisation, before any ring object exists
    private static volatile Predicate<MemorySegment> header;
    private static volatile Consumer<MemorySegment> marks;

    private RingHolds() {
    }

    /**
     * Called by {@link SharedRing}'s initialisation only.
     *
     * @param ringHeader checks a ring block's header as an open does, renames the words of the header this process
     *                   holds (roles, producer slot), and says whether the ring is MPMC
     * @param ringMarks  renames this process's claim marks in a ring block whose header was checked
     * @throws IllegalStateException if the renaming was provided already
     */
    public static void provide(Predicate<MemorySegment> ringHeader, Consumer<MemorySegment> ringMarks) {
        if (header != null) {
            throw new IllegalStateException("RingHolds: the ring's renaming was provided already");
        }
        marks = Objects.requireNonNull(ringMarks, "ringMarks");
        header = Objects.requireNonNull(ringHeader, "ringHeader");
    }

    /**
     * Renames what this process holds in the ring block {@code block} as a gone process's (see {@link ReopenSweep}):
     * the header's words, then an MPMC ring's consumers' mutex ({@link RobustMutex#abandon}), then the claim marks, so
     * that records found damaged leave nothing of the header unrenamed.
     *
     * @throws org.shm4j.core.ShmFormatException if the block is not a valid ring's, or a record header on the way
     *                                           from the consumer's position to tail is not one
     */
    static void abandon(MemorySegment block) {
        Predicate<MemorySegment> ringHeader = header;
        if (ringHeader == null) {
            return; // no ring used in this process: nothing held
        }
        if (ringHeader.test(block)) {
            RobustMutex.abandon(block, RING_CONSUMER_MUTEX_OFFSET);
        }
        marks.accept(block);
    }
}
