package org.shm4j.sync.internal;

import org.shm4j.sync.ring.SharedRing;

import java.util.Objects;

/**
 * What a walk of a ring's records from its consumer's position finds first, for {@code SharedJoinableQueue.join},
 * which must tell a claim not marked yet (behind which messages may hide) from a ring with no message: the walk is no
 * public API of the ring package, which hands it over here when {@link SharedRing} is initialised.
 */
public final class RingScan {
    /** Tail reached over claims marked and not committed, and padding, only: no committed message queued. */
    public static final int NONE = 0;
    /** A committed message queued. */
    public static final int MESSAGE = 1;
    /** A claim not marked yet (a zero header below tail) before any message: what lies behind it is unknown. */
    public static final int UNMARKED_CLAIM = 2;

    /** The walk, as the ring package provides it. */
    public interface Walk {
        /** @return {@link #NONE}, {@link #MESSAGE} or {@link #UNMARKED_CLAIM}, for {@code ring} now */
        int firstQueued(SharedRing ring);
    }

    private static volatile Walk walk; // set once, by SharedRing's initialisation, before any ring object exists

    private RingScan() {
    }

    /**
     * Called by {@link SharedRing}'s initialisation only.
     *
     * @throws IllegalStateException if a walk was provided already
     */
    public static void provide(Walk ringWalk) {
        if (walk != null) {
            throw new IllegalStateException("RingScan: the ring's walk was provided already");
        }
        walk = Objects.requireNonNull(ringWalk, "ringWalk");
    }

    /**
     * @return what a walk of {@code ring} from its consumer's position finds first: {@link #NONE}, {@link #MESSAGE}
     *         or {@link #UNMARKED_CLAIM}; a snapshot, made without the consumers' turn
     */
    public static int firstQueued(SharedRing ring) {
        return walk.firstQueued(ring);
    }
}
