package org.shm4j.sync.atomic;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.internal.CountersLayout;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ReadmeSnippets;
import org.shm4j.testing.ShmNames;

import java.io.IOException;
import java.nio.file.Path;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

class SharedCountersTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldShowTheReadmeExample() throws IOException {
        // README:begin
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedCounters counters = SharedCounters.openOrCreate(heap, "stats", 64);
            SharedCounter served = counters.allocate("requests served");  // another process: find("requests served")
            served.incrementAndGet();
            served.getAndAdd(2);
            assertThat(counters.snapshot()).extracting(SharedCounters.Entry::label, SharedCounters.Entry::value)
                    .containsExactly(tuple("requests served", 3L));
            served.free();                                    // its slot goes to another label only after 1 s
        }
        // README:end
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/atomic/SharedCountersTest.java"), 1);
    }

    /**
     * helper-248: a counter printed its label and slot but not its value, where the AtomicLong it mirrors prints its
     * value; it must still not throw once freed or closed (loggers call it).
     */
    @Test
    void shouldShowItsValueInToString() {
        SharedHeap heap = SharedHeap.anonymous(1 << 16);
        SharedCounters counters = SharedCounters.create(heap, "stats", 2, Duration.ZERO);
        SharedCounter served = counters.allocate("served");
        SharedCounter failed = counters.allocate("failed");
        served.addAndGet(42);
        assertThat(served).hasToString("counter 'served' (slot 0) of SharedCounters 'stats' = 42");
        failed.free();
        assertThat(failed).hasToString("counter 'failed' (slot 1) of SharedCounters 'stats' (freed by this handle)");
        heap.close();
        assertThat(served).hasToString("counter 'served' (slot 0) of SharedCounters 'stats' (its heap is closed)");
        assertThatThrownBy(served::get).hasMessageStartingWith("counter 'served' (slot 0) of SharedCounters 'stats' "
                + "cannot be used: its heap is closed");
    }

    @Test
    void shouldAllocateLabeledCountersWithEveryAccessMode() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", 4);
            SharedCounter offered = counters.allocate("messages offered");
            SharedCounter polled = counters.allocate("messages polled");
            assertThat(offered.incrementAndGet()).isEqualTo(1);
            assertThat(offered.getAndIncrement()).isEqualTo(1);
            assertThat(offered.addAndGet(10)).isEqualTo(12);
            assertThat(offered.getAndAdd(-2)).isEqualTo(12);
            assertThat(offered.decrementAndGet()).isEqualTo(9);
            assertThat(offered.compareAndSet(9, 20)).isTrue();
            assertThat(offered.compareAndSet(9, 30)).isFalse();
            polled.setRelease(5);
            assertThat(polled.getAcquire()).isEqualTo(5);
            polled.setOpaque(6);
            assertThat(polled.getOpaque()).isEqualTo(6);
            polled.set(7);
            assertThat(polled.get()).isEqualTo(7);

            assertThat(counters.snapshot()).containsExactly(
                    new SharedCounters.Entry(0, offered.registrationId(), "messages offered", 20),
                    new SharedCounters.Entry(1, polled.registrationId(), "messages polled", 7));
            assertThat(counters.snapshot()).as("a snapshot, not a view to change").isUnmodifiable();
            assertThat(SharedCounters.open(heap, "stats").find("messages polled").orElseThrow().get()).isEqualTo(7);
            assertThat(counters.find("nothing")).isEmpty();
        }
    }

    @Test
    void shouldReuseAFreedSlotOnlyAfterTheDelayWithAZeroValueAndANewId() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", 1, Duration.ofMillis(300));
            SharedCounter first = counters.allocate("first");
            first.set(42);
            long freedAt = System.nanoTime();
            first.free();
            assertThat(counters.snapshot()).isEmpty();
            assertThatThrownBy(first::free).isInstanceOf(IllegalStateException.class)
                    .hasMessage("SharedCounters 'stats': counter 'first' (slot 0) is already freed");
            SharedCounter second = null;
            while (second == null) {
                try {
                    second = counters.allocate("second");
                } catch (ShmFullException tooSoon) {
                    assertThat(tooSoon).hasMessage("SharedCounters 'stats' in " + heap + " is full: all of its"
                            + " capacity=1 counters are allocated or were freed less than 300 ms ago (the capacity is"
                            + " fixed at creation)");
                    assertThat(System.nanoTime() - freedAt).isLessThan(BOUND.toNanos());
                    Thread.sleep(20); // polling a clock-based deadline, not synchronising with another thread
                }
            }
            assertThat(System.nanoTime() - freedAt).isGreaterThanOrEqualTo(Duration.ofMillis(290).toNanos());
            assertThat(second.id()).isEqualTo(first.id());
            assertThat(second.registrationId()).isNotEqualTo(first.registrationId());
            assertThat(second.get()).isZero();
            assertThat(counters.snapshot()).containsExactly(
                    new SharedCounters.Entry(0, second.registrationId(), "second", 0));
        }
    }

    /** helper-179: the refusal named neither the heap nor, as such, the capacity ("all 2 counters are allocated"). */
    @Test
    void shouldNameTheHeapAndTheCapacityWhenFull() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedCounters counters = SharedCounters.openOrCreate(heap, "stats", 2);
            counters.allocate("a");
            counters.allocate("b");
            assertThatThrownBy(() -> SharedCounters.open(heap, "stats").allocate("c"))
                    .isInstanceOf(ShmFullException.class)
                    .hasMessageStartingWith("SharedCounters 'stats' in heap anonymous@")
                    .hasMessageContaining(" is full: all of its capacity=2 counters are allocated")
                    .hasMessageEndingWith("(the capacity is fixed at creation)");
        }
    }

    @Test
    void shouldPreferUnusedSlotsAndRefuseBadArguments() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", 2, Duration.ZERO);
            SharedCounter a = counters.allocate("a");
            a.free();
            assertThat(counters.allocate("b").id()).as("an unused slot before a freed one").isEqualTo(1);
            assertThat(counters.allocate("c").id()).as("zero delay: reusable at once").isEqualTo(0);
            assertThat(counters.capacity()).isEqualTo(2);
            assertThat(counters.reuseDelay()).isEqualTo(Duration.ZERO);
            assertThatThrownBy(() -> counters.allocate("x".repeat(CountersLayout.MAX_LABEL_BYTES + 1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("SharedCounters 'stats': label of 105 UTF-8 bytes (expected: <= 104)");
            assertThatThrownBy(() -> SharedCounters.create(heap, "none", 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("SharedCounters 'none': capacity=0 (expected: 1..65536)");
            assertThatThrownBy(() -> SharedCounters.create(heap, "neg", 1, Duration.ofMillis(-1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("SharedCounters 'neg': reuseDelay: PT-0.001S (expected: >= 0)");
            assertThatThrownBy(() -> SharedCounters.openOrCreate(heap, "stats", 3))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessage("SharedCounters 'stats' exists with capacity 2 (asked: 3)");
            SharedCounters never = SharedCounters.create(heap, "never", 1, ChronoUnit.FOREVER.getDuration());
            never.allocate("once").free();
            assertThatThrownBy(() -> never.allocate("again")).as("a delay too long for nanoseconds: never reused")
                    .isInstanceOf(ShmFullException.class);
        }
    }

    /**
     * A handle that freed its counter refuses every later access (helper-95: its writes landed in the next label's
     * value); another handle of the same allocation does not know of the free.
     */
    @Test
    void shouldRefuseAccessThroughAHandleThatFreedItsCounter() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", 1, Duration.ZERO);
            SharedCounter old = counters.allocate("old");
            SharedCounter other = counters.find("old").orElseThrow();
            old.addAndGet(5);
            old.free();
            SharedCounter next = counters.allocate("new");
            assertThat(next.id()).as("the slot, reused at once").isEqualTo(old.id());
            String freed = "counter 'old' (slot 0) of " + counters + " cannot be used: this handle freed it";
            List<ThrowingCallable> uses = List.of(old::get, old::getAcquire, old::getOpaque, () -> old.set(1),
                    () -> old.setRelease(1), () -> old.setOpaque(1), () -> old.getAndAdd(1), () -> old.addAndGet(1),
                    old::incrementAndGet, old::decrementAndGet, old::getAndIncrement, () -> old.compareAndSet(0, 1));
            for (ThrowingCallable use : uses) {
                assertThatThrownBy(use).isInstanceOf(IllegalStateException.class).hasMessage(freed);
            }
            assertThat(next.get()).as("nothing landed in the new label's value").isZero();
            assertThatThrownBy(old::free).hasMessageContaining("is already freed");
            assertThat(other.incrementAndGet()).as("another handle does not know").isEqualTo(1);
            assertThat(next.get()).isEqualTo(1);
        }
    }

    @Test
    void shouldFindALabelAsStoredAndRefuseAllocationOnAReadOnlyHeap() {
        String name = names.unique("counters-read-only");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", 2);
            SharedCounter odd = counters.allocate("req\uD800"); // a lone surrogate: stored as '?', as getBytes does
            assertThat(odd.label()).isEqualTo("req?");
            assertThat(counters.find("req\uD800").map(SharedCounter::id)).contains(odd.id());
            try (SharedHeap readOnly = SharedHeap.openReadOnly(name)) {
                SharedCounters seen = SharedCounters.open(readOnly, "stats");
                assertThat(seen.find("req?")).isPresent();
                assertThatThrownBy(() -> seen.allocate("x")).isInstanceOf(IllegalStateException.class)
                        .hasMessage("SharedCounters 'stats' is read-only here: its heap was opened read-only");
            }
        }
    }

    @Test
    void shouldCountExactlyAcrossProcesses() throws InterruptedException {
        String heapName = names.unique("counters");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", 8);
            SharedCounter total = counters.allocate("total");
            List<ChildJvm> children = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    children.add(ChildJvm.start(Incrementer.class, heapName, "20000", "child-" + i));
                }
                for (ChildJvm child : children) {
                    child.awaitSuccess(BOUND);
                }
            } finally {
                children.forEach(ChildJvm::close);
            }
            assertThat(total.get()).isEqualTo(60_000);
            assertThat(counters.snapshot()).extracting(SharedCounters.Entry::label)
                    .containsExactlyInAnyOrder("total", "child-0", "child-1", "child-2");
            assertThat(counters.snapshot()).filteredOn(e -> e.label().startsWith("child-"))
                    .extracting(SharedCounters.Entry::value).containsOnly(20_000L);
        }
    }

    /** {@code main(heap, n, label)}: allocates its own counter {@code label}, adds 1 n times to it and to "total". */
    public static final class Incrementer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedCounters counters = SharedCounters.open(heap, "stats");
                SharedCounter total = counters.find("total").orElseThrow();
                SharedCounter mine = counters.allocate(args[2]);
                for (int i = 0; i < Integer.parseInt(args[1]); i++) {
                    total.incrementAndGet();
                    mine.getAndAdd(1);
                }
            }
        }
    }
}
