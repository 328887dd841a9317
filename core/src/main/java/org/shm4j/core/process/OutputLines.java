package org.shm4j.core.process;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A worker's captured standard output, read line by line by a daemon thread. Readers see the lines so far or wait,
 * bounded, for the next one with a given prefix; a cursor remembers which lines {@link #awaitLine} already passed.
 * All state is guarded by {@code this}.
 */
final class OutputLines {
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;
    private boolean ended;
    private int cursor;

    OutputLines(InputStream in, String name) {
        this.reader = Thread.ofPlatform().daemon().name(name + "-stdout").start(() -> pump(in));
    }

    /** @return the lines read so far */
    synchronized List<String> lines() {
        return List.copyOf(lines);
    }

    /**
     * Waits until a line not yet passed starts with {@code prefix}; lines before it are passed over.
     *
     * @return that line, or empty if the output ended or {@code deadlineNanos} ({@link System#nanoTime()}) came first
     */
    synchronized Optional<String> awaitLine(String prefix, long deadlineNanos) throws InterruptedException {
        while (true) {
            while (cursor < lines.size()) {
                String line = lines.get(cursor++);
                if (line.startsWith(prefix)) {
                    return Optional.of(line);
                }
            }
            long left = deadlineNanos - System.nanoTime();
            if (ended || left <= 0) {
                return Optional.empty();
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    /** Waits until the output ended (the worker closed it, normally by exiting) or the deadline came. */
    boolean awaitEnd(long deadlineNanos) throws InterruptedException {
        long left = deadlineNanos - System.nanoTime();
        return reader.join(Duration.ofNanos(Math.max(1, left)));
    }

    private void pump(InputStream in) {
        try (BufferedReader input = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = input.readLine(); line != null; line = input.readLine()) {
                add(line);
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

    private synchronized void add(String line) {
        lines.add(line);
        notifyAll();
    }
}
