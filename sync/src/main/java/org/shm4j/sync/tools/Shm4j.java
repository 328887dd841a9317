package org.shm4j.sync.tools;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmException;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.MappedFiles;
import org.shm4j.sync.locks.WaitForGraph;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The {@code shm4j} command: see inside the shm4j heaps of a machine. Run it with the repository's {@code ./shm4j}
 * launcher, or {@code java -cp <shm4j jars> org.shm4j.sync.tools.Shm4j COMMAND ...}.
 *
 * <pre>
 * shm4j ls [--dir DIR]... [--json]          heaps in /dev/shm (or in DIRs): size, use, creator, processes, stale
 * shm4j inspect HEAP [--json]               each block of HEAP with its live state
 * shm4j watch HEAP [--interval MS] [--count N] [--json]
 *                                           inspect again every MS (1000) ms, N times (for ever), with rates
 * shm4j gc [--dir DIR]... [--force] [--json]
 *                                           stale heaps: listed (dry run), or removed with --force
 * </pre>
 * {@code --dir} scans DIR (for file-backed heaps) instead of {@code /dev/shm}; give {@code --dir /dev/shm} too to
 * scan both. HEAP is a name in {@code /dev/shm}, or the path (containing a '/') of a file-backed heap. Everything but
 * {@code gc --force} maps heaps read-only and does not attach: it never changes a heap nor blocks a process.
 * {@code --json} prints one JSON document (for {@code watch}: one per line, per refresh; for {@code help}: the usage
 * text and the exit codes by name) with stable field names; a command that fails prints, besides its message on the
 * error stream, {@code {"command": ..., "error": ..., "exitCode": ...}}, where the command is null only if the line
 * named none that the tool knows (a usage error after a known command names it). {@code -h} or {@code --help}
 * anywhere prints the usage whatever the rest of the line says; the {@code help} command, like the others, refuses an
 * option it does not take.
 *
 * <p>Exit codes: {@value #OK} success; {@value #ERROR} error (an unreadable heap, an I/O error); {@value #USAGE}
 * bad usage (also an empty HEAP); {@value #NOT_FOUND} no such heap.
 */
public final class Shm4j {
    /** Exit code: success. */
    public static final int OK = 0;
    /** Exit code: an error, for example a heap that is not readable. */
    public static final int ERROR = 1;
    /** Exit code: bad usage. */
    public static final int USAGE = 2;
    /** Exit code: the named heap does not exist. */
    public static final int NOT_FOUND = 3;

    private static final String USAGE_TEXT = """
            usage: shm4j COMMAND [OPTIONS]
              ls [--dir DIR]... [--json]            heaps in /dev/shm (or DIRs): size, use, creator, processes, stale
              inspect HEAP [--json]                 each block of HEAP with its live state
              watch HEAP [--interval MS] [--count N] [--json]
                                                    inspect every MS ms (1000), N times (for ever), with rates
              gc [--dir DIR]... [--force] [--json]  list stale heaps and killed creates' temporary files;
                                                    remove them with --force
              help [--json]                         this text (--json: with the exit codes by name)
            --dir DIR scans DIR instead of /dev/shm (repeat it, with --dir /dev/shm for both).
            HEAP: a name in /dev/shm, or the path of a file-backed heap. Only gc --force writes.
            exit codes: 0 ok, 1 error, 2 usage, 3 no such heap""";

    private Shm4j() {
    }

    /** Runs the command line and exits with its exit code. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs one command line, printing to {@code out} and {@code err}.
     *
     * @return the exit code: {@link #OK}, {@link #ERROR}, {@link #USAGE} or {@link #NOT_FOUND}
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Options options;
        try {
            options = Options.parse(args);
        } catch (UsageException e) { // the error line as before, with no command: its message names it if known
            int exitCode = report(List.of(args).contains("--json"), e.command, "shm4j: ", e.getMessage(), USAGE, out,
                    err);
            err.println(USAGE_TEXT);
            return exitCode;
        }
        try {
            return switch (options.command()) {
                case "help" -> help(options, out);
                case "ls" -> ls(options, out);
                case "inspect", "watch" -> inspect(options, out, err);
                case "gc" -> gc(options, out);
                default -> throw new AssertionError(options.command());
            };
        } catch (IOException | RuntimeException e) {
            return fail(options.json(), options.command(), String.valueOf(e.getMessage()), ERROR, out, err);
        } catch (InternalError e) { // the JVM's word for a fault of a mapped access: SIGBUS past a file's end
            return fail(options.json(), options.command(), "a heap's file shrank under its mapping (truncated or "
                    + "replaced while mapped): " + e.getMessage(), ERROR, out, err);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail(options.json(), options.command(), "interrupted", ERROR, out, err);
        }
    }

    /** {@code help}: the usage text; with {@code --json}, a document holding it and the exit codes by name. */
    private static int help(Options options, PrintStream out) {
        if (!options.json()) {
            out.println(USAGE_TEXT);
            return OK;
        }
        Map<String, Object> exitCodes = new LinkedHashMap<>();
        exitCodes.put("ok", OK);
        exitCodes.put("error", ERROR);
        exitCodes.put("usage", USAGE);
        exitCodes.put("notFound", NOT_FOUND);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("command", "help");
        report.put("usage", USAGE_TEXT);
        report.put("exitCodes", exitCodes);
        out.println(Json.write(report));
        return OK;
    }

    /**
     * Reports a failed command: its message on {@code err} after {@code "shm4j COMMAND: "}, and with {@code --json} a
     * document saying it on {@code out}, so that a script reading the output gets JSON either way.
     *
     * @return {@code exitCode}
     */
    private static int fail(boolean json, String command, String message, int exitCode, PrintStream out,
                            PrintStream err) {
        return report(json, command, "shm4j " + command + ": ", message, exitCode, out, err);
    }

    /**
     * Reports a failure: {@code prefix} and the message on {@code err}, and with {@code --json} a document on
     * {@code out}.
     *
     * @param command the command, or null if the command line named none that the tool knows
     * @return {@code exitCode}
     */
    private static int report(boolean json, String command, String prefix, String message, int exitCode,
                              PrintStream out, PrintStream err) {
        // escaped as ls and inspect print names: a file's name, which the message may quote, can hold a line break
        err.println(prefix + Text.escaped(message));
        if (json) {
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("command", command);
            report.put("error", message);
            report.put("exitCode", exitCode);
            out.println(Json.write(report));
        }
        return exitCode;
    }

    private static int ls(Options options, PrintStream out) throws IOException {
        List<Map<String, Object>> heaps = new ArrayList<>();
        for (HeapScan.Found found : HeapScan.discover(options.dirs())) {
            Map<String, Object> summary = HeapScan.summary(found);
            if (summary.containsKey("unreadable") && !Files.exists(found.path(), LinkOption.NOFOLLOW_LINKS)) {
                continue; // removed since the folder was listed: not a heap to report
            }
            heaps.add(summary);
        }
        if (options.json()) {
            out.println(Json.write(Map.of("heaps", heaps)));
        } else {
            Text.heaps(heaps, out);
        }
        return OK;
    }

    /**
     * {@code inspect}, or {@code watch}: each refresh opens the heap again, so that a name removed since ends the
     * watch (exit {@link #NOT_FOUND}) and a heap made anew at the name is the one shown (its rates start over).
     */
    private static int inspect(Options options, PrintStream out, PrintStream err)
            throws IOException, InterruptedException {
        Watch watch = new Watch();
        for (long i = 0; options.count() < 0 || i < options.count(); i++) {
            if (i > 0) {
                Thread.sleep(options.intervalMillis()); // the refresh period, not a synchronisation
            }
            HeapScan.Found found = HeapScan.resolve(options.heap());
            SharedHeap opened = openOrNull(found);
            if (opened == null) {
                return fail(options.json(), options.command(), "no heap " + options.heap()
                        + (i > 0 ? " (removed since the last refresh)" : ""), NOT_FOUND, out, err);
            }
            try (SharedHeap heap = opened) {
                Map<String, Object> report = report(found, heap);
                if (options.command().equals("inspect")) {
                    print(report, options, out);
                    return OK;
                }
                long heapId = heap.memory().segment().get(JAVA_LONG, HeapLayout.HEAP_ID_OFFSET); // plain: written once
                watch.addRates(report, heapId, System.nanoTime());
                report.put("time", Instant.now().toString());
                if (!options.json() && System.console() != null && out == System.out) {
                    out.print("\033[H\033[2J"); // like top: redraw in place on a terminal
                }
                if (!options.json()) {
                    out.println("shm4j watch " + Text.printable(found.name()) + " at " + report.get("time"));
                }
                print(report, options, out);
                out.flush();
            }
        }
        return OK;
    }

    /** @return {@code found} opened read-only; null if nothing was found or it was removed since */
    private static SharedHeap openOrNull(HeapScan.Found found) {
        try {
            return found == null ? null : found.openReadOnly();
        } catch (ShmNotFoundException removed) {
            return null;
        }
    }

    /** @return what the safe stale removal did with {@code found}; a refusal keeps it and the scan goes on */
    private static String remove(HeapScan.Found found) {
        try {
            return found.unlinkIfStale() ? "removed" : "kept: in use or removed by another process";
        } catch (ShmException e) {
            return "kept: " + e.getMessage();
        }
    }

    private static int gc(Options options, PrintStream out) throws IOException {
        List<Object> stale = new ArrayList<>();
        for (HeapScan.Found found : HeapScan.discover(options.dirs())) {
            Map<String, Object> summary = HeapScan.summary(found);
            if (!Boolean.TRUE.equals(summary.get("stale"))) {
                continue; // in use, or unreadable: never removed
            }
            String action = !options.force() ? "would remove" : remove(found);
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("name", found.name());
            entry.put("path", found.path().toString());
            entry.put("action", action);
            stale.add(entry);
            if (!options.json()) {
                out.println(Text.escaped(action) + " " + Text.printable(found.name()));
            }
        }
        List<Object> temporaries = temporaries(options, out);
        if (options.json()) {
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("dryRun", !options.force());
            report.put("heaps", stale);
            if (!temporaries.isEmpty()) {
                report.put("temporaryFiles", temporaries);
            }
            out.println(Json.write(report));
        } else {
            out.println(stale.size() + " stale heap(s)" + (temporaries.isEmpty() ? ""
                    : ", " + temporaries.size() + " temporary file(s) of killed creates")
                    + (options.force() ? "" : "; dry run, remove with --force"));
        }
        return OK;
    }

    /**
     * The temporary files that creates killed before they published their region left in the scanned folders (a later
     * create there deletes them too): listed, and deleted with {@code --force}.
     */
    private static List<Object> temporaries(Options options, PrintStream out) {
        List<Object> found = new ArrayList<>();
        for (Path dir : HeapScan.scanned(options.dirs())) {
            for (Path temporary : MappedFiles.temporariesOfDeadProcesses(dir)) {
                String action = !options.force() ? "would remove" : delete(temporary);
                found.add(Map.of("path", temporary.toString(), "action", action));
                if (!options.json()) {
                    out.println(Text.escaped(action) + " " + Text.printable(temporary.toString())
                            + " (temporary file of a killed create)");
                }
            }
        }
        return found;
    }

    /** @return what deleting a dead creator's temporary file did */
    private static String delete(Path temporary) {
        try {
            return Files.deleteIfExists(temporary) ? "removed" : "kept: removed by another process";
        } catch (IOException e) {
            return "kept: " + e.getMessage();
        }
    }

    private static Map<String, Object> report(HeapScan.Found found, SharedHeap heap) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("name", found.name());
        report.put("path", found.path().toString());
        report.putAll(HeapScan.summary(heap));
        List<Object> catalog = new ArrayList<>();
        for (CatalogEntries.Item item : CatalogEntries.read(heap)) {
            catalog.add(item.block() != null ? BlockStates.describe(heap, item.block()) : damaged(item));
        }
        report.put("catalog", catalog);
        try {
            WaitForGraph graph = WaitForGraph.snapshot(heap); // reads the wait table, if any waiter made one
            report.put("waits", graph.edges().stream().map(Shm4j::edge).toList());
            report.put("deadlocks", graph.cycles().stream().map(cycle -> cycle.stream().map(Shm4j::edge).toList())
                    .toList());
        } catch (ShmFormatException e) { // the wait table, or a damaged catalog entry before it
            report.put("waits", List.of());
            report.put("deadlocks", List.of());
            report.put("waitsUnreadable", e.getMessage());
        }
        return report;
    }

    private static Map<String, Object> damaged(CatalogEntries.Item item) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("index", item.index());
        entry.put("unreadable", item.damage());
        return entry;
    }

    private static Map<String, Object> edge(WaitForGraph.Edge edge) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("waiterPid", edge.waiterPid());
        fields.put("waiterThreadId", edge.waiterThreadId());
        fields.put("waiterThreadName", edge.waiterThreadName());
        fields.put("lock", edge.lock());
        fields.put("holderPid", edge.holderPid());
        fields.put("holderThreadId", edge.holderThreadId());
        fields.put("waitingSince", edge.waitingSince().toString());
        return fields;
    }

    private static void print(Map<String, Object> report, Options options, PrintStream out) {
        if (options.json()) {
            out.println(Json.write(report));
        } else {
            Text.inspect(report, out);
        }
    }

    /**
     * A parsed command line.
     *
     * @param count how many refreshes {@code watch} prints, or -1 for ever
     */
    private record Options(String command, String heap, List<Path> dirs, boolean json, boolean force, long count,
                           long intervalMillis) {
        private static final List<String> COMMANDS = List.of("help", "ls", "inspect", "watch", "gc");

        /** @throws UsageException naming the command if the line names one the tool knows */
        static Options parse(String[] args) {
            List<String> positional = new ArrayList<>();
            List<Path> dirs = new ArrayList<>();
            boolean json = false;
            boolean force = false;
            long count = -1;
            long interval = 1000;
            boolean helpFlag = false;
            String error = null; // the first bad option: reported once the command is known, to name it
            List<String> given = new ArrayList<>(); // the options that only some commands take
            for (int i = 0; i < args.length; i++) {
                if (List.of("--dir", "--force", "--count", "--interval").contains(args[i])) {
                    given.add(args[i]);
                }
                try {
                    switch (args[i]) {
                        case "--json" -> json = true;
                        case "--force" -> force = true;
                        case "--dir" -> dirs.add(Path.of(value(args, ++i, "--dir")));
                        case "--count" -> count = number(value(args, ++i, "--count"), "--count", 1);
                        case "--interval" -> interval = number(value(args, ++i, "--interval"), "--interval", 0);
                        case "-h", "--help" -> helpFlag = true;
                        default -> {
                            if (args[i].startsWith("--")) {
                                throw new IllegalArgumentException("unknown option " + args[i]);
                            }
                            positional.add(args[i]);
                        }
                    }
                } catch (IllegalArgumentException e) { // also InvalidPathException, of a --dir value
                    error = error == null ? e.getMessage() : error;
                }
            }
            if (helpFlag) { // the flag asks for the text, whatever else the line asks
                positional.addFirst("help");
            }
            String command = positional.isEmpty() || !COMMANDS.contains(positional.getFirst()) ? null
                    : positional.getFirst();
            if (error != null) {
                throw new UsageException(command, error);
            }
            if (positional.isEmpty()) { // a usage error, as the exit codes say; "help" asks for the text
                throw new UsageException(null, "no command");
            }
            if (command == null) {
                throw new UsageException(null, "unknown command " + positional.getFirst());
            }
            int operands = switch (command) {
                case "help" -> positional.size() - 1;
                case "ls", "gc" -> 0;
                default -> 1; // inspect, watch
            };
            if (!command.equals("help") && positional.size() - 1 != operands) {
                throw new UsageException(command, command + " takes " + (operands == 0 ? "no operand"
                        : "one operand, HEAP") + ", got " + positional.subList(1, positional.size()));
            }
            // no name: it resolved to the /dev/shm folder itself (help's operands are no HEAP: it ignores them)
            if (!command.equals("help") && operands == 1 && positional.get(1).isEmpty()) {
                throw new UsageException(command, command + ": HEAP is empty (expected: a name in /dev/shm or the "
                        + "path of a heap file)");
            }
            List<String> takes = switch (command) { // an option a command ignored would mislead: inspect --dir
                case "ls" -> List.of("--dir");
                case "gc" -> List.of("--dir", "--force");
                case "watch" -> List.of("--count", "--interval");
                default -> List.of(); // inspect, help
            };
            for (String option : given) {
                if (!helpFlag && !takes.contains(option)) {
                    throw new UsageException(command, command + " takes no option " + option);
                }
            }
            return new Options(command, operands == 1 ? positional.get(1) : null, dirs, json, force, count,
                    interval);
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static long number(String text, String option, long min) {
            try {
                long n = Long.parseLong(text);
                if (n >= min) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(option + " " + text + " (expected: an integer >= " + min + ")");
        }
    }

    /** A command line the tool does not understand (exit {@link #USAGE}). */
    private static final class UsageException extends IllegalArgumentException {
        /** The command the line names, or null if it names none that the tool knows. */
        final String command;

        UsageException(String command, String message) {
            super(message);
            this.command = command;
        }
    }
}
