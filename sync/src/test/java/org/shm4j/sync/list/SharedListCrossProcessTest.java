package org.shm4j.sync.list;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link SharedList} shared by child JVMs: concurrent appenders lose and duplicate nothing, and writers killed with
 * SIGKILL in the middle of appends, sets, inserts and removes leave a list whose every element is whole.
 */
class SharedListCrossProcessTest {
    private static final Duration BOUND = Duration.ofSeconds(90);
    private static final int MAX = 200;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldKeepEveryAppendOfConcurrentProcessesExactlyOnce() throws InterruptedException {
        String heapName = names.unique("list-appenders");
        try (SharedHeap heap = SharedHeap.create(heapName, 8 << 20)) {
            SharedList<String> list = SharedList.create(heap, "l", Codec.utf8(), MAX);
            List<ChildJvm> children = new ArrayList<>();
            try {
                for (int c = 0; c < 2; c++) {
                    children.add(ChildJvm.start(Writer.class, heapName, "append", "w" + c, "3000"));
                }
                for (ChildJvm child : children) {
                    child.awaitSuccess(BOUND);
                }
            } finally {
                children.forEach(ChildJvm::close);
            }
            List<String> all = list.snapshot();
            assertThat(all).hasSize(6000).doesNotHaveDuplicates();
            for (String writer : List.of("w0", "w1")) {
                List<String> own = all.stream().filter(v -> v.startsWith(writer + "-")).toList();
                assertThat(own).as("each writer's appends in its order").hasSize(3000)
                        .allSatisfy(SharedListCrossProcessTest::assertWhole);
                for (int k = 0; k < own.size(); k++) {
                    assertThat(own.get(k)).isEqualTo(value(writer, k));
                }
            }
        }
    }

    @Test
    void shouldKeepEveryReturnedAppendOnceAfterAppendersAreKilled() throws InterruptedException {
        String heapName = names.unique("list-killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 64 << 20)) {
            SharedList<String> list = SharedList.create(heap, "l", Codec.utf8(), MAX);
            int rounds = 6;
            for (int round = 0; round < rounds; round++) {
                String writer = "r" + round;
                int confirmed = 100 * (round + 1);
                try (ChildJvm child = ChildJvm.start(Writer.class, heapName, "append", writer, "20000")) {
                    child.awaitLine("APPENDED " + confirmed, BOUND); // append number `confirmed` returned
                    child.kill();
                }
                list.add("parent-" + round); // takes the mutex over from the dead writer if it held it
                List<String> all = list.snapshot();
                List<String> own = all.stream().filter(v -> v.startsWith(writer + "-")).toList();
                assertThat(own.size()).as("appends of " + writer).isGreaterThanOrEqualTo(confirmed);
                for (int k = 0; k < own.size(); k++) {
                    assertThat(own.get(k)).as("append %d of %s, once, whole, in order", k, writer)
                            .isEqualTo(value(writer, k));
                }
                assertThat(all.getLast()).isEqualTo("parent-" + round);
            }
            assertThat(list.snapshot().stream().filter(v -> v.startsWith("parent-")).toList()).hasSize(rounds);
            System.out.println("append kills: " + list.recoveries() + " of " + rounds + " taken over mid-append");
        }
    }

    /** Writers killed in the middle of extends of 10 values ({@code addAll}): each extend is there whole or not. */
    @Test
    void shouldKeepEachExtendWholeOrNotAtAllAfterItsWritersAreKilled() throws InterruptedException {
        String heapName = names.unique("list-extend-killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 64 << 20)) {
            SharedList<String> list = SharedList.create(heap, "l", Codec.utf8(), MAX);
            for (int round = 0; round < 4; round++) {
                String writer = "x" + round;
                int confirmed = 300 * (round + 1);
                try (ChildJvm child = ChildJvm.start(Writer.class, heapName, "extend", writer, "40000")) {
                    child.awaitLine("APPENDED " + confirmed, BOUND);
                    child.kill();
                }
                list.add("parent-" + round); // takes the mutex over from the dead writer if it held it
                List<String> own = list.snapshot().stream().filter(v -> v.startsWith(writer + "-")).toList();
                assertThat(own.size()).as("extends of " + writer).isGreaterThanOrEqualTo(confirmed);
                assertThat(own.size() % 10).as("whole extends of 10 of " + writer).isZero();
                for (int k = 0; k < own.size(); k++) {
                    assertThat(own.get(k)).isEqualTo(value(writer, k));
                }
            }
            System.out.println("extend kills: " + list.recoveries() + " of 4 taken over mid-extend");
        }
    }

    @Test
    void shouldLeaveOnlyWholeElementsAfterShiftingWritersAreKilled() throws InterruptedException {
        String heapName = names.unique("list-shift-killed");
        try (SharedHeap heap = SharedHeap.create(heapName, 64 << 20)) {
            SharedList<String> list = SharedList.create(heap, "l", Codec.utf8(), MAX);
            for (int k = 0; k < 300; k++) {
                list.add(value("seed", k));
            }
            for (int round = 0; round < 4; round++) {
                try (ChildJvm child = ChildJvm.start(Writer.class, heapName, "mixed", "m" + round, "20000")) {
                    child.awaitLine("APPENDED " + 200 * (round + 1), BOUND);
                    child.kill();
                }
                int before = list.size();
                list.add(0, value("parent", round)); // takes over, finishing a dead writer's shift first
                List<String> all = list.snapshot();
                // a dead writer's journaled insert or remove is finished first: one more or one fewer
                assertThat(all.size()).isBetween(before, before + 2);
                assertThat(all).allSatisfy(SharedListCrossProcessTest::assertWhole);
                assertThat(all.getFirst()).isEqualTo(value("parent", round));
            }
            System.out.println("mixed kills: " + list.recoveries() + " of 4 taken over mid-change");
        }
    }

    /** @return the k-th value of a writer: its name, k, and padding whose length and content depend on k */
    static String value(String writer, int k) {
        String head = writer + "-" + k + "-";
        return head + String.valueOf((char) ('a' + k % 26)).repeat((k * 37) % (MAX - head.length() - 10));
    }

    private static void assertWhole(String v) {
        String[] parts = v.split("-", 3);
        assertThat(parts).as(v).hasSize(3);
        assertThat(v).isEqualTo(value(parts[0], Integer.parseInt(parts[1])));
    }

    /**
     * {@code main(heap, "append"|"mixed"|"extend", writer, count)}: appends {@code count} values of {@link #value},
     * or ("mixed") cycles append, set, insert and remove on random indices, printing {@code APPENDED <k>} after every
     * 100th operation that returned; or ("extend") appends them 10 at a time with {@code addAll}.
     */
    public static final class Writer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedList<String> list = SharedList.open(heap, "l", Codec.utf8());
                boolean mixed = args[1].equals("mixed");
                String writer = args[2];
                String[] values = new String[Integer.parseInt(args[3])]; // made up front: the loop is mostly writes
                Arrays.setAll(values, k -> value(writer, k));
                if (args[1].equals("extend")) {
                    for (int k = 0; k < values.length; k += 10) {
                        list.addAll(Arrays.asList(values).subList(k, k + 10));
                        if ((k + 10) % 100 == 0) {
                            System.out.println("APPENDED " + (k + 10));
                        }
                    }
                    return;
                }
                ThreadLocalRandom random = ThreadLocalRandom.current();
                for (int k = 0; k < values.length; k++) {
                    String v = values[k];
                    int size = list.size();
                    switch (mixed ? k % 4 : 0) {
                        case 1 -> list.set(random.nextInt(size), v);
                        case 2 -> list.add(random.nextInt(size + 1), v);
                        case 3 -> list.remove(random.nextInt(size));
                        default -> list.add(v);
                    }
                    if ((k + 1) % 100 == 0) {
                        System.out.println("APPENDED " + (k + 1));
                    }
                }
            }
        }
    }
}
