package org.shm4j.core.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.SharedMemory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The map of an open runs on a thread of its own ({@link UninterruptedMap}); a platform one: on a virtual thread it
 * waited for a carrier, and virtual threads that compute without blocking hold every carrier for as long as they run.
 */
class UninterruptedMapTest {
    @TempDir
    Path dir;

    /**
     * With the map on a virtual thread, an open beside as many computing virtual threads as the scheduler has carriers
     * ended only when they did (a driver: 2.9 s beside two 3 s spinners and two carriers; 23 ms mapping on the caller).
     */
    @Test
    void shouldOpenWhileVirtualThreadsComputeOnEveryCarrier() throws Exception {
        Path file = dir.resolve("region");
        try (SharedMemory created = SharedMemory.create(file, 4096)) {
            int carriers = Integer.getInteger("jdk.virtualThreadScheduler.parallelism",
                    Runtime.getRuntime().availableProcessors());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5); // the spinners' end, whatever happens
            AtomicBoolean opened = new AtomicBoolean();
            AtomicInteger spinning = new AtomicInteger();
            List<Thread> spinners = new ArrayList<>();
            for (int i = 0; i < carriers; i++) {
                spinners.add(Thread.ofVirtual().start(() -> {
                    spinning.incrementAndGet();
                    while (!opened.get() && System.nanoTime() - deadline < 0) {
                        Thread.onSpinWait(); // computes: never gives its carrier back
                    }
                }));
            }
            while (spinning.get() < carriers && System.nanoTime() - deadline < 0) {
                Thread.onSpinWait();
            }
            try (SharedMemory again = SharedMemory.open(file)) {
                assertThat(again.byteSize()).isEqualTo(4096);
            } finally {
                opened.set(System.nanoTime() - deadline < 0);
            }
            for (Thread spinner : spinners) {
                spinner.join(TimeUnit.SECONDS.toMillis(30));
            }
            assertThat(opened).as("opened while %d virtual threads computed on every carrier", carriers).isTrue();
        }
    }

    /**
     * Where the process can start no thread (a thread or memory limit: Thread.start throws OutOfMemoryError), an open
     * threw that error though its map needs no other thread (a driver under ulimit -v: 181 parked threads, then
     * SharedMemory.open threw 'unable to create native thread'; it opened before the pool). The caller maps itself.
     */
    @Test
    void shouldMapOnTheCallerWhenNoThreadCanBeStarted() throws Exception {
        Path file = dir.resolve("region");
        Files.write(file, new byte[4096]);
        Executor noThread = task -> {
            throw new OutOfMemoryError("unable to create native thread: possibly out of memory or process/resource"
                    + " limits reached");
        };
        try (Arena arena = Arena.ofShared();
             FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment segment;
            try {
                segment = UninterruptedMap.map(noThread, channel, FileChannel.MapMode.READ_WRITE, 4096, arena);
            } catch (OutOfMemoryError e) { // caught: JUnit would take it for the test JVM's and end the run
                throw new AssertionError("the map threw " + e, e);
            }
            segment.set(JAVA_BYTE, 4095, (byte) 7);
            assertThat(Files.readAllBytes(file)[4095]).as("written through the caller's mapping").isEqualTo((byte) 7);
        }
    }

    /**
     * A pool thread is made by whichever thread's map needs one and lives on 10 s idle: it took that thread's context
     * class loader and inheritable thread-locals, so an idle one kept an application's class loader alive.
     */
    @Test
    void shouldGiveItsThreadsNothingOfTheThreadThatMakesThem() throws Exception {
        ClassLoader application = new URLClassLoader(new URL[0]);
        InheritableThreadLocal<String> value = new InheritableThreadLocal<>();
        AtomicReference<String> seen = new AtomicReference<>("not run");
        AtomicReference<Thread> made = new AtomicReference<>();
        Thread maker = Thread.ofPlatform().unstarted(() -> {
            value.set("the application's");
            made.set(UninterruptedMap.mapper(() -> seen.set(String.valueOf(value.get()))));
        });
        maker.setContextClassLoader(application);
        maker.start();
        maker.join(TimeUnit.SECONDS.toMillis(30));
        Thread mapper = made.get();
        assertThat(mapper.getContextClassLoader()).as("a mapper's context class loader").isNotSameAs(application);
        mapper.start();
        mapper.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(seen).as("the inheritable thread-local a mapper sees").hasValue("null");
    }
}
