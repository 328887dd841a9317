package org.shm4j.sync;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.shm4j.core.BlockType;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.internal.CoordinationBlocks;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.testing.ChildJvm;
import org.shm4j.testing.ShmNames;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * {@link SharedJoinableQueue}: Python's {@code JoinableQueue} ({@code task_done()}, {@code join()}) across threads
 * and processes; an item is a task while it is queued and is counted once taken, so no {@code taskDone} finds it
 * uncounted and a failed or killed offer leaves nothing to wait for; a dead worker's task stays unfinished, which a
 * timed join reports.
 */
@Timeout(120)
class SharedJoinableQueueTest {
    private static final Duration BOUND = Children.BOUND;
    private static final long STOP = -1;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldJoinOnceThreadsHaveFinishedEveryTask() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "jobs", 1 << 12, Codec.longs());
            AtomicLong sum = new AtomicLong();
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                for (int w = 0; w < 3; w++) {
                    pool.submit(() -> {
                        while (true) {
                            long item = queue.take();
                            if (item != STOP) {
                                sum.addAndGet(item); // the work, finished before taskDone
                            }
                            queue.taskDone();
                            if (item == STOP) {
                                return null;
                            }
                        }
                    });
                }
                long n = 10_000;
                for (long i = 1; i <= n; i++) {
                    queue.put(i);
                }
                assertThat(queue.join(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(sum.get()).as("every task finished before join returned").isEqualTo(n * (n + 1) / 2);
                assertThat(queue.unfinishedTasks()).isZero();
                for (int w = 0; w < 3; w++) {
                    queue.put(STOP);
                }
                queue.join();
                assertThat(queue).hasToString("joinable queue 'jobs' (0 unfinished)");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void shouldWakeAJoinAtTheLastTaskDoneAndRefuseOneTooMany() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "q", 1024, Codec.longs());
            assertThat(queue.join(0, TimeUnit.SECONDS)).as("nothing put: joined").isTrue();
            queue.put(1L);
            queue.put(2L);
            assertThat(queue.poll()).isEqualTo(1L);
            assertThat(queue.poll()).isEqualTo(2L);
            assertThat(queue.unfinishedTasks()).as("taken, not done").isEqualTo(2);
            assertThat(queue.join(30, TimeUnit.MILLISECONDS)).isFalse();
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Boolean> joined = pool.submit(() -> queue.join(BOUND.toSeconds(), TimeUnit.SECONDS));
                queue.taskDone();
                assertThat(queue.join(30, TimeUnit.MILLISECONDS)).isFalse();
                assertThat(joined.isDone()).isFalse();
                queue.taskDone();
                assertThat(joined.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            } finally {
                pool.shutdownNow();
            }
            assertThatThrownBy(queue::taskDone).isInstanceOf(IllegalStateException.class)
                    .hasMessage("joinable queue 'q': taskDone() called more times than items were taken (no taken"
                            + " task is unfinished)");
            assertThat(queue.unfinishedTasks()).isZero();
        }
    }

    @Test
    void shouldCountNothingForAnOfferThatFails() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<String> queue = SharedJoinableQueue.create(heap, "q", 1024, Codec.utf8());
            int put = 0;
            while (queue.offer("x".repeat(100))) {
                put++;
            }
            assertThat(queue.unfinishedTasks()).as("a full queue's refusal is not counted").isEqualTo(put);
            assertThat(queue.offer("y".repeat(100), 20, TimeUnit.MILLISECONDS)).isFalse();
            assertThatThrownBy(() -> queue.offer(null)).isInstanceOf(NullPointerException.class);
            assertThatThrownBy(() -> queue.offer("z".repeat(5000))).isInstanceOf(IllegalArgumentException.class);
            Thread.currentThread().interrupt();
            assertThatThrownBy(() -> queue.put("w")).isInstanceOf(InterruptedException.class);
            assertThat(queue.unfinishedTasks()).isEqualTo(put);
            assertThat(queue.size()).isEqualTo(put);
        }
    }

    /**
     * The tag of a record is never 0, the count's "none yet": the record at ring position 32 GiB - 8 got
     * 2<sup>32</sup> (position / 8 + 1), whose low half is 0; and records next to each other get different tags.
     * Tags below that position are as they were (position / 8 + 1).
     */
    @Test
    void shouldNeverTagARecordZeroNorTwoNeighboursAlike() {
        long zeroOnce = (1L << 35) - 8; // position / 8 + 1 = 2^32
        List<Integer> tags = new ArrayList<>();
        for (long position = zeroOnce - 16; position <= zeroOnce + 16; position += 8) {
            tags.add(TaskCount.tag(position));
        }
        assertThat(tags).as("tags of the records at 32 GiB - 24 .. 32 GiB + 8").doesNotContain(0)
                .doesNotHaveDuplicates();
        assertThat(TaskCount.tag(0)).isEqualTo(1);
        assertThat(TaskCount.tag(zeroOnce - 8)).isEqualTo(-1); // 2^32 - 1, unsigned: the largest
        assertThat(TaskCount.tag(zeroOnce)).isEqualTo(1); // the period starts again, 2^32 - 1 slots on
        assertThat(TaskCount.tag(Long.MAX_VALUE - 7)).isNotZero();
    }

    /**
     * A take that finds 2<sup>31</sup>-1 taken tasks unfinished: refused with the limit named, its item dropped (the
     * ring moved past it: a handler cannot leave a record queued) and the count and its tag as they were; a taskDone
     * makes room for the next.
     */
    @Test
    void shouldRefuseATakeBeyondTheMostItCountsAndLeaveTheCountAsItWas() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "q", 1024, Codec.longs());
            queue.put(1L);
            assertThat(queue.take()).isEqualTo(1L); // the record at 0: its tag is 1
            MemorySegment count = heap.lookup("q", SyncLayout.TASKS).segment();
            long full = (long) TaskCount.tag(0) << 32 | SyncLayout.COORD_VALUE_MASK;
            count.set(JAVA_LONG, SyncLayout.TASKS_STATE_OFFSET, full);
            queue.put(2L);
            assertThatThrownBy(queue::poll).isInstanceOf(IllegalStateException.class).hasMessage("joinable queue"
                    + " 'q': 2147483647 taken tasks are unfinished (the most it counts): the item just taken is"
                    + " dropped, neither returned nor counted");
            assertThat(count.get(JAVA_LONG, SyncLayout.TASKS_STATE_OFFSET)).isEqualTo(full);
            assertThat(queue.isEmpty()).isTrue();
            queue.taskDone();
            queue.put(3L);
            assertThat(queue.poll()).isEqualTo(3L);
            assertThat(queue.unfinishedTasks()).isEqualTo(SyncLayout.COORD_VALUE_MASK);
            assertThat(count.get(JAVA_INT, SyncLayout.TASKS_TAG_OFFSET)).as("its record at 32").isEqualTo(5);
        }
    }

    @Test
    void shouldOpenOnlyAJoinableQueueAndLeaveNothingBehindWhenRefused() throws InterruptedException {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue.create(heap, "plain", 1024, Codec.longs());
            assertThatThrownBy(() -> SharedJoinableQueue.open(heap, "plain", Codec.longs()))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessageContaining("plain");
            assertThatThrownBy(() -> SharedJoinableQueue.openOrCreate(heap, "plain", 1024, Codec.longs()))
                    .isInstanceOf(ShmTypeMismatchException.class);
            assertThatThrownBy(() -> SharedJoinableQueue.create(heap, "plain", 1024, Codec.longs()))
                    .isInstanceOf(ShmAlreadyExistsException.class);
            assertThatThrownBy(() -> SharedJoinableQueue.create(heap, "q", 1000, Codec.longs()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("joinable queue 'q'");
            assertThatThrownBy(() -> SharedJoinableQueue.create(heap, "n".repeat(90), 1024, Codec.longs()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'<name>.queue'");
            assertThat(heap.blocks()).as("nothing made by the refused calls").hasSize(1);
            assertThatThrownBy(() -> SharedJoinableQueue.open(heap, "absent", Codec.longs()))
                    .isInstanceOf(ShmNotFoundException.class);

            SharedJoinableQueue<Long> made = SharedJoinableQueue.openOrCreate(heap, "j", 1024, Codec.longs());
            SharedJoinableQueue<Long> opened = SharedJoinableQueue.open(heap, "j", Codec.longs());
            SharedJoinableQueue<Long> again = SharedJoinableQueue.openOrCreate(heap, "j", 1024, Codec.longs());
            assertThat(made.offer(5L)).isTrue();
            assertThat(opened.unfinishedTasks()).isOne();
            assertThat(again.take()).isEqualTo(5L);
            opened.taskDone();
            assertThat(made.unfinishedTasks()).isZero();
            assertThatThrownBy(() -> SharedJoinableQueue.open(heap, "j", Codec.utf8()))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageStartingWith("joinable queue 'j': its queue 'j.queue' ");
            assertThatThrownBy(() -> SharedJoinableQueue.openOrCreate(heap, "j", 1024, Codec.utf8()))
                    .isInstanceOf(ShmTypeMismatchException.class)
                    .hasMessageStartingWith("joinable queue 'j': its queue 'j.queue' ");

            SharedQueue.create(heap, "half.queue", 1024, Codec.longs()); // a creator killed before the count
            assertThatThrownBy(() -> SharedJoinableQueue.open(heap, "half", Codec.longs()))
                    .isInstanceOf(ShmNotFoundException.class).hasMessage("joinable queue 'half' has its queue"
                            + " 'half.queue' but no task count 'half': its creator was killed before finishing it, or"
                            + " the heap filled up meanwhile (create or openOrCreate finishes it)");
            assertThat(SharedJoinableQueue.create(heap, "half", 1024, Codec.longs()).unfinishedTasks()).isZero();
        }
    }

    /**
     * helper-124: a create refused because the heap had no room for the count left the queue it had made (a heap frees
     * no block): the room for both is checked first now.
     */
    @Test
    void shouldMakeNothingWhenTheHeapHasNoRoomForBoth() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 14)) {
            // room for the queue and all but the last line of the count
            heap.allocate("filler", new BlockType(0x7E57, 1),
                    heap.freeBytes() - SharedRing.requiredBytes(1024) - SyncLayout.TASKS_SIZE + 64);
            int blocks = heap.blocks().size();
            assertThatThrownBy(() -> SharedJoinableQueue.create(heap, "jq", 1024, Codec.longs()))
                    .isInstanceOf(ShmFullException.class).hasMessageStartingWith("joinable queue 'jq' needs 2 catalog"
                            + " entries and " + (SharedRing.requiredBytes(1024) + SyncLayout.TASKS_SIZE) + " bytes")
                    .hasMessageEndingWith("(nothing was made)");
            assertThatThrownBy(() -> SharedJoinableQueue.openOrCreate(heap, "jq", 1024, Codec.longs()))
                    .isInstanceOf(ShmFullException.class);
            assertThat(heap.blocks()).as("nothing left behind").hasSize(blocks);
        }
    }

    /**
     * The classic example of Python's guide: worker processes take tasks and mark them done, the parent joins; then a
     * worker process is killed holding a task it took: that task stays unfinished, and a timed join says so.
     */
    @Test
    void shouldJoinWorkerProcessesAndReportATaskADeadWorkerTook() throws Exception {
        String heapName = names.unique("joinable");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "jobs", 1 << 14, Codec.longs());
            SharedLong sum = SharedLong.create(heap, "sum");
            long n = 2_000;
            try (ChildJvm one = ChildJvm.start(Worker.class, heapName, "done");
                 ChildJvm two = ChildJvm.start(Worker.class, heapName, "done")) {
                for (long i = 1; i <= n; i++) {
                    queue.put(i);
                }
                assertThat(queue.join(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(sum.get()).isEqualTo(n * (n + 1) / 2);
                queue.put(STOP);
                queue.put(STOP);
                one.awaitSuccess(BOUND);
                two.awaitSuccess(BOUND);
            }
            try (ChildJvm holder = ChildJvm.start(Worker.class, heapName, "hold")) {
                queue.put(7L);
                holder.awaitLine("TOOK 7", BOUND);
                holder.kill();
            }
            assertThat(queue.join(100, TimeUnit.MILLISECONDS)).as("the dead worker's task").isFalse();
            assertThat(queue.unfinishedTasks()).isOne();
            assertThat(queue.isEmpty()).isTrue();
        }
    }

    /**
     * Producer processes killed at random moments while they offer: every item committed is taken and done, and join
     * returns (a producer counted an item before committing it once, so one killed between the two left a task
     * counted for good).
     */
    @Test
    void shouldLeaveAtMostOneTaskCountedPerProducerKilledWhileOffering() throws Exception {
        String heapName = names.unique("joinable-kill");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "jobs", 1 << 16, Codec.longs());
            // a producer killed inside its claim leaves it open: skipped by the next poll after this, not 5 s
            SharedQueue.open(heap, "jobs.queue", Codec.longs()).setStallTimeout(Duration.ofMillis(100));
            int kills = 3;
            List<Long> taken = new ArrayList<>();
            for (int k = 0; k < kills; k++) {
                try (ChildJvm producer = ChildJvm.start(Producer.class, heapName)) {
                    producer.awaitLine("OFFERING", BOUND);
                    for (int i = 0; i < 2_000; i++) { // take some while it offers: the kill lands mid-stream
                        Long item = queue.poll(BOUND.toSeconds(), TimeUnit.SECONDS);
                        assertThat(item).isNotNull();
                        taken.add(item);
                        queue.taskDone();
                    }
                    producer.kill();
                }
                // a worker's timed poll, not poll(): a producer killed between its claim and its mark leaves a claim
                // at the head that poll() answers null to until the stall rule skips it, and join waits for the
                // items behind it (as documented) while no consumer polls
                for (Long item; (item = queue.poll(500, TimeUnit.MILLISECONDS)) != null; ) {
                    taken.add(item);
                    queue.taskDone();
                }
            }
            assertThat(queue.unfinishedTasks()).as("a killed producer leaves nothing to wait for").isZero();
            assertThat(queue.join(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(taken).doesNotHaveDuplicates();
        }
    }

    /**
     * helper-121: an offer counted its task before it waited for room, so a producer killed while blocked in
     * {@code put} on a full queue left a task counted for good. It counts once it has room now.
     */
    @Test
    void shouldCountNothingForAProducerKilledWhileItWaitsForRoom() throws Exception {
        String heapName = names.unique("joinable-full");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            int full = 0;
            while (queue.offer((long) full)) {
                full++;
            }
            MemorySegment ring = heap.find("jobs.queue").orElseThrow().segment();
            try (ChildJvm producer = ChildJvm.start(Producer.class, heapName, "put")) {
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (((int) JAVA_INT.varHandle().getVolatile(ring, SyncLayout.RING_NOT_FULL_WAITERS_OFFSET)
                        & SyncLayout.RING_WAITING) == 0) { // blocked in put, waiting for room
                    assertThat(System.nanoTime() - deadline).as("the producer blocked").isNegative();
                    Thread.onSpinWait();
                }
                assertThat(queue.unfinishedTasks()).as("nothing counted while it waits").isEqualTo(full);
                producer.kill();
            }
            for (int i = 0; i < full; i++) {
                assertThat(queue.poll()).isEqualTo(i);
                queue.taskDone();
            }
            assertThat(queue.join(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        }
    }

    /**
     * A producer process killed while its codec writes an item (a codec that blocks there): the item was not counted
     * yet, so nothing is left unfinished, and the item offered behind its claim is taken once the claim is skipped.
     * The count used to come before the codec, which left that task counted for good.
     */
    @Test
    void shouldCountNothingForAProducerKilledWhileItsCodecWrites() throws Exception {
        String heapName = names.unique("joinable-codec");
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            try (ChildJvm producer = ChildJvm.start(Producer.class, heapName, "stuck")) {
                producer.awaitLine("ENCODING", BOUND);
                producer.kill();
            }
            assertThat(queue.unfinishedTasks()).as("nothing counted for the item being written").isZero();
            queue.put(5L);
            assertThat(queue.poll(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo(5L);
            queue.taskDone();
            assertThat(queue.join(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        }
    }

    /** As a BlockingQueue (helper-133): each item added is a task, a peek is none, each item drained is one taken. */
    @Test
    void shouldCountTasksThroughTheBlockingQueueMethods() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 20)) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            java.util.concurrent.BlockingQueue<Long> queue = jobs;
            queue.addAll(List.of(1L, 2L, 3L));
            assertThat(jobs.unfinishedTasks()).isEqualTo(3);
            assertThat(queue.peek()).isEqualTo(1L);
            assertThat(queue.size()).isEqualTo(3);
            List<Long> taken = new ArrayList<>();
            assertThat(queue.drainTo(taken)).isEqualTo(3);
            assertThat(taken).containsExactly(1L, 2L, 3L);
            assertThat(jobs.join(10, TimeUnit.MILLISECONDS)).as("taken, not done").isFalse();
            taken.forEach(item -> jobs.taskDone());
            assertThat(jobs.join(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(queue::iterator).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageStartingWith("joinable queue 'jobs' cannot be iterated");
            queue.addAll(List.of(4L, 5L));
            List<Long> refusing = new ArrayList<>() {
                @Override
                public boolean add(Long item) {
                    throw new IllegalStateException("refused " + item);
                }
            };
            assertThatThrownBy(() -> queue.drainTo(refusing)).hasMessage("refused 4");
            assertThat(jobs.unfinishedTasks()).as("the item taken and not moved is done").isOne();
            assertThat(queue.poll()).isEqualTo(5L);
            jobs.taskDone();
            assertThat(queue.remainingCapacity()).isPositive();
            while (queue.offer(7L)) {
                assertThat(jobs.unfinishedTasks()).isLessThanOrEqualTo(64);
            }
            assertThat(queue.remainingCapacity()).as("64 longs of 16 bytes fill 1024").isZero();
            int counted = jobs.unfinishedTasks();
            assertThatThrownBy(() -> queue.add(8L)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("joinable queue 'jobs' is full");
            assertThat(jobs.unfinishedTasks()).as("nothing counted for the refused add").isEqualTo(counted);
        }
    }

    /**
     * A drainTo whose target's add throws an {@link Error} (an {@link OutOfMemoryError} as a list grows, say) or a
     * checked exception sneakily (a collection written in Kotlin, say): the item taken and not moved is done, as for
     * a RuntimeException. Before, it stayed counted (first for an Error, then for a checked exception): join() never
     * returned.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void shouldFinishTheTaskOfAnItemWhoseDrainTargetThrowsAnErrorOrACheckedException(boolean error) throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            jobs.addAll(List.of(1L, 2L));
            List<Long> refusing = new ArrayList<>() {
                @Override
                public boolean add(Long item) {
                    String message = "no room for " + item;
                    SharedJoinableQueueTest.<RuntimeException>sneakyThrow(error ? new OutOfMemoryError(message)
                            : new IOException(message));
                    return false;
                }
            };
            assertThat(catchThrowable(() -> jobs.drainTo(refusing)))
                    .isInstanceOf(error ? OutOfMemoryError.class : IOException.class).hasMessage("no room for 1");
            assertThat(jobs.unfinishedTasks()).as("2 queued, 1 done by the queue").isOne();
            assertThat(jobs.poll()).isEqualTo(2L);
            jobs.taskDone();
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
        }
    }

    /**
     * clear() discards the items queued as tasks taken and done: a join blocked on them returns, a task taken before
     * stays unfinished until its taskDone, and no taskDone is due for the items cleared. Before, they stayed counted,
     * and the join waited for taskDones nobody knew to call.
     */
    @Test
    void shouldCountTheItemsClearedAsDone() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            jobs.addAll(List.of(1L, 2L, 3L));
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Boolean> joined = pool.submit(() -> jobs.join(BOUND.toSeconds(), TimeUnit.SECONDS));
                jobs.clear();
                assertThat(jobs.unfinishedTasks()).isZero();
                assertThat(joined.get(BOUND.toSeconds(), TimeUnit.SECONDS)).as("a join waiting for them").isTrue();
            } finally {
                pool.shutdownNow();
            }
            assertThat(jobs.isEmpty()).isTrue();
            jobs.addAll(List.of(4L, 5L));
            assertThat(jobs.take()).isEqualTo(4L);
            SharedRing ring = SharedQueue.open(heap, "jobs.queue", Codec.longs()).ring();
            assertThat(ring.offer(7, new byte[3], 0, 3)).as("of another type: discarded too").isTrue();
            jobs.clear();
            assertThat(jobs.unfinishedTasks()).as("4, taken before the clear").isOne();
            assertThat(jobs.join(10, TimeUnit.MILLISECONDS)).isFalse();
            jobs.taskDone();
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(jobs::taskDone).as("none due for the items cleared")
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    /**
     * An item no poll can hand out (its codec cannot decode it, or it is of another type): the poll, or drainTo,
     * throws saying that the queue marked its task done, and join does not wait for it. Before, it stayed counted
     * while the caller, given an exception, could not know a taskDone was due.
     */
    @Test
    void shouldFinishTheTaskOfAnItemNoPollCanHandOut() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            SharedRing ring = SharedQueue.open(heap, "jobs.queue", Codec.longs()).ring();
            byte[] half = {1, 2, 3, 4};
            String done = "; the message is consumed and its task done by the joinable queue (no taskDone() for it)";
            assertThat(ring.offer(1, half, 0, half.length)).as("type 1, written by other code").isTrue();
            assertThatThrownBy(jobs::poll).isInstanceOf(org.shm4j.core.ShmFormatException.class)
                    .hasMessageStartingWith("joinable queue 'jobs': its codec (type 0x00000001) cannot decode a"
                            + " message of 4 bytes").hasMessageContaining(done + ": ");
            assertThat(ring.offer(7, half, 0, half.length)).isTrue();
            assertThatThrownBy(() -> jobs.poll(1, TimeUnit.SECONDS)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("joinable queue 'jobs' holds a message of type 0x00000007, but its codec reads type"
                            + " 0x00000001" + done);
            assertThat(jobs.unfinishedTasks()).isZero();
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
            jobs.put(1L);
            assertThat(ring.offer(1, half, 0, half.length)).isTrue();
            jobs.put(3L);
            List<Long> taken = new ArrayList<>();
            assertThatThrownBy(() -> jobs.drainTo(taken)).hasMessageContaining(done);
            assertThat(taken).containsExactly(1L);
            assertThat(jobs.unfinishedTasks()).as("1 taken, 3 queued").isEqualTo(2);
            assertThat(jobs.take()).isEqualTo(3L);
            jobs.taskDone();
            jobs.taskDone();
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(jobs::taskDone).isInstanceOf(IllegalStateException.class);
        }
    }

    /**
     * An item whose codec's decode throws an {@link Error} (a {@link StackOverflowError} of a deeply nested value,
     * say): the Error passes through the poll, which the ring counts as consuming the item, and the queue marks its
     * task done, as for an item the codec cannot decode. Before, it stayed counted with no one to finish it: join()
     * never returned, and unfinishedTasks() said 1 with nothing queued or held.
     */
    @Test
    void shouldFinishTheTaskOfAnItemWhoseDecodeThrowsAnError() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, new OverflowingCodec());
            jobs.put(-1L);
            jobs.put(2L);
            assertThatThrownBy(jobs::poll).isInstanceOf(StackOverflowError.class).hasMessage("decoding -1");
            assertThat(jobs.unfinishedTasks()).as("2 queued, -1 done by the queue").isEqualTo(1);
            jobs.put(-1L);
            List<Long> taken = new ArrayList<>();
            assertThatThrownBy(() -> jobs.drainTo(taken)).isInstanceOf(StackOverflowError.class);
            assertThat(taken).containsExactly(2L);
            jobs.taskDone();
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(jobs::taskDone).isInstanceOf(IllegalStateException.class);
        }
    }

    /**
     * What else leaves the ring's handler after the item was counted passes through the poll too, the item consumed:
     * a checked exception a codec's decode throws sneakily (as Kotlin code may), and an {@link Error} thrown before
     * the decode (here a {@link StackOverflowError} from the codec's {@code typeId()}, as a poll made with the stack
     * nearly full may get at that call). The queue marks their tasks done as for an Error from the decode. Before,
     * only what the decode threw that was an Error was noted, and these stayed counted: join() never returned.
     */
    @Test
    void shouldFinishTheTaskOfAnItemWhoseHandlerThrowsAnythingElse() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            EscapingCodec codec = new EscapingCodec();
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, codec);
            jobs.put(-1L);
            jobs.put(2L);
            assertThat(catchThrowable(() -> jobs.poll(1, TimeUnit.SECONDS))).isInstanceOf(IOException.class)
                    .hasMessage("decoding -1");
            assertThat(jobs.unfinishedTasks()).as("2 queued, -1 done by the queue").isEqualTo(1);
            codec.typeIdOverflows = true;
            assertThatThrownBy(jobs::poll).isInstanceOf(StackOverflowError.class).hasMessage("typeId");
            codec.typeIdOverflows = false;
            assertThat(jobs.unfinishedTasks()).as("2 done by the queue").isZero();
            jobs.put(3L);
            assertThat(jobs.take()).isEqualTo(3L);
            jobs.taskDone();
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(jobs::taskDone).isInstanceOf(IllegalStateException.class);
        }
    }

    /**
     * An {@link InterruptedException} a codec throws sneakily is a failure of the call, as any checked exception it
     * throws so: the untimed {@code poll()} and {@code peek()} throw the decode's as it was thrown (the poll's item
     * consumed and its task done, the peek's item left queued), and {@code offer(value)} throws the encode's, the
     * value not queued; none sets the thread's interrupt status. Before, poll() and peek() threw an
     * {@link AssertionError} (the ring's untimed poll took the exception for its turn's acquire), the polled item's
     * task stayed counted (join() never returned), and offer(value) returned false, as for a full queue, with the
     * interrupt status set.
     */
    @Test
    void shouldFailACallWhoseCodecThrowsInterruptedExceptionSneakily() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            InterruptingCodec codec = new InterruptingCodec();
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, codec);
            jobs.put(-1L);
            assertThat(catchThrowable(jobs::peek)).isInstanceOf(InterruptedException.class).hasMessage("decoding -1");
            assertThat(jobs.unfinishedTasks()).as("-1 still queued").isOne();
            assertThat(catchThrowable(jobs::poll)).isInstanceOf(InterruptedException.class).hasMessage("decoding -1");
            assertThat(Thread.interrupted()).isFalse();
            assertThat(jobs.unfinishedTasks()).as("-1 consumed, its task done by the queue").isZero();
            assertThat(catchThrowable(() -> jobs.offer(-2L))).isInstanceOf(InterruptedException.class)
                    .hasMessage("encoding -2");
            assertThat(Thread.interrupted()).isFalse();
            assertThat(jobs.isEmpty()).as("-2 not queued").isTrue();
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
        }
    }

    /**
     * A decode that closes its own view of the heap and then throws: the ring cannot move past the item through the
     * closed view, so the item stays queued with its task counted, and the next consumer (here through the view kept
     * open) takes both over, as from a consumer that died in the handler; the poll throws the queue's "heap closed",
     * with the decode's throwable kept as suppressed. Before, the decode's throwable was dropped.
     */
    @Test
    void shouldKeepTheDecodesThrowableWhenTheRingCannotMovePastTheItemThroughAClosedView() throws Exception {
        String heapName = names.unique("closed-in-decode");
        try (SharedHeap kept = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(kept, "jobs", 1024, Codec.longs());
            jobs.put(-1L);
            SharedHeap closing = SharedHeap.open(heapName);
            StackOverflowError overflow = new StackOverflowError("decoding -1");
            SharedJoinableQueue<Long> closingJobs = SharedJoinableQueue.open(closing, "jobs",
                    ClosingDecode.closingThenThrowing(closing, overflow));
            assertThat(catchThrowable(closingJobs::poll)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("is closed").satisfies(e -> assertThat(e.getSuppressed()).containsExactly(
                            overflow));
            assertThat(jobs.unfinishedTasks()).as("queued, and counted by the closed view's poll").isEqualTo(2);
            assertThat(jobs.poll()).as("handed over again, its task taken over").isEqualTo(-1L);
            assertThat(jobs.unfinishedTasks()).isOne();
            jobs.taskDone();
            assertThat(jobs.join(0, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(jobs::taskDone).isInstanceOf(IllegalStateException.class);
        }
    }

    /**
     * Items taken through the ring opened as a plain queue count nothing and wake nobody: a blocked join notices
     * them gone by its bounded sleep, and returns.
     */
    @Test
    void shouldReturnFromJoinOnceItemsAreTakenThroughAPlainQueue() throws Exception {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedJoinableQueue<Long> jobs = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            SharedQueue<Long> plain = SharedQueue.open(heap, "jobs.queue", Codec.longs());
            jobs.put(1L);
            plain.put(2L);
            assertThat(jobs.unfinishedTasks()).as("both queued: tasks").isEqualTo(2);
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<Void> joined = pool.submit(() -> {
                    jobs.join();
                    return null;
                });
                assertThat(jobs.join(30, TimeUnit.MILLISECONDS)).isFalse();
                assertThat(plain.poll()).isEqualTo(1L);
                assertThat(plain.poll()).isEqualTo(2L);
                assertThat(joined).as("no wake: the 10 ms bound").succeedsWithin(BOUND);
                assertThat(jobs.unfinishedTasks()).isZero();
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /**
     * A task count of layout version 1 (which counted tasks put) is refused, naming the joinable queue; one of a later
     * version was refused with the same words, as made by an older shm4j.
     */
    /**
     * helper-247: used after its heap was closed, a joinable queue's queue methods named "SharedQueue 'j.queue'", a
     * name its user never gave, and {@code unfinishedTasks()} named "ring 'j.queue'"; each names the joinable queue.
     */
    @Test
    void shouldNameTheJoinableQueueOnceItsHeapIsClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 20);
        SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "j", 1024, Codec.longs());
        queue.add(1L);
        heap.close();
        for (ThrowingCallable call : List.<ThrowingCallable>of(() -> queue.offer(2L), () -> queue.put(2L),
                () -> queue.add(2L), queue::poll, queue::take, queue::peek, queue::size, queue::isEmpty,
                queue::remainingCapacity, () -> queue.drainTo(new ArrayList<>()), queue::clear,
                queue::unfinishedTasks, queue::taskDone, queue::join)) {
            assertThatThrownBy(call).isInstanceOf(IllegalStateException.class)
                    .hasMessageMatching("(SharedJoinableQueue|joinable queue) 'j' cannot be used: .*");
        }
    }

    @Test
    void shouldRefuseACountOfTheOldLayout() {
        try (SharedHeap heap = SharedHeap.anonymous(1 << 16)) {
            SharedQueue.create(heap, "old.queue", 1024, Codec.longs());
            CoordinationBlocks.create(heap, "old", new BlockType(SyncLayout.TASKS.tag(), 1), SyncLayout.TASKS_SIZE, 0,
                    0, 0);
            String refusal = "joinable queue 'old': its task count is of layout version 1 (expected: 2; version 1,"
                    + " made by an older shm4j, counted the tasks put, not the tasks taken: make the queue anew, under"
                    + " another name or in another heap)";
            assertThatThrownBy(() -> SharedJoinableQueue.open(heap, "old", Codec.longs()))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessage(refusal);
            assertThatThrownBy(() -> SharedJoinableQueue.openOrCreate(heap, "old", 1024, Codec.longs()))
                    .isInstanceOf(ShmTypeMismatchException.class).hasMessage(refusal);
            SharedQueue.create(heap, "new.queue", 1024, Codec.longs());
            CoordinationBlocks.create(heap, "new", new BlockType(SyncLayout.TASKS.tag(), 3), SyncLayout.TASKS_SIZE, 0,
                    0, 0);
            assertThatThrownBy(() -> SharedJoinableQueue.open(heap, "new", Codec.longs()))
                    .as("a later version is no older shm4j's").isInstanceOf(ShmTypeMismatchException.class)
                    .message().contains("'new'").doesNotContain("older shm4j");
        }
    }

    /**
     * A joiner process killed while it blocks in join(), its waiters bit set: the count and the other joiners go on as
     * if it never was; a joiner blocked with that bit left set is woken by the last taskDone.
     */
    @Test
    void shouldLetOthersJoinAfterAJoinerIsKilled() throws Exception {
        String heapName = names.unique("joinable-joiner");
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (SharedHeap heap = SharedHeap.create(heapName, 1 << 20)) {
            SharedJoinableQueue<Long> queue = SharedJoinableQueue.create(heap, "jobs", 1024, Codec.longs());
            MemorySegment count = heap.find("jobs").orElseThrow().segment();
            queue.put(1L);
            try (ChildJvm joiner = ChildJvm.start(Worker.class, heapName, "join")) {
                joiner.awaitLine("JOINING", BOUND);
                long deadline = System.nanoTime() + BOUND.toNanos();
                while (((int) JAVA_INT.varHandle().getVolatile(count, SyncLayout.COORD_WORD_OFFSET)
                        & SyncLayout.COORD_WAITERS) == 0) { // about to sleep in the futex
                    assertThat(System.nanoTime() - deadline).as("the joiner set the waiters bit").isNegative();
                    Thread.onSpinWait();
                }
                joiner.kill();
            }
            Future<Void> joined = pool.submit(() -> {
                queue.join();
                return null;
            });
            assertThat(queue.take()).isEqualTo(1L);
            assertThat(queue.unfinishedTasks()).isOne();
            assertThat(queue.join(20, TimeUnit.MILLISECONDS)).as("taken, not done").isFalse();
            assertThat(joined).isNotDone();
            queue.taskDone();
            assertThat(joined).as("woken by the last taskDone").succeedsWithin(BOUND);
            assertThat(queue.join(0, TimeUnit.SECONDS)).isTrue();
            assertThat(queue).hasToString("joinable queue 'jobs' (0 unfinished)");
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * {@code main(heap, "done" | "hold" | "join")}: takes tasks; "done" marks each done until a stop, "hold" never
     * does; "join" only joins, until killed.
     */
    public static final class Worker {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                SharedJoinableQueue<Long> queue = SharedJoinableQueue.open(heap, "jobs", Codec.longs());
                if (args[1].equals("join")) {
                    System.out.println("JOINING");
                    queue.join(BOUND.toSeconds(), TimeUnit.SECONDS); // blocks until killed: its task is never done
                    return;
                }
                SharedLong sum = args[1].equals("done") ? SharedLong.open(heap, "sum") : null;
                while (true) {
                    long item = queue.take();
                    if (sum == null) {
                        System.out.println("TOOK " + item);
                        Thread.sleep(BOUND.toMillis()); // holds the task until killed
                    }
                    if (item != STOP) {
                        sum.getAndAdd(item);
                    }
                    queue.taskDone();
                    if (item == STOP) {
                        return;
                    }
                }
            }
        }
    }

    /**
     * {@code main(heap)}: offers increasing numbers, unique across runs (its pid in the high bits), until killed;
     * {@code main(heap, "put")}: puts one, waiting for room until killed; {@code main(heap, "stuck")}: puts one
     * whose codec says ENCODING and then waits, until killed, in the middle of writing it.
     */
    public static final class Producer {
        public static void main(String[] args) throws InterruptedException {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                if (args.length > 1 && args[1].equals("stuck")) {
                    SharedJoinableQueue.open(heap, "jobs", new StuckCodec()).put(-7L);
                    return;
                }
                SharedJoinableQueue<Long> queue = SharedJoinableQueue.open(heap, "jobs", Codec.longs());
                if (args.length > 1) {
                    queue.put(-7L);
                    return;
                }
                long base = ProcessHandle.current().pid() << 32;
                System.out.println("OFFERING");
                for (long i = 0; ; i++) {
                    if (!queue.offer(base + i, BOUND.toSeconds(), TimeUnit.SECONDS)) {
                        throw new IllegalStateException("no room within " + BOUND);
                    }
                }
            }
        }
    }

    /** {@link Codec#longs()}, whose decode of a negative value throws {@link StackOverflowError}. */
    private static final class OverflowingCodec extends LongsWithHook {
        @Override
        public Long decode(MemorySegment source, long offset, int length) {
            Long value = super.decode(source, offset, length);
            if (value < 0) {
                throw new StackOverflowError("decoding " + value);
            }
            return value;
        }
    }

    /**
     * {@link Codec#longs()}, whose decode of a negative value throws {@link IOException} sneakily, and whose
     * {@code typeId()} throws {@link StackOverflowError} while {@link #typeIdOverflows} is set.
     */
    private static final class EscapingCodec extends LongsWithHook {
        volatile boolean typeIdOverflows;

        @Override
        public int typeId() {
            if (typeIdOverflows) {
                throw new StackOverflowError("typeId");
            }
            return super.typeId();
        }

        @Override
        public Long decode(MemorySegment source, long offset, int length) {
            Long value = super.decode(source, offset, length);
            if (value < 0) {
                SharedJoinableQueueTest.<RuntimeException>sneakyThrow(new IOException("decoding " + value));
            }
            return value;
        }
    }

    /** {@link Codec#longs()}, whose decode of -1 and encode of -2 throw InterruptedException sneakily. */
    private static final class InterruptingCodec extends LongsWithHook {
        @Override
        public void encode(Long value, MemorySegment target, long offset) {
            if (value == -2) {
                SharedJoinableQueueTest.<RuntimeException>sneakyThrow(new InterruptedException("encoding " + value));
            }
            super.encode(value, target, offset);
        }

        @Override
        public Long decode(MemorySegment source, long offset, int length) {
            Long value = super.decode(source, offset, length);
            if (value == -1) {
                SharedJoinableQueueTest.<RuntimeException>sneakyThrow(new InterruptedException("decoding " + value));
            }
            return value;
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void sneakyThrow(Throwable e) throws E {
        throw (E) e;
    }

    /** {@link Codec#longs()}, whose encode says ENCODING and waits (bounded) half way through writing the value. */
    private static final class StuckCodec extends LongsWithHook {
        @Override
        public void encode(Long value, MemorySegment target, long offset) {
            target.set(JAVA_INT, offset, 42); // half of it
            System.out.println("ENCODING");
            System.out.flush();
            try {
                Thread.sleep(BOUND.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new AssertionError("not killed in time");
        }
    }
}
