package org.shm4j.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ResultsReport} on synthetic runs in a temporary project directory: the noise rule, --force, the default. */
class ResultsReportTest {
    private static final String README = "# x\n\n" + ResultsReport.BEGIN + "\nold tables\n" + ResultsReport.END
            + "\n\nafter\n";

    @TempDir
    Path root;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    /** Four targeted rows (peers at 1 ± 0, so each ratio is shm4j's score): two decided, two within the noise. */
    private static final String HALF_NOISY = run(2.0, 0.1, 0.3, 0.05, 1.0, 0.2, 0.9, 0.1);
    /** Four targeted rows: three decided, one within the noise. */
    private static final String DECIDED = run(2.0, 0.1, 0.3, 0.05, 1.5, 0.2, 0.9, 0.1);

    @Test
    void refusesARunWithMoreThanHalfItsTargetedRowsWithinTheNoise() throws IOException {
        write("full-20260101-000000", run(2.0, 0.1, 1.0, 0.2, 1.0, 0.3, 0.9, 0.1));

        int status = report();

        assertThat(status).isEqualTo(1);
        assertThat(err()).contains("Refusing run full-20260101-000000", "3 of 4 targeted rows within the noise",
                "  Values: getAndAdd: SharedLong / raw VarHandle (floor): 0.900 ± 0.100, target ≥ 0.90",
                "  Locks, uncontended: SharedLock / ReentrantLock: 1.00 ± 0.20, target ≥ 1.00",
                "  Locks, 2 threads: SharedLock / ReentrantLock: 1.00 ± 0.30, target ≥ 1.00",
                "./run.sh report --force").doesNotContain("getAndAdd: SharedLong / AtomicLong:");
        assertThat(Files.readString(root.resolve("README.md"))).isEqualTo(README);
        assertThat(root.resolve("bench/results/chart.svg")).doesNotExist();
    }

    @Test
    void halfTheRowsWithinTheNoiseIsNotMoreThanHalf() throws IOException {
        write("full-20260101-000000", HALF_NOISY);

        assertThat(report()).isZero();
        assertThat(err()).isEmpty();
    }

    @Test
    void refusesARunWithARowWhoseErrorReachesZero() throws IOException {
        write("full-20260101-000000", run(2.0, 0.1, 0.3, 0.05, 1.5, 0.2, 0.5, 0.5));

        int status = report();

        assertThat(status).isEqualTo(1);
        assertThat(err()).contains("1 targeted row(s) with an error of 100% of the ratio or more:",
                "  Values: getAndAdd: SharedLong / raw VarHandle (floor): 0.500 ± 0.500, target ≥ 0.90")
                .doesNotContain("within the noise (more than");
    }

    @Test
    void forceWritesARefusedRunAndSaysWhy() throws IOException {
        write("full-20260101-000000", run(2.0, 0.1, 1.0, 0.2, 1.0, 0.3, 0.9, 0.1));

        int status = report(ResultsReport.FORCE);

        assertThat(status).isZero();
        assertThat(out()).contains("Writing anyway (--force) run full-20260101-000000", "3 of 4 targeted rows");
        assertThat(Files.readString(root.resolve("README.md"))).startsWith("# x\n\n" + ResultsReport.BEGIN)
                .contains("Run `full-20260101-000000` on test machine", "| ≥ 1.00: within the noise, neither met"
                        + " nor missed |", "| ≥ 0.90: met |").doesNotContain("old tables").endsWith("\n\nafter\n");
        assertThat(Files.readString(root.resolve("bench/results/chart.svg"))).contains("<svg", "within the noise");
    }

    @Test
    void byDefaultTakesTheNewestFullRunNotAQuickOne() throws IOException {
        write("full-20260101-000000", DECIDED);
        write("full-20260102-000000", DECIDED);
        write("quick-20260103-000000", run(2.0, 0.1, 1.0, 0.2, 1.0, 0.3, 0.9, 0.1));

        assertThat(report()).isZero();
        assertThat(out()).contains("regenerated from").contains("full-20260102-000000");
        assertThat(Files.readString(root.resolve("README.md"))).contains("Run `full-20260102-000000`")
                .contains("| ≥ 1.00: **missed** |");
    }

    @Test
    void anExplicitRunIsJudgedByTheSameRule() throws IOException {
        write("full-20260101-000000", DECIDED);
        write("quick-20260103-000000", run(2.0, 0.1, 1.0, 0.2, 1.0, 0.3, 0.9, 0.1));

        assertThat(report("bench/results/quick-20260103-000000")).isEqualTo(1);
        assertThat(err()).contains("./run.sh report --force bench/results/quick-20260103-000000");
        assertThat(report("--fast")).isEqualTo(2);
    }

    @Test
    void aPartialFullRunLeadsAndTheOlderFullRunFillsTheRowsItDidNotMeasure() throws IOException {
        write("full-20260101-000000", DECIDED);
        write("full-20260102-000000", "[" + String.join(",\n",
                ReportTest.jmh("LocksBenchmark.sharedLock", 1.6, 0.1),
                ReportTest.jmh("LocksBenchmark.reentrantLock", 1, 0),
                // one side of a comparison alone: the pair is read from the older run, never mixed
                ReportTest.jmh("ContendedLocksBenchmark.sharedLock", 9, 0)) + "]");

        assertThat(report()).isZero();
        String readme = Files.readString(root.resolve("README.md"));
        assertThat(readme).contains("Run `full-20260102-000000` (rows it did not measure from the older full runs")
                .contains("| SharedLock / ReentrantLock | 1.60 ± 0.10 | 1.00 ± 0.00 | 1.60 ± 0.10 | ≥ 1.00: met |")
                .contains("| SharedLock / ReentrantLock (run `full-20260101-000000`) | 1.50 ± 0.20 | 1.00 ± 0.00 |")
                .contains("| getAndAdd: SharedLong / AtomicLong (run `full-20260101-000000`) |");
        assertThat(report("bench/results/full-20260102-000000")).isZero();
        assertThat(Files.readString(root.resolve("README.md"))).contains("Run `full-20260102-000000` on")
                .doesNotContain("full-20260101-000000");
    }

    @Test
    void anAllocationRowFromAnOlderRunNamesThatRun() throws IOException {
        write("full-20260101-000000", "[" + String.join(",\n", allocation("LocksBenchmark.sharedLock", 0.001),
                allocation("RingBenchmark.spsc", 0.002)) + "]");
        write("full-20260102-000000", "[" + allocation("LocksBenchmark.sharedLock", 0.003) + "]");

        assertThat(report("--force")).isZero();
        assertThat(Files.readString(root.resolve("README.md"))).contains("| LocksBenchmark.sharedLock | 0.003 | met |")
                .contains("| RingBenchmark.spsc (run `full-20260101-000000`) | 0.002 | met |");
    }

    /** @return a JMH result of {@code benchmark} with its {@code -prof gc} bytes per operation */
    private static String allocation(String benchmark, double bytes) {
        return String.format(Locale.ROOT, "{\"benchmark\": \"org.shm4j.bench.%s\", \"primaryMetric\": {\"score\": 1, "
                + "\"scoreError\": 0, \"scoreUnit\": \"ops/us\"}, \"secondaryMetrics\": {\"\u00b7gc.alloc.rate.norm\": "
                + "{\"score\": %s, \"scoreError\": 0, \"scoreUnit\": \"B/op\"}}}", benchmark, bytes);
    }

    private int report(String... args) throws IOException {
        Files.writeString(root.resolve("README.md"), README, StandardCharsets.UTF_8);
        out.reset();
        err.reset();
        return ResultsReport.run(root, List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private void write(String name, String jmh) throws IOException {
        Path results = Files.createDirectories(root.resolve("bench/results"));
        Files.writeString(results.resolve(name + ".json"), jmh);
        Files.writeString(results.resolve(name + ".machine.txt"), "test machine\n");
    }

    /**
     * @return a JMH file with the four targeted rows of the values and locks benchmarks, each ratio and its error
     *         given: getAndAdd over AtomicLong (target 0.9), the uncontended lock (1.0), the contended lock (1.0) and
     *         getAndAdd over the raw VarHandle (0.9); shm4j's getAndAdd is 1 ± 0, the lock peers are 1 ± 0
     */
    private static String run(double atomicRatio, double atomicError, double lockRatio, double lockError,
                              double contendedRatio, double contendedError, double rawRatio, double rawError) {
        return "[" + String.join(",\n",
                ReportTest.jmh("ValuesBenchmark.sharedLongGetAndAdd", 1, 0),
                peer("ValuesBenchmark.atomicLongGetAndAdd", atomicRatio, atomicError),
                peer("ValuesBenchmark.rawVarHandleGetAndAdd", rawRatio, rawError),
                ReportTest.jmh("LocksBenchmark.sharedLock", lockRatio, lockError),
                ReportTest.jmh("LocksBenchmark.reentrantLock", 1, 0),
                ReportTest.jmh("ContendedLocksBenchmark.sharedLock", contendedRatio, contendedError),
                ReportTest.jmh("ContendedLocksBenchmark.reentrantLock", 1, 0)) + "]";
    }

    /** @return a peer's result that makes 1 ± 0 over it come out as {@code ratio ± error} */
    private static String peer(String benchmark, double ratio, double error) {
        return ReportTest.jmh(benchmark, 1 / ratio, error / (ratio * ratio));
    }
}
