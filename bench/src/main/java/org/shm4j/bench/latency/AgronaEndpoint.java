package org.shm4j.bench.latency;

import org.agrona.IoUtil;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.shm4j.core.SharedMemory;

import java.io.File;
import java.nio.MappedByteBuffer;

/**
 * A {@link Transport.Endpoint} on two Agrona {@code OneToOneRingBuffer}s over the region's file mapped the Agrona
 * way ({@code IoUtil.mapExistingFile}), waiting with a busy-spin or a back-off idle strategy.
 */
final class AgronaEndpoint implements Transport.Endpoint {
    private final MappedByteBuffer mapping;
    private final OneToOneRingBuffer out;
    private final OneToOneRingBuffer in;
    private final IdleStrategy idle;
    private final UnsafeBuffer message = new UnsafeBuffer(new byte[Long.BYTES]);
    private long received;
    private final MessageHandler handler = (type, buffer, index, length) -> received = buffer.getLong(index);

    AgronaEndpoint(String name, boolean pinger, boolean backoff) {
        mapping = IoUtil.mapExistingFile(new File(SharedMemory.SHM_DIR.toFile(), name), name);
        UnsafeBuffer region = new UnsafeBuffer(mapping);
        int ringBytes = Transport.CAPACITY + RingBufferDescriptor.TRAILER_LENGTH;
        out = new OneToOneRingBuffer(new UnsafeBuffer(region, pinger ? 0 : (int) Transport.SECOND_RING, ringBytes));
        in = new OneToOneRingBuffer(new UnsafeBuffer(region, pinger ? (int) Transport.SECOND_RING : 0, ringBytes));
        idle = backoff ? new BackoffIdleStrategy() : new BusySpinIdleStrategy();
    }

    @Override
    public void send(long value) {
        message.putLong(0, value);
        while (!out.write(1, message, 0, Long.BYTES)) {
            Thread.onSpinWait();
        }
    }

    @Override
    public long receive() {
        idle.reset();
        while (in.read(handler, 1) == 0) {
            idle.idle();
        }
        return received;
    }

    @Override
    public void close() {
        IoUtil.unmap(mapping);
    }
}
