package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.process.WorkerProcess;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs the README's classic examples, Python's {@code multiprocessing} guides translated one to one, each as a real
 * program (its {@code main} in a JVM of its own, which starts its workers), and checks that the README shows them
 * verbatim.
 */
@Timeout(300)
class ClassicExamplesTest {
    static final Duration BOUND = Duration.ofMinutes(2);

    @Test
    void valueWithItsLockAndFiveWorkerProcesses() throws Exception {
        assertThat(runMain(Counter.class)).containsExactly("10");
    }

    @Test
    void queueBetweenAProducerProcessAndAConsumerProcess() throws Exception {
        assertThat(runMain(ProducerConsumer.class))
                .containsExactlyElementsOf(IntStream.range(0, 10).mapToObj(i -> "done job " + i).toList());
    }

    @Test
    void managerDictCounterWithFourWorkerProcesses() throws Exception {
        assertThat(runMain(DictCounter.class)).containsExactly("4000");
    }

    @Test
    void shouldShowTheseExamplesVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/ClassicExamplesTest.java"), 3);
    }

    /** Runs {@code example}'s {@code main} in a JVM of its own; its workers print to the same output. */
    private static List<String> runMain(Class<?> example) throws InterruptedException {
        try (WorkerProcess main = WorkerProcess.of(example).captureOutput().start()) {
            assertThat(main.join(BOUND)).as("%s exited in time; output: %s", example, main.output()).isTrue();
            assertThat(main.exitValue()).as("exit value; output: %s", main.output()).isZero();
            return main.output();
        }
    }

    /** Python: {@code Value('i', 0)} and 5 {@code Process(target=add, args=(counter, i))}. */
    static final class Counter {
        // README:begin
        public static void main(String[] args) throws Exception {
            HeapOptions options = HeapOptions.defaults().withReplaceStale(true).withUnlinkOnLastDetach(true);
            try (SharedHeap heap = SharedHeap.openOrCreate("classic-value", 1 << 20, options)) {
                SharedInt counter = SharedInt.create(heap, "counter", 0, true);   // Value('i', 0), with its lock
                List<WorkerProcess> workers = WorkerProcess.startAll(5,           // Process(target=add, args=(i,))
                        i -> WorkerProcess.of(Counter.class, String.valueOf(i)).method("add"));
                WorkerProcess.joinAll(workers, Duration.ofMinutes(1));            // p.join() for each
                System.out.println(counter.get());                                // 10
            }
        }

        static void add(String[] args) {                                          // runs in each worker process
            try (SharedHeap heap = SharedHeap.open("classic-value")) {
                SharedInt counter = SharedInt.open(heap, "counter");
                counter.withLock(value -> value + Integer.parseInt(args[0]));     // with counter.get_lock(): ...
            }
        }
        // README:end
    }

    /** Python: a {@code Queue()} with a producer {@code Process} and a consumer {@code Process}. */
    static final class ProducerConsumer {
        // README:begin
        public static void main(String[] args) throws Exception {
            HeapOptions options = HeapOptions.defaults().withReplaceStale(true).withUnlinkOnLastDetach(true);
            try (SharedHeap heap = SharedHeap.openOrCreate("classic-queue", 1 << 20, options)) {
                SharedQueue.create(heap, "jobs", 1 << 16, Codec.utf8());          // Queue()
                try (WorkerProcess consumer = WorkerProcess.of(ProducerConsumer.class).method("consume")
                             .daemon(true).start();                               // daemon=True
                     WorkerProcess producer = WorkerProcess.of(ProducerConsumer.class).method("produce")
                             .daemon(true).start()) {
                    WorkerProcess.joinAll(List.of(producer, consumer), Duration.ofMinutes(1));
                }                                                                 // still running? killed
            }
        }

        static void produce() throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open("classic-queue")) {
                SharedQueue<String> jobs = SharedQueue.open(heap, "jobs", Codec.utf8());
                for (int i = 0; i < 10; i++) {
                    jobs.put("job " + i);                                         // q.put(...)
                }
                jobs.put("STOP");
            }
        }

        static void consume() throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open("classic-queue")) {
                SharedQueue<String> jobs = SharedQueue.open(heap, "jobs", Codec.utf8());
                for (String job = jobs.take(); !job.equals("STOP"); job = jobs.take()) {  // q.get()
                    System.out.println("done " + job);
                }
            }
        }
        // README:end
    }

    /** Python: a {@code Manager().dict()} counter that 4 {@code Process}es add to. */
    static final class DictCounter {
        // README:begin
        public static void main(String[] args) throws Exception {
            HeapOptions options = HeapOptions.defaults().withReplaceStale(true).withUnlinkOnLastDetach(true);
            try (SharedHeap heap = SharedHeap.openOrCreate("classic-dict", 1 << 20, options)) {
                SharedMap<String, Long> d = SharedMap.create(heap, "d", Codec.utf8(), Codec.longs(),
                        new MapSizing(100, 8, 8));                                // manager.dict(), no server
                d.put("hits", 0L);
                List<WorkerProcess> workers = WorkerProcess.startAll(4,
                        i -> WorkerProcess.of(DictCounter.class).method("count"));
                WorkerProcess.joinAll(workers, Duration.ofMinutes(1));
                System.out.println(d.get("hits"));                                // 4000
            }
        }

        static void count() {
            try (SharedHeap heap = SharedHeap.open("classic-dict")) {
                SharedMap<String, Long> d = SharedMap.open(heap, "d", Codec.utf8(), Codec.longs());
                for (int i = 0; i < 1000; i++) {
                    d.merge("hits", 1L, Long::sum);                               // atomic: no lock needed
                }
            }
        }
        // README:end
    }
}
