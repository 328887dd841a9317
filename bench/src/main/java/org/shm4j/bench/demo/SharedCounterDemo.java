package org.shm4j.bench.demo;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedLong;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The main demo: two JVM processes share a named heap and a counter in it. The parent creates the heap
 * {@code /dev/shm/shm4j-demo-<pid>} with a {@link SharedLong}, starts a child JVM on the same class path, and both
 * add to the counter at once;
 * each prints what it sees, and the parent checks that no increment was lost.
 *
 * <p>Run: {@code java -cp bench/target/benchmarks.jar org.shm4j.bench.demo.SharedCounterDemo}
 */
public final class SharedCounterDemo {
    private static final long INCREMENTS = 5_000_000;
    private static final long REPORT_EVERY = 1_000_000;
    private static final long START_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);

    private SharedCounterDemo() {
    }

    /**
     * @param args empty for the parent; {@code child <heapName>} in the child
     */
    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length == 2 && args[0].equals("child")) {
            runChild(args[1]);
        } else {
            runParent();
        }
    }

    private static void runParent() throws IOException, InterruptedException {
        String heapName = "shm4j-demo-" + ProcessHandle.current().pid();
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedLong counter = SharedLong.create(heap, "counter");
            SharedLong arrived = SharedLong.create(heap, "arrived");
            say("created heap /dev/shm/" + heapName + " with SharedLongs 'counter' and 'arrived'");
            Process child = startChild(heapName);
            awaitBoth(arrived);
            long mine = addMany(counter);
            if (!child.waitFor(60, TimeUnit.SECONDS)) {
                child.destroyForcibly();
                throw new IllegalStateException("child did not finish within 60 s");
            }
            long total = counter.get();
            say("child exited with " + child.exitValue() + "; I added " + mine + "; counter = " + total
                    + " (expected " + 2 * INCREMENTS + ")");
            if (child.exitValue() != 0 || total != 2 * INCREMENTS) {
                throw new IllegalStateException("lost or extra increments: counter=" + total);
            }
            say("no increment lost across two processes");
        } finally {
            SharedHeap.unlink(heapName);
        }
    }

    private static void runChild(String heapName) {
        try (SharedHeap heap = SharedHeap.open(heapName)) {
            SharedLong counter = SharedLong.open(heap, "counter");
            say("opened heap /dev/shm/" + heapName + " and found 'counter', which reads " + counter.get());
            awaitBoth(SharedLong.open(heap, "arrived"));
            addMany(counter);
        }
    }

    /** A two-party barrier in shared memory, so that both processes add at the same time. */
    private static void awaitBoth(SharedLong arrived) {
        arrived.incrementAndGet();
        long deadline = System.nanoTime() + START_TIMEOUT_NANOS;
        while (arrived.get() < 2) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("the other process did not arrive within 60 s");
            }
            Thread.onSpinWait();
        }
    }

    private static long addMany(SharedLong counter) {
        for (long i = 1; i <= INCREMENTS; i++) {
            long before = counter.getAndIncrement();
            if (i % REPORT_EVERY == 0) {
                say("after " + i + " of my increments the shared counter reads " + (before + 1));
            }
        }
        return INCREMENTS;
    }

    private static Process startChild(String heapName) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>(List.of(java.toString(), "-cp", System.getProperty("java.class.path"),
                SharedCounterDemo.class.getName(), "child", heapName));
        return new ProcessBuilder(command).inheritIO().start();
    }

    private static void say(String line) {
        System.out.println("[pid " + ProcessHandle.current().pid() + "] " + line);
    }
}
