package org.shm4j.sync;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.SealedReadmeExampleTest.Declarations.Command;
import org.shm4j.sync.SealedReadmeExampleTest.Declarations.Put;
import org.shm4j.sync.SealedReadmeExampleTest.Declarations.Remove;
import org.shm4j.sync.SealedReadmeExampleTest.Declarations.Stop;
import org.shm4j.testing.ReadmeSnippets;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the README's sealed-interface example (its declarations, then its use) and checks the README shows both. */
class SealedReadmeExampleTest {
    private final SharedHeap heap = SharedHeap.anonymous(1 << 20);
    private final SharedPipe pipe = SharedPipe.create(heap, "commands", 1 << 12);
    private final Map<Long, String> store = new HashMap<>();
    private boolean running = true;

    /** The README's declarations: at this depth, as its example's lines are. */
    static final class Declarations {
        // README:begin
        sealed interface Command permits Put, Remove, Stop {}
        record Put(long key, String value) implements Command {}
        record Remove(long key) implements Command {}
        record Stop() implements Command {}
        // README:end
    }

    @AfterEach
    void closeHeap() {
        heap.close();
    }

    @Test
    void sealedCommands() throws InterruptedException {
        // README:begin
        // public records need no lookup: Codec.sealed(Command.class); these are not, so pass ours
        Codec<Command> commands = Codec.sealed(Command.class, MethodHandles.lookup());
        pipe.first().send(new Put(7, "seven"), commands, Duration.ofSeconds(1));
        switch (pipe.second().recv(commands, Duration.ofSeconds(1))) {   // a Put, a Remove or a Stop
            case Put(long key, String value) -> store.put(key, value);
            case Remove(long key) -> store.remove(key);
            case Stop() -> running = false;
        }
        // README:end
        assertThat(store).containsExactly(Map.entry(7L, "seven"));
        assertThat(running).isTrue();
        assertThat(commands.typeId()).isEqualTo(Codec.sealed(Command.class, MethodHandles.lookup()).fingerprint());
    }

    @Test
    void shouldShowThisExampleVerbatimInTheReadme() throws IOException {
        ReadmeSnippets.assertShownVerbatim(Path.of("src/test/java/org/shm4j/sync/SealedReadmeExampleTest.java"), 2);
    }
}
