package org.shm4j.sync.ring;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A process-local copy of a ring position or count, alone on its cache lines. A {@link SharedRing}'s producers and
 * consumer threads all read the ring object's final fields on every call; a position one side writes often must not
 * share a cache line with them, or each write sends that line away from the other side's core (measured: MPMC with 2
 * producers and 2 consumers fell from about 7 to 2.5 messages/µs when these copies were plain fields of the ring).
 * The padding classes below put 64 bytes of unused fields on each side of {@link #value} (HotSpot lays out a
 * superclass's fields before a subclass's).
 */
final class LocalPosition extends LocalPositionValue {
    // VarHandle mechanics
    private static final VarHandle VALUE;

    static {
        try {
            VALUE = MethodHandles.lookup().findVarHandle(LocalPositionValue.class, "value", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // padding after the value
    private long q1, q2, q3, q4, q5, q6, q7, q8;

    LocalPosition(long initial) {
        value = initial;
    }

    /** @return the value, plain: for a copy only one thread (or holders of one mutex, which orders them) uses */
    long plain() {
        return value;
    }

    /** Sets the value, plain: see {@link #plain()}. */
    void setPlain(long newValue) {
        value = newValue;
    }

    /** @return the value with acquire semantics: pairs with {@link #setRelease} */
    long acquire() {
        return (long) VALUE.getAcquire(this);
    }

    /** Sets the value with release semantics: what this thread wrote before is seen by an {@link #acquire} of it. */
    void setRelease(long newValue) {
        VALUE.setRelease(this, newValue);
    }
}

/** The value of a {@link LocalPosition}, after its leading padding. */
abstract class LocalPositionValue extends LocalPositionPadding {
    long value;
}

/** The padding before a {@link LocalPosition}'s value. */
abstract class LocalPositionPadding {
    @SuppressWarnings("unused") // padding before the value
    private long p1, p2, p3, p4, p5, p6, p7, p8;
}
