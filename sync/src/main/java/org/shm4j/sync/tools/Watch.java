package org.shm4j.sync.tools;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The rates of {@code shm4j watch}: per second since the previous refresh, for each counter (matched by its
 * registration id, so a counter freed and reallocated starts afresh) and each ring (bytes produced, from its tail, and
 * freed, from its head). The first refresh has no rates, nor the first of a heap made anew at the name.
 */
final class Watch {
    private Map<String, Long> previous = Map.of();
    private long previousNanos;
    private long previousHeapId;

    /**
     * @param heapId the random id in the header of the heap {@code report} describes: a heap made anew at the name
     *               since the previous refresh has another, and no rate spans the two
     * @return {@code report}, with a {@code perSecond} beside each counter's value and each ring's positions
     */
    Map<String, Object> addRates(Map<String, Object> report, long heapId, long nowNanos) {
        if (heapId != previousHeapId) {
            previous = Map.of();
            previousHeapId = heapId;
        }
        Map<String, Long> current = new HashMap<>();
        double seconds = (nowNanos - previousNanos) / 1e9;
        for (Object item : (List<?>) report.get("catalog")) {
            @SuppressWarnings("unchecked")
            Map<String, Object> state = (Map<String, Object>) ((Map<?, ?>) item).get("state");
            String block = (String) ((Map<?, ?>) item).get("name");
            if (state == null) {
                continue;
            }
            if (state.get("counters") instanceof List<?> counters) {
                for (Object counter : counters) {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> entry = (Map<String, Object>) counter;
                    rate(block + "#" + entry.get("registrationId"), entry, "value", "perSecond", current, seconds);
                }
            } else if (state.containsKey("tail")) {
                rate(block + "#tail", state, "tail", "producedBytesPerSecond", current, seconds);
                rate(block + "#head", state, "head", "consumedBytesPerSecond", current, seconds);
            }
        }
        previous = current;
        previousNanos = nowNanos;
        return report;
    }

    private void rate(String key, Map<String, Object> map, String field, String rateField, Map<String, Long> current,
                      double seconds) {
        long value = ((Number) map.get(field)).longValue();
        current.put(key, value);
        Long before = previous.get(key);
        map.put(rateField, before == null || seconds <= 0 ? null : Math.round((value - before) / seconds * 10) / 10.0);
    }
}
