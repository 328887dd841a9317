package org.shm4j.sync.locks;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.SyncLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.BiFunction;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * helper-267: a {@link SharedCondition} in a heap made for a lock outside it (in another heap, or wrapped over raw
 * memory) recorded 0 as its lock, and every later {@code open} with any other outside lock was accepted, so two
 * processes could wait and signal under different locks. Such a lock is now refused by {@code create}, {@code open}
 * and {@code openOrCreate}, for every kind of lock a condition takes.
 */
class ConditionOutsideLockTest {
    /** The lock kinds a condition is made for: how to make one in a heap, and one over raw memory. */
    enum Kind {
        LOCK(SharedLock::create, s -> SharedLock.wrap(s, 0)),
        REENTRANT(SharedReentrantLock::create, s -> SharedReentrantLock.wrap(s, 0)),
        FAIR(SharedFairLock::create, s -> SharedFairLock.wrap(s, 0)),
        READ_WRITE(SharedReadWriteLock::create, s -> SharedReadWriteLock.wrap(s, 0));

        final BiFunction<SharedHeap, String, Object> create;
        final Function<MemorySegment, Object> wrap;

        Kind(BiFunction<SharedHeap, String, Object> create, Function<MemorySegment, Object> wrap) {
            this.create = create;
            this.wrap = wrap;
        }
    }

    enum Factory { CREATE, OPEN, OPEN_OR_CREATE }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldRefuseALockOutsideTheConditionsHeap(Kind kind) {
        try (SharedHeap home = SharedHeap.anonymous(1 << 16); SharedHeap conditions = SharedHeap.anonymous(1 << 16);
             Arena arena = Arena.ofConfined()) {
            Object lock = kind.create.apply(home, "lock");
            Object other = kind.create.apply(home, "other");
            Object wrapped = kind.wrap.apply(arena.allocate(1 << 12, SyncLayout.CACHE_LINE));
            // a condition an earlier build made for an outside lock: its lock field 0 named none
            CoordinationBlocks.create(conditions, "old", SyncLayout.CONDITION, SyncLayout.COND_SIZE, 0, 0, 0);
            for (Object outside : new Object[] {lock, other, wrapped}) {
                for (Factory factory : new Factory[] {Factory.OPEN, Factory.OPEN_OR_CREATE}) {
                    assertThatThrownBy(() -> condition(factory, conditions, "old", outside))
                            .as("%s with %s", factory, outside).isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining(", which lies outside that heap");
                }
            }
            for (Object outside : new Object[] {lock, wrapped}) {
                for (Factory factory : new Factory[] {Factory.CREATE, Factory.OPEN_OR_CREATE}) {
                    assertThatThrownBy(() -> condition(factory, conditions, "ready", outside))
                            .as("%s with %s", factory, outside).isInstanceOf(IllegalArgumentException.class)
                            .hasMessageStartingWith("condition 'ready' in " + conditions + " cannot be used with ")
                            .hasMessageContaining(", which lies outside that heap (or off its 64-byte lines): a "
                                    + "condition in a heap records its lock's place there, to refuse any other lock;");
                }
            }
            assertThat(conditions.find("ready")).as("nothing made").isEmpty();
            Object inside = kind.create.apply(conditions, "inside");
            assertThatThrownBy(() -> condition(Factory.OPEN, conditions, "old", inside))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageStartingWith("condition 'old' was made for a lock outside its heap (by an earlier "
                            + "build, which allowed one), not for ");
            assertThat(condition(Factory.CREATE, home, "ready", lock)).as("in the lock's own heap").isNotNull();
            assertThatThrownBy(() -> condition(Factory.OPEN, home, "ready", other))
                    .isInstanceOf(ShmTypeMismatchException.class);
        }
    }

    private static SharedCondition condition(Factory factory, SharedHeap heap, String name, Object lock) {
        return switch (lock) {
            case SharedMutex mutex -> switch (factory) {
                case CREATE -> SharedCondition.create(heap, name, mutex);
                case OPEN -> SharedCondition.open(heap, name, mutex);
                case OPEN_OR_CREATE -> SharedCondition.openOrCreate(heap, name, mutex);
            };
            case SharedFairLock fair -> switch (factory) {
                case CREATE -> SharedCondition.create(heap, name, fair);
                case OPEN -> SharedCondition.open(heap, name, fair);
                case OPEN_OR_CREATE -> SharedCondition.openOrCreate(heap, name, fair);
            };
            case SharedReadWriteLock readWrite -> switch (factory) {
                case CREATE -> SharedCondition.create(heap, name, readWrite);
                case OPEN -> SharedCondition.open(heap, name, readWrite);
                case OPEN_OR_CREATE -> SharedCondition.openOrCreate(heap, name, readWrite);
            };
            default -> throw new IllegalArgumentException("not a lock a condition takes: " + lock);
        };
    }
}
