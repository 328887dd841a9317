package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.FutexHolds;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;

/**
 * A review of the reopen sweep (see {@code ReopenSweep}): what it must not rename, and what it must.
 */
@Timeout(180)
class ReopenSweepReviewTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    /**
     * A close of a heap whose name no longer leads to it detaches before it unmaps, and attaches again when a thread
     * of this process still holds the memory (a native call given it): that attach claims a new slot in a heap this
     * process had a slot in, so it swept, and renamed the holds of this process's live threads through the view that
     * stays open. Once the close gave up (the heap open, attached), another process took a lock still held here over
     * as a dead holder's: two holders at once.
     */
    @Test
    void shouldNotRenameHoldsOfAViewWhoseCloseCouldNotUnmapIt() throws Throwable {
        String heapName = names.unique("review-close-fails");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedLock lock = SharedLock.create(heap, "lock");
        SharedEvent go = SharedEvent.create(heap, "go");
        MemorySegment word = heap.allocate("word", new BlockType(0x100, 1), 8).segment();
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().daemon().start(() -> {
            lock.lock();
            held.countDown();
            awaitQuietly(release);
            lock.unlock();
        });
        assertThat(held.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        try (ChildJvm child = ChildJvm.start(TryLocker.class, heapName)) {
            child.awaitLine("READY", BOUND);
            assertThat(SharedHeap.unlink(heapName)).isTrue(); // the close then detaches before it unmaps
            Thread inCall = FutexHolds.waitIn(word);
            try {
                assertThatThrownBy(heap::close).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("cannot be closed");
                assertThat(heap.attachedProcesses()).as("attached again: the view stays open").hasSize(2);
                go.set();
                // before: "LOCKED true", the live holder's lock taken over as a gone process's
                assertThat(child.awaitLine("LOCKED", BOUND)).isEqualTo("LOCKED false");
                assertThat(CompletableFuture.supplyAsync(lock::tryLock).get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .as("another thread of this process, while the holder holds it").isFalse();
                child.awaitSuccess(BOUND);
            } finally {
                release.countDown();
                holder.join(BOUND.toMillis());
                FutexHolds.wake(word, inCall);
            }
            assertThat(holder.isAlive()).isFalse();
            heap.close();
        }
    }

    /**
     * The sweep's first run in a JVM initialises its class, which builds the table of kinds (maps, lambdas): a first
     * reopen from deep in a thread's stack overflowed there, and the JVM marked the class erroneous for good, so every
     * later open of any heap this process had closed threw {@code NoClassDefFoundError}, from any stack.
     */
    @Test
    void shouldReopenHeapsAfterAFirstReopenFromDeepInAStack() throws Exception {
        String heapName = names.unique("review-deep");
        String otherName = names.unique("review-deep-other");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
             SharedHeap other = SharedHeap.create(otherName, 1 << 20)) {
            SharedLock.create(heap, "lock");
            SharedLock.create(other, "lock");
            try (ChildJvm child = ChildJvm.start(DeepReopener.class, heapName, otherName)) {
                // before: "REOPENED failed: ... NoClassDefFoundError: Could not initialize class ...ReopenSweep"
                assertThat(child.awaitLine("REOPENED", BOUND)).isEqualTo("REOPENED ok");
                child.awaitSuccess(BOUND);
            }
        }
    }

    /**
     * The thread that held each kind of lock when the heap closed locks it again after the reopen (a reentrant lock
     * held twice, a write lock, a read lock then the write lock, a fair lock, UNDO permits): each hold was renamed, so
     * it is taken over as a dead holder's, not refused as this thread's own or waited for.
     */
    @Test
    void shouldLetTheThreadThatHeldEachKindLockItAgainAfterTheReopen() throws Exception {
        String heapName = names.unique("review-same-thread");
        SharedHeap heap = SharedHeap.create(heapName, 1 << 20);
        SharedReentrantLock reentrant = SharedReentrantLock.create(heap, "reentrant");
        reentrant.lock();
        reentrant.lock();
        SharedReadWriteLock.create(heap, "write").writeLock().lock();
        SharedReadWriteLock.create(heap, "read").readLock().lock();
        SharedFairLock.create(heap, "fair").lock();
        SharedSemaphore.create(heap, "undo", 1, SharedSemaphore.Kind.UNDO).acquire();
        heap.close();
        try (SharedHeap again = SharedHeap.open(heapName)) {
            SharedReentrantLock reentrantAgain = SharedReentrantLock.open(again, "reentrant");
            assertThat(reentrantAgain.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(reentrantAgain.getHoldCount()).as("the dead holder's count dropped").isOne();
            assertThat(reentrantAgain.isConsistent()).isFalse();
            reentrantAgain.unlock();
            assertThat(reentrantAgain.isHeldByCurrentThread()).isFalse();
            SharedReadWriteLock write = SharedReadWriteLock.open(again, "write");
            assertThat(write.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(write.isConsistent()).isFalse();
            write.writeLock().unlock();
            SharedReadWriteLock read = SharedReadWriteLock.open(again, "read");
            assertThat(read.writeLock().tryLock(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("the write lock, by the thread whose read hold the close left").isTrue();
            read.writeLock().unlock();
            SharedFairLock fair = SharedFairLock.open(again, "fair");
            assertThat(fair.isHeldByCurrentThread()).isFalse();
            assertThat(fair.tryLock(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(fair.isConsistent()).isFalse();
            assertThat(fair.recoveries()).isOne();
            fair.unlock();
            SharedSemaphore undo = SharedSemaphore.open(again, "undo");
            assertThat(undo.tryAcquire(1, BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            undo.release();
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(3 * BOUND.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * {@code main(heap, other)}: opens each heap and its lock {@code "lock"} here, shallow (the lock used once), and
     * closes it; opens the first again and closes it at every depth of a small-stack thread on its way back from the
     * stack's end (a {@link StackOverflowError} there is expected), then opens the other again from a shallow thread
     * and prints {@code REOPENED ok}, or {@code REOPENED failed: why}.
     */
    public static final class DeepReopener {
        public static void main(String[] args) throws Exception {
            for (String name : args) {
                try (SharedHeap heap = SharedHeap.open(name)) {
                    SharedLock lock = SharedLock.open(heap, "lock");
                    lock.lock();
                    lock.unlock();
                }
            }
            Thread deep = Thread.ofPlatform().daemon().stackSize(256 * 1024).start(() -> down(args[0]));
            deep.join(BOUND.toMillis());
            String outcome;
            try (SharedHeap again = SharedHeap.open(args[1])) {
                outcome = deep.isAlive() ? "failed: the deep thread hangs" : "ok";
            } catch (Throwable t) {
                outcome = "failed: " + t;
            }
            Children.say("REOPENED " + outcome);
        }

        private static void down(String name) {
            try {
                down(name);
            } catch (StackOverflowError expected) {
                // the end: open on the way back
            }
            try (SharedHeap again = SharedHeap.open(name)) {
                again.byteSize();
            } catch (StackOverflowError expected) {
                // cut short at this depth
            } catch (Throwable t) {
                // a NoClassDefFoundError after an overflow in a class initialiser: the shallow open shows it
            }
        }
    }

    /**
     * {@code main(heap)}: opens the heap, its lock {@code "lock"} and event {@code "go"}, prints {@code READY}, waits
     * for the event, then tries the lock for 2 s (40 liveness checks) and prints {@code LOCKED <got it>}.
     */
    public static final class TryLocker {
        public static void main(String[] args) throws Exception {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock lock = SharedLock.open(heap, "lock");
                SharedEvent go = SharedEvent.open(heap, "go");
                Children.say("READY");
                if (!go.await(BOUND.toSeconds(), TimeUnit.SECONDS)) {
                    throw new AssertionError("no go");
                }
                boolean locked = lock.tryLock(2, TimeUnit.SECONDS);
                Children.say("LOCKED " + locked);
                if (locked) {
                    lock.unlock();
                }
            }
        }
    }
}
