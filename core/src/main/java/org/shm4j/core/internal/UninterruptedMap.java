package org.shm4j.core.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.FutureTask;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Maps a whole file on a pooled platform thread of its own, which nothing interrupts, while the caller waits for it
 * without taking an interrupt. {@link FileChannel#map(FileChannel.MapMode, long, long, Arena)} throws
 * {@link ClosedByInterruptException} for an interrupt of its thread that arrives after it has made the mapping, and
 * never unmaps it: each such map left a mapping (memory and a {@code /proc/self/maps} entry) for the life of the
 * process, 84 of 3,000 heap opens under a stream of interrupts. The caller's interrupt, pending or arriving
 * meanwhile, is set again when the map ends, as {@link Backoff#takeInterrupt} describes. Where no thread can be
 * made (a thread or memory limit reached), the caller maps itself, as before this class.
 */
final class UninterruptedMap {
    /**
     * Daemon threads made as maps need them, each kept 10 s once idle. Platform threads, not virtual ones: a virtual
     * thread waits for a carrier, which virtual threads that compute without blocking may hold for as long as they
     * run (an open took 2.9 s beside two such threads with two carriers; 23 ms on the caller).
     * {@link ThreadPoolExecutor} clears a worker's interrupt before each task and interrupts only idle workers.
     * A worker inherits neither the inheritable thread-locals nor the context class loader of the thread whose map
     * made it, so that an idle worker keeps no application's class loader or values alive.
     */
    private static final ExecutorService MAPPERS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 10, TimeUnit.SECONDS,
            new SynchronousQueue<>(), UninterruptedMap::mapper);

    private UninterruptedMap() {
    }

    /** @return an unstarted daemon thread for the pool, which inherits nothing from the thread that makes it */
    static Thread mapper(Runnable task) {
        return Thread.ofPlatform().daemon().name("shm4j-map").inheritInheritableThreadLocals(false).unstarted(task);
    }

    /**
     * Maps {@code size} bytes of {@code channel} from offset 0 into {@code arena}, which must be usable from another
     * thread (shared or global).
     *
     * @throws IOException as {@link FileChannel#map(FileChannel.MapMode, long, long, Arena)} throws it; never
     *                     {@link ClosedByInterruptException} for an interrupt that arrives meanwhile, unless no thread
     *                     could be started for the map (see {@link #map(Executor, FileChannel, FileChannel.MapMode,
     *                     long, Arena)})
     */
    static MemorySegment map(FileChannel channel, FileChannel.MapMode mode, long size, Arena arena)
            throws IOException {
        return map(MAPPERS, channel, mode, size, arena);
    }

    /**
     * {@link #map(FileChannel, FileChannel.MapMode, long, Arena)} on a thread of {@code mappers} or, if it can start
     * none ({@link OutOfMemoryError}, as {@link Thread#start} throws at a thread or memory limit), on the caller's:
     * an interrupt of the caller meanwhile then throws {@link ClosedByInterruptException} and may leak this mapping,
     * as every map did before this class, rather than failing an open that needs no other thread.
     */
    static MemorySegment map(Executor mappers, FileChannel channel, FileChannel.MapMode mode, long size, Arena arena)
            throws IOException {
        FutureTask<MemorySegment> mapping = new FutureTask<>(() -> channel.map(mode, 0, size, arena));
        try {
            mappers.execute(mapping);
        } catch (OutOfMemoryError noThread) { // "unable to create native thread": the pool kept nothing of the task
            mapping.run();
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return mapping.get();
                } catch (InterruptedException e) {
                    interrupted = true; // not interruptible: the map goes on, and its mapping must be returned
                } catch (ExecutionException e) {
                    throw rethrown(e.getCause());
                }
            }
        } finally {
            Backoff.restoreInterrupt(interrupted);
        }
    }

    /** @return {@code cause} to throw, if an {@link IOException} or unchecked; else it is thrown wrapped */
    private static IOException rethrown(Throwable cause) {
        if (cause instanceof IOException io) {
            return io;
        }
        if (cause instanceof RuntimeException unchecked) {
            throw unchecked;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        throw new IllegalStateException("mapping failed", cause);
    }
}
