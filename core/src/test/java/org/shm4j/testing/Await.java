package org.shm4j.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** A test's bounded wait for a condition that another thread or process brings about. */
public final class Await {
    private Await() {
    }

    /** Spins (yielding) until {@code condition} holds, failing, naming {@code what}, once {@code bound} passed. */
    public static void until(String what, Duration bound, BooleanSupplier condition) {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("waiting for " + what + " (at most " + bound + ")")
                    .isNegative();
            Thread.yield();
        }
    }
}
