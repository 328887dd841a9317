package org.shm4j.core.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.core.ShmException;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.lang.foreign.ValueLayout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The folder's creation lock ({@link CreationLock}) lets one creation at a time in, across threads and across
 * processes; a creation inside another's {@code beforeLink} goes on at once, whatever the folder's spelling; a holder
 * SIGKILLed mid-creation does not keep it (the next creation gets in once the kernel has dropped the dead process's
 * flock); and nothing is left in the folder.
 */
@EnabledOnOs(OS.LINUX)
class CreationLockTest {
    private static final Duration BOUND = Duration.ofSeconds(30);

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    @TempDir
    Path dir;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldLetOneThreadOfAJvmInAtATime() throws Exception {
        AtomicBoolean released = new AtomicBoolean();
        CompletableFuture<Boolean> second = new CompletableFuture<>();
        Thread taker;
        try (CreationLock first = CreationLock.take(dir)) {
            assertThat(first.held()).isTrue();
            taker = new Thread(() -> {
                try (CreationLock next = CreationLock.take(dir)) {
                    second.complete(next.held() && released.get()); // in only after the first let go
                }
            });
            taker.start();
            awaitWaitingIn(taker, ReentrantLock.class, "tryLock");
            released.set(true); // before the unlock: the taker must see it set once it is in
        }
        assertThat(second.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("the second taker got in after the first")
                .isTrue();
        taker.join(BOUND.toMillis());
    }

    /**
     * An opener adopting a heap of another pid namespace takes the folder's turn (HeapFileFlock.inAdoptionTurn). With
     * its interrupt pending, CreationLock's tryLock threw at once and the adoption went on without the turn, racing
     * the others (since a953141 such an opener gets that far). It waits for the turn and keeps the interrupt.
     */
    @Test
    void shouldTakeTheAdoptionTurnWithTheInterruptPending() throws Exception {
        AtomicBoolean released = new AtomicBoolean();
        CompletableFuture<Boolean> adopter = new CompletableFuture<>();
        Thread taker;
        try (CreationLock first = CreationLock.take(dir)) {
            taker = new Thread(() -> {
                Thread.currentThread().interrupt();
                boolean inTurn = HeapFileFlock.inAdoptionTurn(dir.resolve("heap"), released::get);
                adopter.complete(inTurn && Thread.currentThread().isInterrupted());
            });
            taker.start();
            long deadline = System.nanoTime() + BOUND.toNanos();
            while (!adopter.isDone() && (taker.getState() != Thread.State.TIMED_WAITING
                    || Arrays.stream(taker.getStackTrace()).noneMatch(e -> e.getMethodName().equals("tryLock")))) {
                assertThat(System.nanoTime() - deadline).as("the adopter waiting for its turn, or done").isNegative();
                Thread.onSpinWait();
            }
            released.set(true); // before the unlock: the adopter must see it set once it is in
        }
        assertThat(adopter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .as("in the turn after the first let go, the interrupt still pending").isTrue();
        taker.join(BOUND.toMillis());
    }

    /**
     * An interrupt that arrived while an adopter already waited for its turn among this JVM's threads made tryLock
     * throw, and the adoption went on at once without the turn. It is taken, the wait goes on, and it is set again.
     */
    @Test
    void shouldKeepWaitingForTheAdoptionTurnWhenInterruptedMeanwhile() throws Exception {
        AtomicBoolean released = new AtomicBoolean();
        CompletableFuture<Boolean> adopter = new CompletableFuture<>();
        Thread taker;
        try (CreationLock first = CreationLock.take(dir)) {
            taker = new Thread(() -> {
                boolean inTurn = HeapFileFlock.inAdoptionTurn(dir.resolve("heap"), released::get);
                adopter.complete(inTurn && Thread.currentThread().isInterrupted());
            });
            taker.start();
            awaitWaitingIn(taker, ReentrantLock.class, "tryLock");
            taker.interrupt();
            long deadline = System.nanoTime() + BOUND.toNanos();
            // taken (the flag cleared) and back in the wait, or gone on without the turn
            while (!adopter.isDone() && (taker.isInterrupted() || !waitingIn(taker, ReentrantLock.class, "tryLock"))) {
                assertThat(System.nanoTime() - deadline).as("the adopter waiting again, or done").isNegative();
                Thread.onSpinWait();
            }
            released.set(true); // before the unlock: the adopter must see it set once it is in
        }
        assertThat(adopter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .as("in the turn after the first let go, the interrupt set again").isTrue();
        taker.join(BOUND.toMillis());
    }

    /**
     * An adopter waiting for the folder's flock that another process holds, interrupted meanwhile, gets the turn once
     * that process is SIGKILLed (the kernel drops its flock), and keeps the interrupt. Inside its turn the folder's
     * flock is held: a new descriptor's try is refused.
     */
    @Test
    void shouldGiveAnInterruptedAdopterTheTurnOfAHolderKilledMeanwhile() throws Exception {
        try (ChildJvm holder = ChildJvm.start(Holder.class, dir.toString())) {
            holder.awaitLine("HOLDING", BOUND);
            AtomicBoolean killed = new AtomicBoolean();
            CompletableFuture<Boolean> adopter = new CompletableFuture<>();
            Thread taker = new Thread(() -> {
                boolean inTurn = HeapFileFlock.inAdoptionTurn(dir.resolve("heap"), () -> {
                    int fd = FolderFlock.lock(dir, System.nanoTime());
                    FolderFlock.unlock(fd);
                    return killed.get() && fd < 0;
                });
                adopter.complete(inTurn && Thread.currentThread().isInterrupted());
            });
            taker.start();
            awaitWaitingIn(taker, FolderFlock.class, "flock");
            taker.interrupt();
            killed.set(true); // before the kill: an adoption that got in while the holder lived sees it unset
            holder.kill();
            assertThat(adopter.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .as("in the turn, held, after the holder's death, the interrupt set again").isTrue();
            taker.join(BOUND.toMillis());
        }
    }

    @Test
    void shouldLetACreationInsideAnothersBeforeLinkGoOnAtOnce() {
        String outer = names.unique("outer");
        String inner = names.unique("inner");
        long start = System.nanoTime();
        try (SharedMemory first = SharedMemory.create(outer, 4096, OWNER_ONLY, segment -> {
            try (SharedMemory second = SharedMemory.create(inner, 4096)) { // same folder, same thread
                segment.set(ValueLayout.JAVA_LONG, 0, second.byteSize());
            }
        })) {
            assertThat(first.segment().get(ValueLayout.JAVA_LONG, 0)).isEqualTo(4096);
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("not held up by its own lock")
                .isLessThan(Duration.ofNanos(CreationLock.WAIT_NANOS));
    }

    @Test
    void shouldBeTakenOverFromAHolderKilledMidCreation() throws Exception {
        try (ChildJvm holder = ChildJvm.start(Holder.class, dir.toString())) {
            holder.awaitLine("HOLDING", BOUND);
            AtomicBoolean killed = new AtomicBoolean();
            CompletableFuture<Boolean> creation = new CompletableFuture<>();
            Thread creator = new Thread(() -> {
                try (SharedHeap heap = SharedHeap.create(dir.resolve("after.heap"), 1 << 16)) {
                    creation.complete(killed.get()); // created only once the holder was gone
                } catch (RuntimeException e) {
                    creation.completeExceptionally(e);
                }
            });
            creator.start();
            awaitWaitingIn(creator, FolderFlock.class, "lock");
            killed.set(true); // before the kill: a creation that got in while the holder lived sees it unset
            holder.kill();
            assertThat(creation.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("created after the holder's death")
                    .isTrue();
            creator.join(BOUND.toMillis());
        }
        try (CreationLock again = CreationLock.take(dir)) {
            assertThat(again.held()).isTrue();
        }
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString())).as("nothing but the heap is left in the folder")
                    .containsExactly("after.heap");
        }
        assertThat(CreationLock.foldersInUse()).as("no folder kept once no creation uses it").isZero();
    }

    /**
     * helper-109/111: an interrupted creator failed with "cannot create ...: ClosedByInterruptException". A creator
     * whose interrupt is pending as it begins now creates and keeps it (SharedHeapTest); one interrupted while it
     * waits for its turn still stops, saying so, with nothing made and the interrupt kept.
     */
    @Test
    void shouldSayACreationInterruptedWhileWaitingForItsTurnMadeNothing() throws Exception {
        Path file = dir.resolve("interrupted.region");
        CompletableFuture<Throwable> failure = new CompletableFuture<>();
        AtomicBoolean interruptKept = new AtomicBoolean();
        Thread creator;
        try (CreationLock turn = CreationLock.take(dir)) {
            assertThat(turn.held()).isTrue();
            creator = new Thread(() -> {
                try (SharedMemory made = SharedMemory.create(file, 4096)) {
                    failure.complete(new AssertionError("created " + made));
                } catch (Throwable t) {
                    interruptKept.set(Thread.currentThread().isInterrupted());
                    failure.complete(t);
                }
            });
            creator.start();
            awaitWaitingIn(creator, CreationLock.class, "take");
            creator.interrupt();
            assertThat(failure.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(ShmException.class)
                    .hasMessage("creation of " + file + " interrupted: nothing was made");
        }
        creator.join(BOUND.toMillis());
        assertThat(interruptKept).as("the interrupt status kept").isTrue();
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left).as("nothing made in the folder").isEmpty();
        }
    }

    @Test
    void shouldKnowOneFolderByAnyOfItsNames() throws Exception {
        Path folder = Files.createDirectory(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), folder);
        long start = System.nanoTime();
        try (CreationLock outer = CreationLock.take(folder)) {
            for (Path alias : List.of(link, folder.resolve("."), dir.resolve("real/../real"))) {
                try (CreationLock nested = CreationLock.take(alias)) { // this thread's turn already
                    assertThat(nested.held()).as(alias.toString()).isTrue();
                }
            }
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("no spelling waited for its own turn")
                .isLessThan(Duration.ofNanos(CreationLock.WAIT_NANOS));
        assertThat(CreationLock.foldersInUse()).isZero();
    }

    /** Waits (bounded) until {@code thread} waits with {@code type.method} on its stack: blocked on the lock. */
    private static void awaitWaitingIn(Thread thread, Class<?> type, String method) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!waitingIn(thread, type, method)) {
            assertThat(System.nanoTime() - deadline).as(thread + " waiting in " + method).isNegative();
            Thread.onSpinWait();
        }
    }

    /** @return true if {@code thread} waits (timed) with {@code type.method} on its stack */
    private static boolean waitingIn(Thread thread, Class<?> type, String method) {
        return thread.getState() == Thread.State.TIMED_WAITING && Arrays.stream(thread.getStackTrace())
                .anyMatch(e -> e.getClassName().equals(type.getName()) && e.getMethodName().equals(method));
    }

    /** Takes the creation lock of the folder args[0] and holds it until killed. */
    public static final class Holder {
        public static void main(String[] args) throws InterruptedException {
            CreationLock lock = CreationLock.take(Path.of(args[0]));
            System.out.println(lock.held() ? "HOLDING" : "NOT HELD");
            Thread.sleep(TimeUnit.MINUTES.toMillis(5)); // until the test kills it
        }
    }
}
