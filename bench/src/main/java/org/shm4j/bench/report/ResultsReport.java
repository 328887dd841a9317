package org.shm4j.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Regenerates the README's performance tables and chart from a suite run's files, so no figure is typed by hand.
 * Usage: {@code ResultsReport [bench/results/<run>]}, by default the newest run; it reads {@code <run>.json},
 * {@code <run>.latency.json}, {@code <run>.machine.txt} and the newest {@code bench/results/python-*.json}, writes
 * {@code bench/results/chart.svg}, and replaces the README's text between {@value #BEGIN} and {@value #END}.
 */
public final class ResultsReport {
    static final String BEGIN = "<!-- results:begin -->";
    static final String END = "<!-- results:end -->";
    private static final Path RESULTS = Path.of("bench", "results");

    private ResultsReport() {
    }

    /** @param args the run's path without extension; none for the newest */
    public static void main(String[] args) throws IOException {
        Path run = args.length > 0 ? Path.of(args[0]) : newest("quick-", "full-")
                .orElseThrow(() -> new IllegalStateException("no suite run in " + RESULTS));
        Path jmhFile = sibling(run, ".json");
        Path latencyFile = sibling(run, ".latency.json");
        Optional<Path> pythonFile = newest("python-").map(p -> sibling(p, ".json"));
        Report report = new Report(JmhResults.read(jmhFile),
                Files.exists(latencyFile) ? LatencyResults.parse(Files.readString(latencyFile)) : null,
                pythonFile.isPresent() ? Json.object(Json.parse(Files.readString(pythonFile.get()))) : null);
        Path chart = RESULTS.resolve("chart.svg");
        Files.writeString(chart, RatioChart.svg("shm4j / peer, same JMH run: " + run.getFileName(), report.bars()));
        String machine = Files.readString(sibling(run, ".machine.txt")).strip();
        String section = BEGIN + "\n\nRun `" + run.getFileName() + "` on " + machine + "; files in `bench/results/`"
                + pythonFile.map(p -> ", Python figures from `" + p.getFileName() + "`").orElse("") + ".\n\n"
                + "![shm4j / peer ratios](bench/results/chart.svg)\n\n" + report.markdown() + END;
        Path readme = Path.of("README.md");
        String text = Files.readString(readme);
        int begin = text.indexOf(BEGIN);
        int end = text.indexOf(END);
        if (begin < 0 || end < begin) {
            throw new IllegalStateException("README.md has no " + BEGIN + " ... " + END + " section");
        }
        Files.writeString(readme, text.substring(0, begin) + section + text.substring(end + END.length()));
        System.out.println("README.md tables and " + chart + " regenerated from " + run);
    }

    private static Path sibling(Path run, String extension) {
        return run.resolveSibling(run.getFileName() + extension);
    }

    /** @return the newest run whose name starts with one of {@code prefixes}, without its extension */
    private static Optional<Path> newest(String... prefixes) throws IOException {
        try (Stream<Path> files = Files.list(RESULTS)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".json") && !n.endsWith(".latency.json"))
                    .filter(n -> Stream.of(prefixes).anyMatch(n::startsWith))
                    .max(Comparator.comparing(n -> n.substring(n.indexOf('-'))))
                    .map(n -> RESULTS.resolve(n.substring(0, n.length() - ".json".length())));
        }
    }
}
