package org.shm4j.testing;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A thread held in a native call that holds a segment's memory: a futex wait on a word of it, which a close of that
 * memory must wait for (the JDK keeps a segment's session alive for the call). Tests use it to hold a heap's close at
 * an exact point, bounded: the wait ends by itself after 30 s.
 */
public final class FutexHolds {
    private static final long SYS_FUTEX = 202;
    private static final int FUTEX_WAIT = 0;
    private static final int FUTEX_WAKE = 1;
    private static final long BOUND_SECONDS = 30;
    private static final MethodHandle SYSCALL = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS),
            Linker.Option.firstVariadicArg(1));

    private FutexHolds() {
    }

    /** @return a thread waiting in futex on {@code word}, passed as a segment (its session held for the call) */
    public static Thread waitIn(MemorySegment word) throws IOException {
        MemorySegment timeout = Arena.global().allocate(16, 8);
        timeout.set(JAVA_LONG, 0, BOUND_SECONDS); // then the call ends by itself
        Thread waiter = Thread.ofPlatform().start(() -> {
            try {
                long ignored = (long) SYSCALL.invokeExact(SYS_FUTEX, word, FUTEX_WAIT, 0, timeout);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        });
        awaitFutexWaitOn(word.address());
        return waiter;
    }

    /** Wakes the thread {@link #waitIn} started, through a segment that holds nothing, and joins it. */
    public static void wake(MemorySegment word, Thread waiter) throws Throwable {
        MemorySegment raw = MemorySegment.ofAddress(word.address()); // a global segment: no session to hold
        long woken = (long) SYSCALL.invokeExact(SYS_FUTEX, raw, FUTEX_WAKE, 1, MemorySegment.NULL);
        assertThat(woken).isEqualTo(1);
        waiter.join(BOUND_SECONDS * 1000);
        assertThat(waiter.isAlive()).isFalse();
    }

    /** Waits until a thread of this process is in a futex wait on {@code address} (its /proc syscall line says so). */
    private static void awaitFutexWaitOn(long address) throws IOException {
        String prefix = SYS_FUTEX + " 0x" + Long.toHexString(address) + " ";
        long deadline = System.nanoTime() + BOUND_SECONDS * 1_000_000_000L;
        while (true) {
            try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
                for (Path task : tasks) {
                    try {
                        if (Files.readString(task.resolve("syscall")).startsWith(prefix)) {
                            return;
                        }
                    } catch (IOException gone) {
                        // the task ended meanwhile
                    }
                }
            }
            assertThat(System.nanoTime() - deadline).as("a thread waits in futex").isNegative();
            Thread.onSpinWait();
        }
    }
}
