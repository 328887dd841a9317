package org.shm4j.sync.list;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The CPython interpreters of this machine that have the {@code ShareableList} layout this package speaks (3.11 and
 * later): {@code python3} on the path and every {@code python3.1x} in {@code /usr/bin}, {@code /usr/local/bin} and
 * pyenv's versions; and running a script with one.
 */
final class Pythons {
    private static final Pattern VERSIONED = Pattern.compile("python3\\.(1[1-9])");
    private static final List<String> FOUND = find();

    private Pythons() {
    }

    /** The result of a script: its exit code and its output (stdout and stderr). */
    record Result(int exitCode, String output) {
    }

    /** @return the interpreters found, each once (by real path), {@code python3} first if it qualifies */
    static List<String> all() {
        return FOUND;
    }

    /** Runs {@code script} with {@code python}, {@code args} as {@code sys.argv[1:]}, for at most 60 s. */
    static Result run(String python, String script, String... args) {
        List<String> command = new ArrayList<>(List.of(python, "-c", script));
        command.addAll(List.of(args));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return new Result(-1, python + " timed out");
            }
            return new Result(process.exitValue(),
                    new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, python + " could not start: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }

    private static List<String> find() {
        Map<String, String> byRealPath = new LinkedHashMap<>();
        Result probe = run("python3", "import sys, multiprocessing.shared_memory; print(sys.version_info >= (3, 11))");
        if (probe.exitCode() == 0 && probe.output().strip().equals("True")) {
            byRealPath.put(realPathOf("python3"), "python3");
        }
        List<Path> dirs = new ArrayList<>(List.of(Path.of("/usr/bin"), Path.of("/usr/local/bin")));
        Path pyenv = Path.of(System.getProperty("user.home"), ".pyenv", "versions");
        if (Files.isDirectory(pyenv)) {
            try (Stream<Path> versions = Files.list(pyenv)) {
                versions.map(v -> v.resolve("bin")).sorted().forEach(dirs::add);
            } catch (IOException e) {
                // no pyenv versions readable: the system interpreters remain
            }
        }
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> files = Files.list(dir)) {
                files.filter(f -> VERSIONED.matcher(f.getFileName().toString()).matches())
                        .filter(Files::isExecutable).sorted()
                        .forEach(f -> byRealPath.putIfAbsent(realPathOf(f.toString()), f.toString()));
            } catch (IOException e) {
                // unreadable folder: skip it
            }
        }
        return List.copyOf(byRealPath.values());
    }

    private static String realPathOf(String python) {
        Result r = run(python, "import os, sys; print(os.path.realpath(sys.executable))");
        return r.exitCode() == 0 ? r.output().strip() : python;
    }
}
