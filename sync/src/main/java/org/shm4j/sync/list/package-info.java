/**
 * Lists in shared memory: {@link org.shm4j.sync.list.ShareableList}, byte-compatible with CPython's
 * {@code multiprocessing.shared_memory.ShareableList} (fixed length, not synchronised, opened by Python and Java
 * alike), and {@link org.shm4j.sync.list.SharedList}, a growable typed list in a {@link org.shm4j.core.SharedHeap}
 * that any thread of any process may change, like Python's {@code Manager().list()} without a server process.
 */
package org.shm4j.sync.list;
