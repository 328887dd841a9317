package org.shm4j.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The scores of a JMH JSON result file, by key: {@code Class.method[param=value,...]} for a primary result and
 * {@code Class.method:secondary[param=value,...]} for a secondary one ({@code @AuxCounters} such as
 * {@code polled}, and profiler results such as {@code gc.alloc.rate.norm}).
 */
final class JmhResults {
    private final Map<String, Score> scores;

    private JmhResults(Map<String, Score> scores) {
        this.scores = scores;
    }

    static JmhResults read(Path file) throws IOException {
        return parse(Files.readString(file));
    }

    static JmhResults parse(String json) {
        Map<String, Score> scores = new LinkedHashMap<>();
        for (Object element : Json.array(Json.parse(json))) {
            Map<String, Object> run = Json.object(element);
            String benchmark = ((String) run.get("benchmark")).replaceFirst("^org\\.shm4j\\.bench\\.", "");
            String params = params(run.get("params"));
            scores.put(benchmark + params, score(run.get("primaryMetric")));
            Object secondaries = run.get("secondaryMetrics");
            if (secondaries != null) {
                for (Map.Entry<String, Object> secondary : Json.object(secondaries).entrySet()) {
                    String name = secondary.getKey().replaceFirst("^\u00b7", "");
                    scores.put(benchmark + ":" + name + params, score(secondary.getValue()));
                }
            }
        }
        return new JmhResults(scores);
    }

    /** @return the score under {@code key}, if the file has it */
    Optional<Score> get(String key) {
        return Optional.ofNullable(scores.get(key));
    }

    /** @return every key and score, in file order */
    Map<String, Score> all() {
        return scores;
    }

    private static String params(Object params) {
        if (params == null) {
            return "";
        }
        StringBuilder s = new StringBuilder("[");
        new TreeMap<>(Json.object(params)).forEach((k, v) -> s.append(s.length() > 1 ? "," : "").append(k)
                .append('=').append(v));
        return s.append(']').toString();
    }

    private static Score score(Object metric) {
        Map<String, Object> m = Json.object(metric);
        return new Score(Json.number(m.get("score")), Json.number(m.get("scoreError")), (String) m.get("scoreUnit"));
    }
}
