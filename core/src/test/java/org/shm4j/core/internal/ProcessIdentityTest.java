package org.shm4j.core.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.Unshare;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * Owner tokens: every process computes the same token for a live process (the start stamp is the kernel's start
 * time in ticks since boot, not an epoch time derived from a boot time each JVM reads once), and a dead or recycled
 * pid is told apart.
 */
@EnabledOnOs(OS.LINUX)
class ProcessIdentityTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    @Test
    void shouldStampThisProcessWithItsKernelStartTicks() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] afterName = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        UUID bootId = UUID.fromString(Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip());
        long salt = (bootId.getMostSignificantBits() ^ bootId.getLeastSignificantBits()) & Integer.MAX_VALUE;
        assertThat(ProcessIdentity.currentStartStamp()).as("start ticks plus this boot's salt")
                .isEqualTo(Long.parseLong(afterName[19]) + salt);
        long anotherBoot = ProcessIdentity.currentStartStamp() - salt + (salt ^ 1);
        assertThat(ProcessIdentity.isAlive(ProcessIdentity.token(ProcessHandle.current().pid(), anotherBoot)))
                .as("this pid at this tick in another boot (a token left in a file-backed heap)").isFalse();
        assertThat(ProcessIdentity.currentToken())
                .isEqualTo(ProcessHandle.current().pid() << 32 | ProcessIdentity.currentStartStamp() & 0xFFFF_FFFFL);
        long jdkMillis = ProcessHandle.current().info().startInstant().map(Instant::toEpochMilli).orElseThrow();
        assertThat(ProcessIdentity.startMillis(ProcessIdentity.currentStartStamp())).as("display time of this JVM")
                .isEqualTo(jdkMillis);
    }

    /**
     * No token has start bits 0: an unknown start, or one whose low 32 bits are 0, gets all ones, which any stamp
     * matches. So a token with bits 0 is damaged memory (one byte 0x01 in a free lock word says "pid 1"), taken for
     * dead even though its pid lives, rather than waited for as long as pid 1 runs.
     */
    @Test
    void shouldNeverMakeStartBits0AndTakeATokenWithThemForDead() {
        long pid = ProcessHandle.current().pid();
        assertThat(ProcessIdentity.token(pid, 0)).as("start unknown")
                .isEqualTo(pid << 32 | ProcessIdentity.UNKNOWN_START_BITS);
        assertThat(ProcessIdentity.token(pid, 5L << 32)).as("a stamp whose low 32 bits are 0")
                .isEqualTo(pid << 32 | ProcessIdentity.UNKNOWN_START_BITS);
        assertThat(ProcessIdentity.startMatches(ProcessIdentity.token(pid, 5L << 32), 5L << 32)).isTrue();
        assertThat(ProcessIdentity.currentToken() & 0xFFFF_FFFFL).isNotZero();
        assertThat(ProcessIdentity.isAlive(ProcessIdentity.token(1, 0))).as("pid 1, start unknown").isTrue();
        assertThat(ProcessIdentity.isAlive(pid << 32 | ProcessIdentity.UNKNOWN_START_BITS)).as("this pid, unknown")
                .isTrue();
        assertThat(ProcessIdentity.isAlive(1L << 32)).as("pid 1, start bits 0: damaged").isFalse();
        assertThat(ProcessIdentity.isAlive(pid << 32)).as("this pid, start bits 0: damaged").isFalse();
        assertThat(ProcessIdentity.isWellFormed(1L << 32)).isFalse();
        assertThat(ProcessIdentity.isWellFormed(1)).as("no pid").isFalse();
        assertThat(ProcessIdentity.isWellFormed(ProcessIdentity.currentToken())).isTrue();
    }

    @Test
    void shouldAgreeWithAChildOnItsTokenAndSeeItDie() throws InterruptedException {
        try (ChildJvm child = ChildJvm.start(TokenChild.class)) {
            long token = Long.parseLong(child.awaitLine("token ", BOUND).substring("token ".length()));
            assertThat(ProcessIdentity.pid(token)).isEqualTo(child.pid());
            assertThat(ProcessIdentity.token(child.pid(), ProcessIdentity.startStamp(child.pid())))
                    .as("the child's own token, as this process computes it").isEqualTo(token);
            assertThat(ProcessIdentity.isAlive(token)).isTrue();
            assertThat(ProcessIdentity.isAlive(token ^ 1)).as("same pid, another start: recycled").isFalse();
            child.kill();
            assertThat(ProcessIdentity.isAlive(token)).isFalse();
            assertThat(ProcessIdentity.startStamp(child.pid())).isEqualTo(-1);
        }
    }

    @Test
    void shouldReadTheStampOfAProcessWhoseNameHoldsParenthesesAndSpaces() throws IOException, InterruptedException {
        // the command name sits in parentheses in /proc/<pid>/stat: ") (" inside it must not shift the fields
        Process odd = new ProcessBuilder("bash", "-c", "printf 'a) b (c' > /proc/$$/comm; echo ready; read -t 60 x")
                .redirectErrorStream(true).start();
        try {
            assertThat(odd.inputReader().readLine()).isEqualTo("ready");
            assertThat(Files.readString(Path.of("/proc", Long.toString(odd.pid()), "comm")).strip())
                    .isEqualTo("a) b (c");
            long stamp = ProcessIdentity.startStamp(odd.pid());
            assertThat(ProcessIdentity.startMillis(stamp)).as("field 22, not a field before it")
                    .isEqualTo(odd.info().startInstant().map(Instant::toEpochMilli).orElseThrow());
            long token = ProcessIdentity.token(odd.pid(), stamp);
            assertThat(ProcessIdentity.isAlive(token)).isTrue();
            odd.destroyForcibly();
            assertThat(odd.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(ProcessIdentity.isAlive(token)).isFalse();
        } finally {
            odd.destroyForcibly();
        }
    }

    @Test
    void shouldAgreeWithAProcessInAnotherTimeNamespace() throws IOException, InterruptedException {
        // the kernel adds the reader's time-namespace boot offset to /proc/<pid>/stat's start time
        List<String> options = List.of("--time", "--boottime", "100000", "--fork");
        assumeThat(Unshare.works(options.toArray(String[]::new))).as("unshare --time (Linux 5.6+, root) is available")
                .isTrue();
        Process child = Unshare.java(options, TokenChild.class);
        long token = 0;
        try {
            String line = child.inputReader().readLine();
            assertThat(line).startsWith("token ");
            token = Long.parseLong(line.substring("token ".length()));
            assertThat(ProcessIdentity.token(ProcessIdentity.pid(token),
                    ProcessIdentity.startStamp(ProcessIdentity.pid(token)))).isEqualTo(token);
            assertThat(ProcessIdentity.isAlive(token)).isTrue();
        } finally {
            ProcessHandle.of(ProcessIdentity.pid(token)).ifPresent(ProcessHandle::destroyForcibly);
            child.destroyForcibly();
            assertThat(child.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        }
    }

    /** Prints this process's token, then waits (bounded) to be killed. */
    public static final class TokenChild {
        public static void main(String[] args) throws InterruptedException {
            System.out.println("token " + ProcessIdentity.currentToken());
            System.out.flush();
            new CountDownLatch(1).await(2, TimeUnit.MINUTES);
        }
    }
}
