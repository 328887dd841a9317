package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.spi.ToolProvider;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Codec#record(Class)} on the module path, where org.shm4j.sync reads only the modules it declares: records of
 * an application module holding public records of a third module (exported to all), compiled here and run in a child
 * JVM. The codec must reach every record its own lookup may reach, whichever module it is in.
 */
@Timeout(180)
class RecordCodecModulePathTest {
    /** The modules' classes, as Maven compiled them (the tests run in the sync module's directory). */
    private static final String SHM4J = Path.of("..", "core", "target", "classes") + File.pathSeparator
            + Path.of("target", "classes");
    private static final Map<String, String> LIB = Map.of(
            "module-info.java", """
                    module demo.lib {
                        exports demo.lib;
                    }
                    """,
            "demo/lib/Point.java", """
                    package demo.lib;

                    public record Point(int x, int y) {
                    }
                    """,
            "demo/lib/Shape.java", """
                    package demo.lib;

                    public sealed interface Shape permits Shape.Dot, Shape.Line {
                        record Dot(Point at) implements Shape {
                        }

                        record Line(Point from, Point to) implements Shape {
                        }
                    }
                    """);
    private static final Map<String, String> APP = Map.of(
            "module-info.java", """
                    module demo.app {
                        requires org.shm4j.sync;
                        requires demo.lib;
                        exports demo.app;
                    }
                    """,
            "demo/app/App.java", """
                    package demo.app;

                    import demo.lib.Point;
                    import demo.lib.Shape;
                    import java.lang.foreign.Arena;
                    import java.lang.foreign.MemorySegment;
                    import org.shm4j.sync.Codec;
                    import org.shm4j.sync.RecordCodec;

                    public class App {
                        public record Drawing(String title, Point origin, Shape first) {
                        }

                        public static void main(String[] args) {
                            RecordCodec<Drawing> codec = Codec.record(Drawing.class);
                            Drawing drawing = new Drawing("d", new Point(1, 2), new Shape.Line(new Point(0, 0), null));
                            MemorySegment bytes = Arena.ofAuto().allocate(codec.encodedLength(drawing));
                            codec.encode(drawing, bytes, 0);
                            System.out.println("DECODED " + codec.decode(bytes, 0, (int) bytes.byteSize())
                                    .equals(drawing) + " " + codec.schema());
                            System.out.println("SEALED " + Codec.sealed(Shape.class).alternatives());
                        }
                    }
                    """);

    @Test
    void shouldReachPublicRecordsOfAThirdModuleNestedInARecord(@TempDir Path dir) throws Exception {
        Path modules = dir.resolve("mods");
        compile(dir.resolve("lib"), SHM4J, modules.resolve("demo.lib"), LIB);
        compile(dir.resolve("app"), SHM4J + File.pathSeparator + modules, modules.resolve("demo.app"), APP);
        assertThat(run(modules, "demo.app/demo.app.App")).as("the child's output").contains("DECODED true Drawing("
                + "String title, Point(int x, int y) origin, Shape{Dot(Point(int x, int y) at) | Line(Point(int x,"
                + " int y) from, Point(int x, int y) to)} first)")
                .contains("SEALED [class demo.lib.Shape$Dot, class demo.lib.Shape$Line]");
    }

    /** Compiles the module whose sources (relative path to code) are {@code files} into {@code out}. */
    private static void compile(Path source, String modulePath, Path out, Map<String, String> files)
            throws Exception {
        List<String> arguments = new ArrayList<>(List.of("--module-path", modulePath, "-d", out.toString()));
        for (Map.Entry<String, String> file : files.entrySet()) {
            Path path = source.resolve(file.getKey());
            Files.createDirectories(path.getParent());
            Files.writeString(path, file.getValue());
            arguments.add(path.toString());
        }
        int compiled = ToolProvider.findFirst("javac").orElseThrow().run(System.out, System.err,
                arguments.toArray(String[]::new));
        assertThat(compiled).as("javac's exit code").isZero();
    }

    /** @return the standard output and error of {@code main} ({@code module/class}), once it exited with 0 */
    private static String run(Path modules, String main) throws Exception {
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "--module-path", SHM4J + File.pathSeparator + modules,
                "-m", main).redirectErrorStream(true).start();
        child.getOutputStream().close();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).as("the child exited; output:%n%s", output).isTrue();
        assertThat(child.exitValue()).as("the child's exit code; output:%n%s", output).isZero();
        return output;
    }
}
