package org.shm4j.bench.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.shm4j.sync.SharedQueue;
import org.shm4j.sync.atomic.SharedByteArray;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.ring.SharedRing;

/**
 * One side-by-side line of the report: an shm4j result over a peer's result from the same run, with the issue's
 * target ratio where it sets one.
 *
 * @param section the table it belongs to
 * @param label   what is compared
 * @param ours    the shm4j result's key in {@link JmhResults}
 * @param peer    the peer result's key
 * @param target  the lowest ratio that meets the target, or 0 for none
 */
record Comparison(String section, String label, String ours, String peer, double target) {
    static final String VALUES = "Values, 1 thread";
    static final String VALUES_2 = "Values, 2 threads on one value";
    static final String LOCKS = "Locks, uncontended lock + unlock";
    static final String LOCKS_2 = "Locks, 2 threads contending";
    static final String QUEUES = "Queues, messages received per µs (offer + poll pairs for the 1-thread lines)";
    static final String BULK = "Bulk copy from a Java array";
    static final String MAPS = "Maps, 100,000 long keys, 64-byte values, random access, 1 thread";
    static final String MAPS_2 = "Maps, 2 threads on one map";
    static final String LISTS = "Lists, 1,024 Long elements, 1 thread";
    static final String COORDINATION = "Coordination, uncontended acquire + release; condition hand-offs between 2"
            + " threads";

    /** @return the section as the chart names it: short, but telling the one- and two-thread sections apart */
    String chartSection() {
        return switch (section) {
            case VALUES_2 -> "Values, 2 threads";
            case LOCKS -> "Locks, uncontended";
            case LOCKS_2 -> "Locks, 2 threads";
            case MAPS_2 -> "Maps, 2 threads";
            default -> section.replaceFirst(",.*", "");
        };
    }

    /** @return every comparison the suite makes */
    static List<Comparison> all() {
        List<Comparison> all = new ArrayList<>();
        values(all, VALUES, "ValuesBenchmark", "AgronaValuesBenchmark");
        values(all, VALUES_2, "ContendedValuesBenchmark", "ContendedAgronaValuesBenchmark");
        locks(all, LOCKS, "LocksBenchmark");
        locks(all, LOCKS_2, "ContendedLocksBenchmark");
        String rw = "ReadWriteLocksBenchmark.";
        all.add(new Comparison(LOCKS, "SharedReadWriteLock (read) / ReentrantReadWriteLock (read)",
                rw + "sharedReadLock", rw + "reentrantReadLock", 1.0));
        all.add(new Comparison(LOCKS, "SharedReadWriteLock (read) / StampedLock optimistic read (reference)",
                rw + "sharedReadLock", rw + "stampedOptimisticRead", 0));
        all.add(new Comparison(LOCKS, "SharedReadWriteLock (write) / ReentrantReadWriteLock (write)",
                rw + "sharedWriteLock", rw + "reentrantWriteLock", 0));
        all.add(new Comparison(LOCKS, "SharedLock, deadlock detection on / off", "DeadlockDetectionBenchmark"
                + ".detectionOn", "DeadlockDetectionBenchmark.detectionOff", 0));
        for (String size : List.of("8", "64", "256")) {
            String p = "[size=" + size + "]";
            all.add(new Comparison(QUEUES, "SPSC " + size + " B: SharedRing / Agrona OneToOneRingBuffer",
                    "RingBenchmark.spsc:polled" + p, "AgronaRingBenchmark.spsc:polled" + p, 1.0));
            all.add(new Comparison(QUEUES, "SPSC " + size + " B, offer + poll in 1 thread: SharedRing / Agrona",
                    "RingBenchmark.spscOfferPoll" + p, "AgronaRingBenchmark.spscOfferPoll" + p, 1.0));
            all.add(new Comparison(QUEUES, "MPSC " + size + " B, offer + poll in 1 thread: SharedRing / Agrona",
                    "RingBenchmark.mpscOfferPoll" + p, "AgronaRingBenchmark.mpscOfferPoll" + p, 0));
            all.add(new Comparison(QUEUES, "SPSC " + size + " B: SharedRing / Disruptor",
                    "RingBenchmark.spsc:polled" + p, "DisruptorBenchmark.spsc:polled" + p, 0));
            all.add(new Comparison(QUEUES, "MPSC " + size + " B: SharedRing / Agrona ManyToOneRingBuffer",
                    "RingBenchmark.mpsc:polled" + p, "AgronaRingBenchmark.mpsc:polled" + p, 1.0));
            all.add(new Comparison(QUEUES, "MPSC " + size + " B: SharedRing / Disruptor (multi-producer)",
                    "RingBenchmark.mpsc:polled" + p, "DisruptorBenchmark.mpsc:polled" + p, 0));
            all.add(new Comparison(QUEUES, "MPMC " + size + " B: SharedRing / ArrayBlockingQueue",
                    "RingBenchmark.mpmc:polled" + p, "JdkQueueBenchmark.mpmc:polled[queue=ArrayBlockingQueue]",
                    3.0));
            all.add(new Comparison(QUEUES, "MPMC " + size + " B: SharedRing / ConcurrentLinkedQueue",
                    "RingBenchmark.mpmc:polled" + p, "JdkQueueBenchmark.mpmc:polled[queue=ConcurrentLinkedQueue]",
                    1.0));
        }
        all.add(new Comparison(QUEUES, "MPMC 64 B, offer + poll in 1 thread: SharedRing / ConcurrentLinkedQueue",
                "RingBenchmark.mpmcOfferPoll[size=64]", "JdkQueueBenchmark.mpmcOfferPoll[queue=ConcurrentLinkedQueue]",
                0));
        all.add(new Comparison(QUEUES, "MPMC 64 B, offer + poll in 1 thread: SharedRing / ArrayBlockingQueue",
                "RingBenchmark.mpmcOfferPoll[size=64]", "JdkQueueBenchmark.mpmcOfferPoll[queue=ArrayBlockingQueue]",
                0));
        all.add(new Comparison(QUEUES, "SPSC 64 B: SharedRing / ArrayBlockingQueue",
                "RingBenchmark.spsc:polled[size=64]", "JdkQueueBenchmark.spsc:polled[queue=ArrayBlockingQueue]", 0));
        all.add(new Comparison(QUEUES, "MPSC 64 B: SharedRing / ConcurrentLinkedQueue",
                "RingBenchmark.mpsc:polled[size=64]", "JdkQueueBenchmark.mpsc:polled[queue=ConcurrentLinkedQueue]",
                0));
        all.add(new Comparison(QUEUES, "SPSC 64 B claim + commit in place / Agrona OneToOneRingBuffer",
                "RingBenchmark.spscClaim:polled[size=64]", "AgronaRingBenchmark.spsc:polled[size=64]", 0));
        all.add(new Comparison(QUEUES, "SPSC Long: SharedQueue<Long> / ArrayBlockingQueue<Long>",
                "TypedQueueBenchmark.sharedQueue:polled", "TypedQueueBenchmark.arrayBlockingQueue:polled", 0));
        transferFloor(all);
        for (String bytes : List.of("4096", "1048576")) {
            String p = "[bytes=" + bytes + "]";
            String size = bytes.equals("4096") ? "4 KiB" : "1 MiB";
            all.add(new Comparison(BULK, size + ": SharedLongArray.copyFrom / MemorySegment.copy (floor)",
                    "BulkCopyBenchmark.sharedLongArrayCopyFrom" + p, "BulkCopyBenchmark.segmentCopyLongs" + p, 0));
            all.add(new Comparison(BULK, size + ": SharedLongArray.copyFrom / System.arraycopy",
                    "BulkCopyBenchmark.sharedLongArrayCopyFrom" + p, "BulkCopyBenchmark.arraycopyLongs" + p, 0));
            all.add(new Comparison(BULK, size + ": SharedByteArray.copyFrom / MemorySegment.copy (floor)",
                    "BulkCopyBenchmark.sharedByteArrayCopyFrom" + p, "BulkCopyBenchmark.segmentCopyBytes" + p, 0));
            all.add(new Comparison(BULK, size + ": SharedByteArray.copyFrom / System.arraycopy",
                    "BulkCopyBenchmark.sharedByteArrayCopyFrom" + p, "BulkCopyBenchmark.arraycopyBytes" + p, 0));
        }
        maps(all, MAPS, "");
        maps(all, MAPS_2, "Contended");
        lists(all);
        coordination(all);
        return all;
    }

    /**
     * The queue rows over {@code TransferFloorBenchmark}, the cheapest hand-over of the bytes between threads
     * (copied in and out of a slot, Vyukov's sequences, no guarantees): how far the ring is above it, and how far
     * {@code ConcurrentLinkedQueue}, which moves a reference and no bytes, is above it too.
     */
    private static void transferFloor(List<Comparison> all) {
        String floor = "TransferFloorBenchmark.";
        String clq = "JdkQueueBenchmark.mpmc:polled[queue=ConcurrentLinkedQueue]";
        for (String size : List.of("8", "64", "256")) {
            String p = "[size=" + size + "]";
            all.add(new Comparison(QUEUES, "MPMC " + size + " B: SharedRing / transfer floor (bytes copied in and out)",
                    "RingBenchmark.mpmc:polled" + p, floor + "mpmc:polled" + p, 0));
            all.add(new Comparison(QUEUES, "MPMC " + size + " B: ConcurrentLinkedQueue / transfer floor", clq,
                    floor + "mpmc:polled" + p, 0));
        }
        all.add(new Comparison(QUEUES, "MPMC: ConcurrentLinkedQueue / transfer floor moving no bytes (slot only)",
                clq, floor + "mpmc:polled[size=0]", 0));
        all.add(new Comparison(QUEUES, "MPMC 64 B, offer + poll in 1 thread: SharedRing / transfer floor",
                "RingBenchmark.mpmcOfferPoll[size=64]", floor + "mpmcOfferPoll[size=64]", 0));
        all.add(new Comparison(QUEUES, "MPMC 64 B, offer + poll in 1 thread: ConcurrentLinkedQueue / transfer floor",
                "JdkQueueBenchmark.mpmcOfferPoll[queue=ConcurrentLinkedQueue]", floor + "mpmcOfferPoll[size=64]", 0));
        all.add(new Comparison(QUEUES, "SPSC 64 B: SharedRing / transfer floor (1 + 1 threads)",
                "RingBenchmark.spsc:polled[size=64]", floor + "spsc:polled[size=64]", 0));
    }

    /** The map rows; the targets of issue 11 (get 2×, put 3× Chronicle Map) are set on the 1-thread rows. */
    private static void maps(List<Comparison> all, String section, String twin) {
        boolean single = section.equals(MAPS);
        String ours = twin + "MapBenchmark.";
        String chronicle = twin + "ChronicleMapBenchmark.";
        String lmdb = twin + "LmdbMapBenchmark.";
        all.add(new Comparison(section, "get: SharedLongMap.get / Chronicle Map get (both decode a new byte[])",
                ours + "sharedGet", chronicle + "chronicleGet", single ? 2.0 : 0));
        all.add(new Comparison(section, "get: SharedLongMap.getInto / Chronicle Map getUsing (into a buffer)",
                ours + "sharedGetInto", chronicle + "chronicleGetUsing", single ? 2.0 : 0));
        all.add(new Comparison(section, "put: SharedLongMap.setBytes / Chronicle Map put", ours + "sharedPut",
                chronicle + "chroniclePut", single ? 3.0 : 0));
        all.add(new Comparison(section, "get: SharedLongMap.getInto / LmdbJava get (reused read txn, no copy)",
                ours + "sharedGetInto", lmdb + "lmdbGet", 0));
        all.add(new Comparison(section, "put: SharedLongMap.setBytes / LmdbJava put (txn per put)",
                ours + "sharedPut", lmdb + "lmdbPut", 0));
        all.add(new Comparison(section, "get: SharedLongMap.getInto / ConcurrentHashMap (in-heap reference)",
                ours + "sharedGetInto", ours + "chmGet", 0));
        all.add(new Comparison(section, "put: SharedLongMap.setBytes / ConcurrentHashMap (in-heap reference)",
                ours + "sharedPut", ours + "chmPut", 0));
        if (single) {
            all.add(new Comparison(section, "get: SharedLongMap.getInto / two dependent misses over its 194 B per key "
                    + "(floor)", ours + "sharedGetInto", "MapFloorBenchmark.floor[bytesPerKey=194]", 0));
            all.add(new Comparison(section, "get: SharedLongMap.getInto / two dependent misses over Chronicle Map's "
                    + "108 B per key (floor)", ours + "sharedGetInto", "MapFloorBenchmark.floor[bytesPerKey=108]", 0));
        }
    }

    private static void lists(List<Comparison> all) {
        for (String op : List.of("Get", "Set", "Append")) {
            String what = op.equals("Append") ? "append + remove last" : op.toLowerCase(Locale.ROOT);
            all.add(new Comparison(LISTS, what + ": SharedList / CopyOnWriteArrayList", "ListBenchmark.shared" + op,
                    "ListBenchmark.copyOnWrite" + op, 0));
            all.add(new Comparison(LISTS, what + ": SharedList / synchronizedList(ArrayList)",
                    "ListBenchmark.shared" + op, "ListBenchmark.synchronized" + op, 0));
        }
    }

    private static void coordination(List<Comparison> all) {
        String bench = "CoordinationBenchmark.";
        all.add(new Comparison(COORDINATION, "SharedSemaphore / Semaphore", bench + "sharedSemaphore",
                bench + "jdkSemaphore", 0));
        all.add(new Comparison(COORDINATION, "SharedSemaphore (UNDO: permits of a dead process return) / Semaphore",
                bench + "sharedUndoSemaphore", bench + "jdkSemaphore", 0));
        all.add(new Comparison(COORDINATION, "signal/await hand-off: SharedLock condition / ReentrantLock condition",
                bench + "sharedCondition", bench + "jdkCondition", 0));
    }

    private static void values(List<Comparison> all, String section, String ours, String agrona) {
        boolean single = section.equals(VALUES);
        all.add(new Comparison(section, "getAndAdd: SharedLong / AtomicLong", ours + ".sharedLongGetAndAdd",
                ours + ".atomicLongGetAndAdd", single ? 0.9 : 0));
        all.add(new Comparison(section, "getAndAdd: SharedLong / raw VarHandle (floor)", ours + ".sharedLongGetAndAdd",
                ours + ".rawVarHandleGetAndAdd", single ? 0.9 : 0));
        all.add(new Comparison(section, "getAndAdd: SharedLong / Agrona AtomicBuffer", ours + ".sharedLongGetAndAdd",
                agrona + ".agronaGetAndAdd", single ? 0.95 : 0));
        all.add(new Comparison(section, "get: SharedLong / AtomicLong", ours + ".sharedLongGet",
                ours + ".atomicLongGet", 0));
        all.add(new Comparison(section, "get: SharedLong / raw VarHandle (floor)", ours + ".sharedLongGet",
                ours + ".rawVarHandleGet", 0));
        all.add(new Comparison(section, "get: SharedLong / Agrona AtomicBuffer", ours + ".sharedLongGet",
                agrona + ".agronaGet", single ? 0.9 : 0));
        all.add(new Comparison(section, "set: SharedLong / AtomicLong", ours + ".sharedLongSet",
                ours + ".atomicLongSet", 0));
        all.add(new Comparison(section, "set: SharedLong / raw VarHandle (floor)", ours + ".sharedLongSet",
                ours + ".rawVarHandleSet", 0));
        all.add(new Comparison(section, "set: SharedLong / Agrona AtomicBuffer", ours + ".sharedLongSet",
                agrona + ".agronaSet", 0));
        all.add(new Comparison(section, "get + CAS: SharedLong / AtomicLong", ours + ".sharedLongCompareAndSet",
                ours + ".atomicLongCompareAndSet", 0));
        all.add(new Comparison(section, "get + CAS: SharedLong / Agrona AtomicBuffer",
                ours + ".sharedLongCompareAndSet", agrona + ".agronaCompareAndSet", 0));
    }

    private static void locks(List<Comparison> all, String section, String bench) {
        all.add(new Comparison(section, "SharedLock / ReentrantLock", bench + ".sharedLock", bench + ".reentrantLock",
                1.0));
        all.add(new Comparison(section, "SharedLock / synchronized", bench + ".sharedLock",
                bench + ".synchronizedBlock", 0));
        all.add(new Comparison(section, "SharedLock / CAS spin lock (floor)", bench + ".sharedLock",
                bench + ".casSpinLock", 0));
        boolean single = section.equals(LOCKS);
        all.add(new Comparison(section, "SharedFairLock / ReentrantLock", bench + ".sharedFairLock",
                bench + ".reentrantLock", single ? 0.5 : 0));
        all.add(new Comparison(section, "SharedReadWriteLock (write) / ReentrantLock", bench + ".sharedWriteLock",
                bench + ".reentrantLock", single ? 0.5 : 0));
        if (single) { // not in the contended benchmark
            all.add(new Comparison(section, "SharedReentrantLock / ReentrantLock", bench + ".sharedReentrantLock",
                    bench + ".reentrantLock", 0));
            all.add(new Comparison(section, "SharedReentrantLock / ReentrantLock, a nested hold",
                    bench + ".sharedReentrantLockNested", bench + ".reentrantLockNested", 0));
        }
    }
}
