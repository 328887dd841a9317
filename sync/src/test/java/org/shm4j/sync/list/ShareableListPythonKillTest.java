package org.shm4j.sync.list;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.ShmFormatException;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * A {@link ShareableList} whose Java writer is SIGKILLed at random while it changes one item's kind, rewrites a
 * non-ASCII str of another text of the same UTF-8 length, and counts in a third item, then read by CPython
 * ({@code ShareableList(name=...)}, the first interpreter {@link Pythons} finds) and by Java.
 * <ul>
 * <li>FORBIDDEN: either side failing to open the list; the counter reading differently in the two, or not as a
 *     number; an item that both sides read reading differently; Java refusing an item with anything but
 *     {@link ShmFormatException}; Python not reading exactly what Java wrote next.</li>
 * <li>ACCEPTABLE: an item the writer was changing reading torn (mixed text, a kind's value under another kind's
 *     format), refused by Java with {@code ShmFormatException} or by Python with an exception, as the list is not
 *     synchronised in either language (see {@link ShareableList}).</li>
 * </ul>
 */
@Timeout(120)
class ShareableListPythonKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);
    private static final int ROUNDS = 4;
    /** Python: opens the list named argv[1], prints each item as Java's {@link #describe} does, or its exception. */
    private static final String READ = """
            import sys
            from multiprocessing import resource_tracker
            from multiprocessing.shared_memory import ShareableList
            sl = ShareableList(name=sys.argv[1])
            resource_tracker.unregister(sl.shm._name, "shared_memory")
            def describe(v):
                if v is None: return "none"
                if isinstance(v, bool): return "bool:" + str(v).lower()
                if isinstance(v, int): return "int:" + str(v)
                if isinstance(v, float): return "float:" + repr(v)
                if isinstance(v, str): return "str:" + v.encode().hex()
                return "bytes:" + v.hex()
            for i in range(len(sl)):
                try:
                    print(describe(sl[i]))
                except Exception as e:
                    print("raised:" + type(e).__name__)
            sl.shm.close()
            """;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @BeforeAll
    static void requirePython() {
        assumeFalse(Pythons.all().isEmpty(), "no CPython 3.11+ found: skipping the ShareableList interop tests");
    }

    @Test
    void shouldOpenInPythonAndJavaAndAgreeOnEveryItemBothReadAfterTheJavaWriterWasKilled() throws Exception {
        String name = names.unique("shl-py-kill");
        String python = Pythons.all().getFirst();
        Random random = new Random(20261206);
        List<String> torn = new ArrayList<>();
        try (ShareableList list = ShareableList.create(name, List.of("a string of 16 b", "ééééééé", 0L))) {
            for (int round = 0; round < ROUNDS; round++) {
                try (ChildJvm child = ChildJvm.start(Writer.class, name)) {
                    child.awaitLine("WRITING", BOUND);
                    LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(random.nextInt(5_000)));
                    child.kill();
                }
                List<String> seenByPython = read(python, name);
                List<String> seenByJava = new ArrayList<>();
                try (ShareableList opened = ShareableList.open(name)) {
                    for (int i = 0; i < opened.size(); i++) {
                        try {
                            seenByJava.add(describe(opened.get(i)));
                        } catch (ShmFormatException e) {
                            seenByJava.add("raised:" + e.getClass().getSimpleName());
                        }
                    }
                }
                assertThat(seenByJava.get(2)).as("round %d: the counter", round).startsWith("int:")
                        .isEqualTo(seenByPython.get(2));
                for (int i = 0; i < 2; i++) {
                    if (seenByJava.get(i).startsWith("raised:") || seenByPython.get(i).startsWith("raised:")) {
                        torn.add("round " + round + " item " + i + ": java " + seenByJava.get(i) + ", python "
                                + seenByPython.get(i));
                    } else {
                        assertThat(seenByPython.get(i)).as("round %d item %d", round, i).isEqualTo(seenByJava.get(i));
                    }
                }
                list.set(0, "round " + round);
                list.set(1, "жжжжжжж");
                assertThat(read(python, name)).as("round %d: Python after Java's next writes", round)
                        .startsWith(describe("round " + round), describe("жжжжжжж"));
            }
        }
        System.out.println("items torn by a kill, as each side saw them: " + torn);
    }

    private static List<String> read(String python, String name) {
        Pythons.Result result = Pythons.run(python, READ, name);
        assertThat(result.exitCode()).as(result.output()).isZero();
        List<String> lines = result.output().strip().lines().toList();
        assertThat(lines).as(result.output()).hasSize(3);
        return lines;
    }

    /** @return an item as the Python script above prints it */
    private static String describe(Object item) {
        return switch (item) {
            case null -> "none";
            case Boolean b -> "bool:" + b;
            case Long l -> "int:" + l;
            case Double d -> "float:" + d; // Python's repr, for the 2.5 written here
            case String s -> "str:" + HexFormat.of().formatHex(s.getBytes(StandardCharsets.UTF_8));
            case byte[] b -> "bytes:" + HexFormat.of().formatHex(b);
            default -> throw new AssertionError("not an item: " + item);
        };
    }

    /** {@code main(name)}: warms up, prints WRITING, and goes on writing the three items until killed. */
    public static final class Writer {
        public static void main(String[] args) {
            ShareableList list = ShareableList.open(args[0]);
            Object[] kinds = {7L, "text", 2.5, null, true, new byte[]{'b', 'y', 't', 'e', 's'}};
            String[] texts = {"ééééééé", "жжжжжжж", "☕☕☕☕☕"};
            for (long n = 1; ; n++) {
                list.set(0, kinds[(int) (n % kinds.length)]);
                list.set(1, texts[(int) (n % texts.length)]);
                list.setLong(2, n);
                if (n == 20_000) {
                    System.out.println("WRITING");
                    System.out.flush();
                }
            }
        }
    }
}
