package org.shm4j.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code run.sh}'s help, as a new user meets it: without {@code JAVA_HOME} and with no {@code java} (nor anything
 * else) on {@code PATH}, since help must run before the JDK is looked for.
 */
class RunScriptTest {
    private static final List<String> COMMANDS =
            List.of("bench", "test", "install", "bench-full", "python", "report", "demo", "help");

    @TempDir
    Path emptyPath;

    @TempDir
    Path outputs;

    @ParameterizedTest
    @ValueSource(strings = {"help", "-h", "--help", ""})
    void helpListsEveryCommandAndExitsZeroWithoutJdk(String argument) throws Exception {
        Result result = run(argument);

        assertThat(result.exit()).as(result.stderr()).isZero();
        assertThat(result.stderr()).isEmpty();
        for (String command : COMMANDS) {
            assertThat(result.stdout()).as(command).containsPattern("(?m)^  " + command + " +\\S");
        }
    }

    @Test
    void unknownCommandPrintsHelpToStderrAndExitsTwo() throws Exception {
        Result result = run("frobnicate");

        assertThat(result.exit()).isEqualTo(2);
        assertThat(result.stdout()).isEmpty();
        assertThat(result.stderr()).contains("unknown command: frobnicate").contains("  install ");
    }

    @Test
    void installPassesItsArgumentsToMaven(@TempDir Path bin) throws Exception {
        Path mavenArguments = outputs.resolve("mvn-arguments");
        Path mvn = bin.resolve("mvn"); // a stand-in that records what it was given and installs nothing
        Files.writeString(mvn, "#!" + bash() + "\nprintf '%s\\n' \"$@\" > '" + mavenArguments + "'\n");
        assertThat(mvn.toFile().setExecutable(true)).isTrue();

        Result result = run(List.of("install", "-Dmaven.repo.local=/tmp/elsewhere", "-o"),
                Map.of("PATH", bin + ":/usr/bin:/bin", "JAVA_HOME", System.getProperty("java.home")));

        assertThat(result.exit()).as(result.stderr()).isZero();
        assertThat(Files.readAllLines(mavenArguments)).endsWith("install", "-Dmaven.repo.local=/tmp/elsewhere", "-o");
    }

    private Result run(String argument) throws IOException, InterruptedException {
        // an empty folder on PATH: no java, no mvn, no tool
        return run(argument.isEmpty() ? List.of() : List.of(argument), Map.of("PATH", emptyPath.toString()));
    }

    private Result run(List<String> arguments, Map<String, String> environment)
            throws IOException, InterruptedException {
        Path root = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().normalize().getParent();
        List<String> command = new ArrayList<>(List.of(bash(), "run.sh"));
        command.addAll(arguments);
        Path out = outputs.resolve("stdout");
        Path err = outputs.resolve("stderr");
        ProcessBuilder builder = new ProcessBuilder(command).directory(root.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().clear();
        builder.environment().putAll(environment);
        Process process = builder.start();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("run.sh " + arguments + " did not end within 60 s");
        }
        return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private static String bash() {
        return Files.isExecutable(Path.of("/bin/bash")) ? "/bin/bash" : "/usr/bin/bash";
    }

    private record Result(int exit, String stdout, String stderr) {
    }
}
