package org.shm4j.sync.atomic;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.locks.SharedLock;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SharedValuesTest {
    /** Most tries a weak compare-and-set gets to succeed (it may fail spuriously; on x86 it never does). */
    private static final int WEAK_TRIES = 1_000;

    /**
     * helper-248: AtomicLong's and AtomicInteger's weak compare-and-set forms and compareAndExchangeAcquire/Release
     * were missing (code ported from them did not compile), though every other VarHandle mode is offered.
     */
    @Test
    void shouldOfferTheWeakAndOrderedCompareAndSetForms() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLong l = SharedLong.create(heap, "l", 1);
            assertThat(l.weakCompareAndSetPlain(0, 9)).isFalse();
            assertThat(eventually(() -> l.weakCompareAndSetPlain(1, 2))).isTrue();
            assertThat(eventually(() -> l.weakCompareAndSetVolatile(2, 3))).isTrue();
            assertThat(eventually(() -> l.weakCompareAndSetAcquire(3, 4))).isTrue();
            assertThat(eventually(() -> l.weakCompareAndSetRelease(4, 5))).isTrue();
            assertThat(l.compareAndExchangeAcquire(5, 6)).isEqualTo(5);
            assertThat(l.compareAndExchangeRelease(0, 9)).isEqualTo(6);
            assertThat(l.compareAndExchangeRelease(6, 7)).isEqualTo(6);
            assertThat(l.get()).isEqualTo(7);
            SharedInt i = SharedInt.create(heap, "i", 1);
            assertThat(i.weakCompareAndSetVolatile(0, 9)).isFalse();
            assertThat(eventually(() -> i.weakCompareAndSetPlain(1, 2))).isTrue();
            assertThat(eventually(() -> i.weakCompareAndSetVolatile(2, 3))).isTrue();
            assertThat(eventually(() -> i.weakCompareAndSetAcquire(3, 4))).isTrue();
            assertThat(eventually(() -> i.weakCompareAndSetRelease(4, 5))).isTrue();
            assertThat(i.compareAndExchangeAcquire(5, 6)).isEqualTo(5);
            assertThat(i.compareAndExchangeRelease(6, 7)).isEqualTo(6);
            assertThat(i.get()).isEqualTo(7);
            SharedDouble d = SharedDouble.create(heap, "d", 0.0);
            assertThat(d.weakCompareAndSetVolatile(-0.0, 9)).isFalse(); // bits, as compareAndSet
            assertThat(eventually(() -> d.weakCompareAndSetPlain(0.0, 0.5))).isTrue();
            assertThat(eventually(() -> d.weakCompareAndSetVolatile(0.5, 1.5))).isTrue();
            assertThat(eventually(() -> d.weakCompareAndSetAcquire(1.5, 2.5))).isTrue();
            assertThat(eventually(() -> d.weakCompareAndSetRelease(2.5, 3.5))).isTrue();
            assertThat(d.compareAndExchangeAcquire(3.5, 4.5)).isEqualTo(3.5);
            assertThat(d.compareAndExchangeRelease(4.5, 5.5)).isEqualTo(4.5);
            assertThat(d.get()).isEqualTo(5.5);
            heap.close();
            assertThatThrownBy(() -> l.weakCompareAndSetRelease(7, 8)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("SharedLong 'l' cannot be used: ");
            assertThatThrownBy(() -> d.compareAndExchangeAcquire(5.5, 1)).hasMessageStartingWith("SharedDouble 'd'");
        }
    }

    /** @return true once {@code weakCas} succeeded, within {@link #WEAK_TRIES} tries */
    static boolean eventually(BooleanSupplier weakCas) {
        for (int i = 0; i < WEAK_TRIES; i++) {
            if (weakCas.getAsBoolean()) {
                return true;
            }
        }
        return false;
    }

    @Test
    void shouldOfferTheAtomicLongOperations() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLong v = SharedLong.create(heap, "v", 10, false);
            assertThat(v.get()).isEqualTo(10);
            v.set(11);
            assertThat(v.getAcquire()).isEqualTo(11);
            v.setRelease(12);
            assertThat(v.getOpaque()).isEqualTo(12);
            v.setOpaque(13);
            assertThat(v.getPlain()).isEqualTo(13);
            v.setPlain(14);
            assertThat(v.compareAndSet(13, 0)).isFalse();
            assertThat(v.compareAndSet(14, 15)).isTrue();
            assertThat(v.compareAndExchange(15, 16)).isEqualTo(15);
            assertThat(v.getAndSet(17)).isEqualTo(16);
            assertThat(v.getAndAdd(3)).isEqualTo(17);
            assertThat(v.addAndGet(3)).isEqualTo(23);
            assertThat(v.getAndIncrement()).isEqualTo(23);
            assertThat(v.incrementAndGet()).isEqualTo(25);
            assertThat(v.decrementAndGet()).isEqualTo(24);
            assertThat(v.getAndUpdate(x -> x * 2)).isEqualTo(24);
            assertThat(v.updateAndGet(x -> x + 1)).isEqualTo(49);
            assertThat(v.accumulateAndGet(51, Long::sum)).isEqualTo(100);
            assertThat(v.getAndDecrement()).isEqualTo(100);
            assertThat(v.getAndAccumulate(2, Long::sum)).isEqualTo(99);
            assertThat(v.toString()).isEqualTo("101");
            v.set(100);
            assertThat(SharedLong.open(heap, "v").get()).isEqualTo(100);
            assertThat(SharedLong.openOrCreate(heap, "v", 5).get()).isEqualTo(100);
            assertThat(SharedLong.openOrCreate(heap, "w", 5).get()).isEqualTo(5);
            assertThat(v.segment().get(JAVA_LONG, 0)).isEqualTo(100);
        }
    }

    @Test
    void shouldUseTheLockLeftByACreatorKilledBeforeItCreatedItsValue() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            // what a process killed in create(heap, name, initial, true) between its two blocks leaves
            SharedLock orphan = SharedLock.create(heap, "total.lock");
            SharedLong total = SharedLong.create(heap, "total", 7, true);
            assertThat(total.get()).isEqualTo(7);
            total.lock().lock();
            assertThat(orphan.isLocked()).as("the value's lock is the block left behind").isTrue();
            total.lock().unlock();
            SharedInt.create(heap, "count", 1, true);
            assertThatThrownBy(() -> SharedInt.create(heap, "count", 1, true))
                    .isInstanceOf(ShmAlreadyExistsException.class).hasMessageStartingWith("block 'count' ");
        }
    }

    @Test
    void shouldOfferTheAtomicIntegerOperations() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedInt v = SharedInt.create(heap, "v");
            assertThat(v.incrementAndGet()).isEqualTo(1);
            assertThat(v.getAndAdd(Integer.MAX_VALUE)).isEqualTo(1);
            assertThat(v.get()).isEqualTo(Integer.MIN_VALUE);
            assertThat(v.compareAndExchange(Integer.MIN_VALUE, 7)).isEqualTo(Integer.MIN_VALUE);
            assertThat(v.updateAndGet(x -> x * 3)).isEqualTo(21);
            assertThat(v.accumulateAndGet(2, Math::max)).isEqualTo(21);
            assertThat(v.getAndAccumulate(30, Math::max)).isEqualTo(21);
            assertThat(v.getAndDecrement()).isEqualTo(30);
            assertThat(v.getAndUpdate(x -> x - 8)).isEqualTo(29);
            assertThat(v.segment().byteSize()).isEqualTo(4);
            assertThat(SharedInt.open(heap, "v").get()).isEqualTo(21); // 29 - 8
            assertThatThrownBy(() -> SharedLong.open(heap, "v")).isInstanceOf(ShmTypeMismatchException.class);
        }
    }

    @Test
    void shouldAddDoublesAtomically() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedDouble v = SharedDouble.create(heap, "d", 0.5, true);
            assertThat(v.addAndGet(1.25)).isEqualTo(1.75);
            assertThat(v.getAndAdd(0.25)).isEqualTo(1.75);
            assertThat(v.compareAndSet(-0.0, 1)).isFalse();
            assertThat(v.getAndSet(Double.NaN)).isEqualTo(2.0);
            assertThat(v.compareAndSet(Double.NaN, 0.0)).as("same NaN bits").isTrue();
            assertThat(v.compareAndSet(-0.0, 1.0)).as("0.0 and -0.0 differ in bits").isFalse();
            assertThat(v.withLock(x -> x + 4)).isEqualTo(4.0);
            assertThat(v.getAndAccumulate(3.0, Math::min)).isEqualTo(4.0);
            assertThat(v.withLock(x -> x + 1)).isEqualTo(4.0);
            v.setOpaque(4.0);
            assertThat(v.getOpaque()).isEqualTo(4.0);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 10_000; i++) {
                        v.addAndGet(1.0);
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join(60_000);
            }
            assertThat(v.get()).isEqualTo(40_004.0);
            assertThat(SharedDouble.open(heap, "d").lock().isLocked()).isFalse();
        }
    }

    @Test
    void shouldOfferTheAtomicBooleanOperations() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16); Arena arena = Arena.ofConfined()) {
            SharedBoolean flag = SharedBoolean.create(heap, "flag", false);
            assertThat(SharedLong.create(heap, "seven", 7L).get()).isEqualTo(7L); // the initial-value overloads
            assertThat(SharedInt.create(heap, "eight", 8).get()).isEqualTo(8);
            assertThat(SharedDouble.create(heap, "half", 0.5).get()).isEqualTo(0.5);
            assertThatThrownBy(() -> SharedLong.open(heap, "seven").lock()).as("no lock asked for")
                    .isInstanceOf(IllegalStateException.class);
            assertThat(flag.get()).isFalse();
            assertThat(flag.compareAndSet(false, true)).isTrue();
            assertThat(flag.compareAndSet(false, true)).isFalse();
            assertThat(flag.getAndSet(false)).isTrue();
            flag.setRelease(true);
            assertThat(flag.getAcquire()).isTrue();
            assertThat(SharedBoolean.open(heap, "flag").toString()).isEqualTo("true");
            assertThat(SharedBoolean.openOrCreate(heap, "other", true).get()).isTrue();
            assertThat(flag.segment().get(JAVA_INT, 0)).isEqualTo(1);
            MemorySegment raw = arena.allocate(8, 4);
            assertThat(SharedBoolean.wrap(raw, 4).get()).isFalse();
            raw.set(JAVA_INT, 4, 7); // another writer's true
            SharedBoolean foreign = SharedBoolean.wrap(raw, 4);
            assertThat(foreign.get()).isTrue();
            assertThat(foreign.compareAndSet(false, true)).isFalse();
            assertThat(foreign.compareAndSet(true, false)).as("any non-zero value is true, for CAS too").isTrue();
            assertThat(foreign.get()).isFalse();
            assertThatThrownBy(() -> SharedBoolean.wrap(raw, 2)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SharedInt.open(heap, "flag")).isInstanceOf(ShmTypeMismatchException.class);
        }
    }

    @Test
    void shouldCountExactlyWithThreads() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLong atomic = SharedLong.create(heap, "atomic");
            SharedInt locked = SharedInt.create(heap, "locked", 0, true);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 50_000; i++) {
                        atomic.getAndAdd(2);
                        locked.withLock(x -> x + 1);
                    }
                }));
            }
            for (Thread thread : threads) {
                thread.join(60_000);
            }
            assertThat(atomic.get()).isEqualTo(400_000);
            assertThat(locked.get()).isEqualTo(200_000);
        }
    }

    @Test
    void shouldGiveEachValueItsLockOnlyWhenAsked() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedLong plain = SharedLong.create(heap, "plain");
            assertThatThrownBy(plain::lock).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedLong 'plain' has no lock: it was created without one (no block of its "
                            + "name + '.lock' was beside it when it was opened)");
            SharedLong withLock = SharedLong.create(heap, "guarded", 0, true);
            assertThat(heap.find("guarded.lock")).isPresent();
            assertThat(SharedLong.open(heap, "guarded").lock().isLocked()).isFalse();
            withLock.lock().lock();
            assertThat(SharedLong.open(heap, "guarded").lock().isLocked()).isTrue();
            withLock.lock().unlock();
        }
    }

    @Test
    void shouldReportMissingAndDuplicateNames() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            assertThatThrownBy(() -> SharedInt.open(heap, "none")).isInstanceOf(ShmNotFoundException.class);
            SharedInt.create(heap, "x");
            assertThatThrownBy(() -> SharedInt.create(heap, "x")).isInstanceOf(ShmAlreadyExistsException.class);
            assertThatThrownBy(() -> SharedDouble.openOrCreate(heap, "x", 1))
                    .isInstanceOf(ShmTypeMismatchException.class);
        }
    }

    @Test
    void shouldWrapAlignedMemoryAndRejectMisalignedOffsets() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(64, 8);
            SharedLong l = SharedLong.wrap(raw, 8);
            l.set(5);
            assertThat(raw.get(JAVA_LONG, 8)).isEqualTo(5);
            SharedInt i = SharedInt.wrap(raw, 4);
            i.set(6);
            assertThat(raw.get(JAVA_INT, 4)).isEqualTo(6);
            assertThatThrownBy(() -> SharedLong.wrap(raw, 4)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("offset=4")
                            .hasMessageContaining("(expected: a multiple of 8 for atomic access)");
            assertThatThrownBy(() -> SharedInt.wrap(raw, 2)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SharedDouble.wrap(raw, 12)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> SharedLong.wrap(raw, 64)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> SharedLong.wrap(raw, -8)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }
}
