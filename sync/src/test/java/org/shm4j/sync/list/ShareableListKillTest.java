package org.shm4j.sync.list;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * A {@link ShareableList} whose writer is SIGKILLed at random while it changes one item's kind again and again: the
 * list still opens, the item reads (by its format if the writer died between the format and the code), and the next
 * write sets it whole.
 * <ul>
 * <li>ACCEPTABLE: the item reads as any value of any kind: the list is not synchronised, and a writer killed
 *     between a value and its format leaves the new value under the old kind (see {@link ShareableList}).</li>
 * <li>FORBIDDEN: {@code open} or a read throwing {@code ShmFormatException}; a write that does not read back.</li>
 * </ul>
 */
@Timeout(180)
class ShareableListKillTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldOpenAndReadAListWhoseWriterWasKilledChangingAnItemsKind() throws Exception {
        String name = names.unique("shareable-kill");
        try (ShareableList list = ShareableList.create(name, List.of("a string of 16 b"))) {
            Random random = new Random(20261204);
            for (int round = 0; round < 15; round++) {
                try (ChildJvm child = ChildJvm.start(KindChanger.class, name)) {
                    child.awaitLine("CHANGING", BOUND);
                    LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(random.nextInt(20_000)));
                    child.kill();
                }
                try (ShareableList opened = ShareableList.open(name)) { // threw if the kill cut a kind change
                    ShareableList.Kind kind = opened.kind(0);
                    assertThatCode(() -> opened.get(0)).as("round %d: a %s", round, kind).doesNotThrowAnyException();
                }
                list.set(0, "round " + round); // reads the previous item first
                assertThat(list.get(0)).as("round %d", round).isEqualTo("round " + round);
                assertThat(list.kind(0)).isEqualTo(ShareableList.Kind.STRING);
            }
        }
    }

    /** {@code main(name)}: prints CHANGING, then sets item 0 to a value of each kind in turn until killed. */
    public static final class KindChanger {
        public static void main(String[] args) {
            ShareableList list = ShareableList.open(args[0]);
            System.out.println("CHANGING");
            System.out.flush();
            Object[] values = {7L, "text", 2.5, null, true, new byte[]{'b', 'y', 't', 'e', 's'}};
            for (int i = 0; ; i = (i + 1) % values.length) {
                list.set(0, values[i]);
            }
        }
    }
}
