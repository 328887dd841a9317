package org.shm4j.bench;

import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.shm4j.bench.latency.LockHandoff;
import org.shm4j.bench.latency.PingPong;
import org.shm4j.bench.report.LatencyResults;
import org.shm4j.bench.report.Report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The benchmark suite: every JMH benchmark of shm4j beside its peers with {@code -prof gc}, then the cross-process
 * ping-pong and the lock hand-off. Quick by default (short iterations, about 7 minutes on 2 cores); {@code --full}
 * uses the classes' own iterations and more round trips, and may be narrowed to some benchmark classes with JMH
 * include patterns after it ({@code --full 'LocksBenchmark|RingBenchmark'}: a partial full run, which the report
 * layers over the last complete one) and given more forks than the classes' own with {@code --forks=N} (for
 * verdicts that 2 forks leave within the noise). Prints the side-by-side tables and writes
 * {@code bench/results/<quick|full>-<time>.json} (JMH), {@code .latency.json} and {@code .machine.txt} (CPU model,
 * cores, JDK, VM or not); {@code ResultsReport} ({@code ./run.sh report}) turns a full run's into the README's
 * tables. On JDK 23+ the forks get {@code --sun-misc-unsafe-memory-access=allow}, for JMH's own use of
 * {@code sun.misc.Unsafe}.
 */
public final class QuickSuite {
    /**
     * The JMH benchmarks of the quick suite: those the report compares, except the two-thread map twins
     * ({@code Contended*MapBenchmark}), which only the full suite runs.
     */
    private static final String QUICK = "org\\.shm4j\\.bench\\.(Contended)?(Agrona)?(Values|Locks)Benchmark"
            + "|org\\.shm4j\\.bench\\.(ReadWriteLocks|Ring|AgronaRing|Disruptor|JdkQueue|TypedQueue|BulkCopy)Benchmark"
            + "|org\\.shm4j\\.bench\\.(Map|ChronicleMap|LmdbMap|List|Coordination|DeadlockDetection)Benchmark\\.";

    /**
     * Silences the warnings that JMH's own use of {@code sun.misc.Unsafe} prints in every fork (shm4j never uses
     * it); given to the forks only on JDK {@value #UNSAFE_FLAG_SINCE}+, where the option exists.
     */
    private static final String ALLOW_UNSAFE = "--sun-misc-unsafe-memory-access=allow";
    private static final int UNSAFE_FLAG_SINCE = 23;
    /** The option that sets the forks of every benchmark of a full run. */
    private static final String FORKS = "--forks=";

    private QuickSuite() {
    }

    /**
     * @param args {@code --full} for the classes' own iteration settings, optionally {@code --forks=N}, then
     *             optionally JMH include patterns
     */
    public static void main(String[] args) throws RunnerException, IOException, InterruptedException {
        boolean full = List.of(args).contains("--full");
        List<String> only = List.of(args).stream().filter(a -> !a.startsWith("--")).toList();
        if (!full && !only.isEmpty()) {
            throw new IllegalArgumentException("benchmark patterns " + only + " need --full (the quick suite always"
                    + " runs its own list)");
        }
        int forks = forks(args, full);
        Path results = Path.of("bench", "results");
        Files.createDirectories(results);
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path run = results.resolve((full ? "full-" : "quick-") + stamp);
        Path json = Path.of(run + ".json");
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include(!full ? QUICK : only.isEmpty() ? "org\\.shm4j\\.bench\\..*Benchmark" : String.join("|", only))
                .addProfiler(GCProfiler.class)
                .resultFormat(ResultFormatType.JSON)
                .result(json.toString());
        if (forks > 0) {
            options.forks(forks);
        }
        if (Runtime.version().feature() >= UNSAFE_FLAG_SINCE) {
            // JMH's own code (org.openjdk.jmh.util.Utils) calls sun.misc.Unsafe::objectFieldOffset in every fork.
            // Prepend, not append: the classes' @Fork(jvmArgsAppend) would be replaced by an append set here.
            options.jvmArgsPrepend(ALLOW_UNSAFE);
        }
        if (!full) {
            options.warmupIterations(2).warmupTime(TimeValue.milliseconds(400))
                    .measurementIterations(3).measurementTime(TimeValue.milliseconds(400)).forks(1)
                    .param("bytes", "4096");
        }
        new Runner(options.build()).run();
        System.out.println("Cross-process ping-pong and lock hand-off ...");
        LatencyResults latency = new LatencyResults(PingPong.run(full), LockHandoff.run(full));
        Files.writeString(Path.of(run + ".latency.json"), latency.toJson());
        String machine = machine();
        Files.writeString(Path.of(run + ".machine.txt"), machine);
        System.out.println();
        System.out.println(Report.markdown(Files.readString(json), latency));
        System.out.println("Results: " + run + ".{json,latency.json,machine.txt} on " + machine.strip());
        System.out.println(full ? "The README's tables and chart from this run: ./run.sh report (it refuses a run"
                + " whose errors leave its verdicts meaningless; --force writes it anyway)."
                : "A quick run is for a look, not for the README: the README's tables come from a full run"
                + " (./run.sh bench-full, then ./run.sh report).");
    }

    /** @return the value of the first {@code /proc/cpuinfo} line whose key is {@code key} */
    private static Optional<String> cpuinfo(List<String> lines, String key) {
        return lines.stream().filter(l -> l.indexOf(':') > 0 && l.substring(0, l.indexOf(':')).strip().equals(key))
                .findFirst().map(l -> l.substring(l.indexOf(':') + 1).strip());
    }

    /** @return the forks {@code --forks=N} asks for, or 0 (the classes' own) without it */
    static int forks(String[] args, boolean full) {
        List<String> given = List.of(args).stream().filter(a -> a.startsWith(FORKS)).toList();
        if (given.isEmpty()) {
            return 0;
        }
        if (!full) {
            throw new IllegalArgumentException(FORKS + "N needs --full (the quick suite runs 1 fork of each)");
        }
        String value = given.getLast().substring(FORKS.length());
        try {
            int forks = Integer.parseInt(value);
            if (forks >= 1) {
                return forks;
            }
        } catch (NumberFormatException e) {
            // answered below, with the same message as a number below 1
        }
        throw new IllegalArgumentException(FORKS + "N needs a whole number of forks of at least 1, got '" + value
                + "'");
    }

    /**
     * @return CPU model (with its family and model numbers: a VM may name only the vendor, "AMD EPYC", for hosts of
     *         different generations, whose atomics differ in cost), cores, JDK and whether this is a VM
     */
    private static String machine() throws IOException {
        Path cpuinfo = Path.of("/proc/cpuinfo");
        String model = "unknown CPU";
        boolean vm = false;
        if (Files.isReadable(cpuinfo)) {
            try (Stream<String> lines = Files.lines(cpuinfo)) {
                List<String> all = lines.toList();
                model = cpuinfo(all, "model name").orElse(model);
                Optional<String> family = cpuinfo(all, "cpu family");
                Optional<String> number = cpuinfo(all, "model");
                if (family.isPresent() && number.isPresent()) {
                    model += " (family " + family.get() + ", model " + number.get() + ")";
                }
                vm = cpuinfo(all, "flags").filter(flags -> (" " + flags).contains(" hypervisor")).isPresent();
            }
        }
        return model + ", " + Runtime.getRuntime().availableProcessors() + " cores, JDK "
                + System.getProperty("java.vm.version") + ", " + (vm ? "a VM (hypervisor flag)" : "bare metal")
                + "\n";
    }
}
