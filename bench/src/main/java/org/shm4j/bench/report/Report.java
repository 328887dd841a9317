package org.shm4j.bench.report;

import org.shm4j.bench.latency.LockHandoff;
import org.shm4j.bench.latency.PingPong;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.ring.SharedRing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Turns one suite run (JMH scores, latencies, and optionally the Python script's results) into the README's
 * Markdown tables and the bars of its chart. Nothing in the tables is typed by hand.
 */
public final class Report {
    private static final String PING_SPIN = "p50 round trip: Agrona busy-spin / SharedRing busy-spin";
    private static final String PING_BLOCKING = "p50 round trip: Agrona back-off / SharedRing blocking";
    /** Issue 11's target for the map against Python's {@code Manager().dict()}: at least 200 times its rate. */
    private static final double PYTHON_MAP_TARGET = 200;

    private final JmhResults jmh;
    private final LatencyResults latency;
    private final Map<String, Object> python;

    Report(JmhResults jmh, LatencyResults latency, Map<String, Object> python) {
        this.jmh = jmh;
        this.latency = latency;
        this.python = python;
    }

    /** @return the report of a JMH result file's text and its latency results, without the Python part */
    public static String markdown(String jmhJson, LatencyResults latency) {
        return new Report(JmhResults.parse(jmhJson), latency, null).markdown();
    }

    /** @return every table, in Markdown */
    String markdown() {
        StringBuilder s = new StringBuilder();
        Map<String, List<Comparison>> sections = new LinkedHashMap<>();
        Comparison.all().forEach(c -> sections.computeIfAbsent(c.section(), k -> new ArrayList<>()).add(c));
        sections.forEach((section, comparisons) -> {
            s.append("#### ").append(section).append("\n\n");
            s.append("| comparison | shm4j (ops/µs) | peer (ops/µs) | ratio | target |\n");
            s.append("|---|---:|---:|---:|---|\n");
            for (Comparison c : comparisons) {
                Optional<JmhResults.Pair> pair = jmh.pair(c.ours(), c.peer());
                if (pair.isEmpty()) {
                    s.append(f("| %s | %s | %s | not run | |%n", c.label(), jmh.get(c.ours()).map(Report::score)
                            .orElse("—"), jmh.get(c.peer()).map(Report::score).orElse("—")));
                    continue;
                }
                JmhResults.Pair p = pair.get();
                Score ratio = p.ours().over(p.peer());
                s.append(f("| %s%s | %s | %s | %s | %s |%n", c.label(), from(p.run()), score(p.ours()),
                        score(p.peer()), score(ratio), verdict(ratio, c.target())));
            }
            s.append('\n');
        });
        if (latency != null) {
            pingPong(s);
            handoff(s);
        }
        allocation(s);
        if (python != null) {
            python(s);
        }
        return s.toString();
    }

    /** @return the bars of the chart: every comparison with a target that ran, and the ping-pong medians */
    List<RatioChart.Bar> bars() {
        List<RatioChart.Bar> bars = new ArrayList<>(targeted());
        if (latency != null) {
            pingPongRatio("AGRONA_SPIN", "SHM4J_SPIN")
                    .ifPresent(r -> bars.add(new RatioChart.Bar("Cross-process " + PING_SPIN, r, 0.9)));
            pingPongRatio("AGRONA_BACKOFF", "SHM4J_BLOCKING")
                    .ifPresent(r -> bars.add(new RatioChart.Bar("Cross-process " + PING_BLOCKING, r, 0)));
        }
        return bars;
    }

    /** @return every JMH comparison with a target that ran, its ratio with the error JMH measured */
    List<RatioChart.Bar> targeted() {
        List<RatioChart.Bar> rows = new ArrayList<>();
        for (Comparison c : Comparison.all()) {
            if (c.target() > 0) {
                ratio(c).ifPresent(r -> rows.add(new RatioChart.Bar(c.chartSection() + ": " + c.label(), r,
                        c.target())));
            }
        }
        return rows;
    }

    private Optional<Score> ratio(Comparison c) {
        return jmh.pair(c.ours(), c.peer()).map(p -> p.ours().over(p.peer()));
    }

    private Optional<Score> pingPongRatio(String peer, String ours) {
        return latency.pingPong(peer).flatMap(p -> latency.pingPong(ours)
                .map(o -> new Score((double) p.p50() / o.p50(), 0, "ratio")));
    }

    private void pingPong(StringBuilder s) {
        s.append("#### Cross-process ping-pong, 8-byte messages, round trip in µs\n\n");
        s.append("| transport | round trips | p50 | p90 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for (PingPong.Result r : latency.pingPong()) {
            s.append(f("| %s | %,d | %s | %s | %s | %s | %s |%n", r.transport(), r.count(), micros(r.p50()),
                    micros(r.p90()), micros(r.p99()), micros(r.p999()), micros(r.max())));
        }
        s.append('\n');
        pingPongRatio("AGRONA_SPIN", "SHM4J_SPIN").ifPresent(r -> s.append(f("- %s: %s (target %s)%n", PING_SPIN,
                f("%.2f", r.value()), verdict(r, 0.9))));
        pingPongRatio("AGRONA_BACKOFF", "SHM4J_BLOCKING").ifPresent(r -> s.append(f("- %s: %.2f%n", PING_BLOCKING,
                r.value())));
        s.append('\n');
    }

    private void handoff(StringBuilder s) {
        s.append("#### Lock hand-off to a blocked waiter (2 threads), µs, and the waiter's CPU while blocked\n\n");
        s.append("| lock | hand-offs | p50 | p99 | p99.9 | waiter CPU while blocked |\n");
        s.append("|---|---:|---:|---:|---:|---:|\n");
        for (LockHandoff.Result r : latency.handoff()) {
            s.append(f("| %s | %,d | %s | %s | %s | %.1f%% |%n", r.lock(), r.count(), micros(r.p50()),
                    micros(r.p99()), micros(r.p999()), r.waiterCpuPercent()));
        }
        s.append('\n');
    }

    private void allocation(StringBuilder s) {
        List<String> rows = new ArrayList<>();
        jmh.all().forEach((key, score) -> {
            if (key.contains(":gc.alloc.rate.norm") && isShm4jHotPath(key)) {
                rows.add(f("| %s%s | %.3f | %s |", key.replace(":gc.alloc.rate.norm", ""),
                        from(jmh.runOf(key).orElseThrow()), score.value(), score.value() < 1 ? "met" : "**missed**"));
            }
        });
        if (rows.isEmpty()) {
            return;
        }
        s.append("#### Allocation on shm4j's hot paths (`-prof gc`, bytes per operation)\n\n");
        s.append("| benchmark | gc.alloc.rate.norm (B/op) | target ≈ 0 |\n|---|---:|---|\n");
        rows.forEach(row -> s.append(row).append('\n'));
        s.append('\n');
    }

    /** @return the label of a row read from {@code run}: empty for the newest run, else the older run's name */
    private String from(String run) {
        return run.equals(jmh.run()) ? "" : " (run `" + run + "`)";
    }

    private static boolean isShm4jHotPath(String key) {
        return key.matches("(Contended)?ValuesBenchmark\\.sharedLong.*") || key.matches("(Contended|ReadWrite)?"
                + "LocksBenchmark\\.shared.*") || key.startsWith("RingBenchmark.")
                || key.matches("(Contended)?MapBenchmark\\.shared(GetInto|Put):.*")
                || key.matches("CoordinationBenchmark\\.shared((Undo)?Semaphore|Condition):.*")
                || key.matches("ListBenchmark\\.shareable(Get|Set):.*");
    }

    private void python(StringBuilder s) {
        s.append("#### Beside Python's `multiprocessing` (").append(python.get("python")).append(")\n\n");
        s.append("| workload | Python | shm4j | shm4j's counterpart | shm4j ÷ Python | target |\n");
        s.append("|---|---:|---:|---|---:|---|\n");
        for (Object element : Json.array(python.get("workloads"))) {
            Map<String, Object> w = Json.object(element);
            String name = (String) w.get("name");
            Score theirs = new Score(Json.number(w.get("value")), 0, (String) w.get("unit"));
            Optional<Counterpart> counterpart = counterpart(name);
            if (counterpart.isEmpty()) {
                s.append(f("| %s | %s %s | — | none | | |%n", w.get("label"), number(theirs.value()), theirs.unit()));
                continue;
            }
            Counterpart c = counterpart.get();
            Score speedup = theirs.unit().equals("µs") ? theirs.over(c.score()) : c.score().over(theirs);
            s.append(f("| %s | %s %s | %s %s | %s | %s× | %s |%n", w.get("label"), number(theirs.value()),
                    theirs.unit(), number(c.score().value()), theirs.unit(), c.label(), number(speedup.value()),
                    verdict(speedup, c.target())));
        }
        s.append('\n');
    }

    /**
     * shm4j's result for a Python workload: its label, its score in the Python result's unit, and the lowest
     * shm4j ÷ Python ratio that meets the target (0 for none).
     */
    private record Counterpart(String label, Score score, double target) {
    }

    private Optional<Counterpart> counterpart(String workload) {
        return switch (workload) {
            case "value_locked_increment" -> ours("LocksBenchmark.sharedLock", "SharedLock + increment, 1 thread");
            case "value_locked_increment_2" -> ours("ContendedLocksBenchmark.sharedLock",
                    "SharedLock + increment, 2 threads");
            case "value_unlocked_increment" -> ours("ValuesBenchmark.sharedLongGetAndAdd",
                    "SharedLong.getAndAdd (atomic)");
            case "array_set" -> ours("ValuesBenchmark.sharedLongSet", "SharedLong.set (volatile)");
            case "queue_transfer" -> ours("TypedQueueBenchmark.sharedQueue:polled", "SharedQueue<Long>, 2 threads");
            case "pipe_round_trip" -> latency == null ? Optional.empty() : latency.pingPong("SHM4J_BLOCKING")
                    .map(x -> new Counterpart("SharedRing pair, blocking, 2 processes (p50)",
                            new Score(x.p50() / 1000.0, 0, "µs"), 0));
            case "manager_dict_get" -> ours("MapBenchmark.sharedGet", "SharedLongMap.get, 1 thread",
                    PYTHON_MAP_TARGET);
            case "manager_dict_put" -> ours("MapBenchmark.sharedPut", "SharedLongMap.setBytes, 1 thread",
                    PYTHON_MAP_TARGET);
            case "manager_list_get" -> ours("ListBenchmark.sharedGet", "SharedList.get, 1 thread");
            case "manager_list_append" -> ours("ListBenchmark.sharedAppend", "SharedList add + removeLast, 1 thread");
            case "shareable_list_get" -> ours("ListBenchmark.shareableGet", "ShareableList.getLong, 1 thread");
            case "shareable_list_set" -> ours("ListBenchmark.shareableSet", "ShareableList.setLong, 1 thread");
            case "semaphore" -> ours("CoordinationBenchmark.sharedSemaphore", "SharedSemaphore, 1 thread");
            case "condition_handoff" -> ours("CoordinationBenchmark.sharedCondition",
                    "SharedLock condition hand-off, 2 threads");
            default -> Optional.empty();
        };
    }

    private Optional<Counterpart> ours(String key, String label) {
        return ours(key, label, 0);
    }

    private Optional<Counterpart> ours(String key, String label, double target) {
        return jmh.get(key).map(score -> new Counterpart(label, score, target));
    }

    private static String verdict(Score ratio, double target) {
        return Verdict.of(ratio, target).text(target);
    }

    /** @return {@code score} as the tables write it: value ± error, to about three significant digits */
    static String score(Score score) {
        int decimals = decimals(score.value());
        return fixed(score.value(), decimals) + " ± " + fixed(score.error(), decimals);
    }

    private static String number(double value) {
        return fixed(value, decimals(value));
    }

    /** @return the decimals that show {@code value} with about three significant digits (none from 100 up) */
    private static int decimals(double value) {
        if (value == 0 || Double.isNaN(value) || Double.isInfinite(value)) {
            return 2;
        }
        return Math.max(0, Math.min(6, 2 - (int) Math.floor(Math.log10(Math.abs(value)))));
    }

    private static String fixed(double value, int decimals) {
        return f("%." + decimals + "f", value);
    }

    private static String micros(long nanos) {
        return number(nanos / 1000.0);
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
