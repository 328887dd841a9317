/**
 * Atomic values and arrays in shared memory: Python's {@code multiprocessing.Value} and {@code Array}, with the
 * methods of {@code java.util.concurrent.atomic}.
 *
 * <p>{@link org.shm4j.sync.atomic.SharedInt}, {@link org.shm4j.sync.atomic.SharedLong},
 * {@link org.shm4j.sync.atomic.SharedDouble} and {@link org.shm4j.sync.atomic.SharedBoolean} are single values;
 * {@link org.shm4j.sync.atomic.SharedIntArray}, {@link org.shm4j.sync.atomic.SharedLongArray},
 * {@link org.shm4j.sync.atomic.SharedDoubleArray} and {@link org.shm4j.sync.atomic.SharedByteArray} are fixed-length
 * arrays sharing the {@link org.shm4j.sync.atomic.SharedArray} layout. Each is created in a
 * {@link org.shm4j.core.SharedHeap} by name (any process opens it by that name) or wraps memory laid out by someone
 * else. Every access names its VarHandle access mode ({@code get} is volatile, {@code getAcquire},
 * {@code getOpaque}, {@code getPlain}, ...) with the same meaning as in {@code java.lang.invoke.VarHandle}.
 * Of {@code AtomicLong}'s, {@code AtomicInteger}'s and their arrays' methods, the longs, ints and doubles lack only
 * {@code lazySet} (it is {@code setRelease}), the deprecated {@code weakCompareAndSet} (it is
 * {@code weakCompareAndSetPlain}) and {@code Number}'s conversions ({@code get()} and a cast); a double has no
 * increments. {@link org.shm4j.sync.atomic.SharedBoolean} has the volatile and acquire/release accesses,
 * {@code compareAndSet} and {@code getAndSet} of {@code AtomicBoolean}, and
 * {@link org.shm4j.sync.atomic.SharedByteArray} plain, opaque, acquire/release and volatile element accesses only (no
 * read-modify-write of single bytes).
 *
 * <p>{@link org.shm4j.sync.atomic.SharedCounters} holds labeled counters allocated by name, each a
 * {@link org.shm4j.sync.atomic.SharedCounter}, for outside tools ({@code shm4j inspect}) to read live.
 *
 * <p>A value or array created with {@code withLock = true} gets a {@link org.shm4j.sync.locks.SharedLock} beside it
 * ({@code lock()}: Python's {@code get_lock()}, but not reentrant where Python's default lock is an {@code RLock}),
 * for read-modify-write sequences that one atomic instruction cannot do (a value's {@code withLock(...)}; an array's
 * {@code lock().withLock(...)}).
 *
 * <p>Used after its heap (or the segment it wraps) was closed, a value or array throws
 * {@link java.lang.IllegalStateException} naming it ("SharedLong 'total' cannot be used: its heap 'h' is closed"),
 * with the JDK's exception as the cause, from every access method: volatile, acquire, release, opaque, plain,
 * read-modify-write and bulk.
 */
package org.shm4j.sync.atomic;
