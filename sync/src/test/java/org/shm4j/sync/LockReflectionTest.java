package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReentrantLock;

import java.util.List;
import java.util.concurrent.locks.Lock;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The locks' methods called through core reflection on their public classes, as Groovy, SpEL or a bean tool calls
 * them, from outside their package: a public method declared final in a package-private superclass had no public
 * bridge, so {@code getMethod("unlock").invoke} threw {@link IllegalAccessException}.
 */
class LockReflectionTest {
    @Test
    void shouldLetReflectionCallEveryLockMethodThroughThePublicClasses() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            List<Lock> locks = List.of(SharedLock.create(heap, "plain"), SharedReentrantLock.create(heap, "reentrant"),
                    SharedFairLock.create(heap, "fair"));
            for (Lock lock : locks) {
                for (String name : List.of("lock", "unlock", "lockInterruptibly", "unlock")) {
                    lock.getClass().getMethod(name).invoke(lock);
                }
                assertThat(lock.getClass().getMethod("tryLock").invoke(lock)).isEqualTo(true);
                lock.getClass().getMethod("unlock").invoke(lock);
                assertThat(lock.tryLock()).as("%s is free", lock).isTrue();
                lock.unlock();
            }
        }
    }
}
