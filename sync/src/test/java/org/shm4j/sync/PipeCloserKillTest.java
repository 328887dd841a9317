package org.shm4j.sync;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.PipeEnds;
import org.shm4j.sync.testing.KilledAtCall;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * The holder of a {@link SharedPipe} end SIGKILLed at an exact step of closing it, by a debugger
 * ({@link KilledAtCall}): just before its store of the closed state, or just after it. The peer receives every message
 * sent, then end of stream naming the holder, as dead or as the closer; a process claiming the end next takes a dead
 * holder's open end over, and is refused a closed one, with the closer named: closed ends stay closed, whoever claims.
 * <ul>
 * <li>ACCEPTABLE: the three messages, in order, then {@link PipeClosedException} naming the child's pid; before the
 *     store, the end claimed by this process and its message received; after it, the claim refused naming the
 *     child as the closer.</li>
 * <li>FORBIDDEN: a message lost; a receive blocked past its timeout; a dead holder's open end left unclaimable; a
 *     closed end reopened, or named closed by its claimer.</li>
 * </ul>
 */
@Timeout(120)
class PipeCloserKillTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    private static final String STORE = "INT.setRelease(block, offset(end, PIPE_END_STATE), PIPE_END_CLOSED);";

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @ParameterizedTest(name = "closed state stored: {0}")
    @ValueSource(booleans = {false, true})
    void shouldEndTheStreamAndKeepTheEndClosedOnlyIfTheCloseWasStored(boolean stored) throws Exception {
        String heapName = names.unique("pipe-closer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1024);
            // after the store: the child's next step claims the second end, its PipeEnds.claim's second entry
            KilledAtCall.Step step = stored ? new KilledAtCall.Step(PipeEnds.class.getName(), "claim", "claim", 2)
                    : KilledAtCall.Step.atLine(PipeEnds.class, "close", STORE, 1);
            long pid;
            try (KilledAtCall holder = KilledAtCall.start(step, Closer.class, heapName)) {
                pid = holder.pid();
                holder.awaitKilled(BOUND);
                assertThat(holder.output()).contains("SENT 2").doesNotContain("ERROR");
            }
            SharedPipe.End second = pipe.second();
            List<String> received = new ArrayList<>();
            PipeClosedException end = catchThrowableOfType(PipeClosedException.class, () -> {
                while (true) {
                    received.add(new String(second.recv(Duration.ofSeconds(10))));
                }
            });
            assertThat(received).containsExactly("m0", "m1", "m2");
            assertThat(end).hasMessageContaining("pid " + pid).hasMessageContaining(stored ? "was closed by"
                    : "died without closing it");
            if (stored) {
                assertThatThrownBy(pipe::first).isInstanceOf(IllegalStateException.class)
                        .hasMessage("first end of pipe 'pipe' was closed by pid " + pid
                                + " (a closed end is never reopened)");
            } else {
                assertThat(pipe.first().send("taken over".getBytes(), Duration.ofSeconds(1))).isTrue();
                assertThat(new String(second.recv(Duration.ofSeconds(1)))).isEqualTo("taken over");
            }
        }
    }

    /** {@code main(heap)}: claims the first end, sends three messages, closes it, then claims the second end. */
    public static final class Closer {
        public static void main(String[] args) throws InterruptedException {
            SharedPipe pipe = SharedPipe.open(SharedHeap.open(args[0]), "pipe");
            SharedPipe.End first = pipe.first();
            for (int i = 0; i < 3; i++) {
                first.send(("m" + i).getBytes(), Duration.ofSeconds(10));
                System.out.println("SENT " + i);
            }
            first.close();
            pipe.second();
            System.out.println("ERROR: never killed");
        }
    }
}
