package org.shm4j.bench.report;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Regenerates the README's performance tables and chart from a suite run's files, so no figure is typed by hand.
 * Usage: {@code ResultsReport [--force] [bench/results/<run> ...]}, by default every full run ({@code full-*}),
 * newest first. The newest run leads: its {@code <run>.latency.json} and {@code <run>.machine.txt} are used, and each
 * comparison is read from the newest run that measured both of its sides, so a partial full run
 * ({@code ./run.sh bench-full REGEX}) refreshes its rows over the last complete one; a row from an older run is
 * labelled with it. The newest {@code bench/results/python-*.json} is read too. It writes
 * {@code bench/results/chart.svg} and replaces the README's text between {@value #BEGIN} and {@value #END}. Runs that
 * fail the {@link NoiseRule} are refused (exit status 1, nothing written) unless {@code --force} is given.
 */
public final class ResultsReport {
    static final String BEGIN = "<!-- results:begin -->";
    static final String END = "<!-- results:end -->";
    static final String FORCE = "--force";
    private static final Path RESULTS = Path.of("bench", "results");

    private ResultsReport() {
    }

    /** @param args {@value #FORCE} to write a run the noise rule refuses; the run's path without extension */
    public static void main(String[] args) throws IOException {
        int status = run(Path.of(""), List.of(args), System.out, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /**
     * Does {@link #main}'s work in the project directory {@code root}.
     *
     * @return the exit status: 0 written, 1 refused by the noise rule, 2 bad arguments
     */
    static int run(Path root, List<String> args, PrintStream out, PrintStream err) throws IOException {
        boolean force = args.contains(FORCE);
        List<String> paths = new ArrayList<>(args);
        paths.remove(FORCE);
        if (paths.stream().anyMatch(a -> a.startsWith("-"))) {
            err.println("usage: ResultsReport [" + FORCE + "] [bench/results/<run> ...]");
            return 2;
        }
        Path results = root.resolve(RESULTS);
        List<Path> runs = paths.isEmpty() ? newestFirst(results, "full-") : paths.stream().map(root::resolve).toList();
        if (runs.isEmpty()) {
            throw new IllegalStateException("no full suite run in " + results);
        }
        Path run = runs.get(0);
        Path latencyFile = sibling(run, ".latency.json");
        Optional<Path> pythonFile = newestFirst(results, "python-").stream().findFirst().map(p -> sibling(p, ".json"));
        Report report = new Report(JmhResults.read(runs.stream().map(r -> sibling(r, ".json")).toList()),
                Files.exists(latencyFile) ? LatencyResults.parse(Files.readString(latencyFile)) : null,
                pythonFile.isPresent() ? Json.object(Json.parse(Files.readString(pythonFile.get()))) : null);
        List<String> failures = NoiseRule.failures(report.targeted());
        if (!failures.isEmpty()) {
            PrintStream to = force ? out : err;
            to.println((force ? "Writing anyway (" + FORCE + ") run " : "Refusing run ") + run.getFileName()
                    + ": its errors leave its verdicts meaningless.");
            failures.forEach(to::println);
            if (!force) {
                err.println("README.md and the chart are unchanged. Measure again (./run.sh bench-full, on a quieter"
                        + " machine or with more forks), or write this run anyway: ./run.sh report " + FORCE
                        + (paths.isEmpty() ? "" : " " + String.join(" ", paths)));
                return 1;
            }
        }
        Path readme = root.resolve("README.md");
        String text = Files.readString(readme);
        int begin = text.indexOf(BEGIN);
        int end = text.indexOf(END);
        if (begin < 0 || end < begin) {
            throw new IllegalStateException("README.md has no " + BEGIN + " ... " + END + " section");
        }
        Path chart = results.resolve("chart.svg");
        Files.writeString(chart, RatioChart.svg("shm4j / peer, same JMH run: " + run.getFileName(), report.bars()));
        String machine = Files.readString(sibling(run, ".machine.txt")).strip();
        String older = runs.size() == 1 ? "" : " (rows it did not measure from the older full runs, each labelled)";
        String section = BEGIN + "\n\nRun `" + run.getFileName() + "`" + older + " on " + machine
                + "; files in `bench/results/`"
                + pythonFile.map(p -> ", Python figures from `" + p.getFileName() + "`").orElse("") + ".\n\n"
                + "![shm4j / peer ratios](bench/results/chart.svg)\n\n" + report.markdown() + END;
        Files.writeString(readme, text.substring(0, begin) + section + text.substring(end + END.length()));
        out.println("README.md tables and " + RESULTS.resolve("chart.svg") + " regenerated from " + run);
        return 0;
    }

    private static Path sibling(Path run, String extension) {
        return run.resolveSibling(run.getFileName() + extension);
    }

    /** @return the runs in {@code results} whose names start with {@code prefix}, newest first, without extension */
    private static List<Path> newestFirst(Path results, String prefix) throws IOException {
        try (Stream<Path> files = Files.list(results)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(prefix) && n.endsWith(".json") && !n.endsWith(".latency.json"))
                    .sorted(Comparator.reverseOrder())
                    .map(n -> results.resolve(n.substring(0, n.length() - ".json".length()))).toList();
        }
    }
}
