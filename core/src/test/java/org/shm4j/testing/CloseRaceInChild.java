package org.shm4j.testing;

import org.shm4j.core.SharedMemory;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Runs a test body that closes a heap or region while other threads of its process access it in a child JVM, and
 * runs it again if the JDK crashed that JVM. The JDK this project tests on (Temurin 25.0.3) lacks the fix of
 * JDK-8364167: a close's handshake may be processed at a poll that cannot install the exception, so the other
 * thread's access goes on into the unmapped memory (SIGSEGV). It crashed the surefire JVM once in CI on 2026-12-06
 * (LockCallCutShortByCloseTest, in a C1-compiled {@code Unsafe.getAndBitwiseAndInt} under
 * {@code SharedReadWriteLock.unflagReaders}), which failed the whole build. Only such a crash is run again: the
 * child's error file names a SIGSEGV or SIGBUS. Any other failure fails the test at once, with the child's output;
 * five crashes in a row fail it too. The child runs as {@link ChildJvm} starts it, C1 only, where the crash is rarer:
 * {@code CloseWhileInUseTest}'s catalog rounds crashed 2 children of 2 with C2 as well, none of 3 without.
 */
public final class CloseRaceInChild {
    private static final int ATTEMPTS = 5;
    private static final Duration BOUND = Duration.ofSeconds(90);
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    private CloseRaceInChild() {
    }

    /**
     * {@link #run} for a body whose rounds each use a heap named {@code heaps-<round>} ({@code 0 <= round < rounds}),
     * {@code heaps} passed as its last argument, after {@code args}: unlinks those heaps afterwards, which a child
     * that the JDK crashed leaves behind.
     */
    public static void runOnHeaps(Class<?> testClass, String method, String heaps, int rounds, String... args)
            throws InterruptedException {
        String[] all = Arrays.copyOf(args, args.length + 1);
        all[args.length] = heaps;
        try {
            run(testClass, method, all);
        } finally {
            for (int round = 0; round < rounds; round++) {
                SharedMemory.unlink(heaps + "-" + round);
            }
        }
    }

    /**
     * Runs {@code testClass}'s static method {@code method}, which takes {@code String[]} (given {@code args}), in a
     * child JVM, and waits (bounded) until it ends: a normal return passes, a throw fails this test with the child's
     * output (the throwable's stack trace among it).
     */
    public static void run(Class<?> testClass, String method, String... args) throws InterruptedException {
        List<String> childArgs = new ArrayList<>(List.of(testClass.getName(), method));
        childArgs.addAll(List.of(args));
        List<String> crashes = new ArrayList<>();
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            Path errorFile = Path.of(System.getProperty("java.io.tmpdir"), "shm4j-test-" + ProcessHandle.current().pid()
                    + "-" + SEQUENCE.incrementAndGet() + "-hs_err.log");
            List<String> options = List.of("-XX:ErrorFile=" + errorFile);
            try (ChildJvm child = ChildJvm.start(options, Body.class, childArgs.toArray(String[]::new))) {
                child.awaitSuccess(BOUND);
                return;
            } catch (AssertionError failed) {
                String crash = jdkCrash(errorFile).orElseThrow(() -> failed);
                crashes.add(crash);
                System.err.println("WARNING: " + testClass.getSimpleName() + "." + method + Arrays.toString(args)
                        + ": the child JVM crashed in the JDK (JDK-8364167), running it again: " + crash);
            } finally {
                deleteQuietly(errorFile);
            }
        }
        throw new AssertionError(testClass.getSimpleName() + "." + method + Arrays.toString(args) + ": the child JVM "
                + "crashed in the JDK " + ATTEMPTS + " times in a row: " + crashes);
    }

    /**
     * @return the problematic frame, if {@code errorFile} tells of a SIGSEGV or SIGBUS: the crash of a JVM whose
     *         every access to shared memory goes through a checked {@code MemorySegment} (the JDK's copy stubs, or its
     *         scoped accesses, which the JIT inlines, so the frames need not name them)
     */
    private static Optional<String> jdkCrash(Path errorFile) {
        List<String> lines;
        try {
            lines = Files.exists(errorFile) ? Files.readAllLines(errorFile) : List.of();
        } catch (IOException unreadable) {
            return Optional.empty();
        }
        int frame = lines.indexOf("# Problematic frame:");
        if (frame < 0 || frame + 1 >= lines.size()
                || lines.subList(0, frame).stream().noneMatch(line -> line.matches("#\\s+SIG(SEGV|BUS) .*"))) {
            return Optional.empty();
        }
        return Optional.of(lines.get(frame + 1));
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException left) {
            System.err.println("WARNING: could not delete " + file + ": " + left);
        }
    }

    /** The child's main: runs the static method {@code args[1]} of class {@code args[0]} with the rest of args. */
    public static final class Body {
        private Body() {
        }

        /**
         * @param args the class, the method, then the method's arguments
         */
        public static void main(String[] args) throws Exception {
            Method body = Class.forName(args[0]).getDeclaredMethod(args[1], String[].class);
            body.setAccessible(true);
            try {
                body.invoke(null, (Object) Stream.of(args).skip(2).toArray(String[]::new));
            } catch (InvocationTargetException failed) {
                failed.getCause().printStackTrace(System.out); // the output ChildJvm shows the test
                System.out.flush();
                System.exit(1);
            }
        }
    }
}
