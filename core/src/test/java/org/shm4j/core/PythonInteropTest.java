package org.shm4j.core;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.testing.ShmNames;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Byte compatibility with Python's {@code multiprocessing.shared_memory.SharedMemory} in both directions. Skipped,
 * saying so, only where {@code python3} is absent.
 */
class PythonInteropTest {
    private static final int SIZE = 10_000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @BeforeAll
    static void requirePython() {
        assumeTrue(python("import multiprocessing.shared_memory").exitCode == 0,
                "python3 with multiprocessing.shared_memory not found: skipping the Python interop tests");
    }

    @Test
    void shouldReadWhatPythonWrote() {
        String name = names.unique("from-python");
        Result result = python("""
                import sys
                from multiprocessing import shared_memory, resource_tracker
                shm = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=%d)
                for i in range(shm.size):
                    shm.buf[i] = (i * 7 + 3) %% 256
                resource_tracker.unregister(shm._name, "shared_memory")  # leave it for Java
                shm.close()
                print("OK")
                """.formatted(SIZE), name);
        assertThat(result.exitCode).as(result.output).isZero();
        try (SharedMemory region = SharedMemory.open(name)) {
            assertThat(region.byteSize()).isEqualTo(SIZE);
            for (int i = 0; i < SIZE; i++) {
                assertThat(region.segment().get(JAVA_BYTE, i)).isEqualTo((byte) (i * 7 + 3));
            }
        }
    }

    @Test
    void shouldLetPythonReadWhatJavaWrote() {
        String name = names.unique("from-java");
        try (SharedMemory region = SharedMemory.create(name, SIZE)) {
            for (int i = 0; i < SIZE; i++) {
                region.segment().set(JAVA_BYTE, i, (byte) (i * 13 + 5));
            }
            Result result = python("""
                    import sys
                    from multiprocessing import shared_memory, resource_tracker
                    shm = shared_memory.SharedMemory(name=sys.argv[1])
                    resource_tracker.unregister(shm._name, "shared_memory")  # Java owns it
                    bad = [i for i in range(%d) if shm.buf[i] != (i * 13 + 5) %% 256]
                    print("size", shm.size, "bad", len(bad))
                    shm.buf[0] = 0xAB
                    shm.close()
                    """.formatted(SIZE), name);
            assertThat(result.exitCode).as(result.output).isZero();
            assertThat(result.output.strip()).isEqualTo("size " + SIZE + " bad 0");
            assertThat(region.segment().get(JAVA_BYTE, 0)).as("Python's write seen by Java").isEqualTo((byte) 0xAB);
        }
    }

    /**
     * Python's pitfall the README and {@link SharedMemory} warn of, as it is: a Python process that attaches to a
     * region and does not unregister it has its resource tracker unlink the region when it exits, while other
     * processes (Java, and a Python one: the docs said the last Python process to exit did it) still have it mapped.
     */
    @Test
    void shouldBeUnlinkedWhenAnyPythonProcessThatAttachedExits() {
        String name = names.unique("tracked");
        try (SharedMemory region = SharedMemory.create(name, SIZE)) {
            Result result = python("""
                    import os, subprocess, sys, time
                    from multiprocessing import shared_memory, resource_tracker
                    shm = shared_memory.SharedMemory(name=sys.argv[1])
                    resource_tracker.unregister(shm._name, "shared_memory")  # this one keeps it
                    subprocess.run([sys.executable, "-W", "ignore", "-c",
                                    "from multiprocessing import shared_memory as s; s.SharedMemory(%r).close()"
                                    % sys.argv[1]], check=True)  # another attaches, then exits
                    end = time.monotonic() + 10
                    while os.path.exists("/dev/shm/" + sys.argv[1]) and time.monotonic() < end:
                        time.sleep(0.01)
                    print("exists", os.path.exists("/dev/shm/" + sys.argv[1]), "mapped", shm.size)
                    shm.close()
                    """, name);
            assertThat(result.exitCode).as(result.output).isZero();
            assertThat(result.output.strip()).isEqualTo("exists False mapped " + SIZE);
            region.segment().set(JAVA_BYTE, 0, (byte) 1); // Java's mapping is still there
            assertThat(SharedMemory.exists(name)).isFalse();
        }
    }

    private record Result(int exitCode, String output) {
    }

    private static Result python(String script, String... args) {
        String[] command = new String[args.length + 3];
        command[0] = "python3";
        command[1] = "-c";
        command[2] = script;
        System.arraycopy(args, 0, command, 3, args.length);
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return new Result(-1, "python3 timed out");
            }
            return new Result(process.exitValue(),
                    new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, "python3 could not start: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }
}
