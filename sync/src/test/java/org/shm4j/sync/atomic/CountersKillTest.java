package org.shm4j.sync.atomic;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFullException;
import org.shm4j.sync.internal.Utf8;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.sync.tools.Shm4j;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link SharedCounters} whose allocating and freeing processes are SIGKILLed at random moments, many inside the
 * allocation mutex, while this process allocates and frees too and reads snapshots all along.
 * <ul>
 * <li>ACCEPTABLE: a killed process's last counter stays allocated (nobody frees it), with its label and value.</li>
 * <li>FORBIDDEN: a snapshot entry whose value belongs to another label; an allocation that waits past a bound or
 *     fails while slots are free; a slot lost (neither allocated nor allocatable) after the kills.</li>
 * </ul>
 * One registrant is killed at an exact step instead ({@link KilledAtCall}): while it writes its label over a freed
 * slot's.
 */
@Timeout(180)
class CountersKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final int CAPACITY = 64;
    private static final int WAVES = 4;
    private static final int PER_WAVE = 2;
    /** A child is killed up to this long after it reported its loop running. */
    private static final long KILL_JITTER_NANOS = 30_000_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldKeepLabelsValuesAndSlotsRightWhenAllocatorsAreKilledMidAllocateOrFree() throws Exception {
        String heapName = names.unique("counters-kill");
        Random random = new Random(31);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", CAPACITY, Duration.ZERO);
            AtomicBoolean running = new AtomicBoolean(true);
            CompletableFuture<Long> checker = CompletableFuture.supplyAsync(() -> churnAndCheck(counters, running));
            int kills = 0;
            try {
                for (int wave = 0; wave < WAVES; wave++) {
                    kills += RandomKills.wave(random, KILL_JITTER_NANOS, PER_WAVE, "LOOPING",
                            () -> ChildJvm.start(Churner.class, heapName)).size();
                }
            } finally {
                running.set(false);
            }
            assertThat(checker.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("snapshots checked").isPositive();
            List<SharedCounters.Entry> left = counters.snapshot();
            left.forEach(CountersKillTest::check);
            assertThat(left).as("at most one counter per killed churner stays allocated")
                    .hasSizeLessThanOrEqualTo(kills);
            for (int i = 0; i < CAPACITY - left.size(); i++) {
                counters.allocate("after-" + i).set(i);
            }
            assertThatThrownBy(() -> counters.allocate("one too many")).as("no slot lost, none counted twice")
                    .isInstanceOf(ShmFullException.class);
        }
    }

    /**
     * Until {@code running} turns false: allocates, sets and frees counters of its own, and checks every snapshot.
     *
     * @return how many snapshots it checked
     */
    private static long churnAndCheck(SharedCounters counters, AtomicBoolean running) {
        long checked = 0;
        for (long n = 1; running.get(); n++) {
            SharedCounter mine = counters.allocate(label("parent", n));
            mine.set(n);
            counters.snapshot().forEach(CountersKillTest::check);
            mine.free();
            checked++;
        }
        return checked;
    }

    /**
     * A registrant that reuses a freed slot (every slot allocated, one freed, so that no unused one is left) killed
     * as it writes the new label, the old one and the old value already zeroed under the new registration id: the
     * slot stays freed until its state is stored last, so snapshots taken all along never show it (neither the old
     * label with a zeroed value nor a mix), {@code shm4j inspect} counts the other three, and the next allocation
     * takes over the mutex and reuses the slot.
     */
    @Test
    void shouldNeverShowAFreedSlotWhoseRegistrantIsKilledWritingItsLabel() throws Exception {
        String heapName = names.unique("counters-reuse");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedCounters counters = SharedCounters.create(heap, "stats", 4, Duration.ZERO);
            List<SharedCounter> held = new ArrayList<>();
            for (long n = 0; n < 4; n++) {
                SharedCounter counter = counters.allocate(label("old", n));
                counter.set(n);
                held.add(counter);
            }
            held.get(2).free();
            AtomicBoolean running = new AtomicBoolean(true);
            CompletableFuture<List<Integer>> reader = CompletableFuture.supplyAsync(() -> {
                Set<Integer> seen = new HashSet<>();
                while (running.get()) {
                    for (SharedCounters.Entry e : counters.snapshot()) {
                        assertThat(e.label()).as("slot %d", e.id()).isEqualTo(label("old", e.id()));
                        assertThat(e.value()).as("slot %d", e.id()).isEqualTo(e.id());
                        seen.add(e.id());
                    }
                }
                return seen.stream().sorted().toList();
            });
            try (KilledAtCall registrant = KilledAtCall.start(new KilledAtCall.Step(Utf8.class.getName(), "write",
                    "allocateLocked"), Registrant.class, heapName)) {
                registrant.awaitKilled(BOUND);
            } finally {
                running.set(false);
            }
            assertThat(reader.get(BOUND.toSeconds(), TimeUnit.SECONDS)).containsExactly(0, 1, 3);
            assertThat(counters.snapshot()).extracting(SharedCounters.Entry::id).containsExactly(0, 1, 3);
            assertThat(inspect(heapName)).contains("capacity=4 allocated=3 ");
            SharedCounter reused = counters.allocate("after");
            assertThat(reused.id()).isEqualTo(2);
            assertThat(counters.snapshot()).extracting(SharedCounters.Entry::label).containsExactly(label("old", 0),
                    label("old", 1), "after", label("old", 3));
            assertThat(counters.find("after").orElseThrow().get()).isZero();
        }
    }

    private static String inspect(String heap) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(Shm4j.run(new String[] {"inspect", heap}, new PrintStream(out, true, UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, UTF_8))).isZero();
        return out.toString(UTF_8);
    }

    /** Label {@code owner-n} goes with value n (or 0, before its owner sets it). */
    private static String label(String owner, long n) {
        return owner + "-" + n;
    }

    private static void check(SharedCounters.Entry e) {
        long n = Long.parseLong(e.label().substring(e.label().lastIndexOf('-') + 1));
        assertThat(e.value()).as("value of '%s'", e.label()).isIn(0L, n);
    }

    /**
     * {@code main(heap)}: allocates counter {@code <pid>-n}, sets it to n, checks a snapshot and frees it, for n = 1,
     * 2, ... until killed; prints LOOPING after the first, ERROR and the exception if anything fails.
     */
    public static final class Churner {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedCounters counters = SharedCounters.open(heap, "stats");
                String me = Long.toString(ProcessHandle.current().pid());
                for (long n = 1; ; n++) {
                    SharedCounter counter = counters.allocate(label(me, n));
                    counter.set(n);
                    counters.snapshot().forEach(CountersKillTest::check);
                    counter.free();
                    if (n == 1) {
                        RandomKills.say("LOOPING");
                    }
                }
            } catch (Throwable t) {
                RandomKills.fail(t);
            }
        }
    }

    /** {@code main(heap)}: allocates a counter labelled "new"; the test kills it inside. */
    public static final class Registrant {
        public static void main(String[] args) {
            SharedCounters.open(SharedHeap.open(args[0]), "stats").allocate("new");
            System.out.println("ERROR: allocated");
        }
    }
}
