/**
 * Shared memory regions and the heap that names the structures in them.
 *
 * <p>{@link org.shm4j.core.SharedMemory} maps a region: named in {@code /dev/shm} (the same bytes Python's
 * {@code multiprocessing.shared_memory.SharedMemory(name)} opens), file-backed, or anonymous.
 * {@link org.shm4j.core.SharedHeap} lays a header and a catalog over a region, so that any process finds a
 * {@link org.shm4j.core.HeapBlock} by name and {@link org.shm4j.core.BlockType}; the structures of
 * {@code org.shm4j.sync} are such blocks. Failures are {@link org.shm4j.core.ShmException}s that say which region,
 * block or limit is at fault.
 */
package org.shm4j.core;
