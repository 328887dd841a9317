package org.shm4j.sync.locks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.HeapOptions;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.internal.PidProbe;
import org.shm4j.testing.ShmNames;
import org.shm4j.testing.Unshare;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * A {@link SharedLock} held by this (root) process, tried by a process of another user ({@code nobody}) that sees a
 * {@code /proc} mounted with {@code hidepid=2}, where this process has no entry: with native access the waiter asks
 * the kernel and leaves the lock to its live holder; without it, the documented fallback takes the holder for dead.
 */
@EnabledOnOs(OS.LINUX)
class HiddenOwnerLockTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** Many of the waiter's 50 ms liveness checks, so that a holder taken for dead is taken over within it. */
    private static final long TRY_MILLIS = 1000;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @TempDir
    Path staging;

    @Test
    void shouldNotBeTakenFromALiveHolderThatProcHides() throws IOException, InterruptedException {
        assertThat(tryLockAsNobody(true)).contains("probe kill", "tookOver false", "done");
    }

    @Test
    void shouldBeTakenFromAHiddenHolderWithoutNativeAccessAsDocumented() throws IOException, InterruptedException {
        assertThat(tryLockAsNobody(false)).contains("probe fallback", "tookOver true", "done");
    }

    /** @return what {@link Waiter} printed after trying the lock this process holds */
    private String tryLockAsNobody(boolean nativeAccess) throws IOException, InterruptedException {
        assumeThat(Unshare.hidepidWorks()).as("unshare, mount -o hidepid=2 and setpriv (root) are available").isTrue();
        String name = names.unique("hidden-owner");
        HeapOptions everyone = HeapOptions.defaults().withPermissions(PosixFilePermissions.fromString("rw-rw-rw-"));
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16, everyone)) {
            SharedLock lock = SharedLock.create(heap, "lock");
            lock.lock();
            String output = Unshare.awaitOutput(
                    Unshare.javaAsNobodyUnderHidepid(staging, nativeAccess, Waiter.class, name), BOUND);
            if (output.contains("tookOver false")) {
                assertThat(lock.isHeldByCurrentThread()).as(output).isTrue();
                assertThat(lock.isConsistent()).as("no takeover was recorded").isTrue();
                lock.unlock();
            }
            return output;
        }
    }

    /** Opens the heap named by its argument and tries its lock for {@value #TRY_MILLIS} ms; prints the outcome. */
    public static final class Waiter {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedLock lock = SharedLock.open(heap, "lock");
                System.out.println("probe " + (PidProbe.isAvailable() ? "kill" : "fallback"));
                System.out.println("tookOver " + lock.tryLock(TRY_MILLIS, TimeUnit.MILLISECONDS));
            }
            System.out.println("done");
        }
    }
}
