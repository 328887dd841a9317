/**
 * Queues and pipes between threads and processes, and the coordination types of {@code java.util.concurrent}: the
 * top level of shm4j's synchronisation module.
 *
 * <p>{@link org.shm4j.sync.SharedQueue} carries typed messages through a {@link org.shm4j.sync.Codec} over a
 * many-producer, many-consumer {@linkplain org.shm4j.sync.ring.SharedRing ring}, and
 * {@link org.shm4j.sync.SharedJoinableQueue} adds a task count ({@code taskDone()}, {@code join()}) as Python's
 * {@code JoinableQueue}; {@link org.shm4j.sync.SharedPipe}
 * joins two single-producer rings into a duplex channel of bytes or codec-typed values, like Python's
 * {@code multiprocessing.Pipe}, whose {@code recv} ends with {@link org.shm4j.sync.PipeClosedException} once the
 * other end closed or its process died.
 * {@link org.shm4j.sync.Codec#record(Class)} makes a {@link org.shm4j.sync.RecordCodec} for a Java record, with a
 * schema fingerprint that a reader with another record shape is refused by, and
 * {@link org.shm4j.sync.Codec#sealed(Class)} a {@link org.shm4j.sync.SealedCodec} for a sealed interface of records,
 * so that one queue or pipe carries several record types. Every structure lives in a
 * {@link org.shm4j.core.SharedHeap} under a name, so another process opens it by that name.
 *
 * <p>The coordination types work across processes as their {@code java.util.concurrent} namesakes do across threads:
 * {@link org.shm4j.sync.SharedSemaphore} (optionally bounded, or returning a dead process's permits like SysV
 * {@code SEM_UNDO}), {@link org.shm4j.sync.SharedCountDownLatch}, {@link org.shm4j.sync.SharedEvent} (Python's
 * {@code Event}) and {@link org.shm4j.sync.SharedBarrier} (a {@code CyclicBarrier} that breaks when a waiting party
 * dies); the cross-process {@code Condition} is {@link org.shm4j.sync.locks.SharedCondition}. Each lives in a heap
 * by name or over raw memory ({@code format}/{@code wrap}), has a timeout on every wait, and documents what happens
 * when a participant process dies.
 *
 * <p>The building blocks live in their own packages, as {@code java.util.concurrent} splits its own:
 * <ul>
 *   <li>{@link org.shm4j.sync.atomic}: atomic values and arrays ({@code SharedLong}, {@code SharedIntArray}, ...),
 *       Python's {@code Value} and {@code Array};</li>
 *   <li>{@link org.shm4j.sync.locks}: robust cross-process locks ({@code SharedLock}, {@code SharedFairLock},
 *       {@code SharedReadWriteLock}) that survive the death of their holder;</li>
 *   <li>{@link org.shm4j.sync.ring}: the variable-length byte ring under the queues, with zero-copy
 *       claim/commit;</li>
 *   <li>{@link org.shm4j.sync.map}: {@code SharedMap}, a {@code ConcurrentMap} every process reads and writes
 *       directly (Python's {@code Manager().dict()} without a server), and {@code SharedLongMap};</li>
 *   <li>{@link org.shm4j.sync.list}: {@code SharedList} (Python's {@code Manager().list()} without a server) and
 *       {@code ShareableList}, byte-compatible with CPython's;</li>
 *   <li>{@link org.shm4j.sync.tools}: the {@code shm4j} command-line tool that shows what is in the heaps.</li>
 * </ul>
 *
 * <h2>Memory consistency properties</h2>
 * As in {@code java.util.concurrent}: actions of a thread before it puts a message into a queue or pipe
 * <i>happen-before</i> the actions that follow the taking of that message in another thread or process; a lock's
 * release happens-before its next acquisition (and a semaphore's release the acquire that obtains its permits, a
 * latch's count-down or an event's set the awaits they release, a barrier's arrivals the returns of that
 * generation); a volatile write of an atomic value happens-before every read of that value that sees it. Across
 * processes the same holds, since both sides access the same physical memory with the same atomic instructions.
 *
 * <h2>Blocking</h2>
 * Blocking waits spin, yield, then block in Linux {@code futex} through {@code java.lang.foreign.Linker} when the
 * module has native access, and fall back to parking otherwise; {@link org.shm4j.sync.BlockingWaits} tells which.
 */
package org.shm4j.sync;
