package org.shm4j.core;

/**
 * A process recorded in a heap's attach table: it has the heap open (or had, if it died without closing it).
 *
 * @param pid         its process id
 * @param startMillis its start time in epoch milliseconds as this JVM reads the clock, 0 if the OS does not tell;
 *                    together with the pid it tells this process from a later one that got the same pid (the
 *                    comparison itself uses the clock-independent start stamp that the heap stores)
 * @param attachments how many {@link SharedHeap} objects of this heap it has open
 * @param alive       whether it was alive when the table was read; a dead process's entry is reclaimed by the next
 *                    process that opens the heap
 */
public record HeapProcess(long pid, long startMillis, long attachments, boolean alive) {
}
