package org.shm4j.bench;

import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Runs the benchmarks with short iterations (about 2 minutes on 2 cores) and prints shm4j beside its peers:
 * benchmark, shm4j, peer, ratio (shm4j / peer, higher is better for throughput) with its error. Writes the JMH JSON
 * and a description of the machine to {@code bench/results/}. {@code --full} runs the classes' own settings.
 */
public final class QuickSuite {
    /** shm4j benchmark, peer benchmark, label. */
    private record Pair(String ours, String peer, String label) {
    }

    private static final List<Pair> PAIRS = List.of(
            new Pair("ValuesBenchmark.sharedLongGetAndAdd", "ValuesBenchmark.atomicLongGetAndAdd",
                    "getAndAdd: SharedLong / AtomicLong"),
            new Pair("ValuesBenchmark.sharedLongGetAndAdd", "AgronaValuesBenchmark.agronaGetAndAdd",
                    "getAndAdd: SharedLong / Agrona AtomicBuffer"),
            new Pair("ValuesBenchmark.sharedLongGetAndAdd", "ValuesBenchmark.rawVarHandleGetAndAdd",
                    "getAndAdd: SharedLong / raw VarHandle (floor)"),
            new Pair("ValuesBenchmark.sharedLongGet", "AgronaValuesBenchmark.agronaGet",
                    "get: SharedLong / Agrona AtomicBuffer"),
            new Pair("ValuesBenchmark.sharedLongCompareAndSet", "ValuesBenchmark.atomicLongCompareAndSet",
                    "get+CAS: SharedLong / AtomicLong"),
            new Pair("LocksBenchmark.sharedLock", "LocksBenchmark.reentrantLock",
                    "lock+unlock: SharedLock / ReentrantLock"),
            new Pair("LocksBenchmark.sharedLock", "LocksBenchmark.synchronizedBlock",
                    "lock+unlock: SharedLock / synchronized"),
            new Pair("LocksBenchmark.sharedLock", "LocksBenchmark.casSpinLock",
                    "lock+unlock: SharedLock / CAS spin lock (floor)"),
            new Pair("LocksBenchmark.sharedFairLock", "LocksBenchmark.reentrantLock",
                    "lock+unlock: SharedFairLock / ReentrantLock"),
            new Pair("LocksBenchmark.sharedWriteLock", "LocksBenchmark.reentrantLock",
                    "lock+unlock: SharedReadWriteLock (write) / ReentrantLock"),
            new Pair("SpscRingBenchmark.shm4j:polled[size=8]", "AgronaSpscRingBenchmark.agrona:polled[size=8]",
                    "SPSC 8 B msgs/s: SharedRing / Agrona OneToOne"),
            new Pair("SpscRingBenchmark.shm4j:polled[size=64]", "AgronaSpscRingBenchmark.agrona:polled[size=64]",
                    "SPSC 64 B msgs/s: SharedRing / Agrona OneToOne"),
            new Pair("SpscRingBenchmark.shm4j:polled[size=256]", "AgronaSpscRingBenchmark.agrona:polled[size=256]",
                    "SPSC 256 B msgs/s: SharedRing / Agrona OneToOne"));

    private QuickSuite() {
    }

    /**
     * @param args {@code --full} for the classes' own iteration settings
     */
    public static void main(String[] args) throws RunnerException, IOException {
        boolean full = List.of(args).contains("--full");
        Path results = Path.of("bench", "results");
        Files.createDirectories(results);
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path json = results.resolve((full ? "full-" : "quick-") + stamp + ".json");
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("org\\.shm4j\\.bench\\.(Values|AgronaValues|Locks|SpscRing|AgronaSpscRing)Benchmark")
                .resultFormat(ResultFormatType.JSON)
                .result(json.toString());
        if (!full) {
            options.warmupIterations(2).warmupTime(TimeValue.milliseconds(500))
                    .measurementIterations(3).measurementTime(TimeValue.milliseconds(500)).forks(1);
        }
        Collection<RunResult> runs = new Runner(options.build()).run();
        Files.writeString(results.resolve((full ? "full-" : "quick-") + stamp + ".machine.txt"), machine());
        System.out.println();
        System.out.println(table(scores(runs)));
        System.out.println("JMH results: " + json + " (machine: " + machine().lines().findFirst().orElse("") + ")");
    }

    /** @return score and error of every primary and secondary result, by "Class.method[params]" name */
    private static Map<String, double[]> scores(Collection<RunResult> runs) {
        Map<String, double[]> scores = new LinkedHashMap<>();
        for (RunResult run : runs) {
            String benchmark = run.getParams().getBenchmark().replace("org.shm4j.bench.", "");
            String params = run.getParams().getParamsKeys().isEmpty() ? ""
                    : "[size=" + run.getParams().getParam("size") + "]";
            Result<?> primary = run.getPrimaryResult();
            scores.put(benchmark + params, new double[] {primary.getScore(), primary.getScoreError()});
            String group = benchmark.substring(0, benchmark.lastIndexOf('.') + 1)
                    + run.getParams().getBenchmark().substring(run.getParams().getBenchmark().lastIndexOf('.') + 1);
            for (String counter : run.getSecondaryResults().keySet()) {
                Result<?> secondary = run.getSecondaryResults().get(counter);
                scores.put(group + ":" + counter + params,
                        new double[] {secondary.getScore(), secondary.getScoreError()});
            }
        }
        return scores;
    }

    /** @return the comparison table in Markdown */
    static String table(Map<String, double[]> scores) {
        List<String> rows = new ArrayList<>();
        rows.add("| benchmark | shm4j (ops/µs) | peer (ops/µs) | ratio | ± |");
        rows.add("|---|---:|---:|---:|---:|");
        for (Pair pair : PAIRS) {
            double[] ours = scores.get(pair.ours());
            double[] peer = scores.get(pair.peer());
            if (ours == null || peer == null) {
                rows.add("| " + pair.label() + " | missing | missing | | |");
                continue;
            }
            double ratio = ours[0] / peer[0];
            double error = ratio * Math.sqrt(square(relative(ours)) + square(relative(peer)));
            rows.add(String.format("| %s | %.2f ± %.2f | %.2f ± %.2f | %.2f | %.2f |", pair.label(), ours[0], ours[1],
                    peer[0], peer[1], ratio, error));
        }
        return String.join("\n", rows);
    }

    private static double relative(double[] scoreAndError) {
        double error = Double.isNaN(scoreAndError[1]) ? 0 : scoreAndError[1];
        return error / scoreAndError[0];
    }

    private static double square(double x) {
        return x * x;
    }

    /** @return CPU model, cores, JDK and whether this is a VM */
    private static String machine() throws IOException {
        Path cpuinfo = Path.of("/proc/cpuinfo");
        String model = "unknown CPU";
        boolean vm = false;
        if (Files.isReadable(cpuinfo)) {
            try (Stream<String> lines = Files.lines(cpuinfo)) {
                List<String> all = lines.toList();
                model = all.stream().filter(l -> l.startsWith("model name")).findFirst()
                        .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse(model);
                vm = all.stream().anyMatch(l -> l.startsWith("flags") && l.contains(" hypervisor"));
            }
        }
        return model + ", " + Runtime.getRuntime().availableProcessors() + " cores, JDK "
                + System.getProperty("java.vm.version") + ", " + (vm ? "a VM (hypervisor flag)" : "bare metal")
                + "\n";
    }
}
