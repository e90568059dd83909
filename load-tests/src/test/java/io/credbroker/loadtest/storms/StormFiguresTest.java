package io.credbroker.loadtest.storms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.credbroker.loadtest.stack.PrometheusText;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StormFiguresTest {

  @Test
  void spreadGivesNearestRankQuantilesInSeconds() {
    List<Long> nanos =
        java.util.stream.LongStream.rangeClosed(1, 100).map(i -> i * 10_000_000L).boxed().toList();

    Map<String, Double> spread = StormReport.spread(nanos);

    assertThat(spread)
        .containsEntry("p50", 0.5)
        .containsEntry("p90", 0.9)
        .containsEntry("p99", 0.99)
        .containsEntry("max", 1.0);
    assertThat(StormReport.spread(List.of())).isEmpty();
    assertThat(StormReport.rank(1, 0.99)).isZero();
  }

  @Test
  void aRatioOverNothingIsNotANumberRatherThanInfinity() {
    StormReport r =
        new StormReport.Builder("x").ratio("a_ratio", 3, 2).ratio("b_ratio", 1, 0).build();

    assertThat(r.figures()).containsEntry("a_ratio", 1.5);
    assertThat((Double) r.figures().get("b_ratio")).isNaN();
    assertThat(r.figures().keySet()).containsExactly("a_ratio", "b_ratio");
  }

  @Test
  void replicaCountersAreReadByLabelAndSubtracted() {
    PrometheusText before =
        PrometheusText.parse(
            """
            credbroker_lease_renewals_total{outcome="renewed"} 10
            credbroker_lease_renewals_total{outcome="failed"} 1
            credbroker_vault_request_seconds_count{operation="creds",outcome="success"} 5
            credbroker_vault_request_seconds_count{operation="renew",outcome="bulkhead_full"} 2
            credbroker_vault_request_seconds_count{operation="creds",outcome="bulkhead_full"} 3
            credbroker_grpc_calls_shed_total 7
            """);
    PrometheusText after =
        PrometheusText.parse(
            """
            credbroker_lease_renewals_total{outcome="renewed"} 25
            credbroker_lease_renewals_total{outcome="failed"} 1
            credbroker_vault_request_seconds_count{operation="creds",outcome="success"} 9
            credbroker_vault_request_seconds_count{operation="renew",outcome="bulkhead_full"} 2
            credbroker_vault_request_seconds_count{operation="creds",outcome="bulkhead_full"} 4
            credbroker_grpc_calls_shed_total 17
            """);

    Map<String, Long> since =
        new ReplicaMetrics(ReplicaMetrics.read(after))
            .since(new ReplicaMetrics(ReplicaMetrics.read(before)));

    assertThat(since)
        .containsEntry("renewals_renewed", 15L)
        .containsEntry("renewals_failed", 0L)
        .containsEntry("vault_creds_ok", 4L)
        .containsEntry("vault_bulkhead_full", 1L)
        .containsEntry("shed_at_admission", 10L)
        .containsEntry("token_reviews", 0L);
  }

  @Test
  void failoverReportsOnlyWhatChangedAfterTheKill() {
    assertThat(
            FailoverScenario.minus(
                Map.of("UNAVAILABLE", 7, "RESOURCE_EXHAUSTED OVERLOADED", 2),
                Map.of("RESOURCE_EXHAUSTED OVERLOADED", 2)))
        .containsExactly(Map.entry("UNAVAILABLE", 7));
  }

  @Test
  void renewalDemandFollowsTheRenewalFraction() {
    // 660 credentials renewed every 0.66 × 10 s = 6.6 s: 100 per second.
    assertThat(RenewalScenario.demandPerSecond(660, Duration.ofSeconds(10)))
        .isCloseTo(100.0, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void optionsRefuseSizesOutsideTheirRange() {
    assertThatThrownBy(
            () ->
                new RolloutScenario.Options(
                    0, Duration.ofSeconds(1), 1, 1, Duration.ofMinutes(1), Duration.ZERO, false))
        .hasMessageContaining("pods must be between 1 and 50000");
    assertThatThrownBy(
            () ->
                new RolloutScenario.Options(
                    1,
                    Duration.ofSeconds(1),
                    1,
                    1,
                    Duration.ofMinutes(1),
                    Duration.ofSeconds(-1),
                    false))
        .hasMessageContaining("untracked roles must not be negative");
    assertThatThrownBy(() -> new FailoverScenario.Options(5, 0, 1, Duration.ofMinutes(1)))
        .hasMessageContaining("connections and open concurrency must be positive");
    assertThatThrownBy(
            () -> new RenewalScenario.Options(10, 1, 1, Duration.ZERO, 1, Duration.ofMinutes(1)))
        .hasMessageContaining("measuring time must be positive");
  }
}
