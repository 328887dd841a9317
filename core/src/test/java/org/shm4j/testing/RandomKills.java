package org.shm4j.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Waves of child JVMs SIGKILLed at random moments of a loop, for tests of a role whose dangerous window is small:
 * each child prints a ready line once its loop runs, and {@link #fail(Throwable)} (a line starting with
 * {@code ERROR}, then exit 1) if anything in it goes wrong.
 */
public final class RandomKills {
    private static final Duration BOUND = Duration.ofSeconds(60);

    private RandomKills() {
    }

    /**
     * Starts {@code count} children, waits (bounded) until each printed {@code readyLine}, then kills each after a
     * random busy wait of up to {@code jitterNanos}, and checks none reported an error.
     *
     * @return the killed children's pids
     */
    public static Set<Long> wave(Random random, long jitterNanos, int count, String readyLine,
                                 Supplier<ChildJvm> start) throws InterruptedException {
        List<ChildJvm> children = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                children.add(start.get());
            }
            for (ChildJvm child : children) {
                child.awaitLine(readyLine, BOUND);
            }
            for (ChildJvm child : children) {
                spin(random.nextLong(jitterNanos));
                child.kill();
                if (child.output().contains("ERROR")) {
                    throw new AssertionError("child " + child.pid() + " failed before it was killed:\n"
                            + child.output());
                }
            }
            return children.stream().map(ChildJvm::pid).collect(Collectors.toSet());
        } finally {
            children.forEach(ChildJvm::close);
        }
    }

    /** Busy-waits {@code nanos}: where a kill lands, not a synchronisation. */
    public static void spin(long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }

    /** Prints {@code line} for the parent's {@link ChildJvm#awaitLine} and flushes it. */
    public static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /** A child's way out when its loop fails: prints {@code ERROR} and the cause, exits with 1. */
    public static void fail(Throwable cause) {
        say("ERROR " + cause);
        System.exit(1);
    }
}
