package org.shm4j.sync.internal;

import org.shm4j.sync.ring.SharedRing;

import java.util.Objects;
import java.util.function.ToLongFunction;

/**
 * What a walk of a ring's records from its consumer's position finds first, for {@code SharedJoinableQueue.join},
 * which must tell a claim not marked yet (behind which messages may hide) from a ring with no message; and the
 * position of the record a handler is handed, by which a joinable queue's consumer knows a record redelivered after a
 * consumer died in its handler. Neither is public API of the ring package, which hands them over here when
 * {@link SharedRing} is initialised.
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

    // set once, by SharedRing's initialisation, before any ring object exists
    private static volatile Walk walk;
    private static volatile ToLongFunction<SharedRing> handled;

    private RingScan() {
    }

    /**
     * Called by {@link SharedRing}'s initialisation only.
     *
     * @throws IllegalStateException if a walk was provided already
     */
    public static void provide(Walk ringWalk, ToLongFunction<SharedRing> handledPosition) {
        if (walk != null) {
            throw new IllegalStateException("RingScan: the ring's walk was provided already");
        }
        handled = Objects.requireNonNull(handledPosition, "handledPosition");
        walk = Objects.requireNonNull(ringWalk, "ringWalk");
    }

    /**
     * @return what a walk of {@code ring} from its consumer's position finds first: {@link #NONE}, {@link #MESSAGE}
     *         or {@link #UNMARKED_CLAIM}; a snapshot, made without the consumers' turn
     */
    public static int firstQueued(SharedRing ring) {
        return walk.firstQueued(ring);
    }

    /**
     * Valid only inside a {@link org.shm4j.sync.ring.MessageHandler} called by a poll or drain of {@code ring} (this
     * ring object, in the calling thread): the ring moves its consumer position past a record only after the handler
     * returned, and MPMC handlers run in the consumers' turn. Elsewhere the position it returns names no record
     * handled. Costs the ring's hot paths nothing: it is read only by a handler that asks.
     *
     * @return the ring position of the record being handled (the bytes of every record before it since the ring was
     *         made): the consumer's position, head for SPSC, else consumedTo
     */
    public static long handledPosition(SharedRing ring) {
        return handled.applyAsLong(ring);
    }
}
