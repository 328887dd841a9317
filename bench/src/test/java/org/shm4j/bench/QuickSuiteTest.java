package org.shm4j.bench;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link QuickSuite}'s {@code --forks=N}: the forks of a full run, and clear refusals of what it cannot take. */
class QuickSuiteTest {
    @Test
    void fullRunTakesTheForksAsked() {
        assertThat(QuickSuite.forks(new String[] {"--full", "--forks=6", "ValuesBenchmark"}, true)).isEqualTo(6);
    }

    @Test
    void withoutTheOptionTheClassesKeepTheirOwnForks() {
        assertThat(QuickSuite.forks(new String[] {"--full", "ValuesBenchmark"}, true)).isZero();
    }

    @Test
    void quickSuiteRefusesForks() {
        assertThatThrownBy(() -> QuickSuite.forks(new String[] {"--forks=3"}, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--forks=N needs --full (the quick suite runs 1 fork of each)");
    }

    @Test
    void forksMustBeAWholeNumberOfAtLeastOne() {
        for (String bad : new String[] {"0", "-2", "six", ""}) {
            assertThatThrownBy(() -> QuickSuite.forks(new String[] {"--full", "--forks=" + bad}, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("--forks=N needs a whole number of forks of at least 1, got '" + bad + "'");
        }
    }
}
