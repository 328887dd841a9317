package org.shm4j.sync.locks;

import org.shm4j.core.SharedHeap;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.WaitGraph;
import org.shm4j.sync.internal.WaitTable;

import java.io.Serial;
import java.io.Serializable;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A snapshot of the cross-process wait-for graph of a heap's locks, for diagnostics ({@code shm4j inspect}): which
 * thread of which process has been waiting for which lock, who holds that lock, and the cycles (deadlocks) among
 * them. Only waits longer than the deadlock-detection threshold (100 ms by default) are published, so a snapshot shows
 * long waits, not every brief one; see the package documentation for what takes part.
 *
 * <p>Taking a snapshot only reads the heap (it works on a heap opened read-only) and never blocks. It is a view of a
 * moment: a waiter may have acquired its lock, and a cycle been broken, by the time it is read.
 */
public final class WaitForGraph {
    private final List<Edge> edges;
    private final List<List<Edge>> cycles;

    private WaitForGraph(List<Edge> edges, List<List<Edge>> cycles) {
        this.edges = edges;
        this.cycles = cycles;
    }

    /**
     * Reads the wait-for graph of the locks in {@code heap}.
     *
     * @return the graph; empty if no thread ever waited past the threshold on a lock of this heap
     * @throws org.shm4j.core.ShmFormatException if the heap's wait table is damaged
     * @throws IllegalStateException             if {@code heap} is closed, before or during the snapshot (worded as
     *                                           the heap's own, as a structure's open is)
     */
    public static WaitForGraph snapshot(SharedHeap heap) {
        Objects.requireNonNull(heap, "heap");
        return Blocks.opening(heap, () -> WaitTable.find(heap).map(WaitForGraph::of)
                .orElseGet(() -> new WaitForGraph(List.of(), List.of())));
    }

    private static WaitForGraph of(WaitTable table) {
        WaitGraph graph = WaitGraph.read(table);
        return new WaitForGraph(graph.nodes().stream().map(n -> WaitGraph.edge(table, n)).toList(),
                graph.cycles().stream().map(c -> c.stream().map(n -> WaitGraph.edge(table, n)).toList()).toList());
    }

    /** @return one edge per published waiter: waiter, lock, holder */
    public List<Edge> edges() {
        return edges;
    }

    /**
     * @return the cycles, each a list of edges in which every edge's holder is the next edge's waiter and the last
     *         edge's holder is the first edge's waiter; the first edge's waiter is the one chosen to break the cycle
     *         (the highest pid, then the highest thread id)
     */
    public List<List<Edge>> cycles() {
        return cycles;
    }

    /** @return the edges, one a line, then the cycles */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("wait-for graph: ").append(edges.size()).append(" waiter(s)");
        edges.forEach(e -> s.append("\n  ").append(e));
        cycles.forEach(c -> s.append("\n  deadlock: ").append(describe(c)));
        return s.toString();
    }

    /** @return a cycle in words: each member's wait, joined by {@code "; "} */
    static String describe(List<Edge> cycle) {
        return cycle.stream().map(Edge::toString).collect(Collectors.joining("; "));
    }

    /**
     * A thread waiting for a lock, and the lock's holder.
     *
     * @param waiterPid        the waiting thread's process
     * @param waiterThreadId   its Java thread id
     * @param waiterThreadName its thread name (cut to 80 UTF-8 bytes)
     * @param lock             the lock, by kind and block name, e.g. {@code lock 'orders'}
     * @param holderPid        the holder's process, or 0 if the lock was free or its holder not yet recorded
     * @param holderThreadId   the holder's Java thread id, or 0 as for {@code holderPid}
     * @param waitingSince     when the wait began
     */
    public record Edge(long waiterPid, long waiterThreadId, String waiterThreadName, String lock, long holderPid,
                       long holderThreadId, Instant waitingSince) implements Serializable {
        @Serial
        private static final long serialVersionUID = 1L;

        @Override
        public String toString() {
            String holder = holderPid == 0 ? " (holder unknown)"
                    : " held by pid " + holderPid + " thread " + holderThreadId;
            return "pid " + waiterPid + " thread " + waiterThreadId + " '" + waiterThreadName + "' waits for " + lock
                    + holder;
        }
    }
}
