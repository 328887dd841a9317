package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.Rethrow;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A decode that closes its own view of the heap, then throws: the ring's own failure on the way out ("heap closed")
 * replaces what the decode threw, which a receive must keep as suppressed. For the tests of the queue's poll and peek
 * and the pipe's receive.
 */
final class ClosingDecode {
    private ClosingDecode() {
    }

    /** @return what the decode throws: "Error" a StackOverflowError, "RuntimeException", else an IOException */
    static Throwable thrown(String kind) {
        return switch (kind) {
            case "Error" -> new StackOverflowError("decoding 7");
            case "RuntimeException" -> new IllegalArgumentException("decoding 7");
            default -> new IOException("decoding 7");
        };
    }

    /** @return {@link Codec#longs()} whose decode closes {@code closing}, then throws {@code thrown} (sneakily) */
    static Codec<Long> closingThenThrowing(SharedHeap closing, Throwable thrown) {
        return new LongsWithHook() {
            @Override
            public Long decode(MemorySegment source, long offset, int length) {
                closing.close();
                throw Rethrow.asThrown(thrown);
            }
        };
    }

    /**
     * Checks that {@code failure} is the receive's "heap closed" with what the decode threw kept as its one suppressed
     * throwable: an Error or a checked exception as it is, a RuntimeException as the refusal to decode, its cause.
     */
    static void assertKept(Throwable failure, Throwable decodes) {
        assertThat(failure).isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
        assertThat(failure.getSuppressed()).hasSize(1);
        Throwable suppressed = failure.getSuppressed()[0];
        if (decodes instanceof RuntimeException) {
            assertThat(suppressed).isInstanceOf(ShmFormatException.class).hasMessageContaining("cannot decode")
                    .hasCause(decodes);
        } else {
            assertThat(suppressed).isSameAs(decodes);
        }
    }
}
