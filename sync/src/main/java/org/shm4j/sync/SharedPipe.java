package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A duplex pipe in shared memory, like Python's {@code multiprocessing.Pipe()}: two ends, each sending byte messages
 * to the other. It is two SPSC {@link SharedRing}s, {@code <name>.ab} (first end to second) and {@code <name>.ba}
 * (second to first), so each end has one sending thread and one receiving thread at a time. Waits block in futex
 * ({@link WaitStrategy#BLOCKING}).
 *
 * <pre>{@code
 * SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 16);
 * pipe.first().send("ping".getBytes(), Duration.ofSeconds(1));
 * byte[] got = SharedPipe.open(heap, "pipe").second().recv(Duration.ofSeconds(1)); // in another process
 * }</pre>
 */
public final class SharedPipe {
    private final End first;
    private final End second;

    private SharedPipe(SharedRing ab, SharedRing ba, SharedHeap heap, String name) {
        String closedMessage = Blocks.closedMessage("SharedPipe", name, heap);
        this.first = new End(ab, ba, "first", heap.memory().segment().scope(), closedMessage);
        this.second = new End(ba, ab, "second", heap.memory().segment().scope(), closedMessage);
    }

    /** Creates a pipe named {@code name} in {@code heap}, with rings of {@code capacity} bytes each way. */
    public static SharedPipe create(SharedHeap heap, String name, int capacity) {
        SharedRing ab = SharedRing.create(heap, name + ".ab", SharedRing.Kind.SPSC, capacity);
        return new SharedPipe(ab, SharedRing.create(heap, name + ".ba", SharedRing.Kind.SPSC, capacity), heap, name);
    }

    /** Opens the pipe named {@code name}. */
    public static SharedPipe open(SharedHeap heap, String name) {
        return new SharedPipe(SharedRing.open(heap, name + ".ab"), SharedRing.open(heap, name + ".ba"), heap, name);
    }

    /** @return the end whose messages the second end receives */
    public End first() {
        return first;
    }

    /** @return the end whose messages the first end receives */
    public End second() {
        return second;
    }

    /** One end of a pipe. */
    public static final class End {
        private static final int TYPE = 1;

        private final SharedRing out;
        private final SharedRing in;
        private final String name;
        private final MemorySegment.Scope scope;
        private final String closedMessage;

        private End(SharedRing out, SharedRing in, String name, MemorySegment.Scope scope, String closedMessage) {
            this.out = out;
            this.in = in;
            this.name = name;
            this.scope = scope;
            this.closedMessage = closedMessage;
        }

        /**
         * Sends {@code message}, waiting up to {@code timeout} for room.
         *
         * @return false if there was no room in time
         * @throws IllegalArgumentException if the message is longer than {@link #maxMessageLength()}
         * @throws InterruptedException     if interrupted while waiting
         */
        public boolean send(byte[] message, Duration timeout) throws InterruptedException {
            Objects.requireNonNull(message, "message");
            try {
                return out.offer(TYPE, message, 0, message.length, timeout, WaitStrategy.BLOCKING);
            } catch (IllegalStateException e) {
                throw Blocks.closedOr(e, scope, closedMessage);
            }
        }

        /**
         * Receives the next message, waiting up to {@code timeout}.
         *
         * @return the message, or null if none came in time
         * @throws InterruptedException if interrupted while waiting
         */
        public byte[] recv(Duration timeout) throws InterruptedException {
            byte[][] got = new byte[1][];
            int n = recv((type, buffer, offset, length) -> got[0] = buffer.asSlice(offset, length)
                    .toArray(JAVA_BYTE), timeout);
            return n == 0 ? null : got[0];
        }

        /**
         * Hands the next message to {@code handler} in place, waiting up to {@code timeout}.
         *
         * @return 1 if a message was handled, 0 if none came in time
         * @throws InterruptedException if interrupted while waiting
         */
        public int recv(MessageHandler handler, Duration timeout) throws InterruptedException {
            try {
                return in.poll(handler, timeout, WaitStrategy.BLOCKING);
            } catch (IllegalStateException e) {
                throw Blocks.closedOr(e, scope, closedMessage);
            }
        }

        /** @return true if a message is waiting to be received: a snapshot */
        public boolean poll() {
            try {
                return !in.isEmpty();
            } catch (IllegalStateException e) {
                throw Blocks.closedOr(e, scope, closedMessage);
            }
        }

        /** @return the longest message this end can send */
        public int maxMessageLength() {
            return out.maxMessageLength();
        }

        @Override
        public String toString() {
            return name + " end of a pipe";
        }
    }
}
