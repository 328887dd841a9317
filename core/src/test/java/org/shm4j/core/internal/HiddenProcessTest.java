package org.shm4j.core.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.testing.Unshare;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * Liveness where {@code /proc} hides other users' processes ({@code hidepid=2}): a missing entry is checked with
 * {@code kill(pid, 0)} ({@link PidProbe}), so a live process of another user is not taken for dead, while a dead
 * process and a visible zombie stay dead; without native access, a missing entry means gone, as before.
 */
@EnabledOnOs(OS.LINUX)
class HiddenProcessTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @TempDir
    Path staging;

    @Test
    void shouldAskTheKernelWhetherAPidExists() throws IOException, InterruptedException {
        assertThat(PidProbe.fallbackReason()).as("tests run with --enable-native-access on Linux").isEmpty();
        assertThat(PidProbe.isAvailable()).isTrue();
        assertThat(PidProbe.exists(ProcessHandle.current().pid())).isTrue();
        assertThat(PidProbe.exists(deadPid())).isFalse();
        assertThat(PidProbe.exists(0)).as("kill(0, 0) would ask about this process group").isFalse();
        assertThat(PidProbe.exists(-1)).as("kill(-1, 0) would ask about every process").isFalse();
        assertThat(PidProbe.exists(1L << 32)).as("not a pid; its low 32 bits are 0").isFalse();
        assertThat(PidProbe.exists(Integer.MAX_VALUE)).as("above any pid_max").isFalse();
    }

    @Test
    void shouldKeepProcsAnswerWithoutNativeAccessAndPrintNoWarning() throws IOException, InterruptedException {
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), FallbackChild.class.getName());
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = Unshare.awaitOutput(child, BOUND);
        assertThat(output).contains("available false", "exists false")
                .contains("reason native access is not enabled for unnamed module")
                .contains("start java with --enable-native-access=ALL-UNNAMED (needed to ask the kernel")
                .doesNotContain("WARNING");
    }

    @Test
    void shouldSeeAnotherUsersLiveProcessUnderHidepid2() throws IOException, InterruptedException {
        Map<String, String> seen = runHidden(true);
        assertThat(seen).containsEntry("probe", "kill").containsEntry("parentShown", "false")
                .as("a live process of another user: alive, stamp unknown")
                .containsEntry("parentAlive", "true").containsEntry("parentPidAlive", "true")
                .containsEntry("parentStamp", "0")
                .as("a dead process").containsEntry("deadAlive", "false").containsEntry("deadPidAlive", "false")
                .as("a zombie of the child's own user, which kill(2) alone finds")
                .containsEntry("zombieShown", "true").containsEntry("zombieExists", "true")
                .containsEntry("zombieAlive", "false").containsEntry("zombiePidAlive", "false");
    }

    @Test
    void shouldTakeAHiddenProcessForDeadWithoutNativeAccess() throws IOException, InterruptedException {
        Map<String, String> seen = runHidden(false);
        assertThat(seen).containsEntry("probe", "fallback").containsEntry("parentShown", "false")
                .as("the documented fallback: /proc's answer stands")
                .containsEntry("parentAlive", "false").containsEntry("parentPidAlive", "false")
                .containsEntry("deadAlive", "false").containsEntry("zombieAlive", "false");
    }

    /**
     * Runs {@link HiddenChild} as {@code nobody} under {@code hidepid=2}, or skips the test where that is not possible;
     * returns its answers by name.
     */
    private Map<String, String> runHidden(boolean nativeAccess) throws IOException, InterruptedException {
        assumeThat(Unshare.hidepidWorks()).as("unshare, mount -o hidepid=2 and setpriv (root) are available").isTrue();
        long dead = deadToken();
        Process child = Unshare.javaAsNobodyUnderHidepid(staging, nativeAccess, HiddenChild.class,
                Long.toString(ProcessIdentity.currentToken()), Long.toString(dead));
        String output = Unshare.awaitOutput(child, BOUND);
        Map<String, String> seen = new HashMap<>();
        for (String line : output.split("\n")) {
            String[] words = line.split(" ", 2);
            seen.put(words[0], words.length > 1 ? words[1] : "");
        }
        assertThat(seen).as(output).containsKey("done");
        return seen;
    }

    /** @return the token of a process that has been started, stamped, killed and reaped */
    private static long deadToken() throws IOException, InterruptedException {
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        long token = ProcessIdentity.token(sleeper.pid(), ProcessIdentity.startStamp(sleeper.pid()));
        sleeper.destroyForcibly();
        assertThat(sleeper.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        return token;
    }

    private static long deadPid() throws IOException, InterruptedException {
        return ProcessIdentity.pid(deadToken());
    }

    /** Prints what {@link PidProbe} answers in a JVM without native access. */
    public static final class FallbackChild {
        public static void main(String[] args) {
            System.out.println("available " + PidProbe.isAvailable());
            System.out.println("reason " + PidProbe.fallbackReason().orElse(""));
            System.out.println("exists " + PidProbe.exists(ProcessHandle.current().pid()));
        }
    }

    /**
     * Given the parent's token and a dead process's token, prints how this process (as {@code nobody}, under
     * {@code hidepid=2}) sees them and a zombie of its own, one {@code name answer} line each, then {@code done}.
     */
    public static final class HiddenChild {
        public static void main(String[] args) throws IOException, InterruptedException {
            long parent = Long.parseLong(args[0]);
            long dead = Long.parseLong(args[1]);
            long parentPid = ProcessIdentity.pid(parent);
            List<String> answers = new ArrayList<>();
            answers.add("probe " + (PidProbe.isAvailable() ? "kill" : "fallback"));
            answers.add("parentShown " + Files.exists(Path.of("/proc", Long.toString(parentPid))));
            answers.add("parentAlive " + ProcessIdentity.isAlive(parent));
            answers.add("parentPidAlive " + ProcessIdentity.isPidAlive(parentPid));
            answers.add("parentStamp " + ProcessIdentity.startStamp(parentPid));
            answers.add("deadAlive " + ProcessIdentity.isAlive(dead));
            answers.add("deadPidAlive " + ProcessIdentity.isPidAlive(ProcessIdentity.pid(dead)));
            // sh starts a child that exits after sh became sleep, which never reaps it: a zombie until then (one that
            // exited at once could be reaped by sh itself before its exec)
            Process keeper = new ProcessBuilder("sh", "-c", "sleep 0.5 & echo $!; exec sleep 60").start();
            try {
                long zombie = Long.parseLong(keeper.inputReader().readLine().strip());
                answers.add("zombieShown " + awaitZombie(zombie));
                answers.add("zombieExists " + PidProbe.exists(zombie));
                answers.add("zombieAlive " + ProcessIdentity.isAlive(ProcessIdentity.token(zombie, 0)));
                answers.add("zombiePidAlive " + ProcessIdentity.isPidAlive(zombie));
            } finally {
                keeper.destroyForcibly();
                keeper.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS);
            }
            answers.forEach(System.out::println);
            System.out.println("done");
        }

        /** @return true once {@code /proc/<pid>/stat} shows state Z, false if it does not within the bound */
        private static boolean awaitZombie(long pid) throws InterruptedException {
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (System.nanoTime() < deadline) {
                try {
                    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
                    if (stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z")) {
                        return true;
                    }
                } catch (IOException gone) {
                    return false;
                }
                Thread.sleep(10); // polls a state the kernel sets, bounded by the deadline
            }
            return false;
        }
    }
}
