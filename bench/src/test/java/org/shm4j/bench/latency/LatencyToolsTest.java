package org.shm4j.bench.latency;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.shm4j.core.SharedMemory;
import org.shm4j.sync.locks.SharedFairLock;
import org.shm4j.sync.locks.SharedLock;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class LatencyToolsTest {
    /** Measured lock hand-offs per lock: enough to see each counted (a round holds the lock 2 ms). */
    private static final int ROUNDS = 50;

    @ParameterizedTest
    @EnumSource(Transport.class)
    void pingPongRecordsEveryMeasuredRoundTripBetweenTwoChildJvms(Transport transport) throws Exception {
        PingPong.Result result = PingPong.result(transport, PingPong.run(transport, 1_000, 5_000));

        assertThat(result.transport()).isEqualTo(transport.name());
        assertThat(result.count()).isEqualTo(5_000);
        assertThat(result.p50()).isPositive().isLessThanOrEqualTo(result.p90());
        assertThat(result.p90()).isLessThanOrEqualTo(result.p99());
        assertThat(result.p99()).isLessThanOrEqualTo(result.p999());
        assertThat(result.p999()).isLessThanOrEqualTo(result.max());
        assertThat(SharedMemory.SHM_DIR.resolve("shm4j-pingpong-" + ProcessHandle.current().pid())).doesNotExist();
    }

    @Test
    void lockHandoffMeasuresEachRoundOfEachLock() throws Exception {
        List<LockHandoff.Result> results = LockHandoff.run(ROUNDS);

        assertThat(results).extracting(LockHandoff.Result::lock)
                .containsExactly("SharedLock", "SharedFairLock", "ReentrantLock");
        for (LockHandoff.Result result : results) {
            assertThat(result.count()).isEqualTo(ROUNDS);
            assertThat(result.p50()).isPositive().isLessThanOrEqualTo(result.p99());
            assertThat(result.waiterCpuPercent()).isBetween(0.0, 100.0);
        }
    }
}
