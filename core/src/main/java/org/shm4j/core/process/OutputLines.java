package org.shm4j.core.process;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A worker's captured standard output, read line by line by a daemon thread into a bounded window: the last
 * {@code maxLines} lines, and at most {@link #MAX_CHARS} characters of them (older lines are dropped; a line longer
 * than {@link #MAX_LINE_CHARS} keeps its start and says how much was cut). Readers see the lines kept so far or wait,
 * bounded, for the next one with a given prefix; a cursor remembers which lines {@link #awaitLine} already passed.
 * Once the worker has exited, waits end a grace period after its exit, counted once for all calls (a process it
 * started may hold the output open). All state is guarded by {@code this}.
 */
final class OutputLines {
    /** The most characters kept of all lines together. */
    static final int MAX_CHARS = 4 << 20;
    /** The most characters kept of one line. */
    static final int MAX_LINE_CHARS = 64 << 10;
    /** How often a waiting {@link #awaitLine} looks whether the worker still runs. */
    private static final long LIVENESS_MILLIS = 100;

    private final int maxLines;
    private final BooleanSupplier workerAlive;
    private final Duration grace;
    /** The kept lines, oldest first: {@code ring[(first + i) % ring.length]} is line {@code first + i}. */
    private final String[] ring;
    private final Thread reader;
    /** The number of the oldest kept line (lines before it were dropped), and how many are kept. */
    private long first;
    private int kept;
    private long keptChars;
    private boolean ended;
    /** The number of the next line {@link #awaitLine} looks at. */
    private long cursor;
    /** Whether the worker is known to have exited, and since when ({@link System#nanoTime()}): the grace's start. */
    private boolean exited;
    private long exitedAt;

    /**
     * @param workerAlive whether the worker still runs, polled by a waiting {@link #awaitLine} in case nobody
     *                    called {@link #workerExited()} yet
     * @param grace       how long after the worker's exit waits for its output may go on
     */
    OutputLines(InputStream in, String name, int maxLines, BooleanSupplier workerAlive, Duration grace) {
        this.maxLines = maxLines;
        this.workerAlive = workerAlive;
        this.grace = grace;
        this.ring = new String[maxLines];
        this.reader = Thread.ofPlatform().daemon().name(name + "-stdout").start(() -> pump(in));
    }

    /** @return the lines kept so far, oldest first */
    synchronized List<String> lines() {
        List<String> lines = new ArrayList<>(kept);
        for (int i = 0; i < kept; i++) {
            lines.add(line(first + i));
        }
        return lines;
    }

    /**
     * Waits until a line not yet passed starts with {@code prefix}; lines before it are passed over, and so are lines
     * dropped before this looked at them.
     *
     * @return that line, or empty if the output ended, the worker has been gone for the grace period, or
     *         {@code deadlineNanos} ({@link System#nanoTime()}) came first
     */
    synchronized Optional<String> awaitLine(String prefix, long deadlineNanos) throws InterruptedException {
        while (true) {
            cursor = Math.max(cursor, first);
            while (cursor < first + kept) {
                String line = line(cursor++);
                if (line.startsWith(prefix)) {
                    return Optional.of(line);
                }
            }
            long now = System.nanoTime();
            long left = deadlineNanos - now;
            if (ended || left <= 0) {
                return Optional.empty();
            }
            if (!exited && !workerAlive.getAsBoolean()) {
                workerExited();
            }
            if (exited) {
                long graceLeft = exitedAt + grace.toNanos() - now;
                if (graceLeft <= 0) {
                    return Optional.empty(); // a process it started keeps its output open: nothing more from the worker
                }
                left = Math.min(left, graceLeft);
            }
            wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), LIVENESS_MILLIS)));
        }
    }

    /**
     * Notes that the worker has exited, the first time only: the grace is counted from then, not from each wait.
     */
    synchronized void workerExited() {
        if (!exited) {
            exited = true;
            exitedAt = System.nanoTime();
            notifyAll(); // a waiting awaitLine bounds its wait by the grace now
        }
    }

    /**
     * Once the worker has exited (noted now if not yet): waits until the output ended, the deadline came or the grace
     * after the exit passed.
     */
    boolean awaitEnd(long deadlineNanos) throws InterruptedException {
        long graceEnd;
        synchronized (this) {
            workerExited();
            graceEnd = exitedAt + grace.toNanos();
        }
        long now = System.nanoTime();
        long left = Math.min(deadlineNanos - now, graceEnd - now);
        return reader.join(Duration.ofNanos(Math.max(1, left))); // not holding this: the reader's add() takes it
    }

    private String line(long number) {
        return ring[(int) (number % ring.length)];
    }

    private void pump(InputStream in) {
        try (Reader input = new InputStreamReader(in, StandardCharsets.UTF_8)) {
            StringBuilder line = new StringBuilder();
            long cut = 0;
            boolean afterReturn = false; // the last character was a '\r': a '\n' now ends no other line
            char[] chunk = new char[8192];
            for (int n = input.read(chunk); n >= 0; n = input.read(chunk)) {
                for (int i = 0; i < n; i++) {
                    char c = chunk[i];
                    boolean lineBreak = c == '\n' || c == '\r';
                    if (lineBreak && !(c == '\n' && afterReturn)) { // "\n", "\r" and "\r\n" end a line
                        add(ended(line, cut));
                        line.setLength(0);
                        cut = 0;
                    }
                    afterReturn = c == '\r';
                    if (lineBreak) {
                        continue;
                    }
                    if (line.length() < MAX_LINE_CHARS) {
                        line.append(c);
                    } else {
                        cut++;
                    }
                }
            }
            if (!line.isEmpty() || cut > 0) {
                add(ended(line, cut)); // a last line without a newline
            }
        } catch (IOException e) {
            add("<output lost: " + e + ">");
        } finally {
            synchronized (this) {
                ended = true;
                notifyAll();
            }
        }
    }

    /** @return the line, saying how many characters were cut */
    private static String ended(StringBuilder line, long cut) {
        return cut == 0 ? line.toString() : line + "... <" + cut + " more characters of this line dropped>";
    }

    private synchronized void add(String line) {
        if (kept == maxLines) {
            dropOldest();
        }
        ring[(int) ((first + kept) % ring.length)] = line;
        kept++;
        keptChars += line.length();
        while (keptChars > MAX_CHARS && kept > 1) {
            dropOldest();
        }
        notifyAll();
    }

    private void dropOldest() {
        int at = (int) (first % ring.length);
        keptChars -= ring[at].length();
        ring[at] = null;
        first++;
        kept--;
    }
}
