package org.shm4j.sync.internal;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.SharedPipe;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link PipeTurns}: what a process keeps of the pipes it used. */
class PipeTurnsTest {
    private static final int PIPES = 300;
    private static final Duration BOUND = Duration.ofSeconds(10);

    /**
     * helper-168: the turns of every pipe a process ever used stayed for its life (a few hundred bytes each), so a
     * server making a heap and a pipe per session grew without bound; they go now with the last pipe object of theirs.
     */
    @Test
    void shouldForgetThePipesNoPipeObjectUses() throws Exception {
        try (SharedHeap kept = SharedHeap.anonymous(1 << 16)) {
            SharedPipe used = SharedPipe.create(kept, "used", 1024);
            PipeTurns turns = PipeEnds.open(kept, "used").turns();
            for (int i = 0; i < PIPES; i++) {
                try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
                    SharedPipe pipe = SharedPipe.create(heap, "p", 1024);
                    assertThat(pipe.first().send(new byte[] {1}, Duration.ZERO)).isTrue();
                    assertThat(pipe.second().recv(Duration.ZERO)).containsExactly(1);
                }
            }
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (PipeTurns.pipesKept() > 10) { // a few of other tests, not yet collected, at most
                assertThat(System.nanoTime() - deadline).as("pipes kept: " + PipeTurns.pipesKept()).isNegative();
                System.gc(); // a full collection, whose end the loop checks: no sleep between
            }
            assertThat(PipeEnds.open(kept, "used").turns()).as("a pipe still used keeps its turns").isSameAs(turns);
            used.close();
        }
    }
}
