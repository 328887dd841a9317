package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.locks.SharedLock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Whether blocking waits use futex is visible, and a fallback for want of native access is logged once. */
class BlockingWaitsTest {
    private static final String LOG_LINE = "shm4j blocking waits spin and park instead of using futex";

    @TempDir
    Path dir;

    @Test
    void shouldReportFutexInTheseTests() {
        assertThat(BlockingWaits.usesFutex()).as("tests run with --enable-native-access on Linux").isTrue();
        assertThat(BlockingWaits.describe()).isEqualTo("futex");
    }

    @Test
    void shouldReportAndLogOnceTheFallbackWithoutNativeAccess() throws Exception {
        String output = runProbe(List.of());
        assertThat(output).contains("USES_FUTEX false", "WAITED true")
                .contains("DESCRIBE spinning and parking: native access is not enabled for unnamed module")
                .contains("start java with --enable-native-access=ALL-UNNAMED to use futex");
        assertThat(output.split(LOG_LINE, -1)).as("the fallback is logged exactly once:\n" + output).hasSize(2);
        assertThat(output).contains("WARNING: " + LOG_LINE);
    }

    @Test
    void shouldNotLogAFallbackTheUserChose() throws Exception {
        String output = runProbe(List.of("-Dshm4j.futex=false"));
        assertThat(output).contains("USES_FUTEX false", "WAITED true",
                "DESCRIBE spinning and parking: turned off by -Dshm4j.futex=false").doesNotContain(LOG_LINE);
    }

    /** Runs {@link Probe} in a JVM without {@code --enable-native-access}; returns its output and error, merged. */
    private String runProbe(List<String> jvmOptions) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Probe.class.getName()));
        Path log = dir.resolve("probe.log");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            assertThat(process.waitFor(90, TimeUnit.SECONDS)).as("the probe JVM exits").isTrue();
            String output = Files.readString(log);
            assertThat(process.exitValue()).as(output).isZero();
            return output;
        } finally {
            process.destroyForcibly();
        }
    }

    /** Prints what {@link BlockingWaits} reports, then makes a thread wait long enough to reach the idle steps. */
    public static final class Probe {
        public static void main(String[] args) throws InterruptedException {
            System.out.println("USES_FUTEX " + BlockingWaits.usesFutex());
            System.out.println("DESCRIBE " + BlockingWaits.describe());
            try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
                SharedLock lock = SharedLock.create(heap, "lock");
                lock.lock();
                boolean[] waited = new boolean[1];
                Thread waiter = Thread.ofPlatform().start(() -> {
                    try {
                        waited[0] = !lock.tryLock(200, TimeUnit.MILLISECONDS); // spins, yields, then parks
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                waiter.join(60_000);
                System.out.println("WAITED " + waited[0]);
                System.out.println("USES_FUTEX " + BlockingWaits.usesFutex());
            }
        }
    }
}
