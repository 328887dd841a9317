package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the README's "Records as values" example and checks that the README shows it verbatim. */
class RecordsReadmeExampleTest {
    @Test
    void recordsAsValues() throws InterruptedException {
        // README:begin
        enum Side { BUY, SELL }
        record Fill(int quantity, double price) {}
        record Trade(long id, String symbol, Side side, List<Fill> fills) {}

        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            // public records need no lookup: Codec.record(Trade.class); these are local, so pass ours
            RecordCodec<Trade> codec = Codec.record(Trade.class, MethodHandles.lookup());
            SharedQueue<Trade> trades = SharedQueue.create(heap, "trades", 1 << 16, codec);
            trades.put(new Trade(1, "ACME", Side.BUY, List.of(new Fill(100, 9.5), new Fill(50, 9.75))));

            Trade trade = trades.poll(1, TimeUnit.SECONDS);            // a new, equal record
            assertThat(trade.fills()).containsExactly(new Fill(100, 9.5), new Fill(50, 9.75));
            assertThat(codec.schema()).isEqualTo("Trade(long id, String symbol, Side{BUY, SELL} side, "
                    + "List<Fill(int quantity, double price)> fills)");   // its fingerprint() is the queue's type
        }
        // README:end
    }

    @Test
    void shouldShowThisExampleVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/RecordsReadmeExampleTest.java"), 1);
    }
}
