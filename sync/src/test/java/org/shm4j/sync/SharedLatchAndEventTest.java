package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.Children.BOUND;

/** {@link SharedCountDownLatch} and {@link SharedEvent} in one process and across child JVMs, some killed. */
class SharedLatchAndEventTest {
    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldOpenTheLatchAtZero() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedCountDownLatch latch = SharedCountDownLatch.create(heap, "latch", 2);
            assertThat(latch.await(10, TimeUnit.MILLISECONDS)).isFalse();
            CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> awaitQuietly(
                    () -> SharedCountDownLatch.open(heap, "latch").await(BOUND.toSeconds(), TimeUnit.SECONDS)));
            latch.countDown();
            assertThat(latch.getCount()).isEqualTo(1);
            latch.countDown();
            latch.countDown();
            assertThat(latch.getCount()).isZero();
            assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            latch.await();
            Thread.currentThread().interrupt();
            assertThatThrownBy(latch::await).isInstanceOf(InterruptedException.class);
            assertThatThrownBy(() -> SharedCountDownLatch.create(heap, "x", -1))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("latch 'x': count=-1 (expected: >= 0)");
            assertThatThrownBy(() -> SharedCountDownLatch.openOrCreate(heap, "latch", 3))
                    .isInstanceOf(ShmTypeMismatchException.class);
            assertThatThrownBy(() -> SharedEvent.open(heap, "latch")).isInstanceOf(ShmTypeMismatchException.class);
        }
    }

    @Test
    void shouldWrapLatchesAndEventsOverRawMemoryAndRefuseOtherBytes() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment raw = arena.allocate(1024, 64);
            SharedCountDownLatch.format(raw, 0, 1).countDown();
            assertThat(SharedCountDownLatch.wrap(raw, 0).await(0, TimeUnit.SECONDS)).isTrue();
            SharedEvent.format(raw, 128).set();
            assertThat(SharedEvent.wrap(raw, 128).isSet()).isTrue();
            assertThatThrownBy(() -> SharedEvent.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                    .hasMessageEndingWith("holds type 0x53480062 v1 (expected: type 0x53480063 v1)");
            assertThatThrownBy(() -> SharedCountDownLatch.wrap(raw, 256)).isInstanceOf(ShmFormatException.class);
            assertThatThrownBy(() -> SharedEvent.wrap(raw, 1000)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void shouldReleaseABlockedWaiterOnAPulseAndKeepTheFlag() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment raw = arena.allocate(SharedEvent.requiredBytes(), 64);
            assertThat(SharedEvent.format(raw, 0).await(10, TimeUnit.MILLISECONDS)).isFalse();
            SharedEvent event = SharedEvent.format(raw, 0); // anew: that wait may have left its waiters bit set
            CompletableFuture<Boolean> waiter = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> waiter.complete(awaitQuietly(
                    () -> event.await(BOUND.toSeconds(), TimeUnit.SECONDS))));
            Children.awaitTrue("the waiter announced itself", () -> raw.get(ValueLayout.JAVA_INT, 64) < 0);
            event.set();
            event.clear(); // before the waiter looks, most likely: the generation still tells it
            assertThat(waiter.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(event.isSet()).isFalse();
            event.set();
            event.set();
            assertThat(SharedEvent.wrap(raw, 0).isSet()).isTrue();
            assertThat(event.await(0, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void shouldReleaseWaitersInOtherProcessesAndSurviveAKilledWaiter() throws Exception {
        for (String kind : new String[] {"latch", "event"}) {
            String heapName = names.unique(kind);
            try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
                SharedCountDownLatch latch = SharedCountDownLatch.create(heap, "latch", 1);
                SharedEvent event = SharedEvent.create(heap, "event");
                try (ChildJvm doomed = ChildJvm.start(Waiter.class, heapName, kind, "90");
                     ChildJvm a = ChildJvm.start(Waiter.class, heapName, kind, "90");
                     ChildJvm b = ChildJvm.start(Waiter.class, heapName, kind, "90")) {
                    for (ChildJvm child : List.of(doomed, a, b)) {
                        child.awaitLine("WAITING", BOUND);
                    }
                    doomed.kill(); // inside its wait, most likely blocked in futex
                    if (kind.equals("latch")) {
                        latch.countDown();
                    } else {
                        event.set();
                    }
                    assertThat(a.awaitLine("DONE", BOUND)).isEqualTo("DONE true");
                    assertThat(b.awaitLine("DONE", BOUND)).isEqualTo("DONE true");
                    a.awaitSuccess(BOUND);
                    b.awaitSuccess(BOUND);
                }
            }
        }
    }

    @Test
    void shouldLeaveWaitersToTheirTimeoutsWhenTheSetterIsKilled() throws Exception {
        for (String kind : new String[] {"latch", "event"}) {
            String heapName = names.unique(kind + "-setter");
            try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
                SharedCountDownLatch latch = SharedCountDownLatch.create(heap, "latch", 1);
                SharedEvent event = SharedEvent.create(heap, "event");
                try (ChildJvm setter = ChildJvm.start(Waiter.class, heapName, kind, "90")) {
                    setter.awaitLine("WAITING", BOUND); // it would set after its own wait; it dies before
                    setter.kill();
                }
                long start = System.nanoTime();
                boolean done = kind.equals("latch") ? latch.await(300, TimeUnit.MILLISECONDS)
                        : event.await(300, TimeUnit.MILLISECONDS);
                assertThat(done).as(kind).isFalse();
                assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(300));
            }
        }
    }

    private interface Await {
        boolean run() throws InterruptedException;
    }

    private static boolean awaitQuietly(Await await) {
        try {
            return await.run();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code main(heap, "latch"|"event", seconds)}: waits on it, bounded, and prints {@code DONE <result>}. */
    public static final class Waiter {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedCountDownLatch latch = SharedCountDownLatch.open(heap, "latch");
                SharedEvent event = SharedEvent.open(heap, "event");
                long seconds = Long.parseLong(args[2]);
                Children.say("WAITING");
                boolean done = args[1].equals("latch") ? latch.await(seconds, TimeUnit.SECONDS)
                        : event.await(seconds, TimeUnit.SECONDS);
                Children.say("DONE " + done);
            }
        }
    }
}
