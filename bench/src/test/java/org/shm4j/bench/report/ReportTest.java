package org.shm4j.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.shm4j.bench.latency.LockHandoff;
import org.shm4j.bench.latency.PingPong;
import org.shm4j.sync.locks.SharedLock;
import org.shm4j.sync.ring.SharedRing;
import org.w3c.dom.Document;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class ReportTest {
    /** Two runs as JMH writes them: a plain benchmark and a group with parameters and secondary results. */
    private static final String JMH = """
            [
              {"benchmark": "org.shm4j.bench.LocksBenchmark.sharedLock", "mode": "thrpt", "threads": 1,
               "primaryMetric": {"score": 95.0, "scoreError": 9.5, "scoreUnit": "ops/us"},
               "secondaryMetrics": {"\u00b7gc.alloc.rate.norm": {"score": 0.0001, "scoreError": "NaN",
                                                                   "scoreUnit": "B/op"}}},
              {"benchmark": "org.shm4j.bench.LocksBenchmark.reentrantLock", "mode": "thrpt",
               "primaryMetric": {"score": 100.0, "scoreError": 0.0, "scoreUnit": "ops/us"},
               "secondaryMetrics": {}},
              {"benchmark": "org.shm4j.bench.RingBenchmark.spsc", "params": {"size": "64"},
               "primaryMetric": {"score": 500.0, "scoreError": 1.0, "scoreUnit": "ops/us"},
               "secondaryMetrics": {"polled": {"score": 30.0, "scoreError": 3.0, "scoreUnit": "ops/us"},
                                    "gc.alloc.rate.norm": {"score": 24.5, "scoreError": 1.0, "scoreUnit": "B/op"}}},
              {"benchmark": "org.shm4j.bench.AgronaRingBenchmark.spsc", "params": {"size": "64"},
               "primaryMetric": {"score": 400.0, "scoreError": 1.0, "scoreUnit": "ops/us"},
               "secondaryMetrics": {"polled": {"score": 20.0, "scoreError": 0.0, "scoreUnit": "ops/us"}}}
            ]
            """;

    @Test
    void readsPrimaryAndSecondaryScoresByKey() {
        JmhResults results = JmhResults.parse(JMH);

        assertThat(results.get("LocksBenchmark.sharedLock")).contains(new Score(95, 9.5, "ops/us"));
        assertThat(results.get("RingBenchmark.spsc:polled[size=64]")).contains(new Score(30, 3, "ops/us"));
        assertThat(results.get("LocksBenchmark.sharedLock:gc.alloc.rate.norm")).hasValueSatisfying(
                s -> assertThat(s.error()).isZero());
        assertThat(results.get("RingBenchmark.spsc:polled")).isEmpty();
    }

    @Test
    void ratioCarriesBothRelativeErrors() {
        Score ratio = new Score(90, 9, "ops/us").over(new Score(100, 10, "ops/us"));

        assertThat(ratio.value()).isCloseTo(0.9, within(1e-12));
        assertThat(ratio.error()).isCloseTo(0.9 * Math.hypot(0.1, 0.1), within(1e-12));
    }

    @Test
    void tablesShowRatiosTargetsAllocationAndLatency() {
        LatencyResults latency = new LatencyResults(
                List.of(new PingPong.Result("SHM4J_SPIN", 1000, 1000, 1100, 1500, 2000, 9000),
                        new PingPong.Result("AGRONA_SPIN", 1000, 950, 1000, 1200, 1500, 8000)),
                List.of(new LockHandoff.Result("SharedLock", 400, 50_000, 90_000, 120_000, 1.5)));

        String markdown = Report.markdown(JMH, latency);

        assertThat(markdown)
                .contains("| SharedLock / ReentrantLock | 95.0 ± 9.5 | 100 ± 0 | 0.950 ± 0.095 | ≥ 1.00: "
                        + "within the noise, neither met nor missed |")
                .contains("| SPSC 64 B: SharedRing / Agrona OneToOneRingBuffer | 30.0 ± 3.0 | 20.0 ± 0.0 | "
                        + "1.50 ± 0.15 | ≥ 1.00: met |")
                .contains("| SPSC 8 B: SharedRing / Agrona OneToOneRingBuffer | — | — | not run | |")
                .contains("| LocksBenchmark.sharedLock | 0.000 | met |")
                .contains("| RingBenchmark.spsc[size=64] | 24.500 | **missed** |")
                .contains("| SHM4J_SPIN | 1,000 | 1.00 | 1.10 | 1.50 | 2.00 | 9.00 |")
                .contains("p50 round trip: Agrona busy-spin / SharedRing busy-spin: 0.95 (target ≥ 0.90: met)")
                .contains("| SharedLock | 400 | 50.0 | 90.0 | 120 | 1.5% |")
                .doesNotContain("AgronaRingBenchmark.spsc[size=64] |");
    }

    @Test
    void transferFloorRowsPutTheRingAndConcurrentLinkedQueueOverTheFloor() {
        String floor = """
                {"benchmark": "org.shm4j.bench.%s.mpmc", "params": {%s},
                 "primaryMetric": {"score": 100.0, "scoreError": 1.0, "scoreUnit": "ops/us"},
                 "secondaryMetrics": {"polled": {"score": %s, "scoreError": 0.0, "scoreUnit": "ops/us"}}}""";
        String jmh = "[" + floor.formatted("RingBenchmark", "\"size\": \"64\"", "3.0") + ",\n"
                + floor.formatted("TransferFloorBenchmark", "\"size\": \"64\"", "6.0") + ",\n"
                + floor.formatted("TransferFloorBenchmark", "\"size\": \"0\"", "24.0") + ",\n"
                + floor.formatted("JdkQueueBenchmark", "\"queue\": \"ConcurrentLinkedQueue\"", "12.0") + "]";

        String markdown = Report.markdown(jmh, null);

        assertThat(markdown)
                .contains("| MPMC 64 B: SharedRing / transfer floor (bytes copied in and out) | 3.00 ± 0.00 | "
                        + "6.00 ± 0.00 | 0.500 ± 0.000 |  |")
                .contains("| MPMC 64 B: ConcurrentLinkedQueue / transfer floor | 12.0 ± 0.0 | 6.00 ± 0.00 | "
                        + "2.00 ± 0.00 |  |")
                .contains("| MPMC: ConcurrentLinkedQueue / transfer floor moving no bytes (slot only) | "
                        + "12.0 ± 0.0 | 24.0 ± 0.0 | 0.500 ± 0.000 |  |");
    }

    /**
     * A verdict counts the ratio's error: the peer is 1 ± 0, so the ratio and its error are shm4j's score and error
     * exactly, and each case sits at, just inside or just outside a boundary of the target 1.00.
     */
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
            "2.0;  1.0;  2.00 ± 1.00; met",                // ratio - error == target: met, at the boundary
            "2.0;  1.01; 2.00 ± 1.01; within the noise, neither met nor missed", // just below: not met
            "1.5;  0.1;  1.50 ± 0.10; met",
            "0.5;  0.5;  0.500 ± 0.500; within the noise, neither met nor missed", // ratio + error == target
            "0.5;  0.49; 0.500 ± 0.490; **missed**",       // just below the target with its error
            "0.3;  0.05; 0.300 ± 0.050; **missed**",
            "368;  949;  368 ± 949; within the noise, neither met nor missed", // a quick run's MPSC row
            "0.95; 0.0;  0.950 ± 0.000; **missed**"})       // no error: the ratio alone decides
    void verdictsCountTheError(double score, double error, String ratio, String verdict) {
        String jmh = jmh("LocksBenchmark.sharedLock", score, error) + ",\n" + jmh("LocksBenchmark.reentrantLock", 1, 0);

        String markdown = Report.markdown("[" + jmh + "]", null);

        assertThat(markdown).contains("| SharedLock / ReentrantLock | " + ratio + " | 1.00 ± 0.00 | " + ratio
                + " | ≥ 1.00: " + verdict + " |");
    }

    /** @return one primary result as JMH writes it */
    static String jmh(String benchmark, double score, double error) {
        return String.format(Locale.ROOT, "{\"benchmark\": \"org.shm4j.bench.%s\", \"primaryMetric\": "
                + "{\"score\": %s, \"scoreError\": %s, \"scoreUnit\": \"ops/us\"}}", benchmark, score, error);
    }

    @Test
    void pythonFiguresSitBesideTheirCounterparts() {
        Map<String, Object> python = Json.object(Json.parse("""
                {"python": "3.11.7", "workloads": [
                  {"name": "value_locked_increment", "label": "Value += 1", "unit": "ops/µs", "value": 0.5},
                  {"name": "manager_dict", "label": "dict", "unit": "ops/µs", "value": 0.01}]}
                """));

        String markdown = new Report(JmhResults.parse(JMH), null, python).markdown();

        assertThat(markdown).contains("| Value += 1 | 0.500 ops/µs | 95.0 ops/µs | SharedLock + increment, 1 thread"
                + " | 190× |  |").contains("| dict | 0.0100 ops/µs | — | none | | |");
    }

    @Test
    void mapListAndCoordinationRowsSitBesideTheirPeersAndPython() {
        String jmh = "[" + String.join(",\n", jmh("MapBenchmark.sharedGet", 4, 0),
                jmh("ChronicleMapBenchmark.chronicleGet", 1, 0), jmh("MapBenchmark.sharedPut", 2, 0),
                jmh("ChronicleMapBenchmark.chroniclePut", 1, 0), jmh("ListBenchmark.sharedAppend", 10, 0),
                jmh("ListBenchmark.copyOnWriteAppend", 0.5, 0), jmh("CoordinationBenchmark.sharedCondition", 0.2, 0),
                jmh("CoordinationBenchmark.jdkCondition", 0.4, 0)) + "]";
        Map<String, Object> python = Json.object(Json.parse("""
                {"python": "3.11.7", "workloads": [
                  {"name": "manager_dict_get", "label": "dict get", "unit": "ops/µs", "value": 0.01},
                  {"name": "manager_dict_put", "label": "dict put", "unit": "ops/µs", "value": 0.02},
                  {"name": "condition_handoff", "label": "hand-off", "unit": "ops/µs", "value": 0.01}]}
                """));
        Report report = new Report(JmhResults.parse(jmh), null, python);

        String markdown = report.markdown();

        assertThat(markdown)
                .contains("| get: SharedLongMap.get / Chronicle Map get (both decode a new byte[]) | 4.00 ± 0.00 | "
                        + "1.00 ± 0.00 | 4.00 ± 0.00 | ≥ 2.00: met |")
                .contains("| put: SharedLongMap.setBytes / Chronicle Map put | 2.00 ± 0.00 | 1.00 ± 0.00 | "
                        + "2.00 ± 0.00 | ≥ 3.00: **missed** |")
                .contains("| append + remove last: SharedList / CopyOnWriteArrayList | 10.0 ± 0.0 | 0.500 ± 0.000 | "
                        + "20.0 ± 0.0 |  |")
                .contains("| signal/await hand-off: SharedLock condition / ReentrantLock condition | 0.200 ± 0.000 | "
                        + "0.400 ± 0.000 | 0.500 ± 0.000 |  |")
                .contains("| dict get | 0.0100 ops/µs | 4.00 ops/µs | SharedLongMap.get, 1 thread | 400× | "
                        + "≥ 200.00: met |")
                .contains("| dict put | 0.0200 ops/µs | 2.00 ops/µs | SharedLongMap.setBytes, 1 thread | 100× | "
                        + "≥ 200.00: **missed** |")
                .contains("| hand-off | 0.0100 ops/µs | 0.200 ops/µs | SharedLock condition hand-off, 2 threads | "
                        + "20.0× |  |");
        assertThat(markdown.substring(markdown.indexOf("#### " + Comparison.MAPS_2)))
                .contains("| get: SharedLongMap.get / Chronicle Map get (both decode a new byte[]) | — | — | "
                        + "not run |");
        assertThat(report.bars()).extracting(RatioChart.Bar::label).containsExactly(
                "Maps: get: SharedLongMap.get / Chronicle Map get (both decode a new byte[])",
                "Maps: put: SharedLongMap.setBytes / Chronicle Map put");
    }

    @Test
    void chartIsWellFormedSvgWithOneBarPerTargetedComparison() throws Exception {
        Report report = new Report(JmhResults.parse(JMH), null, null);

        List<RatioChart.Bar> bars = report.bars();
        String svg = RatioChart.svg("test", bars);
        Document document = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));

        assertThat(bars).extracting(RatioChart.Bar::label).containsExactly(
                "Locks, uncontended: SharedLock / ReentrantLock",
                "Queues: SPSC 64 B: SharedRing / Agrona OneToOneRingBuffer");
        assertThat(document.getDocumentElement().getTagName()).isEqualTo("svg");
        assertThat(document.getElementsByTagName("rect").getLength()).isEqualTo(1 + 4 + bars.size()); // +legend
    }

    @Test
    void latencyResultsSurviveTheirJson() {
        LatencyResults latency = new LatencyResults(
                List.of(new PingPong.Result("SHM4J_BLOCKING", 5, 1, 2, 3, 4, 5)),
                List.of(new LockHandoff.Result("ReentrantLock", 7, 10, 20, 30, 2.25)));

        assertThat(LatencyResults.parse(latency.toJson())).isEqualTo(latency);
    }

    @Test
    void badJsonIsRefusedWithItsPosition() {
        assertThatThrownBy(() -> Json.parse("{\"a\": [1, 2}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected ']' at character 11");
        assertThatThrownBy(() -> Json.parse("[1] x")).hasMessageContaining("text after the value");
    }
}
