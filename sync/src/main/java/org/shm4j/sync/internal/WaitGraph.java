package org.shm4j.sync.internal;

import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.sync.locks.WaitForGraph;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The wait-for graph of one heap as read from its {@link WaitTable}: each published waiter points at the thread that
 * holds the lock it waits for, read from the lock itself. A thread waits for one lock at a time, so every waiter has
 * at most one successor: each part of the graph holds at most one cycle, which is a deadlock.
 *
 * <p>The read is a double collect: the entries, then the holders of their locks, then the entries' sequence numbers
 * again; an entry whose wait ended or changed meanwhile is dropped. A waiter in the graph was therefore waiting, and
 * could release nothing, from before its successor was read as the holder until after every holder was read: a
 * cycle read this way was a real cycle when the last holder was read, unless a holder's thread field was stale (a
 * new owner that has not yet written its thread key), which {@link DeadlockWatch} rules out by requiring the same
 * cycle on two reads one check period apart.
 */
public final class WaitGraph {
    private static final Comparator<Node> VICTIM_ORDER = Comparator
            .comparingLong((Node n) -> ProcessIdentity.pid(n.entry().token()))
            .thenComparingLong(n -> n.entry().threadId());

    private final List<Node> nodes;

    private WaitGraph(List<Node> nodes) {
        this.nodes = nodes;
    }

    /** @return the graph as {@code table} shows it now */
    public static WaitGraph read(WaitTable table) {
        List<WaitTable.Entry> entries = table.entries();
        List<Optional<WaitTable.Holder>> holders = new ArrayList<>(entries.size());
        for (WaitTable.Entry e : entries) {
            holders.add(table.holder(e));
        }
        List<WaitTable.Entry> current = new ArrayList<>();
        List<Optional<WaitTable.Holder>> currentHolders = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            if (table.isCurrent(entries.get(i))) {
                current.add(entries.get(i));
                currentHolders.add(holders.get(i));
            }
        }
        List<Node> nodes = new ArrayList<>(current.size());
        for (int i = 0; i < current.size(); i++) {
            nodes.add(new Node(current.get(i), currentHolders.get(i).orElse(null), successor(current, i,
                    currentHolders.get(i))));
        }
        return new WaitGraph(List.copyOf(nodes));
    }

    /** @return the index of the waiter that holds what waiter {@code i} waits for, or -1 */
    private static int successor(List<WaitTable.Entry> entries, int i, Optional<WaitTable.Holder> holder) {
        if (holder.isEmpty()) {
            return -1;
        }
        for (int j = 0; j < entries.size(); j++) {
            if (j != i && entries.get(j).is(holder.get())) {
                return j;
            }
        }
        return -1;
    }

    /** @return every waiter read, with its lock's holder */
    public List<Node> nodes() {
        return nodes;
    }

    /** @return every cycle, each starting at its {@linkplain #victim victim} and following the waits */
    public List<List<Node>> cycles() {
        List<List<Node>> cycles = new ArrayList<>();
        int[] state = new int[nodes.size()]; // 0 = not seen, 1 = on the current path, 2 = done
        for (int start = 0; start < nodes.size(); start++) {
            List<Integer> path = new ArrayList<>();
            int at = start;
            while (at >= 0 && state[at] == 0) {
                state[at] = 1;
                path.add(at);
                at = nodes.get(at).successor();
            }
            if (at >= 0 && state[at] == 1) {
                cycles.add(fromVictim(path.subList(path.indexOf(at), path.size())));
            }
            path.forEach(i -> state[i] = 2);
        }
        return cycles;
    }

    /** @return the cycle the wait with sequence number {@code sequence} is in, if any */
    public Optional<List<Node>> cycleThrough(long sequence) {
        return cycles().stream()
                .filter(c -> c.stream().anyMatch(n -> n.entry().sequence() == sequence))
                .findFirst();
    }

    /**
     * The member of a cycle that breaks it, chosen by every member alike without talking: the one with the highest
     * pid, and among threads of that process the highest thread id.
     */
    public static Node victim(List<Node> cycle) {
        return cycle.stream().max(VICTIM_ORDER).orElseThrow();
    }

    /** @return the public form of the published wait {@code n}, its lock named from {@code table}'s heap */
    public static WaitForGraph.Edge edge(WaitTable table, Node n) {
        WaitTable.Entry e = n.entry();
        WaitTable.Holder h = n.holder();
        return new WaitForGraph.Edge(ProcessIdentity.pid(e.token()), e.threadId(), e.threadName(),
                table.lockName(e.lockOffset(), e.kind()), h == null ? 0 : ProcessIdentity.pid(h.token()),
                h == null ? 0 : h.threadId(), Instant.ofEpochMilli(e.sinceMillis()));
    }

    private List<Node> fromVictim(List<Integer> cycle) {
        List<Node> members = cycle.stream().map(nodes::get).toList();
        int first = members.indexOf(victim(members));
        List<Node> ordered = new ArrayList<>(members.subList(first, members.size()));
        ordered.addAll(members.subList(0, first));
        return List.copyOf(ordered);
    }

    /**
     * One waiter of the graph.
     *
     * @param entry     its published wait
     * @param holder    the holder of the lock it waits for, or null if unknown (free, or not recorded yet)
     * @param successor index in {@link #nodes()} of the waiter that is that holder, or -1 if the holder is not waiting
     */
    public record Node(WaitTable.Entry entry, WaitTable.Holder holder, int successor) {
    }
}
