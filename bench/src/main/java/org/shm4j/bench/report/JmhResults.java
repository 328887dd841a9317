package org.shm4j.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The scores of a JMH JSON result file, by key: {@code Class.method[param=value,...]} for a primary result and
 * {@code Class.method:secondary[param=value,...]} for a secondary one ({@code @AuxCounters} such as
 * {@code polled}, and profiler results such as {@code gc.alloc.rate.norm}). Runs can be layered, newest first: a
 * partial full run (a few benchmark classes measured again) over the last complete one, so that a comparison is read
 * from the newest run that has both of its sides, never one side from each.
 */
final class JmhResults {
    private final String run;
    private final Map<String, Score> scores;
    private final JmhResults older;

    private JmhResults(String run, Map<String, Score> scores, JmhResults older) {
        this.run = run;
        this.scores = scores;
        this.older = older;
    }

    /** Both sides of a comparison, and the run they come from. */
    record Pair(Score ours, Score peer, String run) {
    }

    static JmhResults read(Path file) throws IOException {
        return parse(Files.readString(file));
    }

    /**
     * @param files JMH result files, newest first
     * @return their scores layered: each looked up in the first file that has it
     */
    static JmhResults read(List<Path> files) throws IOException {
        JmhResults layered = null;
        for (Path file : files.reversed()) {
            String name = file.getFileName().toString().replaceFirst("\\.json$", "");
            layered = new JmhResults(name, parse(Files.readString(file)).scores, layered);
        }
        if (layered == null) {
            throw new IllegalArgumentException("no JMH result file given");
        }
        return layered;
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
        return new JmhResults("", scores, null);
    }

    /** @return the score under {@code key} in the newest run that has it */
    Optional<Score> get(String key) {
        Score score = scores.get(key);
        return score != null || older == null ? Optional.ofNullable(score) : older.get(key);
    }

    /** @return the scores under {@code ours} and {@code peer} from the newest run that has both */
    Optional<Pair> pair(String ours, String peer) {
        if (scores.containsKey(ours) && scores.containsKey(peer)) {
            return Optional.of(new Pair(scores.get(ours), scores.get(peer), run));
        }
        return older == null ? Optional.empty() : older.pair(ours, peer);
    }

    /** @return the name of the newest run that has {@code key}, if any has it */
    Optional<String> runOf(String key) {
        return scores.containsKey(key) ? Optional.of(run) : older == null ? Optional.empty() : older.runOf(key);
    }

    /** @return the name of the newest run ({@code ""} for parsed text) */
    String run() {
        return run;
    }

    /** @return every key and its score from the newest run that has it: the newest run's in file order, then older */
    Map<String, Score> all() {
        Map<String, Score> all = new LinkedHashMap<>(scores);
        if (older != null) {
            older.all().forEach(all::putIfAbsent);
        }
        return all;
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
