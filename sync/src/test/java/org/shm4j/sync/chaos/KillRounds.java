package org.shm4j.sync.chaos;

import org.shm4j.testing.ChildJvm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Rounds of SIGKILLs over a fixed cast of child JVMs, as an outside user's supervisor would do it: every role runs in
 * a child that prints {@code READY} once it works; each round waits a random moment, kills one random child and starts
 * its replacement (a new child of the same role, numbered by how many that role started). In the end every child
 * still running is killed too, so every child dies by SIGKILL and {@link #kills(int)} counts them all. A child that
 * prints a line starting with {@code ERROR} fails the test when it is killed or at the end.
 */
final class KillRounds implements AutoCloseable {
    /** The bound on every wait of the chaos tests: generous, because the machine may be loaded. */
    static final Duration BOUND = Duration.ofSeconds(90);
    /** Kills per test: {@code -Dshm4j.chaos.rounds=N}, default 8 (short for CI; tens or hundreds for local hunts). */
    static final int ROUNDS = Integer.getInteger("shm4j.chaos.rounds", 8);
    /** The children a role starts at most: its first, and one per round. */
    static final int MAX_PER_ROLE = ROUNDS + 1;

    /** Starts child number {@code n} of a role. */
    interface Role {
        ChildJvm start(int n);
    }

    private final List<Role> roles;
    private final ChildJvm[] running;
    private final int[] started;
    private final int[] kills;
    private final StringBuilder transcripts = new StringBuilder();

    /** Starts one child per role and waits (bounded) until each is ready. */
    KillRounds(List<Role> roles) throws InterruptedException {
        this.roles = List.copyOf(roles);
        this.running = new ChildJvm[roles.size()];
        this.started = new int[roles.size()];
        this.kills = new int[roles.size()];
        for (int r = 0; r < running.length; r++) {
            running[r] = roles.get(r).start(started[r]++);
        }
        for (ChildJvm child : running) {
            child.awaitLine("READY", BOUND);
        }
    }

    /** Runs {@code rounds} rounds, each killing one random child after up to {@code maxDelayMillis}. */
    void run(Random random, int rounds, int maxDelayMillis) throws InterruptedException {
        for (int round = 0; round < rounds; round++) {
            TimeUnit.MILLISECONDS.sleep(1 + random.nextInt(maxDelayMillis)); // not synchronisation: where a kill lands
            int r = random.nextInt(running.length);
            kill(r);
            running[r] = roles.get(r).start(started[r]++);
            running[r].awaitLine("READY", BOUND);
        }
    }

    /** Kills every child still running. */
    void killAll() throws InterruptedException {
        for (int r = 0; r < running.length; r++) {
            if (running[r] != null) {
                kill(r);
            }
        }
    }

    /** @return how many children of role {@code r} were killed */
    int kills(int r) {
        return kills[r];
    }

    /** @return how many children of role {@code r} were started */
    int started(int r) {
        return started[r];
    }

    /** @return the output of every killed child so far */
    String transcripts() {
        return transcripts.toString();
    }

    private void kill(int r) throws InterruptedException {
        ChildJvm child = running[r];
        running[r] = null;
        try {
            child.kill();
            String output = child.output();
            transcripts.append("-- child ").append(child.pid()).append(":\n").append(output);
            if (output.contains("ERROR")) {
                throw new AssertionError("child " + child.pid() + " failed before it was killed:\n" + output);
            }
            kills[r]++;
        } finally {
            child.close();
        }
    }

    /** Kills the children still running. */
    @Override
    public void close() {
        for (ChildJvm child : running) {
            if (child != null) {
                child.close();
            }
        }
    }
}
