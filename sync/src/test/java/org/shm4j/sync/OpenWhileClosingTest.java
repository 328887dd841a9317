package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.WaitTable;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.WaitForGraph;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.CloseRaceInChild;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An open of a structure through a heap that another thread closes meanwhile names the heap, whichever step the
 * close cuts short: the heap's lookup, or the structure's checks of its header, which know no heap. So does a
 * snapshot of the heap's wait-for graph. Each test runs in a child JVM, which the JDK may crash: see
 * {@link CloseRaceInChild}.
 */
class OpenWhileClosingTest {
    /**
     * helper-183: 8 threads opening 26 kinds by name through a view that a 9th thread closed after 0-5 ms got the
     * JDK's bare "Already closed" in 110 of 600 failed opens, from the header checks (a map's checksum, a ring's
     * header, a lock word, reserved bytes...).
     */
    @Test
    void shouldNameTheHeapToEveryOpenThatMeetsItsCloseMidway() throws Exception {
        CloseRaceInChild.run(OpenWhileClosingTest.class, "openRounds");
    }

    static void openRounds(String[] args) throws Exception {
        List<Consumer<SharedHeap>> opens = List.of(
                heap -> SharedMap.open(heap, "map", Codec.utf8(), Codec.longs()),
                heap -> SharedQueue.open(heap, "queue", Codec.longs()),
                heap -> SharedFairLock.open(heap, "fair"),
                heap -> SharedList.open(heap, "list", Codec.longs()),
                heap -> SharedRing.openOrCreate(heap, "ring", SharedRing.Kind.SPSC, 1024));
        for (int round = 0; round < 20; round++) {
            SharedHeap heap = SharedHeap.anonymous(1 << 20);
            SharedMap.create(heap, "map", Codec.utf8(), Codec.longs(), new MapSizing(10, 8, 8));
            SharedQueue.create(heap, "queue", 1024, Codec.longs());
            SharedFairLock.create(heap, "fair");
            SharedList.create(heap, "list", Codec.longs(), 8);
            SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
            AtomicInteger opened = new AtomicInteger();
            List<AtomicReference<Throwable>> failures = List.of(new AtomicReference<>(), new AtomicReference<>());
            List<Thread> openers = failures.stream().map(failure -> Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; ; i++) {
                        opens.get(i % opens.size()).accept(heap);
                        opened.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            })).toList();
            while (opened.get() < 200 && openers.stream().allMatch(Thread::isAlive)) {
                Thread.onSpinWait(); // both openers run
            }
            closeUnder(heap, openers, failures, round);
        }
    }

    /** helper-197: snapshots through a view another thread closes read the wait table's slots when it closes. */
    @Test
    void shouldNameTheHeapToEveryWaitForGraphSnapshotThatMeetsItsCloseMidway() throws Exception {
        CloseRaceInChild.run(OpenWhileClosingTest.class, "snapshotRounds");
    }

    static void snapshotRounds(String[] args) throws Exception {
        for (int round = 0; round < 20; round++) {
            SharedHeap heap = SharedHeap.anonymous(1 << 20);
            WaitTable.openOrCreate(heap);
            AtomicInteger taken = new AtomicInteger();
            List<AtomicReference<Throwable>> failures = List.of(new AtomicReference<>(), new AtomicReference<>());
            List<Thread> snapshots = failures.stream().map(failure -> Thread.ofPlatform().start(() -> {
                try {
                    while (true) {
                        WaitForGraph.snapshot(heap);
                        taken.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            })).toList();
            while (taken.get() < 200 && snapshots.stream().allMatch(Thread::isAlive)) {
                Thread.onSpinWait(); // both snapshot threads run
            }
            closeUnder(heap, snapshots, failures, round);
        }
    }

    /** Closes {@code heap} under {@code threads}, then checks each ended on the heap's own closed exception. */
    private static void closeUnder(SharedHeap heap, List<Thread> threads, List<AtomicReference<Throwable>> failures,
            int round) throws InterruptedException {
        heap.close();
        for (int i = 0; i < threads.size(); i++) {
            threads.get(i).join(10_000);
            assertThat(failures.get(i).get()).as("round %d, thread %d", round, i)
                    .isInstanceOf(IllegalStateException.class).hasMessage(heap + " is closed");
        }
    }
}
