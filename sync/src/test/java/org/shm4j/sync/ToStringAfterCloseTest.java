package org.shm4j.sync;

import org.junit.jupiter.api.Test;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.atomic.SharedBoolean;
import org.shm4j.sync.atomic.SharedDouble;
import org.shm4j.sync.atomic.SharedInt;
import org.shm4j.sync.atomic.SharedLong;
import org.shm4j.sync.atomic.SharedLongArray;
import org.shm4j.sync.list.SharedList;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.locks.SharedReadWriteLock;
import org.shm4j.sync.map.MapSizing;
import org.shm4j.sync.map.SharedLongMap;
import org.shm4j.sync.map.SharedMap;
import org.shm4j.sync.ring.SharedRing;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * {@code toString} never throws, also once the heap is closed (loggers and debuggers call it on closed objects): it
 * names the structure and, where it shows live state, says the heap is closed.
 */
class ToStringAfterCloseTest {
    @Test
    void shouldDescribeEveryStructureBeforeAndAfterItsHeapIsClosed() {
        SharedHeap heap = SharedHeap.anonymous(1 << 22);
        Map<String, Object> structures = new LinkedHashMap<>();
        structures.put("long", SharedLong.create(heap, "long"));
        structures.put("int", SharedInt.create(heap, "int"));
        structures.put("double", SharedDouble.create(heap, "double"));
        structures.put("boolean", SharedBoolean.create(heap, "boolean"));
        structures.put("longs", SharedLongArray.create(heap, "longs", 2));
        structures.put("queue", SharedQueue.create(heap, "queue", 1024, Codec.longs()));
        structures.put("ring", SharedRing.create(heap, "ring", SharedRing.Kind.SPSC, 1024));
        structures.put("pipe", SharedPipe.create(heap, "pipe", 1024).first());
        SharedLock lock = SharedLock.create(heap, "lock");
        structures.put("lock", lock);
        structures.put("lock.condition", lock.newCondition());
        structures.put("fair", SharedFairLock.create(heap, "fair"));
        structures.put("rw", SharedReadWriteLock.create(heap, "rw"));
        structures.put("sem", SharedSemaphore.create(heap, "sem", 2));
        structures.put("latch", SharedCountDownLatch.create(heap, "latch", 1));
        structures.put("event", SharedEvent.create(heap, "event"));
        structures.put("barrier", SharedBarrier.create(heap, "barrier", 2));
        structures.put("map", SharedMap.create(heap, "map", Codec.utf8(), Codec.longs(), new MapSizing(10, 8, 8)));
        structures.put("longMap", SharedLongMap.create(heap, "longMap", Codec.longs(), MapSizing.ofLongKeys(10, 8)));
        structures.put("list", SharedList.create(heap, "list", Codec.longs(), 8));
        structures.forEach((name, structure) -> assertThat(structure.toString()).as(name).isNotBlank());
        heap.close();
        Set<String> stateless = Set.of("pipe"); // its description reads no shared memory
        structures.forEach((name, structure) -> {
            assertThatCode(structure::toString).as(name).doesNotThrowAnyException();
            assertThat(structure.toString()).as(name).contains("'" + name)
                    .contains(stateless.contains(name) ? "" : "closed");
            if (name.endsWith("map") || name.endsWith("Map")) { // helper-267: the maps did not say it
                assertThat(structure.toString()).as(name).endsWith(" (its heap is closed)");
            }
        });
    }
}
