package org.shm4j.bench.report;

import java.util.Locale;

/**
 * What a ratio says about its target once its error is counted: {@link #MET} only when the whole interval
 * {@code ratio ± error} is at or above the target, {@link #MISSED} only when the whole interval is below it, and
 * {@link #WITHIN_NOISE} when the interval straddles the target, so the run decides nothing either way.
 */
enum Verdict {
    /** {@code ratio - error >= target}. */
    MET("met"),
    /** {@code ratio + error < target}. */
    MISSED("**missed**"),
    /** Neither: the target lies inside {@code ratio ± error}. */
    WITHIN_NOISE("within the noise, neither met nor missed"),
    /** The comparison has no target. */
    NO_TARGET("");

    private final String words;

    Verdict(String words) {
        this.words = words;
    }

    /**
     * @param ratio  shm4j / peer with its error
     * @param target the lowest ratio that meets the target, or 0 (or less) for none
     * @return the verdict on {@code ratio}
     */
    static Verdict of(Score ratio, double target) {
        if (target <= 0) {
            return NO_TARGET;
        }
        if (ratio.value() - ratio.error() >= target) {
            return MET;
        }
        return ratio.value() + ratio.error() < target ? MISSED : WITHIN_NOISE;
    }

    /** @return the verdict as the tables write it, e.g. {@code ≥ 1.00: met}; empty without a target */
    String text(double target) {
        return this == NO_TARGET ? "" : String.format(Locale.ROOT, "≥ %.2f: %s", target, words);
    }
}
