package org.shm4j.bench.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The rule by which {@link ResultsReport} refuses a run for the README, because its errors leave its verdicts
 * meaningless. Over the JMH comparisons that have a target (the rows with a verdict), a run is refused when
 * <ul>
 *   <li>any row's error is at least {@value #MAX_RELATIVE_ERROR} times its ratio (the interval reaches 0 or below:
 *   the figure says nothing), or</li>
 *   <li>more than {@value #MAX_NOISY_SHARE} of the rows (half) are {@linkplain Verdict#WITHIN_NOISE within the
 *   noise}: most verdicts then decide nothing.</li>
 * </ul>
 * A run with no targeted row is not refused: there is nothing to judge.
 */
final class NoiseRule {
    /** A row whose error is this many times its ratio or more fails the rule. */
    static final double MAX_RELATIVE_ERROR = 1.0;
    /** A run with more than this share of its targeted rows within the noise fails the rule. */
    static final double MAX_NOISY_SHARE = 0.5;

    private NoiseRule() {
    }

    /**
     * @param rows the targeted comparisons of one run ({@link Report#targeted()})
     * @return why the run fails the rule, one line per reason and per row at fault; empty when it passes
     */
    static List<String> failures(List<RatioChart.Bar> rows) {
        List<String> failures = new ArrayList<>();
        List<RatioChart.Bar> wide = rows.stream()
                .filter(r -> r.ratio().error() >= MAX_RELATIVE_ERROR * r.ratio().value()).toList();
        if (!wide.isEmpty()) {
            failures.add(f("%d targeted row(s) with an error of %.0f%% of the ratio or more:", wide.size(),
                    100 * MAX_RELATIVE_ERROR));
            wide.forEach(r -> failures.add(line(r)));
        }
        List<RatioChart.Bar> noisy = rows.stream().filter(r -> r.verdict() == Verdict.WITHIN_NOISE).toList();
        if (noisy.size() > MAX_NOISY_SHARE * rows.size()) {
            failures.add(f("%d of %d targeted rows within the noise (more than %.0f%%):", noisy.size(), rows.size(),
                    100 * MAX_NOISY_SHARE));
            noisy.forEach(r -> failures.add(line(r)));
        }
        return failures;
    }

    private static String line(RatioChart.Bar r) {
        return f("  %s: %s, target ≥ %.2f", r.label(), Report.score(r.ratio()), r.target());
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
