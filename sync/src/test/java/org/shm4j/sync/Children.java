package org.shm4j.sync;

import org.shm4j.testing.Await;
import org.shm4j.testing.ChildJvm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/** Helpers of the coordination types' cross-process tests: run child JVMs to success, wait bounded. */
final class Children {
    /** The bound on every wait of these tests: generous, because the machine may be loaded. */
    static final Duration BOUND = Duration.ofSeconds(90);

    private Children() {
    }

    /** Starts one child JVM for an index. */
    interface Starter {
        ChildJvm start(int index);
    }

    /** Starts {@code count} children and waits for each to exit with 0. */
    static void runAll(int count, Starter starter) throws InterruptedException {
        List<ChildJvm> children = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                children.add(starter.start(i));
            }
            for (ChildJvm child : children) {
                child.awaitSuccess(BOUND);
            }
        } finally {
            children.forEach(ChildJvm::close);
        }
    }

    /** Spins (yielding) until {@code condition} holds, failing after {@link #BOUND}. */
    static void awaitTrue(String what, BooleanSupplier condition) {
        Await.until(what, BOUND, condition);
    }

    /** @return {@code task}'s outcome, run on a new daemon thread (the common pool may have one thread, busy) */
    static <T> CompletableFuture<T> onNewThread(Callable<T> task) {
        CompletableFuture<T> outcome = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                outcome.complete(task.call());
            } catch (Throwable t) {
                outcome.completeExceptionally(t);
            }
        });
        return outcome;
    }

    /** Prints a line for the parent's {@link ChildJvm#awaitLine} and flushes it. */
    static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
