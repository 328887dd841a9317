package org.shm4j.sync.list;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.shm4j.core.SharedMemory;
import org.shm4j.core.ShmFormatException;
import org.shm4j.testing.ShmNames;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * {@link ShareableList} against CPython's, both ways, with every interpreter {@link Pythons} finds (3.11 to 3.13
 * here): the same bytes for the same items, every item kind read and written by each side, and Python's caveats.
 */
class ShareableListPythonTest {
    /** Python prelude: open the list named argv[1] and keep Python from unlinking it when this process exits. */
    private static final String OPEN = """
            import sys
            from multiprocessing import resource_tracker
            from multiprocessing.shared_memory import ShareableList
            sl = ShareableList(name=sys.argv[1])
            resource_tracker.unregister(sl.shm._name, "shared_memory")
            """;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @BeforeAll
    static void requirePython() {
        assumeFalse(Pythons.all().isEmpty(), "no CPython 3.11+ found: skipping the ShareableList interop tests");
    }

    /**
     * The interpreters {@link Pythons} finds, each named by its executable's real path: the same interpreters, but
     * pyenv's {@code python3} is a shell-script shim that took 1.5-2 s a start on a loaded machine (0.2-0.4 s direct).
     */
    private static final List<String> PYTHONS = Pythons.all().stream().map(ShareableListPythonTest::executable)
            .toList();

    static List<String> pythons() {
        return PYTHONS;
    }

    /** @return the real path of the executable that {@code python} runs, or {@code python} if it cannot say */
    private static String executable(String python) {
        Pythons.Result result = Pythons.run(python, "import os, sys; print(os.path.realpath(sys.executable))");
        return result.exitCode() == 0 ? result.output().strip() : python;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pythons")
    void shouldWriteTheBytesPythonWrites(String python) {
        String fromPython = names.unique("py-bytes");
        run(python, """
                import sys
                from multiprocessing import resource_tracker
                from multiprocessing.shared_memory import ShareableList
                sl = ShareableList([42, -7, 3.5, True, False, None, "hi", "", "12345678", b"ab\\x01", -2**63],
                                   name=sys.argv[1])
                resource_tracker.unregister(sl.shm._name, "shared_memory")
                """, fromPython);
        List<Object> items = Arrays.asList(42L, -7L, 3.5, true, false, null, "hi", "", "12345678",
                new byte[]{'a', 'b', 1}, Long.MIN_VALUE);
        try (ShareableList java = ShareableList.create(names.unique("java-bytes"), items);
             SharedMemory python3 = SharedMemory.open(fromPython)) {
            assertThat(java.region().byteSize()).isEqualTo(python3.byteSize()).isEqualTo(ShareableList.byteSize(items));
            assertThat(java.region().segment().toArray(JAVA_BYTE)).isEqualTo(python3.segment().toArray(JAVA_BYTE));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pythons")
    void shouldReadAndWriteAListPythonMade(String python) {
        String name = names.unique("py-made");
        run(python, """
                import sys
                from multiprocessing import resource_tracker
                from multiprocessing.shared_memory import ShareableList
                sl = ShareableList([42, 3.5, True, None, "héllo ☃!!", b"\\x00\\x01x", "room" * 4], name=sys.argv[1])
                resource_tracker.unregister(sl.shm._name, "shared_memory")
                """, name);
        try (ShareableList list = ShareableList.open(name)) {
            assertThat(list).hasSize(7);
            assertThat(list.subList(0, 4)).containsExactly(42L, 3.5, true, null);
            assertThat(list.getString(4)).isEqualTo("héllo ☃!!"); // 9 characters, 12 bytes: fits its 16-byte slot
            assertThat(list.getBytes(5)).containsExactly(0, 1, 'x');
            assertThat(list.getString(6)).isEqualTo("roomroomroomroom");
            assertThat(list.capacity(6)).isEqualTo(24);
            list.setLong(0, Long.MAX_VALUE);
            list.setDouble(1, -0.25);
            list.setBoolean(2, false);
            assertThatThrownBy(() -> list.set(3, "none→str")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("item 3 of ShareableList '" + name + "': a STRING of 10 bytes")
                    .hasMessageContaining("at most 8");
            assertThat(list.set(3, "é€")).as("previous item").isNull(); // a kind change, as Python allows
            list.set(4, 7);
            list.set(5, null);
            list.set(6, "twenty-four bytes, full!");
        }
        assertThat(run(python, OPEN + "print(repr(list(sl)))\nsl.shm.close()", name))
                .isEqualTo("[9223372036854775807, -0.25, False, 'é€', 7, None, 'twenty-four bytes, full!']");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pythons")
    void shouldLetPythonReadAndWriteAListJavaMade(String python) {
        String name = names.unique("java-made");
        try (ShareableList list = ShareableList.create(name, Arrays.asList(1L, 2.25, true, null, "java ☕",
                new byte[]{1, 2}, "slot of sixteen!"))) {
            assertThat(list.capacity(4)).as("sized by UTF-8 bytes (8), not characters (6)").isEqualTo(16);
            String out = run(python, OPEN + """
                    print(repr(list(sl)), sl.format)
                    sl[0] = -5
                    sl[1] = 1e300
                    sl[2] = False
                    sl[3] = 8
                    sl[4] = "ünïcödé!"
                    sl[5] = b"\\xff"
                    try:
                        sl[6] = "seventeen bytes.." * 2
                    except ValueError as e:
                        print("ValueError:", e)
                    sl.shm.close()
                    """, name);
            assertThat(out).isEqualTo("[1, 2.25, True, None, 'java ☕', b'\\x01\\x02', 'slot of sixteen!'] "
                    + "qdxxxxxxx?xxxxxx?x16s8s24s\nValueError: bytes/str item exceeds available storage");
            assertThat(SharedMemory.exists(name)).as("Python did not unlink it on exit").isTrue();
            assertThat(list).containsExactly(-5L, 1e300, false, 8L, "ünïcödé!", list.get(5), "slot of sixteen!");
            assertThat(list.getBytes(5)).containsExactly((byte) 0xFF);
            assertThat(list.kind(3)).isEqualTo(ShareableList.Kind.LONG);
        }
        assertThat(SharedMemory.exists(name)).as("closing never unlinks").isTrue();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pythons")
    void shouldRefuseAStrPythonTruncatedInsideACharacter(String python) {
        String name = names.unique("py-88336");
        run(python, """
                import sys
                from multiprocessing import resource_tracker
                from multiprocessing.shared_memory import ShareableList
                sl = ShareableList(["aéééé", "ok"], name=sys.argv[1])
                resource_tracker.unregister(sl.shm._name, "shared_memory")
                """, name);
        try (ShareableList list = ShareableList.open(name)) {
            assertThat(list.get(1)).isEqualTo("ok");
            assertThatThrownBy(() -> list.get(0)).isInstanceOf(ShmFormatException.class)
                    .hasMessageContaining("item 0 of ShareableList '" + name + "'")
                    .hasMessageContaining("not valid UTF-8").hasMessageContaining("python/cpython#88336");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pythons")
    void shouldReadItemsThatPythonIsRewritingWithoutCallingThemCorrupted(String python) throws Exception {
        String name = names.unique("py-race");
        try (ShareableList list = ShareableList.create(name, Arrays.asList(0L, "xxxxxxxx"))) {
            // CPython zero-fills a format word before it writes it again, writes a value after its format, and
            // zero-fills a value's bytes before it writes them: a racing read may see 0 or "", never "corrupted"
            CompletableFuture<String> writer = CompletableFuture.supplyAsync(() -> run(python, OPEN + """
                    import time
                    k, end = 0, time.time() + 1.0
                    while time.time() < end:
                        k += 1
                        sl[0] = k
                        sl[1] = "éééé" if k % 2 else "xxxxxxxx"
                    print(k)
                    sl.shm.close()
                    """, name), Executors.newVirtualThreadPerTaskExecutor());
            long reads = 0;
            long last = 0;
            while (!writer.isDone()) {
                long value = list.getLong(0);
                if (value != 0) { // 0: a value being written
                    assertThat(value).as("never a value before one already read").isGreaterThanOrEqualTo(last);
                    last = value;
                }
                // a str, or its bytes if the writer lost its CPU between format and code for over 10 ms
                assertThat(list.get(1)).isInstanceOfAny(String.class, byte[].class);
                reads++;
            }
            long writes = Long.parseLong(writer.get(60, TimeUnit.SECONDS));
            assertThat(writes).as("Python's writes").isGreaterThan(1000);
            assertThat(reads).as("Java's reads beside them").isGreaterThan(1000);
        }
    }

    private static String run(String python, String script, String name) {
        Pythons.Result result = Pythons.run(python, script, name);
        assertThat(result.exitCode()).as(result.output()).isZero();
        return result.output().strip();
    }
}
