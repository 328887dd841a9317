package org.shm4j.core.process;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.testing.Await;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import static java.util.stream.Collectors.joining;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Worker JVMs started, joined, killed and outlived, as real child processes: the method run and its arguments, the
 * output captured, the system properties and native access passed on, exit values after a throw, {@code SIGKILL} and
 * {@code SIGTERM}, and daemons that die with their parent.
 */
@Timeout(180)
class WorkerProcessTest {
    static final Duration BOUND = Duration.ofSeconds(60);
    private static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";

    @TempDir
    Path elsewhere;

    @Test
    void shouldRunMainWithArgumentsPropertiesAndThisJvmsNativeAccess() throws Exception {
        assumeTrue(ManagementFactory.getRuntimeMXBean().getInputArguments().contains(NATIVE_ACCESS),
                "the test JVM runs with " + NATIVE_ACCESS);
        System.setProperty("test.inherited", "from parent");
        System.setProperty("test.other", "not passed on");
        System.setProperty("shm4j.test.library", "passed on");
        System.setProperty("shm4j.test.overridden", "parent's");
        try (WorkerProcess worker = fast(WorkerProcess.of(Echo.class, "a b", "c").captureOutput()
                .systemProperty("test.set", "x=1").inheritSystemProperty("test.inherited")
                .inheritSystemProperty("test.absent").systemProperty("shm4j.test.overridden", "worker's")).start()) {
            assertThat(worker.join(BOUND)).as("exited in time").isTrue();
            assertThat(worker.exitValue()).isZero();
            assertThat(worker.output()).containsExactly("args=[a b, c]", "set=x=1", "inherited=from parent",
                    "absent=null", "other=null", "library=passed on", "overridden=worker's", "nativeAccess=true",
                    "flag=true");
        } finally {
            List.of("test.inherited", "test.other", "shm4j.test.library", "shm4j.test.overridden")
                    .forEach(System::clearProperty);
        }
    }

    @Test
    void shouldStartAllAndJoinAllWorkersRunningANamedMethod() throws Exception {
        List<WorkerProcess> workers = WorkerProcess.startAll(5,
                i -> fast(WorkerProcess.of(Echo.class, String.valueOf(i)).method("square").captureOutput()));
        try {
            assertThat(WorkerProcess.joinAll(workers, BOUND)).as("all exited in time").isTrue();
            for (int i = 0; i < workers.size(); i++) {
                assertThat(workers.get(i).exitValue()).isZero();
                assertThat(workers.get(i).output()).containsExactly("square=" + i * i);
                assertThat(workers.get(i).isAlive()).isFalse();
            }
        } finally {
            workers.forEach(WorkerProcess::close);
        }
    }

    @Test
    void shouldExitWithOneWhenTheMethodThrowsAndRunANoArgumentMethod() throws Exception {
        try (WorkerProcess failing = fast(WorkerProcess.of(Echo.class, "boom").method("fail")).start();
             WorkerProcess noArgs = fast(WorkerProcess.of(Echo.class, "ignored").method("hello").captureOutput())
                     .start()) {
            assertThat(noArgs.awaitLine("hello", BOUND)).contains("hello from a no-argument method");
            assertThat(WorkerProcess.joinAll(List.of(failing, noArgs), BOUND)).isTrue();
            assertThat(failing.exitValue()).as("an uncaught exception, as from main").isEqualTo(1);
            assertThat(noArgs.exitValue()).isZero();
            assertThat(noArgs.awaitLine("hello", Duration.ofMillis(10))).as("the output ended").isEmpty();
        }
    }

    @Test
    void shouldEndByKillAndDestroyWithTheSignalsExitValue() throws Exception {
        try (WorkerProcess killed = fast(WorkerProcess.of(Echo.class).method("sleep").captureOutput()).start();
             WorkerProcess destroyed = fast(WorkerProcess.of(Echo.class).method("sleep").captureOutput()).start()) {
            assertThat(killed.awaitLine("SLEEPING", BOUND)).isPresent();
            assertThat(destroyed.awaitLine("SLEEPING", BOUND)).isPresent();
            assertThat(killed.isAlive()).isTrue();
            assertThatThrownBy(killed::exitValue).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("is still running");
            assertThat(killed.join(Duration.ofMillis(50))).as("still sleeping").isFalse();
            killed.kill();
            destroyed.destroy();
            assertThat(WorkerProcess.joinAll(List.of(killed, destroyed), BOUND)).isTrue();
            assertThat(killed.exitValue()).as("128 + SIGKILL").isEqualTo(137);
            assertThat(destroyed.exitValue()).as("128 + SIGTERM, after the shutdown hooks").isEqualTo(143);
            assertThat(killed.output()).as("nothing added").containsExactly("SLEEPING " + killed.pid());
            assertThat(destroyed.output())
                    .as("the hook's line read to the end (destroying the Process closed its pipe)")
                    .containsExactly("SLEEPING " + destroyed.pid(), "HOOK");
        }
    }

    @Test
    void shouldEndADaemonWorkerWhenItsParentIsKilledButNotAnotherWorker() throws Exception {
        try (WorkerProcess parent = fast(WorkerProcess.of(Parent.class).captureOutput()).start()) {
            String[] pids = parent.awaitLine("CHILDREN", BOUND).orElseThrow().split(" ");
            ProcessHandle daemon = ProcessHandle.of(Long.parseLong(pids[1])).orElseThrow();
            ProcessHandle plain = ProcessHandle.of(Long.parseLong(pids[2])).orElseThrow();
            try {
                parent.kill();
                assertThat(parent.join(BOUND)).isTrue();
                long killed = System.nanoTime();
                daemon.onExit().get(BOUND.toSeconds(), TimeUnit.SECONDS);
                long tookMillis = (System.nanoTime() - killed) / 1_000_000;
                assertThat(tookMillis).as("a daemon exits soon after its parent; took %d ms", tookMillis)
                        .isLessThan(BOUND.toMillis());
                assertThat(plain.isAlive()).as("a worker that is not a daemon outlives its parent").isTrue();
            } finally {
                daemon.destroyForcibly();
                plain.destroyForcibly();
            }
        }
    }

    @Test
    void shouldGiveAWorkerAnEndedStdinRunAnInheritedMainAndWaitForEverWhenAsked() throws Exception {
        try (WorkerProcess reader = fast(WorkerProcess.of(Echo.class).method("readStdin").captureOutput()).start();
             WorkerProcess inherited = fast(WorkerProcess.of(Inheritor.class, "x").captureOutput()).start()) {
            assertThat(reader.join(ChronoUnit.FOREVER.getDuration())).as("a read of stdin ends at once").isTrue();
            assertThat(reader.output()).containsExactly("stdin=-1");
            assertThat(WorkerProcess.joinAll(List.of(inherited), Duration.ofSeconds(Long.MAX_VALUE))).isTrue();
            assertThat(inherited.output()).startsWith("args=[x]");
            assertThat(inherited.awaitLine("never", ChronoUnit.FOREVER.getDuration())).as("output ended").isEmpty();
        }
    }

    @Test
    void shouldRefuseWhatAWorkerCannotRun() throws Exception {
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class).method("nothing"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("worker class " + Echo.class.getName() + " has no method static void nothing"
                        + "(String[]) or static void nothing(), declared or inherited, nor a concrete class's instance"
                        + " method void nothing(String[]) or void nothing() (not private) and its constructor without"
                        + " parameters (not private)");
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class).method("wait")).as("Object's are not run")
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> WorkerProcess.of(Parent.class).method("toString"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> WorkerProcess.of(int.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot load int by name");
        assertThat(sourceLauncherRefusal()).as("a class the source launcher compiled in memory")
                .contains("IllegalArgumentException: WorkerProcess: a worker JVM cannot load InMemory by name: it is "
                        + "not on this JVM's class path or module path");
        Class<?> copy = new Isolated().define(Echo.class); // a child-first loader's copy of a class on the class path
        assertThat(WorkerProcess.of(copy)).as("the worker loads the class path's own").isNotNull();
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class).systemProperty("a=b", "c"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("WorkerProcess: system property key: 'a=b' (expected: non-empty, without '=')");
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class).jvmOption("Xmx64m")) // became the main class
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("WorkerProcess: JVM option 'Xmx64m' (expected: starting with '-'");
        assertThatThrownBy(() -> WorkerProcess.startAll(-1, i -> WorkerProcess.of(Echo.class)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("WorkerProcess.startAll: count: -1 (expected: >= 0)");
        assertThat(WorkerProcess.startAll(0, i -> WorkerProcess.of(Echo.class))).isEmpty();
        // helper-138: these failed only at start(), with an UncheckedIOException or a message of megabytes
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class, "a", "b\0c")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("WorkerProcess: args[1] holds a NUL character, which no process argument can carry");
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class, "\uD800")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("args[0] holds a lone surrogate");
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class).systemProperty("p", "\0"))
                .hasMessageContaining("system property 'p' holds a NUL character");
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class, "x".repeat(3_000_000)).start())
                .isInstanceOf(UncheckedIOException.class).message().hasSizeLessThan(3_000)
                // helper-153: the reason was only in the cause, and no word said what the limit is
                .contains("Argument list too long", "its longest argument 3000001",
                        "Linux takes at most 131072 bytes in one argument");
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class, "x".repeat(200_000)).start())
                .isInstanceOf(UncheckedIOException.class).message().contains("Argument list too long",
                        "its longest argument 200001");
    }

    /**
     * helper-138: under a C locale the JDK encodes process arguments as ASCII, and a worker got "????" for "ü日本😀".
     * A parent JVM started with {@code LC_ALL=C} passes such arguments exactly now, and refuses a system property
     * that cannot cross (the worker's JVM reads it itself).
     */
    @Test
    void shouldPassArgumentsExactlyUnderACLocaleAndRefuseAPropertyThatCannotCross() throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                NATIVE_ACCESS, "-cp", System.getProperty("java.class.path"), CLocaleParent.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT);
        builder.environment().keySet().removeIf(key -> key.equals("LANG") || key.startsWith("LC_"));
        builder.environment().put("LC_ALL", "C");
        Process parent = builder.start();
        List<String> lines;
        try (var out = parent.inputReader()) {
            lines = out.lines().toList();
        }
        assertThat(parent.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(lines).contains("jnu=ANSI_X3.4-1968"); // else the case this tests is not met
        List<String> text = CLocaleParent.TEXT.codePoints().mapToObj(Integer::toHexString).toList();
        assertThat(lines).containsSubsequence("arg=" + text, "arg=[61, 62]",
                "captured=" + text, // helper-153: the worker printed it in ASCII, "??? x"
                "property refused: true");
    }

    /**
     * helper-153: a parent JVM run with {@code --enable-preview} started workers without it, so a worker class
     * compiled with preview features died of "UnsupportedClassVersionError: Preview features are not enabled".
     */
    @Test
    void shouldPassEnablePreviewOnToTheWorker() throws Exception {
        Process parent = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-preview", NATIVE_ACCESS, "-cp", System.getProperty("java.class.path"),
                PreviewParent.class.getName()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<String> lines;
        try (var out = parent.inputReader()) {
            lines = out.lines().toList();
        }
        assertThat(parent.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(lines).containsExactly("preview=true", "exit=0");
    }

    /**
     * helper-153: an application run with {@code java -jar}, whose manifest says
     * {@code Add-Opens: java.base/java.lang}, had that package open, but its workers (the JAR on their class path,
     * where the attribute does not act) had not, and died of InaccessibleObjectException where the parent's same code
     * ran.
     */
    @Test
    void shouldGiveAWorkerWhatAnExecutableJarsManifestOpens() throws Exception {
        Manifest manifest = new Manifest();
        Attributes attributes = manifest.getMainAttributes();
        attributes.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        attributes.put(Attributes.Name.MAIN_CLASS, JarParent.class.getName());
        attributes.put(Attributes.Name.CLASS_PATH, Stream.of(System.getProperty("java.class.path")
                .split(File.pathSeparator)).map(entry -> Path.of(entry).toUri().toString()).collect(joining(" ")));
        attributes.putValue("Add-Opens", "java.base/java.lang");
        attributes.putValue("Enable-Native-Access", "ALL-UNNAMED");
        Path jar = elsewhere.resolve("app.jar");
        new JarOutputStream(Files.newOutputStream(jar), manifest).close(); // its classes are on its Class-Path
        Process parent = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<String> lines;
        try (var out = parent.inputReader()) {
            lines = out.lines().toList();
        }
        assertThat(parent.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(lines).containsExactly("opens=true", "opens=true", "exit=0");
    }

    /**
     * helper-153: Java 25's {@code java} launcher runs a class whose {@code main} is an instance method (JEP 512), but
     * WorkerProcess.of refused the same class: "has no method static void main(String[]) or static void main()".
     */
    @Test
    void shouldRunAnInstanceMainOnANewInstanceAsJava25Does() throws Exception {
        try (WorkerProcess worker = fast(WorkerProcess.of(InstanceMain.class, "a").captureOutput()).start();
             WorkerProcess named = fast(WorkerProcess.of(InstanceMain.class).method("work").captureOutput())
                     .start()) {
            assertThat(worker.join(BOUND)).isTrue();
            assertThat(named.join(BOUND)).isTrue();
            assertThat(worker.output()).containsExactly("constructed", "main [a]");
            assertThat(named.output()).containsExactly("constructed", "work");
            assertThat(worker.exitValue()).isZero();
        }
        assertThatThrownBy(() -> WorkerProcess.of(NoConstructor.class).method("main"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("instance method void main(String[]) or void main() (not private)");
    }

    /**
     * A static main() won over an instance main(String[]); Java 25's launcher (JEP 512, MethodFinder) takes
     * main(String[]) first, static or not ({@code java Both.java} printed its instance main's line).
     */
    @Test
    void shouldChooseTheMethodInTheOrderOfJava25sLauncher() throws NoSuchMethodException {
        assertThat(WorkerLauncher.findMethod(BothMains.class, "main"))
                .isEqualTo(BothMains.class.getDeclaredMethod("main", String[].class));
        assertThat(WorkerLauncher.findMethod(Inheritor.class, "main")).as("inherited")
                .isEqualTo(EchoBase.class.getDeclaredMethod("main", String[].class));
    }

    @Test
    void shouldSayWhenOutputIsNotCapturedAndPassAnExplicitExitValue() throws Exception {
        try (WorkerProcess worker = fast(WorkerProcess.of(Echo.class, "3").method("exit")).start()) {
            assertThatThrownBy(worker::output).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("output is not captured");
            assertThat(worker.join(BOUND)).isTrue();
            assertThat(worker.exitValue()).as("System.exit(3)").isEqualTo(3);
        }
    }

    @Test
    void shouldKeepTheLastLinesOfAChattyWorkerAndCutAnEndlessLine() throws Exception {
        try (WorkerProcess worker = fast(WorkerProcess.of(Echo.class, "25000").method("chatty")).captureOutput(1000)
                .start()) {
            assertThat(worker.awaitLine("DONE", BOUND)).as("the last line, after 25,001 others").contains("DONE");
            assertThat(worker.join(BOUND)).isTrue();
            List<String> output = worker.output();
            assertThat(output).as("the last 1000 lines").hasSize(1000).endsWith("line 24998", "line 24999", "DONE");
            assertThat(output.get(output.size() - 4)).as("a 100,000-character line keeps its first 65,536")
                    .hasSize(65_536 + "... <34464 more characters of this line dropped>".length())
                    .startsWith("xxxx").endsWith("x... <34464 more characters of this line dropped>");
        }
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class).captureOutput(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("WorkerProcess: keptLines=0 (expected: 1..1000000)");
    }

    /**
     * helper-227: the output grace was counted from each call, not from the worker's exit: join waited 5 s for the
     * output a child holds, then awaitLine 5 s more, and joinAll 5 s per worker (two workers: 20 s here, not 5).
     */
    @Test
    void shouldStopWaitingForOutputOneGraceAfterTheWorkersAreGoneThoughTheirChildrenHoldIt() throws Exception {
        List<WorkerProcess> workers = WorkerProcess.startAll(2,
                i -> fast(WorkerProcess.of(Echo.class).method("spawn")).captureOutput());
        List<String> children = new ArrayList<>();
        try {
            for (WorkerProcess worker : workers) {
                children.add(worker.awaitLine("CHILD ", BOUND).orElseThrow().substring("CHILD ".length()));
            }
            workers.forEach(WorkerProcess::kill);
            Await.until("the killed workers gone", BOUND, () -> workers.stream().noneMatch(WorkerProcess::isAlive));
            long gone = System.nanoTime();
            assertThat(WorkerProcess.joinAll(workers, BOUND)).isTrue();
            for (WorkerProcess worker : workers) {
                assertThat(worker.awaitLine("never", BOUND)).as("the worker is gone").isEmpty();
            }
            Duration took = Duration.ofNanos(System.nanoTime() - gone);
            assertThat(took).as("one grace from the exits for all calls, not one per call or per worker")
                    .isLessThan(WorkerProcess.OUTPUT_GRACE.multipliedBy(2));
        } finally {
            workers.forEach(WorkerProcess::close);
            children.forEach(pid -> ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroy));
        }
    }

    /**
     * Since jvmOption refuses what does not start with '-', it refused an argument file too ('@path': 'JVM option
     * '@...' (expected: starting with '-' ...'), which the java launcher reads in its place.
     */
    @Test
    void shouldPassAnArgumentFileOfJvmOptions() throws Exception {
        Path options = Files.writeString(elsewhere.resolve("worker options"), "-Dtest.set=\"from a file\"\n");
        try (WorkerProcess worker = fast(WorkerProcess.of(Echo.class).jvmOption("@" + options).captureOutput())
                .start()) {
            assertThat(worker.join(BOUND)).as("exited in time").isTrue();
            assertThat(worker.exitValue()).isZero();
            assertThat(worker.output()).contains("set=from a file");
        }
    }

    /** JVM options that make a short-lived test JVM start faster. */
    static WorkerProcess.Builder fast(WorkerProcess.Builder builder) {
        return builder.jvmOption("-XX:+UseSerialGC").jvmOption("-XX:TieredStopAtLevel=1");
    }

    /** helper-119: a lone carriage return was kept inside a line; lines end as BufferedReader's do. */
    @Test
    void shouldEndCapturedLinesAtEachKindOfLineBreakAndNameANullArgument() throws Exception {
        try (WorkerProcess worker = fast(WorkerProcess.of(Echo.class, "a\r\nb\rc\n\nd\r").method("raw")
                .captureOutput()).start()) {
            assertThat(worker.join(BOUND)).isTrue();
            assertThat(worker.output()).containsExactly("a", "b", "c", "", "d");
        }
        assertThatThrownBy(() -> WorkerProcess.of(Echo.class, "x", null)).isInstanceOf(NullPointerException.class)
                .hasMessage("WorkerProcess: args[1] is null (a worker's main gets strings)");
    }

    /** Worker methods that report what they were given. */
    static final class Echo {
        public static void main(String[] args) {
            System.out.println("args=" + List.of(args));
            System.out.println("set=" + System.getProperty("test.set"));
            System.out.println("inherited=" + System.getProperty("test.inherited"));
            System.out.println("absent=" + System.getProperty("test.absent"));
            System.out.println("other=" + System.getProperty("test.other"));
            System.out.println("library=" + System.getProperty("shm4j.test.library"));
            System.out.println("overridden=" + System.getProperty("shm4j.test.overridden"));
            System.out.println("nativeAccess=" + Echo.class.getModule().isNativeAccessEnabled());
            System.out.println("flag=" + ManagementFactory.getRuntimeMXBean().getInputArguments()
                    .contains(NATIVE_ACCESS));
        }

        /** Prints each argument's code points, in hexadecimal: ASCII output whatever the locale. */
        static void codePoints(String[] args) {
            for (String arg : args) {
                System.out.println("arg=" + arg.codePoints().mapToObj(Integer::toHexString).toList());
            }
        }

        /** Prints its argument as it is, with no line break added. */
        static void raw(String[] args) {
            System.out.print(args[0]);
            System.out.flush();
        }

        static void square(String[] args) {
            int i = Integer.parseInt(args[0]);
            System.out.println("square=" + i * i);
        }

        /** Prints {@code line 0} to {@code line n-1} with a 100,000-character line before the last two, then DONE. */
        static void chatty(String[] args) {
            int n = Integer.parseInt(args[0]);
            for (int i = 0; i < n; i++) {
                if (i == n - 2) {
                    System.out.println("x".repeat(100_000));
                }
                System.out.println("line " + i);
            }
            System.out.println("DONE");
        }

        /** Starts {@code sleep}, which inherits this worker's output, prints its pid, and waits. */
        static void spawn() throws Exception {
            Process sleep = new ProcessBuilder("sleep", "30").inheritIO().start();
            System.out.println("CHILD " + sleep.pid());
            Thread.sleep(BOUND.multipliedBy(2));
        }

        static void hello() {
            System.out.println("hello from a no-argument method");
        }

        static void fail(String[] args) {
            throw new IllegalStateException(args[0]);
        }

        static void exit(String[] args) {
            System.exit(Integer.parseInt(args[0]));
        }

        static void preview() {
            System.out.println("preview=" + ManagementFactory.getRuntimeMXBean().getInputArguments()
                    .contains("--enable-preview"));
        }

        static void opens() {
            System.out.println("opens=" + String.class.getModule().isOpen("java.lang", Echo.class.getModule()));
        }

        static void readStdin() throws java.io.IOException {
            System.out.println("stdin=" + System.in.read());
        }

        static void sleep() throws InterruptedException {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("HOOK"))); // SIGTERM runs it
            System.out.println("SLEEPING " + ProcessHandle.current().pid());
            Thread.sleep(BOUND.multipliedBy(2));
        }
    }

    /**
     * @return the output of {@code java InMemory.java} (the source launcher, which compiles the class in memory), whose
     *         main asks for a worker running itself, as the README's {@code Counter} example would be run
     */
    private String sourceLauncherRefusal() throws Exception {
        Path source = Files.writeString(elsewhere.resolve("InMemory.java"), """
                public class InMemory {
                    public static void main(String[] args) {
                        try {
                            org.shm4j.core.process.WorkerProcess.of(InMemory.class);
                            System.out.println("accepted");
                        } catch (IllegalArgumentException e) {
                            System.out.println(e);
                        }
                    }
                }
                """);
        String path = String.join(java.io.File.pathSeparator, System.getProperty("java.class.path"),
                System.getProperty("jdk.module.path", ""));
        Process java = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(),
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", // as fast(): in-memory javac starts sooner
                "-cp", path, source.toString()).redirectErrorStream(true).start();
        try {
            assertThat(java.waitFor(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the child ends in time").isTrue();
            return new String(java.getInputStream().readAllBytes()); // one line: it fits the pipe while the child runs
        } finally {
            java.destroyForcibly();
        }
    }

    /** A class loader of its own, which defines a copy of a class from its bytes, as a child-first loader would. */
    static final class Isolated extends ClassLoader {
        Isolated() {
            super(null);
        }

        Class<?> define(Class<?> type) throws IOException {
            String file = type.getName().substring(type.getPackageName().length() + 1) + ".class";
            try (var in = type.getResourceAsStream(file)) {
                byte[] bytes = in.readAllBytes();
                return defineClass(type.getName(), bytes, 0, bytes.length);
            }
        }
    }

    /**
     * Run under a C locale: starts a worker with {@link #TEXT}, one that prints it, then asks for a property that
     * cannot cross.
     */
    static final class CLocaleParent {
        static final String TEXT = "\u00fc\u65e5\u672c\ud83d\ude00 x";

        public static void main(String[] args) throws InterruptedException {
            System.out.println("jnu=" + System.getProperty("sun.jnu.encoding"));
            try (WorkerProcess points = fast(WorkerProcess.of(Echo.class, TEXT, "ab").method("codePoints")
                    .captureOutput()).start();
                 WorkerProcess raw = fast(WorkerProcess.of(Echo.class, TEXT).method("raw").captureOutput())
                         .start()) { // both started before either is joined: their JVMs start together
                points.join(BOUND);
                points.output().forEach(System.out::println);
                raw.join(BOUND);
                raw.output().forEach(line -> System.out.println("captured="
                        + line.codePoints().mapToObj(Integer::toHexString).toList()));
            }
            try (WorkerProcess started = WorkerProcess.of(Echo.class).systemProperty("p", TEXT).start()) {
                System.out.println("property passed to " + started);
            } catch (IllegalArgumentException e) {
                System.out.println("property refused: " + e.getMessage().contains("sun.jnu.encoding"));
            }
        }
    }

    /** Run with {@code --enable-preview}: starts a worker that says whether it has the option too. */
    static final class PreviewParent {
        public static void main(String[] args) throws InterruptedException {
            try (WorkerProcess worker = fast(WorkerProcess.of(Echo.class).method("preview").captureOutput()).start()) {
                worker.join(BOUND);
                worker.output().forEach(System.out::println);
                System.out.println("exit=" + worker.exitValue());
            }
        }
    }

    /** Run with {@code java -jar}: says whether java.lang is open to it, then whether it is to a worker. */
    static final class JarParent {
        public static void main(String[] args) throws InterruptedException {
            Echo.opens();
            try (WorkerProcess worker = fast(WorkerProcess.of(Echo.class).method("opens").captureOutput()).start()) {
                worker.join(BOUND);
                worker.output().forEach(System.out::println);
                System.out.println("exit=" + worker.exitValue());
            }
        }
    }

    /** A class whose {@code main} is an instance method, as Java 25's launcher runs it. */
    static final class InstanceMain {
        InstanceMain() {
            System.out.println("constructed");
        }

        void main(String[] args) {
            System.out.println("main " + List.of(args));
        }

        void work() {
            System.out.println("work");
        }
    }

    /** Both kinds of {@code main}: Java 25's launcher runs the instance {@code main(String[])}. */
    static final class BothMains {
        void main(String[] args) {
        }

        static void main() {
        }
    }

    /** An instance {@code main}, but no constructor without parameters to make an instance with. */
    static final class NoConstructor {
        NoConstructor(int unused) {
        }

        void main() {
        }
    }

    /** A class whose main is {@link Echo}'s, inherited (the {@code java} launcher runs it too). */
    static final class Inheritor extends EchoBase {
    }

    /** {@link Echo}'s main in a class that can be extended. */
    static class EchoBase {
        public static void main(String[] args) {
            Echo.main(args);
        }
    }

    /**
     * Starts a daemon and a plain worker that sleep, prints their pids once both sleep (the daemon's watch is then
     * running), then waits to be killed.
     */
    static final class Parent {
        public static void main(String[] args) throws InterruptedException {
            WorkerProcess daemon = fast(WorkerProcess.of(Echo.class).method("sleep").daemon(true).captureOutput())
                    .start();
            WorkerProcess plain = fast(WorkerProcess.of(Echo.class).method("sleep").captureOutput()).start();
            daemon.awaitLine("SLEEPING", BOUND).orElseThrow();
            plain.awaitLine("SLEEPING", BOUND).orElseThrow();
            System.out.println("CHILDREN " + daemon.pid() + " " + plain.pid());
            Thread.sleep(BOUND.multipliedBy(2));
        }
    }
}
