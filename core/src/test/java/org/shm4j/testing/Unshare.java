package org.shm4j.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Child JVMs in new Linux namespaces through {@code unshare(1)}, for tests that need another pid or time namespace,
 * or a {@code /proc} mounted with {@code hidepid=2} seen by another user.
 */
public final class Unshare {
    /** The uid and gid of {@code nobody}, which the hidden-{@code /proc} children run as. */
    public static final int NOBODY = 65534;

    private static final long PROBE_SECONDS = 60;
    /** A private mount namespace whose {@code /proc} hides other users' processes; the command follows "$@". */
    private static final List<String> HIDEPID_AS_NOBODY = List.of("unshare", "--mount", "--propagation", "private",
            "sh", "-c", "mount -t proc -o hidepid=2 proc /proc && exec \"$@\"", "sh",
            "setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups");
    private static final Set<PosixFilePermission> OTHERS_READ = PosixFilePermissions.fromString("rwxr-xr-x");

    private Unshare() {
    }

    /** @return true if {@code unshare <options> true} succeeds here (it needs root and a kernel that has them) */
    public static boolean works(String... options) throws InterruptedException {
        List<String> command = new ArrayList<>(List.of("unshare"));
        command.addAll(List.of(options));
        command.add("true");
        return succeeds(command);
    }

    /**
     * @return true if a command run by {@link #javaAsNobodyUnderHidepid} runs, and does not see {@code /proc/1}
     *         (it needs root, {@code unshare}, {@code mount} and {@code setpriv})
     */
    public static boolean hidepidWorks() throws InterruptedException {
        List<String> command = new ArrayList<>(HIDEPID_AS_NOBODY);
        command.addAll(List.of("test", "!", "-e", "/proc/1"));
        return succeeds(command);
    }

    /** Starts {@code main} with {@code args} in a JVM on this class path under {@code unshare <options>}. */
    public static Process java(List<String> options, Class<?> main, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("unshare"));
        command.addAll(options);
        return start(command, System.getProperty("java.class.path"), true, main, args);
    }

    /**
     * Starts {@code main} with {@code args} in a JVM running as {@code nobody} in a new mount namespace whose
     * {@code /proc} is mounted with {@code hidepid=2}: the processes of other users, this one included, are not
     * shown there. Its class path is this JVM's, with each entry that other users may not read (such as the jars in
     * root's Maven repository) copied into {@code staging}, which is made readable to all.
     *
     * @param nativeAccess whether the child gets {@code --enable-native-access=ALL-UNNAMED}
     */
    public static Process javaAsNobodyUnderHidepid(Path staging, boolean nativeAccess, Class<?> main, String... args)
            throws IOException {
        return start(HIDEPID_AS_NOBODY, readableClassPath(staging), nativeAccess, main, args);
    }

    /**
     * Waits for {@code child} to exit, at most {@code timeout}, then kills it if it still runs.
     *
     * @return everything it printed (its output is small enough for the pipe, so it never blocks on it)
     * @throws AssertionError if it does not exit in time or exits with a code other than 0
     */
    public static String awaitOutput(Process child, Duration timeout) throws IOException, InterruptedException {
        try {
            if (!child.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("child " + child.pid() + " did not exit within " + timeout);
            }
            String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (child.exitValue() != 0) {
                throw new AssertionError("child " + child.pid() + " exited with " + child.exitValue() + "; output:\n"
                        + output);
            }
            return output;
        } finally {
            child.destroyForcibly();
        }
    }

    private static Process start(List<String> prefix, String classPath, boolean nativeAccess, Class<?> main,
                                 String... args) throws IOException {
        List<String> command = new ArrayList<>(prefix);
        command.addAll(List.of(ProcessHandle.current().info().command().orElseThrow(), "-cp", classPath,
                "-XX:TieredStopAtLevel=1"));
        if (nativeAccess) {
            command.add("--enable-native-access=ALL-UNNAMED");
        }
        command.add(main.getName());
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    private static boolean succeeds(List<String> command) throws InterruptedException {
        try {
            Process probe = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!probe.waitFor(PROBE_SECONDS, TimeUnit.SECONDS)) {
                probe.destroyForcibly();
                return false;
            }
            return probe.exitValue() == 0;
        } catch (IOException noUnshare) {
            return false;
        }
    }

    /** @return this JVM's class path, each entry that others may not read replaced by a copy in {@code staging} */
    private static String readableClassPath(Path staging) throws IOException {
        Files.setPosixFilePermissions(staging, OTHERS_READ);
        List<String> entries = new ArrayList<>();
        int copies = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path path = Path.of(entry).toAbsolutePath();
            if (!Files.exists(path) || othersMayRead(path)) {
                entries.add(entry);
            } else {
                Path copy = staging.resolve(copies++ + "-" + path.getFileName());
                copyReadable(path, copy);
                entries.add(copy.toString());
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    /** @return true if {@code path} and every directory above it let other users through and read */
    private static boolean othersMayRead(Path path) throws IOException {
        if (!Files.getPosixFilePermissions(path).contains(PosixFilePermission.OTHERS_READ)) {
            return false;
        }
        for (Path dir = path.getParent(); dir != null; dir = dir.getParent()) {
            if (!Files.getPosixFilePermissions(dir).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                return false;
            }
        }
        return true;
    }

    /** Copies the file or directory tree {@code from} to {@code to}, readable (and directories searchable) by all. */
    private static void copyReadable(Path from, Path to) throws IOException {
        try (Stream<Path> tree = Files.walk(from)) {
            tree.forEach(source -> {
                Path target = to.resolve(from.relativize(source).toString());
                try {
                    Files.copy(source, target);
                    Files.setPosixFilePermissions(target, OTHERS_READ);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
