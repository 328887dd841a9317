package org.shm4j.testing;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Child JVMs in new Linux namespaces through {@code unshare(1)}, for tests that need another pid or time namespace. */
public final class Unshare {
    private static final long PROBE_SECONDS = 60;

    private Unshare() {
    }

    /** @return true if {@code unshare <options> true} succeeds here (it needs root and a kernel that has them) */
    public static boolean works(String... options) throws InterruptedException {
        List<String> command = new ArrayList<>(List.of("unshare"));
        command.addAll(List.of(options));
        command.add("true");
        try {
            Process probe = new ProcessBuilder(command).redirectErrorStream(true).start();
            return probe.waitFor(PROBE_SECONDS, TimeUnit.SECONDS) && probe.exitValue() == 0;
        } catch (IOException noUnshare) {
            return false;
        }
    }

    /** Starts {@code main} with {@code args} in a JVM on this class path under {@code unshare <options>}. */
    public static Process java(List<String> options, Class<?> main, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("unshare"));
        command.addAll(options);
        command.addAll(List.of(ProcessHandle.current().info().command().orElseThrow(), "-cp",
                System.getProperty("java.class.path"), "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1",
                main.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }
}
