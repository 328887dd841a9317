package org.shm4j.core.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Maps a whole file on a virtual thread of its own, which nothing interrupts, while the caller waits for it without
 * taking an interrupt. {@link FileChannel#map(FileChannel.MapMode, long, long, Arena)} throws
 * {@link ClosedByInterruptException} for an interrupt of its thread that arrives after it has made the mapping, and
 * never unmaps it: each such map left a mapping (memory and a {@code /proc/self/maps} entry) for the life of the
 * process, 84 of 3,000 heap opens under a stream of interrupts. The caller's interrupt, pending or arriving
 * meanwhile, is set again when the map ends, as {@link Backoff#takeInterrupt} describes.
 */
final class UninterruptedMap {
    private UninterruptedMap() {
    }

    /**
     * Maps {@code size} bytes of {@code channel} from offset 0 into {@code arena}, which must be usable from another
     * thread (shared or global).
     *
     * @throws IOException as {@link FileChannel#map(FileChannel.MapMode, long, long, Arena)} throws it; never
     *                     {@link ClosedByInterruptException} for an interrupt that arrives meanwhile
     */
    static MemorySegment map(FileChannel channel, FileChannel.MapMode mode, long size, Arena arena)
            throws IOException {
        FutureTask<MemorySegment> mapping = new FutureTask<>(() -> channel.map(mode, 0, size, arena));
        Thread.ofVirtual().name("shm4j-map").start(mapping);
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
