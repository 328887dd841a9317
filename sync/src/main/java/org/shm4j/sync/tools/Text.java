package org.shm4j.sync.tools;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/** The tool's reports as text for people: a table for {@code ls}, one line per block for {@code inspect}. */
final class Text {
    private static final String LS_FORMAT = "%-32s %10s %10s %6s  %-14s %-5s  %s%n";
    /** After {@code attached=false} of a process that lives: what the library makes of it. */
    private static final String DETACHED = "(alive, detached: closed the heap, its holds are free to take)";

    private Text() {
    }

    /**
     * Prints the {@code ls} table, then how many files it could not read: not one line each, as a user's
     * {@code /dev/shm} holds many files of other users and programs, which would bury the heaps.
     */
    static void heaps(List<Map<String, Object>> heaps, PrintStream out) {
        out.printf(LS_FORMAT, "NAME", "SIZE", "USED", "BLOCKS", "CREATOR", "STALE", "PROCESSES");
        int unreadableFiles = 0;
        for (Map<String, Object> heap : heaps) {
            if (heap.containsKey("fileUnreadable")) {
                unreadableFiles++;
            } else if (heap.containsKey("unreadable")) {
                out.printf("%-32s unreadable: %s%n", printable((String) heap.get("name")),
                        escaped(String.valueOf(heap.get("unreadable"))));
            } else {
                out.printf(LS_FORMAT, printable((String) heap.get("name")), heap.get("size"), heap.get("used"),
                        heap.get("blocks"), process(heap.get("creator")), stale(heap),
                        processes(heap.get("processes")));
            }
        }
        if (unreadableFiles > 0) {
            out.printf("and %d file(s) this user may not read (other users' heaps or other programs' files): --json"
                    + " lists them, inspect NAME says why%n", unreadableFiles);
        }
    }

    /** Prints an {@code inspect} report: the heap's summary, then one line per block. */
    static void inspect(Map<String, Object> report, PrintStream out) {
        out.printf("heap %s (%s): size %s, used %s, %s blocks, creator %s, stale %s%n",
                printable((String) report.get("name")), printable((String) report.get("path")), report.get("size"),
                report.get("used"), report.get("blocks"), process(report.get("creator")), stale(report));
        out.printf("processes: %s%n", processes(report.get("processes")));
        for (Object item : (List<?>) report.get("catalog")) {
            Map<?, ?> block = (Map<?, ?>) item;
            String state = block.containsKey("unreadable") ? "unreadable: " + escaped((String) block.get("unreadable"))
                    : fields((Map<?, ?>) block.get("state"));
            if (block.containsKey("name")) {
                out.printf("  %-24s %-20s %s%n", printable((String) block.get("name")), block.get("kind"), state);
            } else { // a damaged catalog entry: no name or kind can be trusted
                out.printf("  %-45s %s%n", "catalog entry " + block.get("index"), state);
            }
        }
        List<?> waits = (List<?>) report.get("waits");
        if (report.containsKey("waitsUnreadable")) {
            out.printf("waits: unreadable: %s%n", escaped((String) report.get("waitsUnreadable")));
        }
        out.printf("waits longer than the deadlock threshold: %s%n", waits.isEmpty() ? "none" : waits.size());
        for (Object wait : waits) {
            out.printf("  %s%n", fields((Map<?, ?>) wait));
        }
        for (Object cycle : (List<?>) report.get("deadlocks")) {
            out.printf("DEADLOCK cycle:%n");
            for (Object wait : (List<?>) cycle) {
                out.printf("  %s%n", fields((Map<?, ?>) wait));
            }
        }
    }

    /**
     * @return {@code k=v k=v ...}, nested maps in braces and lists in brackets; {@link #DETACHED} after an
     *         {@code attached} (or {@code <role>Attached}) that is false where its {@code alive} is true
     */
    static String fields(Map<?, ?> map) {
        StringBuilder line = new StringBuilder();
        map.forEach((key, value) -> {
            line.append(line.isEmpty() ? "" : " ").append(key).append('=').append(inline(value));
            String alive = aliveKeyOf(key.toString());
            if (alive != null && Boolean.FALSE.equals(value) && Boolean.TRUE.equals(map.get(alive))) {
                line.append(' ').append(DETACHED);
            }
        });
        return line.toString();
    }

    /** @return the key saying whether the process of {@code key} lives, if it says whether it is attached; or null */
    private static String aliveKeyOf(String key) {
        if (key.equals("attached")) {
            return "alive";
        }
        return key.endsWith("Attached") ? key.substring(0, key.length() - "Attached".length()) + "Alive" : null;
    }

    private static String inline(Object value) {
        return switch (value) {
            case Map<?, ?> map -> "{" + fields(map) + "}";
            case List<?> list -> "[" + String.join(", ", list.stream().map(Text::inline).toList()) + "]";
            case String s -> printable(s);
            case null -> "-";
            default -> value.toString();
        };
    }

    /**
     * @return {@code s} safe to print on a terminal: {@link #escaped} (no label can forge a line, send a terminal
     *         command or reorder the text around it), and quoted, its quotes and backslashes escaped, if it is empty or
     *         holds a space, a quote, a backslash or an escape
     */
    static String printable(String s) {
        String body = escaped(s.replace("\\", "\\\\").replace("'", "\\'"));
        return s.isEmpty() || s.contains(" ") || !body.equals(s) ? "'" + body + "'" : body;
    }

    /**
     * @return {@code s} with its control, format (bidirectional overrides, zero-width) and line or paragraph separator
     *         characters escaped: {@code \n}, {@code \t}, {@code \r}, else {@code \}{@code uXXXX}
     */
    static String escaped(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            int type = Character.getType(c);
            switch (c) {
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                case '\r' -> b.append("\\r");
                default -> {
                    if (Character.isISOControl(c) || type == Character.FORMAT || type == Character.LINE_SEPARATOR
                            || type == Character.PARAGRAPH_SEPARATOR) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }

    private static String process(Object process) {
        Map<?, ?> p = (Map<?, ?>) process;
        return p.get("pid") + (Boolean.TRUE.equals(p.get("alive")) ? " alive" : " dead");
    }

    private static String processes(Object processes) {
        List<?> list = (List<?>) processes;
        return list.isEmpty() ? "-" : String.join(", ", list.stream().map(Text::process).toList());
    }

    /** @return yes or no; "n/a" for a heap of another pid namespace, whose processes' liveness is unknown here */
    private static String stale(Map<?, ?> heap) {
        return heap.containsKey("otherPidNamespace") ? "n/a (another pid namespace)" : yesNo(heap.get("stale"));
    }

    private static String yesNo(Object flag) {
        return Boolean.TRUE.equals(flag) ? "yes" : "no";
    }
}
