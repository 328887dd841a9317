package org.shm4j.bench.report;

/**
 * A measured value with its error (JMH's 99.9% confidence half-width; 0 where there is none) and unit.
 *
 * @param value the score
 * @param error the error; never NaN
 * @param unit  the unit, as JMH writes it
 */
record Score(double value, double error, String unit) {
    Score {
        error = Double.isNaN(error) ? 0 : error;
    }

    /** @return this score over {@code other}, the error propagated from both relative errors */
    Score over(Score other) {
        double ratio = value / other.value;
        double relative = Math.hypot(error / value, other.error / other.value);
        return new Score(ratio, ratio * relative, "ratio");
    }

    /** @return {@code 1 / this}, the same relative error */
    Score inverse() {
        return new Score(1 / value, error / (value * value), unit);
    }
}
