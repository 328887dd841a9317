package org.shm4j.bench.latency;

import org.HdrHistogram.Histogram;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Base64;

/**
 * One side of a cross-process ping-pong, run in its own JVM by {@link PingPong}: {@code ping} sends an 8-byte
 * message, waits for its echo and records the round trip; {@code echo} returns every message it gets until the
 * stop message. Arguments: {@code ping|echo}, the {@link Transport} name, the region name, warm-up round trips,
 * measured round trips. The pinger prints one line: {@code RESULT} and its HdrHistogram of round trips in
 * nanoseconds, compressed and in Base64.
 */
public final class PingPongChild {
    private PingPongChild() {
    }

    /** @param args role, transport, region name, warm-up count, measured count */
    public static void main(String[] args) throws Exception {
        String role = args[0];
        try (Transport.Endpoint endpoint = Transport.valueOf(args[1]).open(args[2], role.equals("ping"))) {
            if (role.equals("echo")) {
                echo(endpoint);
            } else {
                ping(endpoint, Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            }
        }
    }

    private static void echo(Transport.Endpoint endpoint) throws InterruptedException {
        long value;
        while ((value = endpoint.receive()) != Transport.STOP) {
            endpoint.send(value);
        }
    }

    private static void ping(Transport.Endpoint endpoint, int warmup, int measured) throws InterruptedException {
        Histogram histogram = new Histogram(3);
        for (int i = 0; i < warmup + measured; i++) {
            long start = System.nanoTime();
            endpoint.send(start);
            long echoed = endpoint.receive();
            long roundTrip = System.nanoTime() - start;
            if (echoed != start) {
                throw new IllegalStateException("echo " + echoed + " does not match " + start);
            }
            if (i >= warmup) {
                histogram.recordValue(roundTrip);
            }
        }
        endpoint.send(Transport.STOP);
        ByteBuffer encoded = ByteBuffer.allocate(histogram.getNeededByteBufferCapacity());
        histogram.encodeIntoCompressedByteBuffer(encoded);
        System.out.println("RESULT " + Base64.getEncoder().encodeToString(
                Arrays.copyOf(encoded.array(), encoded.position())));
    }
}
