package org.shm4j.sync.ring;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.RandomKills;
import org.shm4j.testing.ShmNames;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMER_PROCESS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PRODUCER_PROCESS_OFFSET;

/**
 * The single roles of a ring (see {@link SharedRing}'s Roles): the consumer of an SPSC or MPSC ring and the producer
 * of an SPSC ring belong to one process at a time. A second live process is refused with a clear exception and
 * changes nothing; a dead holder's role is taken over; a release hands it over while the holder lives. First with
 * role words written by hand (a live process's token: this JVM's parent), then across processes, with the holder
 * SIGKILLed.
 */
class RingRolesTest extends RawRingTest {
    private static final Duration BOUND = Duration.ofSeconds(60);
    /** A token naming no process: a pid above Linux's limit of 2^22, with start bits. */
    private static final long GONE = ProcessIdentity.token(4_194_305L, 12_345L);

    @RegisterExtension
    final ShmNames names = new ShmNames();

    /** @return the token of a live process other than this one: this JVM's parent (Maven's) */
    private static long liveOther() {
        long pid = ProcessHandle.current().parent().orElseThrow().pid();
        return ProcessIdentity.token(pid, ProcessIdentity.startStamp(pid));
    }

    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"SPSC", "MPSC"})
    void shouldRefuseAConsumerWhileAnotherLiveProcessHoldsTheRoleAndChangeNothing(SharedRing.Kind kind)
            throws InterruptedException {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        assertThat(ring.offer(1, filled(10, 1), 0, 10)).isTrue();
        long other = liveOther();
        raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, other);
        long pid = ProcessIdentity.pid(other);
        String held = "has one consumer process at a time, and pid " + pid + " (alive) is its consumer";

        assertThatThrownBy(() -> ring.poll(collect)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(held).hasMessageContaining("release()");
        assertThatThrownBy(() -> ring.drain(collect, 10)).hasMessageContaining(held);
        assertThatThrownBy(() -> ring.poll(collect, Duration.ofMillis(1), WaitStrategy.BLOCKING))
                .hasMessageContaining(held);
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0).poll(collect)).as("another object of this process")
                .hasMessageContaining(held);
        assertThatThrownBy(ring::unblock).as("acts at the holder's position").hasMessageContaining(held);
        assertThat(got).isEmpty();
        assertThat(ring.messageCount()).isEqualTo(1);
        assertThat(raw.get(JAVA_LONG, RING_HEAD_OFFSET)).isZero();
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).isEqualTo(other);
        assertThat(ring.offer(2, filled(10, 2), 0, 10)).as("producing is not consuming").isTrue();

        raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, 0L); // the holder released
        assertThat(ring.unblock()).as("nothing stalled").isFalse();
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).as("unblock claims no role").isZero();
        assertThat(ring.drain(collect, 10)).isEqualTo(2);
        assertThat(got).containsExactly("1:10:1", "2:10:2");
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).isEqualTo(ProcessIdentity.currentToken());
    }

    @Test
    void shouldRefuseAnSpscProducerWhileAnotherLiveProcessHoldsTheRole() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
        raw.set(JAVA_LONG, RING_PRODUCER_PROCESS_OFFSET, liveOther());
        String held = "has one producer process at a time, and pid " + ProcessIdentity.pid(liveOther())
                + " (alive) is its producer";
        assertThatThrownBy(() -> ring.offer(1, filled(10, 1), 0, 10)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(held);
        assertThatThrownBy(() -> ring.tryClaim(1, 10, new RingClaim())).hasMessageContaining(held);
        assertThat(ring.size()).isZero();
        assertThat(ring.poll(collect)).as("consuming is not producing").isZero();
    }

    @ParameterizedTest
    @EnumSource(SharedRing.Kind.class)
    void shouldTakeTheRolesOfAProcessThatIsGoneOver(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        boolean single = kind != SharedRing.Kind.MPMC;
        if (single) {
            raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, GONE);
        }
        if (kind == SharedRing.Kind.SPSC) {
            raw.set(JAVA_LONG, RING_PRODUCER_PROCESS_OFFSET, GONE);
        }
        assertThat(ring.offer(1, filled(10, 1), 0, 10)).isTrue();
        assertThat(ring.poll(collect)).isEqualTo(1);
        long me = ProcessIdentity.currentToken();
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).isEqualTo(single ? me : 0);
        assertThat(raw.get(JAVA_LONG, RING_PRODUCER_PROCESS_OFFSET))
                .as("only an SPSC ring has a single producer").isEqualTo(kind == SharedRing.Kind.SPSC ? me : 0);
    }

    /** Objects of one process share its role; a release through one makes each claim again, and see a new holder. */
    @Test
    void shouldShareARoleBetweenTheObjectsOfOneProcessAndClaimAgainAfterARelease() {
        SharedRing first = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
        SharedRing second = SharedRing.wrap(raw, 0);
        assertThat(first.offer(1, filled(10, 1), 0, 10)).isTrue();
        assertThat(second.offer(2, filled(10, 2), 0, 10)).isTrue();
        assertThat(first.poll(collect)).isEqualTo(1);
        assertThat(second.poll(collect)).isEqualTo(1);
        assertThat(got).containsExactly("1:10:1", "2:10:2");

        first.release();
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).isZero();
        assertThat(raw.get(JAVA_LONG, RING_PRODUCER_PROCESS_OFFSET)).isZero();
        raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, liveOther()); // another process took the role meanwhile
        assertThatThrownBy(() -> second.poll(collect)).as("the other object claims again, and is refused")
                .hasMessageContaining("has one consumer process at a time");
        assertThat(second.offer(3, filled(10, 3), 0, 10)).as("the producer's role was free").isTrue();
        raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, 0L);
        assertThat(second.poll(collect)).isEqualTo(1);
        assertThat(got).endsWith("3:10:3");
        second.release();
        second.release(); // holds nothing: changes nothing
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).isZero();
    }

    /**
     * A handler that polls, drains or takes from its own ring (helper-95: duplicates, then messages lost for good) is
     * refused; the message it was handed counts as consumed, and every other one still arrives once.
     */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"SPSC", "MPSC"})
    void shouldRefuseAHandlerThatConsumesFromItsOwnRing(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        for (int k = 1; k <= 5; k++) {
            assertThat(ring.offer(k, filled(10, k), 0, 10)).isTrue();
        }
        List<MessageHandler> nested = List.of(
                (type, buffer, offset, length) -> ring.poll(collect),
                (type, buffer, offset, length) -> ring.drain(collect, 10),
                (type, buffer, offset, length) -> {
                    try {
                        ring.poll(collect, Duration.ofMillis(1), WaitStrategy.BLOCKING);
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                });
        for (MessageHandler handler : nested) {
            assertThatThrownBy(() -> ring.poll((type, buffer, offset, length) -> {
                collect.onMessage(type, buffer, offset, length);
                handler.onMessage(type, buffer, offset, length);
            })).isInstanceOf(IllegalStateException.class).hasMessage("ring at 0x" + Long.toHexString(raw.address())
                    + ": a poll, drain or take through this ring object while another is under way (a second thread,"
                    + " or a handler using its own ring): an " + kind + " ring has one consumer thread at a time");
        }
        assertThat(ring.drain(collect, 10)).isEqualTo(2);
        assertThat(got).containsExactly("1:10:1", "2:10:2", "3:10:3", "4:10:4", "5:10:5");
        assertThat(ring.isEmpty()).isTrue();
    }

    /** A handler that releases its own ring's roles is refused: another process could consume beside it. */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"SPSC", "MPSC"})
    void shouldRefuseAReleaseFromAHandlerOfTheSameRing(SharedRing.Kind kind) {
        SharedRing ring = SharedRing.format(raw, 0, kind, 1024);
        assertThat(ring.offer(1, filled(10, 1), 0, 10)).isTrue();
        assertThatThrownBy(() -> ring.poll((type, buffer, offset, length) -> ring.release()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("release() while a poll, drain or take");
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).isEqualTo(ProcessIdentity.currentToken());
        ring.release();
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).as("released outside the handler").isZero();
    }

    /** A second thread polling through a ring object whose handler is still running is refused, and takes nothing. */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"SPSC", "MPSC"})
    void shouldRefuseASecondThreadWhileAPollOfTheSameObjectRuns(SharedRing.Kind kind) throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) { // shared memory: the raw ring is confined
            pollWhileAnotherThreadPolls(SharedRing.create(heap, "ring", kind, 1024));
        }
    }

    private void pollWhileAnotherThreadPolls(SharedRing ring) throws InterruptedException {
        assertThat(ring.offer(1, filled(10, 1), 0, 10)).isTrue();
        assertThat(ring.offer(2, filled(10, 2), 0, 10)).isTrue();
        CountDownLatch inHandler = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger firstPolled = new AtomicInteger(-1);
        Thread first = Thread.ofPlatform().start(() -> firstPolled.set(ring.poll((type, buffer, offset, length) -> {
            inHandler.countDown();
            try {
                assertThat(release.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        })));
        assertThat(inHandler.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThatThrownBy(() -> ring.poll(collect)).hasMessageContaining("while another is under way");
        assertThatThrownBy(() -> ring.drain(collect, 10)).hasMessageContaining("while another is under way");
        release.countDown();
        first.join(BOUND.toMillis());
        assertThat(first.isAlive()).isFalse();
        assertThat(firstPolled.get()).isEqualTo(1);
        assertThat(ring.poll(collect)).as("the object is free again").isEqualTo(1);
        assertThat(got).containsExactly("2:10:2");
    }

    @Test
    void shouldReleaseOnlyTheRolesThisProcessHolds() {
        SharedRing ring = SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
        long other = liveOther();
        raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, other);
        assertThat(ring.offer(1, filled(10, 1), 0, 10)).isTrue();
        ring.release();
        assertThat(raw.get(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET)).isEqualTo(other);
        assertThat(raw.get(JAVA_LONG, RING_PRODUCER_PROCESS_OFFSET)).isZero();
    }

    @Test
    void shouldRefuseADamagedRoleWordOnOpen() {
        SharedRing.format(raw, 0, SharedRing.Kind.SPSC, 1024);
        raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, 1234L); // start bits but no pid
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("consumerProcess=0x4d2 (expected: 0 or a process token");
        raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, 0L);
        raw.set(JAVA_LONG, RING_PRODUCER_PROCESS_OFFSET, 1234L << 32); // a pid but no start bits
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).isInstanceOf(ShmFormatException.class)
                .hasMessageContaining("producerProcess=0x4d200000000");

        SharedRing.format(raw, 0, SharedRing.Kind.MPSC, 1024); // a token's low bytes may be 0: any of its 8 bytes
        raw.set(JAVA_LONG, RING_PRODUCER_PROCESS_OFFSET, ProcessIdentity.currentToken());
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).as("MPSC producers share their role")
                .isInstanceOf(ShmFormatException.class).hasMessageMatching(".*reserved byte 1(3[6-9]|4[0-3])=.*");
        SharedRing.format(raw, 0, SharedRing.Kind.MPMC, 1024);
        raw.set(JAVA_LONG, RING_CONSUMER_PROCESS_OFFSET, ProcessIdentity.currentToken());
        assertThatThrownBy(() -> SharedRing.wrap(raw, 0)).as("MPMC consumers take turns instead")
                .isInstanceOf(ShmFormatException.class).hasMessageMatching(".*reserved byte 40[0-7]=.*");
    }

    /**
     * A child JVM consumes one message and holds the consumer's role: this process's poll is refused naming it, and
     * the queued messages stay; once the child is SIGKILLed, this process takes the role over and gets every one.
     */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"SPSC", "MPSC"})
    void shouldRefuseASecondConsumerProcessUntilTheHolderIsKilled(SharedRing.Kind kind) throws Exception {
        withConsumerChild(kind, "hold", (ring, go, child) -> {
            assertThatThrownBy(() -> ring.poll(collect)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("ring 'ring' has one consumer process at a time, and pid " + child.pid()
                            + " (alive) is its consumer");
            assertThat(ring.messageCount()).isEqualTo(2);
            offer(ring, "d"); // producing goes on
            child.kill();
            assertThat(drainAll(ring)).containsExactly("b", "c", "d");
            assertThat(ring.stats().skippedRecords()).isZero();
        });
    }

    /**
     * A child JVM consumes, then releases its role and lives on: this process consumes the rest; then the child polls
     * again and is refused, naming this process.
     */
    @ParameterizedTest
    @EnumSource(value = SharedRing.Kind.class, names = {"SPSC", "MPSC"})
    void shouldHandTheConsumerRoleOverByARelease(SharedRing.Kind kind) throws Exception {
        withConsumerChild(kind, "release", (ring, go, child) -> {
            child.awaitLine("RELEASED", BOUND);
            assertThat(drainAll(ring)).containsExactly("b", "c");
            offer(ring, "d");
            go.set(1);
            assertThat(child.awaitLine("REFUSED", BOUND)).contains("pid " + ProcessHandle.current().pid()
                    + " (alive) is its consumer");
            child.awaitSuccess(BOUND);
            assertThat(drainAll(ring)).as("the refused poll took nothing").containsExactly("d");
        });
    }

    /** What a test does once its {@link Consumer} child consumed the first of the messages a, b, c. */
    private interface WithConsumer {
        void run(SharedRing ring, SharedLong go, ChildJvm child) throws Exception;
    }

    /** Queues a, b, c in a new ring of {@code kind} and starts a {@link Consumer} child in {@code mode}. */
    private void withConsumerChild(SharedRing.Kind kind, String mode, WithConsumer test) throws Exception {
        String heapName = names.unique("roles-" + mode);
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", kind, 1024);
            SharedLong go = SharedLong.create(heap, "go");
            offer(ring, "a", "b", "c");
            try (ChildJvm child = ChildJvm.start(Consumer.class, heapName, mode)) {
                assertThat(child.awaitLine("CONSUMED", BOUND)).isEqualTo("CONSUMED a");
                test.run(ring, go, child);
            }
        }
    }

    /** A child JVM produces into an SPSC ring and holds the producer's role until it is SIGKILLed. */
    @Test
    void shouldRefuseASecondSpscProducerProcessUntilTheHolderIsKilled() throws Exception {
        String heapName = names.unique("roles-producer");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 16)) {
            SharedRing ring = SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024);
            SharedLong.create(heap, "go");
            try (ChildJvm child = ChildJvm.start(Producer.class, heapName)) {
                child.awaitLine("PRODUCED", BOUND);
                assertThatThrownBy(() -> offer(ring, "mine")).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("ring 'ring' has one producer process at a time, and pid "
                                + child.pid() + " (alive) is its producer");
                assertThat(drainAll(ring)).containsExactly("child");
                child.kill();
            }
            offer(ring, "mine");
            assertThat(drainAll(ring)).containsExactly("mine");
        }
    }

    private static void offer(SharedRing ring, String... messages) {
        for (String message : messages) {
            byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
            assertThat(ring.offer(1, bytes, 0, bytes.length)).isTrue();
        }
    }

    private static List<String> drainAll(SharedRing ring) {
        List<String> texts = new ArrayList<>();
        ring.drain((type, buffer, offset, length) -> texts.add(text(buffer.asSlice(offset, length)
                .toArray(JAVA_BYTE))), Integer.MAX_VALUE);
        return texts;
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Waits (bounded) until the heap's {@code go} flag is set. */
    private static void awaitGo(SharedHeap heap) {
        SharedLong go = SharedLong.open(heap, "go");
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (go.get() == 0 && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    /**
     * A consumer process: polls one message and prints it; with {@code release}, releases its role, waits for the go
     * flag and polls again, printing how it was refused; with {@code hold}, waits to be killed.
     */
    public static final class Consumer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedRing ring = SharedRing.open(heap, "ring");
                List<String> got = new ArrayList<>();
                ring.poll((type, buffer, offset, length) -> got.add(text(buffer.asSlice(offset, length)
                        .toArray(JAVA_BYTE))));
                RandomKills.say("CONSUMED " + String.join(",", got));
                if (args[1].equals("release")) {
                    ring.release();
                    RandomKills.say("RELEASED");
                }
                awaitGo(heap);
                try {
                    ring.poll((type, buffer, offset, length) -> RandomKills.say("GOT a message it was refused"));
                    RandomKills.say("NOT REFUSED");
                } catch (IllegalStateException refused) {
                    RandomKills.say("REFUSED " + refused.getMessage());
                }
            } catch (RuntimeException e) {
                RandomKills.fail(e);
            }
        }
    }

    /** An SPSC producer process: offers one message, then waits to be killed. */
    public static final class Producer {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                offer(SharedRing.open(heap, "ring", SharedRing.Kind.SPSC), "child");
                RandomKills.say("PRODUCED");
                awaitGo(heap);
            } catch (RuntimeException e) {
                RandomKills.fail(e);
            }
        }
    }
}
