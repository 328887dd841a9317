package org.shm4j.testing;

import org.shm4j.core.process.WorkerProcess;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A test's child JVM: a {@link WorkerProcess} running the {@code main} of a test class with its output captured,
 * with waits that fail the test (an {@link AssertionError} carrying the child's output) instead of returning
 * {@code false}. A test waits, bounded, for a line the child prints (for example {@code READY} just before the moment
 * the test wants to kill it at). A child still running when the test closes it is killed.
 */
public final class ChildJvm implements AutoCloseable {
    private static final List<String> FAST_START = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Xshare:auto");
    private static final Duration KILL_BOUND = Duration.ofSeconds(30);

    private final WorkerProcess worker;

    private ChildJvm(WorkerProcess worker) {
        this.worker = worker;
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
        WorkerProcess.Builder builder = WorkerProcess.of(mainClass, args).captureOutput();
        FAST_START.forEach(builder::jvmOption);
        jvmOptions.forEach(builder::jvmOption);
        return new ChildJvm(builder.start());
    }

    /** @return the child's pid */
    public long pid() {
        return worker.pid();
    }

    /**
     * Waits for the next output line that starts with {@code prefix}, skipping others.
     *
     * @return that line
     * @throws AssertionError if the child exits or the timeout passes first
     */
    public String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        return worker.awaitLine(prefix, timeout).orElseThrow(() -> new AssertionError("child " + worker
                + " printed no line starting with '" + prefix + "' within " + timeout
                + (worker.isAlive() ? "" : "; it exited with " + worker.exitValue()) + "; output so far:\n"
                + output()));
    }

    /**
     * Waits for the child to exit and checks its exit code is 0.
     *
     * @throws AssertionError if it does not exit in time (it is then killed) or exits with another code
     */
    public void awaitSuccess(Duration timeout) throws InterruptedException {
        if (!worker.join(timeout)) {
            kill();
            throw new AssertionError("child " + worker + " did not exit within " + timeout + "; output:\n"
                    + output());
        }
        if (worker.exitValue() != 0) {
            throw new AssertionError("child " + worker + " exited with " + worker.exitValue() + "; output:\n"
                    + output());
        }
    }

    /** @return everything the child printed so far */
    public String output() {
        StringBuilder transcript = new StringBuilder();
        worker.output().forEach(line -> transcript.append(line).append('\n'));
        return transcript.toString();
    }

    /** Kills the child with SIGKILL and waits (bounded) until it is gone and reaped. */
    public void kill() throws InterruptedException {
        worker.kill();
        if (!worker.join(KILL_BOUND)) {
            throw new AssertionError("child " + worker + " survived SIGKILL for " + KILL_BOUND);
        }
    }

    /** Stops the child with SIGSTOP (it stays alive, as far as liveness checks go, but runs nothing). */
    public void stop() throws InterruptedException {
        signal("-STOP");
    }

    /** Lets a child {@link #stop() stopped} go on, with SIGCONT. */
    public void resume() throws InterruptedException {
        signal("-CONT");
    }

    private void signal(String signal) throws InterruptedException {
        try {
            Process kill = new ProcessBuilder("kill", signal, Long.toString(worker.pid())).inheritIO().start();
            if (!kill.waitFor(KILL_BOUND.toSeconds(), TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new AssertionError("kill " + signal + " " + worker.pid() + " failed or took over " + KILL_BOUND);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Kills the child if it still runs. */
    @Override
    public void close() {
        worker.close();
    }
}
