package io.credbroker.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RenewalPolicyTest {

  private static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");

  @Test
  void renewsAtTheFractionOfTheLifetimeMovedEarlierByAtMostTheJitter() {
    RenewalPolicy policy = new RenewalPolicy(0.66, 0.1);
    for (int i = 0; i < 100; i++) {
      assertThat(policy.due(NOW, Duration.ofSeconds(100), null))
          .isBetween(NOW.plusMillis(56_000), NOW.plusMillis(66_000));
    }
  }

  @Test
  void neverWithin200MillisecondsNorAfterTheLimit() {
    RenewalPolicy policy = new RenewalPolicy(0.5, 0);

    assertThat(policy.due(NOW, Duration.ofMillis(100), null)).isEqualTo(NOW.plusMillis(200));
    assertThat(policy.due(NOW, Duration.ofSeconds(100), NOW.plusSeconds(10)))
        .isEqualTo(NOW.plusSeconds(10));
    // A limit already past: due at once, when the renewal rotates it.
    assertThat(policy.due(NOW, Duration.ofSeconds(100), NOW.minusSeconds(1))).isEqualTo(NOW);
  }

  @Test
  void theRotationWindowOpensTheMarginAndOneRenewalIntervalBeforeTheLimit() {
    Duration lifetime = Duration.ofSeconds(30);
    Instant limit = NOW.plusSeconds(90);

    // 30 s (margin 1.0) and 19.8 s (fraction 0.66) before the limit.
    assertThat(RenewalPolicy.rotationStart(lifetime, limit, 0.66, 1.0))
        .isEqualTo(NOW.plusMillis(40_200));
    // The last renewal before it is due at most 19.8 s later: the rotation has 30 s or more.
    RenewalPolicy policy = new RenewalPolicy(0.66, 0.1);
    for (int i = 0; i < 100; i++) {
      assertThat(policy.due(NOW.plusMillis(40_199), lifetime, limit))
          .isBefore(limit.minus(lifetime));
    }
  }
}
