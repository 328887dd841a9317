package org.shm4j.core.process;

import org.shm4j.core.internal.Timeouts;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * A worker JVM running one static method of a class, like a process of Python's {@code multiprocessing}: started
 * with this JVM's {@code java}, class path or module path and native-access setting (see {@link Builder}), then
 * joined, killed or left to die with its parent (a daemon; a worker that is not one outlives its parent, see
 * {@link Builder#daemon(boolean)}).
 *
 * <pre>{@code
 * List<WorkerProcess> workers = WorkerProcess.startAll(5,
 *         i -> WorkerProcess.of(Counter.class, String.valueOf(i)).method("add"));
 * WorkerProcess.joinAll(workers, Duration.ofMinutes(1));
 * }</pre>
 *
 * <p>Exit values are those of {@link Process}: 0 after a normal end, 1 when the method threw (the JVM prints the
 * exception), 128 + the signal's number when a signal ended it (137 after {@link #kill()}, usually 143 after
 * {@link #destroy()}), and {@link WorkerLauncher#PARENT_GONE_EXIT_CODE} for a daemon whose parent died.
 * Methods of one {@code WorkerProcess} may be called from any thread.
 */
public final class WorkerProcess implements AutoCloseable {
    private static final Duration KILL_BOUND = Duration.ofSeconds(30);
    /** How long after a worker exited a wait for its output may go on (a process it started may hold it open). */
    static final Duration OUTPUT_GRACE = Duration.ofSeconds(5);

    private final Process process;
    private final String name;
    private final OutputLines output;

    /** @param keptLines how many lines of its output to keep, or 0 if it is not captured */
    private WorkerProcess(Process process, String name, int keptLines) {
        this.process = process;
        this.name = name + " (pid " + process.pid() + ")";
        this.output = keptLines == 0 ? null : new OutputLines(process.getInputStream(), "worker-" + process.pid(),
                keptLines, process::isAlive, OUTPUT_GRACE);
        if (output != null) {
            process.onExit().thenRun(output::workerExited); // the grace counts from the exit even if no call waits
        }
    }

    /**
     * Describes a worker that runs {@code type}'s {@code main(String[])} (or another static method, see
     * {@link Builder#method(String)}) with {@code args}.
     *
     * <p>The arguments arrive exactly: when the platform's encoding of process arguments (set by the locale: ASCII
     * under a C or POSIX locale) cannot carry one of them, they are passed encoded and decoded by the worker's
     * launcher.
     *
     * @throws IllegalArgumentException if {@code type} is a hidden class, a primitive type or an array type, or
     *                                  this JVM's system class loader cannot load it by name (as the worker's
     *                                  launcher would): a new JVM cannot load it either; or if an argument holds
     *                                  a NUL character or a lone surrogate, which no process argument carries
     */
    public static Builder of(Class<?> type, String... args) {
        Objects.requireNonNull(type, "type");
        if (type.isHidden() || type.isPrimitive() || type.isArray()) {
            throw new IllegalArgumentException("WorkerProcess: a worker JVM cannot load " + type.getName()
                    + " by name (hidden, primitive or array type)");
        }
        if (!loadableByName(type)) {
            throw new IllegalArgumentException("WorkerProcess: a worker JVM cannot load " + type.getName()
                    + " by name: it is not on this JVM's class path or module path (a class compiled in memory, as by"
                    + " 'java File.java', or loaded by another class loader is not)");
        }
        Objects.requireNonNull(args, "args");
        for (int i = 0; i < args.length; i++) {
            if (args[i] == null) {
                throw new NullPointerException("WorkerProcess: args[" + i + "] is null (a worker's main gets strings)");
            }
            ProcessArguments.check("args[" + i + "]", args[i]);
        }
        List<String> arguments = List.of(args);
        return new Builder(type, arguments);
    }

    /**
     * @return true if the system class loader finds a class of {@code type}'s name, as the worker's launcher looks it
     *         up (not necessarily the same class object: a child-first loader, as in a framework's dev mode, may have
     *         loaded {@code type} from the same class path)
     */
    private static boolean loadableByName(Class<?> type) {
        try {
            Class.forName(type.getName(), false, ClassLoader.getSystemClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /**
     * Starts {@code count} workers, the {@code i}-th as described by {@code workers.apply(i)}. If one cannot be
     * started, those already started are killed and the failure is thrown.
     *
     * @return the started workers, in order of {@code i}
     * @throws IllegalArgumentException if {@code count} is negative
     * @throws NullPointerException     if {@code workers} is null or returns null
     */
    public static List<WorkerProcess> startAll(int count, IntFunction<Builder> workers) {
        if (count < 0) {
            throw new IllegalArgumentException("WorkerProcess.startAll: count: " + count + " (expected: >= 0)");
        }
        Objects.requireNonNull(workers, "workers");
        List<WorkerProcess> started = new ArrayList<>(count);
        try {
            for (int i = 0; i < count; i++) {
                Builder worker = workers.apply(i);
                if (worker == null) {
                    throw new NullPointerException("WorkerProcess.startAll: workers.apply(" + i + ") returned null");
                }
                started.add(worker.start());
            }
        } catch (RuntimeException | Error e) {
            started.forEach(WorkerProcess::close);
            throw e;
        }
        return List.copyOf(started);
    }

    /**
     * Waits until every worker has exited, at most {@code timeout} in all.
     *
     * @return true if all exited in time; false if some still run (they are left running)
     * @throws InterruptedException if this thread is interrupted while waiting (the workers are left running)
     */
    public static boolean joinAll(Collection<WorkerProcess> workers, Duration timeout) throws InterruptedException {
        Objects.requireNonNull(workers, "workers");
        long deadline = System.nanoTime() + Timeouts.nanos(timeout);
        boolean all = true;
        for (WorkerProcess worker : workers) {
            all &= worker.join(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        }
        return all;
    }

    /** @return the worker's process id */
    public long pid() {
        return process.pid();
    }

    /**
     * Waits until the worker has exited, at most {@code timeout}. When its output is captured, also until all of it
     * has been read, within the same bound and at most 5 s after the exit (a process the worker started may hold
     * its output open): 5 s counted once from the exit, so a later call, or {@link #awaitLine}, does not wait them
     * again.
     *
     * @return true if it exited in time
     * @throws InterruptedException if this thread is interrupted while waiting (the worker is left running)
     */
    public boolean join(Duration timeout) throws InterruptedException {
        long nanos = Timeouts.nanos(timeout); // saturated: Duration.ofSeconds(Long.MAX_VALUE) waits for ever
        long deadline = System.nanoTime() + nanos;
        if (!process.waitFor(nanos, TimeUnit.NANOSECONDS)) {
            return false;
        }
        if (output != null) {
            output.awaitEnd(deadline);
        }
        return true;
    }

    /** @return whether the worker is still running */
    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * @return the worker's exit value (see the class comment)
     * @throws IllegalStateException if it is still running
     */
    public int exitValue() {
        if (process.isAlive()) {
            throw new IllegalStateException("worker " + name + " is still running");
        }
        return process.exitValue();
    }

    /** Kills the worker with {@code SIGKILL}, like Python's {@code Process.kill()}; {@link #join} waits for it. */
    public void kill() {
        process.toHandle().destroyForcibly(); // the handle's: Process.destroyForcibly() also closes the output pipe
    }

    /**
     * Asks the worker to end with {@code SIGTERM}, like Python's {@code Process.terminate()}: its JVM runs its
     * shutdown hooks and exits. {@link #join} waits for it.
     */
    public void destroy() {
        process.toHandle().destroy(); // the handle's: Process.destroy() closes the pipe the hooks' output comes by
    }

    /**
     * @return the lines the worker printed to its standard output so far, as many of the last ones as
     *         {@link Builder#captureOutput(int)} keeps (a last line {@code <output lost: exception>} if reading its
     *         pipe failed)
     * @throws IllegalStateException if its output is not {@linkplain Builder#captureOutput() captured}
     */
    public List<String> output() {
        return captured().lines();
    }

    /**
     * Waits, at most {@code timeout}, for the next line of output that starts with {@code prefix}. Lines that an
     * earlier call passed over or returned are not looked at again, nor are lines dropped from the kept window (see
     * {@link Builder#captureOutput(int)}) before a call looked at them.
     *
     * @return the line, or empty if the worker's output ended, the worker has been gone for 5 s (a process it
     *         started may hold its output open; counted from its exit, not from this call, so once they passed a call
     *         returns at once with what was read), or the timeout passed first
     * @throws IllegalStateException if its output is not {@linkplain Builder#captureOutput() captured}
     * @throws InterruptedException  if this thread is interrupted while waiting
     */
    public Optional<String> awaitLine(String prefix, Duration timeout) throws InterruptedException {
        Objects.requireNonNull(prefix, "prefix");
        return captured().awaitLine(prefix, System.nanoTime() + Timeouts.nanos(timeout));
    }

    /**
     * Kills the worker if it still runs and waits (up to 30 s) until it is gone. Interrupted, it returns at once
     * with the thread's interrupt status set.
     */
    @Override
    public void close() {
        if (process.isAlive()) {
            kill();
            try {
                process.waitFor(KILL_BOUND.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** @return the worker's class, method, arguments and pid */
    @Override
    public String toString() {
        return name;
    }

    private OutputLines captured() {
        if (output == null) {
            throw new IllegalStateException("worker " + name + ": output is not captured (see captureOutput())");
        }
        return output;
    }

    /**
     * What a worker runs and how: its method, system properties, JVM options, output and whether it is a daemon.
     * A builder can start several workers; it is not thread-safe. Besides what it is given, a worker gets this JVM's
     * module-system, native-access and preview options and its {@code shm4j.*} system properties (the library's
     * settings, such as {@code shm4j.futex}), as they are when it starts, unless {@link #systemProperty} sets them.
     */
    public static final class Builder {
        /** How many lines of a captured output {@link #captureOutput()} keeps. */
        public static final int DEFAULT_KEPT_LINES = 10_000;
        /** The most lines of a captured output {@link #captureOutput(int)} keeps. */
        public static final int MAX_KEPT_LINES = 1_000_000;
        /** The most bytes of one argument Linux takes ({@code MAX_ARG_STRLEN}, with its terminating NUL). */
        private static final int MAX_ARG_BYTES = 128 << 10;
        /** The system property that sets the encoding of a JVM's {@code System.out}. */
        private static final String OUTPUT_ENCODING = "stdout.encoding";

        private final Class<?> type;
        private final List<String> args;
        private final Map<String, String> properties = new LinkedHashMap<>();
        private final List<String> jvmOptions = new ArrayList<>();
        private String method = "main";
        /** How many lines of output to keep; 0: not captured. */
        private int keptLines;
        private boolean daemon;

        private Builder(Class<?> type, List<String> args) {
            this.type = type;
            this.args = args;
        }

        /**
         * Runs the method {@code name} instead of {@code main}, chosen as Java 25's {@code java} launcher chooses a
         * {@code main} (JEP 512): {@code void name(String[] args)}, else {@code void name()} which gets no arguments,
         * not private, static or instance, declared or inherited. It is called reflectively, so it need not be public.
         * An instance method is called on an instance made with the class's constructor without parameters (not
         * private).
         *
         * @throws IllegalArgumentException if the class declares no such method
         */
        public Builder method(String name) {
            WorkerLauncher.findMethod(type, Objects.requireNonNull(name, "name"));
            this.method = name;
            return this;
        }

        /**
         * Sets the system property {@code key} to {@code value} in the worker.
         *
         * @throws IllegalArgumentException if {@code key} is empty or contains {@code '='}, or either holds a NUL
         *                                  character or a lone surrogate (see {@link #start()} for the locale)
         */
        public Builder systemProperty(String key, String value) {
            Objects.requireNonNull(key, "key");
            if (key.isEmpty() || key.indexOf('=') >= 0) {
                throw new IllegalArgumentException("WorkerProcess: system property key: '" + key
                        + "' (expected: non-empty, without '=')");
            }
            ProcessArguments.check("system property '" + key + "'", key + "=" + Objects.requireNonNull(value, "value"));
            properties.put(key, value);
            return this;
        }

        /** Gives the worker this JVM's value of the system property {@code key} (as now), if it has one. */
        public Builder inheritSystemProperty(String key) {
            String value = System.getProperty(Objects.requireNonNull(key, "key"));
            return value == null ? this : systemProperty(key, value);
        }

        /**
         * Adds a JVM option such as {@code -Xmx64m}, placed before the class path and the main class: one argument,
         * so an option's value goes in it ({@code --add-opens=java.base/java.lang=ALL-UNNAMED}); or an argument file
         * of options, {@code @path}, which the {@code java} launcher reads in its place.
         *
         * @throws IllegalArgumentException if it starts with neither {@code -} nor {@code @} (the {@code java} launcher
         *                                  would take it for the main class), or holds a NUL character or a lone
         *                                  surrogate
         */
        public Builder jvmOption(String option) {
            if (!Objects.requireNonNull(option, "option").startsWith("-") && !option.startsWith("@")) {
                throw new IllegalArgumentException("WorkerProcess: JVM option '" + option + "' (expected: starting "
                        + "with '-', one argument with its value, e.g. --add-opens=java.base/java.lang=ALL-UNNAMED, "
                        + "or '@' for an argument file; the java launcher would take it for the main class)");
            }
            jvmOptions.add(ProcessArguments.check("JVM option", option));
            return this;
        }

        /** The worker writes to this JVM's standard output and error (the default, as in Python). */
        public Builder inheritOutput() {
            this.keptLines = 0;
            return this;
        }

        /**
         * The worker's standard output is read line by line into {@link WorkerProcess#output()} and
         * {@link WorkerProcess#awaitLine}, keeping the last {@value #DEFAULT_KEPT_LINES} lines: see
         * {@link #captureOutput(int)}.
         */
        public Builder captureOutput() {
            return captureOutput(DEFAULT_KEPT_LINES);
        }

        /**
         * The worker's standard output is read line by line into {@link WorkerProcess#output()} and
         * {@link WorkerProcess#awaitLine}, keeping the last {@code keptLines} lines and at most 4 Mi characters of
         * them (older lines are dropped, so a worker that logs for hours cannot fill this JVM's memory; a line
         * longer than 64 Ki characters keeps its start and says how many were dropped). A line ends at
         * {@code "\n"}, {@code "\r"} or {@code "\r\n"}, as {@link java.io.BufferedReader#readLine()} reads them.
         * The output is read as UTF-8, and the worker's {@code System.out} writes UTF-8 whatever its locale (its
         * system property {@code stdout.encoding} is {@code UTF-8} unless {@link #systemProperty} sets it).
         * Its standard error still goes to this JVM's.
         *
         * @throws IllegalArgumentException if {@code keptLines} is not 1 to {@value #MAX_KEPT_LINES}
         */
        public Builder captureOutput(int keptLines) {
            if (keptLines < 1 || keptLines > MAX_KEPT_LINES) {
                throw new IllegalArgumentException("WorkerProcess: keptLines=" + keptLines + " (expected: 1.."
                        + MAX_KEPT_LINES + ")");
            }
            this.keptLines = keptLines;
            return this;
        }

        /**
         * A daemon worker exits when this process is gone, like Python's {@code Process(daemon=True)}, also when
         * this process is killed. A worker that is not a daemon (the default) outlives this process whether it is
         * killed or exits normally: where Python joins its non-daemon children when the parent exits normally, a
         * JVM's exit neither waits for nor stops its workers, so join them first ({@link WorkerProcess#joinAll}), or
         * make them daemons. In a daemon, a thread checks every {@link WorkerLauncher#PARENT_POLL} that this process
         * lives (its pid and start time, so a reused pid does not count) and else halts the worker's JVM with
         * {@link WorkerLauncher#PARENT_GONE_EXIT_CODE}, without shutdown hooks.
         */
        public Builder daemon(boolean daemon) {
            this.daemon = daemon;
            return this;
        }

        /**
         * Starts the worker.
         *
         * @throws IllegalArgumentException if the class declares no method to run (see {@link #method(String)}), or
         *                                  a system property or JVM option holds a character that the platform's
         *                                  encoding of process arguments cannot carry (the worker's JVM reads those
         *                                  itself, so they cannot be passed encoded: run under a UTF-8 locale)
         * @throws UncheckedIOException     if the JVM cannot be started
         */
        public WorkerProcess start() {
            WorkerLauncher.findMethod(type, method);
            Map<String, String> given = properties;
            if (keptLines > 0 && !given.containsKey(OUTPUT_ENCODING)) {
                // OutputLines reads the pipe as UTF-8: the worker writes it so under any locale (ASCII gave '?')
                given = new LinkedHashMap<>(properties);
                given.put(OUTPUT_ENCODING, "UTF-8");
            }
            List<String> command = WorkerCommand.of(type, method, args, given, jvmOptions, daemon);
            ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
            if (keptLines == 0) {
                builder.redirectOutput(ProcessBuilder.Redirect.INHERIT);
            }
            String label = abbreviated(type.getSimpleName() + "." + method + args);
            // stdin at its end, as Python's Process gives its child os.devnull: a read returns at once
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            try {
                return new WorkerProcess(builder.start(), label, keptLines);
            } catch (IOException e) {
                throw new UncheckedIOException("WorkerProcess: cannot start a JVM for " + label + ": "
                        + abbreviated(String.valueOf(e.getMessage()).strip()) + commandSize(command) + ": "
                        + abbreviated(command.toString()), e);
            }
        }

        /** @return a note on the size of a command line that may be too long for a process (1 MiB), else empty */
        private static String commandSize(List<String> command) {
            long bytes = 0;
            long longest = 0;
            for (String arg : command) {
                long length = arg.getBytes(StandardCharsets.UTF_8).length + 1L; // with its terminating NUL
                bytes += length;
                longest = Math.max(longest, length);
            }
            return longest <= MAX_ARG_BYTES && bytes <= MAX_ARG_BYTES * 8 ? "" : " (the command line takes " + bytes
                    + " bytes, its longest argument " + longest + "; Linux takes at most " + MAX_ARG_BYTES
                    + " bytes in one argument and about 2 MiB in all, with the environment: pass large data through"
                    + " shared memory)";
        }

        /** @return {@code text}, cut to its first 1,000 characters if longer (an argument may be megabytes) */
        private static String abbreviated(String text) {
            return text.length() <= 1_000 ? text : text.substring(0, 1_000) + "... (" + text.length() + " characters)";
        }
    }
}
