package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedCounter;
import org.shm4j.sync.atomic.SharedCounters;
import org.shm4j.sync.atomic.SharedDoubleArray;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedCondition;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.locks.SharedReentrantLock;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.invoke.MethodHandles;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A structure whose first operation in a JVM comes from deep in a thread's stack: a class that operation initializes
 * first (a holder of a thread's buffers, of handles, of native downcalls) may overflow the stack in its static
 * initialization, and the JVM then marks it erroneous for good: before the fix every later compute of any map in that
 * JVM threw {@code NoClassDefFoundError: Could not initialize class org.shm4j.sync.map.Scratch}. Class initialization
 * is per JVM, so a fresh child JVM opens each structure at a shallow depth, then makes its first operation from a
 * small-stack thread at every depth on the way back from the stack's end (a {@link StackOverflowError} there is
 * expected; any other error is not), then once more from a shallow thread, which must work.
 */
class FirstUseDeepInStackTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldWorkAfterAFirstOperationFromDeepInAStack() throws Exception {
        String heapName = names.unique("firstdeep");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 22)) {
            try (ChildJvm child = ChildJvm.start(FirstUses.class, heapName)) {
                for (String structure : FirstUses.cases().keySet()) {
                    assertThat(child.awaitLine("CASE " + structure + " ", BOUND)).as(structure)
                            .isEqualTo("CASE " + structure + " ok");
                }
                child.awaitSuccess(BOUND);
            }
        }
    }

    /**
     * {@code main(heap)}: for each case, opens the structure here (shallow), makes the first operation at every depth
     * of a small-stack thread on its way back from the stack's end, then once from a shallow thread, and prints
     * {@code CASE name ok} or {@code CASE name failed: why}.
     */
    public static final class FirstUses {
        /** @return each case's name and how it opens its structure and returns its operation, in order */
        static Map<String, Function<SharedHeap, Operation>> cases() {
            Map<String, Function<SharedHeap, Operation>> cases = new LinkedHashMap<>();
            cases.put("map", heap -> {
                SharedMap<Long, Long> map = SharedMap.create(heap, "map", Codec.longs(), Codec.longs(),
                        MapSizing.ofLongKeys(100, 8));
                return () -> map.compute(1L, (k, v) -> v == null ? 1L : v + 1);
            });
            cases.put("longMap", heap -> {
                SharedLongMap<String> map = SharedLongMap.create(heap, "longMap", Codec.utf8(),
                        MapSizing.ofLongKeys(100, 8));
                return () -> map.get(map.set(1L, "one") ? 1L : 2L);
            });
            cases.put("ring", heap -> {
                SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.MPMC, 1 << 12);
                byte[] message = new byte[8];
                return () -> {
                    ring.offer(1, message, 0, message.length);
                    ring.poll((type, buffer, offset, length) -> { });
                };
            });
            cases.put("queue", heap -> {
                SharedQueue<String> queue = SharedQueue.create(heap, "queue", 1 << 10, Codec.utf8());
                return () -> {
                    queue.offer("x");
                    queue.poll(1, TimeUnit.NANOSECONDS);
                };
            });
            cases.put("recordQueue", heap -> {
                SharedQueue<Point> queue = SharedQueue.create(heap, "records", 1 << 10,
                        Codec.record(Point.class, MethodHandles.lookup()));
                Point point = new Point("p", 1);
                return () -> {
                    queue.offer(point);
                    queue.poll();
                };
            });
            cases.put("joinableQueue", heap -> {
                SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "joinable", 1 << 10,
                        Codec.longs());
                return () -> {
                    queue.offer(1L);
                    if (queue.poll() != null) {
                        queue.taskDone();
                    }
                };
            });
            cases.put("pipe", heap -> {
                SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 12);
                SharedPipe.End first = pipe.first();
                SharedPipe.End second = pipe.second();
                byte[] message = new byte[8];
                return () -> {
                    first.send(message, Duration.ZERO);
                    if (second.poll()) {
                        second.recv(Duration.ZERO);
                    }
                };
            });
            cases.put("list", heap -> {
                SharedList<String> list = SharedList.create(heap, "list", Codec.utf8(), 16);
                return () -> {
                    if (list.isEmpty()) {
                        list.add("x");
                    } else {
                        list.removeLast();
                    }
                };
            });
            cases.put("lock", heap -> {
                SharedLock lock = SharedLock.create(heap, "lock");
                return () -> {
                    if (tryLock(lock)) {
                        lock.unlock();
                    }
                };
            });
            cases.put("condition", heap -> {
                SharedLock lock = SharedLock.create(heap, "conditionLock");
                SharedCondition condition = SharedCondition.create(heap, "condition", lock);
                return () -> {
                    if (tryLock(lock)) {
                        try {
                            condition.awaitNanos(1);
                        } finally {
                            lock.unlock();
                        }
                    }
                };
            });
            cases.put("reentrantLock", heap -> {
                SharedReentrantLock lock = SharedReentrantLock.create(heap, "reentrant");
                return () -> {
                    if (lock.tryLock()) {
                        lock.unlock();
                    }
                };
            });
            cases.put("fairLock", heap -> {
                SharedFairLock lock = SharedFairLock.create(heap, "fair");
                return () -> {
                    if (lock.tryLock(1, TimeUnit.NANOSECONDS)) {
                        lock.unlock();
                    }
                };
            });
            cases.put("readWriteLock", heap -> {
                SharedReadWriteLock lock = SharedReadWriteLock.create(heap, "rw");
                return () -> {
                    if (lock.readLock().tryLock()) {
                        lock.readLock().unlock();
                    }
                    if (lock.writeLock().tryLock(1, TimeUnit.NANOSECONDS)) {
                        lock.writeLock().unlock();
                    }
                };
            });
            cases.put("atomics", heap -> {
                SharedLong value = SharedLong.create(heap, "long", 0, true);
                SharedDoubleArray doubles = SharedDoubleArray.create(heap, "doubles", 4);
                return () -> {
                    value.updateAndGet(v -> v + 1);
                    value.withLock(v -> v - 1);
                    doubles.accumulateAndGet(1, 1.0, Double::sum);
                };
            });
            cases.put("counters", heap -> {
                SharedCounters counters = SharedCounters.create(heap, "counters", 1 << 10, Duration.ZERO);
                return () -> {
                    SharedCounter counter = counters.allocate("c");
                    counter.incrementAndGet();
                    counter.free();
                };
            });
            cases.put("coordination", heap -> {
                SharedCountDownLatch latch = SharedCountDownLatch.create(heap, "latch", Integer.MAX_VALUE);
                SharedSemaphore semaphore = SharedSemaphore.create(heap, "semaphore", 1);
                SharedEvent event = SharedEvent.create(heap, "event");
                SharedBarrier barrier = SharedBarrier.create(heap, "barrier", 1);
                return () -> {
                    latch.countDown();
                    latch.await(1, TimeUnit.NANOSECONDS);
                    if (semaphore.tryAcquire(1, TimeUnit.NANOSECONDS)) {
                        semaphore.release();
                    }
                    event.await(1, TimeUnit.NANOSECONDS);
                    barrier.await(1, TimeUnit.SECONDS);
                };
            });
            cases.put("heap", heap -> () -> heap.allocateOrLookup("block", new BlockType(0x7E57, 1), 64, 8,
                    block -> { }));
            return cases;
        }

        /**
         * @return whether this thread took {@code lock}; false too where an overflow cut this thread's unlock short
         *         before (the lock is then left held by it: not what this test is about, nor a first use)
         */
        private static boolean tryLock(SharedLock lock) {
            try {
                return lock.tryLock();
            } catch (IllegalMonitorStateException heldByThisThread) {
                return false;
            }
        }

        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                for (Map.Entry<String, Function<SharedHeap, Operation>> entry : cases().entrySet()) {
                    Operation operation = entry.getValue().apply(heap);
                    System.out.println("CASE " + entry.getKey() + " " + tryDeepThenShallow(operation));
                    System.out.flush();
                }
            }
        }

        private static String tryDeepThenShallow(Operation operation) throws InterruptedException {
            Deep deep = new Deep(operation);
            Thread deepThread = Thread.ofPlatform().daemon().stackSize(256 * 1024).start(deep::down);
            deepThread.join(BOUND.toMillis());
            if (deepThread.isAlive()) {
                return "failed: the deep thread hangs";
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread shallow = Thread.ofPlatform().daemon().start(() -> {
                try {
                    operation.run();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            shallow.join(BOUND.toMillis());
            if (shallow.isAlive()) {
                return "failed: the shallow thread hangs";
            }
            if (deep.failures.isEmpty() && failure.get() == null) {
                return "ok";
            }
            if (!deep.failures.isEmpty()) {
                deep.failures.getFirst().printStackTrace(); // to the test's standard error: where it was thrown
            }
            return "failed: deep in the stack: " + (deep.failures.isEmpty() ? "ok" : deep.failures.getFirst())
                    + "; from a shallow thread afterwards: " + (failure.get() == null ? "ok" : failure.get());
        }
    }

    /** A record a queue's codec writes. */
    record Point(String name, long value) {
    }

    /** A structure's operation. */
    @FunctionalInterface
    private interface Operation {
        void run() throws Exception;
    }

    /** The recursion: runs the operation once at every depth on its way back from the stack's end. */
    private static final class Deep {
        private final Operation operation;
        final List<Throwable> failures = new ArrayList<>();

        Deep(Operation operation) {
            this.operation = operation;
        }

        void down() {
            try {
                down();
            } catch (StackOverflowError expected) {
                // the end: run the operation on the way back
            }
            try {
                operation.run();
            } catch (StackOverflowError expected) {
                // cut short at this depth
            } catch (Throwable t) {
                failures.add(t);
            }
        }
    }
}
