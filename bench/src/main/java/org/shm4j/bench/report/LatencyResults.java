package org.shm4j.bench.report;

import org.shm4j.bench.latency.LockHandoff;
import org.shm4j.bench.latency.PingPong;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The latency half of a suite run, kept beside the JMH file as {@code <run>.latency.json}:
 * <pre>{"pingPong": [{"transport", "count", "p50", "p90", "p99", "p999", "max"}, ...],
 *  "handoff": [{"lock", "count", "p50", "p99", "p999", "waiterCpuPercent"}, ...]}</pre>
 * with times in nanoseconds.
 *
 * @param pingPong cross-process round trips per transport
 * @param handoff  lock hand-off through the blocking path per lock
 */
public record LatencyResults(List<PingPong.Result> pingPong, List<LockHandoff.Result> handoff) {
    /** @return this as JSON */
    public String toJson() {
        String rounds = pingPong.stream().map(r -> String.format(Locale.ROOT,
                "    {\"transport\": \"%s\", \"count\": %d, \"p50\": %d, \"p90\": %d, \"p99\": %d, \"p999\": %d,"
                        + " \"max\": %d}", r.transport(), r.count(), r.p50(), r.p90(), r.p99(), r.p999(), r.max()))
                .collect(Collectors.joining(",\n"));
        String locks = handoff.stream().map(r -> String.format(Locale.ROOT,
                "    {\"lock\": \"%s\", \"count\": %d, \"p50\": %d, \"p99\": %d, \"p999\": %d,"
                        + " \"waiterCpuPercent\": %.3f}", r.lock(), r.count(), r.p50(), r.p99(), r.p999(),
                r.waiterCpuPercent()))
                .collect(Collectors.joining(",\n"));
        return "{\n  \"pingPong\": [\n" + rounds + "\n  ],\n  \"handoff\": [\n" + locks + "\n  ]\n}\n";
    }

    /** @return the results {@link #toJson} wrote */
    static LatencyResults parse(String json) {
        Map<String, Object> root = Json.object(Json.parse(json));
        List<PingPong.Result> rounds = Json.array(root.get("pingPong")).stream().map(Json::object)
                .map(m -> new PingPong.Result((String) m.get("transport"), whole(m, "count"), whole(m, "p50"),
                        whole(m, "p90"), whole(m, "p99"), whole(m, "p999"), whole(m, "max")))
                .toList();
        List<LockHandoff.Result> locks = Json.array(root.get("handoff")).stream().map(Json::object)
                .map(m -> new LockHandoff.Result((String) m.get("lock"), whole(m, "count"), whole(m, "p50"),
                        whole(m, "p99"), whole(m, "p999"), Json.number(m.get("waiterCpuPercent"))))
                .toList();
        return new LatencyResults(rounds, locks);
    }

    /** @return the round trips of {@code transport}, if measured */
    java.util.Optional<PingPong.Result> pingPong(String transport) {
        return pingPong.stream().filter(r -> r.transport().equals(transport)).findFirst();
    }

    private static long whole(Map<String, Object> m, String key) {
        return (long) Json.number(m.get(key));
    }
}
