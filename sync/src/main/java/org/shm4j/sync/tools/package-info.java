/**
 * The {@code shm4j} command-line tool: {@link org.shm4j.sync.tools.Shm4j} lists the heaps of a machine, shows each
 * structure's live state (values, lock holders, ring and queue depths, coordination counts, counters), watches them
 * with rates, and removes stale heaps. It reads heaps read-only: it maps them without write access, never attaches to
 * them, never takes a lock and never waits on one, so it neither changes nor blocks a live process. Only
 * {@code gc --force} writes, through {@link org.shm4j.core.SharedHeap#unlinkIfStale(String)}.
 */
package org.shm4j.sync.tools;
