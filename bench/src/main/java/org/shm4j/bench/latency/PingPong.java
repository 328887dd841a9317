package org.shm4j.bench.latency;

import org.HdrHistogram.Histogram;
import org.shm4j.core.SharedMemory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.DataFormatException;

/**
 * Cross-process round-trip latency: for each {@link Transport}, a fresh named region, an echo JVM and a ping JVM
 * (same class path, each with only its library's flags), and the pinger's HdrHistogram; {@link #ROUNDS} runs of
 * each transport, interleaved, go into one histogram per transport.
 */
public final class PingPong {
    private static final long CHILD_LIMIT_SECONDS = 120;
    /** Each transport runs this many times, interleaved with the others, into one histogram: the host's placement
     * of the two processes' vCPUs changes between runs, and interleaving spreads that over every transport. */
    private static final int ROUNDS = 3;

    /** Round-trip percentiles of one transport, in nanoseconds. */
    public record Result(String transport, long count, long p50, long p90, long p99, long p999, long max) {
    }

    private PingPong() {
    }

    /** @param args {@code --full} for ten times as many round trips */
    public static void main(String[] args) throws IOException, InterruptedException {
        run(List.of(args).contains("--full")).forEach(System.out::println);
    }

    /**
     * @param full per round 200,000 warm-up and 1,000,000 measured round trips per transport instead of 50,000
     *             and 100,000
     * @return one result per transport
     */
    public static List<Result> run(boolean full) throws IOException, InterruptedException {
        Map<Transport, Histogram> histograms = new EnumMap<>(Transport.class);
        for (int round = 0; round < ROUNDS; round++) {
            for (Transport transport : Transport.values()) {
                histograms.computeIfAbsent(transport, t -> new Histogram(3))
                        .add(run(transport, full ? 200_000 : 50_000, full ? 1_000_000 : 100_000));
            }
        }
        return histograms.entrySet().stream().map(e -> result(e.getKey(), e.getValue())).toList();
    }

    /** @return the percentiles of {@code histogram} */
    static Result result(Transport transport, Histogram histogram) {
        return new Result(transport.name(), histogram.getTotalCount(), histogram.getValueAtPercentile(50),
                histogram.getValueAtPercentile(90), histogram.getValueAtPercentile(99),
                histogram.getValueAtPercentile(99.9), histogram.getMaxValue());
    }

    /** @return the round trips of one pair of processes */
    static Histogram run(Transport transport, int warmup, int measured) throws IOException, InterruptedException {
        String name = "shm4j-pingpong-" + ProcessHandle.current().pid();
        try (SharedMemory region = SharedMemory.create(name, Transport.REGION_BYTES)) {
            transport.format(region.segment());
            Process echo = start(transport, "echo", name, 0, 0);
            Process ping = start(transport, "ping", name, warmup, measured);
            try {
                String result = CompletableFuture.supplyAsync(() -> resultLine(ping))
                        .get(CHILD_LIMIT_SECONDS, TimeUnit.SECONDS);
                await(ping);
                await(echo);
                return Histogram.decodeFromCompressedByteBuffer(
                        ByteBuffer.wrap(Base64.getDecoder().decode(result.substring("RESULT ".length()))), 0);
            } catch (ExecutionException | TimeoutException | DataFormatException e) {
                throw new IllegalStateException(transport + ": no result from the ping process", e);
            } finally {
                echo.destroyForcibly();
                ping.destroyForcibly();
            }
        } finally {
            SharedMemory.unlink(name);
        }
    }

    private static Process start(Transport transport, String role, String name, int warmup, int measured)
            throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(transport.jvmFlags());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PingPongChild.class.getName(), role,
                transport.name(), name, Integer.toString(warmup), Integer.toString(measured)));
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    /** @return the pinger's RESULT line; its other lines are echoed */
    private static String resultLine(Process ping) {
        try (BufferedReader lines = new BufferedReader(
                new InputStreamReader(ping.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                if (line.startsWith("RESULT ")) {
                    return line;
                }
                System.out.println(line);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("the ping process ended without a result (exit " + exitCode(ping) + ")");
    }

    private static void await(Process process) throws InterruptedException {
        if (!process.waitFor(CHILD_LIMIT_SECONDS, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException("child " + process.pid() + " failed or hung (exit " + exitCode(process)
                    + ")");
        }
    }

    private static String exitCode(Process process) {
        return process.isAlive() ? "none yet" : Integer.toString(process.exitValue());
    }
}
