package org.shm4j.sync.tools;

import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.internal.HeapCatalog;
import org.shm4j.core.internal.HeapHeader;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A heap's catalog read entry by entry, so that a report shows every readable block of a heap with a damaged entry
 * ({@link SharedHeap#blocks()} throws for the whole catalog at its first damaged entry, as a program's open should).
 */
final class CatalogEntries {
    private CatalogEntries() {
    }

    /** One catalog entry: its block, or (block null) why the entry cannot be read. */
    record Item(int index, HeapBlock block, String damage) {
    }

    /** @return how many entries {@code heap}'s catalog has published, damaged or not (none is read) */
    static int count(SharedHeap heap) {
        return catalog(heap).count();
    }

    /**
     * @return the bytes of {@code heap} in use: up to the end of its last published block, as
     *         {@link SharedHeap#freeBytes()} says, or up to allocTop, past which no block lies, if that block's entry
     *         is damaged (freeBytes then throws, and one damaged entry would hide the whole heap from a report)
     */
    static long used(SharedHeap heap) {
        try {
            return heap.byteSize() - heap.freeBytes();
        } catch (ShmFormatException e) {
            return catalog(heap).top();
        }
    }

    /** @return every published entry of {@code heap}, in allocation order, each read on its own */
    static List<Item> read(SharedHeap heap) {
        MemorySegment segment = heap.memory().segment();
        HeapCatalog catalog = catalog(heap);
        int count = catalog.count();
        List<Item> items = new ArrayList<>(count);
        long previousEnd = catalog.dataOffset();
        for (int i = 0; i < count; i++) {
            try {
                HeapCatalog.Entry entry = catalog.entryAfter(i, previousEnd);
                previousEnd = entry.end();
                items.add(new Item(i, entry.block(segment), null));
            } catch (ShmFormatException e) {
                // where it ended is unknown: the next is checked as before
                items.add(new Item(i, null, e.getMessage()));
            }
        }
        return items;
    }

    private static HeapCatalog catalog(SharedHeap heap) {
        MemorySegment segment = heap.memory().segment();
        String what = "heap " + heap.memory();
        return new HeapCatalog(segment, HeapHeader.validateComplete(segment, what), what);
    }
}
