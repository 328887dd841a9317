package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.time.Duration;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link SealedCodec}: values of a sealed interface of records through one codec, and back as what they were. */
class SealedCodecTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    public sealed interface Command permits Put, Remove, Control {
    }

    public record Put(long key, String value) implements Command {
    }

    public record Remove(long key) implements Command {
    }

    /** A sealed interface among Command's alternatives: its records take its place. */
    public sealed interface Control extends Command permits Stop, Batch {
    }

    public record Stop() implements Control {
    }

    public record Batch(List<Long> keys) implements Control {
    }

    /** A record with sealed components: one may be null, a list holds several alternatives. */
    public record Envelope(int id, Command first, List<Command> rest) {
    }

    private static final List<Command> EVERY_ALTERNATIVE = List.of(new Put(7, "seven"), new Remove(-1),
            new Stop(), new Batch(List.of(1L, 2L, 3L)), new Put(0, null), new Batch(List.of()));

    @Test
    void shouldGiveEveryAlternativeBackAsTheRecordItWas() {
        SealedCodec<Command> commands = Codec.sealed(Command.class);
        assertThat(commands.sealedType()).isEqualTo(Command.class);
        assertThat(commands.alternatives()).containsExactly(Put.class, Remove.class, Stop.class, Batch.class);
        assertThat(commands.schema())
                .isEqualTo("Command{Put(long key, String value) | Remove(long key) | Stop() | Batch(List<Long> keys)}");
        assertThat(commands.typeId()).isEqualTo(commands.fingerprint()).isGreaterThanOrEqualTo(1 << 30);
        assertThat(Codec.sealed(Command.class).fingerprint()).as("the same for every build")
                .isEqualTo(commands.fingerprint());
        try (Arena arena = Arena.ofConfined()) {
            for (Command command : EVERY_ALTERNATIVE) {
                int length = commands.encodedLength(command);
                MemorySegment bytes = arena.allocate(length + 3);
                commands.encode(command, bytes, 3);
                assertThat(bytes.get(JAVA_INT_UNALIGNED, 3)).as("the alternative's index first")
                        .isEqualTo(commands.alternatives().indexOf(command.getClass()));
                assertThat(commands.decode(bytes, 3, length)).isEqualTo(command);
            }
        }
        assertThat(commands.encodedLength(new Stop())).as("the index alone").isEqualTo(4);
        assertThat(commands.encodedLength(new Remove(1))).isEqualTo(4 + 8);
        assertThatThrownBy(() -> commands.encodedLength(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("value");
    }

    @Test
    void shouldEncodeSealedComponentsOfRecordsNullIncluded() {
        RecordCodec<Envelope> envelopes = Codec.record(Envelope.class);
        assertThat(envelopes.schema()).isEqualTo("Envelope(int id, Command{Put(long key, String value) | "
                + "Remove(long key) | Stop() | Batch(List<Long> keys)} first, List<Command{Put(long key, String value)"
                + " | Remove(long key) | Stop() | Batch(List<Long> keys)}> rest)");
        List<Command> rest = new ArrayList<>(EVERY_ALTERNATIVE);
        rest.add(null);
        for (Envelope envelope : List.of(new Envelope(1, new Stop(), rest), new Envelope(2, null, List.of()),
                new Envelope(3, new Put(1, "x"), null))) {
            assertThat(roundTrip(envelopes, envelope)).isEqualTo(envelope);
        }
    }

    /** A generic sealed interface: its records fix the type argument, as a generic record's components do. */
    public sealed interface Result<T> permits Ok, Failed {
    }

    public record Ok(String value) implements Result<String> {
    }

    public record Failed(String reason) implements Result<String> {
    }

    public record Reply(long id, Result<String> result, List<Result<String>> earlier) {
    }

    @Test
    void shouldTakeAComponentOfAParameterizedSealedInterface() {
        RecordCodec<Reply> replies = Codec.record(Reply.class);
        assertThat(replies.schema()).isEqualTo("Reply(long id, Result{Ok(String value) | Failed(String reason)} "
                + "result, List<Result{Ok(String value) | Failed(String reason)}> earlier)");
        Reply reply = new Reply(1, new Ok("done"), Arrays.asList(new Failed("busy"), null));
        assertThat(roundTrip(replies, reply)).isEqualTo(reply);
    }

    @Test
    void shouldCarryCommandsToAnotherProcessThatSwitchesOnThem() throws Exception {
        String heapName = names.unique("sealed");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 18)) {
            SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 14);
            SealedCodec<Command> commands = Codec.sealed(Command.class);
            try (ChildJvm store = ChildJvm.start(Store.class, heapName)) {
                for (int i = 0; i < 300; i++) {
                    Command command = switch (i % 4) {
                        case 0 -> new Put(i, "v" + i);
                        case 1 -> new Remove(i - 1);
                        case 2 -> new Batch(List.of((long) i, i + 1L));
                        default -> new Put(i, null);
                    };
                    assertThat(pipe.first().send(command, commands, BOUND)).isTrue();
                    assertThat(pipe.first().recv(Codec.utf8(), BOUND)).isEqualTo(Store.answer(command));
                }
                assertThat(pipe.first().send(new Stop(), commands, BOUND)).isTrue();
                store.awaitSuccess(BOUND);
            }
        }
    }

    /** {@code main(heap)}: answers each command on the pipe's second end until a {@link Stop}. */
    public static final class Store {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedPipe.End end = SharedPipe.open(heap, "pipe").second();
                SealedCodec<Command> commands = Codec.sealed(Command.class);
                for (Command command = end.recv(commands, BOUND); !(command instanceof Stop);
                     command = end.recv(commands, BOUND)) {
                    if (!end.send(answer(command), Codec.utf8(), BOUND)) {
                        throw new IllegalStateException("no room for the answer to " + command);
                    }
                }
            }
        }

        static String answer(Command command) {
            return switch (command) {
                case Put(long key, String value) -> "put " + key + "=" + value;
                case Remove(long key) -> "remove " + key;
                case Batch(List<Long> keys) -> "batch " + keys;
                case Stop() -> "stop";
            };
        }
    }

    @Test
    void shouldRecordTheCodecInQueuesMapsAndListsAndRefuseAnotherShape() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SealedCodec<Command> commands = Codec.sealed(Command.class);
            SharedQueue<Command> queue = SharedQueue.create(heap, "q", 1 << 12, commands);
            for (Command command : EVERY_ALTERNATIVE) {
                assertThat(queue.offer(command)).isTrue();
            }
            SharedMap<Long, Command> map = SharedMap.create(heap, "m", Codec.longs(), commands,
                    MapSizing.ofLongKeys(16, 32));
            SharedList<Command> list = SharedList.create(heap, "l", commands, 64);
            for (Command command : EVERY_ALTERNATIVE) {
                assertThat(queue.poll()).isEqualTo(command);
                map.put((long) list.size(), command);
                list.add(command);
            }
            assertThat(list).containsExactlyElementsOf(EVERY_ALTERNATIVE);
            assertThat(map.get(2L)).isEqualTo(new Stop());

            SealedCodec<Reordered.Command> reordered = Codec.sealed(Reordered.Command.class);
            assertThat(reordered.fingerprint()).as("the same alternatives in another order")
                    .isNotEqualTo(Codec.sealed(Moved.Command.class).fingerprint());
            assertThat(Codec.sealed(Moved.Command.class).fingerprint())
                    .as("the same alternatives in the same order, declared elsewhere")
                    .isEqualTo(Codec.sealed(Moved.Command.class, MethodHandles.lookup()).fingerprint())
                    .isEqualTo(Codec.sealed(Reordered.Same.class).fingerprint());
            assertThatThrownBy(() -> SharedQueue.open(heap, "q", reordered))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessage("queue 'q': sealed shape differs: "
                            + "expected fingerprint " + String.format("0x%08x", reordered.fingerprint())
                            + " (Command{Stop() | Put(long key, String value)}), found "
                            + String.format("0x%08x", commands.fingerprint()));
            assertThatThrownBy(() -> SharedMap.open(heap, "m", Codec.longs(), reordered))
                    .isInstanceOf(ShmTypeMismatchException.class);
            assertThatThrownBy(() -> SharedList.open(heap, "l", reordered))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("is sealed codec Command{");
        }
    }

    /** Command's alternatives, but Stop before Put: another fingerprint. */
    public static final class Reordered {
        public sealed interface Command permits Stop, Put {
        }

        public record Stop() implements Command {
        }

        public record Put(long key, String value) implements Command {
        }

        /** Moved.Command's alternatives: the interface's name does not count. */
        public sealed interface Same permits Moved.Put, Moved.Stop {
        }
    }

    /** Put then Stop, declared in another class. */
    public static final class Moved {
        public sealed interface Command permits Put, Stop {
        }

        public record Put(long key, String value) implements Command, Reordered.Same {
        }

        public record Stop() implements Command, Reordered.Same {
        }
    }

    @Test
    void shouldRefuseDamagedBytesNamingTheCodec() {
        SealedCodec<Command> commands = Codec.sealed(Command.class);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(16);
            bytes.set(JAVA_INT_UNALIGNED, 0, 4);
            assertThatThrownBy(() -> commands.decode(bytes, 0, 4)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("sealed codec " + commands.schema() + ": the message of 4 bytes holds alternative 4"
                            + " at byte 0 (expected: -1..3); it is corrupted or was written for another sealed shape");
            bytes.set(JAVA_INT_UNALIGNED, 0, -1);
            assertThatThrownBy(() -> commands.decode(bytes, 0, 4)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("holds alternative -1 (null) at byte 0, where a value belongs");
            bytes.set(JAVA_INT_UNALIGNED, 0, 2);
            assertThatThrownBy(() -> commands.decode(bytes, 0, 8)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("has 4 bytes left over after the record");
            bytes.set(JAVA_INT_UNALIGNED, 0, 1);
            assertThatThrownBy(() -> commands.decode(bytes, 0, 6)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("needs 8 bytes at byte 4");
            assertThatThrownBy(() -> commands.decode(bytes, 0, 3)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("needs 4 bytes at byte 0");
        }
    }

    public interface Open {
    }

    public sealed interface WithAClass permits Plain, Fine {
    }

    public static final class Plain implements WithAClass {
    }

    public record Fine() implements WithAClass {
    }

    public sealed interface WithAnObject permits Holds {
    }

    public record Holds(Object thing) implements WithAnObject {
    }

    public record Wrapper(long id, WithAnObject inner) {
    }

    public sealed interface Twins permits P.Stop, Q.Stop {
    }

    public static final class P {
        public record Stop() implements Twins {
        }
    }

    public static final class Q {
        public record Stop() implements Twins {
        }
    }

    public sealed interface Tree permits Leaf, Node {
    }

    public record Leaf(int value) implements Tree {
    }

    public record Node(Tree left, Tree right) implements Tree {
    }

    @Test
    void shouldRefuseWhatItCannotEncodeNamingIt() {
        assertThatThrownBy(() -> Codec.sealed(Open.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sealed codec for " + Open.class.getName() + ": " + Open.class.getName()
                        + " is not a sealed interface");
        assertThatThrownBy(() -> Codec.sealed(Put.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sealed codec for " + Put.class.getName() + ": " + Put.class.getName()
                        + " is not a sealed interface");
        assertThatThrownBy(() -> Codec.sealed(Twins.class)).as("swapping them would keep the fingerprint")
                .isInstanceOf(IllegalArgumentException.class).hasMessage("sealed codec for " + Twins.class.getName()
                        + ": Twins has two alternatives named Stop (" + P.Stop.class.getName() + " and "
                        + Q.Stop.class.getName() + "); their simple names tell alternatives apart in its fingerprint,"
                        + " so rename one");
        assertThatThrownBy(() -> Codec.record(Wrapper.class)).as("the path from the record")
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("record codec for "
                        + Wrapper.class.getName() + ": Wrapper.inner<Holds>.thing has type java.lang.Object");
        assertThatThrownBy(() -> Codec.sealed(WithAClass.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sealed codec for " + WithAClass.class.getName() + ": WithAClass<Plain> is "
                        + Plain.class.getName() + ", neither a record nor a sealed interface (a sealed interface's "
                        + "alternatives must be records, or sealed interfaces of records)");
        assertThatThrownBy(() -> Codec.sealed(WithAnObject.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("sealed codec for " + WithAnObject.class.getName()
                        + ": WithAnObject<Holds>.thing has type java.lang.Object, which is not supported");
        assertThatThrownBy(() -> Codec.sealed(Tree.class)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("recursive records are not supported");
        @SuppressWarnings({"rawtypes", "unchecked"})
        Codec raw = Codec.sealed(Command.class);
        assertThatThrownBy(() -> raw.encodedLength(new Moved.Put(1, "x"))).isInstanceOf(ClassCastException.class)
                .hasMessage("sealed codec " + Command.class.getName() + ": a " + Moved.Put.class.getName()
                        + " is not one of its records (a value of a raw or unchecked type)");
    }

    /**
     * A value of another class, which a raw or unchecked call can pass, is not an element, as with a record codec:
     * a map throws its documented ClassCastException naming it, a list and a map's entry set answer absent (they
     * threw IllegalArgumentException for a sealed codec).
     */
    @Test
    @SuppressWarnings({"rawtypes", "unchecked"})
    void shouldTakeAValueOfAnotherClassForNoElementAsARecordCodecDoes() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedMap<Command, Long> map = SharedMap.create(heap, "m", Codec.sealed(Command.class), Codec.longs(),
                    new MapSizing(16, 32, 8));
            map.put(new Stop(), 1L);
            assertThatThrownBy(() -> ((Map) map).get("stop")).isInstanceOf(ClassCastException.class)
                    .hasMessageStartingWith("SharedMap 'm' in ")
                    .hasMessageContaining("a key of class java.lang.String");
            assertThat(map.entrySet().contains(Map.entry(new Moved.Stop(), 1L))).isFalse();
            assertThat(map.keySet().contains(new Stop())).isTrue();
            SharedList<Command> list = SharedList.create(heap, "l", Codec.sealed(Command.class), 64);
            list.add(new Stop());
            assertThat(((SharedList) list).indexOf(new Moved.Stop())).isEqualTo(-1);
            assertThat(((SharedList) list).remove("stop")).isFalse();
            assertThat(list.snapshot()).containsExactly(new Stop());
        }
    }

    @Test
    void shouldRefuseAValueThatGrewWhileItWasEncodedWithoutWritingPastItsClaim() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 18)) {
            SharedQueue<Command> queue = SharedQueue.create(heap, "jobs", 1 << 12, Codec.sealed(Command.class));
            assertThatThrownBy(() -> queue.offer(new Batch(new GrowingList())))
                    .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("queue 'jobs': the value was not"
                            + " queued: its codec (type ");
            assertThat(queue.offer(new Stop())).isTrue();
            assertThat(queue.poll()).as("the refused value left nothing behind").isEqualTo(new Stop());
            assertThat(queue.poll()).isNull();
        }
    }

    /** A list with one element more every time it is iterated: as if another thread added one meanwhile. */
    private static final class GrowingList extends AbstractList<Long> {
        private int size;

        @Override
        public Long get(int index) {
            return (long) index;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public Iterator<Long> iterator() {
            size++;
            return new ArrayList<>(Collections.nCopies(size, 0L)).iterator();
        }
    }

    private static <T> T roundTrip(Codec<T> codec, T value) {
        try (Arena arena = Arena.ofConfined()) {
            int length = codec.encodedLength(value);
            MemorySegment bytes = arena.allocate(Math.max(1, length));
            codec.encode(value, bytes, 0);
            return codec.decode(bytes, 0, length);
        }
    }
}
