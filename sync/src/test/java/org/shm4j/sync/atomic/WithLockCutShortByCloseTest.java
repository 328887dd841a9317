package org.shm4j.sync.atomic;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.testing.CloseRaceInChild;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A value's {@code withLock(update)} takes the lock beside it and unlocks it before it returns, as a lock's own
 * {@code withLock(action)} does: when another thread's close of the heap view cuts the call short, the call throws,
 * so its caller holds nothing and never unlocks; the lock must then be given back through another open view of the
 * heap (see {@code ClosedViewRelease}), not stay held by that thread while the process keeps the other view (every
 * later {@code withLock} and {@code lock()}, in every process, waited). Threads update through one view until it
 * closes under them; then the lock must be free through the kept view.
 */
@Timeout(120)
class WithLockCutShortByCloseTest {
    private static final int ROUNDS = 30;
    private static final int THREADS = 2;
    private static final Duration BOUND = Duration.ofSeconds(10);
    /** How long the kept view's lock may take: at once, unless a holder is left. */
    private static final long FREE_WITHIN_MILLIS = 2_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /** A value created with its lock, and one {@code withLock} call on it through a view. */
    enum Kind {
        LONG(heap -> SharedLong.create(heap, "value", 0, true), heap -> {
            SharedLong value = SharedLong.open(heap, "value");
            return () -> value.withLock(v -> v + 1);
        }),
        INT(heap -> SharedInt.create(heap, "value", 0, true), heap -> {
            SharedInt value = SharedInt.open(heap, "value");
            return () -> value.withLock(v -> v + 1);
        }),
        DOUBLE(heap -> SharedDouble.create(heap, "value", 0, true), heap -> {
            SharedDouble value = SharedDouble.open(heap, "value");
            return () -> value.withLock(v -> v + 1);
        }),
        /** The lock's own {@code withLock(action)}. */
        LOCK(heap -> SharedLock.create(heap, "value.lock"), heap -> {
            SharedLock lock = SharedLock.open(heap, "value.lock");
            return () -> lock.withLock(() -> { });
        }),
        /** A reentrant lock's {@code withLock(action)}, its thread's first hold. */
        REENTRANT(heap -> SharedReentrantLock.create(heap, "value.lock"), heap -> {
            SharedReentrantLock lock = SharedReentrantLock.open(heap, "value.lock");
            return () -> lock.withLock(() -> { });
        }, heap -> SharedReentrantLock.open(heap, "value.lock")),
        /** A fair lock's {@code withLock(action)}: the kept view's check queues behind the hold, if one is left. */
        FAIR(heap -> SharedFairLock.create(heap, "value.lock"), heap -> {
            SharedFairLock lock = SharedFairLock.open(heap, "value.lock");
            return () -> lock.withLock(() -> { });
        }, heap -> SharedFairLock.open(heap, "value.lock"));

        private final Function<SharedHeap, Object> create;
        private final Function<SharedHeap, Runnable> update;
        private final Function<SharedHeap, Lock> keptLock;

        Kind(Function<SharedHeap, Object> create, Function<SharedHeap, Runnable> update) {
            this(create, update, heap -> SharedLock.open(heap, "value.lock"));
        }

        Kind(Function<SharedHeap, Object> create, Function<SharedHeap, Runnable> update,
             Function<SharedHeap, Lock> keptLock) {
            this.create = create;
            this.update = update;
            this.keptLock = keptLock;
        }
    }

    /** In a child JVM, which the JDK may crash: see {@link CloseRaceInChild}. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void shouldLeaveTheLockFreeWhenTheCloseOfItsViewCutsAWithLockShort(Kind kind) throws Exception {
        String heaps = names.unique("with-lock");
        CloseRaceInChild.runOnHeaps(WithLockCutShortByCloseTest.class, "updateRounds", heaps, ROUNDS, kind.name());
    }

    /** The rounds of one {@link Kind} ({@code args[0]}), on heaps named {@code args[1]-<round>}. */
    static void updateRounds(String[] args) throws Exception {
        Kind kind = Kind.valueOf(args[0]);
        List<String> stuck = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++) {
            String name = args[1] + "-" + round;
            SharedMemory.unlink(name); // left by an earlier attempt that the JDK crashed
            try (SharedHeap kept = SharedHeap.create(name, 1 << 20)) {
                kind.create.apply(kept);
                Lock keptLock = kind.keptLock.apply(kept);
                SharedHeap closing = SharedHeap.open(name);
                Runnable update = kind.update.apply(closing);
                AtomicLong turns = new AtomicLong();
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < THREADS; i++) {
                    threads.add(Thread.ofPlatform().daemon().start(() -> updateUntilClosed(update, turns)));
                }
                long closeAfter = ThreadLocalRandom.current().nextLong(20, 2_000);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (turns.get() < closeAfter) {
                    assertThat(System.nanoTime() - deadline).as("the updates, within %s", BOUND).isNegative();
                    Thread.onSpinWait();
                }
                closing.close();
                for (Thread t : threads) {
                    assertThat(t.join(BOUND)).as("a thread ended by the close").isTrue();
                }
                if (!freeWithinBound(keptLock)) {
                    stuck.add("round " + round + ": " + keptLock);
                }
            } finally {
                SharedMemory.unlink(name);
            }
        }
        assertThat(stuck).as("rounds of %d whose lock stayed held through the kept view", ROUNDS).isEmpty();
    }

    private static void updateUntilClosed(Runnable update, AtomicLong turns) {
        try {
            while (true) {
                update.run();
                turns.incrementAndGet();
            }
        } catch (IllegalStateException closed) {
            // the call threw: this thread holds nothing
        }
    }

    /** @return true if a fresh thread takes {@code lock} within the bound (and gives it back) */
    private static boolean freeWithinBound(Lock lock) throws InterruptedException {
        AtomicBoolean taken = new AtomicBoolean();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                if (lock.tryLock(FREE_WITHIN_MILLIS, TimeUnit.MILLISECONDS)) {
                    taken.set(true);
                    lock.unlock();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(t.join(BOUND)).as("the kept view's tryLock returned").isTrue();
        return taken.get();
    }
}
