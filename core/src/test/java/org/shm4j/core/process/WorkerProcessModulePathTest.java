package org.shm4j.core.process;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.spi.ToolProvider;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A worker started by an application on the module path: a small named module, compiled here, whose main class (in
 * a package the module does not export) starts a worker running one of its package-private methods. The worker
 * must run on the module path, in that module, with the parent's native access.
 */
@Timeout(180)
class WorkerProcessModulePathTest {
    /** This module's classes, as Maven compiled them. */
    private static final Path CORE = Path.of("target", "classes");
    private static final String MODULE_INFO = """
            module demo.workers {
                requires org.shm4j.core;
            }
            """;
    private static final String MAIN = """
            package demo.workers.internal;

            import org.shm4j.core.process.WorkerProcess;
            import java.time.Duration;

            public class Main {
                public static void main(String[] args) throws Exception {
                    try (WorkerProcess w = WorkerProcess.of(Main.class, "hi").method("child").captureOutput()
                            .jvmOption("-XX:TieredStopAtLevel=1").start()) {
                        if (!w.join(Duration.ofSeconds(60))) {
                            throw new AssertionError("the worker did not exit");
                        }
                        System.out.println("PARENT exit=" + w.exitValue() + " output=" + w.output());
                    }
                }

                static void child(String[] args) {
                    Module module = Main.class.getModule();
                    System.out.println("CHILD " + args[0] + " module=" + module.getName() + " nativeAccess="
                            + module.isNativeAccessEnabled() + " classPath=" + System.getProperty("java.class.path"));
                }
            }
            """;

    private static final String HELPERS_INFO = """
            module demo.helpers {
                requires org.shm4j.core;
                exports demo.helpers;
            }
            """;
    private static final String HELPER = """
            package demo.helpers;

            public class Helper {
                static void child(String[] args) {
                    System.out.println("CHILD " + args[0] + " module=" + Helper.class.getModule().getName());
                }
            }
            """;
    private static final String APP_INFO = """
            module demo.app {
                requires org.shm4j.core;
                requires demo.helpers;
            }
            """;
    private static final String APP = """
            package demo.app;

            import org.shm4j.core.process.WorkerProcess;
            import java.time.Duration;

            public class App {
                public static void main(String[] args) throws Exception {
                    try (WorkerProcess w = WorkerProcess.of(demo.helpers.Helper.class, "hi").method("child")
                            .captureOutput().jvmOption("-XX:TieredStopAtLevel=1").start()) {
                        if (!w.join(Duration.ofSeconds(60))) {
                            throw new AssertionError("the worker did not exit");
                        }
                        System.out.println("PARENT exit=" + w.exitValue() + " output=" + w.output());
                    }
                }
            }
            """;

    /**
     * The worker's class in another module than the application's main module, whose name the parent's options carry:
     * the worker resolves the main module too, so the JVM does not warn "Unknown module" in it (helper-105).
     */
    @Test
    void shouldStartAWorkerOfAnotherModuleWithoutUnknownModuleWarnings(@TempDir Path dir) throws Exception {
        Path modules = dir.resolve("mods");
        compile(dir.resolve("helpers"), CORE.toString(), modules.resolve("demo.helpers"), HELPERS_INFO,
                "demo/helpers/Helper.java", HELPER);
        compile(dir.resolve("app"), CORE + File.pathSeparator + modules, modules.resolve("demo.app"), APP_INFO,
                "demo/app/App.java", APP);
        String output = runParent(modules, "demo.app/demo.app.App", "--enable-native-access=org.shm4j.core,demo.app",
                "--add-opens=java.base/java.lang=demo.app");
        assertThat(output).as("the parent's output, the worker's standard error in it")
                .contains("PARENT exit=0 output=[CHILD hi module=demo.helpers]")
                .doesNotContain("WARNING");
    }

    /** Compiles the module {@code moduleInfo} with its one class {@code path} ({@code code}) into {@code out}. */
    private static void compile(Path source, String modulePath, Path out, String moduleInfo, String path, String code)
            throws Exception {
        Files.createDirectories(source.resolve(path).getParent());
        Files.writeString(source.resolve("module-info.java"), moduleInfo);
        Files.writeString(source.resolve(path), code);
        int compiled = ToolProvider.findFirst("javac").orElseThrow().run(System.out, System.err, "--module-path",
                modulePath, "-d", out.toString(), source.resolve("module-info.java").toString(),
                source.resolve(path).toString());
        assertThat(compiled).as("javac's exit code").isZero();
    }

    /**
     * Runs the application {@code main} ({@code module/class}) on a module path of this module's classes and
     * {@code modules}, with {@code options}.
     *
     * @return its standard output and error, once it exited with 0
     */
    private static String runParent(Path modules, String main, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
        command.addAll(List.of(options));
        command.addAll(List.of("--module-path", CORE + File.pathSeparator + modules, "-m", main));
        Process parent = new ProcessBuilder(command).redirectErrorStream(true).start();
        parent.getOutputStream().close();
        String output = new String(parent.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(parent.waitFor(60, TimeUnit.SECONDS)).as("the parent exited; output:%n%s", output).isTrue();
        assertThat(parent.exitValue()).as("the parent's exit code; output:%n%s", output).isZero();
        return output;
    }

    @Test
    void shouldStartAWorkerInTheParentsNamedModule(@TempDir Path dir) throws Exception {
        Path modules = dir.resolve("mods");
        compile(dir.resolve("src"), CORE.toString(), modules.resolve("demo.workers"), MODULE_INFO,
                "demo/workers/internal/Main.java", MAIN);
        assertThat(runParent(modules, "demo.workers/demo.workers.internal.Main", "--enable-native-access=demo.workers"))
                .as("the parent's output")
                .contains("PARENT exit=0 output=[CHILD hi module=demo.workers nativeAccess=true classPath=]");
    }
}
