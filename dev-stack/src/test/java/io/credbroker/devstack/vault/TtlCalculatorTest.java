package io.credbroker.devstack.vault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class TtlCalculatorTest {

  private final Instant issued = Instant.parse("2026-01-01T00:00:00Z");

  @Test
  void incrementWithinMaxIsGrantedWithoutWarning() {
    var r = TtlCalculator.renew(Duration.ofMinutes(10), Duration.ofHours(1), Duration.ofHours(24), issued,
        issued.plusSeconds(60));
    assertThat(r.ttl()).isEqualTo(Duration.ofMinutes(10));
    assertThat(r.warning()).isNull();
  }

  @Test
  void zeroIncrementMeansTheDefault() {
    var r = TtlCalculator.renew(Duration.ZERO, Duration.ofHours(1), Duration.ofHours(24), issued, issued);
    assertThat(r.ttl()).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void renewalBeyondMaxIsCappedFromIssueTimeWithWarning() {
    // max 1h from issue, 47m29s already gone: 12m31s remain.
    Instant now = issued.plusSeconds(3600 - 751);
    var r = TtlCalculator.renew(Duration.ofHours(1), Duration.ofHours(1), Duration.ofHours(1), issued, now);
    assertThat(r.ttl()).isEqualTo(Duration.ofSeconds(751));
    assertThat(r.warning())
        .isEqualTo("TTL of \"1h\" exceeded the effective max_ttl of \"12m31s\"; TTL value is capped accordingly");
  }

  @Test
  void renewalPastMaxIsRefused() {
    assertThatThrownBy(() -> TtlCalculator.renew(Duration.ofHours(1), Duration.ofHours(1), Duration.ofHours(1),
            issued, issued.plusSeconds(3600)))
        .isInstanceOfSatisfying(VaultException.class, e -> assertThat(e.status()).isEqualTo(400));
  }
}
