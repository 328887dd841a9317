package org.shm4j.sync.tools;

import org.shm4j.core.HeapProcess;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.SharedMemory;
import org.shm4j.core.internal.HeapHeader;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.MappedFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Finds shm4j heaps (files under {@code /dev/shm}, or under given directories, whose first 8 bytes are the heap magic,
 * and the files this process may not read, which may be heaps), opens them read-only (so this process never enters
 * their attach table) and reports them.
 */
final class HeapScan {
    private HeapScan() {
    }

    /**
     * A heap file found on disk.
     *
     * @param name     its name: the file name under {@code /dev/shm}, else the path
     * @param path     the file
     * @param named    true if it is a named heap in {@code /dev/shm}
     * @param readable false for a file this process may not read (another user's, say), heap or not: it cannot tell
     */
    record Found(String name, Path path, boolean named, boolean readable) {
        /** @return the heap, mapped read-only and not attached */
        SharedHeap openReadOnly() {
            return named ? SharedHeap.openReadOnly(name) : SharedHeap.openReadOnly(path);
        }

        /** @return true if the library's safe stale removal removed it */
        boolean unlinkIfStale() {
            return named ? SharedHeap.unlinkIfStale(name) : SharedHeap.unlinkIfStale(path);
        }
    }

    /**
     * @param dirs the directories to scan; empty for {@code /dev/shm} alone
     * @return the heaps there, sorted by name within each directory
     */
    static List<Found> discover(List<Path> dirs) throws IOException {
        List<Found> found = new ArrayList<>();
        for (Path dir : scanned(dirs)) {
            if (!Files.isDirectory(dir)) {
                throw new IOException("not a directory: " + dir);
            }
            boolean named = dir.toAbsolutePath().normalize().equals(SharedMemory.SHM_DIR);
            try (Stream<Path> files = Files.list(dir)) {
                // a create's temporary file has the magic too, but no name a heap may have: the create links it
                files.sorted().filter(p -> !MappedFiles.isTemporaryName(p.getFileName().toString())).forEach(p -> {
                    Kind kind = kindOf(p);
                    if (kind.mayBeHeap()) {
                        found.add(new Found(named ? p.getFileName().toString() : p.toString(), p, named,
                                kind == Kind.HEAP));
                    }
                });
            }
        }
        return found;
    }

    /** @return the folders a command scans: {@code dirs}, or {@code /dev/shm} if none was given */
    static List<Path> scanned(List<Path> dirs) {
        return dirs.isEmpty() ? List.of(SharedMemory.SHM_DIR) : dirs;
    }

    /**
     * @param nameOrPath a name in {@code /dev/shm}, or a path (it contains a '/') of a file-backed heap
     * @return the heap there, or null if there is no file (or it went away while it was read)
     * @throws IOException if something is there but is not a shm4j heap (a file without its magic, a directory...)
     */
    static Found resolve(String nameOrPath) throws IOException {
        boolean named = !nameOrPath.contains("/");
        Path path = named ? SharedMemory.SHM_DIR.resolve(nameOrPath) : Path.of(nameOrPath);
        if (Files.exists(path) && !Files.isRegularFile(path)) { // a directory, a FIFO, a device: there, and no heap
            throw new IOException(path + " is not a shm4j heap (not a regular file)");
        }
        Kind kind = kindOf(path);
        return switch (kind) {
            case NONE -> null;
            case OTHER -> throw new IOException(path + " is not a shm4j heap (no heap magic \"SHM4JHEP\" at its"
                    + " start)");
            case HEAP, UNREADABLE -> new Found(named ? nameOrPath : path.toString(), path, named, kind == Kind.HEAP);
        };
    }

    /**
     * @return the heap's summary: size, use, creator, processes, stale; or its name and why it is unreadable, with
     *         {@code fileUnreadable} true if the file itself could not be read (then it may not even be a heap)
     */
    static Map<String, Object> summary(Found found) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("name", found.name());
        report.put("path", found.path().toString());
        try (SharedHeap heap = found.openReadOnly()) {
            report.putAll(summary(heap));
        } catch (RuntimeException e) {
            report.put("unreadable", String.valueOf(e.getMessage()));
            if (!found.readable()) {
                report.put("fileUnreadable", true);
            }
        }
        return report;
    }

    /** @return size, use, creator, processes and stale of an open heap */
    static Map<String, Object> summary(SharedHeap heap) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("size", heap.byteSize());
        report.put("used", CatalogEntries.used(heap));
        report.put("blocks", CatalogEntries.count(heap));
        report.put("catalogCapacity", heap.catalogCapacity());
        HeapProcess creator = heap.creator();
        report.put("creator", process(creator));
        List<Object> processes = new ArrayList<>();
        List<HeapProcess> attached = heap.attachedProcesses();
        attached.forEach(p -> processes.add(process(p)));
        report.put("processes", processes);
        if (HeapHeader.ofAnotherPidNamespace(heap.memory().segment())) {
            // its pids name processes of another namespace: alive or dead cannot be told from here
            report.put("otherPidNamespace", true);
            report.put("stale", false);
        } else {
            report.put("stale", heap.isStale());
        }
        return report;
    }

    private static Map<String, Object> process(HeapProcess process) {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("pid", process.pid());
        map.put("alive", process.alive());
        map.put("attachments", process.attachments());
        return map;
    }

    /** What a path holds, for the tool. */
    private enum Kind {
        /** No file, not a regular file, or one that went away while it was read. */
        NONE,
        /** A file without the heap magic at its start. */
        OTHER,
        /** A file starting with the heap magic. */
        HEAP,
        /**
         * A file this process may not read (another user's heap, say): it may be a heap, whose open then says why it
         * cannot be read, rather than being left out or called no heap.
         */
        UNREADABLE;

        boolean mayBeHeap() {
            return this == HEAP || this == UNREADABLE;
        }
    }

    /**
     * Reads the first 8 bytes of {@code path} through one open, so that a heap removed between a look and the read
     * (its last process closed it, {@code gc} removed it) is taken for no file rather than for a file of another kind.
     */
    private static Kind kindOf(Path path) {
        if (!Files.isRegularFile(path)) {
            return Kind.NONE;
        }
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer magic = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (magic.hasRemaining()) {
                if (channel.read(magic) < 0) {
                    return Kind.OTHER;
                }
            }
            return magic.getLong(0) == HeapLayout.MAGIC ? Kind.HEAP : Kind.OTHER;
        } catch (NoSuchFileException e) {
            return Kind.NONE; // removed since the look above
        } catch (IOException e) {
            return Kind.UNREADABLE; // permission denied, or an I/O error
        }
    }
}
