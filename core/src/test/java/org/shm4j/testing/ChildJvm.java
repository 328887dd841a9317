package org.shm4j.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM started on this JVM's class path and flags, running the {@code main} of a test class. Its standard
 * output is collected line by line so that a test can wait, bounded, for a line the child prints (for example
 * {@code READY} just before the moment the test wants to kill it at). Every wait has a timeout; a child still running
 * when the test closes it is killed.
 */
public final class ChildJvm implements AutoCloseable {
    private final Process process;
    private final String label;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final StringBuffer transcript = new StringBuffer();
    private final Thread reader;

    private ChildJvm(Process process, String label) {
        this.process = process;
        this.label = label;
        this.reader = Thread.ofPlatform().daemon().name("child-" + process.pid() + "-stdout").start(this::pump);
    }

    /**
     * Starts {@code mainClass} in a new JVM with the same class path and native-access flag as this one; standard
     * error goes to this JVM's, standard output is collected.
     */
    public static ChildJvm start(Class<?> mainClass, String... args) {
        return start(List.of(), mainClass, args);
    }

    /** Starts {@code mainClass} as {@link #start(Class, String...)} does, with extra JVM options. */
    public static ChildJvm start(List<String> jvmOptions, Class<?> mainClass, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--enable-native-access=ALL-UNNAMED");
        command.add("-XX:+UseSerialGC");
        command.add("-XX:TieredStopAtLevel=1");
        command.add("-Xshare:auto");
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass.getName());
        command.addAll(Arrays.asList(args));
        try {
            Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            return new ChildJvm(process, mainClass.getSimpleName() + Arrays.toString(args));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start child JVM " + mainClass.getName(), e);
        }
    }

    /** @return the child's pid */
    public long pid() {
        return process.pid();
    }

    /**
     * Waits for the next output line that starts with {@code prefix}, skipping others.
     *
     * @return that line
     * @throws AssertionError if the child exits or the timeout passes first
     */
    public String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            String line = lines.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
            if (line == null) {
                throw new AssertionError("child " + label + " printed no line starting with '" + prefix + "' within "
                        + timeout + (process.isAlive() ? "" : "; it exited with " + process.exitValue())
                        + "; output so far:\n" + transcript);
            }
            if (line.startsWith(prefix)) {
                return line;
            }
        }
    }

    /**
     * Waits for the child to exit and checks its exit code is 0.
     *
     * @throws AssertionError if it does not exit in time (it is then killed) or exits with another code
     */
    public void awaitSuccess(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            kill();
            throw new AssertionError("child " + label + " did not exit within " + timeout + "; output:\n"
                    + transcript);
        }
        reader.join(timeout.toMillis());
        if (process.exitValue() != 0) {
            throw new AssertionError("child " + label + " exited with " + process.exitValue() + "; output:\n"
                    + transcript);
        }
    }

    /** @return everything the child printed so far */
    public String output() {
        return transcript.toString();
    }

    /** Kills the child with SIGKILL and waits (bounded) until it is gone and reaped. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("child " + label + " survived SIGKILL for 30 s");
        }
    }

    /** Kills the child if it still runs. */
    @Override
    public void close() {
        if (process.isAlive()) {
            try {
                kill();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void pump() {
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                transcript.append(line).append('\n');
                lines.add(line);
            }
        } catch (IOException e) {
            transcript.append("<output lost: ").append(e).append(">\n");
        }
    }
}
