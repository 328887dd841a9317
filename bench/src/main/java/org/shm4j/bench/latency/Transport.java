package org.shm4j.bench.latency;

import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;


import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * How the two processes of a {@link PingPong} talk: two SPSC rings of 64 KiB each in one named region (ping to echo
 * at offset 0, echo to ping at {@link #SECOND_RING}), either shm4j's {@link SharedRing} or Agrona's
 * {@code OneToOneRingBuffer}, with a busy-spin or a blocking wait. Agrona has no blocking wait; its nearest, the
 * {@code BackoffIdleStrategy} (spin, yield, then park 1 µs to 1 ms), stands in for it.
 */
enum Transport {
    /** {@link SharedRing}, both sides spin on {@code poll}. */
    SHM4J_SPIN(List.of("--enable-native-access=ALL-UNNAMED")),
    /** {@link SharedRing}, the receiver blocks in {@code poll(handler, timeout, WaitStrategy.BLOCKING)}. */
    SHM4J_BLOCKING(List.of("--enable-native-access=ALL-UNNAMED")),
    /** Agrona {@code OneToOneRingBuffer}, the receiver spins with {@code BusySpinIdleStrategy}. */
    AGRONA_SPIN(List.of("--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED")),
    /** Agrona {@code OneToOneRingBuffer}, the receiver waits with {@code BackoffIdleStrategy}. */
    AGRONA_BACKOFF(List.of("--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED"));

    /** The value that tells the echo side to stop. */
    static final long STOP = Long.MIN_VALUE;
    /** Bytes of message space in each ring. */
    static final int CAPACITY = 1 << 16;
    /** Offset of the echo-to-ping ring: page aligned, past either kind of ping-to-echo ring. */
    static final long SECOND_RING = 1 << 17;
    /** Bytes of the region. */
    static final long REGION_BYTES = 2 * SECOND_RING;

    private final List<String> jvmFlags;

    Transport(List<String> jvmFlags) {
        this.jvmFlags = jvmFlags;
    }

    /** @return the flags a child JVM of this transport runs with: only what its library needs */
    List<String> jvmFlags() {
        return jvmFlags;
    }

    /** @return whether this transport is one of shm4j's */
    boolean isShm4j() {
        return this == SHM4J_SPIN || this == SHM4J_BLOCKING;
    }

    /** Writes empty rings into a zeroed region (Agrona's empty ring is all zeros). */
    void format(MemorySegment region) {
        if (isShm4j()) {
            SharedRing.format(region, 0, SharedRing.Kind.SPSC, CAPACITY);
            SharedRing.format(region, SECOND_RING, SharedRing.Kind.SPSC, CAPACITY);
        }
    }

    /** @return this process's end of the rings in the named region */
    Endpoint open(String name, boolean pinger) {
        return switch (this) {
            case SHM4J_SPIN -> new Shm4jEndpoint(name, pinger, false);
            case SHM4J_BLOCKING -> new Shm4jEndpoint(name, pinger, true);
            case AGRONA_SPIN -> new AgronaEndpoint(name, pinger, false);
            case AGRONA_BACKOFF -> new AgronaEndpoint(name, pinger, true);
        };
    }

    /** One process's end: sends on one ring, receives on the other. */
    interface Endpoint extends AutoCloseable {
        /** Sends one 8-byte message. */
        void send(long value);

        /** @return the next message's value, waiting for it */
        long receive() throws InterruptedException;

        @Override
        void close();
    }
}
