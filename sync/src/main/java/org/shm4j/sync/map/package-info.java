/**
 * A hash map shared by processes without a server: {@link org.shm4j.sync.map.SharedMap} (a
 * {@link java.util.concurrent.ConcurrentMap} of {@link org.shm4j.sync.Codec}-encoded keys and values) and
 * {@link org.shm4j.sync.map.SharedLongMap} (long keys, allocation-free reads and writes), sized by a
 * {@link org.shm4j.sync.map.MapSizing} and observed through {@link org.shm4j.sync.map.SharedMapStats}.
 *
 * <p>The byte layout is specified in the class comment of the package-private {@code MapLayout} (in the sources,
 * {@code org/shm4j/sync/map/MapLayout.java}; not in these API docs): segments, each with a
 * robust lock for writers and a sequence counter for lock-free readers, 8-byte slots over an arena of checksummed
 * entries. A full segment splits alone (extendible hashing: a directory of segments in the map's header). A process
 * that dies while writing leaves only its segment to repair, which the next locker does.
 */
package org.shm4j.sync.map;
