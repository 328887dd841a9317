package org.shm4j.bench.latency;

import org.shm4j.core.SharedMemory;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

/** A {@link Transport.Endpoint} on two {@link SharedRing}s, spinning or blocking when its ring is empty. */
final class Shm4jEndpoint implements Transport.Endpoint, MessageHandler {
    private static final Duration GIVE_UP = Duration.ofSeconds(30);

    private final SharedMemory memory;
    private final SharedRing out;
    private final SharedRing in;
    private final boolean blocking;
    private final MemorySegment message = Arena.ofAuto().allocate(Long.BYTES, Long.BYTES);
    private long received;

    Shm4jEndpoint(String name, boolean pinger, boolean blocking) {
        this.memory = SharedMemory.open(name);
        this.out = SharedRing.wrap(memory.segment(), pinger ? 0 : Transport.SECOND_RING);
        this.in = SharedRing.wrap(memory.segment(), pinger ? Transport.SECOND_RING : 0);
        this.blocking = blocking;
    }

    @Override
    public void send(long value) {
        message.set(ValueLayout.JAVA_LONG, 0, value);
        while (!out.offer(1, message, 0, Long.BYTES)) {
            Thread.onSpinWait();
        }
    }

    @Override
    public long receive() throws InterruptedException {
        if (blocking) {
            if (in.poll(this, GIVE_UP, WaitStrategy.BLOCKING) == 0) {
                throw new IllegalStateException("no message in " + GIVE_UP);
            }
        } else {
            while (in.poll(this) == 0) {
                Thread.onSpinWait();
            }
        }
        return received;
    }

    @Override
    public void onMessage(int type, MemorySegment buffer, long offset, int length) {
        received = buffer.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
    }

    @Override
    public void close() {
        memory.close();
    }
}
